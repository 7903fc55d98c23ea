# SPDX-License-Identifier: LGPL-2.1-or-later
"""The situations aiorwlock's own test suite checks, on this library's
surface (lock.reader / lock.writer in asyncio tasks): readers in parallel,
writer exclusion, re-entry, writer preference, cancellation while queued,
and the deadlock and leak bugs aiorwlock fixed over its releases (the
1.0.0 cancel-during-acquire leak, the 1.2.0 two-writers hand-off, the
1.5.1 cancelled-waiter deadlock). Written for this library; where it
behaves differently from aiorwlock on purpose, the test says so."""

import asyncio
import threading

from gi.repository import Aio
import pytest

from conftest import DEADLINE_S, assert_idle, run_async

FAIR = Aio.RwLockPolicy.FAIR
PREFER_WRITERS = Aio.RwLockPolicy.PREFER_WRITERS
PREFER_READERS = Aio.RwLockPolicy.PREFER_READERS
ALL_POLICIES = [FAIR, PREFER_WRITERS, PREFER_READERS]

TICK = 0.01


class Occupancy:
    """Who is inside, sampled by every task while it holds."""

    def __init__(self):
        self.readers = 0
        self.writers = 0
        self.samples = []

    async def visit(self, kind, ticks=1):
        setattr(self, kind, getattr(self, kind) + 1)
        try:
            await asyncio.sleep(TICK * ticks)
            self.samples.append((self.readers, self.writers))
            await asyncio.sleep(TICK * ticks)
        finally:
            setattr(self, kind, getattr(self, kind) - 1)

    @property
    def max_readers(self):
        return max(r for r, _ in self.samples)

    @property
    def max_writers(self):
        return max(w for _, w in self.samples)


async def in_tasks(n, coro_fn):
    return await asyncio.gather(*(asyncio.create_task(coro_fn()) for _ in range(n)))


@pytest.fixture(params=ALL_POLICIES, ids=lambda p: p.value_nick)
def any_lock(request):
    lock = Aio.RwLock(policy=request.param)
    yield lock
    assert_idle(lock)


# --- Sharing and exclusion ----------------------------------------------

def test_readers_share(any_lock):
    lock, seen = any_lock, Occupancy()

    async def reader():
        await lock.reader.acquire()
        try:
            await seen.visit('readers')
        finally:
            lock.reader.release()

    run_async(in_tasks(5, reader))
    assert len(seen.samples) == 5 and seen.max_readers > 1


@pytest.mark.parametrize('outer, inner', [
    ('reader', 'reader'), ('writer', 'writer'), ('writer', 'reader')])
def test_reentered_holds_share_or_exclude_as_their_first(any_lock, outer, inner):
    # Readers that re-enter still share; a writer that re-enters, as a
    # writer or as a reader, still excludes every other task.
    lock, seen = any_lock, Occupancy()
    kind = 'readers' if outer == 'reader' else 'writers'

    async def task():
        async with getattr(lock, outer):
            async with getattr(lock, inner):
                assert getattr(lock, outer).locked and getattr(lock, inner).locked
                await seen.visit(kind)

    run_async(in_tasks(5, task))
    assert len(seen.samples) == 5
    if kind == 'readers':
        assert seen.max_readers > 1
    else:
        assert seen.max_writers == 1 and seen.max_readers == 0


def test_readers_and_writers_never_overlap(any_lock):
    lock, seen = any_lock, Occupancy()

    async def reader():
        async with lock.reader:
            await seen.visit('readers')

    async def writer():
        async with lock.writer:
            await seen.visit('writers')

    async def main():
        await asyncio.gather(in_tasks(5, reader), in_tasks(5, writer))

    run_async(main())
    assert len(seen.samples) == 10
    assert seen.max_readers > 1 and seen.max_writers == 1
    for readers, writers in seen.samples:
        assert not (readers and writers), seen.samples


def test_read_then_write_in_one_task_is_refused(any_lock):
    lock = any_lock
    refused = []

    async def reader():
        async with lock.reader:
            with pytest.raises(RuntimeError, match='Cannot upgrade RWLock from read to write'):
                await lock.writer.acquire()
            refused.append(True)

    run_async(in_tasks(5, reader))
    assert len(refused) == 5


