#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer harness with clang and fuzzes the lock for a while.
#
# Usage: tests/fuzz/run-fuzz.sh [BUILD_DIR] [SECONDS] [-- LIBFUZZER_ARGS...]
#   BUILD_DIR  build directory (default /tmp/aio-fuzz-build; created, or
#              reconfigured if it exists)
#   SECONDS    -max_total_time (default 60; or the SECONDS / FUZZ_SECONDS
#              environment variable)
#   after --   extra libFuzzer flags, e.g. -jobs=2 -workers=2
#
# The seed corpus (tests/fuzz/corpus, read only) is copied into
# BUILD_DIR/fuzz-corpus, where libFuzzer adds what it finds; crashes go to
# BUILD_DIR/fuzz-artifacts/. Ends with libFuzzer's final statistics:
# executions, execs/s, coverage (cov: edges, ft: features) and corpus size.
#
# Environment passed on to the harness: FUZZ_TRACE=1 prints the operations
# and the reference model's decisions (see fuzz-rw-lock.c).

# Read first: in bash, $SECONDS counts up from the value it was given.
max_time=${FUZZ_SECONDS:-${SECONDS:-}}
set -eu

src_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=/tmp/aio-fuzz-build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  build_dir=$1
  shift
fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  max_time=$1
  shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
case "$max_time" in
  ''|0|*[!0-9]*) max_time=60 ;;
esac

# clang and libFuzzer (Debian 12: clang 14, libclang-rt-14-dev).
have_libfuzzer () {
  command -v clang >/dev/null 2>&1 || return 1
  printf 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }\n' |
    clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1
}
if ! have_libfuzzer; then
  sh "$src_dir/tests/install-deps.sh" clang libclang-rt-14-dev
fi

if [ -d "$build_dir/meson-private" ]; then
  meson setup --reconfigure "$build_dir" "$src_dir" \
    -Dfuzzing=true -Dintrospection=disabled -Dtests=true >/dev/null
else
  CC=clang meson setup "$build_dir" "$src_dir" \
    -Dfuzzing=true -Dintrospection=disabled -Dtests=true >/dev/null
fi
ninja -C "$build_dir" tests/fuzz/fuzz-rw-lock >/dev/null

corpus="$build_dir/fuzz-corpus"
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
cp -n "$src_dir"/tests/fuzz/corpus/* "$corpus"/ 2>/dev/null || true

log="$build_dir/fuzz.log"
echo "fuzzing for ${max_time}s; log: $log; corpus: $corpus; crashes: $artifacts/"
status=0
G_SLICE=always-malloc \
"$build_dir/tests/fuzz/fuzz-rw-lock" \
  -max_total_time="$max_time" \
  -print_final_stats=1 \
  -timeout=10 \
  -artifact_prefix="$artifacts/" \
  "$@" \
  "$corpus" "$src_dir/tests/fuzz/corpus" >"$log" 2>&1 || status=$?

# The last status line (#N DONE / #N pulse: cov, ft, corp, exec/s) and the
# final statistics.
grep -E '^#[0-9]+' "$log" | tail -n 1 || true
grep -E '^stat::' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "fuzz-rw-lock failed (exit $status); the end of $log:"
  tail -n 40 "$log"
  ls -l "$artifacts"
fi
exit "$status"
