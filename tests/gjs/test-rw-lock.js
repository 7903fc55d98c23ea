// SPDX-License-Identifier: LGPL-2.1-or-later
// Aio.RwLock from GJS with promises: Gio._promisify on the acquire pairs,
// on upgrade, upgrade_full and close, await, try/finally release,
// cancellation and deadlines, and the 1.1 try_ and downgrade_to calls.
// Prints TAP; exits non-zero on any failure or when the deadline passes.

import Aio from 'gi://Aio?version=1';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import {assert, sleep, rejection, run} from './tap.js';

// GJS 1.74 and a g-i 1.74 GIR: no automatic promisification, so wrap the
// pairs by name. Called with its callback, a wrapped method behaves as
// before.
Gio._promisify(Aio.RwLock.prototype, 'acquire_read_async', 'acquire_read_finish');
Gio._promisify(Aio.RwLock.prototype, 'acquire_write_async', 'acquire_write_finish');
Gio._promisify(Aio.RwLock.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Aio.RwLockGuard.prototype, 'upgrade_async', 'upgrade_finish');

// The upgrade's GTask has the lock as its source object (a boxed guard
// cannot be one); _promisify finishes on the source, and the lock has
// upgrade_finish too, so the guard's pair works as a promise.
Gio._promisify(Aio.RwLock.prototype, 'upgrade_async', 'upgrade_finish');

// 1.1: close_async completes on the lock. upgrade_full_async is finished
// the same way as upgrade_async: on its source, the lock, whose
// upgrade_finish takes an upgrade_full result too ('upgrade_full_finish'
// here would be called on the lock, which has none, and fail).
Gio._promisify(Aio.RwLock.prototype, 'close_async', 'close_finish');
Gio._promisify(Aio.RwLockGuard.prototype, 'upgrade_full_async', 'upgrade_finish');

const {READ, WRITE, UPGRADABLE_READ} = Aio.RwLockMode;

// Resolves to 'pending' if the promise has not settled after a short spin.
async function settled(promise, ms = 20) {
    let state = 'pending';
    promise.then(() => (state = 'resolved'), () => (state = 'rejected'));
    await sleep(ms);
    return state;
}

function thrown(fn) {
    try {
        fn();
    } catch (e) {
        return e;
    }
    throw new Error('expected an exception');
}

function assertError(e, domain, code, what) {
    assert(e instanceof GLib.Error, `${what}: not a GLib.Error: ${e}`);
    assert(e.matches(domain, code), `${what}: ${e} (domain ${e.domain}, code ${e.code})`);
}

function assertState(lock, readers, writeLocked, pendingReaders = 0, pendingWriters = 0) {
    const state = [lock.readers, lock.write_locked, lock.pending_readers, lock.pending_writers];
    const want = [readers, writeLocked, pendingReaders, pendingWriters];
    assert(state.every((v, i) => v === want[i]), `state ${state}, expected ${want}`);
}

