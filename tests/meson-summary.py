#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Counts the results in meson's testlog.json: prints "PASSED FAILED".
# Skipped tests count as neither.

import json
import sys

passed = failed = 0
for line in open(sys.argv[1]):
    result = json.loads(line)['result']
    if result in ('OK', 'EXPECTEDFAIL'):
        passed += 1
    elif result != 'SKIP':
        failed += 1
print(passed, failed)