def test_release_order_write_then_read(any_lock):
    # aiorwlock: a writer that also took the reader twice, releases the
    # writer first: the lock stays read-held, and the task may no longer
    # write (it now only reads).
    lock = any_lock

    async def main():
        await lock.writer.acquire()
        for _ in range(3):
            await lock.reader.acquire()
        lock.reader.release()
        assert lock.writer.locked
        lock.writer.release()
        assert not lock.writer.locked and lock.reader.locked
        with pytest.raises(RuntimeError):
            await lock.writer.acquire()
        lock.reader.release()
        lock.reader.release()
        return lock.reader.locked

    assert run_async(main()) is False


def test_locked_and_context_managers(any_lock):
    lock = any_lock

    async def main():
        rl, wl = lock.reader, lock.writer
        assert not rl.locked and not wl.locked
        async with rl:
            assert rl.locked and not wl.locked
        async with wl:
            assert wl.locked and not rl.locked
            async with rl:
                assert wl.locked and rl.locked
        return (rl.locked, wl.locked)

    assert run_async(main()) == (False, False)
    for side in (lock.reader, lock.writer):
        with pytest.raises(RuntimeError):
            with side:
                pass


def test_a_reader_of_another_task_waits_for_the_writer(any_lock):
    lock = any_lock
    seen = []

    async def reader():
        async with lock.reader:
            seen.append((lock.reader.locked, lock.writer.locked))

    async def main():
        async with lock.writer:
            assert lock.writer.locked and not lock.reader.locked
            task = asyncio.create_task(reader())
            await asyncio.sleep(TICK * 5)
            assert not seen
        await task
        return seen

    assert run_async(main()) == [(True, False)]


def test_a_second_task_cannot_write_while_the_first_writes_and_reads(any_lock):
    lock = any_lock
    writes = []

    async def other_writer(go):
        await go
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.writer.acquire(), TICK * 5)
        writes.append('timed out')

    async def main():
        go = asyncio.get_running_loop().create_future()
        other = asyncio.create_task(other_writer(go))
        async with lock.writer:
            async with lock.reader:
                go.set_result(None)
                await asyncio.sleep(TICK * 8)
                assert writes == ['timed out']
        await other
        return writes

    assert run_async(main()) == ['timed out']


# --- Writers get in -----------------------------------------------------

@pytest.mark.parametrize('policy', [FAIR, PREFER_WRITERS], ids=['fair', 'prefer-writers'])
def test_a_writer_gets_in_despite_a_stream_of_readers(policy):
    lock = Aio.RwLock(policy=policy)
    counts = {'reads': 0, 'writes': 0}

    async def reader():
        while counts['writes'] < 2:
            async with lock.reader:
                counts['reads'] += 1
                # An uncontended acquire does not yield (aiorwlock's
                # fast=True): the loop yields here.
                await asyncio.sleep(0)

    async def writer():
        while counts['reads'] == 0:
            await asyncio.sleep(TICK)
        for _ in range(2):
            await asyncio.sleep(TICK)
            async with lock.writer:
                counts['writes'] += 1

    async def main():
        await asyncio.gather(in_tasks(5, reader), writer())
        return counts['writes']

    assert run_async(main()) == 2
    assert_idle(lock)


@pytest.mark.parametrize('policy, expected', [
    # aiorwlock's order: once the lock is free, a waiting writer enters
    # before readers that waited longer, and a reader waits while any
    # writer holds or waits.
    (PREFER_WRITERS, ['writer', 'reader 1', 'reader 2']),
    # Arrival order: the earlier reader first, the later one behind the
    # writer.
    (FAIR, ['reader 1', 'writer', 'reader 2']),
    # A reader enters whenever no writer holds.
    (PREFER_READERS, ['reader 1', 'reader 2', 'writer']),
], ids=lambda v: v.value_nick if isinstance(v, Aio.RwLockPolicy) else '')
def test_writer_preference(policy, expected):
    lock = Aio.RwLock(policy=policy)
    order = []

    async def take(side, name):
        async with side:
            order.append(name)
            await asyncio.sleep(TICK)

    async def main():
        async with lock.writer:
            r1 = asyncio.create_task(take(lock.reader, 'reader 1'))
            await asyncio.sleep(TICK)
            w = asyncio.create_task(take(lock.writer, 'writer'))
            await asyncio.sleep(TICK)
        await asyncio.sleep(TICK / 2)
        # Arrives while the first to enter still holds.
        r2 = asyncio.create_task(take(lock.reader, 'reader 2'))
        await asyncio.gather(r1, w, r2)
        return order

    assert run_async(main()) == expected
    assert_idle(lock)