const tests = {
    async 'readers overlap'() {
        const lock = new Aio.RwLock();
        const guards = await Promise.all([
            lock.acquire_read_async(null),
            lock.acquire_read_async(null),
            lock.acquire_read_async(null),
        ]);
        try {
            assert(lock.readers === 3, `readers = ${lock.readers}`);
            assert(lock.read_locked && !lock.write_locked, 'read-locked only');
            assert(guards.every(g => g.is_held() && g.get_mode() === READ), 'three read holds');
        } finally {
            guards.forEach(g => g.release());
        }
        assert(lock.readers === 0, 'all released');
    },

    async 'writer is exclusive'() {
        const lock = new Aio.RwLock();
        const reader = await lock.acquire_read_async(null);
        const writing = lock.acquire_write_async(null);
        const lateReading = lock.acquire_read_async(null);
        assert(lock.pending_writers === 1 && lock.pending_readers === 1, 'both queued');
        assert(await settled(writing) === 'pending', 'the writer entered while a reader held');
        reader.release();

        const writer = await writing;
        try {
            assert(writer.get_mode() === WRITE && lock.write_locked, 'write hold');
            assert(await settled(lateReading) === 'pending', 'a reader entered while the writer held');
        } finally {
            writer.release();
        }
        const late = await lateReading;
        try {
            assert(!lock.write_locked && lock.readers === 1, 'the late reader holds');
        } finally {
            late.release();
        }
    },

    async 'try/finally releases when the body throws'() {
        const lock = new Aio.RwLock();
        try {
            const guard = await lock.acquire_write_async(null);
            try {
                throw new Error('bad data');
            } finally {
                guard.release();
            }
        } catch (e) {
            assert(e.message === 'bad data', e.message);
        }
        assert(!lock.write_locked, 'the hold ended');
        const again = lock.try_acquire_write();
        assert(again !== null, 'the lock is free');
        again.release();
    },

    async 'acquire_async with a mode and upgrade'() {
        const lock = new Aio.RwLock();
        const guard = await lock.acquire_async(UPGRADABLE_READ, -1, null);
        const reader = lock.try_acquire_read();
        try {
            const upgrading = guard.upgrade_async(null);
            assert(lock.pending_writers === 1, 'the upgrade waits');
            assert(await settled(upgrading) === 'pending', 'upgraded while a reader held');
            reader.release();
            assert(await upgrading === true, 'upgrade_finish returned TRUE');
            assert(guard.get_mode() === WRITE && lock.write_locked, 'now a write hold');
            guard.downgrade();
            assert(guard.get_mode() === READ && lock.readers === 1, 'downgraded');
        } finally {
            guard.release();
        }
    },

    async 'cancellation rejects with G_IO_ERROR_CANCELLED'() {
        const lock = new Aio.RwLock();

        const cancelled = new Gio.Cancellable();
        cancelled.cancel();
        let e = await rejection(lock.acquire_read_async(cancelled));
        assert(e instanceof GLib.Error, `${e}`);
        assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `already cancelled: ${e}`);

        // Cancelled while queued: the readers behind the writer get in.
        const reader = lock.try_acquire_read();
        const cancellable = new Gio.Cancellable();
        const writing = lock.acquire_write_async(cancellable);
        const reading = lock.acquire_read_async(null);
        cancellable.cancel();
        e = await rejection(writing);
        assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `queued: ${e}`);
        const late = await reading;
        assert(lock.readers === 2 && lock.pending_writers === 0, 'the readers hold');
        reader.release();
        late.release();

        // Cancelled upgrade: the guard stays as it was.
        const up = await lock.acquire_async(UPGRADABLE_READ, -1, null);
        const other = lock.try_acquire_read();
        const upCancellable = new Gio.Cancellable();
        const upgrading = up.upgrade_async(upCancellable);
        upCancellable.cancel();
        e = await rejection(upgrading);
        assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `upgrade: ${e}`);
        assert(up.get_mode() === UPGRADABLE_READ && up.is_held(), 'guard unchanged');
        other.release();
        up.release();
        assert(lock.readers === 0, 'nothing leaked');
    },

    async 'timeout rejects with G_IO_ERROR_TIMED_OUT'() {
        const lock = new Aio.RwLock();
        const writer = lock.try_acquire_write();
        try {
            const started = GLib.get_monotonic_time();
            const e = await rejection(lock.acquire_async(READ, 50, null));
            assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT), `${e}`);
            assert(GLib.get_monotonic_time() - started >= 50000, 'waited the deadline');
            assert(lock.pending_readers === 0, 'the waiter left the queue');
            const e0 = await rejection(lock.acquire_async(WRITE, 0, null));
            assert(e0.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT), `timeout 0: ${e0}`);
        } finally {
            writer.release();
        }
        const guard = await lock.acquire_async(WRITE, 0, null);
        guard.release();
    },

    async 'errors carry the Aio domain'() {
        const lock = new Aio.RwLock();
        const reader = lock.try_acquire_read();
        try {
            reader.reenter(WRITE);
            throw new Error('reenter WRITE from READ succeeded');
        } catch (e) {
            assert(e.matches(Aio.RwLockError, Aio.RwLockError.WOULD_DEADLOCK), `${e}`);
        }
        reader.release();
        try {
            reader.reenter(READ);
            throw new Error('reenter on a released guard succeeded');
        } catch (e) {
            assert(e.matches(Aio.RwLockError, Aio.RwLockError.NOT_HELD), `${e}`);
        }

        const holder = lock.try_acquire_write();
        const waiting = lock.acquire_read_async(null);
        lock.close();
        const e = await rejection(waiting);
        assert(e.matches(Aio.RwLockError, Aio.RwLockError.CLOSED), `${e}`);
        assert(lock.closed && holder.is_held(), 'holders keep their guards');
        holder.release();
    },

    async 'promisified upgrade, on the guard and on the lock'() {
        const lock = new Aio.RwLock();
        const guard = await lock.acquire_async(UPGRADABLE_READ, -1, null);
        try {
            assert(await guard.upgrade_async(null) === true, 'upgraded');
            assert(guard.get_mode() === WRITE && lock.write_locked, 'now WRITE');
            guard.downgrade();
        } finally {
            guard.release();
        }
        const other = await lock.acquire_async(UPGRADABLE_READ, -1, null);
        try {
            assert(await lock.upgrade_async(other, null) === true, 'upgraded by the lock');
            assert(other.get_mode() === WRITE, 'now WRITE');
        } finally {
            other.release();
        }
    },

    async 'properties and try-acquire'() {
        const lock = new Aio.RwLock({policy: Aio.RwLockPolicy.PREFER_WRITERS});
        assert(lock.policy === Aio.RwLockPolicy.PREFER_WRITERS, 'construct property');
        assert(Aio.RwLock.new_with_policy(Aio.RwLockPolicy.PREFER_READERS).get_policy() ===
               Aio.RwLockPolicy.PREFER_READERS, 'new_with_policy');
        assert(new Aio.RwLock().policy === Aio.RwLockPolicy.FAIR, 'FAIR by default');
        assert(Aio.VERSION_S === `${Aio.MAJOR_VERSION}.${Aio.MINOR_VERSION}.${Aio.MICRO_VERSION}`,
            'version constants');

        const r = lock.try_acquire_read();
        assert(lock.try_acquire_write() === null, 'try_acquire_write is null while read-held');
        assert(r.get_lock() === lock, 'get_lock');
        r.release();
        assert(!r.is_held(), 'released');
        const w = lock.try_acquire_write();
        assert(lock.try_acquire_read() === null, 'try_acquire_read is null while write-held');
        w.release();
    },
};

