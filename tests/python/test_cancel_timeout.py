# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cancellation (Gio.Cancellable) and deadlines (timeout_msec) from Python:
both arrive as GLib.Error in the G_IO_ERROR domain and never leak a hold."""

from gi.repository import Aio, Gio, GLib
import pytest

from conftest import assert_io_error

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


def test_cancelled_before_the_call(lock, callbacks):
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    lock.acquire_read_async(cancellable, callbacks('r'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_read_finish(callbacks.wait('r'))
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    assert lock.props.readers == 0


def test_cancelled_while_queued_lets_the_readers_behind_in(lock, callbacks):
    reader = lock.try_acquire_read()
    cancellable = Gio.Cancellable()
    lock.acquire_write_async(cancellable, callbacks('w'))
    lock.acquire_read_async(None, callbacks('r'))
    assert lock.props.pending_writers == 1 and lock.props.pending_readers == 1

    cancellable.cancel()
    late_reader = lock.acquire_read_finish(callbacks.wait('r'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_write_finish(callbacks.wait('w'))
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)

    assert lock.props.readers == 2 and lock.props.pending_writers == 0
    reader.release()
    late_reader.release()


def test_cancelled_after_the_grant_hands_the_lock_on(lock, callbacks):
    writer = lock.try_acquire_write()
    cancellable = Gio.Cancellable()
    lock.acquire_read_async(cancellable, callbacks('r'))
    lock.acquire_write_async(None, callbacks('w2'))

    # The release grants the reader at once; cancel before its callback ran.
    writer.release()
    assert lock.props.readers == 1
    cancellable.cancel()

    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_read_finish(callbacks.wait('r'))
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    # The cancelled grant went to the next waiter.
    w2 = lock.acquire_write_finish(callbacks.wait('w2'))
    assert w2.get_mode() == WRITE
    w2.release()


def test_cancelled_upgrade_leaves_the_guard_as_it_was(lock, callbacks):
    lock.acquire_async(Aio.RwLockMode.UPGRADABLE_READ, -1, None, callbacks('u'))
    guard = lock.acquire_finish(callbacks.wait('u'))
    reader = lock.try_acquire_read()
    cancellable = Gio.Cancellable()
    guard.upgrade_async(cancellable, callbacks('up'))
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_finish(callbacks.wait('up'))
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    assert guard.get_mode() == Aio.RwLockMode.UPGRADABLE_READ and guard.is_held()
    reader.release()
    guard.release()


def test_timeout_while_queued(lock, callbacks):
    writer = lock.try_acquire_write()
    started = GLib.get_monotonic_time()
    lock.acquire_async(READ, 50, None, callbacks('r'))
    assert lock.props.pending_readers == 1

    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_finish(callbacks.wait('r'))
    assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
    assert GLib.get_monotonic_time() - started >= 50 * 1000
    assert lock.props.pending_readers == 0
    writer.release()


def test_timeout_zero_only_if_free(lock, callbacks):
    lock.acquire_async(WRITE, 0, None, callbacks('free'))
    guard = lock.acquire_finish(callbacks.wait('free'))
    lock.acquire_async(READ, 0, None, callbacks('busy'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.acquire_finish(callbacks.wait('busy'))
    assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
    guard.release()


def test_a_deadline_never_revokes_a_grant(lock, callbacks):
    writer = lock.try_acquire_write()
    lock.acquire_async(READ, 100, None, callbacks('r'))
    writer.release()
    # Granted within the deadline; the guard stays valid after it passes.
    guard = lock.acquire_finish(callbacks.wait('r'))
    callbacks.spin(150)
    assert guard.is_held() and lock.props.readers == 1
    guard.release()
