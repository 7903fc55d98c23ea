/* aiorwlock.pml: a Promela model of aiorwlock-glib's lock, checked with spin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Written against aiorwlock-glib/ as of commit b287c05 ("rw-lock: Count
 * uncontended READ and WRITE holds in an atomic word"; before that,
 * c952e92 and 95609be); a change to
 * aio-rw-lock-core.c or aio-rw-lock-state.c must be made here too (the
 * names below say where).
 *
 * What is modelled, and where it lives in C:
 *
 *   AioRwLockState (aio-rw-lock-state.[ch])    n_read, upgradable, writer, closed,
 *                                             upgrade, queue[3], next_seq, seq[]
 *   AioRwLockWaiter (aio-rw-lock-waiter.h)     status[], req_mode[] (request.mode),
 *                                             is_upgrade[], queued[], changed_mode[],
 *                                             is_drain () (its index),
 *                                             failure[], woken[] (its completion is
 *                                             in its context's completion source)
 *   deliver () (aio-rw-lock-core.c)           delivered[] (outcome, what
 *                                             deliver_locked () returned)
 *   AioRwLockGuard (aio-rw-lock-core.c)        gmode[] (mode; HOLD_NONE once released),
 *                                             g_upgrade[] (guard->upgrade != NULL: from
 *                                             the upgrade's submission to its delivery)
 *   GCancellable                              cancelled[], connected[], handler_pending[]
 *   AioRwLockCore.drains                      queued[] of the drainers' waiters
 *
 * Every client process is one thread with its own main context. It owns at
 * most one waiter and one guard at a time, so both are indexed by the client
 * id (a waiter pointer in C is a client id here; NOBODY is NULL; the
 * upgrade of guard g is waiter g). A drainer process (WITH_DRAIN) is a
 * thread that calls close_async () once; its waiter comes after the
 * clients' (NCLIENTS + k) and has no guard.
 *
 * Every section of C that runs with the core's mutex held is one d_step
 * here (the mutex makes it atomic for every other thread), and ends with
 * check_invariants(). A grant is therefore counted in the same atomic step
 * that makes it, as in serve_locked().
 *
 * Each inline macro models one C function, most of them of the same name;
 * the client process strings them together as
 * aio_rw_lock_core_acquire_async () and aio_rw_lock_core_upgrade_async ()
 * do, then runs its main loop:
 *
 *   model                         C
 *   ----------------------------  -------------------------------------------
 *                                 aio-rw-lock-state.c:
 *   compatible, may_enter,        its static helpers of the same names
 *   queue_waits, queue_head,
 *   queued_before, enter, leave
 *   admits, peek_next,            aio_rw_lock_state_<name> ()
 *   try_enter, enqueue,
 *   try_upgrade, enqueue_upgrade,
 *   remove, grant_next, convert,
 *   close, pop_any, has_holds
 *   renumber                      (none: keeps the seq stamps finite, below)
 *
 *                                 aio-rw-lock-core.c:
 *   hold_mode_locked              hold_mode_locked ()
 *   set_guard_mode_locked         set_guard_mode_locked ()
 *   change_mode_locked            change_mode_locked ()
 *   settle_locked                 settle_locked ()
 *   serve_locked                  serve_locked (), with at its end
 *   serve_drains_locked           its settling of the drain waiters
 *   drain_idle_locked             its !aio_rw_lock_state_has_holds ()
 *   submit_locked                 submit_locked (): acquisitions and upgrades
 *   withdraw_locked               withdraw_locked ()
 *   undo_upgrade_of_released_locked  undo_upgrade_of_released_locked ()
 *   revoke_locked                 revoke_locked ()
 *   revoke_if_cancelled_locked    revoke_if_cancelled_locked ()
 *   deliver_locked                deliver_locked (): the line
 *   on_cancelled                  on_cancelled ()
 *   on_deadline_due               on_deadline_due ()
 *   guard_new                     guard_new () of a granted acquisition
 *   deliver_begin                 deliver (), up to where it first releases
 *                                 the mutex: revoke_if_cancelled_locked ()
 *                                 (with no handler: deliver_locked ())
 *   deliver                       the rest of deliver (): the disconnect,
 *                                 deliver_locked () under the mutex again
 *                                 (deliver_line), guard_new (); and the
 *                                 caller's callback right after it
 *   on_completion                 on_completion (): g_task_return_boolean ()
 *   task_returned                 aio_rw_lock_core_task_returned ():
 *                                 deliver (), then the caller's callback
 *   task_returned_locked          its part under the mutex until deliver ()
 *                                 first releases it: deliver_begin ()
 *   waiter_new_async              waiter_new_async (), with its
 *                                 g_task_return_error_if_cancelled ()
 *   callback                      the caller's callback (waiter->callback),
 *                                 which calls _finish
 *   acquire_finish                aio_rw_lock_core_acquire_finish ()
 *   upgrade_finish                aio_rw_lock_core_upgrade_finish ()
 *   core_close                    aio_rw_lock_core_close ()
 *   drain_submit_locked           aio_rw_lock_core_close_async ()'s section
 *                                 under the mutex (the drainer process
 *                                 strings the rest together)
 *   close_finish                  aio_rw_lock_core_close_finish ()
 *   release_locked                release_locked (), as
 *                                 aio_rw_lock_core_guard_release () calls it
 *   guard_downgrade               aio_rw_lock_core_guard_downgrade ()
 *   downgrade_refused             its refusals (and downgrade_to ()'s of a
 *                                 released guard or a pending upgrade)
 *   guard_downgrade_to            aio_rw_lock_core_guard_downgrade_to ()
 *   guard_try_upgrade             aio_rw_lock_core_guard_try_upgrade ()
 *   visible_mode_locked           visible_mode_locked (), for
 *                                 aio_rw_lock_core_guard_get_mode ()
 *   upgrade_refusal               submit_locked ()'s refusals of an upgrade
 *   guard_probe                   another thread's get_mode (), second
 *                                 upgrade_async () or try_upgrade () and
 *                                 downgrade () or downgrade_to () of a
 *                                 guard whose upgrade is pending
 *
 *                                 aio-rw-lock-waiter.c:
 *   waiter_connect                aio_rw_lock_waiter_connect ()
 *   waiter_wake                   aio_rw_lock_waiter_wake (): the push onto
 *                                 the context's completion source
 *   waiter_disconnect             aio_rw_lock_waiter_disconnect ()
 *   waiter_free                   aio_rw_lock_waiter_free () (and the core's
 *                                 waiter_free ())
 *
 * The line of DESIGN.md ("the line is the moment the callback starts"; the
 * text is in doc/cancellation.md): the task's callback is the core's,
 * aio_rw_lock_core_task_returned (); it takes the mutex and calls deliver
 * (), then, with no main-loop iteration in between, the caller's callback.
 * Between the wake (settle) and that lie the completion source's dispatch
 * (on_completion) and GTask's deferral of the callback to an idle: any
 * other thread may run there, and a cancel landing there finds the waiter
 * GRANTED and its handler hands it back. deliver () first hands back a
 * grant whose cancel landed already (revoke_if_cancelled_locked ()), then
 * releases the mutex to disconnect the handler, which waits for a
 * "cancelled" emission running on another thread; until it returns our
 * handler may still run, and finds the waiter as it was: a grant GRANTED
 * (it hands it back), an upgrade pending. Then, under the mutex again,
 * deliver_locked () decides everything at once: a grant whose cancel
 * landed after the disconnect (no handler of ours ran for it) is handed
 * back, an upgrade whose guard was released fails, the upgrade stops being
 * pending, the waiter is DONE. That is the line. Steps here: the dispatch
 * with deliver ()'s part under the mutex (deliver_begin: on_completion
 * changes nothing another thread reads, see there), the disconnect, and
 * deliver_locked () with what follows it up to and including the
 * caller's callback: after the line nothing of ours looks at the flag, and
 * guard_new () and the callback touch nothing another thread reads. The
 * client records in `landed` whether the cancel had landed at the line.
 *
 * Another thread may use a client's guard while its upgrade is under way:
 * release it, or look at it while the upgrade is pending (guard_probe: the
 * mode it shows, a second upgrade, a downgrade). The client's canceller
 * process is that thread.
 *
 * The seq stamps are kept order-isomorphic to the C ones but renumbered
 * 0..k-1 over the k queued requests whenever one leaves (C only ever
 * compares them), so that clients may loop forever in a finite state space.
 *
 * Options (-D on the spin command line):
 *   NCLIENTS=n       client processes (default 3)
 *   ITERATIONS=n     requests per client; 0 = forever (default 2)
 *   POLICY=FAIR | PREFER_WRITERS | PREFER_READERS   (default FAIR)
 *   WITH_UPGRADABLE  clients also ask for UPGRADABLE_READ
 *   WITH_UPGRADE     an UPGRADABLE_READ holder may upgrade, and another
 *                    thread may release the guard or look at it meanwhile
 *                    (see canceller); implies WITH_UPGRADABLE
 *   WITH_UPGRADE_ANY with WITH_UPGRADE: any holder may ask for an upgrade
 *                    (a READ guard is refused, a WRITE one is granted at
 *                    once, closed or not)
 *   WITH_DOWNGRADE   a WRITE / UPGRADABLE_READ holder may downgrade to READ
 *   WITH_DOWNGRADE_TO  a WRITE holder may downgrade_to () UPGRADABLE_READ
 *                    (to READ it is WITH_DOWNGRADE's), and a holder changes
 *                    its mode up to twice before it releases (HOLD_OPS):
 *                    then upgrades again, for one; implies WITH_UPGRADABLE
 *   WITH_TRY_UPGRADE an UPGRADABLE_READ holder (any, with WITH_UPGRADE_ANY)
 *                    may try_upgrade (); implies WITH_UPGRADABLE
 *   HOLD_OPS=n       mode changes per hold (default 2 with
 *                    WITH_DOWNGRADE_TO, else 1)
 *   WITH_TIMEOUT     acquisitions have a deadline of -1, 0 or >0 ms; a
 *                    deadline may expire while the request is queued
 *   WITH_UPGRADE_TIMEOUT  upgrades are upgrade_full_async ()s with a
 *                    deadline of -1, 0 or >0 ms (else upgrade_async (): -1)
 *   WITH_CLOSE       a closer thread may close the lock at any time
 *   WITH_FAST        the atomic word (aio-rw-lock-fast.h): clients also
 *                    try_acquire () READ or WRITE on the word, and end a
 *                    plain guard's hold with a claim, then the word's
 *                    compare-and-swap or the mutex (fast_try (),
 *                    fast_release ()); every section ends as core_unlock
 *                    () does. An async request without a cancellable
 *                    granted on the word is a fast_try () whose guard
 *                    reaches its caller through the completion source,
 *                    seen by no other thread: not modelled apart
 *   WITH_DRAIN       NDRAINS drainer threads (default 1) each call
 *                    close_async () at any time, with a cancellable of
 *                    their own
 *   NO_PROMPT_DRAIN  check_invariants () does not ask that a drain waits
 *                    only while a hold is left (for the liveness check of
 *                    BUG_DRAIN_ON_RELEASE_ONLY)
 *   NO_CANCEL        no cancellation at all (and no canceller process:
 *                    nobody else uses a guard either)
 *   NO_GUARD_PROBE   the canceller does not run guard_probe () (for one
 *                    check of BUG_DECIDE_BEFORE_DISCONNECT)
 *   LIVENESS         for the no_starvation check (with ITERATIONS=0 and
 *                    weak fairness): whether a request will be cancelled,
 *                    and an upgrade's guard released, is chosen when it is
 *                    made (see canceller)
 * Mutants (each must make a check fail):
 *   BUG_REVOKE_LEAK            revoke_locked() forgets to give an
 *                              acquisition's hold back
 *   BUG_NO_SERVE_ON_WITHDRAW   withdraw_locked() does not serve the queue
 *   BUG_NO_REVOKE_AT_DELIVERY  deliver_locked() ignores the cancellable
 *                              (deliver_begin () still hands back a grant
 *                              whose cancel landed before the disconnect):
 *                              a cancel that lands after the disconnect, for
 *                              which no handler of ours runs, is missed
 *   BUG_NO_CANCEL_CHECK_AT_SUBMIT  submit_locked() does not look at the
 *                              cancellable (whose handler did nothing, the
 *                              waiter being NEW)
 *   BUG_DECIDE_AT_DISPATCH     deliver () runs in on_completion(), before
 *                              GTask's deferral of the callback, where the
 *                              code before b260a69 decided: a cancel that
 *                              lands in the deferral, before the callback
 *                              starts, is too late (no handler is
 *                              connected), and the callback gets the guard
 *   BUG_DECIDE_BEFORE_DISCONNECT  deliver () as of 1a3ab61: deliver_locked ()
 *                              decides everything before the disconnect
 *                              (the hand-back of a cancelled grant, the
 *                              failure of an upgrade whose guard was
 *                              released, the end of the upgrade's pending
 *                              state, DONE), and after it only the
 *                              cancellable is looked at again. In between
 *                              the upgrade is no longer pending although it
 *                              may still be handed back: a second upgrade
 *                              of its guard is not refused (guard_probe ());
 *                              with NO_GUARD_PROBE, a guard released there
 *                              gets its upgrade reported
 *   BUG_DRAIN_EARLY            the drains complete once no guard is held,
 *                              although a grant not yet delivered is
 *                              (serve_locked () asks the guards, not
 *                              aio_rw_lock_state_has_holds ())
 *   BUG_DRAIN_ON_RELEASE_ONLY  the drains are looked at in release_locked ()
 *                              only, not at the end of serve_locked (): a
 *                              last hold that is handed back (revoke_locked
 *                              ()) leaves them waiting for ever
 *   BUG_CLOSE_AT_DRAIN         close_async () closes only when the drain
 *                              completes: a cancelled wait leaves the lock
 *                              open
 *   BUG_DOWNGRADE_NO_SERVE     downgrade_to () does not serve the queue
 *   BUG_DOWNGRADE_TO_SPLIT     downgrade_to (UPGRADABLE_READ) in two
 *                              sections: the WRITE hold ends (whoever may
 *                              enter is served), then UPGRADABLE_READ is
 *                              taken
 *   BUG_TRY_UPGRADE_IGNORES_READERS  try_upgrade () makes the hold WRITE
 *                              without asking aio_rw_lock_state_try_upgrade
 *                              () whether other readers hold
 *   BUG_UPGRADE_DEADLINE_AFTER_GRANT  the deadline of an upgrade fails it
 *                              once granted too, leaving the guard WRITE
 *   BUG_FAST_WHILE_QUEUED      (WITH_FAST) core_unlock () lets holds go on
 *                              the word while requests are queued: a
 *                              newcomer barges, a release on the word serves
 *                              nobody
 *   BUG_UPGRADE_KEEPS_GUARD_PLAIN  (WITH_FAST) submit_locked () does not
 *                              make the guard of an upgrade HELD_SLOW: its
 *                              mode changes under the mutex while a release
 *                              may claim it without
 *
 * Properties:
 *   check_invariants(), at the end of every section under the mutex:
 *     - the holds the state counts are exactly the clients' (n_read is the
 *       number of clients holding READ, a granted but undelivered request
 *       included; upgradable and writer likewise): no leaked hold;
 *     - never a writer with anyone else, at most one UPGRADABLE_READ;
 *     - no forgotten waiter: after serve_locked() nobody may enter
 *       (peek_next() finds nobody), and spec_no_forgotten_waiter() says the
 *       same from the contract's wording of each policy, without may_enter();
 *     - a cancelled request is not left queued or granted once the
 *       "cancelled" handler has run: it completes promptly, and a grant is
 *       handed back before the callback runs (by the handler: until the
 *       disconnect returns the waiter stays GRANTED); a cancelled grant
 *       with no handler pending is held only while its own thread is in
 *       deliver (), between the disconnect and deliver_locked (), which
 *       hands it back next (past_disconnect);
 *     - each queue is FIFO by arrival; a request is in one place at a time;
 *     - drain safety: a drain waiter is granted, and until its callback
 *       stays granted, only while no hold is left, a grant not yet given
 *       to its caller included; and it waits (in core->drains) only while
 *       a hold is left (NO_PROMPT_DRAIN drops that).
 *   guard_downgrade_to(): one section, so no writer and no second
 *     UPGRADABLE_READ enters between WRITE and UPGRADABLE_READ (enter ()
 *     asserts that, as C's does), and the queued readers it lets in are
 *     served in it (no forgotten waiter, above).
 *   try_upgrade_checks(): try_upgrade () succeeds only where no other
 *     reader held, says WOULD_BLOCK only where one did (a queued writer
 *     does not stop it), and leaves a refused guard as it was.
 *   close_finish(): the lock is closed, also after a cancelled wait; a
 *     drain that succeeds leaves no hold; one fails only for a cancel
 *     that landed before its line.
 *   submit_locked(): a new request enters at once only as the policy allows
 *     (FAIR: nobody queued, so a releaser asking again queues behind the
 *     waiters it just woke).
 *   deliver_locked(): a request cancelled before the line is not
 *     decided as granted (the grant was handed back first).
 *   acquire_finish(), upgrade_finish(): a request whose cancel landed
 *     (its flag set) before its line never reports success and never ends
 *     holding; in particular, none whose "cancelled" handler ran
 *     (handler_ran) reports success; one whose cancel landed after it
 *     holds the lock (the client releases it); an upgrade reports success
 *     only for a guard still held; a request fails only for a reason;
 *     every request completes exactly once (settle_locked() and
 *     waiter_wake() assert one settlement and one push; the client waits
 *     for its callback); a failed upgrade, a timed-out one included,
 *     leaves its guard as it was: UPGRADABLE_READ (unless another thread
 *     released it).
 *   guard_probe(): while an upgrade waits, or is granted and its caller
 *     has not learnt of it, its guard shows the mode from before the grant,
 *     a second upgrade or a try_upgrade () is refused as pending (or as
 *     released), and a downgrade is refused (doc/upgrade.md).
 *   pan: no invalid end state (no deadlock, no request left waiting).
 *   ltl no_starvation (weak fairness): every request completes; with the
 *     assertions on why a request may fail: a request that is not
 *     cancelled (nor expired, nor refused by a closed lock, nor an upgrade
 *     whose guard was released) is granted. With WITH_DRAIN, also: once
 *     every holder has released, the (first) drain completes.
 *
 * Not modelled: blocking waiters (aio_rw_lock_core_acquire () runs
 * submit_locked (), withdraw_locked () on its deadline and deliver_locked ()
 * under the mutex, woken by a GCond instead of the completion source),
 * try_acquire (try_enter () alone; the 1.1 one only tells WOULD_BLOCK
 * from CLOSED after it), re-entered guards and their shared
 * holds (aio_rw_lock_core_guard_reenter (), the readers rule of a WRITE
 * hold with re-entered read guards: a guard here is its hold), a caller's
 * own "cancelled" handler (so the first revoke_if_cancelled_locked () in
 * deliver (), which is for such a handler that waits for the hand-back,
 * makes no difference here: our handler would hand the grant back
 * anyway), a second waiter on one guard (guard_probe () stops at
 * submit_locked ()'s refusal), and several contexts delivering one
 * client's requests.
 */

