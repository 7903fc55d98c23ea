// SPDX-License-Identifier: LGPL-2.1-or-later
// GI smoke test: the typelib from the build tree loads in GJS and the
// acquire/finish pairs work with callbacks.

import Aio from 'gi://Aio?version=1';
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import System from 'system';

const loop = new GLib.MainLoop(null, false);
const lock = new Aio.RwLock();
const events = [];
let status = 1;

if (lock.policy !== Aio.RwLockPolicy.FAIR || Aio.MAJOR_VERSION !== 1)
    throw new Error('unexpected policy or version');

lock.acquire_read_async(null, (source, result) => {
    const reader = source.acquire_read_finish(result);
    events.push(`read ${source.readers}`);
    source.acquire_write_async(null, (src, res) => {
        const writer = src.acquire_write_finish(res);
        events.push(`write ${src.write_locked}`);
        writer.release();
        const cancellable = new Gio.Cancellable();
        src.acquire_async(Aio.RwLockMode.READ, -1, cancellable, (s, r) => {
            try {
                s.acquire_finish(r);
                events.push('not cancelled');
            } catch (e) {
                if (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED))
                    events.push('cancelled');
            }
            loop.quit();
        });
        cancellable.cancel();
    });
    reader.release();
});

GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 10, () => {
    print('timed out');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();

print(JSON.stringify(events));
if (JSON.stringify(events) === JSON.stringify(['read 1', 'write true', 'cancelled']))
    status = 0;
System.exit(status);
