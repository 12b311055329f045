#!/usr/bin/env bash
# Benchmark of the policy parser (not a test; prints figures).
#
# For 3,000 and 30,000 early devices, builds a signed repository whose policy.xml names them
# (one folder each under $BENCH_DIR, default target/bench-policy), then times on the same
# files, side by side:
#   - `updater plan --now ...` from the repository as a folder mirror (refresh, verify, parse,
#     decide: the parse dominates at this size),
#   - the reference: Python's xml.etree parsing the same policy.xml (the parse alone).
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

# The fastest of five runs of `updater plan`: the figure least disturbed by other work.
plan_time() {
  local dir=$1 best="" line t
  for _ in 1 2 3 4 5; do
    line=$(python3 scripts/measure.py plan -- "$updater" --config "$dir/device/updater.toml" plan --now $now)
    t=$(wall "$line")
    best=$(python3 -c 'import sys; print(min(sys.argv[1:], key=float))' $t $best)
  done
  echo "$best"
}

declare -A plan ref
# 1 early device: what `updater plan` costs apart from the policy's size (start-up,
# signatures, the decision), taken off the other two to show the parse's own growth.
for n in 1 3000 30000; do
  setup $n
  dir=$bench/$n
  echo "$n early devices: policy.xml $(stat -c %s "$dir/policy.xml") bytes"
  plan[$n]=$(plan_time "$dir")
  # The parse alone, timed inside Python (its start-up would hide the growth).
  ref[$n]=$(python3 -c 'import sys, time, xml.etree.ElementTree as ET
start = time.perf_counter(); ET.parse(sys.argv[1]); print(f"{time.perf_counter() - start:.4f}")' "$dir/policy.xml")
done

row() { # label, t3000, t30000
  local ratio
  ratio=$(python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{b / a:.1f}x' if a > 0 else '-')" "$2" "$3")
  printf '%-44s %9ss %9ss %8s\n' "$1" "$2" "$3" "$ratio"
}
less() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.4f}')" "$1" "$2"; }

printf '%-44s %10s %10s %8s\n' "" "3,000" "30,000" "ratio"
row "updater plan --now ($profile)" "${plan[3000]}" "${plan[30000]}"
row "  less 1-device plan (${plan[1]}s)" "$(less "${plan[3000]}" "${plan[1]}")" "$(less "${plan[30000]}" "${plan[1]}")"
row "python3 xml.etree.parse (reference)" "${ref[3000]}" "${ref[30000]}"
