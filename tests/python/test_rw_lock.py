# SPDX-License-Identifier: LGPL-2.1-or-later
"""Aio.RwLock from Python: sharing, exclusion, properties, try-acquire,
errors, re-entry, upgrade/downgrade and the end of a hold on collection."""

import gc
import threading

from gi.repository import Aio, Gio, GLib, GObject
import pytest

from conftest import DEADLINE_S, assert_aio_error

READ, WRITE, UPGRADABLE_READ = (Aio.RwLockMode.READ, Aio.RwLockMode.WRITE,
                                Aio.RwLockMode.UPGRADABLE_READ)


def test_properties_of_a_new_lock(lock):
    assert lock.props.policy == Aio.RwLockPolicy.FAIR
    assert lock.get_policy() == Aio.RwLockPolicy.FAIR
    assert lock.props.readers == 0
    assert lock.props.read_locked is False
    assert lock.props.write_locked is False
    assert lock.props.pending_readers == 0
    assert lock.props.pending_writers == 0
    assert lock.props.closed is False
    assert Aio.MAJOR_VERSION == 1
    assert Aio.VERSION_S == f'{Aio.MAJOR_VERSION}.{Aio.MINOR_VERSION}.{Aio.MICRO_VERSION}'


@pytest.mark.parametrize('policy', list(Aio.RwLockPolicy.__enum_values__.values()))
def test_policy_is_construct_only(policy):
    assert Aio.RwLock(policy=policy).props.policy == policy
    assert Aio.RwLock.new_with_policy(policy).get_policy() == policy
    # Setting it later is only a GLib warning from PyGObject, so check the
    # pspec rather than provoke it.
    pspec = Aio.RwLock.find_property('policy')
    assert pspec.flags & GObject.ParamFlags.CONSTRUCT_ONLY
    assert pspec.default_value == Aio.RwLockPolicy.FAIR


@pytest.mark.parametrize('name', ['readers', 'read-locked', 'write-locked',
                                  'pending-readers', 'pending-writers', 'closed'])
def test_state_properties_are_read_only(lock, name):
    pspec = lock.find_property(name)
    assert pspec.flags & GObject.ParamFlags.READABLE
    assert not pspec.flags & GObject.ParamFlags.WRITABLE
    with pytest.raises(TypeError):
        setattr(lock.props, name.replace('-', '_'), 1)


def test_try_acquire(lock):
    r1 = lock.try_acquire_read()
    r2 = lock.try_acquire_read()
    assert r1.get_mode() == READ and r2.get_mode() == READ
    assert r1.get_lock() == lock
    assert lock.props.readers == 2 and lock.props.read_locked
    # A writer would have to wait: try_ says no with None, not an error.
    assert lock.try_acquire_write() is None
    r1.release()
    r2.release()
    assert not r1.is_held() and not r2.is_held()

    w = lock.try_acquire_write()
    assert w.get_mode() == WRITE and lock.props.write_locked
    assert lock.try_acquire_read() is None
    assert lock.try_acquire_write() is None
    w.release()
    assert not lock.props.write_locked


def test_readers_overlap(lock, callbacks):
    for name in ('r1', 'r2', 'r3'):
        lock.acquire_read_async(None, callbacks(name))
    results = callbacks.wait('r1', 'r2', 'r3')
    guards = [lock.acquire_read_finish(r) for r in results]

    # All three hold at the same time.
    assert all(g.is_held() and g.get_mode() == READ for g in guards)
    assert lock.props.readers == 3
    assert callbacks.order == ['r1', 'r2', 'r3']
    for g in guards:
        g.release()
    assert lock.props.readers == 0


def test_writer_is_exclusive(lock, callbacks):
    r1 = lock.try_acquire_read()
    r2 = lock.try_acquire_read()
    lock.acquire_write_async(None, callbacks('w'))
    assert lock.props.pending_writers == 1

    # FAIR: a reader asking after the writer queues behind it.
    lock.acquire_read_async(None, callbacks('r3'))
    assert lock.props.pending_readers == 1

    r1.release()
    callbacks.spin()
    assert not callbacks.ran('w'), 'the writer entered while a reader held'
    r2.release()
    # The grant is counted when made, before the callback runs.
    assert lock.props.write_locked and lock.props.readers == 0

    w = lock.acquire_write_finish(callbacks.wait('w'))
    assert w.get_mode() == WRITE
    callbacks.spin()
    assert not callbacks.ran('r3'), 'a reader entered while the writer held'
    assert lock.props.pending_readers == 1

    w.release()
    r3 = lock.acquire_read_finish(callbacks.wait('r3'))
    assert lock.props.readers == 1 and not lock.props.write_locked
    r3.release()


def test_general_acquire_async(lock, callbacks):
    lock.acquire_async(UPGRADABLE_READ, -1, None, callbacks('u'))
    guard = lock.acquire_finish(callbacks.wait('u'))
    assert guard.get_mode() == UPGRADABLE_READ
    assert lock.props.readers == 1
    guard.release()


