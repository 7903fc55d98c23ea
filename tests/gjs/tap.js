// SPDX-License-Identifier: LGPL-2.1-or-later
// What the GJS tests share: assertions, a sleep on the main loop, and a
// TAP runner with a deadline, so that a callback that never comes fails
// the test instead of hanging it.

import GLib from 'gi://GLib';
import System from 'system';

const DEADLINE_MS = 10000;

export function assert(condition, message) {
    if (!condition)
        throw new Error(`assertion failed: ${message}`);
}

// Lets the main loop run for a while, to show that nothing more happens.
export function sleep(ms) {
    return new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
}

// The error a promise rejects with; fails if it resolves.
export async function rejection(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    throw new Error('expected a rejection');
}

async function runAll(tests) {
    const names = Object.keys(tests);
    let failures = 0;
    print(`1..${names.length}`);
    for (const [i, name] of names.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await tests[name]();
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            failures++;
            print(`not ok ${i + 1} - ${name}`);
            printerr(`# ${e}\n${e.stack ?? ''}`);
        }
    }
    return failures;
}

// Runs TESTS (name -> async function) in order on a main loop, prints TAP
// and exits: 0 if all passed, 1 on a failure or when the deadline passes.
export function run(tests) {
    const loop = new GLib.MainLoop(null, false);
    let status = 1;
    runAll(tests).then(failures => {
        status = failures === 0 ? 0 : 1;
    }).catch(e => logError(e)).finally(() => loop.quit());

    GLib.timeout_add(GLib.PRIORITY_DEFAULT, DEADLINE_MS, () => {
        printerr(`Bail out! not finished within ${DEADLINE_MS} ms`);
        System.exit(1);
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    System.exit(status);
}
