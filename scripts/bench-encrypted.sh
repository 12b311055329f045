#!/usr/bin/env bash
# Benchmark of encrypted artifacts beside plain ones, in the same run over the same bytes
# from the same local server (not a test; prints figures).
#
# For each size in $SIZES_MIB (default 1024), one random file (generated once under
# $BENCH_DIR, default target/bench-encrypted) is added as release 1.0.0 of two
# repositories: one plain, one `repo add --encrypt-to` a recipients file holding one device
# identity (made once with `updater keygen`). Each repository's policy sends channel
# stable to that release. nginx on 127.0.0.1 (Debian's package, installed if missing)
# serves both. Then, $RUNS times (default 3), alternating:
#   - curl fetching the plain artifact's file to disk (no verification): the reference;
#   - `updater apply` on a fresh device from the plain repository: refresh, download,
#     SHA-512 and length check, fsync, rename, then the installer's verified copy into the
#     release folder and the switch;
#   - `updater apply` on a fresh device (same identity) from the encrypted repository: the
#     same, plus streaming age decryption into a hidden file, the plaintext's length and
#     SHA-512 check and its fsync, between the download and the installer.
# Both sides use `apply` (not `download` for the plain one) so that they do the same work
# but the decryption: the difference of their times is what decrypt-and-verify costs.
# Prints the best wall time of each, the throughput (MiB/s of plaintext), the updater's
# peak resident memory (the issue's bound: 32 MiB at 1 GiB) and the decryption's own rate
# (size over the difference of the two best times).
#
# Disk: about 6 GiB per GiB of $SIZES_MIB under $BENCH_DIR (the data, each repository's
# staged and served copies, one device at a time); the devices are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-nginx.sh
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; } >/dev/null
cargo build --release -q --bins
repo=$PWD/target/release/repo
updater=$PWD/target/release/updater
bench=${BENCH_DIR:-$PWD/target/bench-encrypted}
sizes=${SIZES_MIB:-1024}
runs=${RUNS:-3}
k=$PWD/keys.example
mkdir -p "$bench/data" "$bench/repos"

# The device identity every fresh device uses (so the ciphertext stays valid across runs).
if [ ! -f "$bench/identity/identity.txt" ]; then
  rm -rf "$bench/identity" "$bench/repos"
  mkdir -p "$bench/identity/metadata"
  cat > "$bench/identity/updater.toml" <<EOF
[device]
id = "bench-device"
platform = "bench"
channel = "stable"
identity = "$bench/identity/identity.txt"

[repository]
metadata = ["http://127.0.0.1:1/metadata"]
targets = ["http://127.0.0.1:1/targets"]

[paths]
metadata = "$bench/identity/metadata"
downloads = "$bench/identity/downloads"
install = "$bench/identity/install"
EOF
  "$updater" --config "$bench/identity/updater.toml" keygen --json |
    python3 -c 'import json,sys; print("# the bench device\n" + json.load(sys.stdin)["recipient"])' \
      > "$bench/identity/recipients.txt"
fi

cat > "$bench/policy.xml" <<EOF
<policy>
  <channel name="stable">
    <target release="1.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
EOF

# Two repositories per size, rebuilt only when the size is new: $mib-plain and $mib-age.
for mib in $sizes; do
  if [ ! -f "$bench/data/$mib/image.bin" ]; then
    echo "generating $mib MiB of random bytes"
    mkdir -p "$bench/data/$mib"
    head -c $((mib * 1048576)) /dev/urandom > "$bench/data/$mib/image.bin"
    rm -rf "$bench/repos/$mib-plain" "$bench/repos/$mib-age"
  fi
  for kind in plain age; do
    r=$bench/repos/$mib-$kind
    [ -d "$r" ] && continue
    extra=()
    [ "$kind" = age ] && extra=(--encrypt-to "$bench/identity/recipients.txt")
    "$repo" init "$r" --key root=$k/root.pub --key targets=$k/targets.pub \
      --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
      --sign $k/root.pem >/dev/null
    "$repo" add "$r" "$bench/data/$mib" --release 1.0.0 --platform bench "${extra[@]}" >/dev/null
    "$repo" policy set "$r" "$bench/policy.xml" >/dev/null
    "$repo" sign "$r" --key $k/targets.pem --key $k/policy.pem --key $k/snapshot.pem \
      --key $k/timestamp.pem >/dev/null
  done
