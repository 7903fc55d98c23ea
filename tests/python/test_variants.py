# SPDX-License-Identifier: LGPL-2.1-or-later
"""The 1.1 variants from Python: lock.try_acquire (mode), guard.try_upgrade,
guard.upgrade_full_async (timeout_msec, ...) and guard.downgrade_to (mode),
each success and each GLib.Error (domain and code)."""

from gi.repository import Aio, Gio, GLib
import pytest

from conftest import assert_aio_error, assert_io_error

READ, WRITE, UPGRADABLE_READ = (Aio.RwLockMode.READ, Aio.RwLockMode.WRITE,
                                Aio.RwLockMode.UPGRADABLE_READ)


def assert_state(lock, readers, write_locked, pending_readers=0, pending_writers=0):
    assert (lock.props.readers, lock.props.write_locked,
            lock.props.pending_readers, lock.props.pending_writers) == \
        (readers, write_locked, pending_readers, pending_writers)


def assert_only_hold(lock, mode):
    """The lock has one hold, in mode, and nothing queued."""
    assert_state(lock, 0 if mode == WRITE else 1, mode == WRITE)


# ---- try_acquire ----

@pytest.mark.parametrize('mode', [READ, UPGRADABLE_READ, WRITE])
def test_try_acquire_each_mode(lock, mode):
    guard = lock.try_acquire(mode)
    assert isinstance(guard, Aio.RwLockGuard)
    assert guard.get_mode() == mode and guard.is_held()
    assert guard.get_lock() == lock
    assert_only_hold(lock, mode)
    guard.release()
    assert_state(lock, 0, False)


@pytest.mark.parametrize('held, asked', [
    (WRITE, READ), (WRITE, UPGRADABLE_READ), (WRITE, WRITE),
    (READ, WRITE), (UPGRADABLE_READ, UPGRADABLE_READ), (UPGRADABLE_READ, WRITE),
])
def test_try_acquire_would_block(lock, held, asked):
    holder = lock.try_acquire(held)
    with pytest.raises(GLib.Error) as excinfo:
        lock.try_acquire(asked)
    assert_io_error(excinfo, Gio.IOErrorEnum.WOULD_BLOCK)
    # Nothing queued, nothing taken.
    assert_only_hold(lock, held)
    holder.release()


def test_try_acquire_behind_a_queued_writer_would_block(lock, callbacks):
    # FAIR: a writer in the queue stops newcomers, even compatible ones.
    reader = lock.try_acquire(READ)
    lock.acquire_write_async(None, callbacks('w'))
    with pytest.raises(GLib.Error) as excinfo:
        lock.try_acquire(READ)
    assert_io_error(excinfo, Gio.IOErrorEnum.WOULD_BLOCK)
    assert_state(lock, 1, False, 0, 1)
    reader.release()
    lock.acquire_write_finish(callbacks.wait('w')).release()


@pytest.mark.parametrize('mode', [READ, UPGRADABLE_READ, WRITE])
def test_try_acquire_on_a_closed_lock(lock, mode):
    lock.close()
    with pytest.raises(GLib.Error) as excinfo:
        lock.try_acquire(mode)
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)

    # CLOSED, not WOULD_BLOCK, while someone holds a closed lock too.
    other = Aio.RwLock()
    holder = other.try_acquire(WRITE)
    other.close()
    with pytest.raises(GLib.Error) as excinfo:
        other.try_acquire(mode)
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    holder.release()


# ---- try_upgrade ----

def test_try_upgrade(lock):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)

    # Another reader holds: WOULD_BLOCK, the guard as it was, nothing queued.
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_io_error(excinfo, Gio.IOErrorEnum.WOULD_BLOCK)
    assert guard.get_mode() == UPGRADABLE_READ
    assert_state(lock, 2, False)

    reader.release()
    assert guard.try_upgrade() is True
    assert guard.get_mode() == WRITE
    assert_state(lock, 0, True)

    # A WRITE guard succeeds and stays WRITE.
    assert guard.try_upgrade() is True
    assert guard.get_mode() == WRITE
    guard.release()

    # Released: NOT_HELD.
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_aio_error(excinfo, Aio.RwLockError.NOT_HELD)


def test_try_upgrade_of_a_read_guard_would_deadlock(lock):
    guard = lock.try_acquire(READ)
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_aio_error(excinfo, Aio.RwLockError.WOULD_DEADLOCK)
    assert guard.get_mode() == READ and guard.is_held()
    guard.release()


