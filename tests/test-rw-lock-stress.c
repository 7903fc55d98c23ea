/* test-rw-lock-stress.c: a seeded, model-checked stress test (suite "slow")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two threads, each with its own main context, make random async requests
 * (read, write, upgradable, with and without cancellables and deadlines),
 * try-locks (try_acquire in any mode too), releases, re-entries, downgrades
 * (downgrade_to too, refusals included), upgrades (upgrade_full with a
 * deadline too) and try_upgrades; two worker threads make blocking
 * requests and try_acquires, downgrade_to or try_upgrade the holds they
 * get, cancel the others' requests and release guards handed to them.
 * After every step the lock's state is checked under its own mutex against
 * the tests' reference model (aio-test-model.h); at checkpoints every
 * thread pauses, everything due is delivered, and the holds and queues are
 * compared with the guards and requests the test knows of.
 *
 * Each round closes its lock once, from whichever thread makes the
 * round's close_at-th step while the others run: a context thread with
 * close_async, a worker with close. Then the context threads add more
 * close_async waits (some cancelled, from any thread). A close_async wait
 * must complete only once no hold is left (the lock's state and the
 * test's counts both say none), and while one still waits at a checkpoint
 * a hold must exist. At the end of a round every hold must be gone, every
 * wait completed and the lock finalized.
 *
 * The counts of what the test holds (Round.inside) switch modes in one
 * atomic step: a downgrade counts the weaker mode from before the call, so
 * a writer let in during a downgrade that is not atomic is seen inside
 * with it; a try_upgrade counts WRITE once it succeeded.
 *
 *   AIO_STRESS_SEED  the seed (printed at start and on failure)
 *   AIO_STRESS_OPS   the number of operations, all threads together
 */

#include <string.h>

#include "aio-rw-lock-private.h"
#include "aio-test-model.h"
#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

#define N_CONTEXT_THREADS 2
#define N_WORKERS 2
#define N_THREADS (N_CONTEXT_THREADS + N_WORKERS)
#define MAX_GUARDS 4
#define MAX_PENDING 6
#define N_RECENT_CANCELLABLES 32
#define CHECKPOINT_EVERY 2000
#define N_ROUNDS 6          /* at least; and one per ROUND_OPS operations */
#define ROUND_OPS 5000
#define MAX_DRAINS 2        /* close_async waits per thread */

static guint32 seed;

