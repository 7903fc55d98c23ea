/* test-rw-lock-stress.c: a seeded, model-checked stress test (suite "slow")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two threads, each with its own main context, make random async requests
 * (read, write, upgradable, with and without cancellables and deadlines),
 * try-locks, releases, re-entries, downgrades and upgrades; two worker
 * threads make blocking requests, cancel the others' requests and release
 * guards handed to them. After every step the lock's state is checked under
 * its own mutex against the tests' reference model (aio-test-model.h); at
 * checkpoints every thread pauses, everything due is delivered, and the
 * holds and queues are compared with the guards and requests the test
 * knows of. The lock is closed during each round; at the end of a round
 * every hold must be gone and the lock finalized.
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
#define N_ROUNDS 6

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
  gboolean        released;   /* released while upgrading: freed by the callback */
} GuardRec;

typedef struct _Actor Actor;

typedef struct
{
  Actor         *actor;
  AioRwLockMode  mode;
  GuardRec      *upgrade_of;   /* an upgrade, or NULL */
  GCancellable  *cancellable;
  int            timeout_msec;
  gint           completions;
  gboolean       cancelled_here;  /* by its own thread, before its callback */
} Pending;

typedef struct
{
  AioRwLock    *lock;
  gboolean      closed;        /* close() was called: CLOSED may come */
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

  /* What the test saw: never a writer with anyone else. */
  inside = g_atomic_int_get (&round->inside);
  CHECK (inside_of (inside, WRITE) <= 1);
  if (inside_of (inside, WRITE) > 0)
    CHECK (inside_of (inside, READ) == 0 && inside_of (inside, UPGRADABLE) == 0);
  CHECK (inside_of (inside, UPGRADABLE) <= 1);

  g_atomic_int_inc (&stats.checks);
}

/* ---- User-visible hold accounting ---- */


static void
inside_enter (Round         *round,
              AioRwLockMode  mode)
{
  g_atomic_int_add (&round->inside, 1 << (mode * INSIDE_BITS));
  check_step (round);
}

static void
inside_leave (Round         *round,
              AioRwLockMode  mode)
{
  CHECK (inside_of (g_atomic_int_add (&round->inside, -(1 << (mode * INSIDE_BITS))), mode) > 0);
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

/* After a release or mode change: the hold shows its new mode. */
static void
hold_settle (Actor *actor,
             Hold  *hold)
{
  AioRwLockMode mode = hold_mode_of (actor, hold, NULL);

  if (mode == hold->user_mode || mode == AIO_RW_LOCK_HOLD_NONE)
    return;
  if (hold->user_mode != AIO_RW_LOCK_HOLD_NONE)
    inside_leave (actor->round, hold->user_mode);
  hold->user_mode = mode;
  inside_enter (actor->round, mode);
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
  ok = aio_rw_lock_guard_upgrade_finish (rec->guard, result, &error);
  CHECK (ok == (error == NULL));
  CHECK (!(ok && p->cancelled_here));
  rec->upgrading = FALSE;
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

      if (!rec->released && fits (actor, rec))
        return rec;
    }
  return NULL;
}

static gboolean
fits_any (Actor *actor, GuardRec *rec)
{
  return TRUE;
}

static gboolean
fits_downgrade (Actor *actor, GuardRec *rec)
{
  return !rec->upgrading && rec->mode != READ;
}

static gboolean
fits_upgrade (Actor *actor, GuardRec *rec)
{
  return rec->mode == UPGRADABLE && !rec->hold->upgrading;
}