def test_two_writers_never_hold_together(any_lock):
    # aiorwlock 1.2.0: a writer that waited behind a reader's hold, and
    # the reader asking for the writer right after its release, both got
    # in. The grant is counted when it is made, so the second queues.
    lock = any_lock
    seq = []

    async def read_then_write():
        async with lock.reader:
            await asyncio.sleep(TICK * 5)
            seq.append('READ')
        async with lock.writer:
            seq.append('START1')
            await asyncio.sleep(TICK * 5)
            seq.append('FIN1')

    async def write():
        async with lock.writer:
            seq.append('START2')
            await asyncio.sleep(TICK * 5)
            seq.append('FIN2')

    async def main():
        await asyncio.gather(read_then_write(), write())
        return seq

    assert run_async(main()) == ['READ', 'START2', 'FIN2', 'START1', 'FIN1']


# --- Cancellation -------------------------------------------------------

@pytest.mark.parametrize('victim, when', [
    # The asyncio.Lock deadlock aiorwlock inherited: the holder releases
    # and, in the same loop iteration, the first waiter is cancelled.
    (0, 'right after the release'),
    # aiorwlock 1.5.1: a waiter cancelled while queued left the others
    # stuck.
    (1, 'while queued'),
], ids=['first-after-release', 'second-while-queued'])
@pytest.mark.parametrize('holding, waiting', [('reader', 'writer'), ('writer', 'reader')])
def test_a_cancelled_waiter_does_not_block_the_other(any_lock, holding, waiting, victim, when):
    lock = any_lock

    async def take():
        async with getattr(lock, waiting):
            await asyncio.sleep(TICK)
        return 'held'

    async def main():
        async with getattr(lock, holding):
            tasks = [asyncio.create_task(take()) for _ in range(2)]
            await asyncio.sleep(TICK * 5)
            if when == 'while queued':
                tasks[victim].cancel()
                await asyncio.sleep(TICK * 5)
        if when == 'right after the release':
            tasks[victim].cancel()
        assert await asyncio.wait_for(tasks[1 - victim], DEADLINE_S) == 'held'
        with pytest.raises(asyncio.CancelledError):
            await tasks[victim]
        return (lock.reader.locked, lock.writer.locked)

    assert run_async(main()) == (False, False)


@pytest.mark.parametrize('side', ['reader', 'writer'])
def test_cancelled_just_after_it_started_to_acquire(any_lock, side):
    lock = any_lock

    async def take():
        async with getattr(lock, side):
            pass

    async def main():
        task = asyncio.create_task(take())
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return (lock.reader.locked, lock.writer.locked)

    assert run_async(main()) == (False, False)


def test_a_cancel_in_the_wake_up_leaks_no_hold(any_lock):
    # aiorwlock 1.0.0: a task cancelled as it was woken up with the lock
    # kept it for ever. Here the release grants the waiter at once and the
    # cancel follows in the same iteration, many times over.
    lock = any_lock

    async def take(side):
        async with side:
            pass

    async def main():
        cancelled = 0
        for i in range(100):
            holder, waiter = (lock.writer, lock.reader) if i % 2 else (lock.reader, lock.writer)
            await holder.acquire()
            task = asyncio.create_task(take(waiter))
            while not (lock.props.pending_readers or lock.props.pending_writers):
                await asyncio.sleep(0.001)
            holder.release()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            assert not lock.reader.locked and not lock.writer.locked, i
        return cancelled

    assert run_async(main()) > 0


# --- Loops --------------------------------------------------------------

def test_made_outside_a_coroutine_and_used_in_several_loops():
    # aiorwlock binds a lock to the first loop that uses it and refuses the
    # others ("is bound to a different event loop"); here every request is
    # served on its own loop.
    lock = Aio.RwLock(policy=PREFER_WRITERS)

    async def use():
        async with lock.reader:
            pass
        async with lock.writer:
            pass
        return 'used'

    assert run_async(use()) == 'used'
    assert run_async(use()) == 'used'

    async def hold_then_use_elsewhere():
        await lock.reader.acquire()
        results = []
        thread = threading.Thread(target=lambda: results.append(run_async(use())))
        thread.start()
        await asyncio.sleep(TICK * 5)
        # The other loop's writer waits for this loop's reader.
        assert not results and lock.props.pending_writers == 1
        lock.reader.release()
        while thread.is_alive():
            await asyncio.sleep(TICK)
        return results

    assert run_async(hold_then_use_elsewhere()) == ['used']
    assert_idle(lock)
