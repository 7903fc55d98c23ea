/* aiorwlock.pml: a Promela model of aiorwlock-glib's lock, checked with spin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Written against aiorwlock-glib/ as of commit 9386268 ("Tell a dead
 * context by a flag"); a change to the locked logic there must be made here
 * too (the names below say where).
 *
 * What is modelled, and where it lives in C:
 *
 *   AioRwLockState (aio-rw-lock-state.[ch])    n_read, upgradable, writer, closed,
 *                                             upgrade, queue[3], next_seq, seq[]
 *   AioRwLockWaiter (aio-rw-lock-waiter.[ch])  status[], req_mode[] (request.mode),
 *                                             is_upgrade[], queued[], changed_mode[],
 *                                             failure[], dispatched[]
 *   AioRwLockGuard (aio-rw-lock-guard.c)      gmode[] (mode; HOLD_NONE once released),
 *                                             g_upgrade[] (guard->upgrade != NULL: from
 *                                             the upgrade's submission to its delivery)
 *   GCancellable                              cancelled[], connected[], handler_pending[]
 *
 * Every client process is one thread with its own main context. It owns at
 * most one waiter and one guard at a time, so both are indexed by the client
 * id (a waiter pointer in C is a client id here; NOBODY is NULL).
 *
 * Every section of C that runs with lock->mutex held is one d_step here
 * (the mutex makes it atomic for every other thread), and ends with
 * check_invariants(). A grant is therefore counted in the same atomic step
 * that makes it, as in aio_rw_lock_serve_locked().
 *
 * The inline macros carry the names of the C functions they model:
 *
 *   compatible, may_enter, queue_waits,       static helpers of aio-rw-lock-state.c
 *   queue_head, queued_before, enter, leave
 *   admits, peek_next, try_enter, enqueue,    aio_rw_lock_state_<name> ()
 *   try_upgrade, enqueue_upgrade, remove,
 *   grant_next, convert, close, pop_any
 *   serve_locked                              aio_rw_lock_serve_locked ()
 *   submit_locked                             submit_locked () in aio-rw-lock.c
 *   acquire_finish                            acquire_finish () in aio-rw-lock.c
 *   close_lock                                aio_rw_lock_close ()
 *   settle_locked, fail_locked,               aio_rw_lock_waiter_settle_locked () / _fail_locked () /
 *   fail_if_cancelled_locked                  _fail_if_cancelled_locked ()
 *   revoke_locked, withdraw_locked,           static functions of aio-rw-lock-waiter.c
 *   on_cancelled, on_timeout, finish_locked
 *   deliver_locked                            the locked part of aio_rw_lock_waiter_deliver ()
 *   release_locked, change_mode_locked,       static functions of aio-rw-lock-guard.c
 *   submit_upgrade_locked
 *   upgrade_granted_locked,                   aio_rw_lock_guard_upgrade_granted_locked () /
 *   upgrade_delivered_locked,                 _upgrade_delivered_locked () /
 *   upgrade_revoked_locked                    _upgrade_revoked_locked ()
 *   upgrade_finish                            aio_rw_lock_upgrade_finish ()
 *   downgrade_locked                          the locked part of aio_rw_lock_guard_downgrade ()
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
 *   WITH_UPGRADE     an UPGRADABLE_READ holder may upgrade (and release the
 *                    guard while its upgrade waits); implies WITH_UPGRADABLE
 *   WITH_DOWNGRADE   a WRITE / UPGRADABLE_READ holder may downgrade to READ
 *   WITH_TIMEOUT     acquisitions have a deadline of -1, 0 or >0 ms; a
 *                    deadline may expire while the request is queued
 *   WITH_CLOSE       a closer thread may close the lock at any time
 *   NO_CANCEL        no cancellation at all
 *   LIVENESS         for the no_starvation check (with ITERATIONS=0 and
 *                    weak fairness): whether a request will be cancelled
 *                    is chosen when it is made (see canceller)
 * Mutants (each must make a check fail):
 *   BUG_REVOKE_LEAK            revoke_locked() forgets to give the hold back
 *   BUG_NO_SERVE_ON_WITHDRAW   withdraw_locked() does not serve the queue
 *   BUG_NO_REVOKE_AT_DELIVERY  finish_locked() does not look at the cancellable
 *   BUG_NO_CANCEL_CHECK_AT_SUBMIT  submit_locked() does not look at the
 *                              cancellable (whose handler did nothing, the
 *                              waiter being NEW)
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
 *       "cancelled" handler has run: it completes promptly;
 *     - each queue is FIFO by arrival; a request is in one place at a time.
 *   submit_locked(): a new request enters at once only as the policy allows
 *     (FAIR: nobody queued, so a releaser asking again queues behind the
 *     waiters it just woke).
 *   deliver_locked(): a request cancelled before its delivery is not
 *     delivered as granted (the grant was handed back first).
 *   acquire_finish(), upgrade_finish(): a cancelled request never reports
 *     success and never ends holding; every request completes exactly once
 *     (settle_locked() and the completion source assert one settlement and
 *     one delivery; the client waits for it).
 *   pan: no invalid end state (no deadlock, no request left waiting).
 *   ltl no_starvation (weak fairness): every request completes; with the
 *     assertions on why a request may fail: a request that is not
 *     cancelled (nor expired, nor refused by a closed lock) is granted.
 *
 * Not modelled: blocking waiters (aio_rw_lock_acquire () runs the same
 * locked steps, woken by a GCond instead of the completion source),
 * try_acquire_* (try_enter () alone), re-entered guards (a guard here is its
 * hold), and several contexts delivering one client's requests.
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
          FAILURE_RELEASED_BEFORE_COMPLETED, FAILURE_UPGRADE_PENDING };

/* ---- AioRwLockState ---- */
byte n_read;                 /* READ holds */
bool upgradable;             /* an UPGRADABLE_READ hold exists */
bool writer;                 /* a WRITE hold exists */
bool closed;
byte upgrade = NOBODY;       /* the waiter of the pending upgrade */
chan queue[3] = [NCLIENTS] of { byte };   /* waiting requests, one FIFO per mode */
byte next_seq;

