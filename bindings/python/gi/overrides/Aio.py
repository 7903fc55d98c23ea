# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject override for the Aio namespace (aiorwlock-glib).

It makes the library feel like aiorwlock to an asyncio program, on every
PyGObject (3.42, which has no asyncio integration, included):

``lock.reader`` and ``lock.writer``
    aiorwlock's ``rw.reader`` / ``rw.writer``: ``async with lock.reader:``,
    ``await lock.writer.acquire()`` (returns ``True``) and
    ``lock.writer.release()`` from the same task, ``lock.reader.locked``.
    Holds are tracked per asyncio task: inside a task that holds
    ``lock.writer``, ``lock.reader`` (and ``lock.writer`` again) is granted
    at once by re-entering its guard; inside one that holds only
    ``lock.reader``, ``lock.writer`` raises ``RuntimeError``.
    ``reader_lock`` / ``writer_lock`` are aliases, as in aiorwlock.

every ``_async`` method called without a callback returns an awaitable
    ``guard = await lock.acquire_async(Aio.RwLockMode.WRITE, 500, None)``,
    as PyGObject >= 3.50 does for GIO calls; errors (a deadline's
    ``G_IO_ERROR_TIMED_OUT``, ``AIO_RW_LOCK_ERROR_CLOSED``, ...) are raised
    as ``GLib.Error`` by the ``await``. The request is made by the call,
    not by the ``await``. With a callback the methods are unchanged.

