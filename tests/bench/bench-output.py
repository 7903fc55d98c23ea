#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads what bench-rw-lock prints: one JSON object per line.

  bench-output.py check PROGRAM [ARGS...]
      Runs PROGRAM (bench-rw-lock with ARGS) and fails if it exits with
      an error, if a line of its stdout is not a JSON object (NaN and
      Infinity are not JSON), if a correctness check reported failure
      (checks_ok, none_lost or lock_free false), if a scenario it ran
      printed nothing, or if a key that plot.sh reads is missing. The
      'bench-quick' test (suite 'bench') runs this. Nothing about time.

  bench-output.py compare [--keys REGEX] [--label-a A] [--label-b B] DIR_A DIR_B
      DIR_A and DIR_B hold one *.jsonl file per run (compare-builds.sh
      writes them). Prints, for each figure, the median over the runs of
      each side and B / A.
"""

import argparse
import json
import math
import pathlib
import re
import statistics
import subprocess
import sys

# Keys plot.sh and doc/performance.md read; by scenario, and only on the
# lines that have the key that tells them apart.
REQUIRED = {
    'machine': (None, ['cpu', 'nproc', 'glib', 'compiler', 'reps', 'scenarios']),
    'S4': ('w', ['enqueue_ns_median', 'grant_release_ns_median',
                 'baseline_enqueue_ns_median', 'baseline_complete_ns_median',
                 'bytes_per_waiter']),
    'S5': ('cancelled', ['n', 'ns_per_op_median', 'baseline_gtask_ns']),
    'KEYED': ('n', ['workload', 'keys', 'ns_per_op_median', 'baseline_map_ns', 'ratio_vs_map']),
}
CHECK_KEYS = ('checks_ok', 'none_lost', 'lock_free')

# What tells apart the lines of one scenario, besides 'what'.
IDENTITY = ('policy', 'w', 'n')

# Figures compare shows by default: medians, per-op costs and rates, bytes
# and growths; not ratios, percentiles, counts or sizes.
DEFAULT_KEYS = (r'(_median|_ns|_us|_per_s|_growth|_bytes|bytes_per_waiter|bytes_per_task|'
                r'bytes_per_key)$')


def reject_constant(name):
    raise ValueError(f'{name} is not JSON')


def parse_lines(text, where):
    """The JSON objects of TEXT, one a line; raises ValueError."""
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line, parse_constant=reject_constant)
        except ValueError as e:
            raise ValueError(f'{where}:{number}: not JSON ({e}): {line!r}') from None
        if not isinstance(obj, dict) or not isinstance(obj.get('scenario'), str):
            raise ValueError(f'{where}:{number}: not an object with a "scenario": {line!r}')
        objects.append(obj)
    return objects


def problems_of(objects):
    problems = []
    if not objects or objects[0]['scenario'] != 'machine':
        return ['the first line is not the "machine" line']

    ran = [s for s in objects[0].get('scenarios', '').split(',') if s]
    printed = {o['scenario'] for o in objects}
    problems += [f'{s}: ran but printed no line' for s in ran if s not in printed]

    for number, obj in enumerate(objects, 1):
        name = obj['scenario']
        for key in CHECK_KEYS:
            if obj.get(key) is False:
                problems.append(f'line {number} ({name}): {key} is false')
        marker, keys = REQUIRED.get(name, (None, []))
        if marker is None or marker in obj:
            problems += [f'line {number} ({name}): no "{k}"' for k in keys if k not in obj]
    return problems


def check(argv):
    if not argv:
        sys.exit('bench-output.py check: no program given')
    run = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    try:
        objects = parse_lines(run.stdout, 'stdout')
    except ValueError as e:
        sys.exit(f'bench-output.py: {e}')

    problems = problems_of(objects)
    if run.returncode != 0:
        problems.append(f'{argv[0]} exited with status {run.returncode}')
    for p in problems:
        print(f'bench-output.py: {p}', file=sys.stderr)
    print(f'bench-output.py: {len(objects)} JSON lines, {len(problems)} problems')
    return 1 if problems else 0


def figures_of(directory, keys):
    """{(scenario, what, identity): {key: [value per run]}} and the order;
    the runs in the order of their file names (compare-builds.sh names
    them after their round, the same on both sides)."""
    figures = {}
    order = []
    files = sorted(pathlib.Path(directory).glob('*.jsonl'))
    if not files:
        sys.exit(f'bench-output.py: no *.jsonl in {directory}')
    for path in files:
        for obj in parse_lines(path.read_text(), str(path)):
            if obj['scenario'] == 'machine':
                continue
            ident = ' '.join(f'{k}={obj[k]}' for k in IDENTITY if k in obj)
            line = (obj['scenario'], obj.get('what', ''), ident)
            if line not in figures:
                figures[line] = {}
                order.append(line)
            for key, value in obj.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if keys.search(key) and not key.endswith(('_min', '_max')):
                    figures[line].setdefault(key, []).append(value)
    return figures, order


def compare(args):
    keys = re.compile(args.keys)
    a, order = figures_of(args.dir_a, keys)
    b, _ = figures_of(args.dir_b, keys)

    print(f'A = {args.label_a}\nB = {args.label_b}')
    print('A, B: the median over the runs of each side; B / A: their ratio; rounds: the\n'
          'lowest and highest B / A of the runs made back to back (a baseline measures no\n'
          'lock: its ratios show the noise)\n')
    print(f'     {"figure":<33} {"A":>11} {"B":>11} {"B / A":>6}  {"rounds":<11}')
    for line in order:
        scenario, what, ident = line
        print(f'{scenario:<5} {what}' + (f' ({ident})' if ident else ''))
        for key, values_a in a[line].items():
            values_b = b.get(line, {}).get(key, [])
            ma = statistics.median(values_a)
            mb = statistics.median(values_b) if values_b else math.nan
            paired = [y / x for x, y in zip(values_a, values_b) if x]
            rounds = f'{min(paired):.2f}-{max(paired):.2f}' if paired else '-'
            print(f'     {key:<33} {ma:>11.6g} {mb:>11.6g} {ratio_of(mb, ma):>6.3f}  {rounds:<11}')
    return 0


def ratio_of(b, a):
    return b / a if a and not math.isnan(b) else math.nan


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == 'check':
        args = sys.argv[2:]
        if args[:1] == ['--']:
            args = args[1:]
        return check(args)

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('check', help='run bench-rw-lock and check its output')
    p = sub.add_parser('compare', help='compare the runs of two builds')
    p.add_argument('--keys', default=DEFAULT_KEYS, help='regular expression of the keys to show')
    p.add_argument('--label-a', default='A')
    p.add_argument('--label-b', default='B')
    p.add_argument('dir_a')
    p.add_argument('dir_b')
    args = parser.parse_args()
    return compare(args)


if __name__ == '__main__':
    sys.exit(main())