/* ---- AioRwLockWaiter (and its AioRwLockRequest), one per client ---- */
mtype status[NCLIENTS] = WAITER_DONE;
byte  req_mode[NCLIENTS];    /* request.mode */
byte  seq[NCLIENTS];         /* request.seq */
bool  is_upgrade[NCLIENTS];  /* request.is_upgrade */
bool  queued[NCLIENTS];      /* request.queued */
bool  changed_mode[NCLIENTS];
mtype failure[NCLIENTS] = FAILURE_NONE;   /* failure */
bool  dispatched[NCLIENTS];  /* in its context's completion source (dispatcher_push) */

/* ---- AioRwLockGuard, one per client ---- */
byte gmode[NCLIENTS] = HOLD_NONE;  /* guard->mode; HOLD_NONE: no guard, or released */
bool g_upgrade[NCLIENTS];    /* guard->upgrade != NULL: an upgrade its caller has not seen */

/* ---- The GCancellable of the client's current request ---- */
bool cancelled[NCLIENTS];        /* g_cancellable_is_cancelled () */
bool connected[NCLIENTS];        /* on_cancelled is connected */
bool handler_pending[NCLIENTS];  /* g_cancellable_cancel () is emitting "cancelled" */
#ifdef LIVENESS
bool will_cancel[NCLIENTS];      /* this request is going to be cancelled */
#define cancel_planned(c) will_cancel[c]
#else
#define cancel_planned(c) true
#endif

/* ---- Observers, for the properties ---- */
bool requested[NCLIENTS];    /* a request (acquire or upgrade) is between its call and its callback */

/* Scratch of the inline macros: only used inside one d_step, so hidden
 * (not part of the state). Each macro has its own, since they nest. */
hidden byte ad_any, ad_w, ad_u;
hidden byte qh_tmp;
hidden byte pk_heads[3], pk_n, pk_m, pk_i, pk_h, pk_c;
hidden byte pk_any, pk_aw, pk_au, pk_ok;
hidden byte rm_j, rm_s;
hidden byte sv_r;
hidden byte te_ok;
hidden byte pa_first, pa_m, pa_h;
hidden byte cl_r;
hidden byte cm_from;
hidden byte ci_i, ci_m, ci_r, ci_u, ci_w, ci_next;
hidden byte sp_i, sp_first, sp_f[3], sp_h;
hidden byte sa_any, sa_wq, sa_rq;

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
/* aio-rw-lock-guard.c (the parts the lock's mutex covers)              */
/* =================================================================== */

