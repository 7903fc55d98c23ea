# SPDX-License-Identifier: LGPL-2.1-or-later
"""The override's asyncio surface on a plain asyncio event loop (PyGObject
3.42 has no other): lock.reader / lock.writer as aiorwlock spells them,
holds per task and re-entry, awaitable _async methods, and requests of one
loop served in the order the policy says whatever path they take."""

import asyncio
import contextlib
import gc
import threading
import time

from gi.repository import Aio, Gio, GLib
import pytest

from conftest import DEADLINE_S, assert_aio_error, assert_idle, assert_io_error, run_async

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE
UPGRADABLE_READ = Aio.RwLockMode.UPGRADABLE_READ


def override_module():
    import gi.overrides.Aio as override
    return override


@contextlib.contextmanager
def bridge_blocked():
    """Keeps the override's bridge thread busy: requests sent to it are
    not made on the lock until the block ends."""
    entered, leave = threading.Event(), threading.Event()

    def block():
        entered.set()
        leave.wait(DEADLINE_S)

    override_module()._get_bridge().call(block)
    assert entered.wait(DEADLINE_S), 'the bridge thread did not run'
    try:
        yield
    finally:
        leave.set()


# --- lock.reader / lock.writer ------------------------------------------

def test_reader_and_writer(lock):
    async def main():
        assert not lock.reader.locked and not lock.writer.locked
        async with lock.reader:
            assert lock.reader.locked and not lock.writer.locked
            assert lock.props.readers == 1
        assert await lock.writer.acquire() is True
        assert lock.writer.locked and lock.props.write_locked
        lock.writer.release()
        assert not lock.writer.locked
        # aiorwlock's legacy spellings.
        async with lock.writer_lock:
            assert lock.writer_lock.locked
        async with lock.reader_lock:
            assert lock.reader_lock.locked
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_release_without_a_hold_raises(lock):
    async def main():
        for side in (lock.reader, lock.writer):
            with pytest.raises(RuntimeError, match='^Cannot release an un-acquired lock$'):
                side.release()
        # Holding the other side is not holding this one.
        async with lock.writer:
            with pytest.raises(RuntimeError, match='un-acquired'):
                lock.reader.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    # And outside any task or loop.
    with pytest.raises(RuntimeError, match='un-acquired'):
        lock.writer.release()
    assert_idle(lock)


def test_release_from_another_task_raises(lock):
    async def main():
        await lock.writer.acquire()

        async def other():
            with pytest.raises(RuntimeError, match='un-acquired'):
                lock.writer.release()
            return 'refused'

        assert await asyncio.create_task(other()) == 'refused'
        assert lock.writer.locked
        lock.writer.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_a_plain_with_is_refused(lock):
    for side in (lock.reader, lock.writer):
        with pytest.raises(RuntimeError, match='async with'):
            with side:
                pass
    assert_idle(lock)


def test_acquire_outside_a_task_is_refused(lock):
    coro = lock.reader.acquire()
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()
    assert_idle(lock)


def test_repr(lock):
    async def main():
        async with lock.writer:
            return repr(lock.reader), repr(lock.writer)

    reader, writer = run_async(main())
    assert reader.startswith('<reader of') and reader.endswith('[unlocked]>')
    assert writer.startswith('<writer of') and writer.endswith('[locked]>')


# --- Holds per task, re-entry -------------------------------------------

@pytest.mark.parametrize('held, reentries', [
    ('writer', ['reader', 'writer', 'reader']),
    # FAIR would queue a new reader behind the waiting writer; this task
    # already reads, so it re-enters at once (no self-deadlock).
    ('reader', ['reader', 'reader']),
])
def test_reentry_is_at_once_while_a_writer_waits(lock, held, reentries):
    order = []

    async def writer():
        async with lock.writer:
            order.append('waiting writer')

    async def reenter(sides):
        if not sides:
            assert lock.reader.locked and lock.props.pending_writers == 1
            assert lock.props.readers == 1 and lock.writer.locked == (held == 'writer')
            order.append('re-entered')
            return
        async with getattr(lock, sides[0]):
            await reenter(sides[1:])

    async def main():
        async with getattr(lock, held):
            waiter = asyncio.create_task(writer())
            while lock.props.pending_writers == 0:
                await asyncio.sleep(0.001)
            await reenter(reentries)
            await asyncio.sleep(0.01)
            assert not waiter.done()
        await waiter
        return order

    assert run_async(main()) == ['re-entered', 'waiting writer']
    assert_idle(lock)


