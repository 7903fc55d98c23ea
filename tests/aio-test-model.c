/* aio-test-model.c: the tests' one reference model of DESIGN.md's rules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "aio-test-model.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ
#define NONE AIO_TEST_MODEL_HOLD_NONE

#define TRACE(model, ...) \
  G_STMT_START { if (G_UNLIKELY ((model)->trace)) g_printerr (__VA_ARGS__); } G_STMT_END

/* For traces: "READ", "WRITE", "UPGRADABLE_READ" or "NONE". */
const char *
aio_test_model_mode_name (AioRwLockMode mode)
{
  switch ((int) mode)
    {
    case READ: return "READ";
    case WRITE: return "WRITE";
    case UPGRADABLE: return "UPGRADABLE_READ";
    default: return "NONE";
    }
}

/* ---- The policy ---- */

/* Who waits, in some part of the queue. */
typedef struct
{
  gboolean anyone;
  gboolean reader;      /* READ or UPGRADABLE_READ */
  gboolean writer;
  gboolean upgradable;
} Waiting;

static void
waiting_add (Waiting       *waiting,
             AioRwLockMode  mode)
{
  waiting->anyone = TRUE;
  waiting->reader = waiting->reader || mode != WRITE;
  waiting->writer = waiting->writer || mode == WRITE;
  waiting->upgradable = waiting->upgradable || mode == UPGRADABLE;
}

static void
waiting_init (Waiting                 *waiting,
              const AioTestModelState *state)
{
  memset (waiting, 0, sizeof *waiting);
  for (guint i = 0; i < state->n_queued; i++)
    waiting_add (waiting, state->queue[i]);
}

/* DESIGN.md: READ goes with READ and one UPGRADABLE_READ; UPGRADABLE_READ
 * with READ only; WRITE with nothing. */
gboolean
aio_test_model_compatible (const AioTestModelState *state,
                           AioRwLockMode            mode)
{
  switch ((int) mode)
    {
    case READ:
      return !state->writer;
    case UPGRADABLE:
      return !state->writer && !state->upgradable;
    case WRITE:
      return !state->writer && !state->upgradable && state->n_read == 0;
    default:
      g_assert_not_reached ();
    }
}

/* Whether a request for @mode may enter, with @ahead waiting before it and
 * @all waiting in the whole queue. DESIGN.md, "Semantics"; a pending
 * upgrade goes before everybody, except readers under PREFER_READERS
 * ("it waits until the other readers leave, ahead of new writers"). */
static gboolean
may_enter (const AioTestModelState *state,
           AioRwLockMode            mode,
           const Waiting           *ahead,
           const Waiting           *all)
{
  if (!aio_test_model_compatible (state, mode))
    return FALSE;

  if (state->upgrade_pending && state->policy != AIO_RW_LOCK_POLICY_PREFER_READERS)
    return FALSE;

  switch (state->policy)
    {
    case AIO_RW_LOCK_POLICY_FAIR:
      /* No barging: only the head of the queue. */
      return !ahead->anyone;

    case AIO_RW_LOCK_POLICY_PREFER_WRITERS:
      /* Writers in order; a reader waits while any writer waits; only the
       * first UPGRADABLE_READ can enter. */
      if (mode == WRITE)
        return !ahead->writer;
      if (all->writer)
        return FALSE;
      return mode == READ || !ahead->upgradable;

    case AIO_RW_LOCK_POLICY_PREFER_READERS:
      /* A reader enters whenever no writer holds; a writer waits until no
       * reader holds or waits. */
      if (mode == READ)
        return TRUE;
      if (mode == UPGRADABLE)
        return !ahead->upgradable;
      return !ahead->writer && !all->reader;

    default:
      g_assert_not_reached ();
    }
}

/* Whether a new request for @mode is granted at once: the rule of a queued
 * request with everything queued ahead of it. */
gboolean
aio_test_model_admits (const AioTestModelState *state,
                       AioRwLockMode            mode)
{
  Waiting all;

  if (state->closed)
    return FALSE;

  waiting_init (&all, state);
  return may_enter (state, mode, &all, &all);
}

/* Which waiting request may enter now: the pending upgrade once no other
 * reader holds; else the first, in arrival order, that the policy lets
 * in (its index in state->queue); else AIO_TEST_MODEL_NEXT_NONE. A closed
 * lock lets nobody in (and has nobody waiting). */