/* aio_rw_lock_guard_upgrade_granted_locked (): the state already counts
 * the hold as WRITE; whether the guard changed from UPGRADABLE_READ */
inline upgrade_granted_locked(g, result)
{
  if
  :: gmode[g] != MODE_UPGRADABLE_READ -> result = false   /* released, or WRITE */
  :: else ->
     gmode[g] = MODE_WRITE;
     result = true
  fi
}

/* aio_rw_lock_guard_upgrade_delivered_locked (): the upgrade's caller is
 * about to learn its outcome */
inline upgrade_delivered_locked(g)
{
  g_upgrade[g] = false
}

/* aio_rw_lock_guard_upgrade_revoked_locked (): the caller serves */
inline upgrade_revoked_locked(g)
{
  if
  :: gmode[g] != MODE_WRITE   /* released, or not changed by the upgrade */
  :: else ->
     gmode[g] = MODE_UPGRADABLE_READ;
     convert(MODE_WRITE, MODE_UPGRADABLE_READ)
  fi
}

/* =================================================================== */
/* aio-rw-lock-waiter.c                                                 */
/* =================================================================== */

/* aio_rw_lock_waiter_settle_locked (): NEW or QUEUED -> GRANTED or FAILED,
 * and queued on its context's completion source. */
inline settle_locked(w, st, err)
{
  assert(status[w] == WAITER_NEW || status[w] == WAITER_QUEUED);
  assert((st) == WAITER_GRANTED || (st) == WAITER_FAILED);
  assert(((st) == WAITER_FAILED) == ((err) != FAILURE_NONE));
  status[w] = st;
  failure[w] = err;
  if
  :: is_upgrade[w] && (st) == WAITER_GRANTED ->
     upgrade_granted_locked(w, changed_mode[w])
  :: else
  fi;
  /* dispatcher_push (): the waiter's link goes into one list at a time */
  assert(!dispatched[w]);
  dispatched[w] = true
}

/* aio_rw_lock_waiter_fail_locked () */
inline fail_locked(w, err)
{
  settle_locked(w, WAITER_FAILED, err)
}

/* aio_rw_lock_waiter_fail_if_cancelled_locked (): the first thing a
 * submission does; RESULT: whether the request was cancelled (and failed) */
inline fail_if_cancelled_locked(w, result)
{
  if
  :: cancelled[w] ->
     fail_locked(w, FAILURE_CANCELLED);
     result = true
  :: else -> result = false
  fi
}

/* aio_rw_lock_serve_locked (): grants every waiting request that may
 * enter now; each grant is counted at once. */
inline serve_locked()
{
  do
  :: grant_next(sv_r);
     if
     :: sv_r == NOBODY -> break
     :: else -> settle_locked(sv_r, WAITER_GRANTED, FAILURE_NONE)
     fi
  od
}

/* revoke_locked (): gives a grant back and serves whoever it blocked */
inline revoke_locked(w)
{
  assert(status[w] == WAITER_GRANTED);
  if
  :: is_upgrade[w] ->
     if
     :: changed_mode[w] -> upgrade_revoked_locked(w)
     :: else
     fi
  :: else ->
#ifndef BUG_REVOKE_LEAK
     convert(req_mode[w], HOLD_NONE)
#else
     skip
#endif
  fi;
  status[w] = WAITER_FAILED;
  failure[w] = FAILURE_CANCELLED;
  serve_locked()
}

/* withdraw_locked (): a cancelled or expired request leaves the queue and
 * whoever it blocked is served */
inline withdraw_locked(w, err)
{
  assert(status[w] == WAITER_QUEUED);
  remove(w);
  fail_locked(w, err);
#ifndef BUG_NO_SERVE_ON_WITHDRAW
  serve_locked()
#endif
}