#ifndef NCLIENTS
#define NCLIENTS 3
#endif
#ifndef ITERATIONS
#define ITERATIONS 2
#endif

/* AioRwLockPolicy */
#define FAIR            0
#define PREFER_WRITERS  1
#define PREFER_READERS  2
#ifndef POLICY
#define POLICY FAIR
#endif

#ifdef WITH_UPGRADE
#ifndef WITH_UPGRADABLE
#define WITH_UPGRADABLE
#endif
#endif
#if defined(WITH_TRY_UPGRADE) || defined(WITH_DOWNGRADE_TO)
#ifndef WITH_UPGRADABLE
#define WITH_UPGRADABLE
#endif
#endif

/* close_async () callers (drainers), each a waiter of its own after the
 * clients' */
#ifndef NDRAINS
#ifdef WITH_DRAIN
#define NDRAINS 1
#else
#define NDRAINS 0
#endif
#endif
#define NWAITERS (NCLIENTS + NDRAINS)
/* waiter->is_drain */
#define is_drain(w) ((w) >= NCLIENTS)

/* AioRwLockMode, and AIO_RW_LOCK_HOLD_NONE */
#define MODE_READ             0
#define MODE_WRITE            1
#define MODE_UPGRADABLE_READ  2
#define HOLD_NONE             3

#define NOBODY 255   /* NULL */

/* AioRwLockWaiterStatus (AIO_RW_LOCK_WAITER_*), and AioRwLockFailure
 * (AIO_RW_LOCK_FAILURE_*: why a waiter failed; FAILURE_NONE as the outcome
 * of a request: it holds). */
mtype = { WAITER_NEW, WAITER_QUEUED, WAITER_GRANTED, WAITER_FAILED, WAITER_DONE,
          FAILURE_NONE, FAILURE_CANCELLED, FAILURE_TIMED_OUT, FAILURE_NOT_AT_ONCE,
          FAILURE_CLOSED, FAILURE_ALREADY_RELEASED, FAILURE_RELEASED_WHILE_WAITING,
          FAILURE_RELEASED_BEFORE_COMPLETED, FAILURE_UPGRADE_OF_READ,
          FAILURE_UPGRADE_PENDING, FAILURE_WOULD_BLOCK };

/* ---- AioRwLockState ---- */
byte n_read;                 /* READ holds */
bool upgradable;             /* an UPGRADABLE_READ hold exists */
bool writer;                 /* a WRITE hold exists */
bool closed;
byte upgrade = NOBODY;       /* the waiter of the pending upgrade */
chan queue[3] = [NCLIENTS] of { byte };   /* waiting requests, one FIFO per mode */
byte next_seq;

/* ---- AioRwLockWaiter (and its AioRwLockRequest), one per client, then
 * one per drainer (index NCLIENTS + k; seq[] is the clients' only) ---- */
mtype status[NWAITERS] = WAITER_DONE;   /* DONE also: no waiter */
byte  req_mode[NWAITERS];    /* request.mode */
byte  seq[NCLIENTS];         /* request.seq */
bool  is_upgrade[NWAITERS];  /* request.is_upgrade */
bool  queued[NWAITERS];      /* request.queued; a drain's: in core->drains */
bool  changed_mode[NWAITERS];
mtype failure[NWAITERS] = FAILURE_NONE;   /* failure */
bool  woken[NWAITERS];       /* its completion is in its context's completion source */
/* The outcome deliver_locked () returned, which the callback reads
 * (GRANTED, FAILED or NEW; 0 until deliver_locked () ran). Here it lasts
 * from deliver_locked () to the callback, which share a step except for a
 * waiter with no handler (and in mutants); a GRANTED one counts its hold
 * (owned ()) until guard_new () gives it a guard. */
mtype delivered[NWAITERS];

/* ---- AioRwLockGuard, one per client (a drainer's is never used) ---- */
byte gmode[NWAITERS] = HOLD_NONE;  /* guard->mode; HOLD_NONE: no guard, or released */
bool g_upgrade[NWAITERS];    /* guard->upgrade != NULL: an upgrade its caller has not learnt of */

/* ---- The fast word (aio-rw-lock-fast.h), WITH_FAST ----
 *
 * In C, each hold is counted either in the word (while SLOW is clear) or
 * in the state: taking the mutex moves the word's holds to the state
 * (stop_fast_locked ()), letting it go with nothing queued or pending
 * moves them back (core_unlock ()). A section under the mutex is one
 * d_step here, and while it runs the word is SLOW, so a fast operation
 * on another thread fails and waits for the mutex: what it sees is the
 * word before or after the section. So the model keeps n_read and writer
 * as the totals and fast_on as what SLOW is between sections, set by
 * CORE_UNLOCK at the end of each; a fast operation changes the totals
 * only while fast_on. */
