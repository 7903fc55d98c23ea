// SPDX-License-Identifier: LGPL-2.1-or-later
// Aio.RwLockTable from GJS with promises: a lock per key, the same errors
// and close as a lock. Prints TAP; exits non-zero on any failure or when
// the deadline passes.

import Aio from 'gi://Aio?version=1';
import Gio from 'gi://Gio';
import {assert, sleep, rejection, run} from './tap.js';

Gio._promisify(Aio.RwLockTable.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Aio.RwLockTable.prototype, 'close_async', 'close_finish');

const {READ, WRITE} = Aio.RwLockMode;

const tests = {
    async 'a lock per key'() {
        const table = Aio.RwLockTable.new(Aio.RwLockPolicy.FAIR);
        const writer = await table.acquire_async('/a', WRITE, -1, null);
        const other = await table.acquire_async('/b', WRITE, -1, null);
        assert(table.n_keys === 2, `n_keys = ${table.n_keys}`);
        assert(writer.get_lock().name === '/a', `name = ${writer.get_lock().name}`);
        let reader = null;
        const pending = table.acquire_async('/a', READ, -1, null).then(g => (reader = g));
        await sleep(20);
        assert(reader === null, 'the reader of a write-held key waits');
        writer.release();
        await pending;
        assert(reader.get_lock().read_locked, 'the reader holds /a');
        reader.release();
        other.release();
    },

    async 'errors as a lock gives them'() {
        const table = Aio.RwLockTable.new(Aio.RwLockPolicy.FAIR);
        const holder = table.try_acquire('k', WRITE);
        let e = null;
        try {
            table.try_acquire('k', READ);
        } catch (error) {
            e = error;
        }
        assert(e && e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK), `${e}`);
        e = await rejection(table.acquire_async('k', READ, 0, null));
        assert(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT), `${e}`);
        const cancellable = new Gio.Cancellable();
        const cancelled = rejection(table.acquire_async('k', READ, -1, cancellable));
        cancellable.cancel();
        e = await cancelled;
        assert(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), `${e}`);
        holder.release();
    },

    async 'close_async waits for the holders'() {
        const table = Aio.RwLockTable.new(Aio.RwLockPolicy.PREFER_WRITERS);
        const holder = table.try_acquire('k', READ);
        let closed = false;
        const done = table.close_async(null).then(ok => (closed = ok));
        await sleep(20);
        assert(!closed, 'not drained while held');
        assert(table.closed, 'closed at once');
        holder.release();
        await done;
        assert(closed === true, 'drained');
        const e = await rejection(table.acquire_async('k', READ, -1, null));
        assert(e.matches(Aio.rw_lock_error_quark(), Aio.RwLockError.CLOSED), `${e}`);
    },
};

run(tests);
