#!/usr/bin/env bash
# Quick start: builds `repo` and `updater`, makes a demo repository from keys.example/ and
# fixtures/, verifies it, serves it on 127.0.0.1, and lets a device (the `updater`, with its
# folders in target/demo-device) update from it; python-tuf, an independent TUF client, then
# downloads every artifact from the same server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q --bins
repo=target/release/repo
updater=target/release/updater
demo=target/demo
device=target/demo-device
rm -rf "$demo" "$device"
k=keys.example

$repo init "$demo" --key root=$k/root.pub --key targets=$k/targets.pub \
  --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
  --sign $k/root.pem
for release in 1.0.0 2.0.0; do
  for platform in armv7 x86_64; do
    $repo add "$demo" fixtures/releases/$release/$platform --release $release --platform $platform
  done
done
# The rollout policy: checked against the index, previewed, staged, then signed with the
# policy key (and the targets key, since this is the first signing).
$repo policy set "$demo" fixtures/policy/rollout.xml
$repo sign "$demo" --key $k/targets.pem --key $k/policy.pem --key $k/snapshot.pem --key $k/timestamp.pem
$repo status "$demo"
$repo verify "$demo" --root "$demo/public/metadata/1.root.json"

# Serve it and read it with python-tuf, as a device would.
port_file=$(mktemp)
python3 tests/python/serve.py "$demo/public" > "$port_file" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$port_file"' EXIT
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(head -1 "$port_file")
echo "serving $demo/public on http://127.0.0.1:$port/"

# A device: it trusts the first root (shipped with it), then refreshes and downloads.
url=http://127.0.0.1:$port
mkdir -p "$device/metadata" "$device/targets"
$updater --metadata-dir "$device/metadata" init "$demo/public/metadata/1.root.json"
$updater --metadata-dir "$device/metadata" --metadata-url "$url/metadata" refresh
$updater --metadata-dir "$device/metadata" --metadata-url "$url/metadata" targets
$updater --metadata-dir "$device/metadata" --metadata-url "$url/metadata" \
  --target-base-url "$url/targets" --target-dir "$device/targets" \
  --target-name releases/2.0.0/x86_64/app.bin --target-name releases/2.0.0/x86_64/firmware.img download
# Nothing new on the server: a second refresh makes two small requests and changes nothing.
$updater --metadata-dir "$device/metadata" --metadata-url "$url/metadata" refresh
ls -l "$device/metadata" "$device/targets"

# What the signed policy means for this device (fixtures/device.toml, with the served URL),
# running 1.0.0: on the first day of the rollout (fixtures/policy/rollout.xml), and now.
mkdir -p "$device/install/releases/1.0.0" "$device/downloads"
ln -sfn releases/1.0.0 "$device/install/current"
sed "s|http://127.0.0.1:8080|$url|" fixtures/device.toml > "$device/updater.toml"
echo "plan at 2026-11-23T12:00:00Z:"
$updater --config "$device/updater.toml" plan --now 2026-11-23T12:00:00Z
echo "plan now:"
$updater --config "$device/updater.toml" plan
$updater --config "$device/updater.toml" plan --json

# Install: a second device runs release 1.0.0, then 2.0.0, each staged, switched
# atomically, health-checked and committed, the previous one kept for rollback.
second=target/demo-device2
rm -rf "$second"; mkdir -p "$second/metadata"
$updater --metadata-dir "$second/metadata" init "$demo/public/metadata/1.root.json"
cat > "$second/updater.toml" <<EOF
[device]
id = "demo-device-2"
platform = "x86_64"
channel = "stable"

[repository]
metadata = ["$url/metadata"]
targets = ["$url/targets"]

[paths]
metadata = "$second/metadata"
downloads = "$second/downloads"
install = "$second/install"

[install]
health_check = ["/bin/sh", "-c", "test -s current/app.bin"]
timeout = "30s"
EOF
release_policy() {
  cat > "$second/policy.xml" <<EOF
<policy>
  <channel name="stable">
    <target release="$1"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
EOF
  $repo policy set "$demo" "$second/policy.xml" > /dev/null
  $repo sign "$demo" --key $k/policy.pem --key $k/snapshot.pem --key $k/timestamp.pem > /dev/null
}
release_policy 1.0.0
$updater --config "$second/updater.toml" apply
release_policy 2.0.0
$updater --config "$second/updater.toml" apply
$updater --config "$second/updater.toml" status
ls -l "$second/install"

work=$(mktemp -d)
.venv/bin/python tests/python/tuf_fetch.py "http://127.0.0.1:$port" "$demo/public/metadata/1.root.json" "$work"
rm -rf "$work"
echo "quick start done: a device installed 1.0.0 then 2.0.0; the updater and python-tuf verified and downloaded from the demo repository"