int
aio_test_model_next (const AioTestModelState *state)
{
  Waiting ahead = { 0 };
  Waiting all;

  g_assert_true (!state->upgrade_pending || state->upgradable);

  if (state->closed)
    return AIO_TEST_MODEL_NEXT_NONE;

  if (state->upgrade_pending && state->n_read == 0)
    return AIO_TEST_MODEL_NEXT_UPGRADE;

  waiting_init (&all, state);
  for (guint i = 0; i < state->n_queued; i++)
    {
      if (may_enter (state, state->queue[i], &ahead, &all))
        return (int) i;
      waiting_add (&ahead, state->queue[i]);
    }

  return AIO_TEST_MODEL_NEXT_NONE;
}

/* ---- Holds ---- */

AioRwLockMode
aio_test_model_hold_mode (const AioTestModelHold *hold)
{
  if (hold->n[WRITE] > 0)
    return WRITE;
  if (hold->n[UPGRADABLE] > 0)
    return UPGRADABLE;
  if (hold->n[READ] > 0)
    return READ;
  return NONE;
}

/* DESIGN.md, properties: a READ or UPGRADABLE_READ hold is a read hold; so
 * is a WRITE hold with at least one live READ or UPGRADABLE_READ guard
 * re-entered from it (guards of one hold count once). */
gboolean
aio_test_model_hold_counts_in_readers (const AioTestModelHold *hold)
{
  return hold->n[READ] > 0 || hold->n[UPGRADABLE] > 0;
}

static guint
strength (AioRwLockMode mode)
{
  switch ((int) mode)
    {
    case READ: return 1;
    case UPGRADABLE: return 2;
    case WRITE: return 3;
    default: g_assert_not_reached ();
    }
}

/* ---- The lock ---- */

struct _AioTestModel
{
  AioRwLockPolicy      policy;
  gboolean             closed;
  gboolean             trace;
  GPtrArray           *holds;     /* of AioTestModelHold, owned */
  GPtrArray           *live;      /* of AioTestModelHold: those that may have members */
  GPtrArray           *guards;    /* of AioTestModelGuard, owned, creation order */
  GPtrArray           *requests;  /* of AioTestModelRequest, owned, creation order */
  GPtrArray           *queue;     /* of AioTestModelRequest: waiting acquisitions, arrival order */
  AioTestModelRequest *upgrade;   /* the waiting upgrade */
  GPtrArray           *drains;    /* of AioTestModelRequest: waiting close_async calls */
  GArray              *modes;     /* of AioRwLockMode: the queue's, for get_state () */
};

typedef struct
{
  guint read;                /* holds in READ mode */
  guint upgradable;          /* holds in UPGRADABLE_READ mode */
  guint write;               /* holds in WRITE mode */
  guint write_with_readers;  /* of those, with re-entered readers */
} Counts;

static void
count_holds (AioTestModel *model,
             Counts       *counts)
{
  memset (counts, 0, sizeof *counts);

  for (guint i = 0; i < model->live->len; )
    {
      AioTestModelHold *hold = g_ptr_array_index (model->live, i);

      switch ((int) aio_test_model_hold_mode (hold))
        {
        case READ:
          counts->read++;
          break;
        case UPGRADABLE:
          counts->upgradable++;
          break;
        case WRITE:
          counts->write++;
          counts->write_with_readers += aio_test_model_hold_counts_in_readers (hold);
          break;
        default:
          /* A hold that ended never has members again. */
          g_ptr_array_remove_index_fast (model->live, i);
          continue;
        }
      i++;
    }
}

/* Whether any hold exists: a guard's, or a grant not delivered yet. */
static gboolean
has_holds (AioTestModel *model)
{
  Counts counts;

  count_holds (model, &counts);
  return counts.read + counts.upgradable + counts.write > 0;
}

AioTestModel *
aio_test_model_new (AioRwLockPolicy policy)
{
  AioTestModel *model = g_new0 (AioTestModel, 1);

  g_assert_true (policy <= AIO_RW_LOCK_POLICY_PREFER_READERS);

  model->policy = policy;
  model->holds = g_ptr_array_new_with_free_func (g_free);
  model->live = g_ptr_array_new ();
  model->guards = g_ptr_array_new_with_free_func (g_free);
  model->requests = g_ptr_array_new_with_free_func (g_free);
  model->queue = g_ptr_array_new ();
  model->drains = g_ptr_array_new ();
  model->modes = g_array_new (FALSE, FALSE, sizeof (AioRwLockMode));
  return model;
}

