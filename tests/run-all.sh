#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests and end-to-end tests. Installs what the
# tests need (python-tuf into .venv) so that it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check 'tuf==7.*'
export TUF_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
cargo test --workspace