#ifdef WITH_FAST
bool fast_on;                /* SLOW is clear: holds go on the word */
bool g_plain[NWAITERS];      /* guard->status == GUARD_HELD */
byte leaving[NWAITERS] = HOLD_NONE;   /* a release claimed the guard
                                       * (RELEASED); its hold not ended yet */
#ifndef BUG_FAST_WHILE_QUEUED
#define may_go_fast (!upgradable && upgrade == NOBODY && !closed && \
                     len(queue[0]) + len(queue[1]) + len(queue[2]) == 0)
#else
#define may_go_fast (!upgradable && upgrade == NOBODY && !closed)
#endif
#define CORE_UNLOCK fast_on = may_go_fast
#define NOT_LEAVING(g) (leaving[g] == HOLD_NONE)
/* guard_hold_slow_locked (): before anything of the guard changes */
#ifndef BUG_UPGRADE_KEEPS_GUARD_PLAIN
#define MAKE_SLOW(g) g_plain[g] = false
#else
#define MAKE_SLOW(g) skip
#endif
#define ASSERT_SLOW(g) assert(!g_plain[g])
#else
#define CORE_UNLOCK skip
#define NOT_LEAVING(g) true
#define MAKE_SLOW(g) skip
#define ASSERT_SLOW(g) skip
#endif

/* ---- The GCancellable of the waiter's current request ---- */
bool cancelled[NWAITERS];        /* g_cancellable_is_cancelled () */
bool connected[NWAITERS];        /* on_cancelled is connected */
bool handler_pending[NWAITERS];  /* g_cancellable_cancel () is emitting "cancelled" */
#ifdef LIVENESS
bool will_cancel[NWAITERS];      /* this request is going to be cancelled */
bool will_release[NWAITERS];     /* this upgrade's guard is going to be released */
#define cancel_planned(c) will_cancel[c]
#define release_planned(c) will_release[c]
#else
#define cancel_planned(c) true
#define release_planned(c) true
#endif

/* ---- Observers, for the properties ---- */
bool requested[NWAITERS];    /* a request (acquire, upgrade or
                              * close_async) is between its call and its
                              * callback */
bool handler_ran[NWAITERS];  /* on_cancelled () ran for the current request */
bool past_disconnect[NWAITERS];   /* its thread is in deliver (), between the
                                   * disconnect and deliver_locked () */

/* Scratch of the inline macros: only used inside one d_step, so hidden
 * (not part of the state). Each macro has its own, since they nest. */
hidden byte ad_any, ad_w, ad_u;
hidden byte qh_tmp;
hidden byte pk_heads[3], pk_n, pk_m, pk_i, pk_h, pk_c;
hidden byte pk_any, pk_aw, pk_au, pk_ok;
hidden byte rm_j, rm_s;
hidden byte sv_r;
hidden byte pa_first, pa_m, pa_h;
hidden byte cl_r;
hidden byte sg_from, sg_to;
hidden mtype sb_refusal;
hidden byte sb_entered;
hidden byte ci_i, ci_m, ci_r, ci_u, ci_w, ci_next;
hidden byte sp_i, sp_first, sp_f[3], sp_h;
hidden byte sa_any, sa_wq, sa_rq;
hidden mtype pr_refusal;
hidden byte dr_i, dr_j;
hidden byte dr_idle;
hidden byte nh_i;
hidden byte nh_none;
hidden mtype tu_refusal;
hidden byte tu_from, tu_readers;
hidden byte tu_ok;
hidden byte ft_ok;

/* =================================================================== */
/* aio-rw-lock-state.c                                                  */
/* =================================================================== */

/* queue_waits (): whether a request of MODE is queued */
#define queue_waits(m) (len(queue[m]) > 0)

/* compatible (): READ goes with READ and one UPGRADABLE_READ;
 * UPGRADABLE_READ with READ only; WRITE with nothing. */
#define compatible(m) \
  (((m) == MODE_READ && !writer) || \
   ((m) == MODE_UPGRADABLE_READ && !writer && !upgradable) || \
   ((m) == MODE_WRITE && !writer && !upgradable && n_read == 0))

/* may_enter (): the policy. Everything about it is here. */
inline may_enter(mode, a_anyone, a_writer, a_upgradable, result)
{
  if
  :: !compatible(mode) -> result = false
  :: else ->
     if
     :: upgrade != NOBODY && POLICY != PREFER_READERS ->
        /* a pending upgrade is a writer that already holds the lock */
        result = false
     :: else ->
#if POLICY == FAIR
        /* no barging: only the first in line enters */
        result = !(a_anyone)
#elif POLICY == PREFER_WRITERS
        if
        :: (mode) == MODE_WRITE -> result = !(a_writer)
        :: else ->
           if
           :: queue_waits(MODE_WRITE) -> result = false
           :: else -> result = ((mode) == MODE_READ || !(a_upgradable))
           fi
        fi
#elif POLICY == PREFER_READERS
        if
        :: (mode) == MODE_READ -> result = true
        :: (mode) == MODE_UPGRADABLE_READ -> result = !(a_upgradable)
        :: else ->
           result = (!(a_writer) && !queue_waits(MODE_READ) &&
                     !queue_waits(MODE_UPGRADABLE_READ))
        fi
#else
        assert(false)
#endif
     fi
  fi
}

/* queue_head (): the head of queue MODE, or NOBODY */
inline queue_head(m, h)
{
  if
  :: len(queue[m]) > 0 -> queue[m]?<h>
  :: else -> h = NOBODY
  fi
}

/* queued_before () */
#define queued_before(h, s) ((h) != NOBODY && seq[h] < (s))

/* aio_rw_lock_state_has_holds (): a grant counts from the moment it is
 * made */
#define has_holds (n_read > 0 || upgradable || writer)

/* aio_rw_lock_state_admits (): whether a new request may enter at once */
inline admits(mode, result)
{
  if
  :: closed -> result = false
  :: else ->
     ad_w = queue_waits(MODE_WRITE);
     ad_u = queue_waits(MODE_UPGRADABLE_READ);
     ad_any = (ad_w || ad_u || queue_waits(MODE_READ));
     may_enter(mode, ad_any, ad_w, ad_u, result)
  fi
}

/* aio_rw_lock_state_peek_next (): the waiting request that may enter now.
 * A pending upgrade first, once the other readers have left; then the
 * queue heads in arrival order. */
inline peek_next(result)
{
  result = NOBODY;
  if
  :: upgrade != NOBODY && n_read == 0 -> result = upgrade
  :: else ->
     pk_n = 0;
     for (pk_m : 0 .. 2) {
       queue_head(pk_m, pk_h);
       if
       :: pk_h != NOBODY ->
          /* insertion sort by arrival */
          pk_i = pk_n;
          do
          :: pk_i > 0 && seq[pk_heads[pk_i - 1]] > seq[pk_h] ->
             pk_heads[pk_i] = pk_heads[pk_i - 1];
             pk_i--
          :: else -> break
          od;
          pk_heads[pk_i] = pk_h;
          pk_n++
       :: else
       fi
     }
     pk_i = 0;
     do
     :: pk_i < pk_n && result == NOBODY ->
        pk_c = pk_heads[pk_i];
        pk_any = (pk_i > 0);
        queue_head(MODE_WRITE, qh_tmp);
        pk_aw = queued_before(qh_tmp, seq[pk_c]);
        queue_head(MODE_UPGRADABLE_READ, qh_tmp);
        pk_au = queued_before(qh_tmp, seq[pk_c]);
        may_enter(req_mode[pk_c], pk_any, pk_aw, pk_au, pk_ok);
        if
        :: pk_ok -> result = pk_c
        :: else
        fi;
        pk_i++
     :: else -> break
     od
  fi
}

/* enter () */
inline enter(m)
{
  if
  :: (m) == MODE_READ -> n_read++
  :: (m) == MODE_UPGRADABLE_READ ->
     assert(!upgradable && !writer);
     upgradable = true
  :: (m) == MODE_WRITE ->
     assert(!writer && !upgradable && n_read == 0);
     writer = true
  :: else -> assert(false)
  fi
}

/* leave () */
inline leave(m)
{
  if
  :: (m) == MODE_READ -> assert(n_read > 0); n_read--
  :: (m) == MODE_UPGRADABLE_READ -> assert(upgradable); upgradable = false
  :: (m) == MODE_WRITE -> assert(writer); writer = false
  :: else -> assert(false)
  fi
}

/* aio_rw_lock_state_try_enter () */
inline try_enter(mode, result)
{
  admits(mode, result);
  if
  :: result -> enter(mode)
  :: else
  fi
}

/* aio_rw_lock_state_enqueue () */
inline enqueue(w)
{
  assert(!queued[w] && !is_upgrade[w]);
  seq[w] = next_seq;
  next_seq++;
  queued[w] = true;
  queue[req_mode[w]]!w
}

/* aio_rw_lock_state_try_upgrade () */
inline try_upgrade(result)
{
  assert(upgradable && upgrade == NOBODY);
  if
  :: n_read > 0 -> result = false
  :: else ->
     upgradable = false;
     writer = true;
     result = true
  fi
}

/* aio_rw_lock_state_enqueue_upgrade () */
inline enqueue_upgrade(w)
{
  assert(upgradable && upgrade == NOBODY && !queued[w]);
  is_upgrade[w] = true;
  req_mode[w] = MODE_WRITE;
  queued[w] = true;
  upgrade = w
}

/* Renumbers the queued seq stamps after W left (order-preserving; C's
 * stamps only grow, and only their order is ever used). */
inline renumber(w)
{
  rm_s = seq[w];
  for (rm_j : 0 .. NCLIENTS - 1) {
    if
    :: queued[rm_j] && !is_upgrade[rm_j] && seq[rm_j] > rm_s -> seq[rm_j]--
    :: else
    fi
  }
  next_seq--;
  seq[w] = 0
}

/* aio_rw_lock_state_remove (): g_queue_unlink () in O(1) */
inline remove(w)
{
  assert(queued[w]);
  if
  :: is_upgrade[w] ->
     assert(upgrade == w);
     upgrade = NOBODY
  :: else ->
     queue[req_mode[w]]??eval(w);
     renumber(w)
  fi;
  queued[w] = false
}

/* aio_rw_lock_state_grant_next (): takes the next request that may enter
 * out of the queue and counts its hold */
inline grant_next(result)
{
  peek_next(result);
  if
  :: result == NOBODY
  :: else ->
     if
     :: is_upgrade[result] ->
        upgrade = NOBODY;
        queued[result] = false;
        upgradable = false;
        writer = true
     :: else ->
        remove(result);
        enter(req_mode[result])
     fi
  fi
}

/* aio_rw_lock_state_convert () */
inline convert(from, to)
{
  if
  :: (from) == (to)
  :: else ->
     if
     :: (from) != HOLD_NONE -> leave(from)
     :: else
     fi;
     if
     :: (to) != HOLD_NONE -> enter(to)
     :: else
     fi
  fi
}

/* aio_rw_lock_state_close () */
inline close()
{
  closed = true
}

/* aio_rw_lock_state_pop_any (): in arrival order, the pending upgrade first */
inline pop_any(result)
{
  pa_first = upgrade;
  if
  :: pa_first == NOBODY ->
     for (pa_m : 0 .. 2) {
       queue_head(pa_m, pa_h);
       if
       :: pa_h != NOBODY && (pa_first == NOBODY || seq[pa_h] < seq[pa_first]) ->
          pa_first = pa_h
       :: else
       fi
     }
  :: else
  fi;
  if
  :: pa_first != NOBODY -> remove(pa_first)
  :: else
  fi;
  result = pa_first
}

/* =================================================================== */
/* aio-rw-lock-waiter.c: wakes a waiter, decides nothing                */
/* =================================================================== */

/* aio_rw_lock_waiter_connect (), before the submission, without the
 * mutex: g_cancellable_connect () runs the handler at once (and connects
 * nothing) if the cancellable is cancelled already; the waiter is NEW, so
 * the handler does nothing. */
