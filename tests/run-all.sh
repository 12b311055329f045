#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, end-to-end tests and a bounded fuzzing
# run (scripts/fuzz.sh: each target FUZZ_SECONDS, default 60; FUZZ_SECONDS=0 skips it). Installs what the
# tests need (python-tuf into .venv) so that it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export TUF_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets -- -D warnings
# Documentation builds without a broken link; the code keeps its shape (files under 500
# lines, functions under 80, no module cycle, nothing pub that no other crate uses).
RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" cargo doc --no-deps --workspace --exclude e2e-tests --document-private-items -q
python3 scripts/check-shape.py
# tuf-core does no I/O: no network, TLS, archive or compression crate in its tree, and libc
# only through ring's getrandom (its entropy source); one commented `unsafe` block in all.
if cargo tree -p tuf-core -e normal --prefix none | grep -E '^(ureq|rustls|tar|flate2|tokio|reqwest|hyper) '; then
  echo "tuf-core depends on an I/O crate" >&2; exit 1
fi
if cargo tree -p tuf-core -e normal -i libc --prefix none | grep -vE '^(libc|getrandom|ring|tuf-core) '; then
  echo "tuf-core reaches libc other than through ring's getrandom" >&2; exit 1
fi
if [ "$(grep -rn --include='*.rs' 'unsafe {' tuf-core/src client/src repo-tool/src | grep -vc 'install/hooks.rs')" != 0 ]; then
  echo "unsafe outside client/src/install/hooks.rs" >&2; exit 1
fi
# Release binaries, as shipped (default members only: no test hooks): they must link no
# OpenSSL (every digest is the `sha2` crate's) and carry no fault-injection hook.
cargo build --release --bins
if ldd target/release/repo | grep -E 'libcrypto|libssl'; then
  echo "target/release/repo links OpenSSL" >&2; exit 1
fi
for hook in updater:UPDATER_TEST_PAUSE repo:REPO_TEST_PAUSE_AFTER_UPLOADS; do
  if [ "$(strings "target/release/${hook%%:*}" | grep -c "${hook#*:}")" != 0 ]; then
    echo "target/release/${hook%%:*} contains the test hook ${hook#*:}" >&2; exit 1
  fi
done
# The binaries the end-to-end tests run: with the tests crate, so with its hooks.
cargo build --workspace --bins
# Keep the runner's own lines, and close with one summary line over every test binary.
log=$(mktemp)
# The fleet collector's tests run against SQLite and this PostgreSQL server (127.0.0.1 only).
pgdir=$(mktemp -d)
trap 'bash scripts/postgres-for-tests.sh stop "$pgdir" || true; rm -rf "$pgdir"; rm -f "$log"' EXIT
FLEET_TEST_POSTGRES=$(bash scripts/postgres-for-tests.sh start "$pgdir")
export FLEET_TEST_POSTGRES
# Doc tests too: tuf-core's compile_fail tests show each out-of-order use of the typestate.
{ cargo test --workspace --all-targets && cargo test --workspace --doc; } 2>&1 | tee "$log"
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log"
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  bash scripts/fuzz.sh
fi
