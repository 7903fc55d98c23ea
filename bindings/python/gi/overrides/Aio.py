# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject override for the Aio namespace (aiorwlock-glib).

It makes a guard a context manager, so that a hold ends at the end of a
block even if the block raises::

    def on_write(lock, result):
        with lock.acquire_write_finish(result) as guard:
            rewrite_the_table()
        # released here

``__enter__`` returns the guard itself; ``__exit__`` releases it if it is
still held (a block may release it early, or downgrade it, without
upsetting the ``with``). Exceptions are never swallowed.

Why explicit release (or ``with``) is the rule in Python: a guard that is
never released ends its hold only when its last reference goes, and Python
keeps references you cannot see. A traceback (``sys.exc_info()``,
``sys.last_traceback``, an exception stored by a test runner or a logger)
keeps every local of the frames it crosses, guards included; so does a
result or closure stored anywhere, a reference cycle until the cycle
collector runs, or a debugger. Until then the lock stays held and every
waiter stalls. Relying on ``del guard`` is therefore only safe when you know
nothing else refers to it; ``guard.release()`` in a ``finally`` or a
``with`` block ends the hold at a known point whatever else refers to it.
"""

from ..module import get_introspection_module
from ..overrides import override

Aio = get_introspection_module('Aio')

__all__ = []


class RwLockGuard(Aio.RwLockGuard):
    """One hold of an :class:`Aio.RwLock`; usable as ``with guard: ...``."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # Releasing a released guard is a g_critical (a programmer error in
        # C), and the block may legitimately have released it already.
        if self.is_held():
            self.release()
        return False


RwLockGuard = override(RwLockGuard)
__all__.append('RwLockGuard')