inline waiter_connect(w)
{
  assert(status[w] == WAITER_NEW);
  if
  :: cancelled[w] -> on_cancelled(w); handler_ran[w] = true
  :: else -> connected[w] = true
  fi
}

/* aio_rw_lock_waiter_wake (): an async waiter's completion goes onto its
 * context's completion source (aio_completion_source_push ()); its link is
 * in one queue at a time. Never runs a callback. */
inline waiter_wake(w)
{
  assert(!woken[w]);
  woken[w] = true
}

/* aio_rw_lock_waiter_disconnect (), in deliver (), without the mutex:
 * g_cancellable_disconnect () waits while "cancelled" is being emitted on
 * another thread (the caller's guard: !handler_pending[w]); once it
 * returns, a cancel runs no handler of ours. deliver () destroys the
 * deadline source with a second call, after deliver_locked () (the model
 * let it go at the wake: from then on it does nothing, the waiter not
 * being QUEUED). */
inline waiter_disconnect(w)
{
  assert(!handler_pending[w]);
  connected[w] = false
}

/* waiter_free () and aio_rw_lock_waiter_free (), once the task is gone:
 * the model's waiter reads as none again (status DONE), so that equal
 * states look equal. */
inline waiter_free(w)
{
  assert(!woken[w] && !queued[w] && !connected[w] && !g_upgrade[w]);
  status[w] = WAITER_DONE;
  req_mode[w] = 0;
  is_upgrade[w] = false;
  changed_mode[w] = false;
  failure[w] = FAILURE_NONE
}

/* =================================================================== */
/* aio-rw-lock-core.c: the mutex and every transition made under it     */
/* =================================================================== */

/* hold_mode_locked (): a guard's hold (no re-entered guards in the model:
 * a guard is its hold; HOLD_NONE once released) */
#define hold_mode_locked(g) gmode[g]

/* set_guard_mode_locked (): the guard's mode (HOLD_NONE: releases it) and
 * its hold's, not yet the state's count of it; FROM and TO get that change */
inline set_guard_mode_locked(g, mode, from, to)
{
  ASSERT_SLOW(g);
  from = hold_mode_locked(g);
  gmode[g] = mode;
  to = hold_mode_locked(g)
}

/* change_mode_locked (): the same, and the state counts the hold in its
 * new mode. Whoever may enter now is not served yet. */
inline change_mode_locked(g, mode)
{
  set_guard_mode_locked(g, mode, sg_from, sg_to);
  convert(sg_from, sg_to)
}

/* visible_mode_locked (): the mode the guard's owner sees
 * (aio_rw_lock_core_guard_get_mode ()): a granted upgrade shows once its
 * caller learns of it (until then the lock counts the hold as WRITE) */
#define visible_mode_locked(g) \
  ((g_upgrade[g] && changed_mode[g]) -> MODE_UPGRADABLE_READ : gmode[g])

/* settle_locked (): a request's status changes from NEW or QUEUED to
 * GRANTED or FAILED; its owner is woken. A granted upgrade of an
 * UPGRADABLE_READ guard makes the guard WRITE: the state counts the hold
 * as WRITE already. */
inline settle_locked(w, st, err)
{
  assert(status[w] == WAITER_NEW || status[w] == WAITER_QUEUED);
  assert((st) == WAITER_GRANTED || (st) == WAITER_FAILED);
  assert(((st) == WAITER_FAILED) == ((err) != FAILURE_NONE));
  status[w] = st;
  failure[w] = err;
  if
  :: (st) == WAITER_GRANTED && is_upgrade[w] && gmode[w] == MODE_UPGRADABLE_READ ->
     assert(writer);
     set_guard_mode_locked(w, MODE_WRITE, sg_from, sg_to);
     changed_mode[w] = true
  :: else
  fi;
  waiter_wake(w)
}

/* Whether the drain waiters may complete: aio_rw_lock_state_has_holds ()
 * says no hold is left (serve_locked (), close_async ()). With
 * BUG_DRAIN_EARLY they look at the guards instead, which misses a grant
 * its caller has not been given yet. */
inline drain_idle_locked(result)
{
#ifndef BUG_DRAIN_EARLY
  result = !has_holds
#else
  result = true;
  for (dr_j : 0 .. NCLIENTS - 1) {
    if
    :: gmode[dr_j] != HOLD_NONE -> result = false
    :: else
    fi
  }
#endif
}

/* The end of serve_locked (): once no hold is left, every drain waiter
 * leaves core->drains, granted. (A drain is not in the state's queue:
 * queued[] of a drainer says it is in core->drains.) With
 * BUG_CLOSE_AT_DRAIN, close_async () closes only here. */
inline serve_drains_locked()
{
  drain_idle_locked(dr_idle);
  if
  :: dr_idle ->
     for (dr_i : NCLIENTS .. NWAITERS - 1) {
       if
       :: queued[dr_i] ->
          queued[dr_i] = false;
          settle_locked(dr_i, WAITER_GRANTED, FAILURE_NONE)
#ifdef BUG_CLOSE_AT_DRAIN
          ; core_close()
#endif
       :: else
       fi
     }
  :: else
  fi
}

/* serve_locked (): grants every waiting request that may enter now; each
 * grant is counted at once. Then the drains: every change that can end
 * the last hold reaches here (with BUG_DRAIN_ON_RELEASE_ONLY, only
 * release_locked () looks at them). */
inline serve_locked()
{
  do
  :: grant_next(sv_r);
     if
     :: sv_r == NOBODY -> break
     :: else -> settle_locked(sv_r, WAITER_GRANTED, FAILURE_NONE)
     fi
  od
#if defined(WITH_DRAIN) && !defined(BUG_DRAIN_ON_RELEASE_ONLY)
  ;
  serve_drains_locked()
#endif
}

/* submit_locked ()'s refusals of an upgrade of guard G after the
 * cancellable (its waiter's own), in its order; FAILURE_NONE: it goes on */
inline upgrade_refusal(g, refusal)
{
  if
  :: gmode[g] == HOLD_NONE -> refusal = FAILURE_ALREADY_RELEASED
  :: gmode[g] == MODE_READ -> MAKE_SLOW(g); refusal = FAILURE_UPGRADE_OF_READ
  :: else ->
     MAKE_SLOW(g);
     if
     :: g_upgrade[g] || upgrade != NOBODY -> refusal = FAILURE_UPGRADE_PENDING
     :: else -> refusal = FAILURE_NONE
     fi
  fi
}

#ifndef BUG_NO_CANCEL_CHECK_AT_SUBMIT
#define submit_sees_cancel(w) cancelled[w]
#else
#define submit_sees_cancel(w) false
#endif

/* submit_locked (): a new request, an acquisition or the upgrade of guard
 * W: granted now, refused now, or queued. The one decision tree for both.
 * ARMED gets whether a deadline source was attached. */
inline submit_locked(w, timeout_msec, armed)
{
  armed = false;
  assert(status[w] == WAITER_NEW);
  sb_refusal = FAILURE_NONE;
  sb_entered = false;

  if
  :: submit_sees_cancel(w) -> sb_refusal = FAILURE_CANCELLED
  :: else ->
     if
     :: !is_upgrade[w]
     :: else -> upgrade_refusal(w, sb_refusal)
     fi
  fi;

  if
  :: sb_refusal == FAILURE_NONE && is_upgrade[w] ->
     /* pending from here until its caller learns the outcome */
     g_upgrade[w] = true;
     /* a hold that is exclusive already upgrades at once, closed or not */
     sb_entered = (hold_mode_locked(w) == MODE_WRITE)
  :: else
  fi;

  if
  :: sb_refusal == FAILURE_NONE && !sb_entered ->
     if
     :: closed -> sb_refusal = FAILURE_CLOSED
     :: !closed && is_upgrade[w] -> try_upgrade(sb_entered)
     :: !closed && !is_upgrade[w] ->
        /* what the contract says about admitting a new request at once */
        sa_any = (queue_waits(MODE_READ) || queue_waits(MODE_WRITE) ||
                  queue_waits(MODE_UPGRADABLE_READ) || upgrade != NOBODY);
        sa_wq = (queue_waits(MODE_WRITE) || upgrade != NOBODY);
        sa_rq = (queue_waits(MODE_READ) || queue_waits(MODE_UPGRADABLE_READ));
        try_enter(req_mode[w], sb_entered);
        if
        :: sb_entered ->
           /* FAIR: no barging; PREFER_WRITERS: a reader waits while a
            * writer waits; PREFER_READERS: a writer lets waiting readers
            * first */
           assert(POLICY != FAIR || !sa_any);
           assert(POLICY != PREFER_WRITERS || req_mode[w] == MODE_WRITE || !sa_wq);
           assert(POLICY != PREFER_READERS || req_mode[w] != MODE_WRITE || !sa_rq)
        :: else
        fi
     fi
  :: else
  fi;

  if
  :: sb_refusal == FAILURE_NONE && !sb_entered && (timeout_msec) == 0 ->
     sb_refusal = FAILURE_NOT_AT_ONCE
  :: else
  fi;

  if
  :: sb_entered -> settle_locked(w, WAITER_GRANTED, FAILURE_NONE)
  :: !sb_entered && sb_refusal != FAILURE_NONE -> settle_locked(w, WAITER_FAILED, sb_refusal)
  :: !sb_entered && sb_refusal == FAILURE_NONE ->
     if
     :: is_upgrade[w] -> enqueue_upgrade(w)
     :: else -> enqueue(w)
     fi;
     status[w] = WAITER_QUEUED;
     /* every modelled waiter is async (has a task) */
     armed = ((timeout_msec) > 0)
  fi
}

/* withdraw_locked (): a request that was cancelled, or whose deadline
 * passed, while it was waiting gives up its place; whoever it blocked is
 * served. */
inline withdraw_locked(w, err)
{
  assert(status[w] == WAITER_QUEUED);
  if
#ifdef WITH_DRAIN
  :: is_drain(w) ->
     /* g_queue_remove (&self->drains): it blocked nobody */
     queued[w] = false;
     settle_locked(w, WAITER_FAILED, err)
#endif
  :: !is_drain(w) ->
     remove(w);
     settle_locked(w, WAITER_FAILED, err);
#ifndef BUG_NO_SERVE_ON_WITHDRAW
     serve_locked()
#endif
  fi
}

/* undo_upgrade_of_released_locked (): a failed upgrade of a released
 * guard leaves it as it was. In C the released guard shows UPGRADABLE_READ
 * again; here a released guard has no mode (gmode is HOLD_NONE), so only
 * changed_mode is left to undo. Nothing the state counts changes. */
inline undo_upgrade_of_released_locked(w)
{
  assert(gmode[w] == HOLD_NONE);
  changed_mode[w] = false
}

/* revoke_locked (): hands a grant back before its caller learnt of it (for
 * an upgrade, the guard is UPGRADABLE_READ again) and serves whoever it
 * blocked. The waiter was woken at the grant already. */
inline revoke_locked(w)
{
  assert(status[w] == WAITER_GRANTED);
  if
  :: is_drain(w)   /* nothing was held: only the caller's outcome changes */
  :: !is_drain(w) && !is_upgrade[w] ->
#ifndef BUG_REVOKE_LEAK
     convert(req_mode[w], HOLD_NONE)
#else
     skip
#endif
  :: is_upgrade[w] && changed_mode[w] && gmode[w] != HOLD_NONE ->
     change_mode_locked(w, MODE_UPGRADABLE_READ)
  :: is_upgrade[w] && changed_mode[w] && gmode[w] == HOLD_NONE ->
     undo_upgrade_of_released_locked(w)
  :: else
  fi;
  status[w] = WAITER_FAILED;
  failure[w] = FAILURE_CANCELLED;
  serve_locked()
}

/* revoke_if_cancelled_locked (): a grant whose cancel landed is handed
 * back */
inline revoke_if_cancelled_locked(w)
{
  if
  :: status[w] == WAITER_GRANTED && cancelled[w] -> revoke_locked(w)
  :: else
  fi
}

