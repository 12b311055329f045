#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (Debian's `postgresql` package; install it with
# scripts/install-deps.sh).
#
#   scripts/postgres-for-tests.sh start DIR   # prints postgres://postgres@127.0.0.1:PORT
#   scripts/postgres-for-tests.sh stop DIR
#
# `start` makes a cluster in DIR/data (trust authentication: it listens on 127.0.0.1 only,
# for the tests of this machine), its socket in DIR/socket and its log in DIR/log, on a free
# port, and waits (at most 60 s) until it answers. As root, the server runs as the `postgres`
# user, which then owns DIR. The tests read the URL from FLEET_TEST_POSTGRES.
# The tests' server runs with fsync=off (a throwaway cluster: speed over durability);
# PG_DURABLE=1 keeps PostgreSQL's default (fsync on), as the load benchmark measures it.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# = 2 ] || usage
action=$1
dir=$2

durability="-c fsync=off"
[ "${PG_DURABLE:-0}" = 1 ] && durability=""
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "$0: no PostgreSQL in /usr/lib/postgresql/*/bin: run scripts/install-deps.sh" >&2
  exit 1
fi

# Runs a PostgreSQL command as the user that owns the cluster: never root, which
# PostgreSQL refuses to run as.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/socket"
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres: "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        echo "$0: the postgres user cannot reach $dir (a parent folder is closed to it)" >&2
        exit 1
      fi
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port, as the system gives one; a server that lost a race for it fails to
    # start, and the next attempt takes another.
    for _ in 1 2 3; do
      port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir/socket $durability" start >/dev/null; then
        break
      fi
      port=
    done
    if [ -z "$port" ]; then
      echo "$0: PostgreSQL did not start; its log:" >&2
      cat "$dir/log" >&2
      exit 1
    fi
    # pg_ctl -w waited for the socket; wait (bounded) until it answers queries on TCP too.
    for _ in $(seq 1 60); do
      if as_owner "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        echo "postgres://postgres@127.0.0.1:$port"
        exit 0
      fi
      sleep 1
    done
    echo "$0: PostgreSQL on 127.0.0.1:$port did not answer within 60 s; its log:" >&2
    cat "$dir/log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  *) usage ;;
esac
