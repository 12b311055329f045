#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (fuzz/fuzz_targets/): each target runs for
# FUZZ_SECONDS (default 60) from its committed seeds (fuzz/corpus/<target>/), and the
# script fails if any target crashes, naming the input that did it. Installs the nightly
# toolchain and cargo-fuzz if they are missing, so a clean CI machine works.
#   bash scripts/fuzz.sh                   # every target, 60 s each
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh unpack
# New inputs found go to a scratch folder (kept with FUZZ_KEEP=1), not into the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ]; then targets=("$@"); else targets=(metadata policy unpack archive_index); fi

rustup run nightly rustc --version >/dev/null 2>&1 ||
  rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# No sanitizer: the code these targets reach has no unsafe code, so AddressSanitizer
# would find nothing the Rust checks miss, and it makes every target several times slower.
fuzz=(--release --sanitizer none)
start=$(date +%s)
cargo +nightly fuzz build "${fuzz[@]}"
echo "fuzz: targets built in $(($(date +%s) - start)) s"

scratch=$(mktemp -d)
[ "${FUZZ_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
  log=$scratch/$target.log
  echo "fuzz: $target for $seconds s"
  dict=()
  case $target in unpack | archive_index) dict=(-dict=fuzz/dicts/tar.dict) ;; esac
  # The scratch folder first: libFuzzer writes new inputs to the first corpus folder only.
  # A unit slower than 30 s (a hang, or a quadratic blow-up) counts as a crash.
  if cargo +nightly fuzz run "${fuzz[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    >"$log" 2>&1; then
    grep -E '^Done|stat::number_of_executed_units|cov: ' "$log" | tail -3
  else
    failed+=("$target")
    grep -vE '^#[0-9]+' "$log" | tail -40
    echo "fuzz: $target FAILED; the crashing input:"
    grep -E 'Test unit written to|artifact_prefix' "$log" || true
    ls -t "fuzz/artifacts/$target" | head -3 | sed "s|^|  fuzz/artifacts/$target/|"
    echo "  reproduce: cargo +nightly fuzz run ${fuzz[*]} $target fuzz/artifacts/$target/<file>"
  fi
done
[ "${FUZZ_KEEP:-0}" = 1 ] && echo "fuzz: new inputs kept in $scratch"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${targets[*]}: no crash in $seconds s each"
