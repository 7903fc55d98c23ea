# SPDX-License-Identifier: LGPL-2.1-or-later
"""lock.close_async (cancellable, callback) / lock.close_finish (result) from
Python: the lock closes at once, the callback comes (on a real main loop,
within the deadline) only when the last hold has ended, and cancelling
cancels the wait, not the close."""

import gc

from gi.repository import Aio, Gio, GLib
import pytest

from conftest import assert_aio_error, assert_io_error

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


def close_async(lock, callbacks, name, cancellable=None):
    assert lock.close_async(cancellable, callbacks(name)) is None
    # Closed at once; never completes inside the call.
    assert lock.props.closed and lock.is_closed()
    assert not callbacks.ran(name)


def finish(lock, callbacks, name):
    result = callbacks.wait(name)
    source, _ = callbacks.calls[name][0]
    assert source == lock
    return lock.close_finish(result)


def test_idle_lock_completes_from_the_main_loop(lock, callbacks):
    close_async(lock, callbacks, 'first')
    assert finish(lock, callbacks, 'first') is True

    # Again, on the closed lock.
    close_async(lock, callbacks, 'again')
    assert finish(lock, callbacks, 'again') is True


def test_waits_for_every_holder(lock, callbacks):
    lock.acquire_read_async(None, callbacks('r'))
    a = lock.acquire_read_finish(callbacks.wait('r'))
    b = lock.try_acquire(READ)
    lock.acquire_write_async(None, callbacks('w'))

    close_async(lock, callbacks, 'first')
    close_async(lock, callbacks, 'second')

    # The queued writer fails; the holders keep their guards.
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_write_finish(callbacks.wait('w'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    assert a.is_held() and b.is_held() and lock.props.readers == 2
    callbacks.spin()
    assert not callbacks.ran('first') and not callbacks.ran('second')

    a.release()
    callbacks.spin()
    assert not callbacks.ran('first') and not callbacks.ran('second'), \
        'close_async completed while a hold was left'

    b.release()
    assert finish(lock, callbacks, 'first') is True
    assert finish(lock, callbacks, 'second') is True
    assert lock.props.readers == 0 and not lock.props.write_locked


def test_a_closed_lock_refuses_new_holds(lock, callbacks):
    holder = lock.try_acquire(WRITE)
    close_async(lock, callbacks, 'close')

    with pytest.raises(GLib.Error) as excinfo:
        lock.try_acquire(READ)
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    assert lock.try_acquire_read() is None
    lock.acquire_read_async(None, callbacks('r'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_read_finish(callbacks.wait('r'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    assert not callbacks.ran('close')

    holder.release()
    assert finish(lock, callbacks, 'close') is True


def test_the_last_hold_ends_with_its_last_reference(lock, callbacks):
    guard = lock.try_acquire(WRITE)
    close_async(lock, callbacks, 'close')
    callbacks.spin()
    assert not callbacks.ran('close')
    del guard
    gc.collect()
    assert finish(lock, callbacks, 'close') is True


def test_a_shared_hold_ends_with_its_last_guard(lock, callbacks):
    # Re-entered guards and downgrades keep the hold: only its end counts.
    writer = lock.try_acquire(WRITE)
    reader = writer.reenter(READ)
    close_async(lock, callbacks, 'close')
    assert writer.downgrade_to(Aio.RwLockMode.UPGRADABLE_READ) is True
    writer.release()
    callbacks.spin()
    assert not callbacks.ran('close'), 'completed while a re-entered guard held'
    reader.release()
    assert finish(lock, callbacks, 'close') is True


def test_cancelling_cancels_the_wait_not_the_close(lock, callbacks):
    guard = lock.try_acquire(READ)
    cancellable = Gio.Cancellable()
    close_async(lock, callbacks, 'close', cancellable)
    cancellable.cancel()
    assert not callbacks.ran('close')

    with pytest.raises(GLib.Error) as excinfo:
        finish(lock, callbacks, 'close')
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)

    # Still closed, the holder still holds.
    assert lock.props.closed and guard.is_held() and lock.props.readers == 1
    with pytest.raises(GLib.Error) as excinfo:
        lock.try_acquire(READ)
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)

    # The end of the hold does not call the cancelled waiter again.
    guard.release()
    callbacks.spin()
    assert len(callbacks.calls['close']) == 1


def test_cancelled_before_the_call_closes_all_the_same(lock, callbacks):
    guard = lock.try_acquire(READ)
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    close_async(lock, callbacks, 'close', cancellable)
    with pytest.raises(GLib.Error) as excinfo:
        finish(lock, callbacks, 'close')
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    assert lock.props.closed and guard.is_held()
    guard.release()


def test_a_cancelled_waiter_leaves_the_others_waiting(lock, callbacks):
    guard = lock.try_acquire(WRITE)
    cancellable = Gio.Cancellable()
    close_async(lock, callbacks, 'cancelled', cancellable)
    close_async(lock, callbacks, 'kept')
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        finish(lock, callbacks, 'cancelled')
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    callbacks.spin()
    assert not callbacks.ran('kept')
    guard.release()
    assert finish(lock, callbacks, 'kept') is True
