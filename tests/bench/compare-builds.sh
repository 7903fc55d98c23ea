#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs one bench-rw-lock alternately against the libraries of two builds
# and prints, per figure, the median of each side and B / A: the same
# benchmark program, the same machine, the same minutes.
#
#   tests/bench/compare-builds.sh [-k ROUNDS] [-b BENCH] [-o DIR] A B [SCENARIOS] [-- ARGS...]
#
#   A, B       a build directory (the library is in its aiorwlock-glib/)
#              or a directory holding libaiorwlock-1.so.0
#   SCENARIOS  as bench-rw-lock --scenario takes them (default S1,TRY,S3,S4)
#   -k ROUNDS  runs of each side (default 5), in the order A B, B A, A B, ...
#   -b BENCH   the program (default: A's tests/bench/bench-rw-lock, else B's);
#              it uses only the public API, so it runs against either library
#   -o DIR     keep every run's JSON lines and summary in DIR/A and DIR/B
#   ARGS       for every run (default: --reps 3)
#
# Each figure of a run is already the median of its --reps repetitions;
# the table shows the median over the ROUNDS runs of each side, their
# ratio B / A, and the lowest and highest B / A of the runs made back to
# back (one round). The baselines measure no lock: their ratios show how
# noisy the machine was: a B / A of the lock within that range may be
# noise alone.
#
# The library is chosen with LD_LIBRARY_PATH: the build tree links the
# program with a RUNPATH (Debian's linker defaults to --enable-new-dtags),
# and the loader searches LD_LIBRARY_PATH before a RUNPATH. An old-style
# RPATH would come first, so the script asks the loader (LD_DEBUG=libs)
# which file it loads for each side, and preloads the library
# (LD_PRELOAD) if LD_LIBRARY_PATH was not enough.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
lib=libaiorwlock-1.so.0

usage () {
  sed -n '4,16s/^# \{0,1\}//p' "$0" >&2
  exit "$1"
}

die () {
  echo "compare-builds.sh: $*" >&2
  exit 2
}

rounds=5
bench=
keep=
while getopts k:b:o:h opt; do
  case $opt in
    k) rounds=$OPTARG ;;
    b) bench=$OPTARG ;;
    o) keep=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage 2
dir_a=$1
dir_b=$2
shift 2
scenarios=S1,TRY,S3,S4
if [ $# -gt 0 ] && [ "$1" != -- ]; then
  scenarios=$1
  shift
fi
if [ $# -gt 0 ] && [ "$1" = -- ]; then
  shift
fi
[ $# -gt 0 ] || set -- --reps 3

# The directory that holds the library of build or directory $1.
libdir_of () {
  for d in "$1" "$1/aiorwlock-glib"; do
    if [ -e "$d/$lib" ]; then
      (cd "$d" && pwd)
      return 0
    fi
  done
  die "no $lib in $1 or $1/aiorwlock-glib"
}

libdir_a=$(libdir_of "$dir_a")
libdir_b=$(libdir_of "$dir_b")

if [ -z "$bench" ]; then
  for d in "$dir_a" "$dir_b"; do
    if [ -x "$d/tests/bench/bench-rw-lock" ]; then
      bench=$d/tests/bench/bench-rw-lock
      break
    fi
  done
fi
if [ -z "$bench" ] || [ ! -x "$bench" ]; then
  die "no bench-rw-lock in A or B: give one with -b"
fi

python=/usr/bin/python3
[ -x "$python" ] || python=python3

# Runs the benchmark with library directory $1, preload $2 (may be empty)
# and loader debugging $3 (may be empty); the rest are its arguments.
with_library () {
  libdir=$1
  preload=$2
  debug=$3
  shift 3
  env G_SLICE=always-malloc \
      LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
      LD_PRELOAD="$preload" \
      LD_DEBUG="$debug" \
      "$bench" "$@"
}

# The library file the loader initialises with library directory $1 and
# preload $2.
loaded () {
  with_library "$1" "$2" libs --help 2>&1 >/dev/null </dev/null |
    sed -n "s|.*calling init: \(.*/$lib\)\$|\1|p" | head -n 1
}

# How to make the loader take $1/$lib: prints the preload needed (empty
# if LD_LIBRARY_PATH is enough).
preload_for () {
  want=$(readlink -f "$1/$lib")
  got=$(loaded "$1" "")
  if [ -n "$got" ] && [ "$(readlink -f "$got")" = "$want" ]; then
    return 0
  fi
  got=$(loaded "$1" "$want")
  if [ -n "$got" ] && [ "$(readlink -f "$got")" = "$want" ]; then
    echo "$want"
    return 0
  fi
  die "$bench loads ${got:-no $lib} instead of $want, even with LD_PRELOAD"
}

preload_a=$(preload_for "$libdir_a")
preload_b=$(preload_for "$libdir_b")

if [ -n "$keep" ]; then
  out=$keep
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT HUP INT TERM
fi
mkdir -p "$out/A" "$out/B"

# run SIDE ROUND ARGS...
run () {
  side=$1
  round=$2
  shift 2
  if [ "$side" = A ]; then
    libdir=$libdir_a
    preload=$preload_a
  else
    libdir=$libdir_b
    preload=$preload_b
  fi
  printf ' %s' "$side" >&2
  if ! with_library "$libdir" "$preload" "" --scenario "$scenarios" "$@" \
         > "$out/$side/$round.jsonl" 2> "$out/$side/$round.log"; then
    echo >&2
    cat "$out/$side/$round.log" >&2
    die "run $round of $side failed (a correctness check? see above)"
  fi
}

echo "compare-builds.sh: $bench --scenario $scenarios $*; $rounds rounds" >&2
i=1
while [ "$i" -le "$rounds" ]; do
  printf 'round %d/%d:' "$i" "$rounds" >&2
  if [ $((i % 2)) -eq 1 ]; then
    run A "$i" "$@"
    run B "$i" "$@"
  else
    run B "$i" "$@"
    run A "$i" "$@"
  fi
  echo >&2
  i=$((i + 1))
done

how () {
  if [ -n "$2" ]; then echo "$1/$lib (LD_PRELOAD)"; else echo "$1/$lib (LD_LIBRARY_PATH)"; fi
}

"$python" "$here/bench-output.py" compare \
  --label-a "$(how "$libdir_a" "$preload_a")" \
  --label-b "$(how "$libdir_b" "$preload_b")" \
  "$out/A" "$out/B"
