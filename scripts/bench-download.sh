#!/usr/bin/env bash
# Benchmark of `updater download` against curl over the same file from the same local
# server (not a test; prints figures).
#
# Builds a repository holding one random target of each size in $SIZES_MIB (default 256
# and 1024 MiB, generated once under $BENCH_DIR, default target/bench-download), serves it
# with nginx on 127.0.0.1 (installed from Debian's packages if missing), then for each
# size, $RUNS times (default 3), alternating:
#   - curl fetching the artifact's file to disk (no verification), and the same followed by
#     an fsync of the file (the durability the updater gives before it renames a download
#     into place),
#   - updater on a fresh device: refresh, fetch, SHA-512 and length check, fsync, rename,
# and prints the best wall time of each, the throughput, the ratios (goal: at most 1.1)
# and the updater's peak resident memory (goal: flat in file size).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-nginx.sh
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; } >/dev/null
cargo build --release -q --bins
repo=$PWD/target/release/repo
updater=$PWD/target/release/updater
bench=${BENCH_DIR:-$PWD/target/bench-download}
sizes=${SIZES_MIB:-256 1024}
runs=${RUNS:-3}
k=keys.example
mkdir -p "$bench/data"

# One release per size: the repository is rebuilt only when a size is new.
for mib in $sizes; do
  if [ ! -f "$bench/data/$mib/image.bin" ]; then
    echo "generating $mib MiB of random bytes"
    mkdir -p "$bench/data/$mib"
    head -c $((mib * 1048576)) /dev/urandom > "$bench/data/$mib/image.bin"
    rm -rf "$bench/repo"
  fi
done
if [ ! -d "$bench/repo" ]; then
  "$repo" init "$bench/repo" --key root=$k/root.pub --key targets=$k/targets.pub \
    --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub --sign $k/root.pem >/dev/null
  for mib in $sizes; do
    "$repo" add "$bench/repo" "$bench/data/$mib" --release "$mib" --platform bench >/dev/null
  done
  "$repo" sign "$bench/repo" --key $k/targets.pem --key $k/snapshot.pem --key $k/timestamp.pem >/dev/null
fi

start_bench_nginx "$bench/repo/public"
trap 'kill $nginx_pid 2>/dev/null || true; rm -rf "$bench/device" "$bench/curl.out"' EXIT

now() { date +%s.%N; }
printf '%-9s %-11s %10s %10s %12s\n' size tool seconds MB/s peak-RSS
for mib in $sizes; do
  name=releases/$mib/bench/image.bin
  # Served under its SHA-256 name too (what tough fetches); the index lists the same digest.
  sha256=$(sha256sum "$bench/data/$mib/image.bin" | cut -d' ' -f1)
  url=$base/targets/releases/$mib/bench/$sha256.image.bin
  cat "$bench/data/$mib/image.bin" > /dev/null # warm the server's page cache
  best_curl=999999; best_sync=999999; best_upd=999999; rss_max=0
  for _ in $(seq 1 "$runs"); do
    rm -f "$bench/curl.out"; sync
    t0=$(now); curl -sS -o "$bench/curl.out" "$url"; t1=$(now)
    best_curl=$(python3 -c "print(min($best_curl, $t1 - $t0))")
    rm -f "$bench/curl.out"; sync
    t0=$(now); curl -sS -o "$bench/curl.out" "$url"; sync "$bench/curl.out"; t1=$(now)
    best_sync=$(python3 -c "print(min($best_sync, $t1 - $t0))")

    rm -rf "$bench/device"; mkdir -p "$bench/device/m" "$bench/device/t"; sync
    "$updater" --metadata-dir "$bench/device/m" init "$bench/repo/public/metadata/1.root.json" >/dev/null
    t0=$(now)
    /usr/bin/time -f '%M' -o "$bench/device/rss" "$updater" --metadata-dir "$bench/device/m" \
      --metadata-url "$base/metadata" --target-base-url "$base/targets" \
      --target-name "$name" --target-dir "$bench/device/t" download >/dev/null
    t1=$(now)
    best_upd=$(python3 -c "print(min($best_upd, $t1 - $t0))")
    rss=$(cat "$bench/device/rss"); [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  done
  python3 - "$mib" "$best_curl" "$best_sync" "$best_upd" "$rss_max" <<'EOF'
import sys
mib, rss = int(sys.argv[1]), int(sys.argv[5])
curl, synced, upd = map(float, sys.argv[2:5])
mb = mib * 1048576 / 1e6
print(f"{mib:>5} MiB {'curl':<11} {curl:10.2f} {mb / curl:10.0f} {'-':>12}")
print(f"{mib:>5} MiB {'curl+fsync':<11} {synced:10.2f} {mb / synced:10.0f} {'-':>12}")
print(f"{mib:>5} MiB {'updater':<11} {upd:10.2f} {mb / upd:10.0f} {rss / 1024:9.1f} MiB")
print(f"{mib:>5} MiB ratio updater/curl: {upd / curl:.2f}, updater/(curl+fsync): {upd / synced:.2f} (goal: at most 1.1)")
EOF
done
