#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus of fuzz-rw-lock into corpus/ (next to this file).

The input format is described at the top of fuzz-rw-lock.c: byte 0 is the
policy, then opcodes with their argument bytes. Each seed is a short,
readable program; together they use every operation, every policy, every
mode, every timeout choice, the short acquire forms, cancellation before,
during and after the wait, re-entry in every pair of modes, upgrades and
downgrades, close, and the end-of-input drain; and the 1.1 operations:
try_acquire, try_upgrade, upgrade_full, downgrade_to and close_async, each
with every outcome.

Usage: make-corpus.py [OUTPUT_DIR]   (default: corpus/ beside this script)
Existing seed-*.bin files are replaced; other files are left alone.
"""

import os
import sys

FAIR, PREFER_WRITERS, PREFER_READERS = 0, 1, 2
READ, WRITE, UPGRADABLE = 0, 1, 2
NO_TIMEOUT, TIMEOUT_0, TIMEOUT_BIG = 0, 1, 2

(ACQUIRE, TRY_READ, TRY_WRITE, TRY_BLOCKING, RELEASE, DROP, REENTER,
 DOWNGRADE, UPGRADE, CANCEL, DISPATCH, DISPATCH_ALL, CLOSE) = range(13)
(TRY_ACQUIRE, TRY_UPGRADE, UPGRADE_FULL, DOWNGRADE_TO, CLOSE_ASYNC) = range(32, 37)

# How UPGRADE_FULL's result is finished.
FULL_FINISH, GUARD_FINISH, LOCK_FINISH = 0, 1, 2

NO_CANCELLABLE = 0


def slot(n):
    """The cancellable byte for slot n (0..3)."""
    return n + 1


def acquire(mode, timeout=NO_TIMEOUT, cancellable=NO_CANCELLABLE, short=False):
    """ACQUIRE: short=True uses acquire_read_async/acquire_write_async."""
    return [ACQUIRE, mode + 3 * timeout + 9 * int(short), cancellable]


def try_blocking(mode, cancellable=NO_CANCELLABLE):
    return [TRY_BLOCKING, mode, cancellable]


def release(guard):
    return [RELEASE, guard]


def drop(guard):
    return [DROP, guard]


def reenter(guard, mode):
    return [REENTER, guard, mode]


def downgrade(guard):
    return [DOWNGRADE, guard]


def upgrade(guard, cancellable=NO_CANCELLABLE, lock_start=False, lock_finish=False):
    """UPGRADE: lock_start/lock_finish use aio_rw_lock_upgrade_async/_finish
    instead of the guard's methods."""
    return [UPGRADE, guard, cancellable + 5 * int(lock_start) + 10 * int(lock_finish)]


def cancel(n, renew=False):
    return [CANCEL, n + 4 * int(renew)]


def try_acquire(mode):
    return [TRY_ACQUIRE, mode]


def try_upgrade(guard):
    return [TRY_UPGRADE, guard]


def upgrade_full(guard, timeout=NO_TIMEOUT, cancellable=NO_CANCELLABLE,
                 finish=FULL_FINISH):
    return [UPGRADE_FULL, guard, cancellable + 5 * finish, timeout]


def downgrade_to(guard, mode):
    return [DOWNGRADE_TO, guard, mode]


def close_async(cancellable=NO_CANCELLABLE):
    return [CLOSE_ASYNC, cancellable]


def program(policy, *ops):
    data = [policy]
    for op in ops:
        data += op if isinstance(op, list) else [op]
    assert all(0 <= b < 256 for b in data)
    return bytes(data)