#define CHECK(cond) \
  G_STMT_START { \
    if (G_UNLIKELY (!(cond))) \
      g_error ("stress: invariant violated: %s (%s:%d); reproduce with AIO_STRESS_SEED=%u", \
               #cond, __FILE__, __LINE__, seed); \
  } G_STMT_END

/* ---- What the test knows ---- */

/* One hold as the test sees it: the guards sharing it, and the mode it
 * shows to the exclusivity counters. */
typedef struct
{
  guint         n_guards;   /* unreleased guards */
  AioRwLockMode user_mode;  /* as counted in Stats.inside */
  gboolean      upgrading;
} Hold;

typedef struct
{
  AioRwLockGuard *guard;
  Hold           *hold;
  AioRwLockMode   mode;       /* as the test knows it */
  gboolean        upgrading;  /* an upgrade of this guard waits for its callback */
  GCancellable   *upgrade_cancellable;  /* that upgrade's, if any (not owned) */
  gboolean        released;   /* released while upgrading: freed by the callback */
} GuardRec;

typedef struct _Actor Actor;

typedef enum
{
  UPGRADE_BY_GUARD,  /* aio_rw_lock_guard_upgrade_async */
  UPGRADE_BY_LOCK,   /* aio_rw_lock_upgrade_async */
  UPGRADE_FULL,      /* aio_rw_lock_guard_upgrade_full_async, with a deadline */
  N_UPGRADE_KINDS
} UpgradeKind;

typedef struct
{
  Actor         *actor;
  AioRwLockMode  mode;
  GuardRec      *upgrade_of;   /* an upgrade, or NULL */
  UpgradeKind    upgrade_kind;
  gboolean       drain;        /* a close_async wait */
  GCancellable  *cancellable;
  int            timeout_msec;
  gint           completions;
  gboolean       cancelled_here;  /* by its own thread, before its callback */
  gboolean       closed_before;   /* the lock was closed before the call */
} Pending;

typedef struct
{
  AioRwLock    *lock;
  gboolean      closed;        /* close () is being called: CLOSED may come */
  gboolean      close_done;    /* and returned: CLOSED must come */
  gint          close_at;      /* the step that closes */
  gint          steps;         /* steps started, all threads together */
  GMutex        mutex;         /* the fields below */
  GCancellable *recent[N_RECENT_CANCELLABLES];
  guint         n_recent;
  GPtrArray    *inbox;         /* GuardRecs handed to workers to release */
  /* User-visible holds: changed after a grant is seen and before a
   * release, so they never exceed the real ones. The three counts share
   * one atomic word (INSIDE_BITS each, by mode), so that a check reads
   * them at one instant: read one by one, another thread's writer leaving
   * and reader entering in between would look like both inside at once. */
  gint          inside;
} Round;

/* Everything counted for the report. */
typedef struct
{
  gint ops;
  gint async_requests;
  gint blocking_requests;
  gint granted;
  gint cancelled;
  gint cross_thread_cancels;
  gint timed_out;
  gint closed;
  gint upgrades;
  gint reentries;
  gint downgrades;
  gint cross_thread_releases;
  gint checks;
  gint checkpoints;
  /* 1.1 */
  gint try_would_block;
  gint try_closed;
  gint try_upgrades;
  gint try_upgrade_refusals;
  gint upgrade_timeouts;
  gint downgrades_to;
  gint downgrade_to_refusals;
  gint closes_async;
  gint closes_blocking;
  gint drains;
  gint drains_cancelled;
} Stats;

static Stats stats;

struct _Actor
{
  guint         index;
  gboolean      has_context;
  GMainContext *context;
  GRand        *rand;
  Round        *round;
  GPtrArray    *guards;   /* GuardRec */
  GPtrArray    *pending;  /* Pending */
  guint         n_drains; /* of those, close_async waits */
  GThread      *thread;
};

/* ---- Coordination: pause, drain, check, resume ---- */

typedef enum { CMD_RUN, CMD_PAUSE, CMD_DRAIN, CMD_FINISH, CMD_STOP } Command;

static struct
{
  GMutex   mutex;
  GCond    cond;
  Command  command;
  guint    generation;  /* bumped with every command */
  guint    acked;       /* threads done with the current command */
  gboolean dispatched;  /* a drain dispatched something */
  gint     ops_left[N_THREADS];  /* each thread's share of the slice */
} coord;

static void
ack (gboolean dispatched)
{
  g_mutex_lock (&coord.mutex);
  coord.acked++;
  coord.dispatched |= dispatched;
  g_cond_broadcast (&coord.cond);
  g_mutex_unlock (&coord.mutex);
}

/* Called by the coordinator: every thread obeys @command once. */
static gboolean
command_all (Command command)
{
  gboolean dispatched;

  g_mutex_lock (&coord.mutex);
  coord.command = command;
  coord.generation++;
  coord.acked = 0;
  coord.dispatched = FALSE;
  g_cond_broadcast (&coord.cond);
  while (coord.acked < N_THREADS)
    g_cond_wait (&coord.cond, &coord.mutex);
  dispatched = coord.dispatched;
  g_mutex_unlock (&coord.mutex);

  return dispatched;
}

/* ---- The reference policy: the shared model's (aio-test-model.h),
 * written from DESIGN.md independently of the state module's
 * may_enter()/peek_next(), asked about the lock's own state ---- */

/* Which waiting request the model lets in now: the state's three queues,
 * each in arrival order, merged by seq into the model's one queue. */
static int
model_next (const AioRwLockState *s)
{
  AioTestModelState state = { 0 };
  g_autofree AioRwLockMode *queue = NULL;
  const GList *heads[3];
  guint n_queued = 0;

  for (guint mode = 0; mode < 3; mode++)
    {
      heads[mode] = s->queue[mode].head;
      n_queued += s->queue[mode].length;
    }

  queue = g_new (AioRwLockMode, MAX (n_queued, 1));
  for (guint n = 0; n < n_queued; n++)
    {
      const AioRwLockRequest *first = NULL;
      guint from = 0;

      for (guint mode = 0; mode < 3; mode++)
        {
          const AioRwLockRequest *r = heads[mode] != NULL ? heads[mode]->data : NULL;

          if (r != NULL && (first == NULL || r->seq < first->seq))
            {
              first = r;
              from = mode;
            }
        }
      CHECK (first != NULL && first->mode == from && !first->is_upgrade);
      /* Each queue is in arrival order. */
      CHECK (heads[from]->next == NULL ||
             ((const AioRwLockRequest *) heads[from]->next->data)->seq > first->seq);
      queue[n] = first->mode;
      heads[from] = heads[from]->next;
    }

  state.policy = s->policy;
  state.n_read = s->n_read;
  state.upgradable = s->upgradable;
  state.writer = s->writer;
  state.upgrade_pending = s->upgrade != NULL;
  state.closed = s->closed;
  state.queue = queue;
  state.n_queued = n_queued;

  return aio_test_model_next (&state);
}

/* After every step: the holds are consistent and nobody who may enter is
 * left waiting, by the lock's own decision and by the reference. Runs under
 * the lock's mutex. */
static void
check_state (const AioRwLockState *s,
             gpointer              user_data)
{
  if (s->writer)
    CHECK (s->n_read == 0 && !s->upgradable);
  CHECK (s->upgrade == NULL || s->upgradable);
  CHECK (aio_rw_lock_state_peek_next (s) == NULL);
  CHECK (model_next (s) == AIO_TEST_MODEL_NEXT_NONE);
  if (s->closed)
    CHECK (aio_rw_lock_state_pending_readers (s) == 0 && aio_rw_lock_state_pending_writers (s) == 0);
}

/* What the lock lists (a monitor's items), against its state: as many
 * holds per mode as it counts, whether recorded or not, and, when every
 * hold and wait is recorded (AIO_RW_LOCK_DEBUG), a start for each. */
typedef struct
{
  guint    held[3];
  guint    waiting;
  gboolean unknown_start;
} Listed;

static void
count_entry (const AioRwLockEntry *entry,
             gpointer              user_data)
{
  Listed *listed = user_data;

  if (entry->waiting)
    listed->waiting++;
  else
    listed->held[entry->mode]++;
  if (entry->since_usec == 0 || entry->thread_id == 0)
    listed->unknown_start = TRUE;
}

/* One taking of the lock's mutex reads the list and the snapshot. */
static void
check_listed (AioRwLock *lock)
{
  static gint recording_everything = -1;
  AioRwLockSnapshot snapshot;
  Listed listed = { { 0 } };
  guint pending;

  if (recording_everything < 0)
    recording_everything = g_getenv ("AIO_RW_LOCK_DEBUG") != NULL;

  aio_rw_lock_core_list (aio_rw_lock_get_core (lock), &snapshot, count_entry, &listed);
  CHECK (listed.held[WRITE] == (guint) snapshot.write_locked);
  if (snapshot.write_locked)
    CHECK (listed.held[READ] + listed.held[UPGRADABLE] == 0 && snapshot.readers <= 1);
  else
    CHECK (listed.held[READ] + listed.held[UPGRADABLE] == snapshot.readers);
  /* A pending upgrade is listed as a waiting WRITE too. */
  pending = snapshot.pending_readers + snapshot.pending_writers;
  CHECK (listed.waiting == pending || listed.waiting == pending + 1);
  if (recording_everything)
    CHECK (!listed.unknown_start);
}

#define INSIDE_BITS 10

static guint
inside_of (gint          inside,
           AioRwLockMode mode)
{
  return ((guint) inside >> (mode * INSIDE_BITS)) & ((1u << INSIDE_BITS) - 1);
}

static void
check_step (Round *round)
{
  gint inside;

  aio_rw_lock_inspect_state (round->lock, check_state, NULL);
  check_listed (round->lock);

  /* What the test saw: never a writer with anyone else. */
  inside = g_atomic_int_get (&round->inside);
  CHECK (inside_of (inside, WRITE) <= 1);
  if (inside_of (inside, WRITE) > 0)
    CHECK (inside_of (inside, READ) == 0 && inside_of (inside, UPGRADABLE) == 0);
  CHECK (inside_of (inside, UPGRADABLE) <= 1);

  g_atomic_int_inc (&stats.checks);
}

/* ---- User-visible hold accounting ---- */


/* One hold the test counts changes mode (NONE: none) in one atomic step:
 * no check sees it in neither mode, nor in both. */
static void
inside_switch (Round         *round,
               AioRwLockMode  from,
               AioRwLockMode  to)
{
  gint delta = 0;
  gint before;

  if (from == to)
    return;
  if (from != AIO_RW_LOCK_HOLD_NONE)
    delta -= 1 << (from * INSIDE_BITS);
  if (to != AIO_RW_LOCK_HOLD_NONE)
    delta += 1 << (to * INSIDE_BITS);

  before = g_atomic_int_add (&round->inside, delta);
  if (from != AIO_RW_LOCK_HOLD_NONE)
    CHECK (inside_of (before, from) > 0);
  if (to != AIO_RW_LOCK_HOLD_NONE)
    check_step (round);
}

static void
inside_enter (Round         *round,
              AioRwLockMode  mode)
{
  inside_switch (round, AIO_RW_LOCK_HOLD_NONE, mode);
}

static void
inside_leave (Round         *round,
              AioRwLockMode  mode)
{
  inside_switch (round, mode, AIO_RW_LOCK_HOLD_NONE);
}

/* The hold's members as the model counts them: its unreleased guards but
 * @without, by mode. */
static void
hold_members (Actor            *actor,
              Hold             *hold,
              GuardRec         *without,
              AioTestModelHold *members)
{
  memset (members, 0, sizeof *members);
  for (guint i = 0; i < actor->guards->len; i++)
    {
      GuardRec *rec = actor->guards->pdata[i];

      if (rec->hold != hold || rec == without || rec->released)
        continue;
      members->n[rec->mode]++;
    }
}

/* The mode the hold shows: the strongest of its members. */
static AioRwLockMode
hold_mode_of (Actor *actor,
              Hold  *hold,
              GuardRec *without)
{
  AioTestModelHold members;

  hold_members (actor, hold, without, &members);
  return aio_test_model_hold_mode (&members);
}

static GuardRec *
guard_rec_new (Actor          *actor,
               AioRwLockGuard *guard,
               Hold           *hold,
               AioRwLockMode   mode)
{
  GuardRec *rec = g_new0 (GuardRec, 1);

  CHECK (aio_rw_lock_guard_get_mode (guard) == mode);
  rec->guard = guard;
  rec->mode = mode;
  if (hold == NULL)
    {
      hold = g_new0 (Hold, 1);
      hold->user_mode = mode;
      inside_enter (actor->round, hold->user_mode);
    }
  rec->hold = hold;
  hold->n_guards++;
  g_ptr_array_add (actor->guards, rec);
  return rec;
}

/* Takes @rec out of @actor's guards and fixes the hold's visible mode
 * before the real release (so what the test counts never exceeds what the
 * lock holds). Returns the guard to release. */
static AioRwLockGuard *
guard_rec_take (Actor    *actor,
                GuardRec *rec)
{
  AioRwLockMode after = hold_mode_of (actor, rec->hold, rec);
  AioRwLockGuard *guard = rec->guard;
  Hold *hold = rec->hold;

  if (after != hold->user_mode)
    inside_leave (actor->round, hold->user_mode);
  /* (Entering a weaker mode waits until the release is done.) */

  g_ptr_array_remove (actor->guards, rec);
  hold->n_guards--;
  if (hold->n_guards == 0)
    g_free (hold);
  else if (after != hold->user_mode)
    hold->user_mode = AIO_RW_LOCK_HOLD_NONE;  /* settled by guard_rec_settle () */
  g_free (rec);

  return guard;
}

/* After a release or an upgrade, or before a downgrade: the hold shows the
 * mode of its guards' records, switched at once. */
static void
hold_settle (Actor *actor,
             Hold  *hold)
{
  AioRwLockMode mode = hold_mode_of (actor, hold, NULL);

  if (mode == AIO_RW_LOCK_HOLD_NONE)
    return;
  inside_switch (actor->round, hold->user_mode, mode);
  hold->user_mode = mode;
}

/* ---- Async requests ---- */

static void
remember_cancellable (Round        *round,
                      GCancellable *cancellable)
{
  g_mutex_lock (&round->mutex);
  g_clear_object (&round->recent[round->n_recent % N_RECENT_CANCELLABLES]);
  round->recent[round->n_recent++ % N_RECENT_CANCELLABLES] = g_object_ref (cancellable);
  g_mutex_unlock (&round->mutex);
}

static void
check_failure (Round        *round,
               const Pending *p,
               const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      CHECK (p->cancellable != NULL && g_cancellable_is_cancelled (p->cancellable));
      g_atomic_int_inc (&stats.cancelled);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      CHECK (p->timeout_msec >= 0);
      g_atomic_int_inc (&stats.timed_out);
      if (p->upgrade_of != NULL)
        g_atomic_int_inc (&stats.upgrade_timeouts);
    }
  else if (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED))
    {
      CHECK (g_atomic_int_get (&round->closed));
      g_atomic_int_inc (&stats.closed);
    }
  else if (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD))
    {
      CHECK (p->upgrade_of != NULL && p->upgrade_of->released);
    }
  else
    {
      g_error ("stress: unexpected error %s (seed %u)", error->message, seed);
    }
}

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Pending *p = user_data;
  Actor *actor = p->actor;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard;

  CHECK (g_thread_self () == actor->thread);  /* completed on its own context */
  CHECK (g_atomic_int_add (&p->completions, 1) == 0);
  guard = aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, &error);
  CHECK ((guard == NULL) != (error == NULL));

  if (guard != NULL)
    {
      CHECK (aio_rw_lock_guard_get_mode (guard) == p->mode);
      CHECK (aio_rw_lock_guard_is_held (guard));
      /* A cancel that landed before the callback started never lets it
       * succeed; another thread's may land after that (too late). */
      CHECK (!p->cancelled_here);
      CHECK (!p->closed_before);
      guard_rec_new (actor, guard, NULL, p->mode);
      g_atomic_int_inc (&stats.granted);
    }
  else
    {
      check_failure (actor->round, p, error);
    }

  g_ptr_array_remove (actor->pending, p);
}