/* on_cancelled (): the "cancelled" handler, any thread, under the mutex */
inline on_cancelled(w)
{
  if
  :: status[w] == WAITER_NEW
     /* not submitted yet: the submission sees the flag (set before this
      * runs) and fails it without touching the state */
  :: status[w] == WAITER_QUEUED -> withdraw_locked(w, FAILURE_CANCELLED)
  :: status[w] == WAITER_GRANTED -> revoke_locked(w)
  :: else   /* FAILED, DONE */
  fi
}

/* on_timeout (): the deadline source, in the waiter's context */
inline on_timeout(w)
{
  if
  :: status[w] == WAITER_QUEUED -> withdraw_locked(w, FAILURE_TIMED_OUT)
  :: else
  fi
}

/* finish_locked (): leaves the lock's world */
inline finish_locked(w)
{
#ifndef BUG_NO_REVOKE_AT_DELIVERY
  if
  :: status[w] == WAITER_GRANTED && cancelled[w] -> revoke_locked(w)
  :: else
  fi;
#endif
  if
  :: is_upgrade[w] ->
     if
     :: status[w] == WAITER_GRANTED && gmode[w] == HOLD_NONE ->
        /* the guard was released between the grant and now */
        status[w] = WAITER_FAILED;
        failure[w] = FAILURE_RELEASED_BEFORE_COMPLETED
     :: else
     fi;
     upgrade_delivered_locked(w)
  :: else
  fi
}

/* The part of aio_rw_lock_waiter_deliver () under the mutex; ST gets the
 * status the task is completed with. The new guard of a granted
 * acquisition is made here too (in C just after the unlock, by the same
 * thread, which nobody else can observe). */
inline deliver_locked(w, st)
{
  assert(dispatched[w]);
  assert(status[w] == WAITER_GRANTED || status[w] == WAITER_FAILED);
  dispatched[w] = false;
  finish_locked(w);
  st = status[w];
  status[w] = WAITER_DONE;
  /* Cancelled before its callback runs: the grant was handed back. */
  assert(!(cancelled[w] && st == WAITER_GRANTED));
  if
  :: st == WAITER_GRANTED && !is_upgrade[w] ->
     assert(gmode[w] == HOLD_NONE);
     gmode[w] = req_mode[w]    /* aio_rw_lock_guard_new_granted () */
  :: else
  fi
}

/* =================================================================== */
/* aio-rw-lock.c and the guard's entry points                           */
/* =================================================================== */

/* submit_locked (): a new request, granted now, refused now, or queued.
 * Returns (in ARMED) whether a deadline source was attached. */
inline submit_locked(w, timeout_msec, armed)
{
  armed = false;
  assert(status[w] == WAITER_NEW);
#ifndef BUG_NO_CANCEL_CHECK_AT_SUBMIT
  fail_if_cancelled_locked(w, te_ok);
#else
  te_ok = false;
#endif
  if
  :: te_ok   /* cancelled before (or while) it was connected */
  :: else ->
     /* what the contract says about admitting a new request at once */
     sa_any = (queue_waits(MODE_READ) || queue_waits(MODE_WRITE) ||
               queue_waits(MODE_UPGRADABLE_READ) || upgrade != NOBODY);
     sa_wq = (queue_waits(MODE_WRITE) || upgrade != NOBODY);
     sa_rq = (queue_waits(MODE_READ) || queue_waits(MODE_UPGRADABLE_READ));
     if
     :: closed -> fail_locked(w, FAILURE_CLOSED)
     :: else ->
        try_enter(req_mode[w], te_ok);
        if
        :: te_ok ->
           /* FAIR: no barging; PREFER_WRITERS: a reader waits while a
            * writer waits; PREFER_READERS: a writer lets waiting readers
            * first */
           assert(POLICY != FAIR || !sa_any);
           assert(POLICY != PREFER_WRITERS || req_mode[w] == MODE_WRITE || !sa_wq);
           assert(POLICY != PREFER_READERS || req_mode[w] != MODE_WRITE || !sa_rq);
           settle_locked(w, WAITER_GRANTED, FAILURE_NONE)
        :: else ->
           if
           :: (timeout_msec) == 0 -> fail_locked(w, FAILURE_NOT_AT_ONCE)
           :: else ->
              enqueue(w);
              status[w] = WAITER_QUEUED;
              armed = ((timeout_msec) > 0)
           fi
        fi
     fi
  fi
}

