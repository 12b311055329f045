#!/usr/bin/env bash
# Benchmark of `repo add` against openssl over the same bytes (not a test; prints figures).
#
# Generates 2,000 files of 1 MiB and one file of 1 GiB (once, under $BENCH_DIR, default
# target/bench), then for each data set:
#   - repo add (reads each file once: SHA-512 + SHA-256 + copy into the repository),
#   - the reference: `openssl dgst -sha512` and `openssl dgst -sha256` over the same files,
#     run at the same time so that both cores work,
# and prints both wall times, their ratio (goal: at most 1.2) and repo's peak memory (goal:
# flat in file size). Files are read once beforehand so both sides start from a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bins
repo=$PWD/target/release/repo
bench=${BENCH_DIR:-$PWD/target/bench}
mkdir -p "$bench"

many=$bench/data/many
big=$bench/data/big
if [ ! -f "$bench/data/many.done" ]; then
  echo "generating 2000 x 1 MiB in $many"
  rm -rf "$many"; mkdir -p "$many"
  for i in $(seq -w 1 2000); do head -c 1048576 /dev/urandom > "$many/file-$i.bin"; done
  touch "$bench/data/many.done"
fi
if [ ! -f "$bench/data/big.done" ]; then
  echo "generating 1 x 1 GiB in $big"
  rm -rf "$big"; mkdir -p "$big"
  head -c 1073741824 /dev/urandom > "$big/image.bin"
  touch "$bench/data/big.done"
fi

k=keys.example
fresh_repo() {
  rm -rf "$bench/repo"
  "$repo" init "$bench/repo" --key root=$k/root.pub --key targets=$k/targets.pub \
    --key snapshot=$k/snapshot.pem --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub --sign $k/root.pem > /dev/null
}

openssl_both() {
  # Both digests at once, one per core, over every file of the set.
  find "$1" -type f -print0 | xargs -0 openssl dgst -sha512 > /dev/null &
  local a=$!
  find "$1" -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null &
  local b=$!
  wait $a; wait $b
}
export -f openssl_both

echo "cores: $(nproc); $(openssl version)"
for set in many big; do
  dir=$bench/data/$set
  cat "$dir"/* > /dev/null   # warm the page cache for both sides alike
  fresh_repo
  sync                       # start from a quiet disk: no writeback left from earlier runs
  repo_line=$(python3 scripts/measure.py "repo add" -- "$repo" add "$bench/repo" "$dir" --release 1.0.0 --platform bench --quiet)
  sync
  ref_line=$(python3 scripts/measure.py "openssl sha512+sha256" -- bash -c "openssl_both '$dir'")
  repo_wall=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<< "$repo_line")
  repo_rss=$(sed 's/.*peak_rss_mib=\([0-9.]*\).*/\1/' <<< "$repo_line")
  ref_wall=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<< "$ref_line")
  bytes=$(du -sb "$dir" | cut -f1)
  python3 - "$set" "$bytes" "$repo_wall" "$ref_wall" "$repo_rss" <<'PY'
import sys
name, size, repo, ref, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
mib = size / 2**20
print(f"{name:5} {mib:8.0f} MiB  repo add {repo:7.2f} s ({mib/repo:6.0f} MiB/s)  "
      f"openssl {ref:7.2f} s ({mib/ref:6.0f} MiB/s)  ratio {repo/ref:5.2f}  repo peak RSS {rss:6.1f} MiB")
PY
done
rm -rf "$bench/repo"