static void
on_upgraded (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Pending *p = user_data;
  Actor *actor = p->actor;
  GuardRec *rec = p->upgrade_of;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  CHECK (g_thread_self () == actor->thread);
  CHECK (g_atomic_int_add (&p->completions, 1) == 0);
  switch (p->upgrade_kind)
    {
    case UPGRADE_BY_LOCK:
      ok = aio_rw_lock_upgrade_finish (AIO_RW_LOCK (source), result, &error);
      break;
    case UPGRADE_FULL:
      ok = aio_rw_lock_guard_upgrade_full_finish (rec->guard, result, &error);
      break;
    case UPGRADE_BY_GUARD:
    case N_UPGRADE_KINDS:
    default:
      ok = aio_rw_lock_guard_upgrade_finish (rec->guard, result, &error);
      break;
    }
  CHECK (ok == (error == NULL));
  CHECK (!(ok && p->cancelled_here));
  rec->upgrading = FALSE;
  rec->upgrade_cancellable = NULL;
  rec->hold->upgrading = FALSE;

  if (ok)
    {
      CHECK (aio_rw_lock_guard_get_mode (rec->guard) == WRITE);
      rec->mode = WRITE;
      g_atomic_int_inc (&stats.upgrades);
    }
  else
    {
      check_failure (actor->round, p, error);
      if (!rec->released)
        CHECK (aio_rw_lock_guard_get_mode (rec->guard) == UPGRADABLE);  /* as it was */
    }

  if (rec->released)
    {
      /* Released while upgrading: it was kept for this callback. */
      Hold *hold = rec->hold;

      g_ptr_array_remove (actor->guards, rec);
      aio_rw_lock_guard_unref (rec->guard);
      if (--hold->n_guards == 0)
        g_free (hold);
      g_free (rec);
    }
  else
    {
      hold_settle (actor, rec->hold);
    }

  g_ptr_array_remove (actor->pending, p);
}

/* Under the lock's mutex, when a close_async wait completes. */
static void
check_drained (const AioRwLockState *s,
               gpointer              user_data)
{
  CHECK (s->closed);
  CHECK (!aio_rw_lock_state_has_holds (s));
}

static void
on_drained (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Pending *p = user_data;
  Actor *actor = p->actor;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  CHECK (g_thread_self () == actor->thread);
  CHECK (g_atomic_int_add (&p->completions, 1) == 0);
  CHECK (p->drain);
  ok = aio_rw_lock_close_finish (AIO_RW_LOCK (source), result, &error);
  CHECK (ok == (error == NULL));
  CHECK (aio_rw_lock_is_closed (AIO_RW_LOCK (source)));  /* cancelled or not */

  if (ok)
    {
      /* No hold is left, nor can one come back (acquisitions fail; re-entry
       * and upgrades need a hold): the lock counts none, and the test,
       * whose counts never exceed the lock's, none either. */
      CHECK (!p->cancelled_here);
      aio_rw_lock_inspect_state (AIO_RW_LOCK (source), check_drained, NULL);
      CHECK (g_atomic_int_get (&actor->round->inside) == 0);
      CHECK (aio_rw_lock_get_readers (AIO_RW_LOCK (source)) == 0);
      CHECK (!aio_rw_lock_is_write_locked (AIO_RW_LOCK (source)));
      g_atomic_int_inc (&stats.drains);
    }
  else
    {
      CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
      CHECK (p->cancellable != NULL && g_cancellable_is_cancelled (p->cancellable));
      g_atomic_int_inc (&stats.drains_cancelled);
    }

  actor->n_drains--;
  g_ptr_array_remove (actor->pending, p);
}

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_clear_object (&p->cancellable);
  g_free (p);
}

static Pending *
pending_new (Actor         *actor,
             AioRwLockMode  mode,
             int            timeout_msec)
{
  Pending *p = g_new0 (Pending, 1);

  p->actor = actor;
  p->mode = mode;
  p->timeout_msec = timeout_msec;
  p->closed_before = g_atomic_int_get (&actor->round->close_done);
  if (g_rand_int_range (actor->rand, 0, 10) < 3)
    {
      p->cancellable = g_cancellable_new ();
      remember_cancellable (actor->round, p->cancellable);
    }
  g_ptr_array_add (actor->pending, p);
  return p;
}

