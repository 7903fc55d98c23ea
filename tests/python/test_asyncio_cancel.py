# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cancelling the task that awaits the lock (task.cancel(), asyncio.wait_for,
asyncio.timeout) cancels its request through a Gio.Cancellable, and the task
sees CancelledError only once the request has ended: a grant that raced with
the cancellation has been released (an upgrade undone) by then. Then the
same under load: thousands of tasks, random cancels and deadlines."""

import asyncio
import gc
import os
import random
import sys
import threading

from gi.repository import Aio
import pytest

from conftest import DEADLINE_S, assert_idle, run_async
from test_asyncio_lock import bridge_blocked, override_module

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE
UPGRADABLE_READ = Aio.RwLockMode.UPGRADABLE_READ


async def wait_until(predicate, what):
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f'timed out waiting until {what}'
        await asyncio.sleep(0.001)


async def cancel_and_wait(task):
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- Cancelled while queued -----------------------------------------------

@pytest.mark.parametrize('side', ['reader', 'writer'])
def test_task_cancel_while_queued(lock, side):
    async def main():
        held = lock.try_acquire_write()
        task = asyncio.create_task(getattr(lock, side).acquire())
        await wait_until(lambda: lock.props.pending_readers + lock.props.pending_writers == 1,
                         'the request is queued')
        await cancel_and_wait(task)
        assert lock.props.pending_readers == lock.props.pending_writers == 0
        held.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_readers_behind_a_cancelled_writer_enter_at_once(lock):
    async def main():
        async with lock.reader:
            writer = asyncio.create_task(lock.writer.acquire())
            await wait_until(lambda: lock.props.pending_writers == 1, 'the writer waits')
            reader = asyncio.create_task(lock.reader.acquire())
            await wait_until(lambda: lock.props.pending_readers == 1, 'the reader waits (FAIR)')
            await cancel_and_wait(writer)
            # The first reader still holds: the second enters beside it.
            assert await reader is True
            assert lock.props.readers == 2
            lock.reader.release()  # the hold the reader task took for us
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


def test_wait_for_times_out(lock):
    async def main():
        held = lock.try_acquire_read()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.writer.acquire(), 0.05)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.acquire_async(WRITE, -1, None), 0.05)
        assert lock.props.pending_writers == 0
        held.release()
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


@pytest.mark.skipif(not hasattr(asyncio, 'timeout'), reason='asyncio.timeout needs Python 3.11')
def test_asyncio_timeout(lock):
    async def main():
        held = lock.try_acquire_write()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async with lock.reader:
                    pytest.fail('entered a write-held lock')
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await lock.acquire_read_async()
        assert lock.props.pending_readers == 0
        held.release()
        # A timeout that does not expire changes nothing.
        async with asyncio.timeout(DEADLINE_S):
            async with lock.writer:
                assert lock.writer.locked
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


# --- Cancelled after the grant --------------------------------------------

def test_a_cancel_before_the_callback_hands_the_grant_back(lock):
    # The release grants the waiting writer at once; its completion cannot
    # run while the bridge is blocked, so the cancel lands before the
    # callback starts: the lock hands the grant back, and the task sees
    # CancelledError only after that.
    seen = {}

    async def writer():
        try:
            await lock.writer.acquire()
        except asyncio.CancelledError:
            seen['write-locked when cancelled'] = lock.props.write_locked
            raise

    async def main():
        held = lock.try_acquire_write()
        w = asyncio.create_task(writer())
        await wait_until(lambda: lock.props.pending_writers == 1, 'the writer waits')
        r = asyncio.create_task(lock.reader.acquire())
        await wait_until(lambda: lock.props.pending_readers == 1, 'the reader waits')
        with bridge_blocked():
            held.release()
            assert lock.props.write_locked  # granted to the waiting writer
            w.cancel()
            await asyncio.sleep(0.02)
            # The task waits for the request to end, which needs the bridge.
            assert not w.done()
        with pytest.raises(asyncio.CancelledError):
            await w
        assert await r is True  # the grant went on to the reader
        lock.reader.release()
        return seen

    assert run_async(main()) == {'write-locked when cancelled': False}
    assert_idle(lock)


@pytest.mark.parametrize('how', ['reader', 'writer', 'acquire_async', 'upgrade'])
def test_a_cancel_after_the_callback_releases_the_grant(lock, monkeypatch, how):
    # The callback has run and delivered the guard to the loop, and the task
    # is cancelled before it resumes: too late for the lock, so the override
    # releases the guard (undoes the upgrade) before the task sees
    # CancelledError.
    override = override_module()
    target = {}
    deliver = override._Pending._deliver

    def deliver_then_cancel(self, value, error):
        deliver(self, value, error)
        task = target.pop('task', None)
        if task is not None:
            target['delivered'] = (value, error)
            task.cancel()

    monkeypatch.setattr(override._Pending, '_deliver', deliver_then_cancel)
    seen = {}

    async def request():
        try:
            if how == 'reader':
                await lock.reader.acquire()
            elif how == 'writer':
                await lock.writer.acquire()
            elif how == 'acquire_async':
                await lock.acquire_async(WRITE, -1, None)
            else:
                await upgradable.upgrade_async()
        except asyncio.CancelledError:
            seen['state when cancelled'] = (lock.props.readers, lock.props.write_locked)
            raise
        pytest.fail('not cancelled')

    async def main():
        nonlocal upgradable
        if how == 'upgrade':
            upgradable = await lock.acquire_async(UPGRADABLE_READ, -1, None)
            held = lock.try_acquire_read()
        else:
            held = lock.try_acquire_write()
        task = asyncio.create_task(request())
        await wait_until(lambda: lock.props.pending_readers + lock.props.pending_writers == 1,
                         'the request waits')
        target['task'] = task
        held.release()
        with pytest.raises(asyncio.CancelledError):
            await task
        value, error = target['delivered']
        assert error is None and value is not None, 'the guard was not delivered'
        return seen

    upgradable = None
    expected = (1, False) if how == 'upgrade' else (0, False)
    assert run_async(main()) == {'state when cancelled': expected}
    if upgradable is not None:
        assert upgradable.get_mode() == UPGRADABLE_READ and upgradable.is_held()
        upgradable.release()
    assert_idle(lock)


def test_cancelled_again_while_the_request_ends(lock):
    async def main():
        held = lock.try_acquire_write()
        task = asyncio.create_task(lock.writer.acquire())
        await wait_until(lambda: lock.props.pending_writers == 1, 'the writer waits')
        with bridge_blocked():
            held.release()
            for _ in range(3):
                task.cancel()
                await asyncio.sleep(0.005)
            assert not task.done()
        with pytest.raises(asyncio.CancelledError):
            await task
        return 'ran'

    assert run_async(main()) == 'ran'
    assert_idle(lock)


# --- Under load -----------------------------------------------------------

STRESS_TASKS = int(os.environ.get('AIO_ASYNCIO_STRESS_TASKS', '3000'))


@pytest.mark.parametrize('policy', [Aio.RwLockPolicy.FAIR, Aio.RwLockPolicy.PREFER_WRITERS,
                                    Aio.RwLockPolicy.PREFER_READERS])
def test_thousands_of_tasks_with_random_cancels_and_timeouts(policy):
    seed = int(os.environ.get('AIO_ASYNCIO_STRESS_SEED', random.randrange(1 << 32)))
    print(f'seed {seed} (AIO_ASYNCIO_STRESS_SEED), {STRESS_TASKS} tasks '
          f'(AIO_ASYNCIO_STRESS_TASKS)', file=sys.stderr)
    rng = random.Random(seed)
    lock = Aio.RwLock(policy=policy)
    inside = {'readers': 0, 'writers': 0}
    violations = []
    outcomes = {'held': 0, 'cancelled': 0, 'timed out': 0}

    def enter(mode):
        if mode == WRITE:
            inside['writers'] += 1
            if inside['writers'] != 1 or inside['readers']:
                violations.append(dict(inside))
        else:
            inside['readers'] += 1
            if inside['writers']:
                violations.append(dict(inside))

    def leave(mode):
        inside['writers' if mode == WRITE else 'readers'] -= 1

    async def hold(mode, reenter):
        enter(mode)
        try:
            if rng.random() < 0.5:
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(rng.random() * 0.001)
            if reenter:
                # Re-entry inside a held side: at once, never queued.
                async with lock.reader:
                    await asyncio.sleep(0)
        finally:
            leave(mode)

    async def one(kind, mode, reenter):
        if kind == 'side':
            async with (lock.writer if mode == WRITE else lock.reader):
                await hold(mode, reenter)
        else:
            guard = await lock.acquire_async(mode, -1, None)
            try:
                await hold(mode, False)
            finally:
                guard.release()
        return 'held'

    async def worker(i):
        await asyncio.sleep(rng.random() * 0.05)
        mode = WRITE if rng.random() < 0.3 else READ
        kind = 'side' if rng.random() < 0.7 else 'guard'
        coro = one(kind, mode, rng.random() < 0.2)
        stop = rng.random()
        try:
            if stop < 0.2:
                return await asyncio.wait_for(coro, rng.random() * 0.005)
            if stop < 0.4 and hasattr(asyncio, 'timeout'):
                async with asyncio.timeout(rng.random() * 0.005):
                    return await coro
            return await coro
        except (asyncio.TimeoutError, TimeoutError):
            return 'timed out'

    async def main():
        tasks = [asyncio.create_task(worker(i)) for i in range(STRESS_TASKS)]
        # Random cancels of the tasks themselves, while they run.
        for _ in range(STRESS_TASKS // 5):
            await asyncio.sleep(rng.random() * 0.0005)
            rng.choice(tasks).cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, asyncio.CancelledError):
                outcomes['cancelled'] += 1
            elif isinstance(r, BaseException):
                raise r
            else:
                outcomes[r] += 1
        return outcomes

    run_async(main(), deadline=max(DEADLINE_S, 120))
    print(f'outcomes: {outcomes}', file=sys.stderr)
    assert not violations, violations[:5]
    assert sum(outcomes.values()) == STRESS_TASKS
    # Every path was taken.
    assert all(outcomes.values()), outcomes
    assert inside == {'readers': 0, 'writers': 0}
    assert_idle(lock)
    # Nothing of the override's is left: no request object, no queued call.
    gc.collect()
    override = override_module()
    assert not [o for o in gc.get_objects() if type(o) is override._Pending]
    assert not override._get_bridge()._queue
    assert [t.name for t in threading.enumerate()
            if t.name == 'Aio asyncio bridge'] == ['Aio asyncio bridge']