void
aio_test_model_free (AioTestModel *model)
{
  g_array_unref (model->modes);
  g_ptr_array_unref (model->drains);
  g_ptr_array_unref (model->queue);
  g_ptr_array_unref (model->requests);
  g_ptr_array_unref (model->guards);
  g_ptr_array_unref (model->live);
  g_ptr_array_unref (model->holds);
  g_free (model);
}

/* Prints the model's decisions (grants, cancellations) to stderr. */
void
aio_test_model_set_trace (AioTestModel *model,
                          gboolean      trace)
{
  model->trace = trace;
}

AioRwLockPolicy
aio_test_model_get_policy (AioTestModel *model)
{
  return model->policy;
}

/* The state as the policy sees it. state->queue points into @model and is
 * valid until its next change. */
void
aio_test_model_get_state (AioTestModel      *model,
                          AioTestModelState *state)
{
  Counts counts;

  count_holds (model, &counts);

  g_array_set_size (model->modes, 0);
  for (guint i = 0; i < model->queue->len; i++)
    {
      AioTestModelRequest *r = g_ptr_array_index (model->queue, i);

      g_array_append_val (model->modes, r->mode);
    }

  state->policy = model->policy;
  state->n_read = counts.read;
  state->upgradable = counts.upgradable > 0;
  state->writer = counts.write > 0;
  state->upgrade_pending = model->upgrade != NULL;
  state->closed = model->closed;
  state->queue = (const AioRwLockMode *) (gpointer) model->modes->data;
  state->n_queued = model->modes->len;
}

void
aio_test_model_snapshot (AioTestModel         *model,
                         AioTestModelSnapshot *snapshot)
{
  Counts counts;

  count_holds (model, &counts);

  memset (snapshot, 0, sizeof *snapshot);
  snapshot->readers = counts.read + counts.upgradable + counts.write_with_readers;
  snapshot->read_locked = snapshot->readers > 0;
  snapshot->write_locked = counts.write > 0;
  for (guint i = 0; i < model->queue->len; i++)
    {
      AioTestModelRequest *r = g_ptr_array_index (model->queue, i);

      if (r->mode == WRITE)
        snapshot->pending_writers++;
      else
        snapshot->pending_readers++;
    }
  snapshot->pending_writers += model->upgrade != NULL;
  snapshot->closed = model->closed;
  snapshot->read_holds = counts.read;
  snapshot->upgradable_holds = counts.upgradable;
  snapshot->write_holds = counts.write;
  snapshot->upgrade_pending = model->upgrade != NULL;
  snapshot->drains = model->drains->len;
}

static AioTestModelHold *
hold_new (AioTestModel  *model,
          AioRwLockMode  mode)
{
  AioTestModelHold *hold = g_new0 (AioTestModelHold, 1);

  hold->n[mode] = 1;
  g_ptr_array_add (model->holds, hold);
  g_ptr_array_add (model->live, hold);
  return hold;
}

/* A guard for a member of @hold already counted in it. */
static AioTestModelGuard *
guard_new (AioTestModel     *model,
           AioTestModelHold *hold,
           AioRwLockMode     mode)
{
  AioTestModelGuard *guard = g_new0 (AioTestModelGuard, 1);

  g_assert_cmpuint (hold->n[mode], >, 0);
  guard->id = model->guards->len;
  guard->hold = hold;
  guard->mode = mode;
  g_ptr_array_add (model->guards, guard);
  return guard;
}

/* A guard changes mode (NONE: it is released); its hold follows. */
static void
guard_set_mode (AioTestModelGuard *guard,
                AioRwLockMode      mode)
{
  g_assert_false (guard->released);
  g_assert_cmpuint (guard->hold->n[guard->mode], >, 0);

  guard->hold->n[guard->mode]--;
  if (mode == NONE)
    {
      guard->released = TRUE;
    }
  else
    {
      guard->hold->n[mode]++;
      guard->mode = mode;
    }
}

/* The mode the guard shows (get_mode, and what reenter goes by): a granted
 * upgrade shows once delivered. */
AioRwLockMode
aio_test_model_guard_get_mode (const AioTestModelGuard *guard)
{
  if (guard->upgrade != NULL && guard->upgrade->changed_mode)
    return UPGRADABLE;
  return guard->mode;
}