static AioRwLockMode
random_mode (GRand *rand)
{
  int r = g_rand_int_range (rand, 0, 10);

  return r < 5 ? READ : r < 7 ? WRITE : UPGRADABLE;
}

static int
random_timeout (GRand *rand)
{
  int r = g_rand_int_range (rand, 0, 10);

  return r < 7 ? -1 : r < 8 ? 0 : g_rand_int_range (rand, 1, 6);
}

static void
release_rec (Actor    *actor,
             GuardRec *rec,
             gboolean  explicit_release)
{
  Hold *hold = rec->hold;
  gboolean last = hold->n_guards == 1;
  AioRwLockGuard *guard;

  if (rec->upgrading)
    {
      /* Keep the record for the upgrade's callback (which sees NOT_HELD). */
      AioRwLockMode after = hold_mode_of (actor, hold, rec);

      if (after != hold->user_mode)
        {
          inside_leave (actor->round, hold->user_mode);
          hold->user_mode = AIO_RW_LOCK_HOLD_NONE;
        }
      rec->released = TRUE;
      aio_rw_lock_guard_release (rec->guard);
      if (!last)
        hold_settle (actor, hold);
      return;
    }

  guard = guard_rec_take (actor, rec);
  if (explicit_release)
    aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
  if (!last)
    hold_settle (actor, hold);
}

static GuardRec *
find_guard (Actor    *actor,
            gboolean (*fits) (Actor *actor, GuardRec *rec))
{
  guint n = actor->guards->len;
  guint start = n > 0 ? g_rand_int_range (actor->rand, 0, n) : 0;

  for (guint i = 0; i < n; i++)
    {
      GuardRec *rec = actor->guards->pdata[(start + i) % n];

      if (fits (actor, rec))
        return rec;
    }
  return NULL;
}

static gboolean
fits_any (Actor *actor, GuardRec *rec)
{
  return !rec->released;
}

/* Whether the lock has @rec's upgrade pending for sure, from its
 * submission until its callback. Any thread may cancel it, even before
 * the submission, which then refuses it at once: never pending. A
 * cancellable not cancelled now was not cancelled then. */
static gboolean
upgrade_surely_pending (GuardRec *rec)
{
  return rec->upgrading &&
         (rec->upgrade_cancellable == NULL || !g_cancellable_is_cancelled (rec->upgrade_cancellable));
}

/* Whose try_upgrade or downgrade_to has a known outcome: a guard without
 * an upgrade, or with one surely pending. */
static gboolean
fits_known_upgrade (Actor *actor, GuardRec *rec)
{
  return !rec->released && (!rec->upgrading || upgrade_surely_pending (rec));
}

/* The same, and released while upgrading too: refusals are tried on it. */
static gboolean
fits_refusal (Actor *actor, GuardRec *rec)
{
  return rec->released || fits_known_upgrade (actor, rec);
}

static gboolean
fits_downgrade (Actor *actor, GuardRec *rec)
{
  return !rec->released && !rec->upgrading && rec->mode != READ;
}

static gboolean
fits_upgrade (Actor *actor, GuardRec *rec)
{
  return !rec->released && rec->mode == UPGRADABLE && !rec->hold->upgrading;
}

static gboolean
fits_handoff (Actor *actor, GuardRec *rec)
{
  return !rec->released && !rec->upgrading && rec->hold->n_guards == 1;
}

static Pending *
find_cancellable (Actor *actor)
{
  for (guint i = 0; i < actor->pending->len; i++)
    {
      Pending *p = actor->pending->pdata[i];

      if (p->cancellable != NULL && !g_cancellable_is_cancelled (p->cancellable))
        return p;
    }
  return NULL;
}

/* ---- The 1.1 calls ---- */

/* READ < UPGRADABLE_READ < WRITE. */
static guint
strength (AioRwLockMode mode)
{
  return mode == READ ? 0 : mode == UPGRADABLE ? 1 : 2;
}

/* A try_ call (try_acquire, try_upgrade) refused for want of the lock:
 * WOULD_BLOCK on a lock not closed before the call, CLOSED on a lock being
 * closed. */
static void
check_try_refusal (Round        *round,
                   const GError *error,
                   gboolean      closed_before)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      CHECK (!closed_before);
      g_atomic_int_inc (&stats.try_would_block);
    }
  else
    {
      CHECK (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED));
      CHECK (g_atomic_int_get (&round->closed));
      g_atomic_int_inc (&stats.try_closed);
    }
}

/* Under the lock's mutex, right after a try_upgrade succeeded: the state
 * counts a writer, alone. (Only the calling thread can end or weaken that
 * hold: it still stands.) */
static void
check_write_held (const AioRwLockState *s,
                  gpointer              user_data)
{
  CHECK (s->writer && s->n_read == 0 && !s->upgradable);
}

/* try_acquire_read, try_acquire_write or try_acquire (any mode): the new
 * guard, or NULL (and never a guard once the lock was closed). */
static AioRwLockGuard *
try_acquire_some (Actor         *actor,
                  AioRwLockMode *mode)
{
  Round *round = actor->round;
  int form = g_rand_int_range (actor->rand, 0, 3);
  gboolean closed_before = g_atomic_int_get (&round->close_done);
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard;

  if (form == 0)
    {
      *mode = READ;
      guard = aio_rw_lock_try_acquire_read (round->lock);
    }
  else if (form == 1)
    {
      *mode = WRITE;
      guard = aio_rw_lock_try_acquire_write (round->lock);
    }
  else
    {
      *mode = random_mode (actor->rand);
      guard = aio_rw_lock_try_acquire (round->lock, *mode, &error);
      CHECK ((guard == NULL) == (error != NULL));
      if (guard == NULL)
        check_try_refusal (round, error, closed_before);
    }

  CHECK (guard == NULL || !closed_before);
  return guard;
}

/* try_upgrade of a context thread's guard (without an upgrade, or with one
 * surely pending): its outcome is known from the guard, but where the lock
 * decides (other readers, the close, another guard's upgrade of the hold),
 * and then it must be one it may be. */
static void
try_upgrade_rec (Actor    *actor,
                 GuardRec *rec)
{
  Round *round = actor->round;
  gboolean closed_before = g_atomic_int_get (&round->close_done);
  gboolean exclusive = rec->mode == WRITE || hold_mode_of (actor, rec->hold, NULL) == WRITE;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = aio_rw_lock_guard_try_upgrade (rec->guard, &error);
  CHECK (ok == (error == NULL));

  if (rec->upgrading)
    CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING));
  else if (rec->mode == READ)
    CHECK (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK));
  else if (exclusive)
    CHECK (ok);
  else if (!ok && !(rec->hold->upgrading && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING)))
    check_try_refusal (round, error, closed_before);

  /* A closed lock upgrades only a hold that is exclusive already (in
   * the test's view, unless another guard's upgrade of it made it so). */
  CHECK (!ok || exclusive || !closed_before || rec->hold->upgrading);

  if (ok)
    {
      /* Counted as WRITE from now: nobody else may be inside. */
      aio_rw_lock_inspect_state (round->lock, check_write_held, NULL);
      rec->mode = WRITE;
      hold_settle (actor, rec->hold);
      CHECK (aio_rw_lock_guard_get_mode (rec->guard) == WRITE);
      g_atomic_int_inc (&stats.try_upgrades);
    }
  else
    {
      CHECK (rec->released || aio_rw_lock_guard_get_mode (rec->guard) == rec->mode);
      g_atomic_int_inc (&stats.try_upgrade_refusals);
    }
}

