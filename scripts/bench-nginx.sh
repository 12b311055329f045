# Sourced by the benchmarks that serve over HTTP (bench-download, bench-encrypted,
# bench-catalogue): one way to start nginx, so that each measures the same server.
#
# start_bench_nginx ROOT [ACCESS_LOG]: nginx on a free port of 127.0.0.1 serving ROOT,
# sendfile on, everything it writes under $bench/nginx. With ACCESS_LOG, each request's
# path, status and bytes sent are logged there; without, nothing is logged. Sets
# nginx_pid and base (http://127.0.0.1:PORT); the caller's EXIT trap kills $nginx_pid.
start_bench_nginx() {
  local root=$1 access="access_log off;" port
  if [ -n "${2:-}" ]; then
    access="log_format bytes '\$request_uri \$status \$body_bytes_sent'; access_log $2 bytes;"
  fi
  command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light; } >/dev/null
  command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; } >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$bench/nginx"
  cat > "$bench/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $bench/nginx/nginx.pid;
error_log $bench/nginx/error.log;
events { worker_connections 64; }
http {
  $access
  sendfile on;
  client_body_temp_path $bench/nginx/body;
  proxy_temp_path $bench/nginx/proxy;
  fastcgi_temp_path $bench/nginx/fastcgi;
  uwsgi_temp_path $bench/nginx/uwsgi;
  scgi_temp_path $bench/nginx/scgi;
  server { listen 127.0.0.1:$port; root $root; }
}
CONF
  nginx -c "$bench/nginx/nginx.conf" &
  nginx_pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
  base=http://127.0.0.1:$port
}