static AioTestModelRequest *
request_new (AioTestModel      *model,
             AioRwLockMode      mode,
             AioTestModelGuard *guard)
{
  AioTestModelRequest *r = g_new0 (AioTestModelRequest, 1);

  r->id = model->requests->len;
  r->mode = mode;
  r->guard = guard;
  r->status = AIO_TEST_MODEL_QUEUED;
  g_ptr_array_add (model->requests, r);
  return r;
}

static void
request_fail (AioTestModelRequest *r,
              GQuark               domain,
              int                  code)
{
  r->status = AIO_TEST_MODEL_FAILED;
  r->domain = domain;
  r->code = code;
}

static void
grant (AioTestModel        *model,
       AioTestModelRequest *r)
{
  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_QUEUED);

  if (r->guard != NULL)
    {
      g_assert_true (model->upgrade == r && r->guard->upgrade == r);
      g_assert_true (!r->guard->released && r->guard->mode == UPGRADABLE);
      model->upgrade = NULL;
      guard_set_mode (r->guard, WRITE);
      r->changed_mode = TRUE;
    }
  else
    {
      r->hold = hold_new (model, r->mode);
    }
  r->status = AIO_TEST_MODEL_GRANTED;
  TRACE (model, "    grant #%u %s\n", r->id,
         r->guard != NULL ? "upgrade" : aio_test_model_mode_name (r->mode));
}

static void request_grant_drains (AioTestModel *model);

/* Grants whatever may enter now, one at a time, as the policy says; then,
 * if no hold is left, every close_async wait. Every change that can end a
 * hold ends here. */
static void
serve (AioTestModel *model)
{
  for (;;)
    {
      AioTestModelState state;
      int next;

      aio_test_model_get_state (model, &state);
      next = aio_test_model_next (&state);

      if (next == AIO_TEST_MODEL_NEXT_NONE)
        break;
      if (next == AIO_TEST_MODEL_NEXT_UPGRADE)
        grant (model, model->upgrade);
      else
        grant (model, g_ptr_array_steal_index (model->queue, next));
    }

  if (model->drains->len > 0 && !has_holds (model))
    request_grant_drains (model);
}

/* DESIGN.md, 1.1: close_async "completes when the last hold has ended". */
static void
request_grant_drains (AioTestModel *model)
{
  for (guint i = 0; i < model->drains->len; i++)
    {
      AioTestModelRequest *r = g_ptr_array_index (model->drains, i);

      g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_QUEUED);
      r->status = AIO_TEST_MODEL_GRANTED;
      TRACE (model, "    grant #%u close_async\n", r->id);
    }
  g_ptr_array_set_size (model->drains, 0);
}

/* After a change that serves nobody: nobody who may enter is left
 * waiting, and no close_async waits while nothing is held. */
static void
assert_settled (AioTestModel *model)
{
  AioTestModelState state;

  aio_test_model_get_state (model, &state);
  g_assert_cmpint (aio_test_model_next (&state), ==, AIO_TEST_MODEL_NEXT_NONE);
  g_assert_true (model->drains->len == 0 || has_holds (model));
}

typedef enum { DECIDE_GRANT, DECIDE_QUEUE, DECIDE_FAIL } Decision;

/* A new acquisition: already cancelled, closed, admitted, refused (a
 * timeout of 0) or queued. */
static Decision
decide (AioTestModel  *model,
        AioRwLockMode  mode,
        int            timeout_msec,
        gboolean       cancelled,
        GQuark        *domain,
        int           *code)
{
  AioTestModelState state;

  aio_test_model_get_state (model, &state);

  if (cancelled)
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_CANCELLED;
      return DECIDE_FAIL;
    }
  if (model->closed)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_CLOSED;
      return DECIDE_FAIL;
    }
  if (aio_test_model_admits (&state, mode))
    return DECIDE_GRANT;
  if (timeout_msec == 0)
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_TIMED_OUT;
      return DECIDE_FAIL;
    }
  return DECIDE_QUEUE;
}

/**
 * aio_test_model_acquire:
 *
 * An async acquisition (acquire_async, acquire_read_async,
 * acquire_write_async: the latter two with a timeout of -1). A positive
 * timeout waits like -1 until aio_test_model_expire ().
 */