/* A downgrade to @mode, weaker than the guard's: downgrade () for READ
 * now and then, else downgrade_to. The hold shows its new mode from before
 * the call (the lock still counts the stronger one then: no one else is
 * inside), so a writer let in during the downgrade would be seen inside
 * with it. */
static void
downgrade_rec (Actor         *actor,
               GuardRec      *rec,
               AioRwLockMode  mode)
{
  g_autoptr(GError) error = NULL;

  CHECK (strength (mode) < strength (rec->mode) && !rec->upgrading);
  rec->mode = mode;
  hold_settle (actor, rec->hold);

  if (mode == READ && g_rand_int_range (actor->rand, 0, 3) == 0)
    {
      aio_rw_lock_guard_downgrade (rec->guard);
      g_atomic_int_inc (&stats.downgrades);
    }
  else
    {
      CHECK (aio_rw_lock_guard_downgrade_to (rec->guard, mode, &error));
      CHECK (error == NULL);
      g_atomic_int_inc (&stats.downgrades_to);
    }
  CHECK (aio_rw_lock_guard_get_mode (rec->guard) == mode);
  check_step (actor->round);
}

/* downgrade_to refused: a released guard (kept for its upgrade's
 * callback), one whose upgrade is surely pending, or a mode not weaker. */
static void
downgrade_refused (Actor    *actor,
                   GuardRec *rec)
{
  g_autoptr(GError) error = NULL;
  AioRwLockMode mode = random_mode (actor->rand);

  if (!rec->released && !rec->upgrading && strength (mode) < strength (rec->mode))
    mode = rec->mode;

  CHECK (!aio_rw_lock_guard_downgrade_to (rec->guard, mode, &error));
  if (rec->released)
    CHECK (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD));
  else if (rec->upgrading)
    CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING));
  else
    CHECK (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
  if (!rec->released && !rec->upgrading)
    CHECK (aio_rw_lock_guard_get_mode (rec->guard) == rec->mode);
  g_atomic_int_inc (&stats.downgrade_to_refusals);
}

/* A close_async wait on this thread's context. */
static void
close_async_rec (Actor *actor)
{
  Pending *p = pending_new (actor, READ, -1);

  p->drain = TRUE;
  actor->n_drains++;
  aio_rw_lock_close_async (actor->round->lock, p->cancellable, on_drained, p);
  CHECK (g_atomic_int_get (&p->completions) == 0);  /* never before it returns */
  CHECK (aio_rw_lock_is_closed (actor->round->lock));
}

/* The round's close, by the thread whose step it is, while the others
 * run: close_async from a thread with a context, close from a worker. */
static void
close_round (Actor *actor)
{
  Round *round = actor->round;

  g_atomic_int_set (&round->closed, TRUE);
  if (actor->has_context)
    {
      close_async_rec (actor);
      g_atomic_int_inc (&stats.closes_async);
    }
  else
    {
      aio_rw_lock_close (round->lock);
      g_atomic_int_inc (&stats.closes_blocking);
    }
  g_atomic_int_set (&round->close_done, TRUE);
}

typedef enum
{
  OP_ACQUIRE, OP_TRY, OP_RELEASE, OP_REENTER, OP_DOWNGRADE, OP_UPGRADE,
  OP_CANCEL, OP_HANDOFF, OP_DISPATCH, OP_TRY_UPGRADE, OP_DOWNGRADE_REFUSED,
  OP_CLOSE_ASYNC, N_OPS
} ContextOp;

/* One random step of a thread that has a main context, chosen among the
 * operations that apply now. */
static void
context_step (Actor *actor)
{
  static const guint weight[N_OPS] = { 20, 6, 30, 5, 6, 10, 5, 3, 18, 5, 2, 3 };
  Round *round = actor->round;
  AioRwLock *lock = round->lock;
  gboolean room = actor->guards->len < MAX_GUARDS;
  gboolean queue_room = actor->pending->len < MAX_PENDING;
  GuardRec *candidate[N_OPS] = { NULL };
  gboolean applies[N_OPS];
  guint total = 0, pick;
  ContextOp op;
  GuardRec *rec;
  Pending *p;

  candidate[OP_RELEASE] = candidate[OP_REENTER] = find_guard (actor, fits_any);
  candidate[OP_DOWNGRADE] = find_guard (actor, fits_downgrade);
  candidate[OP_UPGRADE] = find_guard (actor, fits_upgrade);
  candidate[OP_HANDOFF] = find_guard (actor, fits_handoff);
  candidate[OP_TRY_UPGRADE] = find_guard (actor, fits_known_upgrade);
  candidate[OP_DOWNGRADE_REFUSED] = find_guard (actor, fits_refusal);
  p = find_cancellable (actor);

  applies[OP_ACQUIRE] = room && queue_room;
  applies[OP_TRY] = room;
  applies[OP_RELEASE] = candidate[OP_RELEASE] != NULL;
  applies[OP_REENTER] = candidate[OP_REENTER] != NULL && room;
  applies[OP_DOWNGRADE] = candidate[OP_DOWNGRADE] != NULL;
  applies[OP_UPGRADE] = candidate[OP_UPGRADE] != NULL && queue_room;
  applies[OP_CANCEL] = p != NULL;
  g_mutex_lock (&round->mutex);
  applies[OP_HANDOFF] = candidate[OP_HANDOFF] != NULL && round->inbox->len < 2;
  g_mutex_unlock (&round->mutex);
  applies[OP_DISPATCH] = TRUE;
  applies[OP_TRY_UPGRADE] = candidate[OP_TRY_UPGRADE] != NULL;
  applies[OP_DOWNGRADE_REFUSED] = candidate[OP_DOWNGRADE_REFUSED] != NULL;
  applies[OP_CLOSE_ASYNC] = g_atomic_int_get (&round->close_done) && actor->n_drains < MAX_DRAINS;

  for (op = 0; op < N_OPS; op++)
    total += applies[op] ? weight[op] : 0;
  pick = g_rand_int_range (actor->rand, 0, total);
  for (op = 0; op < N_OPS; op++)
    {
      if (!applies[op])
        continue;
      if (pick < weight[op])
        break;
      pick -= weight[op];
    }
  rec = candidate[op];

  switch (op)
    {
    case OP_ACQUIRE:
      {
        AioRwLockMode mode = random_mode (actor->rand);

        p = pending_new (actor, mode, random_timeout (actor->rand));
        aio_rw_lock_acquire_async (lock, mode, p->timeout_msec, p->cancellable, on_acquired, p);
        CHECK (g_atomic_int_get (&p->completions) == 0);  /* never before it returns */
        g_atomic_int_inc (&stats.async_requests);
      }
      break;

    case OP_TRY:
      {
        AioRwLockMode mode;
        AioRwLockGuard *guard = try_acquire_some (actor, &mode);

        if (guard != NULL)
          guard_rec_new (actor, guard, NULL, mode);
        if (guard != NULL && g_rand_boolean (actor->rand))
          aio_rw_lock_guard_set_label (guard, "try");
      }
      break;

    case OP_RELEASE:
      release_rec (actor, rec, g_rand_int_range (actor->rand, 0, 4) > 0);
      break;

    case OP_REENTER:
      {
        AioRwLockMode want = random_mode (actor->rand);
        g_autoptr(GError) error = NULL;
        AioRwLockGuard *again;
        gboolean allowed;

        /* (While its upgrade is pending, a guard counts as UPGRADABLE_READ.) */
        allowed = want == READ ||
                  (want == UPGRADABLE && rec->mode != READ) ||
                  (want == WRITE && rec->mode == WRITE);

        again = aio_rw_lock_guard_reenter (rec->guard, want, &error);
        if (allowed)
          {
            CHECK (again != NULL && error == NULL);
            guard_rec_new (actor, again, rec->hold, want);
            g_atomic_int_inc (&stats.reentries);
          }
        else
          {
            CHECK (again == NULL && g_error_matches (error, AIO_RW_LOCK_ERROR,
                                                     AIO_RW_LOCK_ERROR_WOULD_DEADLOCK));
          }
      }
      break;

    case OP_DOWNGRADE:
      downgrade_rec (actor, rec, rec->mode == WRITE && g_rand_boolean (actor->rand) ? UPGRADABLE : READ);
      break;

    case OP_UPGRADE:
      {
        UpgradeKind kind = g_rand_int_range (actor->rand, 0, N_UPGRADE_KINDS);

        p = pending_new (actor, WRITE, kind == UPGRADE_FULL ? random_timeout (actor->rand) : -1);
        p->upgrade_of = rec;
        p->upgrade_kind = kind;
        rec->upgrading = TRUE;
        rec->upgrade_cancellable = p->cancellable;
        rec->hold->upgrading = TRUE;
        if (kind == UPGRADE_FULL)
          aio_rw_lock_guard_upgrade_full_async (rec->guard, p->timeout_msec, p->cancellable,
                                                on_upgraded, p);
        else if (kind == UPGRADE_BY_LOCK)
          aio_rw_lock_upgrade_async (lock, rec->guard, p->cancellable, on_upgraded, p);
        else
          aio_rw_lock_guard_upgrade_async (rec->guard, p->cancellable, on_upgraded, p);
        CHECK (g_atomic_int_get (&p->completions) == 0);
      }
      break;

    case OP_TRY_UPGRADE:
      try_upgrade_rec (actor, rec);
      break;

    case OP_DOWNGRADE_REFUSED:
      downgrade_refused (actor, rec);
      break;

    case OP_CLOSE_ASYNC:
      close_async_rec (actor);
      break;

    case OP_CANCEL:
      g_cancellable_cancel (p->cancellable);
      p->cancelled_here = TRUE;
      break;

    case OP_HANDOFF:
      /* A worker releases it, on its own thread. */
      g_ptr_array_remove (actor->guards, rec);
      g_mutex_lock (&round->mutex);
      g_ptr_array_add (round->inbox, rec);
      g_mutex_unlock (&round->mutex);
      break;

    case OP_DISPATCH:
    case N_OPS:
    default:
      if (actor->pending->len > 0 && !applies[OP_RELEASE])
        {
          /* Only others can let our requests in: wait a little for them
           * rather than spin. */
          GSource *nap = g_timeout_source_new (1);

          g_source_set_dummy_callback (nap);
          g_source_attach (nap, actor->context);
          g_main_context_iteration (actor->context, TRUE);
          g_source_destroy (nap);
          g_source_unref (nap);
        }
      else
        {
          g_main_context_iteration (actor->context, FALSE);
        }
      break;
    }
}