/* change_mode_locked (): the guard's mode changes, the holds follow, and
 * whoever may enter now is served (no re-entered guards in the model: a
 * guard's mode is its hold's) */
inline change_mode_locked(g, mode)
{
  cm_from = gmode[g];
  gmode[g] = mode;
  convert(cm_from, mode);
  serve_locked()
}

/* release_locked (): the guard's hold ends; a pending upgrade fails */
inline release_locked(g)
{
  assert(gmode[g] != HOLD_NONE);
  /* a waiting upgrade leaves the queue; one already decided learns at
   * delivery that its guard is gone */
  if
  :: g_upgrade[g] && status[g] == WAITER_QUEUED ->
     remove(g);
     fail_locked(g, FAILURE_RELEASED_WHILE_WAITING)
  :: else
  fi;
  change_mode_locked(g, HOLD_NONE)
}

/* The locked part of aio_rw_lock_guard_downgrade () */
inline downgrade_locked(g)
{
  assert(gmode[g] != HOLD_NONE && !g_upgrade[g]);   /* else refused */
  if
  :: gmode[g] != MODE_READ -> change_mode_locked(g, MODE_READ)
  :: else
  fi
}

/* submit_upgrade_locked () (the client only upgrades its UPGRADABLE_READ
 * guard, so FAILURE_UPGRADE_OF_READ is not modelled) */
inline submit_upgrade_locked(g)
{
  is_upgrade[g] = true;
  fail_if_cancelled_locked(g, te_ok);
  if
  :: te_ok
  :: else ->
     if
     :: gmode[g] == HOLD_NONE -> fail_locked(g, FAILURE_ALREADY_RELEASED)
     :: gmode[g] == MODE_READ -> assert(false)
     :: gmode[g] != HOLD_NONE && gmode[g] != MODE_READ &&
        (g_upgrade[g] || upgrade != NOBODY) -> fail_locked(g, FAILURE_UPGRADE_PENDING)
     :: gmode[g] != HOLD_NONE && gmode[g] != MODE_READ &&
        !g_upgrade[g] && upgrade == NOBODY ->
        /* pending from here until its caller sees the outcome */
        g_upgrade[g] = true;
        if
        :: gmode[g] == MODE_WRITE ->   /* already exclusive */
           settle_locked(g, WAITER_GRANTED, FAILURE_NONE)
        :: gmode[g] != MODE_WRITE && closed -> fail_locked(g, FAILURE_CLOSED)
        :: gmode[g] != MODE_WRITE && !closed ->
           try_upgrade(te_ok);
           if
           :: te_ok -> settle_locked(g, WAITER_GRANTED, FAILURE_NONE)
           :: else ->
              enqueue_upgrade(g);
              status[g] = WAITER_QUEUED
           fi
        fi
     fi
  fi
}

/* aio_rw_lock_close () */
inline close_lock()
{
  close();
  do
  :: pop_any(cl_r);
     if
     :: cl_r == NOBODY -> break
     :: else -> fail_locked(cl_r, FAILURE_CLOSED)
     fi
  od
}

/* =================================================================== */
/* Properties                                                           */
/* =================================================================== */

/* The hold the state counts on behalf of client C: its granted but not yet
 * delivered acquisition, else its guard's. */
#define owned(c) \
  ((status[c] == WAITER_GRANTED && !is_upgrade[c]) -> req_mode[c] : gmode[c])

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
  for (ci_i : 0 .. NCLIENTS - 1) {
    ci_m = owned(ci_i);
    if
    :: ci_m == MODE_READ -> ci_r++
    :: ci_m == MODE_UPGRADABLE_READ -> ci_u++
    :: ci_m == MODE_WRITE -> ci_w++
    :: else
    fi;
    /* a request is in at most one place */
    assert(!(queued[ci_i] && dispatched[ci_i]));
    assert(queued[ci_i] == (status[ci_i] == WAITER_QUEUED));
    /* a cancelled request does not stay queued or granted once the
     * "cancelled" handler has run (or was skipped, as it was connected
     * after the cancellation): it completes promptly */
    assert(!(cancelled[ci_i] && !handler_pending[ci_i] &&
             (status[ci_i] == WAITER_QUEUED || status[ci_i] == WAITER_GRANTED)));
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
 * passed, the lock was closed or, for an upgrade, the guard was released),
 * it says: a request that is not cancelled is eventually granted.
 * ([] <> !requested[0] is [] (requested[0] -> <> !requested[0]).) */