def test_writer_inside_a_reader_raises(lock):
    async def main():
        async with lock.reader:
            with pytest.raises(RuntimeError, match='^Cannot upgrade RWLock from read to write$'):
                await lock.writer.acquire()
            assert lock.props.readers == 1 and not lock.props.write_locked
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_release_order_of_reentered_holds(lock):
    async def main():
        await lock.writer.acquire()
        await lock.reader.acquire()
        await lock.reader.acquire()
        # Releasing the writer first leaves the lock read-held by this task.
        lock.writer.release()
        assert not lock.writer.locked and lock.reader.locked
        with pytest.raises(RuntimeError, match='upgrade'):
            await lock.writer.acquire()
        lock.reader.release()
        assert lock.reader.locked
        lock.reader.release()
        assert not lock.reader.locked
        with pytest.raises(RuntimeError, match='un-acquired'):
            lock.reader.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_a_task_that_ends_holding_keeps_its_hold(lock):
    async def forgetful():
        await lock.writer.acquire()
        return 'forgot'

    async def main():
        task = asyncio.create_task(forgetful())
        assert await task == 'forgot'
        # As in aiorwlock: the hold stays the dead task's, and no other
        # task may end it.
        with pytest.raises(RuntimeError, match='un-acquired'):
            lock.writer.release()
        return task

    task = run_async(main())
    gc.collect()
    assert lock.props.write_locked
    state = lock.__dict__['_aio_state']
    ((mode, guard),) = state.owning.pop(task)
    guard.release()
    assert_idle(lock)


@pytest.mark.parametrize('side', ['reader', 'writer'])
def test_a_task_made_of_one_acquire_hands_its_hold_on(lock, side):
    # Python 3.11's wait_for runs its coroutine in a task of its own, which
    # ends as soon as it holds: the hold is for the task that awaited it
    # (aiorwlock raises "Cannot release an un-acquired lock" here, and the
    # lock stays held).
    async def main():
        side_lock = getattr(lock, side)
        assert await asyncio.wait_for(side_lock.acquire(), DEADLINE_S) is True
        assert side_lock.locked
        side_lock.release()
        assert not side_lock.locked
        with pytest.raises(RuntimeError, match='un-acquired'):
            side_lock.release()

        # Likewise a task made with create_task or ensure_future.
        held = lock.try_acquire_write()
        task = asyncio.ensure_future(side_lock.acquire())
        await asyncio.sleep(0.01)
        held.release()
        assert await task is True
        side_lock.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


# --- Guards -------------------------------------------------------------

def test_releasing_a_released_guard_raises(lock):
    guard = lock.try_acquire_write()
    guard.release()
    # G_DEBUG=fatal-criticals in the test env: a critical would abort.
    with pytest.raises(RuntimeError, match='^Cannot release an un-acquired lock$'):
        guard.release()
    with lock.try_acquire_read() as reader:
        reader.release()
    with pytest.raises(RuntimeError):
        reader.release()
    assert_idle(lock)


# --- Awaitable _async methods ---------------------------------------------

def test_acquire_async_without_a_callback_is_awaitable(lock):
    async def main():
        guard = await lock.acquire_async(WRITE, 500, None)
        assert isinstance(guard, Aio.RwLockGuard) and guard.get_mode() == WRITE

        # A deadline fails with G_IO_ERROR_TIMED_OUT; 0 means "only at once".
        for timeout in (50, 0):
            with pytest.raises(GLib.Error) as excinfo:
                await lock.acquire_async(READ, timeout, None)
            assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)

        # A request that waits completes once the writer has gone.
        pending = lock.acquire_read_async(None)
        other = lock.acquire_async(READ, -1)
        await asyncio.sleep(0.02)
        assert not pending.done() and lock.props.pending_readers == 2
        guard.release()
        reader, reader2 = await pending, await other
        assert reader.get_mode() == READ and lock.props.readers == 2
        reader.release()
        reader2.release()

        with await lock.acquire_write_async() as writer:
            assert writer.is_held() and lock.props.write_locked
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_upgrades_are_awaitable(lock):
    async def main():
        guard = await lock.acquire_async(UPGRADABLE_READ, -1, None)
        reader = await lock.acquire_read_async()
        # The upgrade waits for the reader to leave; with a deadline it fails.
        with pytest.raises(GLib.Error) as excinfo:
            await guard.upgrade_full_async(30, None)
        assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
        assert guard.get_mode() == UPGRADABLE_READ

        upgrade = guard.upgrade_async(None)
        await asyncio.sleep(0.01)
        assert not upgrade.done()
        reader.release()
        assert await upgrade is True
        assert guard.get_mode() == WRITE
        guard.downgrade_to(UPGRADABLE_READ)
        assert await lock.upgrade_async(guard) is True
        assert guard.get_mode() == WRITE
        guard.release()

        reader = await lock.acquire_read_async()
        with pytest.raises(GLib.Error) as excinfo:
            await lock.upgrade_async(reader, None)
        assert_aio_error(excinfo, Aio.RwLockError.WOULD_DEADLOCK)
        reader.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_close_async_is_awaitable(lock):
    async def main():
        guard = await lock.acquire_read_async()
        closing = lock.close_async()
        # Made after the close (in this loop's order): refused.
        with pytest.raises(GLib.Error) as excinfo:
            await lock.acquire_write_async()
        assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
        with pytest.raises(GLib.Error) as excinfo:
            async with lock.reader:
                pass
        assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
        # It completes when the last hold has ended.
        await asyncio.sleep(0.01)
        assert not closing.done()
        guard.release()
        return await closing

    assert run_async(main()) is True
    assert lock.props.closed
    assert_idle(lock)


