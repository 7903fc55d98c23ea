#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-model.sh: model-checks aiorwlock.pml with spin.
#
# Every check generates pan with `spin -a`, compiles it and runs it in a
# temporary directory, then prints the states explored, the errors and the
# time. A check marked "pass" must find no error (and must not be cut short
# by the depth limit); a check marked "fail" must find the error it is
# named for: the mutants prove that the properties can fail, the starvation
# of the two PREFER_* policies proves that the liveness property can.
#
# Exits non-zero if any check does not end as expected.
#
# Environment:
#   SPIN         spin (default: spin)
#   CC           C compiler for pan (default: cc)
#   MODEL_JOBS   checks run at once (default: 2)
#   MODEL_FULL   1: also the bigger configurations (several minutes more)
#   MODEL_KEEP   1: keep the work directory (it is kept anyway on a failure)
# Arguments: names of checks to run (default: all of the set).

set -u

here=$(cd "$(dirname "$0")" && pwd)
model="$here/aiorwlock.pml"
SPIN=${SPIN:-spin}
CC=${CC:-cc}
jobs=${MODEL_JOBS:-2}
full=${MODEL_FULL:-0}

# name | set | expect | kind | spin options | expected error (an ERE on pan's output)
#
# Safety checks bound the requests per client (ITERATIONS), which keeps the
# search shallow. The liveness checks let the clients loop forever
# (ITERATIONS=0; the state space stays finite since the model renumbers the
# arrival stamps), which makes the depth-first search deep.
checks_table() {
  cat <<'EOF'
safety-fair                          |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2|
safety-prefer-writers                |default|pass|safety  |-DPOLICY=PREFER_WRITERS -DNCLIENTS=3 -DITERATIONS=2|
safety-prefer-readers                |default|pass|safety  |-DPOLICY=PREFER_READERS -DNCLIENTS=3 -DITERATIONS=2|
safety-fair-upgrade                  |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DHOLD_OPS=1|
safety-prefer-writers-upgrade        |default|pass|safety  |-DPOLICY=PREFER_WRITERS -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DHOLD_OPS=1|
safety-prefer-readers-upgrade        |default|pass|safety  |-DPOLICY=PREFER_READERS -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DHOLD_OPS=1|
safety-timeout-close                 |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_UPGRADE -DWITH_UPGRADE_ANY -DWITH_DOWNGRADE -DWITH_TIMEOUT -DWITH_CLOSE|
safety-fair-mode-changes             |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DWITH_UPGRADE_TIMEOUT|
safety-drain                         |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_DRAIN -DWITH_UPGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DHOLD_OPS=1|
safety-fast-fair                     |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DWITH_FAST|
safety-fast-prefer-writers           |default|pass|safety  |-DPOLICY=PREFER_WRITERS -DNCLIENTS=3 -DITERATIONS=2 -DWITH_FAST|
safety-fast-prefer-readers           |default|pass|safety  |-DPOLICY=PREFER_READERS -DNCLIENTS=3 -DITERATIONS=2 -DWITH_FAST|
safety-fast-upgrade                  |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_FAST -DWITH_UPGRADE -DWITH_UPGRADE_ANY -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DHOLD_OPS=1|
safety-fast-timeout-close            |default|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_FAST -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_TIMEOUT -DWITH_CLOSE|
liveness-fair                        |default|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=0 -DLIVENESS|
liveness-fast-fair                   |default|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=0 -DLIVENESS -DWITH_FAST|
liveness-fair-mode-changes           |default|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=0 -DLIVENESS -DWITH_UPGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE|
liveness-drain                       |default|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=0 -DLIVENESS -DWITH_DRAIN|
liveness-prefer-readers-starves      |default|fail|liveness|-DPOLICY=PREFER_READERS -DNCLIENTS=3 -DITERATIONS=0 -DLIVENESS|acceptance cycle
liveness-prefer-writers-starves      |default|fail|liveness|-DPOLICY=PREFER_WRITERS -DNCLIENTS=3 -DITERATIONS=0 -DLIVENESS|acceptance cycle
mutant-fast-while-queued             |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DWITH_FAST -DBUG_FAST_WHILE_QUEUED|assertion violated \(?(ci_next==255|ft_ok)
mutant-upgrade-keeps-guard-plain     |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_FAST -DWITH_UPGRADE -DWITH_DOWNGRADE -DHOLD_OPS=1 -DBUG_UPGRADE_KEEPS_GUARD_PLAIN|assertion violated +!\(g_plain
mutant-revoke-leak                   |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DBUG_REVOKE_LEAK|assertion violated \((n_read==ci_r|upgradable==|writer==)
mutant-no-serve-on-withdraw          |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DBUG_NO_SERVE_ON_WITHDRAW|assertion violated \(ci_next==255\)
mutant-no-revoke-at-delivery         |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DBUG_NO_REVOKE_AT_DELIVERY|assertion violated +!\(\(cancelled\[i\]
mutant-no-cancel-check-at-submit     |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DBUG_NO_CANCEL_CHECK_AT_SUBMIT|assertion violated +!\(\(\(cancelled\[ci_i\]&& !\(handler_pending
mutant-decide-at-dispatch            |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=2 -DBUG_DECIDE_AT_DISPATCH|assertion violated \(\(outcome!=[0-9]+\)\|\| !\(landed\)\)
mutant-decide-before-disconnect      |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DBUG_DECIDE_BEFORE_DISCONNECT|assertion violated \(\(pr_refusal==[0-9]+\)\|\|\(pr_refusal==[0-9]+\)\)
mutant-decide-before-disc-released   |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DBUG_DECIDE_BEFORE_DISCONNECT -DNO_GUARD_PROBE|assertion violated \(\(outcome!=[0-9]+\)\|\|\(gmode\[i\]==[0-9]+\)\)
mutant-drain-early                   |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=1 -DWITH_DRAIN -DBUG_DRAIN_EARLY|assertion violated .*\|\|\(\(\(ci_r==0\)&&\(ci_u==0\)\)&&\(ci_w==0\)\)\)
mutant-drain-on-release-only         |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=1 -DWITH_DRAIN -DBUG_DRAIN_ON_RELEASE_ONLY|assertion violated \( !\(queued\[ci_i\]\)\|\|
mutant-drain-on-release-only-starves |default|fail|liveness|-DPOLICY=FAIR -DNCLIENTS=1 -DITERATIONS=0 -DLIVENESS -DWITH_DRAIN -DBUG_DRAIN_ON_RELEASE_ONLY -DNO_PROMPT_DRAIN|acceptance cycle
mutant-close-at-drain                |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_DRAIN -DBUG_CLOSE_AT_DRAIN|assertion violated closed
mutant-downgrade-no-serve            |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_DOWNGRADE_TO -DBUG_DOWNGRADE_NO_SERVE|assertion violated \(ci_next==255\)
mutant-downgrade-to-split            |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_DOWNGRADE_TO -DBUG_DOWNGRADE_TO_SPLIT|assertion violated \( !\(upgradable\)&& !\(writer\)\)
mutant-try-upgrade-ignores-readers   |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_TRY_UPGRADE -DBUG_TRY_UPGRADE_IGNORES_READERS|assertion violated \(\(tu_refusal!=[0-9]+\)\|\|
mutant-upgrade-deadline-after-grant  |default|fail|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=2 -DWITH_UPGRADE -DWITH_UPGRADE_TIMEOUT -DBUG_UPGRADE_DEADLINE_AFTER_GRANT|assertion violated .*\(gmode\[i\]==umode\)
safety-fair-forever                  |full|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=0 -DWITH_UPGRADABLE|
safety-prefer-writers-upgradable     |full|pass|safety  |-DPOLICY=PREFER_WRITERS -DNCLIENTS=3 -DITERATIONS=2 -DWITH_UPGRADABLE|
safety-prefer-readers-upgradable     |full|pass|safety  |-DPOLICY=PREFER_READERS -DNCLIENTS=3 -DITERATIONS=2 -DWITH_UPGRADABLE|
safety-timeout-close-3               |full|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_TIMEOUT -DWITH_CLOSE|
liveness-fair-upgrade-timeout        |full|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=0 -DLIVENESS -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_TIMEOUT|
safety-fair-mode-changes-3           |full|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=3 -DITERATIONS=1 -DWITH_UPGRADE -DWITH_DOWNGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE|
safety-drain-2                       |full|pass|safety  |-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=1 -DWITH_DRAIN -DNDRAINS=2|
liveness-drain-upgrade               |full|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=0 -DLIVENESS -DWITH_DRAIN -DWITH_UPGRADE|
liveness-fair-mode-changes-timeout   |full|pass|liveness|-DPOLICY=FAIR -DNCLIENTS=2 -DITERATIONS=0 -DLIVENESS -DWITH_UPGRADE -DWITH_DOWNGRADE_TO -DWITH_TRY_UPGRADE -DWITH_UPGRADE_TIMEOUT|
EOF
}

trim() {
  printf '%s' "$1" | sed 's/^ *//; s/ *$//'
}

now() {
  # seconds, with a fraction where date can
  t=$(date +%s.%N 2>/dev/null)
  case $t in *N*|'') date +%s ;; *) printf '%s\n' "$t" ;; esac
}

# Runs one check in $MODEL_WORK/NAME and writes its one-line summary to
# $MODEL_WORK/NAME.result.
run_one() {
  name=$1
  line=$(checks_table | grep "^$name *|") || { echo "no check named $name" >&2; return 1; }
  IFS='|' read -r _ _ expect kind defines pattern <<EOF
$line
EOF
  expect=$(trim "$expect")
  kind=$(trim "$kind")
  defines=$(trim "$defines")

  dir="$MODEL_WORK/$name"
  result="$MODEL_WORK/$name.result"
  mkdir -p "$dir"
  cd "$dir" || return 1
  cp "$model" aiorwlock.pml

  # -m: the depth limit (pan allocates its stack up front); a search cut
  # short by it counts as a failure. Clients that loop forever need a deep
  # one. -f: weak fairness; NFAIR=3 admits the 7 processes of 3 clients
  # (init, clients, cancellers).
  case $kind$defines in
    liveness*-DITERATIONS=0*) maxdepth=5000000 ;;
    *-DITERATIONS=0*)         maxdepth=10000000 ;;
    *)                        maxdepth=100000 ;;
  esac
  case $kind in
    safety)   ccflags="-DSAFETY -DNOCLAIM"; panflags="-m$maxdepth" ;;
    liveness) ccflags="-DNFAIR=3";          panflags="-m$maxdepth -a -f" ;;
  esac

  start=$(now)
  # shellcheck disable=SC2086
  if ! "$SPIN" $defines -a aiorwlock.pml >spin.log 2>&1; then
    echo "FAIL  $name: spin -a failed: $(tail -n 1 spin.log)" >"$result"
    return 0
  fi
  # shellcheck disable=SC2086
  if ! "$CC" -O1 -w $ccflags -DVECTORSZ=2048 -DCOLLAPSE -o pan pan.c >cc.log 2>&1; then
    echo "FAIL  $name: compiling pan failed: $(tail -n 1 cc.log)" >"$result"
    return 0
  fi
  # shellcheck disable=SC2086
  ./pan $panflags >pan.log 2>&1
  end=$(now)

  errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.log | head -n 1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | head -n 1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.log | head -n 1)
  what=$(grep -m 1 -E '^pan:[0-9]+: ' pan.log | sed 's/^pan:[0-9]*: //')
  secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
  truncated=0
  grep -q 'max search depth too small' pan.log && truncated=1

  info="states=${states:-?} depth=${depth:-?} errors=${errors:-?} time=${secs}s"
  status=FAIL
  case $expect in
    pass)
      if [ "${errors:-1}" = 0 ] && [ $truncated = 0 ]; then
        status=PASS
      elif [ $truncated = 1 ]; then
        what="search cut short by the depth limit"
      fi ;;
    fail)
      if [ "${errors:-0}" != 0 ] && printf '%s\n' "$what" | grep -Eq "$pattern"; then
        status=XFAIL
      elif [ "${errors:-0}" = 0 ]; then
        what="expected a counterexample ($pattern), found none"
      fi ;;
  esac

  {
    printf '%-5s %-38s %s' "$status" "$name" "$info"
    [ -n "$what" ] && printf ' [%s]' "$what"
    printf '\n'
    if [ $status = FAIL ] && [ -f aiorwlock.pml.trail ]; then
      printf '      replay: cd %s && %s %s -t -p aiorwlock.pml\n' "$dir" "$SPIN" "$defines"
    fi
  } >"$result"
}

