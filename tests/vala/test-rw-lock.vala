/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Aio.RwLock from Vala through the generated aiorwlock-1.vapi: the async
 * methods keep their C names (`yield rw.acquire_read_async (null)`),
 * errors are Aio.RwLockError and IOError, and a guard is a compact class
 * whose hold ends when it goes out of scope. Prints TAP; a test that does
 * not finish by the deadline makes the program exit 1. */

private const uint DEADLINE_SECONDS = 10;

private errordomain TestError {
    FAILED
}

private void check (bool condition, string what) throws TestError {
    if (!condition)
        throw new TestError.FAILED ("check failed: %s", what);
}

/* Lets the main loop run for a while, to show that nothing more happens. */
private async void sleep_ms (uint ms) {
    Timeout.add (ms, sleep_ms.callback);
    yield;
}

private async void test_readers_overlap () throws Error {
    var rw = new Aio.RwLock ();
    var r1 = yield rw.acquire_read_async (null);
    var r2 = yield rw.acquire_read_async ();
    var r3 = yield rw.acquire_async (Aio.RwLockMode.READ, -1, null);

    check (rw.readers == 3, "three readers hold at once");
    check (rw.read_locked && !rw.write_locked, "read-locked only");
    check (r1.get_mode () == Aio.RwLockMode.READ && r3.is_held (), "read guards");
    r1.release ();
    r2.release ();
    r3.release ();
    check (rw.readers == 0, "all released");
}

private async void test_writer_is_exclusive () throws Error {
    var rw = new Aio.RwLock ();
    var reader = rw.try_acquire_read ();
    Aio.RwLockGuard? writer = null;
    Error? error = null;
    bool done = false;

    check (rw.try_acquire_write () == null, "try_acquire_write fails while read-held");
    rw.acquire_write_async.begin (null, (obj, res) => {
        try {
            writer = rw.acquire_write_async.end (res);
        } catch (Error e) {
            error = e;
        }
        done = true;
    });
    check (rw.pending_writers == 1, "the writer queues");
    yield sleep_ms (20);
    check (!done, "the writer entered while a reader held");

    reader.release ();
    check (rw.write_locked, "granted on release, before the callback ran");
    while (!done)
        yield sleep_ms (1);
    if (error != null)
        throw error;
    check (writer.get_mode () == Aio.RwLockMode.WRITE, "a write guard");
    check (rw.try_acquire_read () == null, "no reader while the writer holds");
    writer.release ();
    check (!rw.write_locked, "released");
}

private async void test_guard_scope () throws Error {
    var rw = new Aio.RwLock ();
    {
        var guard = yield rw.acquire_write_async (null);
        check (guard.is_held () && rw.write_locked, "held in the block");
    }
    /* The compact class is freed at the end of the block, and the last
     * reference to a guard ends its hold. */
    check (!rw.write_locked, "released with the guard");
}

private async void test_cancellation () throws Error {
    var rw = new Aio.RwLock ();
    var reader = rw.try_acquire_read ();
    var cancellable = new Cancellable ();
    bool cancelled = false;

    Idle.add (() => {
        cancellable.cancel ();
        return Source.REMOVE;
    });
    try {
        yield rw.acquire_write_async (cancellable);
    } catch (IOError.CANCELLED e) {
        cancelled = true;
    }
    check (cancelled, "the queued writer was cancelled");
    check (rw.pending_writers == 0 && rw.readers == 1, "nothing leaked");
    reader.release ();
}

private async void test_timeout () throws Error {
    var rw = new Aio.RwLock ();
    var writer = rw.try_acquire_write ();
    bool timed_out = false;
    int64 started = get_monotonic_time ();

    try {
        yield rw.acquire_async (Aio.RwLockMode.READ, 50, null);
    } catch (IOError.TIMED_OUT e) {
        timed_out = true;
    }
    check (timed_out, "the deadline passed");
    check (get_monotonic_time () - started >= 50000, "waited 50 ms");
    check (rw.pending_readers == 0, "the waiter left the queue");
    writer.release ();
}

private async void test_errors () throws Error {
    var rw = new Aio.RwLock ();
    var reader = rw.try_acquire_read ();
    bool would_deadlock = false;
    bool not_held = false;

    try {
        reader.reenter (Aio.RwLockMode.WRITE);
    } catch (Aio.RwLockError.WOULD_DEADLOCK e) {
        would_deadlock = e.domain == Aio.RwLockError.quark ();
    }
    check (would_deadlock, "WRITE from a READ guard would deadlock");

    reader.release ();
    try {
        reader.reenter (Aio.RwLockMode.READ);
    } catch (Aio.RwLockError.NOT_HELD e) {
        not_held = true;
    }
    check (not_held, "a released guard is not held");
}

