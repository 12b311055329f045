#!/usr/bin/env bash
# Quick start: builds `repo`, makes a demo repository from keys.example/ and fixtures/,
# verifies it as a device would, then serves it on 127.0.0.1 and lets python-tuf (an
# independent TUF client) download every artifact from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q --bins
repo=target/release/repo
demo=target/demo
rm -rf "$demo"
k=keys.example

$repo init "$demo" --key root=$k/root.pub --key targets=$k/targets.pub \
  --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --sign $k/root.pem
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
work=$(mktemp -d)
.venv/bin/python tests/python/tuf_fetch.py "http://127.0.0.1:$port" "$demo/public/metadata/1.root.json" "$work"
rm -rf "$work"
echo "quick start done: python-tuf verified and downloaded every artifact"