ltl no_starvation { [] <> !requested[0] }

/* =================================================================== */
/* Threads                                                              */
/* =================================================================== */

#if defined(LIVENESS) && !defined(NO_CANCEL)
#define WILL_CANCEL if :: will_cancel[i] = true :: will_cancel[i] = false fi
#else
#define WILL_CANCEL skip
#endif

#if ITERATIONS > 0
#define MORE (iter < ITERATIONS)
#define NEXT_ITERATION iter++
#else
#define MORE true
#define NEXT_ITERATION skip
#endif

/* A fresh waiter: aio_rw_lock_waiter_new () */
inline waiter_new(w, mode)
{
  status[w] = WAITER_NEW;
  req_mode[w] = mode;
  is_upgrade[w] = false;
  changed_mode[w] = false;
  failure[w] = FAILURE_NONE
}

/* aio_rw_lock_waiter_connect (), before the submission, without the
 * mutex: g_cancellable_connect () runs the handler at once (and connects
 * nothing) if the cancellable is cancelled already; the waiter is NEW, so
 * the handler does nothing. */
inline connect(w)
{
  assert(status[w] == WAITER_NEW);
  if
  :: cancelled[w] -> on_cancelled(w)
  :: else -> connected[w] = true
  fi
}

/* The callback of an acquisition: acquire_finish (). A guard whose
 * cancellable was cancelled after delivery is dropped (released). */
inline acquire_finish(w, st, outcome, timeout_msec)
{
  if
  :: st == WAITER_FAILED -> outcome = failure[w]
  :: else ->
     assert(st == WAITER_GRANTED && gmode[w] == req_mode[w]);
     if
     :: cancelled[w] ->
        release_locked(w);
        outcome = FAILURE_CANCELLED
     :: else -> outcome = FAILURE_NONE
     fi
  fi;
  /* a cancelled request never reports success and never ends holding */
  assert(outcome == FAILURE_NONE || gmode[w] == HOLD_NONE);
  assert(outcome != FAILURE_NONE || !cancelled[w]);
  /* and a request fails only for a reason */
  assert(outcome == FAILURE_NONE ||
         (outcome == FAILURE_CANCELLED && cancelled[w]) ||
         (outcome == FAILURE_TIMED_OUT && (timeout_msec) > 0) ||
         (outcome == FAILURE_NOT_AT_ONCE && (timeout_msec) == 0) ||
         (outcome == FAILURE_CLOSED && closed));
  assert(requested[w]);     /* completes exactly once */
  requested[w] = false;
  check_invariants()
}

/* The callback of an upgrade: aio_rw_lock_guard_upgrade_finish () */
inline upgrade_finish(w, st, outcome)
{
  if
  :: st == WAITER_FAILED -> outcome = failure[w]
  :: else ->
     if
     :: cancelled[w] ->
        if
        :: changed_mode[w] ->
           upgrade_revoked_locked(w);
           serve_locked()
        :: else
        fi;
        outcome = FAILURE_CANCELLED
     :: else -> outcome = FAILURE_NONE
     fi
  fi;
  /* success leaves a WRITE guard; failure leaves the guard as it was */
  assert(outcome != FAILURE_NONE || gmode[w] == MODE_WRITE);
  assert(outcome == FAILURE_NONE || gmode[w] == MODE_UPGRADABLE_READ || gmode[w] == HOLD_NONE);
  assert(outcome != FAILURE_NONE || !cancelled[w]);
  assert(outcome == FAILURE_NONE ||
         (outcome == FAILURE_CANCELLED && cancelled[w]) ||
         ((outcome == FAILURE_RELEASED_WHILE_WAITING ||
           outcome == FAILURE_RELEASED_BEFORE_COMPLETED) && gmode[w] == HOLD_NONE) ||
         (outcome == FAILURE_CLOSED && closed));
  assert(requested[w]);
  requested[w] = false;
  check_invariants()
}

