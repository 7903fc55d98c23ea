#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# GI smoke test: the typelib from the build tree loads in PyGObject and the
# acquire/finish pairs work with callbacks.

import sys

import gi
gi.require_version('Aio', '1')
gi.require_version('Gio', '2.0')
from gi.repository import Aio, Gio, GLib  # noqa: E402

loop = GLib.MainLoop()
lock = Aio.RwLock()
assert lock.props.policy == Aio.RwLockPolicy.FAIR
assert Aio.MAJOR_VERSION == 1 and isinstance(Aio.VERSION_S, str)
events = []


def on_read(source, result, name):
    guard = source.acquire_read_finish(result)
    events.append((name, guard.get_mode(), source.props.readers))
    guards.append(guard)
    if len(guards) == 2:
        source.acquire_write_async(None, on_write, 'w')
        for g in guards:
            g.release()


def on_write(source, result, name):
    guard = source.acquire_write_finish(result)
    events.append((name, guard.get_mode(), source.props.readers))
    assert source.props.write_locked
    guard.release()
    assert not guard.is_held()
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    source.acquire_async(Aio.RwLockMode.WRITE, -1, cancellable, on_cancelled, 'c')


def on_cancelled(source, result, name):
    try:
        source.acquire_finish(result)
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), e
        events.append((name, 'cancelled', source.props.readers))
    loop.quit()


guards = []
lock.acquire_read_async(None, on_read, 'r1')
lock.acquire_read_async(None, on_read, 'r2')
GLib.timeout_add_seconds(10, lambda: sys.exit('timed out'))
loop.run()

print(events)
assert events == [('r1', Aio.RwLockMode.READ, 2), ('r2', Aio.RwLockMode.READ, 2),
                  ('w', Aio.RwLockMode.WRITE, 0), ('c', 'cancelled', 0)], events

# Errors carry the Aio domain.
guard = lock.try_acquire_read()
guard.release()
try:
    guard.reenter(Aio.RwLockMode.READ)
    raise AssertionError('reenter on a released guard succeeded')
except GLib.Error as e:
    assert e.matches(Aio.rw_lock_error_quark(), Aio.RwLockError.NOT_HELD), e
print('ok')