AioTestModelRequest *
aio_test_model_acquire (AioTestModel  *model,
                        AioRwLockMode  mode,
                        int            timeout_msec,
                        gboolean       cancelled)
{
  AioTestModelRequest *r = request_new (model, mode, NULL);
  GQuark domain = 0;
  int code = 0;

  switch (decide (model, mode, timeout_msec, cancelled, &domain, &code))
    {
    case DECIDE_GRANT:
      grant (model, r);
      break;
    case DECIDE_QUEUE:
      g_ptr_array_add (model->queue, r);
      break;
    case DECIDE_FAIL:
    default:
      request_fail (r, domain, code);
      break;
    }

  assert_settled (model);
  return r;
}

AioTestModelGuard *
aio_test_model_acquire_now (AioTestModel  *model,
                            AioRwLockMode  mode,
                            gboolean       cancelled,
                            GQuark        *domain,
                            int           *code)
{
  GQuark d = 0;
  int c = 0;

  if (decide (model, mode, 0, cancelled, &d, &c) != DECIDE_GRANT)
    {
      if (domain != NULL)
        *domain = d;
      if (code != NULL)
        *code = c;
      return NULL;
    }

  return guard_new (model, hold_new (model, mode), mode);
}

/* try_acquire_read / try_acquire_write: NULL if it would wait or the lock
 * is closed. */
AioTestModelGuard *
aio_test_model_try_acquire (AioTestModel  *model,
                            AioRwLockMode  mode)
{
  return aio_test_model_try_acquire_full (model, mode, NULL, NULL);
}

/* The G_IO_ERROR_TIMED_OUT of a timeout of 0, as the try_ forms say it:
 * DESIGN.md, 1.1: "G_IO_ERROR_WOULD_BLOCK when it would have to wait (a
 * timeout_msec of 0 on the async forms reports the same situation as
 * G_IO_ERROR_TIMED_OUT)". */
static void
not_at_once_would_block (GQuark  domain,
                         int    *code)
{
  if (domain == G_IO_ERROR && *code == G_IO_ERROR_TIMED_OUT)
    *code = G_IO_ERROR_WOULD_BLOCK;
}

/* try_acquire (mode, error): the guard, or NULL with G_IO_ERROR_WOULD_BLOCK
 * if it would have to wait, AIO_RW_LOCK_ERROR_CLOSED on a closed lock. */
AioTestModelGuard *
aio_test_model_try_acquire_full (AioTestModel  *model,
                                 AioRwLockMode  mode,
                                 GQuark        *domain,
                                 int           *code)
{
  GQuark d = 0;
  int c = 0;
  AioTestModelGuard *guard = aio_test_model_acquire_now (model, mode, FALSE, &d, &c);

  not_at_once_would_block (d, &c);
  if (domain != NULL)
    *domain = d;
  if (code != NULL)
    *code = c;
  return guard;
}

/* Why an upgrade of @guard is refused before it is pending on the guard;
 * FALSE if it is not refused. */
static gboolean
upgrade_refused (AioTestModel      *model,
                 AioTestModelGuard *guard,
                 gboolean           cancelled,
                 GQuark            *domain,
                 int               *code)
{
  if (cancelled)
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_CANCELLED;
    }
  else if (guard->released)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_NOT_HELD;
    }
  else if (guard->mode == READ)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_WOULD_DEADLOCK;
    }
  else if (guard->upgrade != NULL || model->upgrade != NULL)
    {
      /* This guard's upgrade is not delivered yet, or another guard of the
       * hold waits to upgrade it. */
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_PENDING;
    }
  else
    {
      return FALSE;
    }
  return TRUE;
}

/* An upgrade of @guard that was not refused: granted at once if the hold is
 * exclusive already (closed or not) or, on an open lock, if the policy
 * lets the upgrade in now (no other reader holds); else it waits, or fails
 * with G_IO_ERROR_TIMED_OUT for a timeout of 0. */
static Decision
upgrade_decide (AioTestModel      *model,
                AioTestModelGuard *guard,
                int                timeout_msec,
                GQuark            *domain,
                int               *code)
{
  AioTestModelState state;

  if (aio_test_model_hold_mode (guard->hold) == WRITE)
    return DECIDE_GRANT;

  if (model->closed)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_CLOSED;
      return DECIDE_FAIL;
    }

  /* Were it waiting, would it go now? */
  g_assert_true (guard->mode == UPGRADABLE &&
                 aio_test_model_hold_mode (guard->hold) == UPGRADABLE);
  aio_test_model_get_state (model, &state);
  state.upgrade_pending = TRUE;
  if (aio_test_model_next (&state) == AIO_TEST_MODEL_NEXT_UPGRADE)
    return DECIDE_GRANT;

  if (timeout_msec == 0)
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_TIMED_OUT;
      return DECIDE_FAIL;
    }
  return DECIDE_QUEUE;
}

