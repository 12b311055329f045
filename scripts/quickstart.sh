#!/usr/bin/env bash
# Quick start: builds `repo` and `updater`, makes a demo repository from keys.example/ and
# fixtures/, verifies it, serves it on 127.0.0.1, and lets a device (the `updater`, with its
# folders in target/demo-device) update from it; python-tuf, an independent TUF client, then
# downloads every artifact from the same server. `fleet`, the collector, runs beside it with
# SQLite (target/demo-fleet.db); both devices are enrolled and report what they did, and the
# script ends with the dashboard's address and `fleet summary`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q --bins
repo=target/release/repo
updater=target/release/updater
fleet=target/release/fleet
fleet_db=target/demo-fleet.db
demo=target/demo
device=target/demo-device
rm -rf "$demo" "$device" "$fleet_db" "$fleet_db-wal" "$fleet_db-shm"
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
fleet_file=$(mktemp)
fleet_pid=
trap 'kill $server $fleet_pid 2>/dev/null; rm -f "$port_file" "$fleet_file"' EXIT
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(head -1 "$port_file")
echo "serving $demo/public on http://127.0.0.1:$port/"

# The collector: SQLite (one file, created and migrated now), on a free port of 127.0.0.1,
# drawing the rollout policy's planned ramp on its dashboard. It prints its address first.
$fleet serve --db "$fleet_db" --listen 127.0.0.1:0 --policy fixtures/policy/rollout.xml > "$fleet_file" &
fleet_pid=$!
for _ in $(seq 100); do [ -s "$fleet_file" ] && break; sleep 0.1; done
fleet_url=$(grep -o 'http://[^ ]*/' "$fleet_file" | head -1)
[ -n "$fleet_url" ] || { echo "fleet serve did not start" >&2; exit 1; }
echo "collecting device reports at ${fleet_url}v1/reports"
# Enrolls a device: its report key (made now by `updater keygen`, private half 0600, never
# printed) goes into the collector's database under the device's id.
enroll() {
  key=$($updater --config "$2" keygen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
  $fleet enroll --db "$fleet_db" "$1" "$key"
}
report_section="
[report]
urls = [\"${fleet_url}v1/reports\"]
"

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
sed -e "s|http://127.0.0.1:8080|$url|" -e 's|^id = "auto"|id = "demo-device-1"|' \
  fixtures/device.toml > "$device/updater.toml"
printf '%s' "$report_section" >> "$device/updater.toml"
enroll demo-device-1 "$device/updater.toml"
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
$report_section
EOF
enroll demo-device-2 "$second/updater.toml"
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
# The first device installs 2.0.0 too (what its plan showed); both reported each step.
$updater --config "$device/updater.toml" apply

work=$(mktemp -d)
.venv/bin/python tests/python/tuf_fetch.py "http://127.0.0.1:$port" "$demo/public/metadata/1.root.json" "$work"
rm -rf "$work"

echo "fleet: what the devices reported (the dashboard is at $fleet_url while this script runs;"
echo "serve it again with: $fleet serve --db $fleet_db --listen 127.0.0.1:8443 --policy fixtures/policy/rollout.xml)"
$fleet summary --db "$fleet_db" 2.0.0
$fleet devices --db "$fleet_db"
echo "quick start done: a device installed 1.0.0 then 2.0.0; the updater and python-tuf verified and downloaded from the demo repository"
