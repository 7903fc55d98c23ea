#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Prints the instructions per operation of each phase bench-rw-lock dumped
# under callgrind (bench_callgrind_end ()), and with --cache-sim=yes its
# D1 and LL misses per operation:
#
#   cd DIR && G_SLICE=always-malloc valgrind --tool=callgrind \
#     BUILDDIR/tests/bench/bench-rw-lock --scenario KEYED --reps 1
#   tests/bench/callgrind-phases.sh DIR
#
# Each phase is a file DIR/callgrind.out.PID.N whose 'desc: Trigger' line
# names it; a name that ends in "ops=M" is divided by M. The count of the
# phase is its 'summary:' line (the 'totals:' line at the end may hold
# more).

set -eu

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 DIR (where callgrind wrote callgrind.out.PID.N)" >&2
  exit 2
fi

for f in "$1"/callgrind.out.*.*; do
  [ -f "$f" ] || continue
  name=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
  [ -n "$name" ] || continue
  printf '%s|%s|%s\n' "$name" \
    "$(sed -n 's/^events: //p' "$f")" "$(sed -n 's/^summary: //p' "$f")"
done | awk -F'|' '
  {
    ops = 1
    if (match($1, /ops=[0-9]+$/))
      ops = substr($1, RSTART + 4)
    n = split($2, event, " ")
    split($3, count, " ")
    for (i = 1; i <= n; i++)
      value[event[i]] = count[i]
    printf "%-46s Ir/op %8.0f", $1, value["Ir"] / ops
    if ("D1mr" in value)
      printf "  D1 misses/op %6.2f  LL misses/op %6.3f",
             (value["D1mr"] + value["D1mw"]) / ops, (value["DLmr"] + value["DLmw"]) / ops
    printf "\n"
    delete value
  }' | sort