/* ---- Workers: blocking requests, cross-thread cancels and releases ---- */

static void
release_inbox (Round *round)
{
  GuardRec *rec;

  for (;;)
    {
      g_mutex_lock (&round->mutex);
      rec = round->inbox->len > 0 ? g_ptr_array_steal_index (round->inbox, 0) : NULL;
      g_mutex_unlock (&round->mutex);
      if (rec == NULL)
        return;

      inside_leave (round, rec->hold->user_mode);
      aio_rw_lock_guard_release (rec->guard);
      aio_rw_lock_guard_unref (rec->guard);
      g_free (rec->hold);
      g_free (rec);
      g_atomic_int_inc (&stats.cross_thread_releases);
    }
}

/* A worker changes the mode of its hold with the 1.1 calls, on its own
 * thread while the others run: downgrade_to (the count switches to the
 * weaker mode before the call) or try_upgrade (to WRITE once it succeeded).
 * Returns the mode now. */
static AioRwLockMode
worker_change_mode (Actor          *actor,
                    AioRwLockGuard *guard,
                    AioRwLockMode   mode)
{
  Round *round = actor->round;
  g_autoptr(GError) error = NULL;
  int choice = g_rand_int_range (actor->rand, 0, 3);

  if (choice == 1 && mode != READ)
    {
      AioRwLockMode to = mode == WRITE && g_rand_boolean (actor->rand) ? UPGRADABLE : READ;

      inside_switch (round, mode, to);
      CHECK (aio_rw_lock_guard_downgrade_to (guard, to, &error));
      CHECK (error == NULL && aio_rw_lock_guard_get_mode (guard) == to);
      check_step (round);
      g_atomic_int_inc (&stats.downgrades_to);
      return to;
    }

  if (choice == 2 && mode == UPGRADABLE)
    {
      gboolean closed_before = g_atomic_int_get (&round->close_done);

      if (aio_rw_lock_guard_try_upgrade (guard, &error))
        {
          aio_rw_lock_inspect_state (round->lock, check_write_held, NULL);
          inside_switch (round, UPGRADABLE, WRITE);
          CHECK (aio_rw_lock_guard_get_mode (guard) == WRITE);
          g_atomic_int_inc (&stats.try_upgrades);
          return WRITE;
        }
      check_try_refusal (round, error, closed_before);
      CHECK (aio_rw_lock_guard_get_mode (guard) == UPGRADABLE);
      g_atomic_int_inc (&stats.try_upgrade_refusals);
    }

  return mode;
}

/* A worker's hold, for a moment; then released, or only unreffed. */
static void
worker_hold (Actor          *actor,
             AioRwLockGuard *guard,
             AioRwLockMode   mode)
{
  Round *round = actor->round;

  CHECK (aio_rw_lock_guard_get_mode (guard) == mode);
  inside_enter (round, mode);
  g_thread_yield ();
  mode = worker_change_mode (actor, guard, mode);
  g_thread_yield ();
  inside_leave (round, mode);
  if (g_rand_boolean (actor->rand))
    aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
}

static void
worker_step (Actor *actor)
{
  Round *round = actor->round;
  int op = g_rand_int_range (actor->rand, 0, 100);

  /* Guards handed over are released first, on this thread. */
  release_inbox (round);

  if (op >= 50 && op < 60)
    {
      AioRwLockMode mode;
      AioRwLockGuard *guard = try_acquire_some (actor, &mode);

      if (guard != NULL)
        {
          g_atomic_int_inc (&stats.granted);
          worker_hold (actor, guard, mode);
        }
    }
  else if (op < 60)
    {
      AioRwLockMode mode = random_mode (actor->rand);
      static const int timeouts[] = { 0, 0, 1, 2 };
      int timeout_msec = timeouts[g_rand_int_range (actor->rand, 0, G_N_ELEMENTS (timeouts))];
      g_autoptr(GCancellable) cancellable = NULL;
      g_autoptr(GError) error = NULL;
      AioRwLockGuard *guard;
      gboolean closed_before = g_atomic_int_get (&round->close_done);
      Pending p = { 0 };

      p.actor = actor;
      p.mode = mode;
      p.timeout_msec = timeout_msec;

      /* Never wait without a deadline: checkpoints pause the holders. */
      if (g_rand_boolean (actor->rand))
        {
          cancellable = g_cancellable_new ();
          remember_cancellable (round, cancellable);
          p.cancellable = cancellable;
        }
      g_atomic_int_inc (&stats.blocking_requests);
      guard = aio_rw_lock_acquire (round->lock, mode, timeout_msec, cancellable, &error);
      CHECK ((guard == NULL) != (error == NULL));
      if (guard != NULL)
        {
          CHECK (!closed_before);
          g_atomic_int_inc (&stats.granted);
          worker_hold (actor, guard, mode);
        }
      else
        {
          check_failure (round, &p, error);
        }
    }
  else
    {
      GCancellable *victim = NULL;

      g_mutex_lock (&round->mutex);
      if (round->n_recent > 0)
        victim = round->recent[g_rand_int_range (actor->rand, 0, MIN (round->n_recent, N_RECENT_CANCELLABLES))];
      if (victim != NULL)
        g_object_ref (victim);
      g_mutex_unlock (&round->mutex);

      if (victim != NULL)
        {
          g_cancellable_cancel (victim);  /* may be done already: then harmless */
          g_atomic_int_inc (&stats.cross_thread_cancels);
          g_object_unref (victim);
        }
    }
}