/* A granted upgrade: the lock counts the hold as WRITE from now on. Returns
 * whether the guard's mode changed (a WRITE guard's does not). */
static gboolean
upgrade_guard (AioTestModelGuard *guard)
{
  if (guard->mode != UPGRADABLE)
    return FALSE;
  guard_set_mode (guard, WRITE);
  return TRUE;
}

/**
 * aio_test_model_upgrade:
 *
 * An upgrade of @guard (upgrade_async). It is pending on the guard from
 * here (unless refused at once) until it is delivered: meanwhile another
 * upgrade of the guard fails with G_IO_ERROR_PENDING, and the guard shows
 * UPGRADABLE_READ even once granted, while the lock already counts the hold
 * as WRITE.
 */
AioTestModelRequest *
aio_test_model_upgrade (AioTestModel      *model,
                        AioTestModelGuard *guard,
                        gboolean           cancelled)
{
  return aio_test_model_upgrade_full (model, guard, -1, cancelled);
}

/**
 * aio_test_model_upgrade_full:
 *
 * An upgrade with a deadline (upgrade_full_async): as
 * aio_test_model_upgrade (), but a timeout of 0 fails with
 * G_IO_ERROR_TIMED_OUT unless it is granted at once, and a positive one
 * waits until aio_test_model_expire (). Either way a timed-out upgrade
 * leaves the guard as it was, and stays pending on it until delivered.
 */
AioTestModelRequest *
aio_test_model_upgrade_full (AioTestModel      *model,
                             AioTestModelGuard *guard,
                             int                timeout_msec,
                             gboolean           cancelled)
{
  AioTestModelRequest *r = request_new (model, WRITE, guard);
  GQuark domain = 0;
  int code = 0;

  if (upgrade_refused (model, guard, cancelled, &domain, &code))
    {
      request_fail (r, domain, code);
    }
  else
    {
      /* Pending on the guard until delivered, whatever the outcome. */
      guard->upgrade = r;

      switch (upgrade_decide (model, guard, timeout_msec, &domain, &code))
        {
        case DECIDE_GRANT:
          r->status = AIO_TEST_MODEL_GRANTED;
          r->changed_mode = upgrade_guard (guard);
          TRACE (model, "    grant #%u upgrade at once\n", r->id);
          break;
        case DECIDE_QUEUE:
          /* It waits for the other readers; until then nobody else
           * enters (but readers under PREFER_READERS). */
          model->upgrade = r;
          break;
        case DECIDE_FAIL:
        default:
          request_fail (r, domain, code);
          break;
        }
    }

  assert_settled (model);
  return r;
}

/**
 * aio_test_model_try_upgrade:
 *
 * try_upgrade: the upgrade of aio_test_model_upgrade_full () with a
 * timeout of 0, answered at once, never pending: TRUE if @guard is WRITE
 * now; else FALSE, the guard as it was, and the error, which is
 * G_IO_ERROR_WOULD_BLOCK where the async form says G_IO_ERROR_TIMED_OUT.
 */
gboolean
aio_test_model_try_upgrade (AioTestModel      *model,
                            AioTestModelGuard *guard,
                            GQuark            *domain,
                            int               *code)
{
  GQuark d = 0;
  int c = 0;
  gboolean upgraded = FALSE;

  if (!upgrade_refused (model, guard, FALSE, &d, &c) &&
      upgrade_decide (model, guard, 0, &d, &c) == DECIDE_GRANT)
    {
      upgrade_guard (guard);
      upgraded = TRUE;
    }
  not_at_once_would_block (d, &c);

  if (domain != NULL)
    *domain = d;
  if (code != NULL)
    *code = c;
  assert_settled (model);
  return upgraded;
}

/* A failed upgrade leaves its guard as it was: a guard released while its
 * upgrade was granted but undelivered shows its last mode, UPGRADABLE_READ. */
static void
undo_upgrade_of_released (AioTestModelRequest *r)
{
  r->guard->mode = UPGRADABLE;
  r->changed_mode = FALSE;
}

