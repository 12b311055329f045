#!/usr/bin/env bash
# Benchmark of the catalogue (issue 13): what a release costs when the repository already
# holds a long history (not a test; prints figures).
#
# Builds one repository with `repo add` and `repo sign` as an admin would: releases of 100
# tiny files (`x86_64/dirNNN/fileNNNNNN.bin`, 1 KiB; the bytes do not matter, the metadata
# does), 100 releases per signing, up to each size in $SIZES (artifacts; default 10000
# 100000 200000; 1000000 works given time and 8 GB of disk). At each size it publishes one
# more release of 10 files (with a policy sending devices to it) and prints:
#   - `repo sign` of that release: seconds and peak RSS (goal: at most 2 s and 128 MiB,
#     and flat: within 1.5x of the figure at the first size), beside a reference run over
#     the same 10 files (`cp -r` + `sync`, `openssl dgst -sha512`);
#   - the metadata a device that trusted the previous state downloads to learn of the new
#     release (goal: at most 64 KB), counted by nginx (bytes sent), beside `curl` fetching
#     the same files;
#   - a no-op check right after (requests, bytes; goal: 2 requests, 2 KB) and the device's
#     peak RSS (goal: 16 MiB);
#   - `updater apply` of the new release: peak RSS (goal: 32 MiB);
#   - the size of public/metadata/ before and after `repo prune --keep 2`.
# Everything lives under $BENCH_DIR (default target/bench-catalogue), rebuilt each run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-nginx.sh
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; } >/dev/null
cargo build --release -q --bins
repo=$PWD/target/release/repo
updater=$PWD/target/release/updater
bench=${BENCH_DIR:-$PWD/target/bench-catalogue}
sizes=${SIZES:-10000 100000 200000}
k=$PWD/keys.example
rm -rf "$bench"; mkdir -p "$bench"

# The release folders: 100 files, and 10 for the measured release.
for d in $(seq 0 9); do
  mkdir -p "$bench/hundred/$(printf dir%03d "$d")"
  for f in $(seq 0 9); do
    head -c 1024 /dev/urandom > "$bench/hundred/$(printf dir%03d/file%06d.bin "$d" $((d * 10 + f)))"
  done
done
mkdir -p "$bench/ten/dir000"
for f in $(seq 0 9); do head -c 1024 /dev/urandom > "$bench/ten/dir000/$(printf file%06d.bin "$f")"; done

R=$bench/repo
"$repo" init "$R" --key root=$k/root.pub --key targets=$k/targets.pub \
  --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
  --sign $k/root.pem >/dev/null
all_keys=(--key $k/targets.pem --key $k/policy.pem --key $k/snapshot.pem --key $k/timestamp.pem)

start_bench_nginx "$R/public" "$bench/nginx/access.log"
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
log=$bench/nginx/access.log

policy_to() {
  cat > "$bench/policy.xml" <<EOF
<policy>
  <channel name="stable">
    <target release="$1"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
EOF
  "$repo" policy set "$R" "$bench/policy.xml" >/dev/null
}
device_config() {
  mkdir -p "$bench/device/metadata"
  cat > "$bench/device/updater.toml" <<EOF
[device]
id = "bench-device"
platform = "x86_64"
channel = "stable"
[repository]
metadata = ["$base/metadata"]
targets = ["$base/targets"]
[paths]
metadata = "$bench/device/metadata"
downloads = "$bench/device/downloads"
install = "$bench/device/install"
EOF
}
# Requests and bytes nginx logged since the log was emptied; the paths go to $bench/fetched.
served() {
  awk '{n++; b+=$3} END {printf "%d %d\n", n, b}' "$log"
  awk '$2 == 200 {print $1}' "$log" > "$bench/fetched"
}

n=0
printf '%9s %9s %9s %11s %11s %11s %9s %9s %11s %11s %12s %12s\n' artifacts sign-s sign-MiB \
  ref-cp+sync ref-sha512 learn-bytes curl-bytes noop-req noop-bytes noop-MiB apply-MiB \
  metadata-kB