if [ "${1:-}" = --one ]; then
  run_one "$2"
  exit $?
fi

command -v "$SPIN" >/dev/null 2>&1 || { echo "run-model.sh: $SPIN not found" >&2; exit 77; }
command -v "$CC" >/dev/null 2>&1 || { echo "run-model.sh: $CC not found" >&2; exit 77; }

if [ $# -gt 0 ]; then
  names=$*
else
  if [ "$full" = 1 ]; then
    names=$(checks_table | cut -d'|' -f1)
  else
    names=$(checks_table | grep '^[^|]*|default|' | cut -d'|' -f1)
  fi
fi

MODEL_WORK=$(mktemp -d "${TMPDIR:-/tmp}/aiorwlock-model.XXXXXX") || exit 1
export MODEL_WORK SPIN CC
echo "model: $model"
echo "work directory: $MODEL_WORK ($("$SPIN" -V 2>&1 | head -n 1); $jobs at once)"

start=$(now)
# shellcheck disable=SC2086
printf '%s\n' $names | xargs -P "$jobs" -n 1 sh "$here/run-model.sh" --one
end=$(now)

n_pass=0
n_fail=0
for name in $names; do
  if [ -f "$MODEL_WORK/$name.result" ]; then
    cat "$MODEL_WORK/$name.result"
    if grep -q '^FAIL' "$MODEL_WORK/$name.result"; then
      n_fail=$((n_fail + 1))
    else
      n_pass=$((n_pass + 1))
    fi
  else
    echo "FAIL  $name: did not run"
    n_fail=$((n_fail + 1))
  fi
done

total=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", e - s }')
echo "model: $n_pass as expected, $n_fail failed, ${total}s"

if [ $n_fail -gt 0 ] || [ "${MODEL_KEEP:-0}" = 1 ]; then
  echo "kept $MODEL_WORK"
else
  rm -rf "$MODEL_WORK"
fi

[ $n_fail -eq 0 ]