/* ---- Threads ---- */

static gboolean
drain (Actor *actor)
{
  gboolean dispatched = FALSE;

  if (actor->context == NULL)
    return FALSE;
  while (g_main_context_iteration (actor->context, FALSE))
    dispatched = TRUE;
  return dispatched;
}

/* At the end of a round: give everything up. */
static void
finish (Actor *actor)
{
  for (guint i = 0; i < actor->pending->len; i++)
    {
      Pending *p = actor->pending->pdata[i];

      if (p->cancellable != NULL)
        {
          g_cancellable_cancel (p->cancellable);
          p->cancelled_here = TRUE;
        }
    }

  while (actor->guards->len > 0)
    {
      GuardRec *rec = actor->guards->pdata[0];

      if (rec->released)
        {
          /* Waits for its upgrade's callback. */
          g_main_context_iteration (actor->context, TRUE);
          continue;
        }
      release_rec (actor, rec, TRUE);
    }
}

static gpointer
actor_thread (gpointer data)
{
  Actor *actor = data;
  guint seen = 0;

  if (actor->context != NULL)
    g_main_context_push_thread_default (actor->context);

  for (;;)
    {
      Command command;

      g_mutex_lock (&coord.mutex);
      command = coord.command;
      if (command != CMD_RUN && coord.generation == seen)
        {
          /* Already obeyed: wait for the next command. */
          g_cond_wait (&coord.cond, &coord.mutex);
          g_mutex_unlock (&coord.mutex);
          continue;
        }
      seen = coord.generation;
      if (command == CMD_RUN && coord.ops_left[actor->index] <= 0)
        {
          g_mutex_unlock (&coord.mutex);
          g_usleep (100);
          continue;
        }
      if (command == CMD_RUN)
        coord.ops_left[actor->index]--;
      g_mutex_unlock (&coord.mutex);

      switch (command)
        {
        case CMD_RUN:
          if (g_atomic_int_add (&actor->round->steps, 1) == actor->round->close_at)
            close_round (actor);
          else if (actor->has_context)
            context_step (actor);
          else
            worker_step (actor);
          check_step (actor->round);
          g_atomic_int_inc (&stats.ops);
          break;
        case CMD_PAUSE:
          ack (drain (actor));
          break;
        case CMD_DRAIN:
          ack (drain (actor));
          break;
        case CMD_FINISH:
          if (actor->has_context)
            finish (actor);
          else
            release_inbox (actor->round);  /* a close_async may wait for them */
          ack (drain (actor));
          break;
        case CMD_STOP:
          if (actor->context != NULL)
            g_main_context_pop_thread_default (actor->context);
          ack (FALSE);
          return NULL;
        default:
          g_assert_not_reached ();
        }
    }
}

/* All threads paused and everything due delivered: the lock's holds and
 * queues must be exactly what the test's guards and requests say. */
static void
checkpoint (Actor *actors,
            Round *round)
{
  guint holds[3] = { 0 };
  guint readers = 0;
  guint pending_readers = 0, pending_writers = 0;
  guint drains = 0;
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();

  while (command_all (CMD_DRAIN))
    ;

  for (guint a = 0; a < N_THREADS; a++)
    {
      Actor *actor = &actors[a];

      for (guint i = 0; i < actor->guards->len; i++)
        {
          GuardRec *rec = actor->guards->pdata[i];
          AioTestModelHold members;
          AioRwLockMode mode;

          hold_members (actor, rec->hold, NULL, &members);
          mode = aio_test_model_hold_mode (&members);
          if (!rec->released && !rec->upgrading)
            CHECK (aio_rw_lock_guard_get_mode (rec->guard) == rec->mode);
          if (mode == AIO_RW_LOCK_HOLD_NONE || g_ptr_array_find (seen, rec->hold, NULL))
            continue;
          g_ptr_array_add (seen, rec->hold);
          holds[mode]++;
          readers += aio_test_model_hold_counts_in_readers (&members);
          CHECK (rec->hold->user_mode == mode);
        }
      for (guint i = 0; i < actor->pending->len; i++)
        {
          Pending *p = actor->pending->pdata[i];

          if (p->drain)
            drains++;  /* outside the queue: in no pending-* count */
          else if (p->upgrade_of != NULL || p->mode == WRITE)
            pending_writers++;
          else
            pending_readers++;
        }
    }
  for (guint i = 0; i < round->inbox->len; i++)
    {
      GuardRec *rec = round->inbox->pdata[i];

      /* A hold of this one guard. */
      holds[rec->hold->user_mode]++;
      readers += rec->hold->user_mode != WRITE;
    }

  /* DESIGN.md: readers counts the read holds, and a WRITE hold with live
   * re-entered readers as one more. */
  CHECK (aio_rw_lock_get_readers (round->lock) == readers);
  CHECK (aio_rw_lock_is_read_locked (round->lock) == (readers > 0));
  CHECK (aio_rw_lock_is_write_locked (round->lock) == (holds[WRITE] > 0));
  CHECK (holds[WRITE] <= 1 && holds[UPGRADABLE] <= 1);
  CHECK (holds[WRITE] == 0 || holds[READ] + holds[UPGRADABLE] == 0);
  CHECK (aio_rw_lock_get_pending_readers (round->lock) == pending_readers);
  CHECK (aio_rw_lock_get_pending_writers (round->lock) == pending_writers);
  for (guint m = 0; m < 3; m++)
    CHECK (inside_of (g_atomic_int_get (&round->inside), m) == holds[m]);
  /* Everything due was delivered: a close_async still waiting waits for
   * a hold. */
  if (drains > 0)
    CHECK (g_atomic_int_get (&round->close_done) && (readers > 0 || holds[WRITE] > 0));
  check_step (round);
  g_atomic_int_inc (&stats.checkpoints);
  if (g_getenv ("AIO_STRESS_DEBUG")) g_printerr ("cp: g0=%u p0=%u g1=%u p1=%u readers=%u w=%d pr=%u pw=%u drains=%u closed=%d\n", actors[0].guards->len, actors[0].pending->len, actors[1].guards->len, actors[1].pending->len, aio_rw_lock_get_readers (round->lock), aio_rw_lock_is_write_locked (round->lock), pending_readers, pending_writers, drains, round->closed);
}

