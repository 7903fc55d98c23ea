# SPDX-License-Identifier: LGPL-2.1-or-later
"""Aio.RwLockMonitor from Python: properties that notify on the main
context (so bind_property works) and a Gio.ListModel of holds and waits."""

from gi.repository import Aio, GLib, GObject

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


class Label(GObject.Object):
    text = GObject.Property(type=str, default='')


def drain_context():
    context = GLib.MainContext.default()
    while context.iteration(False):
        pass


def test_notifies_and_lists(lock, callbacks):
    monitor = Aio.RwLockMonitor.new(lock)
    label = Label()
    monitor.bind_property('readers', label, 'text', GObject.BindingFlags.SYNC_CREATE,
                          lambda _binding, n: f'{n} readers')
    notified = []
    monitor.connect('notify::write-locked', lambda *_: notified.append(monitor.props.write_locked))
    assert label.props.text == '0 readers'

    a = lock.try_acquire_read()
    b = lock.try_acquire_read()
    lock.acquire_write_async(None, callbacks('w'))
    assert label.props.text == '0 readers'  # not inside the calls
    drain_context()
    assert label.props.text == '2 readers'
    assert monitor.props.pending_writers == 1
    items = [monitor.get_item(i) for i in range(monitor.get_n_items())]
    assert [(i.props.mode, i.props.waiting) for i in items] == [(READ, False), (READ, False), (WRITE, True)]

    a.release()
    b.release()
    writer = lock.acquire_write_finish(callbacks.wait('w'))
    drain_context()
    assert notified == [True]
    assert label.props.text == '0 readers'
    assert monitor.get_n_items() == 1 and monitor.get_item(0).props.mode == WRITE
    writer.release()
    drain_context()
    assert notified == [True, False]


def test_label_since_and_thread(lock):
    import threading

    monitor = Aio.RwLockMonitor.new(lock)
    before = GLib.get_monotonic_time()
    guard = lock.try_acquire_read()
    guard.set_label('scan')
    drain_context()
    (info,) = [monitor.get_item(i) for i in range(monitor.get_n_items())]
    assert info.props.label == 'scan'
    assert info.props.since_usec >= before
    assert info.props.thread_id == threading.get_native_id()
    guard.release()
    drain_context()
    assert monitor.get_n_items() == 0