/**
 * aio_test_model_deliver:
 *
 * The callback of @request runs: returns the guard it gets (a new guard for
 * an acquisition, the upgraded guard for an upgrade), or NULL when it fails
 * with request->domain and request->code. A granted upgrade whose guard was
 * released before delivery fails with AIO_RW_LOCK_ERROR_NOT_HELD. A
 * close_async wait gets no guard: it succeeds if it was granted (look at
 * request->status before).
 */
AioTestModelGuard *
aio_test_model_deliver (AioTestModel        *model,
                        AioTestModelRequest *r)
{
  AioTestModelGuard *guard = NULL;

  g_assert_true (r->status == AIO_TEST_MODEL_GRANTED || r->status == AIO_TEST_MODEL_FAILED);

  if (r->guard != NULL)
    {
      /* Delivered: no longer pending. */
      if (r->guard->upgrade == r)
        r->guard->upgrade = NULL;

      if (r->status == AIO_TEST_MODEL_GRANTED && r->guard->released)
        {
          if (r->changed_mode)
            undo_upgrade_of_released (r);
          request_fail (r, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
        }

      if (r->status == AIO_TEST_MODEL_GRANTED)
        guard = r->guard;
    }
  else if (r->status == AIO_TEST_MODEL_GRANTED && !r->drain)
    {
      guard = guard_new (model, r->hold, r->mode);
    }

  r->hold = NULL;
  r->status = AIO_TEST_MODEL_DELIVERED;
  return guard;
}

/* Takes a waiting request out of the queue, the upgrade slot or the
 * close_async waits. */
static void
withdraw (AioTestModel        *model,
          AioTestModelRequest *r)
{
  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_QUEUED);

  if (r->drain)
    {
      g_assert_true (g_ptr_array_remove (model->drains, r));
    }
  else if (r->guard != NULL)
    {
      g_assert_true (model->upgrade == r);
      model->upgrade = NULL;
    }
  else
    {
      g_assert_true (g_ptr_array_remove (model->queue, r));
    }
}

/**
 * aio_test_model_cancel:
 *
 * The cancellable of @request fired (for a request whose cancellable the
 * lock watches). While queued it is withdrawn; granted but not delivered,
 * its grant is handed back now (a close_async wait: cancelling cancels the
 * wait, never the close). Either way it reports
 * G_IO_ERROR_CANCELLED, and whoever it blocked is served. Returns whether
 * it changed anything (not for a request already failed or delivered).
 */
gboolean
aio_test_model_cancel (AioTestModel        *model,
                       AioTestModelRequest *r)
{
  switch (r->status)
    {
    case AIO_TEST_MODEL_QUEUED:
      withdraw (model, r);
      break;

    case AIO_TEST_MODEL_GRANTED:
      if (r->drain)
        {
          /* Nothing was held: only what it reports changes. */
        }
      else if (r->guard != NULL)
        {
          if (r->changed_mode && !r->guard->released && r->guard->mode == WRITE)
            guard_set_mode (r->guard, UPGRADABLE);
          else if (r->changed_mode && r->guard->released)
            undo_upgrade_of_released (r);
        }
      else
        {
          g_assert_cmpuint (r->hold->n[r->mode], ==, 1);
          r->hold->n[r->mode] = 0;
          r->hold = NULL;
        }
      break;

    case AIO_TEST_MODEL_FAILED:
    case AIO_TEST_MODEL_DELIVERED:
    default:
      return FALSE;
    }

  TRACE (model, "    cancel #%u\n", r->id);
  request_fail (r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  serve (model);
  return TRUE;
}

/* The deadline of @request passed: a waiting request fails with
 * G_IO_ERROR_TIMED_OUT; a deadline never revokes a grant. Returns whether
 * it changed anything. */
gboolean
aio_test_model_expire (AioTestModel        *model,
                       AioTestModelRequest *r)
{
  g_assert_false (r->drain);  /* close_async has no deadline */

  if (r->status != AIO_TEST_MODEL_QUEUED)
    return FALSE;

  TRACE (model, "    expire #%u\n", r->id);
  withdraw (model, r);
  request_fail (r, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  serve (model);
  return TRUE;
}

/* DESIGN.md: READ from any guard; UPGRADABLE_READ from an UPGRADABLE_READ or
 * WRITE guard; WRITE from a WRITE guard. */
static gboolean
reenter_allowed (AioRwLockMode have,
                 AioRwLockMode want)
{
  return want == READ ||
         (want == UPGRADABLE && (have == UPGRADABLE || have == WRITE)) ||
         (want == WRITE && have == WRITE);
}

/* reenter: a new guard in @mode sharing @guard's hold, granted at once, or
 * NULL and the error. */
AioTestModelGuard *
aio_test_model_reenter (AioTestModel      *model,
                        AioTestModelGuard *guard,
                        AioRwLockMode      mode,
                        GQuark            *domain,
                        int               *code)
{
  if (guard->released)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_NOT_HELD;
      return NULL;
    }
  if (!reenter_allowed (aio_test_model_guard_get_mode (guard), mode))
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_WOULD_DEADLOCK;
      return NULL;
    }

  /* The new member is never stronger than the hold: the hold's mode, and
   * so the policy's view, stay as they were. */
  guard->hold->n[mode]++;
  return guard_new (model, guard->hold, mode);
}