/* deliver_locked (): the line, under the mutex, with the cancel handler
 * disconnected (or never connected); the caller is told right after it. A
 * grant whose request was cancelled by now is handed back (the cancel that
 * no handler of ours hands back is one that landed after the disconnect);
 * otherwise the outcome stands, and a later cancel is too late. An upgrade
 * whose guard was released since its grant fails; the upgrade is pending
 * until here. delivered[w] gets the outcome (deliver_locked ()'s return
 * value). */
inline deliver_locked(w)
{
  assert(!woken[w] && !queued[w]);
#ifndef BUG_NO_REVOKE_AT_DELIVERY
  revoke_if_cancelled_locked(w);
#endif
  if
  :: is_upgrade[w] && status[w] != WAITER_NEW ->
     if
     :: status[w] == WAITER_GRANTED && gmode[w] == HOLD_NONE ->
        if
        :: changed_mode[w] -> undo_upgrade_of_released_locked(w)
        :: else
        fi;
        status[w] = WAITER_FAILED;
        failure[w] = FAILURE_RELEASED_BEFORE_COMPLETED
     :: else
     fi;
     /* guard->upgrade == waiter: the guard's only waiter is W, and a
      * refused upgrade never set it */
     g_upgrade[w] = false
  :: else
  fi;
  delivered[w] = status[w];
  if
  :: status[w] != WAITER_NEW -> status[w] = WAITER_DONE
  :: else
  fi;
  /* cancelled before the line: the grant was handed back */
  assert(!(cancelled[w] && delivered[w] == WAITER_GRANTED))
}

/* on_cancelled (): the "cancelled" handler, any thread, under the mutex */
inline on_cancelled(w)
{
  if
  :: status[w] == WAITER_QUEUED -> withdraw_locked(w, FAILURE_CANCELLED)
  :: status[w] == WAITER_GRANTED -> revoke_locked(w)
  :: else
     /* NEW: the submission sees the flag (set before this runs) and
      * refuses it without touching the state; FAILED, DONE: nothing */
  fi
}

/* on_deadline_due (): the deadline source, on the waiter's context. A
 * deadline never revokes a grant. */
inline on_deadline_due(w)
{
  if
  :: status[w] == WAITER_QUEUED -> withdraw_locked(w, FAILURE_TIMED_OUT)
#ifdef BUG_UPGRADE_DEADLINE_AFTER_GRANT
  :: status[w] == WAITER_GRANTED && is_upgrade[w] ->
     status[w] = WAITER_FAILED;
     failure[w] = FAILURE_TIMED_OUT
#endif
  :: else
  fi
}

/* guard_new (), at the end of deliver (): the guard of a granted
 * acquisition, made without the mutex by the delivering thread. Its hold
 * was counted since the grant (owned () counts it through delivered[w]
 * from deliver_locked () until now). */
inline guard_new(w)
{
  if
  :: delivered[w] == WAITER_GRANTED && !is_upgrade[w] && !is_drain(w) ->
     assert(gmode[w] == HOLD_NONE);
     gmode[w] = req_mode[w]
#ifdef WITH_FAST
     ; g_plain[w] = (req_mode[w] != MODE_UPGRADABLE_READ)
#endif
  :: else
  fi
}

/* The caller's callback, as aio_rw_lock_core_task_returned () runs it
 * right after deliver (); with BUG_DECIDE_AT_DISPATCH, deliver () runs in
 * on_completion () instead, and the callback comes later (task_returned
 * ()). */
#ifndef BUG_DECIDE_AT_DISPATCH
#define after_deliver(w) callback(w)
#else
#define after_deliver(w) skip
#endif

#ifndef BUG_DECIDE_BEFORE_DISCONNECT

/* deliver (), called with the mutex held (in the step of its caller's
 * section under the mutex), up to where it first releases it. For a
 * waiter whose handler is connected (cancelled_id != 0: connected[w]), a
 * grant whose cancel landed already is handed back now
 * (revoke_if_cancelled_locked ()): a "cancelled" handler of the caller's
 * may be waiting for that, and the disconnect waits for the caller's
 * handlers too (the model has none: this hand-back is one our handler
 * would make anyway); the mutex is then released for the disconnect. One
 * with no handler (its cancellable was cancelled before it could connect
 * one: refused at the call, or by submit_locked ()) goes on to
 * deliver_locked (), the line, under the same mutex. */
inline deliver_begin(w)
{
  if
  :: connected[w] -> revoke_if_cancelled_locked(w)
  :: else -> deliver_locked(w)
  fi
}

/* deliver_locked (), with the mutex taken again after the disconnect,
 * and what follows it in deliver (): LANDED gets whether the cancel had
 * landed at the line. The deadline source is destroyed without the mutex (nothing to
 * model: see waiter_disconnect ()), then guard_new (). */
inline deliver_line(w, landed)
{
  past_disconnect[w] = false;
  deliver_locked(w);
  landed = cancelled[w];
  CORE_UNLOCK; check_invariants();
  guard_new(w)
}

/* The rest of deliver (), after deliver_begin (), in steps of its own, up
 * to the caller's callback that aio_rw_lock_core_task_returned () runs
 * right after it:
 *   - no handler: deliver_locked () ran in deliver_begin (); guard_new ()
 *     and the callback follow (a step of their own only because the step
 *     that began deliver () cannot choose the client's next statement;
 *     the flag, set before the handler could connect, reads the same as
 *     at the line);
 *   - aio_rw_lock_waiter_disconnect () of the handler, without the mutex:
 *     it waits while "cancelled" is emitted on another thread
 *     (!handler_pending[w]). Until it returns our handler may still run,
 *     and finds the waiter as deliver_begin () left it: a grant GRANTED,
 *     which it hands back, an upgrade pending;
 *   - deliver_line (): under the mutex again, deliver_locked (), the line;
 *     a cancel that landed after the disconnect (past_disconnect[w]) ran
 *     no handler of ours, and is seen here.
 * deliver_locked (), guard_new () and the callback share a step: after
 * the line nothing of ours looks at the flag, and guard_new () and the
 * callback touch nothing another thread reads. A waiter that is not
 * GRANTED at the disconnect has the disconnect in that step too: its
 * status can change no more (only a grant is handed back, and only a grant
 * fails for a released guard), and all another thread can see of it
 * (g_upgrade[w]) stays as it was until the line. */
inline deliver(w, landed)
{
  if
  :: d_step {
       delivered[w] != 0 ->
       landed = cancelled[w];
       guard_new(w);
       after_deliver(w)
     }
  :: d_step {
       delivered[w] == 0 && !handler_pending[w] && status[w] != WAITER_GRANTED ->
       waiter_disconnect(w);
       deliver_line(w, landed);
       after_deliver(w)
     }
  :: d_step {
       delivered[w] == 0 && !handler_pending[w] && status[w] == WAITER_GRANTED ->
       waiter_disconnect(w);
       past_disconnect[w] = true
     }
     d_step { deliver_line(w, landed); after_deliver(w) }
  fi
}

#else /* BUG_DECIDE_BEFORE_DISCONNECT */

/* deliver () as of 1a3ab61 (deliver_locked () then deliver_unlocked ()):
 * the whole decision before the disconnect, in deliver_begin (): the
 * hand-back of a grant whose cancel landed, the failure of an upgrade
 * whose guard was released, the end of the upgrade's pending state, DONE;
 * then the disconnect; then one more look at the cancellable only, which
 * hands back a grant whose cancel landed since (the status set back to
 * GRANTED for revoke_locked (), DONE after; the outcome becomes FAILED,
 * CANCELLED): that look is the line. From the decision to it the upgrade is
 * no longer pending although it may still be handed back. */
inline deliver_begin(w)
{
  deliver_locked(w)
}

inline deliver(w, landed)
{
  if
  :: d_step {
       !handler_pending[w] && delivered[w] != WAITER_GRANTED ->
       waiter_disconnect(w);
       landed = cancelled[w];
       after_deliver(w)
     }
  :: d_step {
       !handler_pending[w] && delivered[w] == WAITER_GRANTED ->
       waiter_disconnect(w)
     }
     if
     :: d_step {
          cancelled[w] ->
          landed = true;
          status[w] = WAITER_GRANTED;
          revoke_locked(w);
          status[w] = WAITER_DONE;
          delivered[w] = WAITER_FAILED;
          CORE_UNLOCK; check_invariants();
          after_deliver(w)
        }
     :: d_step { !cancelled[w] -> landed = false; guard_new(w); after_deliver(w) }
     fi
  fi
}

#endif /* BUG_DECIDE_BEFORE_DISCONNECT */

/* on_completion (): the completion source of the waiter's context
 * dispatches it: g_task_return_boolean (). GTask then calls
 * aio_rw_lock_core_task_returned (), at once or from an idle of its own.
 * Nothing of the lock is touched: not under the mutex. The client begins
 * deliver () in the same step (task_returned_locked ()): the dispatch
 * changes nothing another thread reads, so whatever another thread does in
 * GTask's deferral it could have done before the dispatch, to the same
 * effect (a cancel in the deferral finds the waiter GRANTED and hands it
 * back, as one before the dispatch does). */
inline on_completion(w)
{
  assert(woken[w]);
  woken[w] = false
}

/* The part of aio_rw_lock_core_task_returned () under the mutex, up to
 * where deliver () first releases it: deliver_begin (). */
inline task_returned_locked(w)
{
  deliver_begin(w);
  CORE_UNLOCK; check_invariants()
}

/* aio_rw_lock_core_task_returned (): the task's callback, on the waiter's
 * context: it takes the mutex and calls deliver (), then the caller's
 * callback (acquire_finish (), upgrade_finish ()). LANDED gets whether the
 * cancel had landed at the line. A request that went through the
 * completion source began deliver () in the step of the dispatch (see
 * on_completion ()); one refused at the call (EARLY) has no dispatch, and
 * begins it in a step of its own. With BUG_DECIDE_AT_DISPATCH, deliver ()
 * runs in on_completion (), where the code before b260a69 decided, and
 * GTask's deferral is a window of its own before the callback, which is
 * the line of DESIGN.md: LANDED is read when it starts. */
inline task_returned(w, landed, early)
{
  if
  :: early -> d_step { task_returned_locked(w) }
  :: else   /* begun in the step of the dispatch */
  fi;
  deliver(w, landed)
#ifdef BUG_DECIDE_AT_DISPATCH
  ;
  d_step { landed = cancelled[w]; callback(w) }
#endif
}

/* waiter_new_async (): the waiter of a new request (an acquisition, or the
 * upgrade of the client's guard); EARLY: the cancellable was cancelled at
 * the call, so g_task_return_error_if_cancelled () returned the task with
 * CANCELLED and the lock is not touched. */
inline waiter_new_async(w, mode, upgrade_of, early)
{
  assert(status[w] == WAITER_DONE && !woken[w]);
  status[w] = WAITER_NEW;
  req_mode[w] = mode;
  is_upgrade[w] = upgrade_of;
  changed_mode[w] = false;
  failure[w] = FAILURE_NONE;
  early = cancelled[w]
}

/* What a _finish reads of what was delivered (NEW: the task's own
 * CANCELLED error, refused at the call); FAILURE_NONE: success. */
inline finish_outcome(w, outcome)
{
  if
  :: delivered[w] == WAITER_NEW -> outcome = FAILURE_CANCELLED
  :: delivered[w] == WAITER_FAILED -> outcome = failure[w]
  :: else -> assert(delivered[w] == WAITER_GRANTED); outcome = FAILURE_NONE
  fi
}

/* The caller's callback of an acquisition, and the
 * aio_rw_lock_core_acquire_finish () it calls: it only reads what was
 * delivered (ST; NEW: the task's own CANCELLED error). */