def test_table_calls_are_awaitable():
    table = Aio.RwLockTable.new(Aio.RwLockPolicy.FAIR)

    async def main():
        a = await table.acquire_async('a', WRITE, -1, None)
        b = await table.acquire_async('b', WRITE, -1)
        with pytest.raises(GLib.Error) as excinfo:
            await table.acquire_async('a', READ, 20, None)
        assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
        waiting = table.acquire_async('a', READ, -1, None)
        await asyncio.sleep(0.01)
        assert not waiting.done()
        a.release()
        reader = await waiting
        assert reader.get_lock().props.name == 'a'
        closing = table.close_async()
        with pytest.raises(GLib.Error) as excinfo:
            await table.acquire_async('c', READ, -1, None)
        assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
        reader.release()
        b.release()
        return await closing

    assert run_async(main()) is True
    # The bridge thread may still be returning from the callback that
    # handed a guard over, its frame referring to the guard (and so to the
    # key's lock) for a moment: the key goes once that reference does.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        gc.collect()
        if table.props.n_keys == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.001)
    assert table.props.n_keys == 0


def test_a_callback_keeps_the_callback_form(lock, callbacks):
    # With a callback nothing changes: no awaitable, the callback gets the
    # result on the caller's thread-default context, with its user data.
    got = []
    assert lock.acquire_async(WRITE, -1, None, lambda s, r, d: got.append((r, d)), 'data') is None
    assert lock.acquire_read_async(None, callbacks('r')) is None
    ctx = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + DEADLINE_S * 1e6
    while not got and GLib.get_monotonic_time() < deadline:
        ctx.iteration(True)
    assert got and got[0][1] == 'data'
    writer = lock.acquire_finish(got[0][0])
    writer.release()
    lock.acquire_read_finish(callbacks.wait('r')).release()
    assert_idle(lock)


def test_without_a_running_loop_an_awaitable_is_refused(lock):
    with pytest.raises(RuntimeError, match='awaitable'):
        lock.acquire_write_async()
    assert_idle(lock)


def test_cancelling_the_awaitable(lock):
    async def main():
        writer = await lock.acquire_write_async()
        pending = lock.acquire_read_async()
        await asyncio.sleep(0.01)
        pending.cancel()
        with pytest.raises(GLib.Error) as excinfo:
            await pending
        assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
        # A cancellable of the caller's is used, and cancelled with the task.
        cancellable = Gio.Cancellable()
        pending = lock.acquire_async(READ, -1, cancellable)
        assert pending.cancellable is cancellable
        task = asyncio.ensure_future(pending)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancellable.is_cancelled()
        writer.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


# --- Order --------------------------------------------------------------

def test_a_later_task_never_passes_an_earlier_one(lock):
    # The reader must wait, so its request goes through the bridge; until
    # it reaches the lock, a writer of the same loop must not take the lock
    # from under it through the fast path, even though the lock is free.
    order = []

    async def reader():
        async with lock.reader:
            order.append('reader')
            await asyncio.sleep(0.01)

    async def writer():
        async with lock.writer:
            order.append('writer')
            await asyncio.sleep(0.02)

    async def main():
        held = lock.try_acquire_write()
        with bridge_blocked():
            r = asyncio.create_task(reader())
            await asyncio.sleep(0.01)
            assert lock.props.pending_readers == 0  # not made yet
            held.release()
            w = asyncio.create_task(writer())
            await asyncio.sleep(0.01)
            assert not lock.props.write_locked, 'the later writer passed the reader'
        await asyncio.gather(r, w)
        return order

    assert run_async(main()) == ['reader', 'writer']
    assert_idle(lock)


def test_the_fast_path_comes_back_when_nothing_waits(lock):
    async def main():
        held = lock.try_acquire_write()
        waiting = asyncio.create_task(lock.reader.acquire())
        await asyncio.sleep(0.01)
        state = lock.__dict__['_aio_state']
        assert state.waiting
        held.release()
        assert await waiting is True
        assert not state.waiting
        # No cancellable, no bridge: granted in the call.
        pending = lock.acquire_read_async()
        assert pending.done() and pending.cancellable is None
        (await pending).release()
        lock.reader.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


# --- Loops and threads --------------------------------------------------

def test_one_lock_from_loops_in_several_threads(lock):
    inside = []
    overlaps = []
    done = []

    async def worker(name):
        for i in range(50):
            side = lock.writer if i % 3 == 0 else lock.reader
            async with side:
                inside.append(side._mode)
                if side._mode == WRITE and inside.count(READ) + inside.count(WRITE) > 1:
                    overlaps.append((name, i))
                await asyncio.sleep(0)
                inside.remove(side._mode)
        done.append(name)
        return name

    def thread_main(name):
        run_async(worker(name))

    threads = [threading.Thread(target=thread_main, args=(f't{n}',)) for n in range(3)]
    for t in threads:
        t.start()
    run_async(worker('main'))
    for t in threads:
        t.join(DEADLINE_S)
    assert sorted(done) == ['main', 't0', 't1', 't2']
    assert not overlaps
    assert_idle(lock)
