# SPDX-License-Identifier: LGPL-2.1-or-later
"""Aio.RwLockTable from Python: a lock per key, made on demand and gone
with its last guard; the same errors, cancellation and close as a lock."""

import gc
import weakref

from gi.repository import Aio, Gio, GLib
import pytest

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


@pytest.fixture
def table():
    return Aio.RwLockTable.new(Aio.RwLockPolicy.FAIR)


def test_a_lock_per_key(table, callbacks):
    table.acquire_async('/a', WRITE, -1, None, callbacks('w'))
    table.acquire_async('/a', READ, -1, None, callbacks('r'))
    table.acquire_async('/b', READ, -1, None, callbacks('other'))
    writer = table.acquire_finish(callbacks.wait('w'))
    other = table.acquire_finish(callbacks.wait('other'))
    source, _ = callbacks.calls['w'][0]
    assert source is table
    assert table.props.n_keys == 2
    lock = writer.get_lock()
    assert lock.props.name == '/a' and lock.get_name() == '/a'
    assert other.get_lock().props.name == '/b'
    assert lock.props.pending_readers == 1 and not callbacks.ran('r')

    writer.release()
    reader = table.acquire_finish(callbacks.wait('r'))
    assert reader.get_lock() == lock
    reader.release()
    other.release()


def test_the_entry_goes_with_the_last_guard(table):
    guard = table.try_acquire('k', WRITE)
    lock_ref = weakref.ref(guard.get_lock())
    assert table.props.n_keys == 1
    guard.release()
    del guard
    gc.collect()
    assert lock_ref() is None
    assert table.props.n_keys == 0


def test_try_acquire_errors(table):
    with table.try_acquire('k', WRITE):
        with pytest.raises(GLib.Error) as excinfo:
            table.try_acquire('k', READ)
        assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK)
    table.close()
    with pytest.raises(GLib.Error) as excinfo:
        table.try_acquire('k', READ)
    assert excinfo.value.matches(Aio.rw_lock_error_quark(), Aio.RwLockError.CLOSED)
    assert table.props.closed


def test_cancelled_request(table, callbacks):
    holder = table.try_acquire('k', WRITE)
    cancellable = Gio.Cancellable()
    table.acquire_async('k', READ, -1, cancellable, callbacks('r'))
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        table.acquire_finish(callbacks.wait('r'))
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
    assert holder.get_lock().props.pending_readers == 0
    holder.release()


def test_close_async_waits_for_holders(table, callbacks):
    a = table.try_acquire('a', READ)
    b = table.try_acquire('b', WRITE)
    table.close_async(None, callbacks('closed'))
    a.release()
    context = GLib.MainContext.default()
    while context.iteration(False):
        pass
    assert not callbacks.ran('closed')
    b.release()
    assert table.close_finish(callbacks.wait('closed')) is True
    with pytest.raises(GLib.Error) as excinfo:
        table.try_acquire('a', READ)
    assert excinfo.value.matches(Aio.rw_lock_error_quark(), Aio.RwLockError.CLOSED)


def test_blocking_acquire_with_deadline(table):
    holder = table.try_acquire('k', WRITE)
    with pytest.raises(GLib.Error) as excinfo:
        table.acquire('k', READ, 20, None)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)
    holder.release()
    with table.acquire('k', READ, -1, None) as guard:
        assert guard.get_mode() == READ
