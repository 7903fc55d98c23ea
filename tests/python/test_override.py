# SPDX-License-Identifier: LGPL-2.1-or-later
"""The gi.overrides.Aio module: `with guard:` ends the hold at the end of
the block, and hidden references are why that is the rule."""

import gc
import os

from gi.repository import Aio
import pytest


def test_override_comes_from_the_build_tree():
    import gi.overrides.Aio as override
    expected = os.environ.get('AIO_PYTHON_OVERRIDE_DIR')
    assert expected, 'the test environment must point PYTHONPATH at the override'
    assert os.path.dirname(override.__file__) == os.path.join(expected, 'gi', 'overrides')
    assert Aio.RwLockGuard is override.RwLockGuard
    assert override.RwLockGuard.__mro__[1] is Aio._introspection_module.RwLockGuard


def test_with_releases_at_the_end_of_the_block(lock):
    with lock.try_acquire_write() as guard:
        assert isinstance(guard, Aio.RwLockGuard)
        assert guard.is_held() and lock.props.write_locked
    assert not guard.is_held() and not lock.props.write_locked


def test_with_releases_when_the_block_raises(lock):
    with pytest.raises(RuntimeError):
        with lock.try_acquire_read() as guard:
            raise RuntimeError('boom')
    assert not guard.is_held() and lock.props.readers == 0


def test_with_after_an_early_release(lock):
    # G_DEBUG=fatal-criticals in the test env: a second release would abort.
    with lock.try_acquire_read() as guard:
        guard.release()
    assert not guard.is_held()


def test_with_after_a_downgrade(lock):
    with lock.try_acquire_write() as guard:
        guard.downgrade()
        assert lock.props.readers == 1
    assert lock.props.readers == 0


def test_with_on_an_async_guard(lock, callbacks):
    lock.acquire_write_async(None, callbacks('w'))
    with lock.acquire_write_finish(callbacks.wait('w')):
        assert lock.props.write_locked
    assert not lock.props.write_locked


def test_a_stored_traceback_keeps_a_guard_alive(lock):
    def work():
        guard = lock.try_acquire_write()  # noqa: F841 (held by the frame)
        raise RuntimeError('failed while holding the lock')

    try:
        work()
    except RuntimeError as e:
        saved = e  # e.g. kept by a logger or a test runner
    gc.collect()
    # The traceback keeps work()'s frame, and the frame keeps the guard.
    assert lock.props.write_locked
    del saved
    gc.collect()
    assert not lock.props.write_locked


def test_with_is_immune_to_a_stored_traceback(lock):
    def work():
        with lock.try_acquire_write():
            raise RuntimeError('failed while holding the lock')

    try:
        work()
    except RuntimeError as e:
        saved = e
    # The traceback still holds work()'s frame, but the hold has ended.
    assert saved.__traceback__ is not None
    assert not lock.props.write_locked


def test_error_in_a_callback_does_not_leak_with_with(lock, callbacks):
    # The shape an application callback should have.
    failures = []

    def on_write(source, result):
        try:
            with source.acquire_write_finish(result):
                raise ValueError('bad data')
        except ValueError as e:
            failures.append(e)
        callbacks('done')(source, result)

    lock.acquire_write_async(None, on_write)
    callbacks.wait('done')
    assert failures and not lock.props.write_locked
    assert isinstance(failures[0], ValueError)