private async void test_upgrade () throws Error {
    var rw = new Aio.RwLock.with_policy (Aio.RwLockPolicy.PREFER_WRITERS);
    var guard = yield rw.acquire_async (Aio.RwLockMode.UPGRADABLE_READ, -1);
    var reenter = guard.reenter (Aio.RwLockMode.READ);

    check (rw.policy == Aio.RwLockPolicy.PREFER_WRITERS, "policy");
    /* Re-entered holds belong to the same hold: they do not block it. */
    check (yield guard.upgrade_async (null), "upgrade_finish returned true");
    check (guard.get_mode () == Aio.RwLockMode.WRITE && rw.write_locked, "upgraded");
    guard.downgrade ();
    check (guard.get_mode () == Aio.RwLockMode.READ && !rw.write_locked, "downgraded");
    reenter.release ();
    guard.release ();

    /* The lock-level upgrade, with the cancellable left out. */
    var upgradable = yield rw.acquire_async (Aio.RwLockMode.UPGRADABLE_READ, -1);
    check (yield rw.upgrade_async (upgradable), "the lock's upgrade_async without a cancellable");
    check (upgradable.get_mode () == Aio.RwLockMode.WRITE && rw.write_locked, "upgraded by the lock");
    upgradable.release ();
}

/* 1.1: try_acquire with a mode; WOULD_BLOCK and CLOSED tell "busy" from
 * "closed". */
private async void test_try_acquire () throws Error {
    var rw = new Aio.RwLock ();
    var writer = rw.try_acquire (Aio.RwLockMode.WRITE);
    bool would_block = false;
    bool closed = false;

    check (writer.get_mode () == Aio.RwLockMode.WRITE && rw.write_locked, "a WRITE guard");
    try {
        rw.try_acquire (Aio.RwLockMode.READ);
    } catch (IOError.WOULD_BLOCK e) {
        would_block = true;
    }
    check (would_block, "READ while write-held would block");
    check (rw.pending_readers == 0, "nothing queued");
    writer.release ();

    var upgradable = rw.try_acquire (Aio.RwLockMode.UPGRADABLE_READ);
    check (upgradable.get_mode () == Aio.RwLockMode.UPGRADABLE_READ && rw.readers == 1, "an UPGRADABLE_READ guard");
    upgradable.release ();

    rw.close ();
    try {
        rw.try_acquire (Aio.RwLockMode.READ);
    } catch (Aio.RwLockError.CLOSED e) {
        closed = true;
    }
    check (closed, "a closed lock says CLOSED");
}

/* try_upgrade and downgrade_to: no round trip; downgrade_to lets the queued
 * reader in at once. */
private async void test_try_upgrade_and_downgrade_to () throws Error {
    var rw = new Aio.RwLock ();
    var guard = rw.try_acquire (Aio.RwLockMode.WRITE);
    Aio.RwLockGuard? reader = null;
    bool would_block = false;
    bool would_deadlock = false;
    bool invalid = false;

    rw.acquire_read_async.begin (null, (obj, res) => {
        try {
            reader = rw.acquire_read_async.end (res);
        } catch (Error e) {
            printerr ("# %s\n", e.message);
        }
    });
    check (rw.pending_readers == 1, "the reader queues");
    try {
        guard.downgrade_to (Aio.RwLockMode.WRITE);
    } catch (IOError.INVALID_ARGUMENT e) {
        invalid = true;
    }
    check (invalid, "downgrade_to the same mode is invalid");

    check (guard.downgrade_to (Aio.RwLockMode.UPGRADABLE_READ), "downgrade_to UPGRADABLE_READ");
    check (guard.get_mode () == Aio.RwLockMode.UPGRADABLE_READ, "now UPGRADABLE_READ");
    check (rw.readers == 2 && !rw.write_locked && rw.pending_readers == 0, "the reader entered with the downgrade");
    for (int i = 0; reader == null && i < 1000; i++)
        yield sleep_ms (1);
    check (reader != null && reader.is_held (), "the reader's callback got its guard");

    try {
        guard.try_upgrade ();
    } catch (IOError.WOULD_BLOCK e) {
        would_block = true;
    }
    check (would_block, "try_upgrade while a reader holds would block");
    try {
        reader.try_upgrade ();
    } catch (Aio.RwLockError.WOULD_DEADLOCK e) {
        would_deadlock = true;
    }
    check (would_deadlock, "try_upgrade of a READ guard would deadlock");

    reader.release ();
    check (guard.try_upgrade (), "try_upgrade once alone");
    check (guard.get_mode () == Aio.RwLockMode.WRITE && rw.write_locked, "now WRITE");
    guard.release ();
}

/* upgrade_full_async with the cancellable left out: a deadline that passes
 * leaves the guard UPGRADABLE_READ. */
