// SPDX-License-Identifier: LGPL-2.1-or-later
// quickstart.js: readers share, a writer waits its turn and holds alone.
// The same scenario as quickstart.c, through GJS with promises: three
// readers, a writer a little later, and three readers that arrive while the
// writer is queued, on one main loop. Exits 1 if the lock misbehaves or it
// hangs. Run with `gjs -m quickstart.js`.

import Aio from 'gi://Aio?version=1';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import System from 'system';

// GJS 1.74 does not promisify by itself: wrap the acquire pairs by name.
Gio._promisify(Aio.RwLock.prototype, 'acquire_read_async', 'acquire_read_finish');
Gio._promisify(Aio.RwLock.prototype, 'acquire_write_async', 'acquire_write_finish');

const TIMELINE_WIDTH = 60;
const SAFETY_TIMEOUT_SECONDS = 10;
const {READ, WRITE} = Aio.RwLockMode;

// The seed scenario. Times are monotonic µs; null until the event happened.
const actors = [
    ['reader 1', READ, 0, 120],
    ['reader 2', READ, 10, 120],
    ['reader 3', READ, 20, 120],
    ['writer', WRITE, 40, 150],
    ['reader 4', READ, 60, 120],
    ['reader 5', READ, 70, 120],
    ['reader 6', READ, 80, 120],
].map(([name, mode, arriveMs, holdMs]) =>
    ({name, mode, arriveMs, holdMs, askedAt: null, acquiredAt: null, releasedAt: null}));

const lock = new Aio.RwLock();
const loop = new GLib.MainLoop(null, false);
const start = GLib.get_monotonic_time();

function sleep(ms) {
    return new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
}

const pad = (s, n) => String(s).padEnd(n);

// One line per event, with the lock's state right after it.
function logEvent(actor, when, what) {
    const ms = String(Math.floor((when - start) / 1000)).padStart(4);
    print(`[${ms} ms] ${pad(actor.name, 8)} ${pad(what, 8)} (readers=${lock.readers}, ` +
          `write-locked=${lock.write_locked ? 'yes' : 'no'}, ` +
          `pending readers=${lock.pending_readers}, pending writers=${lock.pending_writers})`);
}

async function play(actor) {
    await sleep(actor.arriveMs);
    actor.askedAt = GLib.get_monotonic_time();
    const acquiring = actor.mode === WRITE
        ? lock.acquire_write_async(null)
        : lock.acquire_read_async(null);
    // Logged after the call: a request that has to wait shows as pending.
    logEvent(actor, actor.askedAt, 'asks');

    const guard = await acquiring;
    try {
        actor.acquiredAt = GLib.get_monotonic_time();
        logEvent(actor, actor.acquiredAt, 'acquired');
        // Hold the lock for a while without blocking the main loop.
        await sleep(actor.holdMs);
    } finally {
        // Explicit: garbage collection would end the hold much later.
        actor.releasedAt = GLib.get_monotonic_time();
        guard.release();
    }
    // Logged after the release: a waiter that was just granted already
    // shows in the counts, before its own callback has run.
    logEvent(actor, actor.releasedAt, 'released');
}

// How long the intervals [a0, a1) and [b0, b1) share, in µs.
const overlapUs = (a0, a1, b0, b1) => Math.max(Math.min(a1, b1) - Math.max(a0, b0), 0);

function printTimeline(end) {
    const totalUs = Math.max(end - start, 1);
    print('\ntimeline (R/W = holds the lock, . = waits for it):\n');
    for (const actor of actors) {
        const held = actor.mode === WRITE ? 'W' : 'R';
        let row = '';
        // Each column shows what filled most of its slice of time, so the
        // main-loop round trip before an immediate grant is not "waiting".
        for (let col = 0; col < TIMELINE_WIDTH; col++) {
            const c0 = start + Math.floor(totalUs * col / TIMELINE_WIDTH);
            const c1 = start + Math.floor(totalUs * (col + 1) / TIMELINE_WIDTH);
            const holding = overlapUs(c0, c1, actor.acquiredAt, actor.releasedAt);
            const waiting = overlapUs(c0, c1, actor.askedAt, actor.acquiredAt);
            const idle = c1 - c0 - holding - waiting;
            if (holding >= waiting && holding >= idle)
                row += held;
            else if (waiting >= idle)
                row += '.';
            else
                row += ' ';
        }
        print(`  ${pad(actor.name, 8)} |${row}|`);
    }

    let axis = '';
    for (let col = 1; col < TIMELINE_WIDTH; col++)
        axis += col % 10 === 0 ? '+' : '-';
    print(`  ${pad('', 8)} +${axis}-+`);
    let labels = '';
    for (let col = 0; col < TIMELINE_WIDTH; col += 10)
        labels += pad(Math.floor(Math.floor(totalUs * col / TIMELINE_WIDTH) / 1000), 10);
    print(`  ${pad('ms', 8)}  ${labels} ${Math.floor(totalUs / 1000)}\n`);
}

function check() {
    // Everything below comes from the recorded intervals, so the picture
    // and the exit status cannot disagree with what really happened.
    const writer = actors.find(a => a.mode === WRITE);
    const readers = actors.filter(a => a.mode === READ);
    // Concurrency peaks at some reader's entry: count who holds then.
    const maxReaders = Math.max(...readers.map(a => readers.filter(b =>
        a.acquiredAt >= b.acquiredAt && a.acquiredAt < b.releasedAt).length));
    const writerAlone = readers.every(a => overlapUs(a.acquiredAt, a.releasedAt,
        writer.acquiredAt, writer.releasedAt) === 0);
    // FAIR: a reader that asked after the writer enters after it.
    const lateReadersWaited = readers.every(a =>
        a.askedAt <= writer.askedAt || a.acquiredAt >= writer.releasedAt);

    const yesNo = b => b ? 'yes' : 'no';
    print(`check: max concurrent readers = ${maxReaders}; ` +
          `writer overlapped with nobody: ${yesNo(writerAlone)}; ` +
          `late readers waited for the writer: ${yesNo(lateReadersWaited)}`);
    return maxReaders >= 2 && writerAlone && lateReadersWaited;
}

let status = 1;
print(`policy: ${lock.policy === Aio.RwLockPolicy.FAIR ? 'FAIR' : 'other'} (the default: no barging)\n`);

Promise.all(actors.map(play)).then(() => {
    printTimeline(Math.max(...actors.map(a => a.releasedAt)));
    if (check())
        status = 0;
    else
        printerr('error: the lock did not behave as expected');
}).catch(e => {
    // Nothing cancels or closes the lock here, so this is a bug.
    printerr(`error: ${e.message}`);
}).finally(() => loop.quit());

GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, SAFETY_TIMEOUT_SECONDS, () => {
    printerr(`error: the scenario did not finish within ${SAFETY_TIMEOUT_SECONDS} s`);
    System.exit(1);
    return GLib.SOURCE_REMOVE;
});
loop.run();
System.exit(status);