done

start_bench_nginx "$bench/repos"
trap 'kill $nginx_pid 2>/dev/null || true; rm -rf "$bench/device" "$bench/curl.out"' EXIT

now() { date +%s.%N; }

# A fresh device for repository $1 (a folder name under repos/), then `updater apply`
# under /usr/bin/time, then a check that it installed the bytes of $2: prints "SECONDS
# PEAK_RSS_KIB".
apply_fresh() {
  local url=$base/$1/public d=$bench/device
  rm -rf "$d"; mkdir -p "$d/metadata"; sync
  "$updater" --metadata-dir "$d/metadata" init "$bench/repos/$1/public/metadata/1.root.json" >/dev/null
  cat > "$d/updater.toml" <<EOF
[device]
id = "bench-device"
platform = "bench"
channel = "stable"
identity = "$bench/identity/identity.txt"

[repository]
metadata = ["$url/metadata"]
targets = ["$url/targets"]

[paths]
metadata = "$d/metadata"
downloads = "$d/downloads"
install = "$d/install"
EOF
  mkdir -p "$d/install/releases"
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%M' -o "$d/rss" "$updater" --config "$d/updater.toml" apply >/dev/null
  t1=$(now)
  cmp -s "$d/install/current/image.bin" "$2" || { echo "apply from $1 did not install $2" >&2; exit 1; }
  echo "$(python3 -c "print($t1 - $t0)") $(cat "$d/rss")"
}

printf '%-9s %-26s %8s %8s %12s\n' size side seconds MiB/s peak-RSS
for mib in $sizes; do
  # The plain artifact's file under its SHA-256 name (64 hex digits).
  served=$bench/repos/$mib-plain/public/targets/releases/1.0.0/bench
  file=$(cd "$served" && ls | grep -E '^[0-9a-f]{64}\.image\.bin$')
  url=$base/$mib-plain/public/targets/releases/1.0.0/bench/$file
  # Warm the server's page cache for both repositories' files.
  find "$bench/repos/$mib-plain/public/targets" "$bench/repos/$mib-age/public/targets" -type f \
    -exec cat {} + > /dev/null
  best_curl=999999; best_plain=999999; best_age=999999; rss_plain=0; rss_age=0
  for _ in $(seq 1 "$runs"); do
    rm -f "$bench/curl.out"; sync
    t0=$(now); curl -sS -o "$bench/curl.out" "$url"; t1=$(now)
    rm -f "$bench/curl.out"
    best_curl=$(python3 -c "print(min($best_curl, $t1 - $t0))")
    measured=$(apply_fresh "$mib-plain" "$bench/data/$mib/image.bin"); read -r t rss <<<"$measured"
    best_plain=$(python3 -c "print(min($best_plain, $t))"); [ "$rss" -gt "$rss_plain" ] && rss_plain=$rss
    measured=$(apply_fresh "$mib-age" "$bench/data/$mib/image.bin"); read -r t rss <<<"$measured"
    best_age=$(python3 -c "print(min($best_age, $t))"); [ "$rss" -gt "$rss_age" ] && rss_age=$rss
  done
  python3 - "$mib" "$best_curl" "$best_plain" "$best_age" "$rss_plain" "$rss_age" <<'EOF'
import sys
mib = int(sys.argv[1])
curl, plain, age = map(float, sys.argv[2:5])
rss_plain, rss_age = (int(a) / 1024 for a in sys.argv[5:7])
row = lambda side, s, rss: print(f"{mib:>5} MiB {side:<26} {s:8.2f} {mib / s:8.0f} {rss}")
row("curl (reference)", curl, f"{'-':>12}")
row("apply plain", plain, f"{rss_plain:8.1f} MiB")
row("apply encrypted", age, f"{rss_age:8.1f} MiB")
extra = age - plain
rate = f"{mib / extra:.0f} MiB/s" if extra > 0 else "not measurable"
print(f"{mib:>5} MiB decrypt-and-verify alone: +{extra:.2f} s ({rate}); encrypted/plain {age / plain:.2f}; "
      f"peak RSS bound 32 MiB: {'met' if rss_age <= 32 else 'NOT met'}")
EOF
done
