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
"""

import json
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
}
CHECK_KEYS = ('checks_ok', 'none_lost', 'lock_free')


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


def main():
    args = sys.argv[1:]
    if args[:1] != ['check']:
        sys.exit(__doc__)
    args = args[1:]
    if args[:1] == ['--']:
        args = args[1:]
    return check(args)


if __name__ == '__main__':
    sys.exit(main())
