#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# instructions.sh: instructions per operation (callgrind) of the TRY and S1
# cycles and of their baselines, measured in one run, with their ratios.
# The machines are shared and noisy; instruction counts are not.
#
#   tests/bench/instructions.sh BUILDDIR/tests/bench/bench-rw-lock
#
# Each loop of bench-try.c and bench-cycle.c is a callgrind phase of its
# own ("TRY lock-read ops=N", "S1 gtask ops=N", ...); this runs them once
# (--reps 1) under valgrind and divides each phase's count by its N.
# Exits 77 (skipped) without valgrind.

set -eu

bench=${1:?usage: $0 BUILDDIR/tests/bench/bench-rw-lock}
bench=$(cd "$(dirname "$bench")" && pwd)/$(basename "$bench")
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null 2>&1 || { echo "instructions.sh: no valgrind" >&2; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && G_SLICE=always-malloc valgrind --tool=callgrind \
   "$bench" --scenario TRY,S1 --reps 1 --quick >/dev/null 2>"$work/valgrind.log") || {
  cat "$work/valgrind.log" >&2
  exit 1
}

sh "$here/callgrind-phases.sh" "$work" | awk '
  $3 ~ /^ops=/ { ir[$1 " " $2] = $5 }
  function row(what, lock, base, bname) {
    if (!(lock in ir) || !(base in ir)) { print "missing phase: " lock " or " base > "/dev/stderr"; bad = 1; return }
    printf "%-34s %7.0f Ir/op   %-24s %7.0f Ir/op   ratio %5.2f\n", what, ir[lock], bname, ir[base], ir[lock] / ir[base]
  }
  END {
    print "instructions per operation (callgrind), lock / baseline, one run:"
    row("TRY try read + release + unref", "TRY lock-read", "TRY grwlock-read", "GRWLock reader pair")
    row("TRY try write + release + unref", "TRY lock-write", "TRY grwlock-write", "GRWLock writer pair")
    row("S1 async read cycle", "S1 lock", "S1 gtask", "bare GTask cycle")
    row("S1 async read cycle", "S1 lock", "S1 idle", "idle dispatch")
    exit bad
  }'