static gboolean
fits_handoff (Actor *actor, GuardRec *rec)
{
  return !rec->upgrading && rec->hold->n_guards == 1;
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

typedef enum
{
  OP_ACQUIRE, OP_TRY, OP_RELEASE, OP_REENTER, OP_DOWNGRADE, OP_UPGRADE,
  OP_CANCEL, OP_HANDOFF, OP_DISPATCH, N_OPS
} ContextOp;

/* One random step of a thread that has a main context, chosen among the
 * operations that apply now. */
static void
context_step (Actor *actor)
{
  static const guint weight[N_OPS] = { 20, 5, 30, 5, 4, 10, 5, 3, 18 };
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
        gboolean write = g_rand_boolean (actor->rand);
        AioRwLockGuard *guard = write ? aio_rw_lock_try_acquire_write (lock)
                                      : aio_rw_lock_try_acquire_read (lock);

        if (guard != NULL)
          guard_rec_new (actor, guard, NULL, write ? WRITE : READ);
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
      /* The visible mode first drops, then settles at the weaker one. */
      inside_leave (round, rec->hold->user_mode);
      rec->hold->user_mode = AIO_RW_LOCK_HOLD_NONE;
      aio_rw_lock_guard_downgrade (rec->guard);
      rec->mode = READ;
      CHECK (aio_rw_lock_guard_get_mode (rec->guard) == READ);
      hold_settle (actor, rec->hold);
      g_atomic_int_inc (&stats.downgrades);
      break;

    case OP_UPGRADE:
      p = pending_new (actor, WRITE, -1);
      p->upgrade_of = rec;
      rec->upgrading = TRUE;
      rec->hold->upgrading = TRUE;
      aio_rw_lock_guard_upgrade_async (rec->guard, p->cancellable, on_upgraded, p);
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

static void
worker_step (Actor *actor)
{
  Round *round = actor->round;
  int op = g_rand_int_range (actor->rand, 0, 100);

  /* Guards handed over are released first, on this thread. */
  release_inbox (round);

  if (op < 60)
    {
      AioRwLockMode mode = random_mode (actor->rand);
      static const int timeouts[] = { 0, 0, 1, 2 };
      int timeout_msec = timeouts[g_rand_int_range (actor->rand, 0, G_N_ELEMENTS (timeouts))];
      g_autoptr(GCancellable) cancellable = NULL;
      g_autoptr(GError) error = NULL;
      AioRwLockGuard *guard;
      Pending p = { actor, mode, NULL, NULL, timeout_msec, 0 };

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
          CHECK (aio_rw_lock_guard_get_mode (guard) == mode);
          g_atomic_int_inc (&stats.granted);
          inside_enter (round, mode);
          g_thread_yield ();
          inside_leave (round, mode);
          if (g_rand_boolean (actor->rand))
            aio_rw_lock_guard_release (guard);
          aio_rw_lock_guard_unref (guard);
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
          if (actor->has_context)
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

          if (p->upgrade_of != NULL || p->mode == WRITE)
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
  check_step (round);
  g_atomic_int_inc (&stats.checkpoints);
  if (g_getenv ("AIO_STRESS_DEBUG")) g_printerr ("cp: g0=%u p0=%u g1=%u p1=%u readers=%u w=%d pr=%u pw=%u closed=%d\n", actors[0].guards->len, actors[0].pending->len, actors[1].guards->len, actors[1].pending->len, aio_rw_lock_get_readers (round->lock), aio_rw_lock_is_write_locked (round->lock), pending_readers, pending_writers, round->closed);
}

static void
run_round (guint          index,
           AioRwLockPolicy policy,
           gint           ops)
{
  Round round = { 0 };
  Actor actors[N_THREADS] = { 0 };
  gint closing_at = ops - ops / 10 + g_random_int_range (0, ops / 20 + 1);
  gint done = 0;

  round.lock = aio_rw_lock_new_with_policy (policy);
  round.inbox = g_ptr_array_new ();
  g_mutex_init (&round.mutex);
  g_object_add_weak_pointer (G_OBJECT (round.lock), (gpointer *) &round.lock);

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

  /* Run in slices; pause at each checkpoint; close the lock half-way. */
  while (done < ops)
    {
      gint slice = MIN (CHECKPOINT_EVERY, ops - done);

      if (done <= closing_at && closing_at < done + slice)
        slice = MAX (10, closing_at - done);

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

      if (done >= closing_at && !round.closed)
        {
          g_atomic_int_set (&round.closed, TRUE);
          aio_rw_lock_close (round.lock);
          checkpoint (actors, &round);
        }
    }

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
  gint64 start = g_get_monotonic_time ();

  g_mutex_init (&coord.mutex);
  g_cond_init (&coord.cond);

  for (guint r = 0; r < N_ROUNDS; r++)
    run_round (r, r % 3, ops / N_ROUNDS);

  g_test_message ("stress: seed %u, %d threads (%d main contexts), %.1f s",
                  seed, N_THREADS, N_CONTEXT_THREADS,
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
  g_test_message ("stress: %d operations, %d step checks, %d checkpoints, 0 violations",
                  stats.ops, stats.checks, stats.checkpoints);
  g_test_message ("stress: %d async and %d blocking requests, %d granted, %d cancelled "
                  "(%d cross-thread cancel calls), %d timed out, %d closed",
                  stats.async_requests, stats.blocking_requests, stats.granted,
                  stats.cancelled, stats.cross_thread_cancels, stats.timed_out, stats.closed);
  g_test_message ("stress: %d upgrades, %d re-entries, %d downgrades, %d cross-thread releases",
                  stats.upgrades, stats.reentries, stats.downgrades, stats.cross_thread_releases);

  g_assert_cmpint (stats.ops, >=, ops - ops / 100);
  g_assert_cmpint (stats.cancelled, >, 0);
  g_assert_cmpint (stats.timed_out, >, 0);
  g_assert_cmpint (stats.closed, >, 0);
  g_assert_cmpint (stats.upgrades, >, 0);
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
