#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# quickstart.py: readers share, a writer waits its turn and holds alone.
# The same scenario as quickstart.c, through PyGObject: three readers, a
# writer a little later, and three readers that arrive while the writer is
# queued, on one main loop. Exits 1 if the lock misbehaves or it hangs.

import sys

import gi
gi.require_version('Aio', '1')
from gi.repository import Aio, GLib  # noqa: E402

TIMELINE_WIDTH = 60
SAFETY_TIMEOUT_SECONDS = 10

READ, WRITE = Aio.RwLockMode.READ, Aio.RwLockMode.WRITE


class Actor:
    def __init__(self, name, mode, arrive_ms, hold_ms):
        self.name, self.mode = name, mode
        self.arrive_ms, self.hold_ms = arrive_ms, hold_ms
        self.guard = None
        # Monotonic times in µs; None until the event happened.
        self.asked_at = self.acquired_at = self.released_at = None


actors = [
    Actor('reader 1', READ, 0, 120),
    Actor('reader 2', READ, 10, 120),
    Actor('reader 3', READ, 20, 120),
    Actor('writer', WRITE, 40, 150),
    Actor('reader 4', READ, 60, 120),
    Actor('reader 5', READ, 70, 120),
    Actor('reader 6', READ, 80, 120),
]

lock = Aio.RwLock()
loop = GLib.MainLoop()
start = GLib.get_monotonic_time()
failures = []


def log_event(actor, when, what):
    # One line per event, with the lock's state right after it.
    print(f'[{(when - start) // 1000:4d} ms] {actor.name:<8} {what:<8} '
          f'(readers={lock.props.readers}, '
          f'write-locked={"yes" if lock.props.write_locked else "no"}, '
          f'pending readers={lock.props.pending_readers}, '
          f'pending writers={lock.props.pending_writers})')


def release(actor):
    actor.released_at = GLib.get_monotonic_time()
    # Explicit: a reference kept anywhere else would keep the hold alive.
    actor.guard.release()
    actor.guard = None
    # Logged after the release: a waiter that was just granted already
    # shows in the counts, before its own callback has run.
    log_event(actor, actor.released_at, 'released')
    if all(a.released_at is not None for a in actors):
        loop.quit()
    return GLib.SOURCE_REMOVE


def on_acquired(lock, result, actor):
    try:
        if actor.mode == WRITE:
            actor.guard = lock.acquire_write_finish(result)
        else:
            actor.guard = lock.acquire_read_finish(result)
    except GLib.Error as e:
        # Nothing cancels or closes the lock here, so this is a bug.
        failures.append(f'{actor.name}: acquisition failed: {e.message}')
        loop.quit()
        return
    actor.acquired_at = GLib.get_monotonic_time()
    log_event(actor, actor.acquired_at, 'acquired')
    # Hold the lock for a while without blocking the main loop.
    GLib.timeout_add(actor.hold_ms, release, actor)


def arrive(actor):
    actor.asked_at = GLib.get_monotonic_time()
    if actor.mode == WRITE:
        lock.acquire_write_async(None, on_acquired, actor)
    else:
        lock.acquire_read_async(None, on_acquired, actor)
    # Logged after the call: a request that has to wait shows as pending.
    log_event(actor, actor.asked_at, 'asks')
    return GLib.SOURCE_REMOVE


def safety_timeout():
    failures.append(f'the scenario did not finish within {SAFETY_TIMEOUT_SECONDS} s')
    loop.quit()
    return GLib.SOURCE_REMOVE


def overlap_us(a0, a1, b0, b1):
    """How long the intervals [a0, a1) and [b0, b1) share, in µs."""
    return max(min(a1, b1) - max(a0, b0), 0)


def print_timeline(end):
    total_us = max(end - start, 1)
    print('\ntimeline (R/W = holds the lock, . = waits for it):\n')
    for actor in actors:
        held = 'W' if actor.mode == WRITE else 'R'
        row = ''
        # Each column shows what filled most of its slice of time, so the
        # main-loop round trip before an immediate grant is not "waiting".
        for col in range(TIMELINE_WIDTH):
            c0 = start + (total_us * col) // TIMELINE_WIDTH
            c1 = start + (total_us * (col + 1)) // TIMELINE_WIDTH
            holding = overlap_us(c0, c1, actor.acquired_at, actor.released_at)
            waiting = overlap_us(c0, c1, actor.asked_at, actor.acquired_at)
            idle = (c1 - c0) - holding - waiting
            if holding >= waiting and holding >= idle:
                row += held
            elif waiting >= idle:
                row += '.'
            else:
                row += ' '
        print(f'  {actor.name:<8} |{row}|')

    axis = ''.join('+' if col % 10 == 0 else '-' for col in range(1, TIMELINE_WIDTH))
    print(f'  {"":<8} +{axis}-+')
    labels = ''.join(f'{(total_us * col) // TIMELINE_WIDTH // 1000:<10d}'
                     for col in range(0, TIMELINE_WIDTH, 10))
    print(f'  {"ms":<8}  {labels} {total_us // 1000}\n')


def main():
    policy = 'FAIR' if lock.props.policy == Aio.RwLockPolicy.FAIR else 'other'
    print(f'policy: {policy} (the default: no barging)\n')

    for actor in actors:
        GLib.timeout_add(actor.arrive_ms, arrive, actor)
    safety_id = GLib.timeout_add_seconds(SAFETY_TIMEOUT_SECONDS, safety_timeout)
    loop.run()

    if failures:
        print('error: ' + '\n'.join(failures), file=sys.stderr)
        return 1
    GLib.source_remove(safety_id)

    print_timeline(max(a.released_at for a in actors))

    # Everything below comes from the recorded intervals, so the picture
    # and the exit status cannot disagree with what really happened.
    writer = next(a for a in actors if a.mode == WRITE)
    readers = [a for a in actors if a.mode == READ]
    # Concurrency peaks at some reader's entry: count who holds then.
    max_readers = max(sum(1 for b in readers if b.acquired_at <= a.acquired_at < b.released_at)
                      for a in readers)
    writer_alone = all(overlap_us(a.acquired_at, a.released_at,
                                  writer.acquired_at, writer.released_at) == 0
                       for a in readers)
    # FAIR: a reader that asked after the writer enters after it.
    late_readers_waited = all(a.acquired_at >= writer.released_at
                              for a in readers if a.asked_at > writer.asked_at)

    yes_no = {True: 'yes', False: 'no'}
    print(f'check: max concurrent readers = {max_readers}; '
          f'writer overlapped with nobody: {yes_no[writer_alone]}; '
          f'late readers waited for the writer: {yes_no[late_readers_waited]}')

    if max_readers < 2 or not writer_alone or not late_readers_waited:
        print('error: the lock did not behave as expected', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