inline acquire_finish(w, outcome, timeout_msec, landed)
{
  finish_outcome(w, outcome);
  /* the line: a request whose cancel landed before it never reports
   * success, in particular not one whose "cancelled" handler ran; a
   * success holds the lock (even if cancelled since: too late), a failure
   * holds nothing */
  assert(outcome != FAILURE_NONE || !handler_ran[w]);
  assert(outcome != FAILURE_NONE || !landed);
  assert(outcome != FAILURE_NONE || gmode[w] == req_mode[w]);
  assert(outcome == FAILURE_NONE || gmode[w] == HOLD_NONE);
  /* and a request fails only for a reason */
  assert(outcome == FAILURE_NONE ||
         (outcome == FAILURE_CANCELLED && landed) ||
         (outcome == FAILURE_TIMED_OUT && (timeout_msec) > 0) ||
         (outcome == FAILURE_NOT_AT_ONCE && (timeout_msec) == 0) ||
         (outcome == FAILURE_CLOSED && closed));
  assert(requested[w]);     /* completes exactly once */
  requested[w] = false
}

/* The caller's callback of an upgrade, and the
 * aio_rw_lock_core_upgrade_finish () it calls; FROM: the guard's mode when
 * the upgrade was asked for. */
inline upgrade_finish(w, outcome, landed, from, timeout_msec)
{
  finish_outcome(w, outcome);
  assert(outcome != FAILURE_NONE || !handler_ran[w]);
  assert(outcome != FAILURE_NONE || !landed);
  /* success leaves a WRITE guard; a failure leaves the guard as it was */
  assert(outcome != FAILURE_NONE || gmode[w] == MODE_WRITE);
  assert(outcome == FAILURE_NONE || gmode[w] == (from) || gmode[w] == HOLD_NONE);
  assert(outcome == FAILURE_NONE ||
         (outcome == FAILURE_CANCELLED && landed) ||
         ((outcome == FAILURE_RELEASED_WHILE_WAITING ||
           outcome == FAILURE_RELEASED_BEFORE_COMPLETED) && gmode[w] == HOLD_NONE) ||
         (outcome == FAILURE_UPGRADE_OF_READ && (from) == MODE_READ) ||
         (outcome == FAILURE_TIMED_OUT && (timeout_msec) > 0) ||
         (outcome == FAILURE_NOT_AT_ONCE && (timeout_msec) == 0) ||
         (outcome == FAILURE_CLOSED && closed));
  /* a deadline fails only an upgrade that waits: the guard stays
   * UPGRADABLE_READ (unless another thread released it since) */
  assert((outcome != FAILURE_TIMED_OUT && outcome != FAILURE_NOT_AT_ONCE) ||
         ((from) == MODE_UPGRADABLE_READ &&
          (gmode[w] == MODE_UPGRADABLE_READ || gmode[w] == HOLD_NONE)));
  assert(requested[w]);
  requested[w] = false
}

/* aio_rw_lock_core_close () */
inline core_close()
{
  close();
  do
  :: pop_any(cl_r);
     if
     :: cl_r == NOBODY -> break
     :: else -> settle_locked(cl_r, WAITER_FAILED, FAILURE_CLOSED)
     fi
  od
}

/* release_locked (): the guard's hold ends. A waiting upgrade leaves the
 * queue; one already decided learns at delivery that its guard is gone. */
inline release_locked(g)
{
  assert(gmode[g] != HOLD_NONE);
  if
  :: g_upgrade[g] && status[g] == WAITER_QUEUED ->
     remove(g);
     settle_locked(g, WAITER_FAILED, FAILURE_RELEASED_WHILE_WAITING)
  :: else
  fi;
  change_mode_locked(g, HOLD_NONE);
  serve_locked()
#ifdef BUG_DRAIN_ON_RELEASE_ONLY
  ;
  serve_drains_locked()
#endif
}

/* aio_rw_lock_core_guard_downgrade ()'s refusal (a programmer error):
 * the guard was released, or its upgrade is pending */
#define downgrade_refused(g) (gmode[g] == HOLD_NONE || g_upgrade[g])

/* aio_rw_lock_core_guard_downgrade (): the client never asks when it would
 * be refused */
inline guard_downgrade(g)
{
  assert(!downgrade_refused(g));
  MAKE_SLOW(g);
  if
  :: gmode[g] != MODE_READ ->
     change_mode_locked(g, MODE_READ);
     serve_locked()
  :: else
  fi
}

/* mode_strength () of aio_rw_lock_core_guard_downgrade_to () */
#define mode_strength(m) ((m) == MODE_READ -> 0 : ((m) == MODE_UPGRADABLE_READ -> 1 : 2))

/* aio_rw_lock_core_guard_downgrade_to (): the guard's hold becomes MODE,
 * a weaker one, in one section (no writer and no second UPGRADABLE_READ
 * can enter in between), then whoever may enter now is served. Its
 * refusals (a released guard, a pending upgrade, a mode that is not
 * weaker) change nothing; the client never asks then. (To READ it does
 * what guard_downgrade () does.) With BUG_DOWNGRADE_NO_SERVE it does not
 * serve the queue. */
inline guard_downgrade_to(g, mode)
{
  assert(!downgrade_refused(g) && mode_strength(mode) < mode_strength(gmode[g]));
  MAKE_SLOW(g);
  change_mode_locked(g, mode);
#ifndef BUG_DOWNGRADE_NO_SERVE
  serve_locked()
#else
  skip
#endif
}

/* aio_rw_lock_core_guard_try_upgrade (): submit_locked ()'s upgrade
 * without waiting. Its refusals in its order (upgrade_refusal ()'s, then
 * a closed lock), and WOULD_BLOCK where upgrade_async () would queue:
 * while other readers hold (queued writers do not stop it). REFUSAL gets
 * FAILURE_NONE if the guard is WRITE now. With
 * BUG_TRY_UPGRADE_IGNORES_READERS it does not ask
 * aio_rw_lock_state_try_upgrade () whether readers hold. */
inline guard_try_upgrade(g, refusal)
{
  upgrade_refusal(g, refusal);
  if
  :: refusal != FAILURE_NONE
  :: refusal == FAILURE_NONE && hold_mode_locked(g) == MODE_WRITE ->
     change_mode_locked(g, MODE_WRITE)   /* exclusive already */
  :: refusal == FAILURE_NONE && hold_mode_locked(g) != MODE_WRITE && closed ->
     refusal = FAILURE_CLOSED
  :: refusal == FAILURE_NONE && hold_mode_locked(g) != MODE_WRITE && !closed ->
#ifndef BUG_TRY_UPGRADE_IGNORES_READERS
     try_upgrade(tu_ok);
#else
     upgradable = false;
     writer = true;
     tu_ok = true;
#endif
     if
     :: tu_ok ->
        /* the state counts the hold as WRITE already */
        set_guard_mode_locked(g, MODE_WRITE, sg_from, sg_to)
     :: else -> refusal = FAILURE_WOULD_BLOCK
     fi
  fi
}

/* What the client asserts of its try_upgrade (), FROM being its guard's
 * mode and READERS the READ holds before it: it succeeds only where no
 * other reader held, and says WOULD_BLOCK only where one did (not for a
 * queued writer); a refusal leaves the guard as it was. */
inline try_upgrade_checks(g, refusal, from, readers)
{
  assert(refusal != FAILURE_NONE ||
         (gmode[g] == MODE_WRITE && (from == MODE_WRITE || readers == 0)));
  assert(refusal == FAILURE_NONE || gmode[g] == from);
  assert(refusal != FAILURE_WOULD_BLOCK || (from == MODE_UPGRADABLE_READ && readers > 0));
  assert(refusal != FAILURE_CLOSED || closed);
  assert(refusal != FAILURE_UPGRADE_OF_READ || from == MODE_READ);
  assert(refusal == FAILURE_NONE || refusal == FAILURE_WOULD_BLOCK ||
         refusal == FAILURE_CLOSED || refusal == FAILURE_UPGRADE_OF_READ)
}

/* aio_rw_lock_core_close_async ()'s section under the mutex, after it
 * closed the lock (core_close ()) and connected the cancellable: a
 * cancelled wait fails, an idle lock grants the drain at once (its
 * callback still comes from the main context), else it waits in
 * core->drains. */
inline drain_submit_locked(w)
{
  assert(status[w] == WAITER_NEW && is_drain(w));
  drain_idle_locked(dr_idle);
  if
  :: cancelled[w] -> settle_locked(w, WAITER_FAILED, FAILURE_CANCELLED)
  :: !cancelled[w] && dr_idle ->
     settle_locked(w, WAITER_GRANTED, FAILURE_NONE)
#ifdef BUG_CLOSE_AT_DRAIN
     ; core_close()
#endif
  :: !cancelled[w] && !dr_idle ->
     queued[w] = true;
     status[w] = WAITER_QUEUED
  fi
}

/* The caller's callback of close_async (), and the
 * aio_rw_lock_core_close_finish () it calls: TRUE once no hold is left,
 * or CANCELLED if the cancel landed before the line; the lock stays
 * closed either way (cancelling cancels the wait, not the close). */
inline close_finish(w, outcome, landed)
{
  finish_outcome(w, outcome);
  assert(closed);
  no_hold_left(nh_none);
  assert(outcome != FAILURE_NONE || nh_none);
  assert(outcome != FAILURE_NONE || !handler_ran[w]);
  assert(outcome != FAILURE_NONE || !landed);
  assert(outcome == FAILURE_NONE || (outcome == FAILURE_CANCELLED && landed));
  assert(requested[w]);
  requested[w] = false
}

/* An upgrade of guard G that waits, or whose grant its caller has not
 * learnt of yet (GRANTED, or decided as granted: delivered[g], which only
 * mutants keep over a step): it is pending (doc/upgrade.md: "An upgrade is
 * pending for its guard's owner until its callback runs, even once
 * granted"), and a grant may still be handed back. (One that failed is
 * pending too if it was not refused at its submission, but then nothing
 * can come of it any more.) */
#define upgrade_pending(g) \
  (requested[g] && is_upgrade[g] && \
   (status[g] == WAITER_QUEUED || status[g] == WAITER_GRANTED || \
    delivered[g] == WAITER_GRANTED))

/* Another thread with a reference to client G's guard uses it while its
 * upgrade is pending. doc/upgrade.md: until the upgrade's callback runs
 * "the guard shows UPGRADABLE_READ (get_mode), refuses a WRITE re-entry,
 * and cannot be downgraded", and a second upgrade "fails with
 * G_IO_ERROR_PENDING". In C that may be the owner on another thread, or
 * code that runs inside the delivery (tests/test-rw-lock-cancel-line.c
 * probes from a hook in g_cancellable_disconnect ()). Each call is a
 * section under the mutex that changes nothing here, so the probe adds
 * no state:
 *   - a second aio_rw_lock_core_upgrade_async () (its waiter, not modelled
 *     past submit_locked ()'s refusals): refused as pending, or as
 *     released;
 *   - aio_rw_lock_core_guard_try_upgrade (): refused the same way;
 *   - aio_rw_lock_core_guard_get_mode (): a grant that made the guard
 *     WRITE does not show yet (a released guard has no mode here);
 *   - aio_rw_lock_core_guard_downgrade () and _downgrade_to (): refused.
 * (The WRITE re-entry is refused through visible_mode_locked () too; re-
 * entry is not modelled.) */
inline guard_probe(g)
{
  upgrade_refusal(g, pr_refusal);
  assert(pr_refusal == FAILURE_UPGRADE_PENDING || pr_refusal == FAILURE_ALREADY_RELEASED);
#ifdef WITH_TRY_UPGRADE
  guard_try_upgrade(g, pr_refusal);
  assert(pr_refusal == FAILURE_UPGRADE_PENDING || pr_refusal == FAILURE_ALREADY_RELEASED);
#endif
  assert(gmode[g] == HOLD_NONE || !changed_mode[g] ||
         visible_mode_locked(g) == MODE_UPGRADABLE_READ);
  assert(downgrade_refused(g))
}

/* =================================================================== */
/* Properties                                                           */
/* =================================================================== */

