# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every ```python example of the documentation pages, run as a program
against this build tree: each must exit 0 within the deadline, and the
examples check what they show with assert."""

import os
import re
import subprocess
import sys

import pytest

from conftest import DEADLINE_S

DOC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'doc')

# page: how many examples it has at least (a broken fence must not make
# examples silently disappear from the test).
PAGES = {
    'python.md': 6,
    'migrating.md': 2,
    'overview.md': 1,
}

FENCE = re.compile(r'^```python\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def examples():
    for page in PAGES:
        with open(os.path.join(DOC_DIR, page), encoding='utf-8') as f:
            for i, code in enumerate(FENCE.findall(f.read())):
                yield pytest.param(page, code, id=f'{page}:{i + 1}')


@pytest.mark.parametrize('page, minimum', PAGES.items())
def test_the_page_has_its_examples(page, minimum):
    with open(os.path.join(DOC_DIR, page), encoding='utf-8') as f:
        assert len(FENCE.findall(f.read())) >= minimum


@pytest.mark.parametrize('page, code', examples())
def test_example_runs(page, code, tmp_path):
    script = tmp_path / 'example.py'
    script.write_text(code, encoding='utf-8')
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=DEADLINE_S * 3, cwd=tmp_path)
    assert proc.returncode == 0, \
        f'{page} example failed ({proc.returncode}):\n{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}'