def test_try_upgrade_while_an_upgrade_is_pending(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    guard.upgrade_async(None, callbacks('up'))
    assert lock.props.pending_writers == 1
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_io_error(excinfo, Gio.IOErrorEnum.PENDING)

    reader.release()
    assert guard.upgrade_finish(callbacks.wait('up')) is True
    assert guard.get_mode() == WRITE
    guard.release()


def test_try_upgrade_on_a_closed_lock(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    lock.close()
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    assert guard.get_mode() == UPGRADABLE_READ and guard.is_held()
    reader.release()
    guard.release()


def test_try_upgrade_goes_ahead_of_queued_writers(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    lock.acquire_write_async(None, callbacks('w'))
    assert_state(lock, 1, False, 0, 1)
    assert guard.try_upgrade() is True
    assert_state(lock, 0, True, 0, 1)
    guard.release()
    lock.acquire_write_finish(callbacks.wait('w')).release()


# ---- upgrade_full_async ----

def test_upgrade_full_in_time(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    guard.upgrade_full_async(10000, None, callbacks('up'))
    assert lock.props.pending_writers == 1
    callbacks.spin()
    assert not callbacks.ran('up'), 'upgraded while another reader held'
    reader.release()
    result = callbacks.wait('up')
    # The GTask's source is the lock: a guard cannot be a source object.
    source, _ = callbacks.calls['up'][0]
    assert source == lock
    assert guard.upgrade_full_finish(result) is True
    assert guard.get_mode() == WRITE
    assert_state(lock, 0, True)
    guard.release()


def test_upgrade_full_finished_by_the_lock(lock, callbacks):
    # What Gio._promisify does in GJS: finish on the source object.
    guard = lock.try_acquire(UPGRADABLE_READ)
    guard.upgrade_full_async(-1, None, callbacks('up'))
    result = callbacks.wait('up')
    source, _ = callbacks.calls['up'][0]
    assert source.upgrade_finish(result) is True
    assert guard.get_mode() == WRITE
    guard.release()


def test_upgrade_full_times_out_and_leaves_the_guard_upgradable(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    started = GLib.get_monotonic_time()
    guard.upgrade_full_async(50, None, callbacks('up'))
    assert_state(lock, 2, False, 0, 1)

    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('up'))
    assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
    assert GLib.get_monotonic_time() - started >= 50 * 1000
    assert guard.get_mode() == UPGRADABLE_READ and guard.is_held()
    assert_state(lock, 2, False)

    # Still an upgradable guard: it upgrades once the reader has left.
    reader.release()
    assert guard.try_upgrade() is True
    guard.release()


def test_upgrade_full_timeout_zero(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    guard.upgrade_full_async(0, None, callbacks('busy'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('busy'))
    assert_io_error(excinfo, Gio.IOErrorEnum.TIMED_OUT)
    assert guard.get_mode() == UPGRADABLE_READ
    assert_state(lock, 2, False)

    reader.release()
    guard.upgrade_full_async(0, None, callbacks('free'))
    assert guard.upgrade_full_finish(callbacks.wait('free')) is True
    assert guard.get_mode() == WRITE
    guard.release()


def test_upgrade_full_cancelled(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    cancellable = Gio.Cancellable()
    guard.upgrade_full_async(10000, cancellable, callbacks('up'))
    cancellable.cancel()
    assert not callbacks.ran('up')
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('up'))
    assert_io_error(excinfo, Gio.IOErrorEnum.CANCELLED)
    assert guard.get_mode() == UPGRADABLE_READ and guard.is_held()
    assert_state(lock, 2, False)
    reader.release()
    guard.release()


def test_upgrade_full_refusals(lock, callbacks):
    # A READ guard would deadlock.
    reader = lock.try_acquire(READ)
    reader.upgrade_full_async(-1, None, callbacks('read'))
    with pytest.raises(GLib.Error) as excinfo:
        reader.upgrade_full_finish(callbacks.wait('read'))
    assert_aio_error(excinfo, Aio.RwLockError.WOULD_DEADLOCK)
    assert reader.get_mode() == READ

    # A second upgrade of the same guard while one waits: PENDING.
    guard = lock.try_acquire(UPGRADABLE_READ)
    guard.upgrade_full_async(-1, None, callbacks('first'))
    guard.upgrade_full_async(-1, None, callbacks('second'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('second'))
    assert_io_error(excinfo, Gio.IOErrorEnum.PENDING)
    assert not callbacks.ran('first')

    # Closing fails the waiting upgrade with CLOSED; so does a new one.
    lock.close()
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('first'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    guard.upgrade_full_async(-1, None, callbacks('closed'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('closed'))
    assert_aio_error(excinfo, Aio.RwLockError.CLOSED)
    assert guard.get_mode() == UPGRADABLE_READ

    # A released guard: NOT_HELD.
    reader.release()
    guard.release()
    guard.upgrade_full_async(-1, None, callbacks('released'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.upgrade_full_finish(callbacks.wait('released'))
    assert_aio_error(excinfo, Aio.RwLockError.NOT_HELD)


# ---- downgrade_to ----

def test_downgrade_write_to_upgradable_lets_a_queued_reader_in(lock, callbacks):
    guard = lock.try_acquire(WRITE)
    lock.acquire_read_async(None, callbacks('r'))
    lock.acquire_async(UPGRADABLE_READ, -1, None, callbacks('u'))
    lock.acquire_write_async(None, callbacks('w'))
    assert_state(lock, 0, True, 2, 1)

    assert guard.downgrade_to(UPGRADABLE_READ) is True
    assert guard.get_mode() == UPGRADABLE_READ and guard.is_held()
    # The reader enters with the downgrade; the second UPGRADABLE_READ and
    # the writer still wait.
    assert_state(lock, 2, False, 1, 1)
    reader = lock.acquire_read_finish(callbacks.wait('r'))
    assert reader.get_mode() == READ and reader.is_held()
    callbacks.spin()
    assert not callbacks.ran('u') and not callbacks.ran('w')

    # The guard kept the right to upgrade: again once the reader left.
    with pytest.raises(GLib.Error) as excinfo:
        guard.try_upgrade()
    assert_io_error(excinfo, Gio.IOErrorEnum.WOULD_BLOCK)
    reader.release()
    assert guard.try_upgrade() is True
    assert_state(lock, 0, True, 1, 1)

    guard.release()
    lock.acquire_finish(callbacks.wait('u')).release()
    lock.acquire_write_finish(callbacks.wait('w')).release()


@pytest.mark.parametrize('start', [WRITE, UPGRADABLE_READ])
def test_downgrade_to_read(lock, callbacks, start):
    guard = lock.try_acquire(start)
    if start == WRITE:
        lock.acquire_read_async(None, callbacks('r'))
    assert guard.downgrade_to(READ) is True
    assert guard.get_mode() == READ
    if start == WRITE:
        reader = lock.acquire_read_finish(callbacks.wait('r'))
        assert_state(lock, 2, False)
        reader.release()
    # Nothing upgradable is left: another UPGRADABLE_READ fits in.
    other = lock.try_acquire(UPGRADABLE_READ)
    other.release()
    guard.release()


@pytest.mark.parametrize('start, to', [
    (READ, READ), (READ, UPGRADABLE_READ), (READ, WRITE),
    (UPGRADABLE_READ, UPGRADABLE_READ), (UPGRADABLE_READ, WRITE), (WRITE, WRITE),
])
def test_downgrade_to_the_same_or_a_stronger_mode(lock, start, to):
    guard = lock.try_acquire(start)
    with pytest.raises(GLib.Error) as excinfo:
        guard.downgrade_to(to)
    assert_io_error(excinfo, Gio.IOErrorEnum.INVALID_ARGUMENT)
    assert guard.get_mode() == start
    assert_only_hold(lock, start)
    guard.release()

    with pytest.raises(GLib.Error) as excinfo:
        guard.downgrade_to(READ)
    assert_aio_error(excinfo, Aio.RwLockError.NOT_HELD)


def test_downgrade_to_while_an_upgrade_is_pending(lock, callbacks):
    guard = lock.try_acquire(UPGRADABLE_READ)
    reader = lock.try_acquire(READ)
    guard.upgrade_full_async(-1, None, callbacks('up'))
    with pytest.raises(GLib.Error) as excinfo:
        guard.downgrade_to(READ)
    assert_io_error(excinfo, Gio.IOErrorEnum.PENDING)
    assert_state(lock, 2, False, 0, 1)

    reader.release()
    assert guard.upgrade_full_finish(callbacks.wait('up')) is True
    assert guard.downgrade_to(UPGRADABLE_READ) is True
    assert_state(lock, 1, False)
    guard.release()