proctype client(byte i)
{
  byte iter;
  byte mode;
  mtype st;          /* the status the request was delivered with */
  mtype outcome;     /* what its callback saw */
  bool armed;        /* a deadline source is attached */
  bool released;     /* the guard was released while its upgrade waited */
  short timeout_msec;

end_idle:
  do
  :: MORE ->
     /* aio_rw_lock_acquire_async (mode, timeout, cancellable): a fresh cancellable */
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
       cancelled[i] = false;
       WILL_CANCEL;
       requested[i] = true
     }
     d_step {
       if
       :: cancelled[i] ->
          /* already cancelled at the call: the state is untouched */
          outcome = FAILURE_CANCELLED;
          requested[i] = false
       :: else -> waiter_new(i, mode)
       fi
     }
     if
     :: outcome == FAILURE_CANCELLED
     :: else ->
        d_step { connect(i) }
        d_step { submit_locked(i, timeout_msec, armed); check_invariants() }
        /* the main loop: the completion source, or the deadline */
        do
        :: d_step { dispatched[i] -> deliver_locked(i, st); armed = false; check_invariants() }
           break
#ifdef WITH_TIMEOUT
        :: d_step { armed -> armed = false; on_timeout(i); check_invariants() }
#endif
        od;
        skip;   /* (spin: a loop may not jump straight into a d_step) */
        /* disconnect () waits for a running handler; then the callback */
        d_step {
          !handler_pending[i] ->
          connected[i] = false;
          acquire_finish(i, st, outcome, timeout_msec)
        }
     fi;

     if
     :: outcome == FAILURE_NONE ->
        /* it holds; maybe changes its mode, then releases */
        if
        :: skip
#ifdef WITH_DOWNGRADE
        :: gmode[i] != MODE_READ ->
           d_step { downgrade_locked(i); check_invariants() }
#endif
#ifdef WITH_UPGRADE
        :: gmode[i] == MODE_UPGRADABLE_READ ->
           /* aio_rw_lock_guard_upgrade_async (cancellable): a fresh cancellable */
           atomic { cancelled[i] = false; WILL_CANCEL; requested[i] = true }
           d_step {
             if
             :: cancelled[i] -> outcome = FAILURE_CANCELLED; requested[i] = false
             :: else -> waiter_new(i, MODE_WRITE)
             fi
           }
           if
           :: outcome == FAILURE_CANCELLED
           :: else ->
              d_step { connect(i) }
              d_step { submit_upgrade_locked(i); check_invariants() }
              released = false;
              do
              :: d_step { dispatched[i] -> deliver_locked(i, st); check_invariants() }
                 break
              :: d_step { !released && gmode[i] != HOLD_NONE ->
                   /* the guard is released before the upgrade completes */
                   release_locked(i); check_invariants(); released = true }
              od;
              skip;
              d_step {
                !handler_pending[i] ->
                connected[i] = false;
                upgrade_finish(i, st, outcome)
              }
           fi
#endif
        fi;
        if
        :: d_step { gmode[i] != HOLD_NONE -> release_locked(i); check_invariants() }
        :: else
        fi
     :: else
     fi;

     d_step {
       assert(gmode[i] == HOLD_NONE && !requested[i] && !dispatched[i]);
       assert(status[i] == WAITER_DONE);
       /* forget the dead locals, so equal states look equal */
       mode = 0; st = 0; outcome = 0; armed = false; released = false;
       timeout_msec = 0;
       NEXT_ITERATION
     }
  :: else -> break
  od
}

/* The thread that cancels client C's requests: at any time (before the
 * call, while NEW, QUEUED, or GRANTED and not yet delivered, or after the
 * delivery), g_cancellable_cancel () sets the flag at once and, if the
 * handler is connected, runs it next, under the mutex. Meanwhile the other
 * threads go on (the handler waits for the mutex). With LIVENESS, whether a
 * request is going to be cancelled at all is decided when it is made
 * (will_cancel), so that weak fairness does not force every waiting
 * request to be cancelled. */
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
       handler_pending[c] = false;
       check_invariants()
     }
  od
}

#ifdef WITH_CLOSE
active proctype closer()
{
  d_step { close_lock(); check_invariants() }
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
    c = 0
  }
}