/* The hold of @guard ends (release, or the last reference dropped). Its
 * waiting upgrade fails with NOT_HELD; a decided one learns at delivery. */
void
aio_test_model_release (AioTestModel      *model,
                        AioTestModelGuard *guard)
{
  AioTestModelRequest *upgrade = guard->upgrade;

  if (upgrade != NULL && upgrade->status == AIO_TEST_MODEL_QUEUED)
    {
      withdraw (model, upgrade);
      request_fail (upgrade, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
    }
  guard_set_mode (guard, NONE);
  serve (model);
}

/* downgrade (to READ) or downgrade_to: atomically to a weaker mode (the
 * same mode changes nothing). Not while the guard's upgrade is pending: the
 * library calls that a programmer error. */
void
aio_test_model_downgrade (AioTestModel      *model,
                          AioTestModelGuard *guard,
                          AioRwLockMode      mode)
{
  g_assert_false (guard->released);
  g_assert_null (guard->upgrade);
  g_assert_cmpuint (strength (mode), <=, strength (guard->mode));

  if (mode == guard->mode)
    return;
  guard_set_mode (guard, mode);
  serve (model);
}

/* downgrade_to: NOT_HELD for a released guard, G_IO_ERROR_PENDING while its
 * upgrade is pending, G_IO_ERROR_INVALID_ARGUMENT for the same or a
 * stronger mode, all changing nothing; else the downgrade, and TRUE. */
gboolean
aio_test_model_downgrade_to (AioTestModel      *model,
                             AioTestModelGuard *guard,
                             AioRwLockMode      mode,
                             GQuark            *domain,
                             int               *code)
{
  if (guard->released)
    {
      *domain = AIO_RW_LOCK_ERROR;
      *code = AIO_RW_LOCK_ERROR_NOT_HELD;
    }
  else if (guard->upgrade != NULL)
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_PENDING;
    }
  else if (strength (mode) >= strength (guard->mode))
    {
      *domain = G_IO_ERROR;
      *code = G_IO_ERROR_INVALID_ARGUMENT;
    }
  else
    {
      aio_test_model_downgrade (model, guard, mode);
      return TRUE;
    }
  return FALSE;
}

/* close: every waiting request fails with CLOSED, the upgrade first;
 * holders keep their holds. */
void
aio_test_model_close (AioTestModel *model)
{
  if (model->closed)
    return;

  model->closed = TRUE;
  if (model->upgrade != NULL)
    {
      request_fail (model->upgrade, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
      model->upgrade = NULL;
    }
  for (guint i = 0; i < model->queue->len; i++)
    request_fail (g_ptr_array_index (model->queue, i), AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_ptr_array_set_size (model->queue, 0);
}

/**
 * aio_test_model_close_async:
 *
 * close_async: closes (as aio_test_model_close ()), then waits until no
 * hold is left (a grant not delivered yet is a hold). Granted at once if
 * none is; fails with G_IO_ERROR_CANCELLED if @cancelled at the call, the
 * lock closed all the same. Its wait is outside the queue: it counts in no
 * pending-* property.
 */
AioTestModelRequest *
aio_test_model_close_async (AioTestModel *model,
                            gboolean      cancelled)
{
  AioTestModelRequest *r = request_new (model, READ, NULL);

  r->drain = TRUE;
  aio_test_model_close (model);

  if (cancelled)
    request_fail (r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  else if (!has_holds (model))
    r->status = AIO_TEST_MODEL_GRANTED;
  else
    g_ptr_array_add (model->drains, r);

  assert_settled (model);
  return r;
}
