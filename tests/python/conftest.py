# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared fixtures: the typelib from the build tree (see meson.build for the
environment) and a deadline on every wait for an async callback.

PyGObject prints an exception raised inside a GLib callback and carries on,
so the callbacks here only record (source, result); the tests call the
_finish functions and assert in their own frame, where a failure counts.
"""

import asyncio
import faulthandler
import gc
import os
import sys

import gi
gi.require_version('Aio', '1')
gi.require_version('Gio', '2.0')
from gi.repository import Aio, Gio, GLib  # noqa: E402

import pytest  # noqa: E402

# Generous: a step normally takes microseconds, but a loaded CI machine
# (or valgrind) must not turn into a false failure.
DEADLINE_S = float(os.environ.get('AIO_TEST_DEADLINE', '10'))


class Callbacks:
    """Named GAsyncReadyCallbacks plus a main loop that waits for them.

    ``cb('r1')`` is a callback that records its call under 'r1';
    ``wait('r1', 'r2')`` runs a GLib.MainLoop until both ran and returns
    their GAsyncResults, or fails the test when the deadline passes, so a
    callback that never comes is a failure, never a hang.
    """

    def __init__(self):
        self.loop = GLib.MainLoop()
        self.calls = {}
        self.order = []

    def __call__(self, name):
        def callback(source, result):
            self.calls.setdefault(name, []).append((source, result))
            self.order.append(name)
            self.loop.quit()
        return callback

    def ran(self, name):
        return name in self.calls

    def wait(self, *names, deadline=DEADLINE_S):
        expired = []

        def on_deadline():
            expired.append(True)
            self.loop.quit()
            return GLib.SOURCE_REMOVE

        source_id = GLib.timeout_add(int(deadline * 1000), on_deadline)
        try:
            while not all(self.ran(n) for n in names):
                if expired:
                    missing = [n for n in names if not self.ran(n)]
                    pytest.fail(f'callbacks {missing} did not run within {deadline} s')
                self.loop.run()
        finally:
            if not expired:
                GLib.source_remove(source_id)

        for n in names:
            assert len(self.calls[n]) == 1, f'callback {n!r} ran {len(self.calls[n])} times'
        results = [self.calls[n][0][1] for n in names]
        return results[0] if len(results) == 1 else results

    def spin(self, msec=20):
        """Runs the main loop for a while, to show that nothing more happens."""
        GLib.timeout_add(msec, lambda: self.loop.quit() or GLib.SOURCE_REMOVE)
        self.loop.run()


@pytest.fixture
def callbacks():
    cbs = Callbacks()
    yield cbs
    # Whatever a test left queued must not leak into the next one.
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)


@pytest.fixture
def lock():
    lock = Aio.RwLock()
    yield lock
    # Guards dropped by the test end their holds once collected; a lock
    # that is still held here means a test leaked a hold.
    gc.collect()
    assert lock.props.readers == 0 and not lock.props.write_locked, 'a test leaked a hold'


def assert_aio_error(excinfo, code):
    e = excinfo.value
    assert isinstance(e, GLib.Error)
    assert e.domain == 'aio-rw-lock-error-quark', e.domain
    assert e.matches(Aio.rw_lock_error_quark(), code), (e.domain, e.code, e.message)


def assert_io_error(excinfo, code):
    e = excinfo.value
    assert isinstance(e, GLib.Error)
    assert e.domain == 'g-io-error-quark', e.domain
    assert e.matches(Gio.io_error_quark(), code), (e.domain, e.code, e.message)


def run_async(coro, deadline=DEADLINE_S):
    """Runs ``coro`` in a new asyncio event loop and returns its result.

    The coroutine is cancelled and the test fails when ``deadline`` passes;
    should even the cancellation hang, faulthandler prints every thread's
    stack and ends the process a little later, so a hang is always a
    failure. The caller asserts on the result, which proves that the
    coroutine ran to its end.
    """
    async def bounded():
        try:
            return await asyncio.wait_for(coro, deadline)
        except asyncio.TimeoutError:
            pytest.fail(f'the coroutine did not finish within {deadline} s')

    faulthandler.dump_traceback_later(deadline * 3 + 5, exit=True, file=sys.stderr)
    try:
        return asyncio.run(bounded())
    finally:
        faulthandler.cancel_dump_traceback_later()


def assert_idle(lock):
    """Nothing holds or waits for ``lock``, and the override keeps nothing
    for it (no task's hold, no request on its way)."""
    gc.collect()
    assert lock.props.readers == 0, f'{lock.props.readers} read holds left'
    assert not lock.props.write_locked, 'the write hold was left'
    assert lock.props.pending_readers == 0 and lock.props.pending_writers == 0, \
        (lock.props.pending_readers, lock.props.pending_writers)
    state = lock.__dict__.get('_aio_state')
    if state is not None:
        assert not state.waiting, f'requests still counted as on their way: {state.waiting}'
        assert not state.owning, f'tasks still recorded as holding: {state.owning}'
        assert not state.handed, f'holds handed to an awaiter still recorded: {state.handed}'