static void
run_round (guint          index,
           AioRwLockPolicy policy,
           gint           ops)
{
  Round round = { 0 };
  Actor actors[N_THREADS] = { 0 };
  gint done = 0;

  round.lock = aio_rw_lock_new_with_policy (policy);
  round.inbox = g_ptr_array_new ();
  g_mutex_init (&round.mutex);
  g_object_add_weak_pointer (G_OBJECT (round.lock), (gpointer *) &round.lock);
  /* Late in the round: most of it runs open, enough of it closed. */
  round.close_at = ops - ops / 10 + g_random_int_range (0, ops / 20 + 1);

  coord.command = CMD_PAUSE;
  coord.generation = 0;

  for (guint a = 0; a < N_THREADS; a++)
    {
      actors[a].index = a;
      actors[a].has_context = a < N_CONTEXT_THREADS;
      actors[a].context = actors[a].has_context ? g_main_context_new () : NULL;
      actors[a].rand = g_rand_new_with_seed (seed ^ (index * 7919 + a * 104729));
      actors[a].round = &round;
      actors[a].guards = g_ptr_array_new ();
      actors[a].pending = g_ptr_array_new_with_free_func (pending_free);
      actors[a].thread = g_thread_new ("stress", actor_thread, &actors[a]);
    }

  /* Run in slices; pause at each checkpoint. */
  while (done < ops)
    {
      gint slice = MIN (CHECKPOINT_EVERY, ops - done);

      g_mutex_lock (&coord.mutex);
      /* Workers' blocking requests are slow: they get a tenth each. */
      for (guint a = 0; a < N_THREADS; a++)
        coord.ops_left[a] = a < N_CONTEXT_THREADS ? slice * 2 / 5 : slice / 10;
      coord.command = CMD_RUN;
      coord.generation++;
      g_cond_broadcast (&coord.cond);
      g_mutex_unlock (&coord.mutex);

      /* Wait until the slice is used up, then pause everyone. */
      for (;;)
        {
          gint left;

          g_mutex_lock (&coord.mutex);
          left = 0;
          for (guint a = 0; a < N_THREADS; a++)
            left += coord.ops_left[a];
          g_mutex_unlock (&coord.mutex);
          if (left <= 0)
            break;
          g_usleep (200);
        }
      command_all (CMD_PAUSE);
      done += slice;
      checkpoint (actors, &round);
    }
  CHECK (g_atomic_int_get (&round.close_done));  /* by one of the threads */

  /* Give everything up; the lock must end free and be finalized. (Giving
   * up a hold may let in a queued request: repeat until nothing is left.) */
  for (gboolean left = TRUE; left;)
    {
      command_all (CMD_FINISH);
      while (command_all (CMD_DRAIN))
        ;
      left = FALSE;
      for (guint a = 0; a < N_THREADS; a++)
        left |= actors[a].guards->len > 0 || actors[a].pending->len > 0;
    }
  while (round.inbox->len > 0)
    {
      GuardRec *rec = g_ptr_array_steal_index (round.inbox, 0);

      inside_leave (&round, rec->hold->user_mode);
      aio_rw_lock_guard_unref (rec->guard);
      g_free (rec->hold);
      g_free (rec);
    }
  checkpoint (actors, &round);
  for (guint a = 0; a < N_THREADS; a++)
    {
      CHECK (actors[a].guards->len == 0);
      CHECK (actors[a].pending->len == 0);  /* every request completed */
    }
  CHECK (aio_rw_lock_get_readers (round.lock) == 0);
  CHECK (!aio_rw_lock_is_write_locked (round.lock));

  command_all (CMD_STOP);
  for (guint a = 0; a < N_THREADS; a++)
    {
      g_thread_join (actors[a].thread);
      g_ptr_array_unref (actors[a].guards);
      g_ptr_array_unref (actors[a].pending);
      g_rand_free (actors[a].rand);
      if (actors[a].context != NULL)
        {
          /* Deadlines of completed requests may still be attached. */
          while (g_main_context_iteration (actors[a].context, FALSE))
            ;
          g_main_context_unref (actors[a].context);
        }
    }
  for (guint i = 0; i < N_RECENT_CANCELLABLES; i++)
    g_clear_object (&round.recent[i]);
  g_ptr_array_unref (round.inbox);
  g_mutex_clear (&round.mutex);

  g_object_unref (round.lock);
  CHECK (round.lock == NULL);  /* no guard or waiter kept it alive */
}

static void
test_stress (void)
{
  const char *env_ops = g_getenv ("AIO_STRESS_OPS");
  gint ops = env_ops != NULL ? atoi (env_ops) : 100000;
  /* Each round closes its lock once: more rounds, more closes racing with
   * the other threads' calls. A multiple of 3, for the policies. */
  guint n_rounds = MAX (N_ROUNDS, (ops / ROUND_OPS + 2) / 3 * 3);
  gint64 start = g_get_monotonic_time ();

  g_mutex_init (&coord.mutex);
  g_cond_init (&coord.cond);

  for (guint r = 0; r < n_rounds; r++)
    run_round (r, r % 3, ops / n_rounds);

  g_test_message ("stress: seed %u, %d threads (%d main contexts), %u rounds, %.1f s",
                  seed, N_THREADS, N_CONTEXT_THREADS, n_rounds,
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
  g_test_message ("stress: %d operations, %d step checks, %d checkpoints, 0 violations",
                  stats.ops, stats.checks, stats.checkpoints);
  g_test_message ("stress: %d async and %d blocking requests, %d granted, %d cancelled "
                  "(%d cross-thread cancel calls), %d timed out, %d closed",
                  stats.async_requests, stats.blocking_requests, stats.granted,
                  stats.cancelled, stats.cross_thread_cancels, stats.timed_out, stats.closed);
  g_test_message ("stress: %d upgrades, %d re-entries, %d downgrades, %d cross-thread releases",
                  stats.upgrades, stats.reentries, stats.downgrades, stats.cross_thread_releases);
  g_test_message ("stress: 1.1: try_acquire refused %d would-block, %d closed; try_upgrade %d ok, "
                  "%d refused; %d upgrade deadlines passed; downgrade_to %d ok, %d refused",
                  stats.try_would_block, stats.try_closed, stats.try_upgrades,
                  stats.try_upgrade_refusals, stats.upgrade_timeouts, stats.downgrades_to,
                  stats.downgrade_to_refusals);
  g_test_message ("stress: 1.1: closed by %d close_async and %d close; %d close_async waits "
                  "completed, %d cancelled",
                  stats.closes_async, stats.closes_blocking, stats.drains, stats.drains_cancelled);

  g_assert_cmpint (stats.ops, >=, ops - ops / 100);
  g_assert_cmpint (stats.cancelled, >, 0);
  g_assert_cmpint (stats.timed_out, >, 0);
  g_assert_cmpint (stats.closed, >, 0);
  g_assert_cmpint (stats.upgrades, >, 0);
  g_assert_cmpint (stats.closes_async + stats.closes_blocking, ==, n_rounds);
  g_assert_cmpint (stats.try_would_block, >, 0);
  g_assert_cmpint (stats.try_upgrades, >, 0);
  g_assert_cmpint (stats.downgrades_to, >, 0);
  g_assert_cmpint (stats.downgrade_to_refusals, >, 0);
  g_assert_cmpint (stats.drains, >, 0);
}

int
main (int   argc,
      char *argv[])
{
  const char *env_seed = g_getenv ("AIO_STRESS_SEED");

  g_test_init (&argc, &argv, NULL);

  seed = env_seed != NULL ? (guint32) strtoul (env_seed, NULL, 10) : (guint32) g_get_real_time ();
  g_random_set_seed (seed);
  g_test_message ("stress: AIO_STRESS_SEED=%u", seed);

  g_test_add_func ("/Aio/RwLock/stress", test_stress);

  return g_test_run ();
}
