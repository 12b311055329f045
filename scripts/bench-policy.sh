#!/usr/bin/env bash
# Benchmark of the policy parser (not a test; prints figures).
#
# For 3,000 and 30,000 early devices, builds a signed repository whose policy.xml names them
# (one folder each under $BENCH_DIR, default target/bench-policy), then times on the same
# files, side by side:
#   - `updater plan --now ...` from the repository as a folder mirror (refresh, verify, parse,
#     decide: the parse dominates at this size),
#   - the reference: Python's xml.etree parsing the same policy.xml.
# and prints the ratio of the two sizes for each: linear means about 10x.
# PROFILE=debug times the debug build instead of the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  flock /tmp/cargo.lock cargo build --release -q --bins
else
  flock /tmp/cargo.lock cargo build -q --bins
fi
repo=$PWD/target/$profile/repo
updater=$PWD/target/$profile/updater
bench=${BENCH_DIR:-$PWD/target/bench-policy}
k=$PWD/keys.example
now=2026-11-23T12:00:00Z
rm -rf "$bench"
mkdir -p "$bench"

wall() { sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<< "$1"; }

setup() { # $1: number of early devices; prints nothing, leaves $bench/$1/{repo,device}
  local n=$1 dir=$bench/$1
  mkdir -p "$dir"
  {
    echo '<policy>'
    echo '<channel name="stable">'
    echo '<target release="2.0.0">'
    # Short ids keep 30,000 of them under the 1 MiB policy limit.
    seq -f '<early device="d%06g"/>' 1 "$n"
    echo '<wave start="2026-11-23T00:00:00Z" percent="10"/>'
    echo '<wave start="2026-11-24T00:00:00Z" percent="100"/>'
    echo '</target>'
    echo '</channel>'
    echo '</policy>'
  } > "$dir/policy.xml"
  "$repo" init "$dir/repo" --key root=$k/root.pub --key targets=$k/targets.pub \
    --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
    --sign $k/root.pem > /dev/null
  "$repo" add "$dir/repo" fixtures/releases/2.0.0/armv7 --release 2.0.0 --platform armv7 --quiet > /dev/null
  "$repo" policy set "$dir/repo" "$dir/policy.xml" > /dev/null
  "$repo" sign "$dir/repo" --key $k/targets.pem --key $k/policy.pem --key $k/snapshot.pem \
    --key $k/timestamp.pem > /dev/null
  mkdir -p "$dir/device/metadata" "$dir/device/downloads" "$dir/device/install/releases"
  "$updater" --metadata-dir "$dir/device/metadata" init "$dir/repo/public/metadata/1.root.json" > /dev/null
  cat > "$dir/device/updater.toml" <<EOF
[device]
id = "d000001"
platform = "armv7"
channel = "stable"

[repository]
metadata = ["$dir/repo/public/metadata"]
targets = ["$dir/repo/public/targets"]

[paths]
metadata = "$dir/device/metadata"
downloads = "$dir/device/downloads"
install = "$dir/device/install"
EOF
}

declare -A plan ref
for n in 3000 30000; do
  setup $n
  dir=$bench/$n
  echo "$n early devices: policy.xml $(stat -c %s "$dir/policy.xml") bytes"
  plan[$n]=$(wall "$(python3 scripts/measure.py plan -- "$updater" --config "$dir/device/updater.toml" plan --now $now)")
  ref[$n]=$(wall "$(python3 scripts/measure.py etree -- python3 -c \
    'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$dir/policy.xml")")
done

printf '%-34s %10s %10s %8s\n' "" "3,000" "30,000" "ratio"
for side in plan ref; do
  declare -n t=$side
  label=$([ $side = plan ] && echo "updater plan --now ($profile)" || echo "python3 xml.etree (reference)")
  ratio=$(python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{b / a:.1f}x')" "${t[3000]}" "${t[30000]}")
  printf '%-34s %9ss %9ss %8s\n' "$label" "${t[3000]}" "${t[30000]}" "$ratio"
done