def test_callback_runs_after_the_call_returns(lock, callbacks):
    # Even an immediate grant is delivered on the main loop, never inside
    # the call.
    lock.acquire_read_async(None, callbacks('r'))
    assert not callbacks.ran('r')
    lock.acquire_read_finish(callbacks.wait('r')).release()


def test_guard_released_when_collected(lock, callbacks):
    guard = lock.try_acquire_write()
    lock.acquire_read_async(None, callbacks('r'))
    assert lock.props.pending_readers == 1

    del guard
    gc.collect()
    assert not lock.props.write_locked
    reader = lock.acquire_read_finish(callbacks.wait('r'))

    # The same for a guard that came from an async acquisition.
    del reader
    gc.collect()
    assert lock.props.readers == 0 and not lock.props.read_locked


def test_guard_keeps_its_lock_alive(callbacks):
    guard = Aio.RwLock().try_acquire_write()
    gc.collect()
    assert guard.get_lock().props.write_locked
    guard.release()


def test_released_guard_reports_not_held(lock):
    guard = lock.try_acquire_read()
    guard.release()
    assert not guard.is_held()
    with pytest.raises(GLib.Error) as excinfo:
        guard.reenter(READ)
    assert_aio_error(excinfo, Aio.RwLockError.NOT_HELD)


def test_reenter(lock):
    write = lock.try_acquire_write()
    read = write.reenter(READ)
    again = write.reenter(WRITE)
    assert read.get_mode() == READ and again.get_mode() == WRITE
    write.release()
    again.release()
    # The last guard of the hold is a READ one: the lock is read-held.
    assert not lock.props.write_locked and lock.props.readers == 1
    read.release()
    assert lock.props.readers == 0


def test_a_write_hold_with_read_guards_counts_as_a_reader(lock):
    # As aiorwlock's reader.locked is true for a writer task that takes the
    # reader lock too.
    write = lock.try_acquire_write()
    assert lock.props.readers == 0 and not lock.props.read_locked
    read = write.reenter(READ)
    upgradable = write.reenter(UPGRADABLE_READ)
    assert lock.props.write_locked and lock.props.read_locked
    assert lock.props.readers == 1 and lock.get_readers() == 1
    assert lock.is_read_locked()
    read.release()
    assert lock.props.readers == 1
    upgradable.release()
    assert lock.props.readers == 0 and not lock.props.read_locked
    assert lock.props.write_locked
    write.release()
    assert not lock.props.write_locked


def test_reenter_write_from_read_would_deadlock(lock):
    guard = lock.try_acquire_read()
    with pytest.raises(GLib.Error) as excinfo:
        guard.reenter(WRITE)
    assert_aio_error(excinfo, Aio.RwLockError.WOULD_DEADLOCK)
    assert guard.is_held()
    guard.release()


def test_upgrade_and_downgrade(lock, callbacks):
    lock.acquire_async(UPGRADABLE_READ, -1, None, callbacks('u'))
    guard = lock.acquire_finish(callbacks.wait('u'))
    reader = lock.try_acquire_read()

    guard.upgrade_async(None, callbacks('up'))
    assert lock.props.pending_writers == 1
    callbacks.spin()
    assert not callbacks.ran('up'), 'upgraded while another reader held'
    reader.release()
    assert guard.upgrade_finish(callbacks.wait('up')) is True
    assert guard.get_mode() == WRITE and lock.props.write_locked

    guard.downgrade()
    assert guard.get_mode() == READ and lock.props.readers == 1
    guard.release()


def test_upgrade_of_a_read_guard_would_deadlock(lock, callbacks):
    guard = lock.try_acquire_read()
    guard.upgrade_async(None, callbacks('up'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_finish(callbacks.wait('up'))
    assert_aio_error(excinfo, Aio.RwLockError.WOULD_DEADLOCK)
    assert guard.get_mode() == READ
    guard.release()


def test_close(lock, callbacks):
    holder = lock.try_acquire_write()
    lock.acquire_read_async(None, callbacks('waiting'))
    lock.close()
    assert lock.props.closed

    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_read_finish(callbacks.wait('waiting'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)

    lock.acquire_write_async(None, callbacks('later'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_write_finish(callbacks.wait('later'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)

    # Holders keep their guards until they release them.
    assert holder.is_held()
    holder.release()


def test_blocking_acquire_from_a_thread(lock):
    # PyGObject drops the GIL around the C call, so the main thread can
    # release while the worker sleeps in the lock's queue.
    reader = lock.try_acquire_read()
    got = []
    worker = threading.Thread(target=lambda: got.append(
        lock.acquire(WRITE, int(DEADLINE_S * 1000), None)))
    worker.start()
    deadline = GLib.get_monotonic_time() + int(DEADLINE_S * 1e6)
    while lock.props.pending_writers == 0:
        assert GLib.get_monotonic_time() < deadline, 'the worker never queued'
        GLib.usleep(1000)
    reader.release()
    worker.join(DEADLINE_S)
    assert not worker.is_alive()
    assert got and got[0].get_mode() == WRITE
    got.pop().release()


def test_blocking_acquire_times_out(lock):
    holder = lock.try_acquire_write()
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire(READ, 0, None)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    holder.release()
