#!/usr/bin/env bash
# Installs what building and testing need beyond the Rust toolchain, on a fresh Debian
# machine: the openssl command (tests make certificates and keys with it), nginx, PostgreSQL
# (scripts/postgres-for-tests.sh starts one for the fleet collector's tests), and
# python-tuf 7 with cryptography (for ECDSA and RSA keys) and moto's S3 server (for repo
# publish tests) in a local virtual environment,
# .venv/. Used by the quick start and the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v openssl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq openssl
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check 'tuf==7.*' 'cryptography>=42' 'moto[server]==5.*'
# faketime moves a device's clock ahead in the air-gap tests (an archive's validity period).
if ! command -v faketime >/dev/null; then
  apt-get update -qq && apt-get install -y -qq faketime
fi
# rsync runs the mirroring command of docs/reference/repo.md in tests/tests/publish.rs.
if ! command -v rsync >/dev/null; then
  apt-get update -qq && apt-get install -y -qq rsync
fi
# age (encrypt and decrypt) checks that `repo` and the device speak the standard age format
# (tests/tests/encrypted.rs).
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  apt-get update -qq && apt-get install -y -qq age
fi
# man (Debian's man-db) renders the generated man pages in tests/tests/cli_docs.rs.
if ! command -v man >/dev/null; then
  apt-get update -qq && apt-get install -y -qq man-db
fi
# Debian's headless chromium opens the fleet dashboard in tests/tests/fleet_dashboard.rs.
if ! command -v chromium >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
# nginx serves a repository over HTTPS with client certificates in tests/tests/mirror_mtls.rs
# (Debian installs it in /usr/sbin, which a user's PATH may lack).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx
fi
# PostgreSQL: the fleet collector's tests run against a server scripts/postgres-for-tests.sh
# starts (Debian's package puts initdb in /usr/lib/postgresql/*/bin).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq postgresql
fi
