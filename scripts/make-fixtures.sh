#!/usr/bin/env bash
# Regenerates fixtures/: small, deterministic release folders that the quick start and the
# tests stage into demo repositories. Run from anywhere: bash scripts/make-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf fixtures/releases
for release in 1.0.0 2.0.0; do
  for platform in armv7 x86_64; do
    d=fixtures/releases/$release/$platform
    mkdir -p "$d/share"
    printf 'demo application %s for %s\n' "$release" "$platform" > "$d/app.bin"
    printf 'configuration data of release %s\n' "$release" > "$d/share/data.txt"
    printf '#!/bin/sh\n# signed maintenance step shipped with %s\necho "preparing %s"\n' "$release" "$release" > "$d/pre-install.sh"
    # A few kilobytes of deterministic binary data, so artifacts are not all tiny text.
    python3 -c "import hashlib,sys; sys.stdout.buffer.write(b''.join(hashlib.sha512(f'$release/$platform/{i}'.encode()).digest() for i in range(64)))" > "$d/firmware.img"
  done
done
echo "fixtures regenerated under fixtures/releases"