cancellation
    Cancelling the awaiting task (``task.cancel()``, ``asyncio.wait_for``,
    ``asyncio.timeout``) cancels the request through a ``Gio.Cancellable``
    (the one passed, or one of the override's), and the task sees
    ``CancelledError`` only once the request has ended: a grant that raced
    with the cancellation is released (an upgrade undone) first.

guards
    A guard is a context manager (``with lock.acquire_write_finish(res):``);
    releasing a released guard raises ``RuntimeError`` ("Cannot release an
    un-acquired lock") instead of a critical.

How it reaches asyncio. A lock completes a request on the thread-default
GLib main context of the thread that made it. On a plain asyncio event
loop nothing iterates a GLib context, so requests that must wait are made
from a thread of the override's (the bridge), which owns a main context
of its own and iterates it; the results are handed to the asyncio loop
with ``call_soon_threadsafe``. A request that can be granted at once takes
its hold on the asyncio thread (``try_acquire``), with no round trip; it
takes that path only while no earlier request of the same loop on the same
lock is still on its way, so a later task never passes an earlier one but
as the lock's policy says. On a GLib-based asyncio loop (``gi.events`` of
PyGObject >= 3.50) requests are made on the loop's own thread and context
and complete there, with no bridge (that path cannot run on PyGObject 3.42:
the tests run it only under a stand-in loop that iterates a GLib context).

Why explicit release (or ``with``) is the rule in Python: a guard that is
never released ends its hold only when its last reference goes, and Python
keeps references you cannot see. A traceback (``sys.exc_info()``,
``sys.last_traceback``, an exception stored by a test runner or a logger)
keeps every local of the frames it crosses, guards included; so does a
result or closure stored anywhere, a reference cycle until the cycle
collector runs, or a debugger. Until then the lock stays held and every
waiter stalls. Relying on ``del guard`` is therefore only safe when you know
nothing else refers to it; ``guard.release()`` in a ``finally`` or a
``with`` block ends the hold at a known point whatever else refers to it.
"""

import asyncio
import atexit
import collections
import os
import threading
import traceback
import weakref

from gi.repository import Gio, GLib

from ..module import get_introspection_module
from ..overrides import override

Aio = get_introspection_module('Aio')

try:  # PyGObject >= 3.50
    from gi.events import GLibEventLoop as _GLibEventLoop
except ImportError:
    _GLibEventLoop = None

__all__ = []

_READ = Aio.RwLockMode.READ
_WRITE = Aio.RwLockMode.WRITE
_UPGRADABLE_READ = Aio.RwLockMode.UPGRADABLE_READ

# aiorwlock's words.
_NOT_ACQUIRED = 'Cannot release an un-acquired lock'
_NO_UPGRADE = 'Cannot upgrade RWLock from read to write'


def _find_current_tasks():
    # CPython's map of running loop -> the task it is running (the one
    # asyncio.current_task() reads), where this Python has one.
    tasks = getattr(asyncio.tasks, '_current_tasks', None)
    return tasks if isinstance(tasks, dict) else None


_current_tasks = _find_current_tasks()
_current_tasks_trusted = False
_get_ident = threading.get_ident
_thread_state = threading.local()


def _get_running_loop():
    """asyncio.get_running_loop(), where possible without its system call.

    On CPython 3.11 asyncio.get_running_loop() (and so current_task())
    asks the kernel for the process id on every call, to notice a fork; on
    a virtual machine that was most of the cost of an uncontended
    ``async with lock.reader:``. The loop that runs on this thread is
    remembered, and trusted while it says it runs here (its
    ``_thread_id``, as BaseEventLoop keeps it); any other loop takes
    asyncio.get_running_loop() every time.
    """
    loop_ref = getattr(_thread_state, 'loop_ref', None)
    if loop_ref is not None:
        loop = loop_ref()
        if loop is not None and loop._thread_id == _get_ident():
            return loop
    loop = asyncio.get_running_loop()
    if getattr(loop, '_thread_id', None) == _get_ident():
        _thread_state.loop_ref = weakref.ref(loop)
    return loop


def _current_task():
    """asyncio.current_task(), from the remembered loop where that gives
    the same answer (checked on the first task seen)."""
    global _current_tasks_trusted
    if _current_tasks_trusted:
        return _current_tasks.get(_get_running_loop())
    task = asyncio.current_task()
    if task is not None and _current_tasks is not None:
        _current_tasks_trusted = _current_tasks.get(_get_running_loop()) is task
    return task


# --- Where requests that wait are made ----------------------------------

class _Bridge:
    """A thread that owns a GLib main context and iterates it.

    ``call(func, *args)`` runs ``func(*args)`` on that thread, in call
    order, with the context as the thread-default one, so every request
    made there completes there. ``g_main_context_push_thread_default()``
    acquires the context, which is why the requests are made by this
    thread and not by pushing its context on another one.
    """

    def __init__(self):
        self.context = GLib.MainContext.new()
        self._main_loop = GLib.MainLoop.new(self.context, False)
        self._queue = collections.deque()
        self._mutex = threading.Lock()
        self._wakeup_pending = False
        self._thread = threading.Thread(target=self._run, name='Aio asyncio bridge', daemon=True)
        self._thread.start()

    def _run(self):
        self.context.push_thread_default()
        try:
            self._main_loop.run()
        finally:
            self.context.pop_thread_default()

    def call(self, func, *args):
        with self._mutex:
            self._queue.append((func, args))
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        source = GLib.idle_source_new()
        source.set_priority(GLib.PRIORITY_DEFAULT)
        source.set_callback(self._drain)
        source.attach(self.context)

    def _drain(self, _data):
        with self._mutex:
            self._wakeup_pending = False
        queue = self._queue
        while queue:
            func, args = queue.popleft()
            try:
                func(*args)
            except Exception:
                # Never reached by the override's own calls, which report
                # their errors to their awaiters; keep serving the others.
                traceback.print_exc()
        return GLib.SOURCE_REMOVE

    def stop(self):
        source = GLib.idle_source_new()
        source.set_callback(lambda _data: self._main_loop.quit())
        source.attach(self.context)
        self._thread.join(1.0)


_bridge = None
_bridge_mutex = threading.Lock()


def _get_bridge():
    global _bridge
    bridge = _bridge
    if bridge is None:
        with _bridge_mutex:
            if _bridge is None:
                _bridge = _Bridge()
            bridge = _bridge
    return bridge


@atexit.register
def _stop_bridge():
    global _bridge
    bridge, _bridge = _bridge, None
    if bridge is not None:
        bridge.stop()


def _after_fork_in_child():
    # The child of a fork has no bridge thread (it makes its own), and runs
    # no loop, whatever the forking thread remembered.
    global _bridge, _thread_state
    _bridge = None
    _thread_state = threading.local()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _is_glib_loop(loop):
    return _GLibEventLoop is not None and isinstance(loop, _GLibEventLoop)


# --- Per-lock bookkeeping -----------------------------------------------

class _LockState:
    """What the override keeps per lock (in the lock wrapper's __dict__,
    which PyGObject keeps as long as the lock lives).

    ``owning``: asyncio task -> [(mode, guard), ...], the holds taken
    through ``lock.reader`` / ``lock.writer``, oldest first. As in
    aiorwlock, a task that ends without releasing keeps its holds (the
    lock stays held, visibly, rather than being let go behind the back of
    whoever relied on it).

    ``handed``: [(mode, guard), ...], holds taken by a task that ran
    nothing but ``lock.reader.acquire()`` / ``lock.writer.acquire()``
    (``asyncio.wait_for(lock.writer.acquire(), t)`` on Python 3.11, whose
    wait_for runs the coroutine in a task of its own; ``ensure_future``;
    ``gather``). Such a task ends as soon as it has the hold, so the hold
    is for whoever awaited it: the ``release()`` of a task that has no hold
    of that side of its own ends one of these.

    ``waiting``: (loop, key) -> number of requests of that loop on this
    lock (key None) or on this table key that are on their way, made but
    not yet delivered to the loop. A fast path (``try_acquire``) is taken
    only while there is none, so it never passes them.
    """

    __slots__ = ('owning', 'handed', 'waiting')

    def __init__(self):
        self.owning = {}
        self.handed = []
        self.waiting = {}


_handed_mutex = threading.Lock()


def _state_of(obj):
    d = obj.__dict__
    state = d.get('_aio_state')
    if state is None:
        state = d.setdefault('_aio_state', _LockState())
    return state


def _may_take_fast_path(state, loop, key=None):
    waiting = state.waiting
    if not waiting:
        return True
    return (loop, key) not in waiting and (key is None or (loop, None) not in waiting)


class _Counted:
    """One request counted in a _LockState's ``waiting`` until delivered."""

    __slots__ = ('_waiting', '_key')

    def __init__(self, state, loop, key):
        self._waiting = state.waiting
        self._key = (loop, key)
        self._waiting[self._key] = self._waiting.get(self._key, 0) + 1

    def done(self):
        n = self._waiting[self._key] - 1
        if n:
            self._waiting[self._key] = n
        else:
            del self._waiting[self._key]


# --- The awaitable -------------------------------------------------------

class _Pending:
    """What an ``_async`` method called without a callback returns.

    Await it (once) for what the ``_finish`` function returns, or its
    ``GLib.Error``. ``cancel()`` cancels the request's cancellable; so
    does cancelling the task that awaits it, which then waits until the
    request has ended and undoes a grant that raced with the cancel.
    """

    __slots__ = ('_loop', '_cancellable', '_finish', '_undo', '_counted',
                 '_delivered', '_value', '_error', '_waiter', '_abandoned')

    def __init__(self, loop, cancellable, finish, undo, counted):
        self._loop = loop
        self._cancellable = cancellable
        self._finish = finish
        self._undo = undo
        self._counted = counted
        self._delivered = False
        self._value = None
        self._error = None
        self._waiter = None
        self._abandoned = False

    @classmethod
    def ready(cls, value):
        """A request granted at once, on the caller's thread."""
        self = cls(None, None, None, None, None)
        self._delivered = True
        self._value = value
        return self

    @property
    def cancellable(self):
        return self._cancellable

    def cancel(self):
        if self._cancellable is not None:
            self._cancellable.cancel()

    def done(self):
        return self._delivered

    def _start(self, begin):
        """Makes the request: ``begin(cancellable, callback)``."""
        loop = self._loop
        if _is_glib_loop(loop):
            # The loop iterates its own GLib context: make the request
            # there, and it completes on the loop's thread.
            context = loop._context
            context.push_thread_default()
            try:
                begin(self._cancellable, self._on_ready_direct)
            except Exception as e:
                self._deliver(None, e)
            finally:
                context.pop_thread_default()
        else:
            _get_bridge().call(self._begin_on_bridge, begin)

    def _begin_on_bridge(self, begin):
        try:
            begin(self._cancellable, self._on_ready_bridged)
        except Exception as e:
            self._post(None, e)

    def _outcome(self, result):
        try:
            return self._finish(result), None
        except Exception as e:
            return None, e

    def _on_ready_direct(self, _source, result, *_user_data):
        self._deliver(*self._outcome(result))

    def _on_ready_bridged(self, _source, result, *_user_data):
        self._post(*self._outcome(result))

    def _post(self, value, error):
        # On the bridge's thread.
        try:
            self._loop.call_soon_threadsafe(self._deliver, value, error)
        except RuntimeError:
            # The loop is closed: nobody can receive the result.
            if self._counted is not None:
                self._counted.done()
            if error is None and self._undo is not None:
                self._undo(value)

    def _deliver(self, value, error):
        # On the loop's thread.
        self._delivered = True
        self._value = value
        self._error = error
        if self._counted is not None:
            self._counted.done()
            self._counted = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _abandon(self):
        self._abandoned = True
        value, self._value = self._value, None
        if self._error is None and self._undo is not None:
            self._undo(value)

    def __await__(self):
        if not self._delivered:
            if self._waiter is not None:
                raise RuntimeError('this request is already awaited')
            try:
                while not self._delivered:
                    self._waiter = self._loop.create_future()
                    yield from self._waiter
            except asyncio.CancelledError:
                # Cancel the request, wait until it has ended however
                # often we are cancelled meanwhile, and undo a grant.
                self.cancel()
                while not self._delivered:
                    self._waiter = self._loop.create_future()
                    try:
                        yield from self._waiter
                    except asyncio.CancelledError:
                        pass
                self._abandon()
                raise
            finally:
                self._waiter = None
        if self._abandoned:
            raise asyncio.CancelledError()
        if self._error is not None:
            raise self._error
        return self._value


def _running_loop(name):
    try:
        return _get_running_loop()
    except RuntimeError:
        raise RuntimeError(f'{name}() without a callback returns an awaitable: '
                           'call it from a coroutine running in an asyncio event loop, '
                           'or pass a callback') from None


def _release_guard(guard):
    if guard is not None and Aio.RwLockGuard.is_held(guard):
        Aio.RwLockGuard.release(guard)


def _try_acquire(lock, mode):
    """A hold granted at once, or None."""
    if mode == _READ:
        return Aio.RwLock.try_acquire_read(lock)
    if mode == _WRITE:
        return Aio.RwLock.try_acquire_write(lock)
    try:
        return Aio.RwLock.try_acquire(lock, mode)
    except GLib.Error:
        return None


def _request(obj, state, key, name, cancellable, begin, finish, undo, fast=None):
    """An awaitable for one request on a lock (key None) or table key.

    ``fast()`` returns a guard when one can be had at once, else None; it
    is tried only when the caller's cancellable is not cancelled and no
    earlier request of this loop on the same lock is on its way.
    """
    loop = _running_loop(name)
    if fast is not None and _may_take_fast_path(state, loop, key) and \
            (cancellable is None or not cancellable.is_cancelled()):
        guard = fast()
        if guard is not None:
            return _Pending.ready(guard)
    if cancellable is None:
        cancellable = Gio.Cancellable()
    pending = _Pending(loop, cancellable, finish, undo, _Counted(state, loop, key))
    pending._start(begin)
    return pending


# --- aiorwlock's reader and writer ----------------------------------------

class _LockSide:
    """``lock.reader`` / ``lock.writer``: one side of the lock, as aiorwlock's."""

    __slots__ = ('_lock',)
    _mode = None
    _name = None

    def __init__(self, lock):
        self._lock = lock

    def __repr__(self):
        return f'<{self._name} of {self._lock!r}: [{"locked" if self.locked else "unlocked"}]>'

    def __enter__(self):
        raise RuntimeError(f'"async with lock.{self._name}:" is the form of {self._name}; '
                           'a plain "with" takes a guard (with lock.try_acquire_write() as guard:)')

    def __exit__(self, *exc_info):
        pass  # never reached: __enter__ raises

    async def acquire(self):
        """Waits for a hold of this side for the current task; returns True."""
        return await _acquire_side(self._lock, self._mode)

    __aenter__ = acquire

    async def __aexit__(self, *exc_info):
        self.release()

    def release(self):
        """Ends the most recent hold of this side taken by the current task."""
        try:
            task = _current_task()
        except RuntimeError:
            task = None
        if task is None:
            raise RuntimeError(_NOT_ACQUIRED)
        state = _state_of(self._lock)
        mode = self._mode
        holds = state.owning.get(task)
        if holds:
            for i in range(len(holds) - 1, -1, -1):
                if holds[i][0] == mode:
                    guard = holds.pop(i)[1]
                    if not holds:
                        del state.owning[task]
                    Aio.RwLockGuard.release(guard)
                    return
        guard = None
        with _handed_mutex:  # tasks of loops on other threads may take them too
            handed = state.handed
            for i in range(len(handed) - 1, -1, -1):
                if handed[i][0] == mode:
                    guard = handed.pop(i)[1]
                    break
        if guard is None:
            raise RuntimeError(_NOT_ACQUIRED)
        Aio.RwLockGuard.release(guard)


def _record_hold(state, task, mode, guard):
    if getattr(task.get_coro(), 'cr_code', None) in _ACQUIRE_CODES:
        # The task ends with this acquire: the hold is for its awaiter.
        state.handed.append((mode, guard))
    else:
        state.owning[task] = [(mode, guard)]
    return True


async def _acquire_side(lock, mode):
    """The hold of ``lock.reader`` / ``lock.writer`` for the current task."""
    task = _current_task()
    if task is None:
        raise RuntimeError(f'lock.{"reader" if mode == _READ else "writer"} is acquired '
                           'from an asyncio task')
    state = _state_of(lock)
    holds = state.owning.get(task)
    if holds:
        # Re-entry, as aiorwlock: granted at once, never queued.
        for held_mode, guard in reversed(holds):
            if mode == _READ or held_mode == _WRITE:
                holds.append((mode, guard.reenter(mode)))
                return True
        raise RuntimeError(_NO_UPGRADE)
    loop = task.get_loop()
    if not state.waiting or _may_take_fast_path(state, loop):
        guard = Aio.RwLock.try_acquire_read(lock) if mode == _READ else \
            Aio.RwLock.try_acquire_write(lock)
        if guard is not None:
            return _record_hold(state, task, mode, guard)
    pending = _Pending(loop, Gio.Cancellable(), lock.acquire_finish, _release_guard,
                       _Counted(state, loop, None))
    pending._start(lambda c, cb: Aio.RwLock.acquire_async(lock, mode, -1, c, cb))
    guard = await pending
    return _record_hold(state, task, mode, guard)


class _Reader(_LockSide):
    __slots__ = ()
    _mode = _READ
    _name = 'reader'

    @property
    def locked(self):
        """Whether the lock is read-held (also by a writer that took the reader)."""
        return self._lock.is_read_locked()


class _Writer(_LockSide):
    __slots__ = ()
    _mode = _WRITE
    _name = 'writer'

    @property
    def locked(self):
        """Whether the lock is write-held."""
        return self._lock.is_write_locked()


# The coroutine of lock.reader.acquire() / lock.writer.acquire(): a task
# that runs it and nothing else takes a hold for its awaiter.
_ACQUIRE_CODES = frozenset((_LockSide.acquire.__code__,))


# --- The overridden classes -----------------------------------------------

class RwLock(Aio.RwLock):
    """An asynchronous read-write lock; see the module's documentation."""

    @property
    def reader(self):
        """The lock for read (shared) access, as aiorwlock's ``rw.reader``."""
        return _Reader(self)

    reader_lock = reader

    @property
    def writer(self):
        """The lock for write (exclusive) access, as aiorwlock's ``rw.writer``."""
        return _Writer(self)

    writer_lock = writer

    def acquire_async(self, mode, timeout_msec, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLock.acquire_async(self, mode, timeout_msec, cancellable, callback,
                                            *args, **kwargs)
        return _request(self, _state_of(self), None, 'acquire_async', cancellable,
                        lambda c, cb: Aio.RwLock.acquire_async(self, mode, timeout_msec, c, cb),
                        self.acquire_finish, _release_guard,
                        lambda: _try_acquire(self, mode))

    def acquire_read_async(self, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLock.acquire_read_async(self, cancellable, callback, *args, **kwargs)
        return _request(self, _state_of(self), None, 'acquire_read_async', cancellable,
                        lambda c, cb: Aio.RwLock.acquire_read_async(self, c, cb),
                        self.acquire_read_finish, _release_guard,
                        lambda: Aio.RwLock.try_acquire_read(self))

    def acquire_write_async(self, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLock.acquire_write_async(self, cancellable, callback, *args, **kwargs)
        return _request(self, _state_of(self), None, 'acquire_write_async', cancellable,
                        lambda c, cb: Aio.RwLock.acquire_write_async(self, c, cb),
                        self.acquire_write_finish, _release_guard,
                        lambda: Aio.RwLock.try_acquire_write(self))

    def upgrade_async(self, guard, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLock.upgrade_async(self, guard, cancellable, callback, *args, **kwargs)
        return _request(self, _state_of(self), None, 'upgrade_async', cancellable,
                        lambda c, cb: Aio.RwLock.upgrade_async(self, guard, c, cb),
                        self.upgrade_finish, lambda _ok: _undo_upgrade(guard))

    def close_async(self, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLock.close_async(self, cancellable, callback, *args, **kwargs)
        # Cancelling close_async cancels the wait, not the close.
        return _request(self, _state_of(self), None, 'close_async', cancellable,
                        lambda c, cb: Aio.RwLock.close_async(self, c, cb),
                        self.close_finish, None)


def _undo_upgrade(guard):
    # A cancelled upgrade leaves the guard as it was: UPGRADABLE_READ.
    if Aio.RwLockGuard.is_held(guard) and Aio.RwLockGuard.get_mode(guard) == _WRITE:
        Aio.RwLockGuard.downgrade_to(guard, _UPGRADABLE_READ)


RwLock = override(RwLock)
__all__.append('RwLock')


class RwLockGuard(Aio.RwLockGuard):
    """One hold of an :class:`Aio.RwLock`; usable as ``with guard: ...``.

    ``__enter__`` returns the guard itself; ``__exit__`` releases it if it
    is still held (a block may release it early, or downgrade it, without
    upsetting the ``with``). Exceptions are never swallowed.
    """

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # The block may legitimately have released it already.
        if Aio.RwLockGuard.is_held(self):
            Aio.RwLockGuard.release(self)
        return False

    def release(self):
        """Ends this hold; ``RuntimeError`` if it has already ended."""
        # Releasing a released guard is a g_critical in C (a programmer
        # error there); Python says it as aiorwlock does.
        if not Aio.RwLockGuard.is_held(self):
            raise RuntimeError(_NOT_ACQUIRED)
        Aio.RwLockGuard.release(self)

    def upgrade_async(self, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLockGuard.upgrade_async(self, cancellable, callback, *args, **kwargs)
        lock = self.get_lock()
        return _request(lock, _state_of(lock), None, 'upgrade_async', cancellable,
                        lambda c, cb: Aio.RwLockGuard.upgrade_async(self, c, cb),
                        self.upgrade_finish, lambda _ok: _undo_upgrade(self))

    def upgrade_full_async(self, timeout_msec, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLockGuard.upgrade_full_async(self, timeout_msec, cancellable, callback,
                                                      *args, **kwargs)
        lock = self.get_lock()
        return _request(lock, _state_of(lock), None, 'upgrade_full_async', cancellable,
                        lambda c, cb: Aio.RwLockGuard.upgrade_full_async(self, timeout_msec, c, cb),
                        self.upgrade_full_finish, lambda _ok: _undo_upgrade(self))


RwLockGuard = override(RwLockGuard)
__all__.append('RwLockGuard')


class RwLockTable(Aio.RwLockTable):
    """A lock per string key; see :class:`RwLock` for the awaitable calls."""

    def acquire_async(self, key, mode, timeout_msec, cancellable=None, callback=None,
                      *args, **kwargs):
        if callback is not None:
            return Aio.RwLockTable.acquire_async(self, key, mode, timeout_msec, cancellable,
                                                 callback, *args, **kwargs)

        def fast():
            try:
                return Aio.RwLockTable.try_acquire(self, key, mode)
            except GLib.Error:
                return None

        return _request(self, _state_of(self), key, 'acquire_async', cancellable,
                        lambda c, cb: Aio.RwLockTable.acquire_async(self, key, mode,
                                                                    timeout_msec, c, cb),
                        self.acquire_finish, _release_guard, fast)

    def close_async(self, cancellable=None, callback=None, *args, **kwargs):
        if callback is not None:
            return Aio.RwLockTable.close_async(self, cancellable, callback, *args, **kwargs)
        return _request(self, _state_of(self), None, 'close_async', cancellable,
                        lambda c, cb: Aio.RwLockTable.close_async(self, c, cb),
                        self.close_finish, None)


RwLockTable = override(RwLockTable)
__all__.append('RwLockTable')
