#!/usr/bin/env bash
# Regenerates the fuzz targets' fixed metadata (fuzz/fixtures/) and seed corpora
# (fuzz/corpus/<target>/): a repository built by `repo` from keys.example/ and fixtures/ as
# the quick start builds it, its export archive, the fixtures' policy, and a few small
# bundles holding what the extractor must handle (folders, links, hard links, long names,
# pax headers, gzip). Needs `repo` built (cargo build --bins) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${REPO:-target/debug/repo}
k=keys.example
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
demo=$work/repo

$repo init "$demo" --key root=$k/root.pub --key targets=$k/targets.pub \
  --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
  --sign $k/root.pem >/dev/null
for release in 1.0.0 2.0.0; do
  for platform in armv7 x86_64; do
    $repo add "$demo" fixtures/releases/$release/$platform --release $release \
      --platform $platform >/dev/null
  done
done
$repo policy set "$demo" fixtures/policy/rollout.xml >/dev/null
$repo sign "$demo" --key $k/targets.pem --key $k/policy.pem --key $k/snapshot.pem \
  --key $k/timestamp.pem >/dev/null

meta=$demo/public/metadata
cp "$meta/1.root.json" "$meta/timestamp.json" "$meta/1.snapshot.json" "$meta/1.targets.json" \
  fuzz/fixtures/
rm -rf fuzz/corpus && mkdir -p fuzz/corpus/{metadata,policy,unpack,archive_index}
cp "$meta"/*.json fuzz/corpus/metadata/
cp fixtures/policy/*.xml fuzz/corpus/policy/
cat > fuzz/corpus/policy/midnight.xml <<'XML'
<policy><check every="1d"/><window days="sat,sun" from="23:30" to="00:15"/>
<channel name="a"><target release="3.0.0-rc.1"><early device="AA:BB"/><wave start="2030-01-01T00:00:00Z" percent="0.01"/><wave start="2030-01-01T00:00:07Z" percent="99.99"/></target><via release="1.0" below="2.0"/></channel></policy>
XML
$repo export "$demo" --releases 1 --out fuzz/corpus/archive_index/export.tgz >/dev/null
tar -C "$demo/public" -cf fuzz/corpus/archive_index/metadata.tar metadata

python3 - "$work" <<'PY'
import io, sys, tarfile
work = sys.argv[1]

def add(tar, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)

def bundle(path, fmt=tarfile.GNU_FORMAT, gz=False):
    tar = tarfile.open(path, "w:gz" if gz else "w", format=fmt)
    return tar

for name, gz in [("bundle.tar", False), ("bundle.tar.gz", True)]:
    with bundle(f"fuzz/corpus/unpack/{name}", gz=gz) as tar:
        add(tar, "./", tarfile.DIRTYPE, mode=0o755)
        add(tar, "bin", tarfile.DIRTYPE, mode=0o755)
        add(tar, "bin/app", data=b"#!/bin/sh\necho app\n", mode=0o755)
        add(tar, "lib/libfoo.so.1", data=b"\x7fELF", mode=0o644)
        add(tar, "lib/libfoo.so", tarfile.SYMTYPE, link="libfoo.so.1")
        add(tar, "bin/app2", tarfile.LNKTYPE, link="bin/app")
        add(tar, "share/data.txt", data=b"data\n")
with bundle("fuzz/corpus/unpack/long-names.tar") as tar:
    add(tar, "d/" + "n" * 150, data=b"long")
    add(tar, "d/l", tarfile.SYMTYPE, link="n" * 150)
with bundle("fuzz/corpus/unpack/pax.tar", fmt=tarfile.PAX_FORMAT) as tar:
    info = tarfile.TarInfo("p/x")
    info.size, info.pax_headers = 2, {"path": "p/" + "q" * 120, "comment": "c"}
    tar.addfile(info, io.BytesIO(b"ok"))
with bundle("fuzz/corpus/unpack/escape.tar") as tar:
    add(tar, "up", tarfile.SYMTYPE, link="..")
    add(tar, "up/x", data=b"x")
for folder in ("unpack", "archive_index"):
    with bundle(f"fuzz/corpus/{folder}/one.tar", fmt=tarfile.USTAR_FORMAT) as tar:
        add(tar, "a", data=b"x")
# The archive index reads the same kinds of headers.
with bundle("fuzz/corpus/archive_index/links.tar", fmt=tarfile.PAX_FORMAT) as tar:
    add(tar, "metadata/1.root.json", data=b"{}")
    add(tar, "targets/a", tarfile.LNKTYPE, link="metadata/1.root.json")
    add(tar, "targets/" + "b" * 200, data=b"b")

# tar pads archives to 10 KiB records; a fuzzer mutates small inputs far better, so keep
# only the two end-of-archive blocks.
import glob
for path in glob.glob("fuzz/corpus/*/*.tar"):
    data = open(path, "rb").read().rstrip(b"\0")
    data += b"\0" * (-len(data) % 512) + b"\0" * 1024
    open(path, "wb").write(data)
PY
du -sh fuzz/corpus fuzz/fixtures