for size in $sizes; do
  while [ $((n * 100)) -lt "$size" ]; do
    for _ in $(seq 1 100); do
      [ $((n * 100)) -ge "$size" ] && break
      "$repo" add "$R" "$bench/hundred" --release "1.0.$n" --platform x86_64 >/dev/null
      n=$((n + 1))
    done
    "$repo" sign "$R" --key $k/targets.pem --key $k/snapshot.pem --key $k/timestamp.pem >/dev/null
    echo "  built $((n * 100)) artifacts" >&2
  done
  # A device that trusts the current state, the policy sending it to the newest release.
  policy_to "1.0.$((n - 1))"
  "$repo" sign "$R" "${all_keys[@]}" >/dev/null
  rm -rf "$bench/device"; device_config
  "$updater" --metadata-dir "$bench/device/metadata" init "$R/public/metadata/1.root.json" >/dev/null
  "$updater" --config "$bench/device/updater.toml" plan >/dev/null

  # The new release of 10 files, signed with the policy that sends devices to it.
  new="1.0.$n"; n=$((n + 1))
  "$repo" add "$R" "$bench/ten" --release "$new" --platform x86_64 >/dev/null
  policy_to "$new"
  sync
  /usr/bin/time -f '%e %M' -o "$bench/sign.time" "$repo" sign "$R" "${all_keys[@]}" >/dev/null
  read -r sign_s sign_kb < "$bench/sign.time"
  t0=$(date +%s.%N); rm -rf "$bench/copy"; cp -r "$bench/ten" "$bench/copy"; sync; t1=$(date +%s.%N)
  ref_cp=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  t0=$(date +%s.%N); find "$bench/ten" -type f -exec openssl dgst -sha512 {} + >/dev/null; t1=$(date +%s.%N)
  ref_sha=$(python3 -c "print(f'{$t1 - $t0:.3f}')")

  # The device learns of it (plan fetches what the decision needs), then checks again.
  : > "$log"
  "$updater" --config "$bench/device/updater.toml" plan >/dev/null
  served > "$bench/served"; read -r _ learn_bytes < "$bench/served"
  curl_bytes=0
  while read -r path; do
    b=$(curl -s -o /dev/null -w '%{size_download}' "$base$path"); curl_bytes=$((curl_bytes + b))
  done < "$bench/fetched"
  : > "$log"
  /usr/bin/time -f '%M' -o "$bench/noop.rss" "$updater" --config "$bench/device/updater.toml" plan >/dev/null
  served > "$bench/served"; read -r noop_req noop_bytes < "$bench/served"
  /usr/bin/time -f '%M' -o "$bench/apply.rss" "$updater" --config "$bench/device/updater.toml" apply >/dev/null

  before=$(du -sk "$R/public/metadata" | cut -f1)
  "$repo" prune "$R" --keep 2 >/dev/null
  after=$(du -sk "$R/public/metadata" | cut -f1)
  printf '%9d %9s %9.1f %11s %11s %11d %9d %9d %11d %11.1f %12.1f %7d->%d\n' "$((n * 100 - 90))" \
    "$sign_s" "$(awk "BEGIN {print $sign_kb / 1024}")" "$ref_cp" "$ref_sha" "$learn_bytes" "$curl_bytes" \
    "$noop_req" "$noop_bytes" "$(awk "BEGIN {print $(cat "$bench/noop.rss") / 1024}")" \
    "$(awk "BEGIN {print $(cat "$bench/apply.rss") / 1024}")" "$before" "$after"
done
echo "goals: sign <= 2 s and <= 128 MiB (flat: within 1.5x of the first row); learn <= 64 KB;"
echo "       no-op 2 requests, <= 2 KB, <= 16 MiB; apply <= 32 MiB"
