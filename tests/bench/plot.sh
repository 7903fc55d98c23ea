#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plots the waiter scaling (S4) and cancel churn (S5) results of
# bench-rw-lock: the cost per waiter against the queue length, on a log
# x axis, next to the bare-GTask baselines measured in the same run.
#
#   tests/bench/plot.sh [RESULTS.jsonl] [OUTPUT.svg]
#
# RESULTS is what bench-rw-lock printed on stdout (or wrote with --output;
# `meson test --benchmark` leaves it in BUILDDIR/tests/bench/bench-rw-lock.jsonl).
# Lines that are not JSON are ignored; if the file holds several runs, the
# last one is plotted. Needs gnuplot (Debian: gnuplot-nox) and awk.

set -eu

input=${1:-bench-rw-lock.jsonl}
output=${2:-bench-rw-lock.svg}

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plot.sh: gnuplot not found (Debian: apt install gnuplot-nox)" >&2
  exit 1
fi
if [ ! -r "$input" ]; then
  echo "plot.sh: cannot read $input" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# The last run: the JSON lines from the last "machine" line on.
awk '/^\{"scenario":"machine"/ { n = 0 }
     /^\{/ { line[n++] = $0 }
     END { for (i = 0; i < n; i++) print line[i] }' "$input" > "$tmp/run.jsonl"

# The lines are flat objects printed by bench-rw-lock: a field is
# "key":number or "key":"string". A missing or null field becomes NaN,
# which gnuplot skips.
# shellcheck disable=SC2016 # awk code, not shell expansions
extract='
function num(key,    m) {
  if (match($0, "\"" key "\":[-+0-9.eE]+")) {
    m = substr($0, RSTART, RLENGTH)
    sub(/^"[^"]*":/, "", m)
    return m
  }
  return "NaN"
}
function str(key,    m) {
  if (match($0, "\"" key "\":\"[^\"]*\"")) {
    m = substr($0, RSTART, RLENGTH)
    sub(/^"[^"]*":"/, "", m)
    sub(/"$/, "", m)
    return m
  }
  return ""
}
'

awk "$extract"'
  index($0, "\"scenario\":\"S4\"") && index($0, "\"w\":") {
    print num("w"), num("enqueue_ns_median"), num("grant_release_ns_median"),
          num("baseline_enqueue_ns_median"), num("baseline_complete_ns_median")
  }' "$tmp/run.jsonl" | sort -n > "$tmp/s4.dat"

awk "$extract"'
  index($0, "\"scenario\":\"S5\"") && index($0, "\"cancelled\":") {
    print num("n"), num("ns_per_op_median"), num("baseline_gtask_ns")
  }' "$tmp/run.jsonl" | sort -n > "$tmp/s5.dat"

title=$(awk "$extract"'
  index($0, "\"scenario\":\"machine\"") {
    printf "%s, %s CPUs, GLib %s, %s; medians of %s repetitions",
           str("cpu"), num("nproc"), str("glib"), str("compiler"), num("reps")
  }' "$tmp/run.jsonl" | sed 's/"/\\"/g')

if [ ! -s "$tmp/s4.dat" ] && [ ! -s "$tmp/s5.dat" ]; then
  echo "plot.sh: no S4 or S5 results in $input (run bench-rw-lock --scenario S4,S5)" >&2
  exit 1
fi
# An empty data file would make gnuplot fail: plot a placeholder point.
[ -s "$tmp/s4.dat" ] || echo "NaN NaN NaN NaN NaN" > "$tmp/s4.dat"
[ -s "$tmp/s5.dat" ] || echo "NaN NaN NaN" > "$tmp/s5.dat"

gnuplot <<EOF
set terminal svg size 1100,520 dynamic noenhanced font "sans,11" background rgb "white"
set output "$output"
set multiplot layout 1,2 title "aiorwlock-glib: cost per waiter against queue length\n$title"
set logscale x 10
set format x "%.0e"
set autoscale xfix
set offsets graph 0.03, graph 0.03, 0, 0
set grid xtics ytics mxtics
set key below left Left reverse
set bmargin 8
set yrange [0:*]
set datafile missing "NaN"

set title "S4: W readers queued behind a writer"
set xlabel "pending readers W"
set ylabel "ns per waiter (median)"
plot "$tmp/s4.dat" using 1:2 with linespoints lw 2 pt 7 title "lock: acquire_read_async (enqueue)", \
     "" using 1:3 with linespoints lw 2 pt 5 title "lock: grant + callback + release", \
     "" using 1:4 with linespoints lw 1 dt 2 pt 6 title "bare GTask: g_task_new", \
     "" using 1:5 with linespoints lw 1 dt 2 pt 4 title "bare GTask: return + completion"

set title "S5: N writers queued, every other one cancelled"
set xlabel "pending writers N"
set ylabel "ns per g_cancellable_cancel (median)"
plot "$tmp/s5.dat" using 1:2 with linespoints lw 2 pt 7 title "lock: cancel a queued writer", \
     "" using 1:3 with linespoints lw 1 dt 2 pt 6 title "bare GTask + cancelled handler"

unset multiplot
EOF

echo "plot.sh: wrote $output"
