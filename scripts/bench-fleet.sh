#!/usr/bin/env bash
# Load benchmark of the `fleet` collector (not a test; prints figures), for SQLite and for
# PostgreSQL on this machine.
#
# $DEVICES simulated devices (default 100,000), each with its own ed25519 key, are enrolled
# from a file; $REPORTS signed reports (default 1,000,000; four events each) are signed
# beforehand (fleet/examples/load.rs) and posted over $CONNECTIONS keep-alive connections
# (default 8) to `fleet serve` on 127.0.0.1. Printed for each database: sustained
# reports/s, p50/p99 latency and the answers by status (every one must be 200), then the
# time of the per-release summary and of the "not running 2.0.0" query over every device
# (goals: >= 5,000 reports/s with SQLite; each query <= 200 ms).
# References, in the same run: `openssl speed ed25519` (the verifications per second one
# core can do: the collector verifies every report) and a tenth as many plain GETs of /healthz
# over the same connections (the HTTP ceiling of this machine, client and server sharing
# its 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${DEVICES:-100000}
reports=${REPORTS:-1000000}
connections=${CONNECTIONS:-8}
bench=${BENCH_DIR:-$PWD/target/bench-fleet}
cargo build --release -q -p fleet --bin fleet --example load
fleet=$PWD/target/release/fleet
load=$PWD/target/release/examples/load
rm -rf "$bench" && mkdir -p "$bench"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -d "$bench/pg" ] && bash scripts/postgres-for-tests.sh stop "$bench/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== reference: ed25519 verifications per second, one core (openssl)"
openssl speed -seconds 3 ed25519 2>/dev/null | grep -E '^ *253 bits|Ed25519' | tail -1

"$load" prepare "$bench/data" "$devices" "$reports"

serve() { # DB: starts fleet serve; sets $url and $server once it serves
  "$fleet" serve --db "$1" --listen 127.0.0.1:0 > "$bench/serve.out" 2>&1 &
  server=$!
  pids+=("$server")
  for _ in $(seq 100); do
    url=$(grep -o 'http://[0-9.:]*/' "$bench/serve.out" | head -1 || true)
    [ -n "$url" ] && return
    sleep 0.1
  done
  echo "fleet serve did not start" >&2; cat "$bench/serve.out" >&2; exit 1
}

run() { # NAME DB
  echo "== $1"
  local start=$SECONDS
  "$fleet" enroll --db "$2" --file "$bench/data/enroll.txt"
  echo "enrolment took $((SECONDS - start)) s"
  serve "$2"
  if [ "$1" = sqlite ]; then
    echo "-- reference: plain GETs of /healthz, a tenth as many (the HTTP ceiling)"
    "$load" ping "${url}healthz" "$connections" $((reports / 10))
  fi
  echo "-- signed reports, verified and stored"
  "$load" send "$bench/data" "${url}v1/reports" "$connections"
  kill "$server"; wait "$server" 2>/dev/null || true
  echo "-- queries over $devices devices"
  "$load" ask "$2" 2.0.0
}

run sqlite "$bench/fleet.db"
ls -la "$bench/fleet.db" | awk '{printf "SQLite file: %.0f MiB\n", $5 / 1048576}'

# PostgreSQL as shipped: fsync on (the tests' throwaway server turns it off).
pg=$(PG_DURABLE=1 bash scripts/postgres-for-tests.sh start "$bench/pg")
run postgresql "$pg/postgres"
