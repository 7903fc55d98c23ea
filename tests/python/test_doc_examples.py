# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every example of the documentation pages, run against this build tree:
```python blocks with this interpreter, ```js blocks with `gjs -m`, ```vala
blocks compiled with valac against the build tree's vapi and library. Each
must exit 0 within the deadline; the examples check what they show (assert
in Python and Vala, an exit status in JavaScript)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import DEADLINE_S

SOURCE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DOC_DIR = os.path.join(SOURCE_ROOT, 'doc')

# (page, language): how many examples it has at least, so that a broken
# fence cannot make examples silently disappear from the test.
PAGES = {
    ('python.md', 'python'): 6,
    ('migrating.md', 'python'): 2,
    ('overview.md', 'python'): 1,
    ('javascript.md', 'js'): 3,
    ('vala.md', 'vala'): 2,
}


def fenced(page, language):
    with open(os.path.join(DOC_DIR, page), encoding='utf-8') as f:
        return re.findall(rf'^```{language}\n(.*?)^```$', f.read(), re.MULTILINE | re.DOTALL)


def build_root():
    """The build tree whose typelib the test environment points at."""
    for d in os.environ.get('GI_TYPELIB_PATH', '').split(os.pathsep):
        if os.path.exists(os.path.join(d, 'Aio-1.typelib')):
            return os.path.dirname(os.path.abspath(d))
    pytest.fail('GI_TYPELIB_PATH does not point at a build tree with Aio-1.typelib')


def examples():
    for (page, language) in PAGES:
        for i, code in enumerate(fenced(page, language)):
            yield pytest.param(page, language, code, id=f'{page}:{language}:{i + 1}')


@pytest.mark.parametrize('page, language, minimum',
                         [(p, lang, n) for (p, lang), n in PAGES.items()])
def test_the_page_has_its_examples(page, language, minimum):
    assert len(fenced(page, language)) >= minimum


def run(argv, what, code, cwd):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE_S * 3, cwd=cwd)
    assert proc.returncode == 0, (f'{what} failed ({proc.returncode}):\n{code}\n'
                                  f'--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}')


@pytest.mark.parametrize('page, language, code', examples())
def test_example_runs(page, language, code, tmp_path):
    if language == 'python':
        (tmp_path / 'example.py').write_text(code, encoding='utf-8')
        run([sys.executable, 'example.py'], f'{page} example', code, tmp_path)
    elif language == 'js':
        gjs = shutil.which('gjs')
        if gjs is None:
            pytest.skip('gjs not found')
        (tmp_path / 'example.js').write_text(code, encoding='utf-8')
        run([gjs, '-m', 'example.js'], f'{page} example', code, tmp_path)
    elif language == 'vala':
        valac = shutil.which('valac')
        build = build_root()
        vapidir = os.path.join(build, 'bindings', 'vala')
        if valac is None or not os.path.exists(os.path.join(vapidir, 'aiorwlock-1.vapi')):
            pytest.skip('valac or the build tree\'s vapi not found')
        (tmp_path / 'example.vala').write_text(code, encoding='utf-8')
        libdir = os.path.join(build, 'aiorwlock-glib')
        run([valac, f'--vapidir={vapidir}', '--pkg', 'aiorwlock-1', '--pkg', 'gio-2.0',
             '-X', f'-I{SOURCE_ROOT}', '-X', f'-I{libdir}', '-X', f'-L{libdir}',
             '-X', '-laiorwlock-1', '-X', '-w', 'example.vala', '-o', 'example'],
            f'compiling the {page} example', code, tmp_path)
        run([str(tmp_path / 'example')], f'{page} example', code, tmp_path)
    else:
        pytest.fail(f'no runner for {language}')
