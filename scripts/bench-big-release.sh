#!/usr/bin/env bash
# Benchmark of one big release (issue 13, acceptance 2): a release of $FILES files (default
# 100000, 16 bytes each, `dirNNN/fileNNNNNN.bin`) published with `repo add` and `repo sign`
# (split into hash bins), then installed by a device from local-path mirrors. Prints the
# time and peak RSS of `repo add`, `repo sign`, the device's `plan` and `apply` (goal: plan
# and apply at most 64 MiB), and the count of files installed, beside a reference run that
# copies the release folder (`cp -r` + `sync`). Not a test; prints figures.
# Everything lives under $BENCH_DIR (default target/bench-big-release), rebuilt each run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; } >/dev/null
cargo build --release -q --bins
repo=$PWD/target/release/repo
updater=$PWD/target/release/updater
bench=${BENCH_DIR:-$PWD/target/bench-big-release}
files=${FILES:-100000}
k=$PWD/keys.example
rm -rf "$bench"; mkdir -p "$bench/release"

# The release folder: $files files of 16 bytes, 1,000 per folder.
python3 - "$bench/release" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "dir%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file%06d.bin" % i), "wb") as f:
        f.write(os.urandom(16))
PY

measure() { # label, command...: prints "label seconds MiB"
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$bench/time" "$@" >"$bench/$label.out"
  read -r s kb < "$bench/time"
  printf '%-28s %9s s %9.1f MiB\n' "$label" "$s" "$(awk "BEGIN {print $kb / 1024}")"
}

R=$bench/repo
"$repo" init "$R" --key root=$k/root.pub --key targets=$k/targets.pub \
  --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
  --sign $k/root.pem >/dev/null
cat > "$bench/policy.xml" <<XML
<policy>
  <channel name="stable">
    <target release="1.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
XML

measure "reference cp -r + sync" sh -c "cp -r '$bench/release' '$bench/copy' && sync"
measure "repo add ($files files)" "$repo" add "$R" "$bench/release" --release 1.0.0 --platform x86_64
"$repo" policy set "$R" "$bench/policy.xml" >/dev/null
measure "repo sign" "$repo" sign "$R" --key $k/targets.pem --key $k/policy.pem \
  --key $k/snapshot.pem --key $k/timestamp.pem

D=$bench/device
mkdir -p "$D"
cat > "$D/updater.toml" <<TOML
[device]
id = "bench-device"
platform = "x86_64"
channel = "stable"
[repository]
metadata = ["$R/public/metadata"]
targets = ["$R/public/targets"]
[paths]
metadata = "$D/metadata"
downloads = "$D/downloads"
install = "$D/install"
TOML
"$updater" --metadata-dir "$D/metadata" init "$R/public/metadata/1.root.json" >/dev/null
measure "updater plan" "$updater" --config "$D/updater.toml" plan
measure "updater plan (again)" "$updater" --config "$D/updater.toml" plan
measure "updater apply" "$updater" --config "$D/updater.toml" apply
installed=$(find "$D/install/current/" -type f | wc -l)
echo "files installed: $installed of $files"
[ "$installed" -eq "$files" ] || { echo "apply installed $installed files, not $files" >&2; exit 1; }
echo "goal: updater plan and apply at most 64 MiB"