Object.assign(tests, {
    async 'try_acquire: each mode, WOULD_BLOCK, CLOSED'() {
        const lock = new Aio.RwLock();
        for (const mode of [READ, UPGRADABLE_READ, WRITE]) {
            const guard = lock.try_acquire(mode);
            assert(guard.get_mode() === mode && guard.is_held(), `try_acquire(${mode})`);
            guard.release();
        }

        const writer = lock.try_acquire(WRITE);
        for (const mode of [READ, UPGRADABLE_READ, WRITE]) {
            assertError(thrown(() => lock.try_acquire(mode)),
                Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK, `try_acquire(${mode}) while write-held`);
        }
        assertState(lock, 0, true);
        writer.release();

        // FAIR: a queued writer stops a reader that would fit.
        const reader = lock.try_acquire(READ);
        const writing = lock.acquire_write_async(null);
        assertError(thrown(() => lock.try_acquire(READ)),
            Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK, 'behind a queued writer');
        reader.release();
        (await writing).release();

        lock.close();
        for (const mode of [READ, UPGRADABLE_READ, WRITE]) {
            assertError(thrown(() => lock.try_acquire(mode)),
                Aio.RwLockError, Aio.RwLockError.CLOSED, `try_acquire(${mode}) when closed`);
        }
    },

    async 'try_upgrade and its errors'() {
        const lock = new Aio.RwLock();
        const guard = lock.try_acquire(UPGRADABLE_READ);
        const reader = lock.try_acquire(READ);
        assertError(thrown(() => guard.try_upgrade()),
            Gio.IOErrorEnum, Gio.IOErrorEnum.WOULD_BLOCK, 'another reader holds');
        assert(guard.get_mode() === UPGRADABLE_READ, 'unchanged');
        assertError(thrown(() => reader.try_upgrade()),
            Aio.RwLockError, Aio.RwLockError.WOULD_DEADLOCK, 'a READ guard');

        // While an upgrade of the guard waits: PENDING.
        const upgrading = guard.upgrade_async(null);
        assertError(thrown(() => guard.try_upgrade()),
            Gio.IOErrorEnum, Gio.IOErrorEnum.PENDING, 'an upgrade pending');
        reader.release();
        assert(await upgrading === true, 'the pending upgrade went through');
        assert(guard.try_upgrade() === true && guard.get_mode() === WRITE, 'a WRITE guard stays WRITE');
        guard.release();
        assertError(thrown(() => guard.try_upgrade()),
            Aio.RwLockError, Aio.RwLockError.NOT_HELD, 'a released guard');

        const again = lock.try_acquire(UPGRADABLE_READ);
        assert(again.try_upgrade() === true, 'upgrades when alone');
        assert(again.get_mode() === WRITE && lock.write_locked, 'now WRITE');
        again.release();

        const upgradable = lock.try_acquire(UPGRADABLE_READ);
        const other = lock.try_acquire(READ);
        lock.close();
        assertError(thrown(() => upgradable.try_upgrade()),
            Aio.RwLockError, Aio.RwLockError.CLOSED, 'a closed lock');
        other.release();
        upgradable.release();
    },

    async 'upgrade_full: deadline, in time, cancelled'() {
        const lock = new Aio.RwLock();
        const guard = lock.try_acquire(UPGRADABLE_READ);
        const reader = lock.try_acquire(READ);
        try {
            const started = GLib.get_monotonic_time();
            const e = await rejection(guard.upgrade_full_async(50, null));
            assertError(e, Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'timeout 50');
            assert(GLib.get_monotonic_time() - started >= 50000, 'waited the deadline');
            assert(guard.get_mode() === UPGRADABLE_READ && guard.is_held(), 'still UPGRADABLE_READ');
            assertState(lock, 2, false);

            const e0 = await rejection(guard.upgrade_full_async(0, null));
            assertError(e0, Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'timeout 0');

            const cancellable = new Gio.Cancellable();
            const cancelled = guard.upgrade_full_async(10000, cancellable);
            cancellable.cancel();
            assertError(await rejection(cancelled), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'cancelled');
            assert(guard.get_mode() === UPGRADABLE_READ, 'unchanged by the cancel');

            const upgrading = guard.upgrade_full_async(10000, null);
            assert(await settled(upgrading) === 'pending', 'upgraded while a reader held');
            reader.release();
            assert(await upgrading === true, 'upgraded in time');
            assert(guard.get_mode() === WRITE && lock.write_locked, 'now WRITE');
        } finally {
            if (reader.is_held())
                reader.release();
            guard.release();
        }
        const e = await rejection(guard.upgrade_full_async(-1, null));
        assertError(e, Aio.RwLockError, Aio.RwLockError.NOT_HELD, 'a released guard');
    },

    async 'upgrade_full_finish from a callback'() {
        const lock = new Aio.RwLock();
        const guard = lock.try_acquire(UPGRADABLE_READ);
        const reader = lock.try_acquire(READ);
        let outcome = null;
        // Called with its callback, the promisified method is the original.
        const ran = new Promise(resolve => guard.upgrade_full_async(-1, null, (source, res) => {
            try {
                outcome = {source, upgraded: guard.upgrade_full_finish(res)};
            } catch (e) {
                outcome = {source, error: e};
            }
            resolve();
        }));
        await sleep(20);
        assert(outcome === null, 'upgraded while a reader held');
        reader.release();
        await ran;
        assert(outcome.error === undefined, `${outcome.error}`);
        assert(outcome.upgraded === true && outcome.source === lock, 'upgraded; the lock is the source');
        assert(guard.get_mode() === WRITE, 'now WRITE');
        guard.release();
    },

    async 'downgrade_to lets queued readers in'() {
        const lock = new Aio.RwLock();
        const guard = lock.try_acquire(WRITE);
        const reading = lock.acquire_read_async(null);
        const upgradable = lock.acquire_async(UPGRADABLE_READ, -1, null);
        const writing = lock.acquire_write_async(null);
        assertState(lock, 0, true, 2, 1);

        assert(guard.downgrade_to(UPGRADABLE_READ) === true, 'downgraded');
        assert(guard.get_mode() === UPGRADABLE_READ, 'now UPGRADABLE_READ');
        const reader = await reading;
        assert(reader.is_held() && lock.readers === 2, 'the queued reader entered');
        assert(await settled(upgradable) === 'pending', 'a second UPGRADABLE_READ entered');
        assert(await settled(writing) === 'pending', 'the writer entered');

        // It keeps the right to upgrade.
        reader.release();
        assert(guard.try_upgrade() === true && guard.get_mode() === WRITE, 'upgraded again');
        assert(guard.downgrade_to(READ) === true && guard.get_mode() === READ, 'WRITE -> READ');
        guard.release();
        (await upgradable).release();
        (await writing).release();
        assertState(lock, 0, false);
    },

    async 'downgrade_to errors'() {
        const lock = new Aio.RwLock();
        const cases = [[READ, READ], [READ, WRITE], [UPGRADABLE_READ, UPGRADABLE_READ],
            [UPGRADABLE_READ, WRITE], [WRITE, WRITE]];
        for (const [from, to] of cases) {
            const guard = lock.try_acquire(from);
            assertError(thrown(() => guard.downgrade_to(to)),
                Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT, `${from} -> ${to}`);
            assert(guard.get_mode() === from, 'unchanged');
            guard.release();
            assertError(thrown(() => guard.downgrade_to(READ)),
                Aio.RwLockError, Aio.RwLockError.NOT_HELD, 'released');
        }

        const reader = lock.try_acquire(READ);
        const guard = lock.try_acquire(UPGRADABLE_READ);
        const upgrading = guard.upgrade_full_async(-1, null);
        assertError(thrown(() => guard.downgrade_to(READ)),
            Gio.IOErrorEnum, Gio.IOErrorEnum.PENDING, 'an upgrade pending');
        reader.release();
        assert(await upgrading === true, 'upgraded');
        guard.release();
    },

    async 'close_async waits for the last hold'() {
        const lock = new Aio.RwLock();
        const a = await lock.acquire_read_async(null);
        const b = lock.try_acquire(READ);
        const writing = lock.acquire_write_async(null);
        const closing = lock.close_async(null);
        const closingToo = lock.close_async(null);
        assert(lock.closed, 'closed at once');
        assertError(await rejection(writing), Aio.RwLockError, Aio.RwLockError.CLOSED, 'the queued writer');
        assertError(thrown(() => lock.try_acquire(READ)), Aio.RwLockError, Aio.RwLockError.CLOSED,
            'try_acquire');
        assert(await settled(closing) === 'pending', 'completed while two readers held');
        a.release();
        assert(await settled(closing) === 'pending', 'completed while a reader held');
        b.release();
        assert(await closing === true, 'close_finish returned true');
        assert(await closingToo === true, 'the second caller completed too');

        const idle = new Aio.RwLock();
        assert(await idle.close_async(null) === true && idle.closed, 'an idle lock');
    },

    async 'close_async cancelled: the wait, not the close'() {
        const lock = new Aio.RwLock();
        const guard = lock.try_acquire(WRITE);
        const cancellable = new Gio.Cancellable();
        const closing = lock.close_async(cancellable);
        const kept = lock.close_async(null);
        cancellable.cancel();
        assertError(await rejection(closing), Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED, 'cancelled');
        assert(lock.closed && guard.is_held(), 'still closed, still held');
        assert(await settled(kept) === 'pending', 'the other waiter completed while held');
        guard.release();
        assert(await kept === true, 'the other waiter completed');
    },
});

run(tests);