private async void test_upgrade_full () throws Error {
    var rw = new Aio.RwLock ();
    var guard = rw.try_acquire (Aio.RwLockMode.UPGRADABLE_READ);
    var reader = rw.try_acquire (Aio.RwLockMode.READ);
    bool timed_out = false;
    int64 started = get_monotonic_time ();

    try {
        yield guard.upgrade_full_async (50);
    } catch (IOError.TIMED_OUT e) {
        timed_out = true;
    }
    check (timed_out, "the deadline passed");
    check (get_monotonic_time () - started >= 50000, "waited 50 ms");
    check (guard.get_mode () == Aio.RwLockMode.UPGRADABLE_READ && guard.is_held (), "still UPGRADABLE_READ");
    check (rw.pending_writers == 0 && rw.readers == 2, "the upgrade left the queue");

    reader.release ();
    check (yield guard.upgrade_full_async (50), "upgraded in time");
    check (guard.get_mode () == Aio.RwLockMode.WRITE && rw.write_locked, "now WRITE");
    guard.release ();
}

/* close_async: closes at once, completes when the last hold ends;
 * cancelling cancels the wait, not the close. */
private async void test_close_async () throws Error {
    var rw = new Aio.RwLock ();
    var reader = rw.try_acquire (Aio.RwLockMode.READ);
    bool done = false;
    bool drained = false;
    bool cancelled = false;
    Error? error = null;

    rw.close_async.begin (null, (obj, res) => {
        try {
            drained = rw.close_async.end (res);
        } catch (Error e) {
            error = e;
        }
        done = true;
    });
    check (rw.closed && !done, "closed at once, completes later");

    var cancellable = new Cancellable ();
    Idle.add (() => {
        cancellable.cancel ();
        return Source.REMOVE;
    });
    try {
        yield rw.close_async (cancellable);
    } catch (IOError.CANCELLED e) {
        cancelled = true;
    }
    check (cancelled, "the cancelled wait ends");
    check (rw.closed && reader.is_held (), "still closed, still held");
    check (!done, "the other wait completed while a reader held");

    reader.release ();
    while (!done)
        yield sleep_ms (1);
    if (error != null)
        throw error;
    check (drained, "close_finish returned true once the reader left");

    /* Nothing held: completes from the main loop. */
    check (yield rw.close_async (), "close_async on a lock that holds nothing");
}

private async void test_table () throws Error {
    var table = new Aio.RwLockTable (Aio.RwLockPolicy.FAIR);
    var writer = yield table.acquire_async ("/a", Aio.RwLockMode.WRITE, -1);
    var other = table.try_acquire ("/b", Aio.RwLockMode.READ);

    check (table.n_keys == 2, "two keys");
    check (writer.get_lock ().name == "/a", "the lock is named after its key");
    bool would_block = false;
    try {
        table.try_acquire ("/a", Aio.RwLockMode.READ);
    } catch (IOError.WOULD_BLOCK e) {
        would_block = true;
    }
    check (would_block, "a write-held key would block");
    writer.release ();
    other.release ();
    /* (Whether the keys went with their guards is checked in C and Python:
     * the async function's data keeps temporaries until it returns.) */
    check (!writer.get_lock ().write_locked, "released");
    check (yield table.close_async (), "closed and drained");
    check (table.closed, "the table is closed");
}

private const string[] TESTS = {
    "readers overlap",
    "writer is exclusive",
    "guard released at the end of its scope",
    "cancellation",
    "timeout",
    "errors",
    "upgrade and downgrade",
    "try_acquire",
    "try_upgrade and downgrade_to",
    "upgrade_full",
    "close_async",
    "keyed table",
};

private async int run_all () {
    int failures = 0;

    print ("1..%d\n", TESTS.length);
    for (int i = 0; i < TESTS.length; i++) {
        try {
            switch (i) {
            case 0: yield test_readers_overlap (); break;
            case 1: yield test_writer_is_exclusive (); break;
            case 2: yield test_guard_scope (); break;
            case 3: yield test_cancellation (); break;
            case 4: yield test_timeout (); break;
            case 5: yield test_errors (); break;
            case 6: yield test_upgrade (); break;
            case 7: yield test_try_acquire (); break;
            case 8: yield test_try_upgrade_and_downgrade_to (); break;
            case 9: yield test_upgrade_full (); break;
            case 10: yield test_close_async (); break;
            case 11: yield test_table (); break;
            default: assert_not_reached ();
            }
            print ("ok %d - %s\n", i + 1, TESTS[i]);
        } catch (Error e) {
            failures++;
            print ("not ok %d - %s\n# %s\n", i + 1, TESTS[i], e.message);
        }
    }
    return failures;
}

public static int main (string[] args) {
    var loop = new MainLoop ();
    int status = 1;

    /* An acquisition that never completes must fail, not hang. */
    Timeout.add_seconds (DEADLINE_SECONDS, () => {
        printerr ("Bail out! not finished within %u s\n", DEADLINE_SECONDS);
        Process.exit (1);
    });
    run_all.begin ((obj, res) => {
        status = run_all.end (res) == 0 ? 0 : 1;
        loop.quit ();
    });
    loop.run ();
    return status;
}