/* The hold the state counts on behalf of client C: its acquisition that is
 * granted, or decided as granted (delivered) and not yet handed back or
 * given its guard, else its guard's. */
#ifndef WITH_FAST
#define owned(c) \
  (is_drain(c) -> HOLD_NONE : \
   (((status[c] == WAITER_GRANTED || delivered[c] == WAITER_GRANTED) && !is_upgrade[c]) -> \
    req_mode[c] : gmode[c]))
#else
#define owned(c) \
  (is_drain(c) -> HOLD_NONE : \
   (leaving[c] != HOLD_NONE -> leaving[c] : \
    (((status[c] == WAITER_GRANTED || delivered[c] == WAITER_GRANTED) && !is_upgrade[c]) -> \
     req_mode[c] : gmode[c])))
#endif

/* No client holds anything, nor has a grant it was not given yet
 * (owned ()). */
inline no_hold_left(result)
{
  result = true;
  for (nh_i : 0 .. NCLIENTS - 1) {
    if
    :: owned(nh_i) != HOLD_NONE -> result = false
    :: else
    fi
  }
}

/* No forgotten waiter, in the contract's terms (not through may_enter):
 * nobody stays queued whom the policy would let in now. Also checks that
 * every queue is FIFO by arrival. */
inline spec_no_forgotten_waiter()
{
  sp_first = NOBODY;
  sp_f[0] = NOBODY; sp_f[1] = NOBODY; sp_f[2] = NOBODY;
  for (sp_i : 0 .. NCLIENTS - 1) {
    if
    :: queued[sp_i] && !is_upgrade[sp_i] ->
       if
       :: sp_first == NOBODY || seq[sp_i] < seq[sp_first] -> sp_first = sp_i
       :: else
       fi;
       if
       :: sp_f[req_mode[sp_i]] == NOBODY || seq[sp_i] < seq[sp_f[req_mode[sp_i]]] ->
          sp_f[req_mode[sp_i]] = sp_i
       :: else
       fi
    :: else
    fi
  }
  /* FIFO: each queue's head is its earliest arrival */
  queue_head(MODE_READ, sp_h);            assert(sp_h == sp_f[MODE_READ]);
  queue_head(MODE_WRITE, sp_h);           assert(sp_h == sp_f[MODE_WRITE]);
  queue_head(MODE_UPGRADABLE_READ, sp_h); assert(sp_h == sp_f[MODE_UPGRADABLE_READ]);
  assert(len(queue[0]) + len(queue[1]) + len(queue[2]) == next_seq);

  /* a pending upgrade waits only for the other readers */
  assert(upgrade == NOBODY || n_read > 0);
  /* nothing waits on a closed lock */
  assert(!closed || (sp_first == NOBODY && upgrade == NOBODY));

#if POLICY == FAIR
  /* the first in line waits only for an incompatible hold (or the upgrade) */
  assert(sp_first == NOBODY || upgrade != NOBODY || !compatible(req_mode[sp_first]));
#elif POLICY == PREFER_WRITERS
  if
  :: upgrade != NOBODY
  :: else ->
     if
     :: sp_f[MODE_WRITE] != NOBODY -> assert(!compatible(MODE_WRITE))
     :: else ->
        assert(sp_f[MODE_READ] == NOBODY || !compatible(MODE_READ));
        assert(sp_f[MODE_UPGRADABLE_READ] == NOBODY || !compatible(MODE_UPGRADABLE_READ))
     fi
  fi
#elif POLICY == PREFER_READERS
  assert(sp_f[MODE_READ] == NOBODY || !compatible(MODE_READ));
  assert(sp_f[MODE_UPGRADABLE_READ] == NOBODY || !compatible(MODE_UPGRADABLE_READ));
  assert(sp_f[MODE_WRITE] == NOBODY || !compatible(MODE_WRITE) ||
         sp_f[MODE_READ] != NOBODY || sp_f[MODE_UPGRADABLE_READ] != NOBODY)
#endif
}

/* Checked at the end of every section under the mutex, that is, in every
 * state another thread can see. */
inline check_invariants()
{
  ci_r = 0; ci_u = 0; ci_w = 0;
  for (ci_i : 0 .. NWAITERS - 1) {
    ci_m = owned(ci_i);
    if
    :: ci_m == MODE_READ -> ci_r++
    :: ci_m == MODE_UPGRADABLE_READ -> ci_u++
    :: ci_m == MODE_WRITE -> ci_w++
    :: else
    fi;
    /* a request is in at most one place; only a decided one is woken */
    assert(!(queued[ci_i] && woken[ci_i]));
    assert(queued[ci_i] == (status[ci_i] == WAITER_QUEUED));
    assert(!woken[ci_i] || status[ci_i] == WAITER_GRANTED || status[ci_i] == WAITER_FAILED);
    /* a cancelled request does not stay queued or granted once the
     * "cancelled" handler has run (or was skipped, as it was connected
     * after the cancellation): it completes promptly, and a grant is
     * handed back before the callback runs; unless its own thread is
     * delivering it, between the disconnect and deliver_locked (): a
     * cancel that landed there ran no handler of ours, and
     * deliver_locked (), next, hands the grant back before the callback,
     * with no main-loop iteration in between */
    assert(!(cancelled[ci_i] && !handler_pending[ci_i] &&
             (status[ci_i] == WAITER_QUEUED ||
              (status[ci_i] == WAITER_GRANTED && !past_disconnect[ci_i]))));
    /* guard->upgrade: from the upgrade's submission to its delivery */
    assert(!(queued[ci_i] && is_upgrade[ci_i]) || g_upgrade[ci_i]);
    assert(!g_upgrade[ci_i] || (is_upgrade[ci_i] && status[ci_i] != WAITER_NEW &&
                                status[ci_i] != WAITER_DONE))
  }
  /* never a writer with anyone else; at most one UPGRADABLE_READ */
  assert(ci_w <= 1 && ci_u <= 1);
  assert(ci_w == 0 || (ci_r == 0 && ci_u == 0));
  /* the holds the state counts are exactly the clients' (no leak) */
  assert(n_read == ci_r);
  assert(upgradable == (ci_u > 0));
  assert(writer == (ci_w > 0));
#ifdef WITH_DRAIN
  for (ci_i : NCLIENTS .. NWAITERS - 1) {
    /* a drain is granted only once no hold is left, a grant not yet
     * given to its caller included; none comes back until its callback
     * (the lock is closed) */
    assert(!(status[ci_i] == WAITER_GRANTED || delivered[ci_i] == WAITER_GRANTED) ||
           (ci_r == 0 && ci_u == 0 && ci_w == 0));
#ifndef NO_PROMPT_DRAIN
    /* no forgotten drain: it waits only while a hold is left */
    assert(!queued[ci_i] || has_holds);
#endif
  }
#endif
  /* serve_locked() left nobody who may enter now */
  peek_next(ci_next);
  assert(ci_next == NOBODY);
  spec_no_forgotten_waiter()
}

/* Starvation freedom (checked with weak fairness and ITERATIONS=0): every
 * request of client 0 completes. The clients are interchangeable (nothing
 * in the model depends on a client's number but its own variables), so
 * this holds for every client. With the assertions of acquire_finish() and
 * upgrade_finish() (a request fails only if it was cancelled, its deadline
 * passed, the lock was closed or, for an upgrade, the guard was released
 * or is a READ guard),
 * it says: a request that is not cancelled is eventually granted.
 * ([] <> !requested[0] is [] (requested[0] -> <> !requested[0]).)
 * With WITH_DRAIN, also the first drainer's close_async () completes:
 * once every holder has released (the clients always do), its callback
 * runs, granted or cancelled. */
#ifndef WITH_DRAIN
ltl no_starvation { [] <> !requested[0] }
#else
ltl no_starvation { [] <> !requested[0] && [] <> !requested[NCLIENTS] }
#endif


/* =================================================================== */
/* Threads                                                              */
/* =================================================================== */

#if defined(LIVENESS) && !defined(NO_CANCEL)
#define WILL_CANCEL if :: will_cancel[i] = true :: will_cancel[i] = false fi
#define WILL_RELEASE if :: will_release[i] = true :: will_release[i] = false fi
#define FORGET_CANCEL cancelled[i] = false; handler_ran[i] = false; \
                      will_cancel[i] = false; will_release[i] = false
#else
#define WILL_CANCEL skip
#define WILL_RELEASE skip
#define FORGET_CANCEL cancelled[i] = false; handler_ran[i] = false
#endif

#if ITERATIONS > 0
#define MORE (iter < ITERATIONS)
#define NEXT_ITERATION iter++
#else
#define MORE true
#define NEXT_ITERATION skip
#endif

/* The caller's callback (waiter->callback), run by
 * aio_rw_lock_core_task_returned () after deliver (): the client's, which
 * calls _finish (it reads the client's locals); then the waiter goes with
 * its task, and the client forgets the cancellable. */
inline callback(w)
{
  if
#ifdef WITH_DRAIN
  :: is_drain(w) -> close_finish(w, outcome, landed)
#endif
  :: !is_drain(w) && is_upgrade[w] -> upgrade_finish(w, outcome, landed, umode, timeout_msec)
  :: !is_drain(w) && !is_upgrade[w] -> acquire_finish(w, outcome, timeout_msec, landed)
  fi;
  waiter_free(w);
  FORGET_CANCEL; delivered[w] = 0;
  landed = false; early = false
}

/* The client's main loop while its request W is out: the completion
 * source, or the deadline (which may still fire until deliver () destroys
 * it, and then does nothing, the waiter not being QUEUED). */
inline await_completion(w, armed)
{
  do
  :: d_step {
       woken[w] -> on_completion(w); armed = false;
       task_returned_locked(w)   /* after GTask's deferral */
     }
     break
#if defined(WITH_TIMEOUT) || defined(WITH_UPGRADE_TIMEOUT)
  :: d_step { armed -> armed = false; on_deadline_due(w); CORE_UNLOCK; check_invariants() }
#endif
  od
}

/* How many times a client changes its guard's mode before it releases it
 * (downgrade, downgrade_to, try_upgrade, upgrade): twice with
 * WITH_DOWNGRADE_TO (WRITE -> UPGRADABLE_READ, then an upgrade again),
 * else once. */
#ifndef HOLD_OPS
#ifdef WITH_DOWNGRADE_TO
#define HOLD_OPS 2
#else
#define HOLD_OPS 1
#endif
#endif

/* The guards a client upgrades (upgrade_async (), try_upgrade ()): an
 * UPGRADABLE_READ one, or with WITH_UPGRADE_ANY any it holds (READ is
 * refused, WRITE is granted at once) */
#ifndef WITH_UPGRADE_ANY
#define upgrades(g) (gmode[g] == MODE_UPGRADABLE_READ)
#else
#define upgrades(g) (gmode[g] != HOLD_NONE)
#endif

#ifdef WITH_UPGRADE_TIMEOUT
#define UPGRADE_TIMEOUT if :: timeout_msec = -1 :: timeout_msec = 0 :: timeout_msec = 1 fi
#else
#define UPGRADE_TIMEOUT timeout_msec = -1
#endif

#ifdef WITH_FAST
/* aio_rw_lock_core_try_acquire () on the word: one compare-and-swap,
 * which takes a READ hold if no writer holds, a WRITE hold if nothing is
 * held, and only while SLOW is clear (else the try goes to the mutex, as
 * the async request does without waiting; not modelled again). Every
 * hold it gives is one the policy would give: nobody barges. */
inline fast_try(g, mode)
{
  atomic {
    if
    :: mode = MODE_READ
    :: mode = MODE_WRITE
    fi;
    if
    :: fast_on && !writer && (mode == MODE_READ || n_read == 0) ->
       admits(mode, ft_ok);
       assert(ft_ok);
       enter(mode);
       gmode[g] = mode;
       g_plain[g] = true;
       check_invariants()
    :: else
    fi
  }
}

/* aio_rw_lock_core_guard_release () of a GUARD_HELD guard: the claim (a
 * compare-and-swap to RELEASED), then end_fast_hold (): the word's
 * compare-and-swap while SLOW is clear; else, once it saw SLOW, under the
 * mutex (whatever the word is by the time it has the mutex). */
