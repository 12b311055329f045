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
for platform in armv7 x86_64; do
  $repo add "$demo" fixtures/releases/1.0.0/$platform --release 1.0.0 --platform $platform
done
$repo sign "$demo" --key $k/targets.pem --key $k/snapshot.pem --key $k/timestamp.pem
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
  --target-name releases/1.0.0/x86_64/app.bin --target-name releases/1.0.0/x86_64/firmware.img download
# Nothing new on the server: a second refresh makes two small requests and changes nothing.
$updater --metadata-dir "$device/metadata" --metadata-url "$url/metadata" refresh
ls -l "$device/metadata" "$device/targets"

work=$(mktemp -d)
.venv/bin/python tests/python/tuf_fetch.py "http://127.0.0.1:$port" "$demo/public/metadata/1.root.json" "$work"
rm -rf "$work"
echo "quick start done: the updater and python-tuf verified and downloaded from the demo repository"
