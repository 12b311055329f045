#!/usr/bin/env bash
# Benchmark of a publication's durability work (issue 13): what `repo add` of a 100-file
# release and a first `repo sign` of 20 and of 100 such releases (2,000 and 10,000
# artifacts) cost, with the fsync/fdatasync/syncfs calls each makes (counted by strace).
# Prints figures; not a test.
#
# RELEASES="20 100" (the default) sets the sizes, in releases of 100 files. REPO=path/to/repo
# runs another build (say, an older one) instead of this tree's release
# build. Everything lives under $BENCH_DIR (default target/bench-publication-sync).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace; } >/dev/null
command -v strace >/dev/null || { echo "strace is missing" >&2; exit 1; }
if [ -z "${REPO:-}" ]; then
  cargo build --release -q --bins
  REPO=$PWD/target/release/repo
fi
bench=${BENCH_DIR:-$PWD/target/bench-publication-sync}
k=$PWD/keys.example
rm -rf "$bench"; mkdir -p "$bench/hundred"
for f in $(seq 0 99); do
  head -c 1024 /dev/urandom > "$bench/hundred/$(printf file%06d.bin "$f")"
done

# Seconds of one command, and its sync calls ("fsync=N fdatasync=N syncfs=N") from a
# second, traced run on a copy of the same repository.
measure() {
  local label=$1 repo=$2; shift 2
  cp -a "$repo" "$repo.traced"
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  local args=("$@")
  args=("${args[@]/#$repo/$repo.traced}")
  strace -f -qq -o "$bench/trace" -e trace=fsync,fdatasync,syncfs "${args[@]}" >/dev/null
  local counts
  counts=$(for call in fsync fdatasync syncfs; do
    printf '%s=%s ' "$call" "$(grep -c "^[0-9]* *$call(" "$bench/trace" || true)"
  done)
  rm -rf "$repo.traced"
  printf '%-42s %6.3f s   %s\n' "$label" "$(echo "$end - $start" | bc)" "$counts"
}

init() {
  "$REPO" init "$1" --key root=$k/root.pub --key targets=$k/targets.pub \
    --key snapshot=$k/snapshot.pub --key timestamp=$k/timestamp.pub --key policy=$k/policy.pub \
    --sign $k/root.pem >/dev/null
}
add() {
  "$REPO" add "$1" "$bench/hundred" --release "$2" --platform x86_64 --quiet >/dev/null
}
sign_keys=(--key $k/targets.pem --key $k/snapshot.pem --key $k/timestamp.pem)

echo "repo: $REPO"
for releases in ${RELEASES:-20 100}; do
  R=$bench/repo-$releases
  init "$R"
  for i in $(seq 1 $((releases - 1))); do add "$R" "1.0.$i"; done
  measure "repo add (100 files)" "$R" \
    "$REPO" add "$R" "$bench/hundred" --release 1.0.$releases --platform x86_64 --quiet
  measure "first repo sign of $((releases * 100)) artifacts" "$R" \
    "$REPO" sign "$R" "${sign_keys[@]}"
done