inline fast_claim(g)
{
  assert(g_plain[g] && gmode[g] != HOLD_NONE && leaving[g] == HOLD_NONE);
  leaving[g] = gmode[g];
  gmode[g] = HOLD_NONE;
  g_plain[g] = false
}

inline end_fast_hold(g)
{
  if
  :: atomic {
       fast_on ->
       leave(leaving[g]);
       leaving[g] = HOLD_NONE;
       check_invariants()
     }
  :: atomic { !fast_on -> skip }
     d_step {
       convert(leaving[g], HOLD_NONE);
       leaving[g] = HOLD_NONE;
       serve_locked();
       CORE_UNLOCK; check_invariants()
     }
  fi
}

inline fast_release(g)
{
  atomic { fast_claim(g) }
  end_fast_hold(g)
}
#endif

proctype client(byte i)
{
  byte iter;
  byte mode;
  byte umode;        /* the guard's mode when its upgrade was asked for */
  byte ops;          /* mode changes of the current hold */
  mtype outcome;     /* what its callback saw */
  bool armed;        /* a deadline source is attached */
  bool early;        /* cancelled at the call: the task returned at once */
  bool landed;       /* the cancel had landed at the line */
  short timeout_msec;

end_idle:
  do
  :: MORE ->
     /* aio_rw_lock_acquire_async (mode, timeout, cancellable): a fresh
      * cancellable, which may be cancelled before the call looks at it */
     atomic {
       if
       :: mode = MODE_READ
       :: mode = MODE_WRITE
#ifdef WITH_UPGRADABLE
       :: mode = MODE_UPGRADABLE_READ
#endif
       fi;
#ifdef WITH_TIMEOUT
       if
       :: timeout_msec = -1
       :: timeout_msec = 0
       :: timeout_msec = 1
       fi;
#else
       timeout_msec = -1;
#endif
       WILL_CANCEL;
       requested[i] = true
     }
     d_step { waiter_new_async(i, mode, false, early) }
     if
     :: early   /* already cancelled at the call: the state is untouched */
     :: else ->
        d_step { waiter_connect(i) }
        d_step { submit_locked(i, timeout_msec, armed); CORE_UNLOCK; check_invariants() }
        await_completion(i, armed)
     fi;
     skip;   /* (spin: a break may not jump straight into a d_step) */
     /* the task's callback, which runs the caller's */
     task_returned(i, landed, early);

     if
     :: outcome == FAILURE_NONE ->
        /* it holds; maybe changes its mode, then releases */
        do
        :: break
#ifdef WITH_DOWNGRADE
        :: d_step {
             ops < HOLD_OPS && (gmode[i] == MODE_WRITE || gmode[i] == MODE_UPGRADABLE_READ) ->
             ops++;
             guard_downgrade(i);
             CORE_UNLOCK; check_invariants()
           }
#endif
#ifdef WITH_DOWNGRADE_TO
        :: /* aio_rw_lock_guard_downgrade_to (UPGRADABLE_READ) of a WRITE
            * guard (to READ it is the downgrade above) */
#ifndef BUG_DOWNGRADE_TO_SPLIT
           d_step {
             ops < HOLD_OPS && gmode[i] == MODE_WRITE ->
             ops++;
             guard_downgrade_to(i, MODE_UPGRADABLE_READ);
             CORE_UNLOCK; check_invariants()
           }
#else
           /* in two sections: the WRITE hold ends (whoever may enter is
            * served), then the guard takes UPGRADABLE_READ */
           d_step {
             ops < HOLD_OPS && gmode[i] == MODE_WRITE ->
             ops++;
             MAKE_SLOW(i);
             change_mode_locked(i, HOLD_NONE);
             serve_locked();
             CORE_UNLOCK; check_invariants()
           }
           d_step { change_mode_locked(i, MODE_UPGRADABLE_READ); serve_locked(); CORE_UNLOCK; check_invariants() }
#endif
#endif
#ifdef WITH_TRY_UPGRADE
        :: /* aio_rw_lock_guard_try_upgrade () */
           d_step {
             ops < HOLD_OPS && upgrades(i) ->
             ops++;
             tu_from = gmode[i];
             tu_readers = n_read;
             guard_try_upgrade(i, tu_refusal);
             try_upgrade_checks(i, tu_refusal, tu_from, tu_readers);
             CORE_UNLOCK; check_invariants()
           }
#endif
#ifdef WITH_UPGRADE
        :: /* aio_rw_lock_guard_upgrade_async (cancellable) (it waits for
            * the other readers), or with WITH_UPGRADE_TIMEOUT
            * upgrade_full_async (timeout, cancellable) */
           atomic {
             ops < HOLD_OPS && upgrades(i) ->
             ops++;
             umode = gmode[i];
             UPGRADE_TIMEOUT;
             WILL_CANCEL; WILL_RELEASE;
             requested[i] = true
           }
           d_step { waiter_new_async(i, MODE_WRITE, true, early) }
           if
           :: early
           :: else ->
              d_step { waiter_connect(i) }
              d_step { submit_locked(i, timeout_msec, armed); CORE_UNLOCK; check_invariants() }
              /* (the guard may be released meanwhile: see canceller) */
              await_completion(i, armed)
           fi;
           task_returned(i, landed, early)
#endif
        od;
        if
#ifdef WITH_FAST
        :: g_plain[i] && gmode[i] != HOLD_NONE -> fast_release(i)
        :: d_step { !g_plain[i] && gmode[i] != HOLD_NONE -> release_locked(i); CORE_UNLOCK; check_invariants() }
#else
        :: d_step { gmode[i] != HOLD_NONE -> release_locked(i); CORE_UNLOCK; check_invariants() }
#endif
        :: else
        fi
     :: else
     fi;

     d_step {
       /* (the guard is the client's next one: another thread's release
        * of this one ends first) */
       NOT_LEAVING(i) ->
       assert(gmode[i] == HOLD_NONE && !requested[i] && !woken[i]);
       assert(status[i] == WAITER_DONE);
       /* forget the dead locals, so equal states look equal */
       mode = 0; umode = 0; ops = 0; outcome = 0; armed = false;
       timeout_msec = 0;
       NEXT_ITERATION
     }
#ifdef WITH_FAST
  :: MORE ->
     /* try_acquire (); a hold it gets is released at once */
     fast_try(i, mode);
     if
     :: gmode[i] != HOLD_NONE -> fast_release(i)
     :: else
     fi;
     d_step {
       assert(gmode[i] == HOLD_NONE && leaving[i] == HOLD_NONE);
       mode = 0;
       NEXT_ITERATION
     }
#endif
  :: else -> break
  od
}

/* Another thread of client C's: it cancels C's requests and, with
 * WITH_UPGRADE, uses C's guard while its upgrade is under way (each
 * thread holding a reference to it). For a drainer C it only cancels the
 * wait of its close_async ().
 *
 * The cancel: at any time (before the call looks at the cancellable, while
 * NEW, QUEUED, GRANTED, woken (in GTask's deferral is the same), in
 * deliver () before or after the disconnect; one after the line is too
 * late, and nothing looks at it), g_cancellable_cancel () sets the flag at
 * once and, if the handler is connected, runs it next, under the mutex
 * (setting the flag and starting the emission are one step: the
 * cancellable's own mutex makes them atomic for g_cancellable_disconnect
 * ()). Meanwhile the other threads go on (the handler waits for the
 * mutex). With LIVENESS, whether a request is going to be cancelled at all
 * is decided when it is made (will_cancel), so that weak fairness does not
 * force every waiting request to be cancelled.
 *
 * The guard: from the upgrade's submission to its callback, this thread
 * may release it (aio_rw_lock_core_guard_release (): a waiting upgrade
 * fails at once, a granted one at its line), also while the client's
 * thread is in deliver (); and while the upgrade is pending it may look at
 * the guard (guard_probe (), which changes nothing). Not with LIVENESS
 * (the probe), nor NO_GUARD_PROBE (which lets the mutant
 * BUG_DECIDE_BEFORE_DISCONNECT show its released guard). With LIVENESS,
 * whether the guard is going to be released is decided when the upgrade
 * is asked for (will_release), as for the cancel: unplanned, weak
 * fairness would force the release on every upgrade that waits, which
 * then fails for that reason, and the check could not tell an upgrade
 * that is never granted. */
proctype canceller(byte c)
{
end_cancel:
  do
  :: atomic {
       requested[c] && !cancelled[c] && cancel_planned(c) ->
       cancelled[c] = true;
       handler_pending[c] = connected[c]
     }
  :: d_step {
       handler_pending[c] ->
       on_cancelled(c);
       handler_ran[c] = true;
       handler_pending[c] = false;
       CORE_UNLOCK; check_invariants()
     }
#ifdef WITH_UPGRADE
#ifndef WITH_FAST
  :: d_step {
       requested[c] && is_upgrade[c] && status[c] != WAITER_NEW &&
       gmode[c] != HOLD_NONE && release_planned(c) ->
       release_locked(c);
       CORE_UNLOCK; check_invariants()
     }
#else
  /* a guard whose upgrade was refused as cancelled at its submission
   * stays plain: its release is claimed without the mutex */
  :: d_step {
       requested[c] && is_upgrade[c] && status[c] != WAITER_NEW &&
       gmode[c] != HOLD_NONE && !g_plain[c] && release_planned(c) ->
       release_locked(c);
       CORE_UNLOCK; check_invariants()
     }
  :: atomic {
       requested[c] && is_upgrade[c] && status[c] != WAITER_NEW &&
       gmode[c] != HOLD_NONE && g_plain[c] && release_planned(c) ->
       fast_claim(c)
     }
     end_fast_hold(c)
#endif
#if !defined(LIVENESS) && !defined(NO_GUARD_PROBE)
  :: d_step { upgrade_pending(c) -> guard_probe(c) }
#endif
#endif
  od
}

#ifdef WITH_CLOSE
active proctype closer()
{
  d_step { core_close(); CORE_UNLOCK; check_invariants() }
}
#endif

#ifdef WITH_DRAIN
/* A thread that calls aio_rw_lock_close_async (cancellable) once, at any
 * time, then runs its main loop until its callback: it closes the lock
 * (aio_rw_lock_core_close (), a section of its own), makes its waiter
 * (refused at the call if already cancelled), connects the cancellable,
 * and settles, or queues into core->drains, under the mutex. Its
 * canceller process may cancel the wait. With LIVENESS, whether it calls
 * close_async () at all is chosen when it starts (weak fairness would
 * force the close into every run otherwise, and no_starvation would only
 * be checked on a closed lock). umode and timeout_msec are callback ()'s,
 * unused. */
proctype drainer(byte i)
{
  byte umode;
  mtype outcome;
  bool early;
  bool landed;
  short timeout_msec;

#ifdef LIVENESS
  if
  :: true
  :: true -> goto end_drainer
  fi;
#endif
  atomic { WILL_CANCEL; requested[i] = true }
#ifndef BUG_CLOSE_AT_DRAIN
  d_step { core_close(); CORE_UNLOCK; check_invariants() }
#endif
  d_step { waiter_new_async(i, MODE_READ, false, early) }
  if
  :: early
  :: else ->
     d_step { waiter_connect(i) }
     d_step { drain_submit_locked(i); CORE_UNLOCK; check_invariants() }
     d_step { woken[i] -> on_completion(i); task_returned_locked(i) }
  fi;
  task_returned(i, landed, early);
end_drainer:
  skip
}
#endif

init
{
  byte c;

  atomic {
    for (c : 0 .. NCLIENTS - 1) {
      run client(c)
#ifndef NO_CANCEL
      ; run canceller(c)
#endif
    }
#ifdef WITH_DRAIN
    for (c : NCLIENTS .. NWAITERS - 1) {
      run drainer(c)
#ifndef NO_CANCEL
      ; run canceller(c)
#endif
    }
#endif
    c = 0
  }
}
