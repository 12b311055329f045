#!/usr/bin/env bash
# Benchmark of `repo add`: this build (every digest by the `sha2` crate) against the last
# build that hashed with OpenSSL's libcrypto, and both against `openssl dgst` over the same
# bytes (not a test; prints figures).
#
# Generates 2,000 files of 1 MiB and one file of 1 GiB (3,024 MiB in all; once, under
# $BENCH_DIR, default target/bench), builds this tree's release `repo` and the OpenSSL one
# (commit $OPENSSL_COMMIT, default fa5874c, in a temporary `git worktree` under target/ with
# its own target folder; the binary is kept for later runs), then for each data set (the
# 2,000 small files, the large file, and both together as one release), $RUNS times
# (default 3), alternating:
#   - repo add with each build (reads each file once: SHA-512 + SHA-256 + copy into the
#     repository),
#   - the reference: `openssl dgst -sha512` and `openssl dgst -sha256` over the same files,
#     run at the same time so that both cores work,
# and prints the best wall time of each, the ratio of this build to the OpenSSL build
# (goal: at most 1.15), the ratio to the reference, and this build's peak memory (goal: flat
# in file size). Files are read once beforehand so every side starts from a warm cache.
#
# Builds run as `$BUILD_LOCK cargo ...` when BUILD_LOCK names a lock file (through flock),
# so a shared machine can serialise them with other builds; measurements run unlocked.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bench=${BENCH_DIR:-$root/target/bench}
runs=${RUNS:-3}
openssl_commit=${OPENSSL_COMMIT:-fa5874c}
mkdir -p "$bench"

cargo_build() {
  if [ -n "${BUILD_LOCK:-}" ]; then flock "$BUILD_LOCK" cargo "$@"; else cargo "$@"; fi
}

# This tree's build.
cargo_build build --release -q --bins
repo_sha2=$root/target/release/repo

# The OpenSSL build: linked against the system's libcrypto, so it needs its headers.
repo_openssl=$bench/repo-openssl-$openssl_commit
if [ ! -x "$repo_openssl" ]; then
  command -v pkg-config >/dev/null && pkg-config --exists openssl ||
    { apt-get update -qq && apt-get install -y -qq libssl-dev pkg-config; } >/dev/null
  src=$root/target/bench-openssl-src
  git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
  git worktree add -q --detach "$src" "$openssl_commit"
  (cd "$src" && CARGO_TARGET_DIR=$root/target/bench-openssl-target \
    cargo_build build --release -q --bin repo)
  cp "$root/target/bench-openssl-target/release/repo" "$repo_openssl"
  git worktree remove --force "$src"
fi
ldd "$repo_openssl" | grep libcrypto >/dev/null || { echo "$repo_openssl does not link libcrypto" >&2; exit 1; }

data=$bench/data
if [ ! -f "$bench/many.done" ]; then
  echo "generating 2000 x 1 MiB in $data/many"
  rm -rf "$data/many"; mkdir -p "$data/many"
  for i in $(seq -w 1 2000); do head -c 1048576 /dev/urandom > "$data/many/file-$i.bin"; done
  touch "$bench/many.done"
fi
if [ ! -f "$bench/big.done" ]; then
  echo "generating 1 x 1 GiB in $data/big"
  rm -rf "$data/big"; mkdir -p "$data/big"
  head -c 1073741824 /dev/urandom > "$data/big/image.bin"
  touch "$bench/big.done"
fi

k=keys.example
fresh_repo() {
  rm -rf "$bench/repo"
  "$1" init "$bench/repo" --key root=$k/root.pub --key targets=$k/targets.pub \
    --key snapshot=$k/snapshot.pem --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
    --sign $k/root.pem > /dev/null
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

# Prints "WALL RSS" of one `repo add` of folder $2 by binary $1, into a fresh repository.
add_once() {
  fresh_repo "$1"
  sync   # start from a quiet disk: no writeback left from earlier runs
  local line
  line=$(python3 scripts/measure.py "repo add" -- \
    "$1" add "$bench/repo" "$2" --release 1.0.0 --platform bench --quiet)
  sed 's/.*wall_s=\([0-9.]*\) peak_rss_mib=\([0-9.]*\).*/\1 \2/' <<< "$line"
}

ref_once() {
  sync
  python3 scripts/measure.py "openssl" -- bash -c "openssl_both '$1'" |
    sed 's/.*wall_s=\([0-9.]*\).*/\1/'
}

echo "cores: $(nproc); $(openssl version); best of $runs runs"
echo "sha2:    $repo_sha2"
echo "openssl: $repo_openssl (commit $openssl_commit)"
printf '%-5s %6s  %-22s %-22s %-9s %-22s %-8s %s\n' set MiB "repo add (sha2)" \
  "repo add (openssl)" ratio "openssl dgst" "sha2/dgst" "peak RSS"
for set in many big all; do
  case $set in all) dir=$data ;; *) dir=$data/$set ;; esac
  find "$dir" -type f -exec cat {} + > /dev/null   # warm the page cache for every side alike
  sha2_times=() openssl_times=() ref_times=() rss=0
  for ((run = 0; run < runs; run++)); do
    # Alternate which build goes first, so neither always follows the other's writeback.
    if ((run % 2 == 0)); then order="sha2 openssl"; else order="openssl sha2"; fi
    for build in $order; do
      if [ $build = sha2 ]; then
        out=$(add_once "$repo_sha2" "$dir")
        read -r wall peak <<< "$out"
        sha2_times+=("$wall"); rss=$peak
      else
        out=$(add_once "$repo_openssl" "$dir")
        read -r wall _ <<< "$out"
        openssl_times+=("$wall")
      fi
    done
    out=$(ref_once "$dir")
    ref_times+=("$out")
  done
  bytes=$(du -sb "$dir" | cut -f1)
  python3 - "$set" "$bytes" "$rss" "${sha2_times[*]}" "${openssl_times[*]}" "${ref_times[*]}" <<'PY'
import sys
name, size, rss = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sha2, ossl, ref = (min(map(float, a.split())) for a in sys.argv[4:7])
mib = size / 2**20
col = lambda s: f"{s:6.2f} s ({mib/s:5.0f} MiB/s)"
print(f"{name:5} {mib:6.0f}  {col(sha2):22} {col(ossl):22} {sha2/ossl:5.2f}x    "
      f"{col(ref):22} {sha2/ref:5.2f}x   {rss:6.1f} MiB")
PY
done
rm -rf "$bench/repo"
