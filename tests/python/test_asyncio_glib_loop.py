# SPDX-License-Identifier: LGPL-2.1-or-later
"""The override's direct path, taken on a GLib-based asyncio loop: requests
are made on the loop's own thread and GLib context, and complete there,
with no bridge thread.

PyGObject 3.42 (Debian 12) has no GLib-based asyncio loop; PyGObject
>= 3.50's gi.events.GLibEventLoop cannot be tested here. This file runs
the override's direct path under a stand-in: a selector loop that also
iterates a GLib main context (its ``_context``, as GLibEventLoop names
it), registered as the GLib loop class for the test. It shows that the
path works as written; it says nothing about GLibEventLoop itself."""

import asyncio
import threading

from gi.repository import Aio, GLib
import pytest

from conftest import DEADLINE_S, assert_idle
from test_asyncio_lock import override_module

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


class GLibPumpingLoop(asyncio.SelectorEventLoop):
    """A stand-in for a GLib-based asyncio loop: every asyncio iteration
    also dispatches what is ready on ``_context``, and a 1 ms tick keeps
    iterations coming while asyncio itself has nothing to do."""

    def __init__(self, context):
        super().__init__()
        self._context = context
        self.glib_dispatches = 0

    def _run_once(self):
        while self._context.iteration(False):
            self.glib_dispatches += 1
        super()._run_once()

    def run_until_complete(self, future):
        def tick():
            self._tick = self.call_later(0.001, tick)
        tick()
        try:
            return super().run_until_complete(future)
        finally:
            self._tick.cancel()


@pytest.fixture
def glib_loop(monkeypatch):
    override = override_module()
    monkeypatch.setattr(override, '_GLibEventLoop', GLibPumpingLoop)
    context = GLib.MainContext.new()
    loop = GLibPumpingLoop(context)
    yield loop
    loop.close()


def run_on(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, DEADLINE_S))


def test_requests_complete_on_the_loops_thread(glib_loop, lock, monkeypatch):
    override = override_module()
    threads = set()
    bridged = []
    deliver = override._Pending._deliver

    def record(self, value, error):
        threads.add(threading.get_ident())
        deliver(self, value, error)

    monkeypatch.setattr(override._Pending, '_deliver', record)
    monkeypatch.setattr(override._Bridge, 'call', lambda self, *a: bridged.append(a))

    async def main():
        held = lock.try_acquire_write()
        waiting = [asyncio.create_task(lock.reader.acquire()) for _ in range(3)]
        pending = lock.acquire_async(READ, -1, None)
        await asyncio.sleep(0.01)
        assert lock.props.pending_readers == 4 and not pending.done()
        held.release()
        assert await asyncio.gather(*waiting) == [True] * 3
        (await pending).release()
        for _ in waiting:
            lock.reader.release()
        return 'ran'

    assert run_on(glib_loop, main()) == 'ran'
    assert threads == {threading.get_ident()}, 'delivered on another thread'
    assert glib_loop.glib_dispatches > 0
    assert not bridged, 'the bridge was used'
    assert_idle(lock)


def test_cancel_on_the_glib_loop(glib_loop, lock):
    async def main():
        held = lock.try_acquire_write()
        task = asyncio.create_task(lock.writer.acquire())
        await asyncio.sleep(0.01)
        assert lock.props.pending_writers == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert lock.props.pending_writers == 0
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.reader.acquire(), 0.02)
        held.release()
        async with lock.writer:
            return lock.writer.locked

    assert run_on(glib_loop, main()) is True
    assert_idle(lock)