# Guard indexes are positions in the harness's table: guards in the order
# they were created (a try_ at once, an async one when its callback ran),
# minus the dropped ones.
SEEDS = {
    # Readers share, a writer waits, FIFO without barging.
    'fair-basic': program(
        FAIR,
        acquire(READ, short=True), acquire(READ), acquire(WRITE, short=True),
        acquire(READ), DISPATCH_ALL,
        release(0), release(1), DISPATCH_ALL,
        release(2), DISPATCH_ALL),
    'prefer-writers': program(
        PREFER_WRITERS,
        TRY_READ, acquire(WRITE), acquire(READ), acquire(WRITE), acquire(READ),
        DISPATCH_ALL, release(0), DISPATCH_ALL, release(1), DISPATCH_ALL,
        release(2), DISPATCH_ALL),
    'prefer-readers': program(
        PREFER_READERS,
        TRY_READ, acquire(WRITE), acquire(READ), acquire(UPGRADABLE),
        acquire(UPGRADABLE), DISPATCH_ALL, release(0), release(1),
        DISPATCH_ALL, release(2), DISPATCH_ALL),
    # The non-blocking paths: try_ and acquire() with timeout 0.
    'try': program(
        FAIR,
        TRY_READ, TRY_READ, TRY_WRITE, try_blocking(UPGRADABLE),
        try_blocking(WRITE), release(0), release(1), release(2), TRY_WRITE,
        TRY_READ, try_blocking(READ), drop(0)),
    'timeout-zero': program(
        PREFER_WRITERS,
        TRY_WRITE, acquire(READ, TIMEOUT_0), acquire(WRITE, TIMEOUT_0),
        acquire(UPGRADABLE, TIMEOUT_0), DISPATCH, release(0),
        acquire(READ, TIMEOUT_0), DISPATCH_ALL),
    'timeout-big': program(
        FAIR,
        TRY_WRITE, acquire(READ, TIMEOUT_BIG), acquire(WRITE, TIMEOUT_BIG, slot(0)),
        DISPATCH, cancel(0), DISPATCH_ALL, release(0), DISPATCH_ALL),
    # Cancellation: already cancelled, while queued, after the grant but
    # before the callback, after the callback.
    'cancel-before': program(
        FAIR,
        cancel(1), acquire(READ, cancellable=slot(1)),
        acquire(WRITE, TIMEOUT_BIG, slot(1)), try_blocking(READ, slot(1)),
        TRY_READ, upgrade(0, slot(1)), DISPATCH_ALL),
    'cancel-queued-writer': program(
        PREFER_WRITERS,
        TRY_READ, acquire(WRITE, cancellable=slot(0)), acquire(READ),
        acquire(READ, short=True), DISPATCH, cancel(0, renew=True),
        DISPATCH_ALL, release(0), DISPATCH_ALL),
    'cancel-granted': program(
        FAIR,
        TRY_WRITE, acquire(WRITE, cancellable=slot(2)), acquire(READ),
        release(0), cancel(2), DISPATCH, DISPATCH, DISPATCH_ALL),
    'cancel-delivered': program(
        FAIR,
        acquire(READ, cancellable=slot(3)), DISPATCH, cancel(3), DISPATCH_ALL,
        acquire(WRITE), DISPATCH_ALL, release(0), DISPATCH_ALL),
    'cancel-shared': program(
        PREFER_READERS,
        TRY_WRITE, acquire(WRITE, cancellable=slot(0)),
        acquire(READ, cancellable=slot(0)), acquire(READ), release(0),
        cancel(0), DISPATCH_ALL),
    # Re-entry: every pair of modes, from live and released guards.
    'reenter': program(
        FAIR,
        TRY_WRITE,
        reenter(0, READ), reenter(0, WRITE), reenter(0, UPGRADABLE),
        reenter(1, READ), reenter(1, WRITE), reenter(1, UPGRADABLE),
        reenter(3, READ), reenter(3, WRITE), reenter(3, UPGRADABLE),
        acquire(READ), release(0), release(2), DISPATCH_ALL, release(1),
        reenter(0, READ), DISPATCH_ALL),
    'reenter-upgradable': program(
        PREFER_WRITERS,
        acquire(UPGRADABLE), DISPATCH_ALL, reenter(0, UPGRADABLE),
        reenter(0, READ), acquire(WRITE), reenter(1, READ), release(0),
        DISPATCH_ALL, release(1), release(2), DISPATCH_ALL),
    # Downgrades, releasing the write guard of a shared hold.
    'downgrade': program(
        FAIR,
        TRY_WRITE, acquire(READ), acquire(READ), downgrade(0), DISPATCH_ALL,
        acquire(UPGRADABLE), DISPATCH_ALL, downgrade(3), downgrade(1),
        DISPATCH_ALL),
    'release-write-keeps-read': program(
        PREFER_READERS,
        TRY_WRITE, reenter(0, READ), acquire(READ), release(0), DISPATCH_ALL,
        release(1), DISPATCH_ALL),
    # Upgrades: at once, waiting for readers, cancelled, pending twice,
    # of READ and released guards, dropped while waiting.
    'upgrade': program(
        FAIR,
        acquire(UPGRADABLE), DISPATCH_ALL, upgrade(0), DISPATCH_ALL,
        downgrade(0), upgrade(0), DISPATCH_ALL, release(0), DISPATCH_ALL),
    'upgrade-waits': program(
        FAIR,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1, slot(0)),
        acquire(READ), acquire(WRITE), DISPATCH, release(0), DISPATCH_ALL,
        release(0), DISPATCH_ALL),
    'upgrade-cancel': program(
        PREFER_WRITERS,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1, slot(2)),
        DISPATCH, cancel(2, renew=True), DISPATCH_ALL, release(0),
        upgrade(0, slot(2)), DISPATCH, cancel(2), DISPATCH_ALL),
    'upgrade-errors': program(
        PREFER_READERS,
        TRY_READ, upgrade(0), acquire(UPGRADABLE), DISPATCH_ALL,
        release(0), upgrade(0), TRY_READ, upgrade(1), DISPATCH_ALL),
    'upgrade-drop': program(
        FAIR,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1), drop(1),
        acquire(READ), DISPATCH, release(0), DISPATCH_ALL),
    # Regressions: a second upgrade of a guard whose upgrade was queued
    # used to unlink the queued one from its guard (releasing the guard
    # then left it queued, and its grant write-locked the lock forever);
    # a second upgrade of a guard whose upgrade was granted but not
    # delivered used to succeed, and cancelling the first then left the
    # "upgraded" guard UPGRADABLE_READ.
    'upgrade-twice-release': program(
        FAIR,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1), upgrade(1),
        DISPATCH_ALL, release(1), DISPATCH_ALL),
    'upgrade-twice-cancel': program(
        FAIR,
        acquire(UPGRADABLE), DISPATCH_ALL, upgrade(0, slot(0)), upgrade(0),
        cancel(0), DISPATCH_ALL),
    # Granted at once, released, then cancelled before its callback: the
    # released guard shows UPGRADABLE_READ, not the undelivered WRITE.
    'upgrade-released-then-cancelled': program(
        FAIR,
        acquire(UPGRADABLE), DISPATCH_ALL, upgrade(0, slot(0)), release(0),
        cancel(0), DISPATCH_ALL),
    # And released with no cancel: NOT_HELD, UPGRADABLE_READ again.
    'upgrade-released-before-callback': program(
        FAIR,
        acquire(UPGRADABLE), DISPATCH_ALL, upgrade(0), release(0),
        DISPATCH_ALL),
    # The lock's upgrade methods, each finish with each start.
    'upgrade-lock-methods': program(
        PREFER_WRITERS,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL,
        upgrade(1, lock_start=True), release(0), DISPATCH_ALL,
        reenter(1, UPGRADABLE), upgrade(2, slot(1), lock_finish=True),
        DISPATCH_ALL, downgrade(1), downgrade(2),
        acquire(UPGRADABLE), DISPATCH_ALL,
        upgrade(3, lock_start=True, lock_finish=True), DISPATCH, release(1),
        release(2), DISPATCH_ALL),
    # Closing with waiters of every kind, and acquiring after.
    'close': program(
        PREFER_WRITERS,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1),
        acquire(WRITE), acquire(READ, TIMEOUT_BIG), CLOSE,
        acquire(READ), TRY_READ, try_blocking(READ), reenter(0, READ),
        upgrade(0), DISPATCH_ALL, release(0), CLOSE, DISPATCH_ALL),
    # Dropping the last reference ends the hold.
    'drop': program(
        FAIR,
        TRY_WRITE, acquire(READ), acquire(WRITE), drop(0), DISPATCH_ALL,
        drop(0), DISPATCH_ALL, drop(0), DISPATCH_ALL),
    # Nothing released at the end: the drain does it.
    'leave-held': program(
        PREFER_READERS,
        acquire(READ), acquire(UPGRADABLE), acquire(WRITE), DISPATCH,
        reenter(0, READ), upgrade(1)),
    # 1.1: try_acquire in every mode; WOULD_BLOCK when incompatible or,
    # under FAIR, behind a queue; CLOSED on a closed lock, held or free.
    'try-acquire': program(
        FAIR,
        try_acquire(READ), try_acquire(UPGRADABLE), try_acquire(WRITE),
        try_acquire(UPGRADABLE), acquire(WRITE), try_acquire(READ), CLOSE,
        try_acquire(READ), release(0), release(1), DISPATCH_ALL,
        try_acquire(WRITE)),
    'try-acquire-prefer-readers': program(
        PREFER_READERS,
        TRY_READ, acquire(WRITE), try_acquire(READ), try_acquire(UPGRADABLE),
        try_acquire(WRITE), release(0), release(1), release(2), DISPATCH_ALL,
        try_acquire(READ), DISPATCH_ALL),
    # try_upgrade: WOULD_DEADLOCK, WOULD_BLOCK, PENDING (its own upgrade,
    # another guard's of the hold), at once on a hold made exclusive by an
    # undelivered upgrade, a WRITE guard, NOT_HELD.
    'try-upgrade': program(
        FAIR,
        TRY_READ, acquire(UPGRADABLE), DISPATCH_ALL,
        try_upgrade(0), try_upgrade(1), upgrade(1), try_upgrade(1),
        reenter(1, UPGRADABLE), try_upgrade(2), acquire(WRITE), release(0),
        try_upgrade(2), try_upgrade(1), DISPATCH_ALL, try_upgrade(1),
        release(1), release(2), DISPATCH_ALL, try_upgrade(1), DISPATCH_ALL),
    # Closed: an exclusive hold upgrades, an UPGRADABLE_READ one says CLOSED.
    'try-upgrade-closed': program(
        PREFER_WRITERS,
        TRY_WRITE, reenter(0, UPGRADABLE), acquire(UPGRADABLE), CLOSE,
        try_upgrade(1), release(0), downgrade_to(1, UPGRADABLE),
        try_upgrade(1), DISPATCH_ALL),
    # upgrade_full: timeout 0 (TIMED_OUT, then pending until delivered),
    # a deadline cancelled while waiting, no deadline, each finish.
    'upgrade-full': program(
        FAIR,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL,
        upgrade_full(1, TIMEOUT_0), upgrade(1), downgrade_to(1, READ),
        DISPATCH_ALL,
        upgrade_full(1, TIMEOUT_BIG, slot(0), GUARD_FINISH), acquire(READ),
        DISPATCH, cancel(0, renew=True), DISPATCH_ALL, release(0),
        upgrade_full(1, NO_TIMEOUT, finish=LOCK_FINISH), release(2),
        DISPATCH_ALL, upgrade_full(1, TIMEOUT_0), DISPATCH_ALL),
    # Granted at once then cancelled before its callback; released while
    # it waits (NOT_HELD); of a READ guard; already cancelled.
    'upgrade-full-cancel': program(
        PREFER_WRITERS,
        acquire(UPGRADABLE), DISPATCH_ALL,
        upgrade_full(0, TIMEOUT_0, slot(1)), cancel(1, renew=True),
        DISPATCH_ALL, TRY_READ, upgrade_full(0, TIMEOUT_BIG, slot(2)),
        upgrade_full(1, TIMEOUT_BIG), release(0), cancel(3),
        upgrade_full(1, NO_TIMEOUT, slot(3)), DISPATCH_ALL),
    # downgrade_to: both targets from WRITE, UPGRADABLE_READ to READ, the
    # same or a stronger mode, released.
    'downgrade-to': program(
        FAIR,
        TRY_WRITE, acquire(READ), acquire(UPGRADABLE), acquire(WRITE),
        downgrade_to(0, WRITE), downgrade_to(0, UPGRADABLE), DISPATCH_ALL,
        downgrade_to(0, READ), DISPATCH_ALL, downgrade_to(1, READ),
        downgrade_to(2, READ), downgrade_to(2, UPGRADABLE), release(0),
        release(1), release(2), DISPATCH_ALL, downgrade_to(0, READ),
        downgrade_to(3, READ), DISPATCH_ALL),
    # While the guard's upgrade is pending (waiting, then granted but not
    # delivered): PENDING; then a shared hold keeps its mode.
    'downgrade-to-pending': program(
        PREFER_READERS,
        acquire(UPGRADABLE), TRY_READ, DISPATCH_ALL, upgrade(1),
        downgrade_to(1, READ), release(0), downgrade_to(1, READ),
        DISPATCH_ALL, reenter(1, READ), downgrade_to(1, UPGRADABLE),
        acquire(READ), downgrade_to(1, READ), DISPATCH_ALL),
    # close_async: waits for the holders (a re-entered guard keeps the
    # hold); several waits; cancelled at the call, while waiting; at once
    # once nothing is held.
    'close-async': program(
        PREFER_WRITERS,
        TRY_READ, acquire(WRITE), close_async(), close_async(slot(0)),
        cancel(1), close_async(slot(1)), DISPATCH_ALL, reenter(0, READ),
        release(0), DISPATCH, cancel(0), DISPATCH_ALL, release(1),
        DISPATCH_ALL, close_async(), DISPATCH_ALL),
    # A grant in flight is a hold; cancelled, it lets the wait complete,
    # which is cancelled in turn before its callback.
    'close-async-in-flight': program(
        FAIR,
        TRY_WRITE, acquire(READ, cancellable=slot(0)), release(0),
        close_async(slot(1)), cancel(0), cancel(1), DISPATCH_ALL,
        close_async(), DISPATCH_ALL),
    # Holds and an upgrade with a deadline left to the end-of-input drain.
    'close-async-leave-held': program(
        PREFER_READERS,
        acquire(READ), acquire(UPGRADABLE), DISPATCH_ALL,
        upgrade_full(1, TIMEOUT_BIG), close_async(), DISPATCH),
    # A mixed program with dispatches in between.
    'mixed': program(
        FAIR,
        acquire(READ, cancellable=slot(0)), acquire(WRITE, cancellable=slot(1)),
        acquire(UPGRADABLE, TIMEOUT_BIG, slot(2)), DISPATCH,
        TRY_READ, reenter(0, READ), upgrade(0, slot(3)), DISPATCH,
        cancel(1, renew=True), DISPATCH, release(1), release(0),
        DISPATCH_ALL, acquire(WRITE, TIMEOUT_0), TRY_WRITE,
        downgrade(0), DISPATCH_ALL, CLOSE, DISPATCH_ALL),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.startswith('seed-') and name.endswith('.bin'):
            os.unlink(os.path.join(out, name))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, 'seed-%s.bin' % name), 'wb') as f:
            f.write(data)
    print('%d seeds written to %s' % (len(SEEDS), out))


if __name__ == '__main__':
    main()
