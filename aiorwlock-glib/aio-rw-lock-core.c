/* aio-rw-lock-core.c: the lock's mutex and every transition made under it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-core.h"
#include "aio-rw-lock-fast.h"
#include "aio-rw-lock-waiter.h"

/* The one file that takes the lock's mutex. Every function named
 * *_locked runs with it held and is static here.
 *
 * Lock order: the core's mutex, then a completion source's, then GLib's
 * own (a context's). The mutex is never held while a cancellable is
 * connected or disconnected (a "cancelled" handler running in another
 * thread takes it, and disconnecting waits for that handler), nor while
 * anyone else's code runs.
 *
 * A request's life: submitted (granted, refused or queued); while queued,
 * served (granted), or withdrawn (cancelled, expired, closed); once
 * granted, revoked if cancelled before its caller learns of it; delivered
 * on the caller's context (or in the caller's thread, for a blocking one)
 * immediately before the caller is told, after its cancel handler is
 * disconnected. The delivery is the line of DESIGN.md (and of
 * doc/cancellation.md): a cancel that lands before it hands the hold back,
 * one that lands after it is too late. */

/* Guards that re-entered one another share a hold: the state counts the
 * hold once, in the strongest mode among its unreleased guards. A guard
 * never re-entered has no AioRwLockHold: its own mode is the hold's. */
struct _AioRwLockHold
{
  gatomicrefcount  ref_count;  /* guards pointing here */
  guint            n[3];       /* unreleased guards per mode; under the mutex */
  AioRwLockRecord *record;     /* of the hold, while recorded; under the mutex */
};

/* A guard's status. A HELD guard (a READ or WRITE hold of its own, no
 * record, never re-entered, no upgrade) ends its hold without the mutex:
 * the release claims it with one compare-and-swap from HELD. Anything
 * under the mutex that changes a guard's mode, hold, record or upgrade
 * makes it HELD_SLOW first the same way, so it never races such a
 * release; a HELD_SLOW guard is released under the mutex only. */
enum
{
  GUARD_HELD,
  GUARD_HELD_SLOW,
  GUARD_RELEASED,
};

struct _AioRwLockGuard
{
  gatomicrefcount  ref_count;
  gint             status;     /* GUARD_*; atomic */
  AioRwLockMode    mode;       /* as the lock counts it; under the mutex */
  AioRwLockCore   *core;       /* its lock (core->owner) is referenced */
  AioRwLockHold   *hold;       /* shared with re-entered guards, or NULL */
  AioRwLockWaiter *upgrade;    /* an upgrade whose caller has not learnt its
                                * outcome yet (not owned) */
  AioRwLockRecord *record;     /* of its hold while recorded, unless it
                                * shares one (->hold's); under the mutex */
};

void
aio_rw_lock_core_init (AioRwLockCore *self,
                       GObject       *owner)
{
  g_mutex_init (&self->mutex);
  aio_rw_lock_state_init (&self->state, AIO_RW_LOCK_POLICY_FAIR);
  self->write_hold = NULL;
  g_queue_init (&self->drains);
  g_queue_init (&self->records);
  self->recording = aio_rw_lock_record_enabled ();
  /* A lock that records from the start never counts holds in the word. */
  self->fast = self->recording ? AIO_RW_LOCK_FAST_SLOW : 0;
  self->name = NULL;
  self->owner = owner;
}

/* Guards and waiters keep the lock alive: nothing can be held or queued.
 * Nothing of the lock is left in any main context either. */
void
aio_rw_lock_core_clear (AioRwLockCore *self)
{
  g_assert ((self->fast & ~AIO_RW_LOCK_FAST_SLOW) == 0);
  g_assert (aio_rw_lock_state_is_idle (&self->state));
  g_assert (g_queue_is_empty (&self->drains));
  g_assert (g_queue_is_empty (&self->records));
  g_mutex_clear (&self->mutex);
}

/* At construction, before anyone else can see the lock. */
void
aio_rw_lock_core_set_policy (AioRwLockCore   *self,
                             AioRwLockPolicy  policy)
{
  self->state.policy = policy;
}

AioRwLockPolicy
aio_rw_lock_core_get_policy (AioRwLockCore *self)
{
  return self->state.policy;
}

/* At construction too; @name outlives the core. */
void
aio_rw_lock_core_set_name (AioRwLockCore *self,
                           const char    *name)
{
  self->name = name;
}

/* ---- Records of holds and waits ---- */

/* A new hold, recorded if anything looks. */
static inline AioRwLockRecord *
record_hold_locked (AioRwLockCore *self,
                    AioRwLockMode  mode)
{
  AioRwLockRecord *record;

  if (G_LIKELY (!self->recording))
    return NULL;

  record = aio_rw_lock_record_new (self->name, mode, FALSE);
  g_queue_push_tail_link (&self->records, &record->link);
  return record;
}

/* A waiting request's record becomes its hold's. */
static void
record_granted_locked (AioRwLockCore   *self,
                       AioRwLockRecord *record)
{
  aio_rw_lock_record_granted (record);
  g_queue_push_tail_link (&self->records, &record->link);
}

/* A hold's or a wait's record ends; *@record is cleared. */
static void
record_end_locked (AioRwLockCore    *self,
                   AioRwLockRecord **record)
{
  AioRwLockRecord *ended = g_steal_pointer (record);

  if (!ended->waiting)
    g_queue_unlink (&self->records, &ended->link);
  aio_rw_lock_record_end (ended);
}

/* ---- Holds and guards ---- */

static inline gboolean
guard_released (AioRwLockGuard *guard)
{
  return __atomic_load_n (&guard->status, __ATOMIC_ACQUIRE) == GUARD_RELEASED;
}

/* Under the mutex, before anything of the guard's changes: FALSE if it
 * was released (also by a release racing this on another thread). */
static gboolean
guard_hold_slow_locked (AioRwLockGuard *guard)
{
  gint status = GUARD_HELD;

  return __atomic_compare_exchange_n (&guard->status, &status, GUARD_HELD_SLOW, FALSE,
                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
         status == GUARD_HELD_SLOW;
}

static AioRwLockMode
hold_mode_locked (AioRwLockGuard *guard)
{
  const guint *n;

  if (guard->hold == NULL)
    return guard_released (guard) ? AIO_RW_LOCK_HOLD_NONE : guard->mode;

  n = guard->hold->n;
  if (n[AIO_RW_LOCK_MODE_WRITE] > 0)
    return AIO_RW_LOCK_MODE_WRITE;
  if (n[AIO_RW_LOCK_MODE_UPGRADABLE_READ] > 0)
    return AIO_RW_LOCK_MODE_UPGRADABLE_READ;
  if (n[AIO_RW_LOCK_MODE_READ] > 0)
    return AIO_RW_LOCK_MODE_READ;
  return AIO_RW_LOCK_HOLD_NONE;
}

/* The record of the guard's hold, if it has one, follows the hold's mode
 * (ends with it). Out of line: a lock with no recorded hold pays one test
 * of a field at hand. */
static G_GNUC_NO_INLINE void
record_sync_slow_locked (AioRwLockCore  *self,
                         AioRwLockGuard *guard)
{
  AioRwLockRecord **record = guard->hold != NULL ? &guard->hold->record : &guard->record;
  AioRwLockMode mode = hold_mode_locked (guard);

  if (*record == NULL)
    ;  /* began unrecorded */
  else if (mode == AIO_RW_LOCK_HOLD_NONE)
    record_end_locked (self, record);
  else
    aio_rw_lock_record_set_mode (*record, mode);
}

static inline void
record_sync_locked (AioRwLockCore  *self,
                    AioRwLockGuard *guard)
{
  if (G_UNLIKELY (self->records.head != NULL))
    record_sync_slow_locked (self, guard);
}

/* Changes the guard's mode (NONE: releases it) and the mode of its hold,
 * not yet the state's count of it; returns that change. */
static void
set_guard_mode_locked (AioRwLockCore  *self,
                       AioRwLockGuard *guard,
                       AioRwLockMode   mode,
                       AioRwLockMode  *hold_from,
                       AioRwLockMode  *hold_to)
{
  *hold_from = hold_mode_locked (guard);

  if (guard->hold != NULL)
    {
      guard->hold->n[guard->mode]--;
      if (mode != AIO_RW_LOCK_HOLD_NONE)
        guard->hold->n[mode]++;
    }

  /* A HELD_SLOW guard changes under the mutex only: a release store is
   * enough for the unlocked reads of its status (is_held (), the last
   * unref); the full barrier of g_atomic_int_set () is an exchange. */
  g_assert (__atomic_load_n (&guard->status, __ATOMIC_RELAXED) == GUARD_HELD_SLOW);
  if (mode == AIO_RW_LOCK_HOLD_NONE)
    __atomic_store_n (&guard->status, GUARD_RELEASED, __ATOMIC_RELEASE);
  else
    guard->mode = mode;

  *hold_to = hold_mode_locked (guard);

  /* The shared WRITE hold, whose read guards count as one reader. */
  if (guard->hold != NULL && *hold_to == AIO_RW_LOCK_MODE_WRITE)
    self->write_hold = guard->hold;
  else if (guard->hold != NULL && guard->hold == self->write_hold)
    self->write_hold = NULL;
}

/* The same, and the state counts the hold in its new mode. Whoever may
 * enter now is not served yet. */
static inline G_ALWAYS_INLINE void
change_mode_locked (AioRwLockCore  *self,
                    AioRwLockGuard *guard,
                    AioRwLockMode   mode)
{
  AioRwLockMode from, to;

  set_guard_mode_locked (self, guard, mode, &from, &to);
  aio_rw_lock_state_convert (&self->state, from, to);
  record_sync_locked (self, guard);
}

/* The mode the guard's owner sees: a granted upgrade shows once its
 * caller learns of it (until then the lock counts the hold as WRITE). */
static AioRwLockMode
visible_mode_locked (AioRwLockGuard *guard)
{
  if (guard->upgrade != NULL && guard->upgrade->changed_mode)
    return AIO_RW_LOCK_MODE_UPGRADABLE_READ;
  return guard->mode;
}

/* A guard of a new hold, with the hold's @record (or NULL). */
static AioRwLockGuard *
guard_new (AioRwLockCore   *self,
           AioRwLockMode    mode,
           AioRwLockRecord *record)
{
  /* g_new (), not g_new0 (): glibc's calloc () bypasses its thread cache. */
  AioRwLockGuard *guard = g_new (AioRwLockGuard, 1);

  g_atomic_ref_count_init (&guard->ref_count);
  guard->status = record == NULL && mode != AIO_RW_LOCK_MODE_UPGRADABLE_READ ?
                  GUARD_HELD : GUARD_HELD_SLOW;
  guard->mode = mode;
  guard->core = self;
  guard->hold = NULL;
  guard->upgrade = NULL;
  guard->record = record;
  g_object_ref (self->owner);

  return guard;
}

/* ---- Watches ---- */

typedef struct
{
  AioRwLockChangedFunc func;
  gpointer             user_data;
} AioRwLockWatch;

static G_GNUC_NO_INLINE void
tell_watches_locked (AioRwLockCore *self)
{
  for (GSList *l = self->watches; l != NULL; l = l->next)
    {
      AioRwLockWatch *watch = l->data;

      watch->func (watch->user_data);
    }
}

/* ---- The mutex, and the holds counted without it ---- */

/* After the mutex is taken (also again, after a wait on a GCond): every
 * hold is the state's from here. */
static inline void
stop_fast_locked (AioRwLockCore *self)
{
  guint counted = aio_rw_lock_fast_stop (&self->fast);

  if (counted != 0)
    {
      self->state.n_read += counted / AIO_RW_LOCK_FAST_READER;
      self->state.writer |= (counted & AIO_RW_LOCK_FAST_WRITER) != 0;
    }
}

static inline void
core_lock (AioRwLockCore *self)
{
  g_mutex_lock (&self->mutex);
  stop_fast_locked (self);
}

/* Nobody waits, nothing is pending, no hold needs the mutex to end and
 * nobody looks: holds may be taken and ended without the mutex. */
static inline gboolean
may_go_fast_locked (AioRwLockCore *self)
{
  const AioRwLockState *state = &self->state;

  /* (A pending upgrade counts as a pending writer.) */
  return !state->upgradable && !state->closed &&
         aio_rw_lock_state_pending_readers (state) + aio_rw_lock_state_pending_writers (state) == 0 &&
         !self->recording && self->watches == NULL;
}

static inline void
core_unlock (AioRwLockCore *self)
{
  if (may_go_fast_locked (self))
    {
      aio_rw_lock_fast_start (&self->fast, self->state.n_read, self->state.writer);
      self->state.n_read = 0;
      self->state.writer = FALSE;
    }
  g_mutex_unlock (&self->mutex);
}

/* Unlocks after a call that may have changed the lock, telling the
 * watches (monitors) first; without one it costs a pointer test. */
static inline void
unlock_changed (AioRwLockCore *self)
{
  if (G_UNLIKELY (self->watches != NULL))
    tell_watches_locked (self);
  core_unlock (self);
}

void
aio_rw_lock_core_add_watch (AioRwLockCore        *self,
                            AioRwLockChangedFunc  func,
                            gpointer              user_data)
{
  AioRwLockWatch *watch = g_new (AioRwLockWatch, 1);

  watch->func = func;
  watch->user_data = user_data;
  core_lock (self);
  self->watches = g_slist_prepend (self->watches, watch);
  g_atomic_int_set (&self->recording, TRUE);
  core_unlock (self);
}

/* After this returns, @func is not running and will not be called. */
void
aio_rw_lock_core_remove_watch (AioRwLockCore        *self,
                               AioRwLockChangedFunc  func,
                               gpointer              user_data)
{
  core_lock (self);
  for (GSList *l = self->watches; l != NULL; l = l->next)
    {
      AioRwLockWatch *watch = l->data;

      if (watch->func == func && watch->user_data == user_data)
        {
          self->watches = g_slist_delete_link (self->watches, l);
          g_free (watch);
          break;
        }
    }
  /* What is recorded stays so until it ends. */
  g_atomic_int_set (&self->recording, self->watches != NULL || aio_rw_lock_record_enabled ());
  core_unlock (self);
}

/* ---- Requests ---- */

static void serve_locked (AioRwLockCore *self);

/* A request's status changes from NEW or QUEUED; its owner is woken. */
static void
settle_locked (AioRwLockCore         *self,
               AioRwLockWaiter       *waiter,
               AioRwLockWaiterStatus  status,
               AioRwLockFailure       failure)
{
  g_assert (waiter->status == AIO_RW_LOCK_WAITER_NEW ||
            waiter->status == AIO_RW_LOCK_WAITER_QUEUED);
  g_assert ((status == AIO_RW_LOCK_WAITER_FAILED) == (failure != AIO_RW_LOCK_FAILURE_NONE));

  waiter->status = status;
  waiter->failure = failure;

  /* A recorded wait ends: an acquisition's record goes on as its hold's. */
  if (G_UNLIKELY (waiter->record != NULL) && waiter->record->waiting)
    {
      if (status == AIO_RW_LOCK_WAITER_GRANTED && !waiter->request.is_upgrade)
        record_granted_locked (self, waiter->record);
      else
        record_end_locked (self, &waiter->record);
    }

  /* A granted upgrade: the state counts the hold as WRITE already. A
   * guard whose hold was exclusive before changes nothing the state sees. */
  if (status == AIO_RW_LOCK_WAITER_GRANTED && waiter->request.is_upgrade &&
      !guard_released (waiter->guard) && waiter->guard->mode == AIO_RW_LOCK_MODE_UPGRADABLE_READ)
    {
      AioRwLockMode from, to;

      set_guard_mode_locked (self, waiter->guard, AIO_RW_LOCK_MODE_WRITE, &from, &to);
      record_sync_locked (self, waiter->guard);
      waiter->changed_mode = TRUE;
    }

  aio_rw_lock_waiter_wake (waiter);
}

/* Grants every waiting request that may enter now. Each grant is counted
 * at once; the waiters learn of it later, from their own contexts. */
static void
serve_locked (AioRwLockCore *self)
{
  AioRwLockRequest *request;

  while ((request = aio_rw_lock_state_grant_next (&self->state)) != NULL)
    settle_locked (self, (AioRwLockWaiter *) request,
                   AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);

  /* Every change that can end the last hold of a closed lock ends here. */
  if (G_UNLIKELY (!g_queue_is_empty (&self->drains)) &&
      !aio_rw_lock_state_has_holds (&self->state))
    {
      AioRwLockWaiter *drain;

      GList *link;

      while ((link = g_queue_pop_head_link (&self->drains)) != NULL)
        {
          drain = link->data;
          settle_locked (self, drain, AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);
        }
    }
}

static void on_deadline_due (AioRwLockWaiter *waiter);

static gboolean
on_deadline (gpointer user_data)
{
  on_deadline_due (user_data);
  return G_SOURCE_REMOVE;
}

/* A new request, an acquisition or the upgrade of waiter->guard: granted
 * now, refused now, or queued. The one decision tree for both. */
static void
submit_locked (AioRwLockCore   *self,
               AioRwLockWaiter *waiter,
               int              timeout_msec)
{
  AioRwLockGuard *guard = waiter->request.is_upgrade ? waiter->guard : NULL;
  AioRwLockFailure refusal = AIO_RW_LOCK_FAILURE_NONE;
  gboolean entered = FALSE;

  if (g_cancellable_is_cancelled (aio_rw_lock_waiter_get_cancellable (waiter)))
    refusal = AIO_RW_LOCK_FAILURE_CANCELLED;
  else if (guard != NULL && !guard_hold_slow_locked (guard))
    refusal = AIO_RW_LOCK_FAILURE_ALREADY_RELEASED;
  else if (guard != NULL && guard->mode == AIO_RW_LOCK_MODE_READ)
    refusal = AIO_RW_LOCK_FAILURE_UPGRADE_OF_READ;
  else if (guard != NULL && (guard->upgrade != NULL || self->state.upgrade != NULL))
    refusal = AIO_RW_LOCK_FAILURE_UPGRADE_PENDING;

  if (refusal == AIO_RW_LOCK_FAILURE_NONE && guard != NULL)
    {
      /* Pending from here until its caller learns the outcome. */
      guard->upgrade = waiter;
      /* A hold that is exclusive already upgrades at once, closed or not. */
      entered = hold_mode_locked (guard) == AIO_RW_LOCK_MODE_WRITE;
    }

  if (refusal == AIO_RW_LOCK_FAILURE_NONE && !entered)
    {
      if (self->state.closed)
        refusal = AIO_RW_LOCK_FAILURE_CLOSED;
      else if (guard != NULL)
        entered = aio_rw_lock_state_try_upgrade (&self->state);
      else
        entered = aio_rw_lock_state_try_enter (&self->state, waiter->request.mode);
    }

  if (refusal == AIO_RW_LOCK_FAILURE_NONE && !entered && timeout_msec == 0)
    refusal = AIO_RW_LOCK_FAILURE_NOT_AT_ONCE;

  if (entered)
    {
      if (guard == NULL)
        waiter->record = record_hold_locked (self, waiter->request.mode);
      settle_locked (self, waiter, AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);
    }
  else if (refusal != AIO_RW_LOCK_FAILURE_NONE)
    settle_locked (self, waiter, AIO_RW_LOCK_WAITER_FAILED, refusal);
  else
    {
      if (guard != NULL)
        aio_rw_lock_state_enqueue_upgrade (&self->state, &waiter->request);
      else
        aio_rw_lock_state_enqueue (&self->state, &waiter->request);
      waiter->status = AIO_RW_LOCK_WAITER_QUEUED;
      if (G_UNLIKELY (self->recording))
        waiter->record = aio_rw_lock_record_new (self->name, waiter->request.mode, TRUE);
      if (timeout_msec > 0 && waiter->task != NULL)
        aio_rw_lock_waiter_start_deadline (waiter, timeout_msec, on_deadline);
    }
}

/* A request that was cancelled, or whose deadline passed, while it was
 * waiting gives up its place; whoever it blocked is served. */
static void
withdraw_locked (AioRwLockCore    *self,
                 AioRwLockWaiter  *waiter,
                 AioRwLockFailure  failure)
{
  g_assert (waiter->status == AIO_RW_LOCK_WAITER_QUEUED);

  if (waiter->is_drain)
    {
      g_queue_unlink (&self->drains, &waiter->request.link);
      settle_locked (self, waiter, AIO_RW_LOCK_WAITER_FAILED, failure);
      return;
    }

  aio_rw_lock_state_remove (&self->state, &waiter->request);
  settle_locked (self, waiter, AIO_RW_LOCK_WAITER_FAILED, failure);
  serve_locked (self);
}

/* A failed upgrade leaves its guard as it was: a released guard keeps its
 * last mode, UPGRADABLE_READ, not the WRITE of the grant it never saw.
 * Its hold ended already: nothing the state counts changes. */
static void
undo_upgrade_of_released_locked (AioRwLockWaiter *waiter)
{
  g_assert (guard_released (waiter->guard));

  waiter->guard->mode = AIO_RW_LOCK_MODE_UPGRADABLE_READ;
  waiter->changed_mode = FALSE;
}

/* Hands a grant back before its caller learnt of it: the hold it counted
 * ends (for an upgrade, the guard is UPGRADABLE_READ again) and whoever it
 * blocked is served. The waiter was woken at the grant already. */
static void
revoke_locked (AioRwLockCore   *self,
               AioRwLockWaiter *waiter)
{
  g_assert (waiter->status == AIO_RW_LOCK_WAITER_GRANTED);

  if (waiter->is_drain)
    ;  /* nothing was held: only the caller's outcome changes */
  else if (!waiter->request.is_upgrade)
    {
      aio_rw_lock_state_convert (&self->state, waiter->request.mode, AIO_RW_LOCK_HOLD_NONE);
      if (waiter->record != NULL)
        record_end_locked (self, &waiter->record);
    }
  else if (waiter->changed_mode && !guard_released (waiter->guard))
    {
      change_mode_locked (self, waiter->guard, AIO_RW_LOCK_MODE_UPGRADABLE_READ);
      waiter->changed_mode = FALSE;
    }
  else if (waiter->changed_mode)
    undo_upgrade_of_released_locked (waiter);

  waiter->status = AIO_RW_LOCK_WAITER_FAILED;
  waiter->failure = AIO_RW_LOCK_FAILURE_CANCELLED;
  serve_locked (self);
}

static void
revoke_if_cancelled_locked (AioRwLockCore   *self,
                            AioRwLockWaiter *waiter)
{
  if (waiter->status == AIO_RW_LOCK_WAITER_GRANTED &&
      g_cancellable_is_cancelled (aio_rw_lock_waiter_get_cancellable (waiter)))
    revoke_locked (self, waiter);
}

/* The line: the caller is told right after this, with its cancel handler
 * disconnected already. A grant whose request was cancelled by now is
 * handed back; otherwise the outcome stands, and a later cancel is too
 * late. An upgrade is pending until here. */
static AioRwLockWaiterStatus
deliver_locked (AioRwLockCore   *self,
                AioRwLockWaiter *waiter)
{
  AioRwLockWaiterStatus outcome;

  revoke_if_cancelled_locked (self, waiter);

  if (waiter->request.is_upgrade && waiter->status != AIO_RW_LOCK_WAITER_NEW)
    {
      if (waiter->status == AIO_RW_LOCK_WAITER_GRANTED && guard_released (waiter->guard))
        {
          if (waiter->changed_mode)
            undo_upgrade_of_released_locked (waiter);
          waiter->status = AIO_RW_LOCK_WAITER_FAILED;
          waiter->failure = AIO_RW_LOCK_FAILURE_RELEASED_BEFORE_COMPLETED;
        }
      if (waiter->guard->upgrade == waiter)
        waiter->guard->upgrade = NULL;
    }

  outcome = waiter->status;
  if (outcome != AIO_RW_LOCK_WAITER_NEW)
    waiter->status = AIO_RW_LOCK_WAITER_DONE;
  return outcome;
}

/* Any thread; also at once inside g_cancellable_connect (). */
static void
on_cancelled (GCancellable    *cancellable,
              AioRwLockWaiter *waiter)
{
  AioRwLockCore *self = waiter->core;

  core_lock (self);
  if (waiter->status == AIO_RW_LOCK_WAITER_QUEUED)
    withdraw_locked (self, waiter, AIO_RW_LOCK_FAILURE_CANCELLED);
  else if (waiter->status == AIO_RW_LOCK_WAITER_GRANTED)
    revoke_locked (self, waiter);
  /* NEW: the submission sees the flag (set before this runs) and refuses
   * it without touching the state. */
  unlock_changed (self);
}

/* On the waiter's context. A deadline never revokes a grant. */
static void
on_deadline_due (AioRwLockWaiter *waiter)
{
  AioRwLockCore *self = waiter->core;

  core_lock (self);
  if (waiter->status == AIO_RW_LOCK_WAITER_QUEUED)
    withdraw_locked (self, waiter, AIO_RW_LOCK_FAILURE_TIMED_OUT);
  unlock_changed (self);
}

static GError *
failure_to_error (AioRwLockFailure  failure,
                  GCancellable     *cancellable)
{
  GError *error = NULL;

  switch (failure)
    {
    case AIO_RW_LOCK_FAILURE_CANCELLED:
      if (!g_cancellable_set_error_if_cancelled (cancellable, &error))
        /* Reset since: say what GLib says. */
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     g_dgettext ("glib20", "Operation was cancelled"));
      return error;
    case AIO_RW_LOCK_FAILURE_TIMED_OUT:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                  "Timed out waiting for the lock");
    case AIO_RW_LOCK_FAILURE_NOT_AT_ONCE:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                  "The lock could not be granted at once");
    case AIO_RW_LOCK_FAILURE_CLOSED:
      return g_error_new_literal (AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED,
                                  "The lock is closed");
    case AIO_RW_LOCK_FAILURE_ALREADY_RELEASED:
      return g_error_new_literal (AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                                  "The guard was already released");
    case AIO_RW_LOCK_FAILURE_RELEASED_WHILE_WAITING:
      return g_error_new_literal (AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                                  "The guard was released while its upgrade was waiting");
    case AIO_RW_LOCK_FAILURE_RELEASED_BEFORE_COMPLETED:
      return g_error_new_literal (AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                                  "The guard was released before its upgrade completed");
    case AIO_RW_LOCK_FAILURE_UPGRADE_OF_READ:
      return g_error_new_literal (AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK,
                                  "Cannot upgrade a read hold; acquire it as upgradable read to upgrade it");
    case AIO_RW_LOCK_FAILURE_UPGRADE_PENDING:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PENDING,
                                  "An upgrade of this hold is already pending");
    case AIO_RW_LOCK_FAILURE_WOULD_BLOCK:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                                  "The lock cannot be granted without waiting");
    case AIO_RW_LOCK_FAILURE_NONE:
    default:
      g_assert_not_reached ();
    }
}

/* The end of a delivery, without the mutex: the caller is told next. An
 * async waiter's deadline is only touched on its context's thread, this
 * one (a blocking waiter has none). */
static void
hand_over (AioRwLockCore         *self,
           AioRwLockWaiter       *waiter,
           AioRwLockWaiterStatus  outcome)
{
  AioRwLockWaiterTail *tail = aio_rw_lock_waiter_tail (waiter);

  if (tail != NULL)
    aio_rw_lock_waiter_disconnect (waiter, 0, g_steal_pointer (&tail->deadline));
  if (outcome == AIO_RW_LOCK_WAITER_GRANTED && !waiter->request.is_upgrade && !waiter->is_drain)
    /* With its hold's record, listed already; nobody else can reach it. */
    waiter->guard = guard_new (self, waiter->request.mode, g_steal_pointer (&waiter->record));
  g_assert (waiter->record == NULL);
  /* Last: it may hold the last reference to the lock, SELF's owner. */
  if (tail != NULL)
    g_clear_object (&tail->keep_alive);
}

/* Delivers @waiter: called with the mutex held, returns with it released,
 * the waiter disconnected and, for a granted acquisition, its guard made.
 * A failure stays a code until _finish makes its GError. */
static void
deliver (AioRwLockCore   *self,
         AioRwLockWaiter *waiter)
{
  AioRwLockWaiterTail *tail = aio_rw_lock_waiter_tail (waiter);
  gulong cancelled_id = tail != NULL ? tail->cancelled_id : 0;
  AioRwLockWaiterStatus outcome;

  if (cancelled_id != 0)
    {
      /* A cancel that landed already hands the grant back now: a
       * "cancelled" handler of the caller's may be waiting for that, and
       * disconnecting waits for the handlers of an emission running on
       * another thread. Until it returns, ours may still run; the waiter
       * stays undecided (an upgrade pending) meanwhile. */
      revoke_if_cancelled_locked (self, waiter);
      tail->cancelled_id = 0;
      unlock_changed (self);
      aio_rw_lock_waiter_disconnect (waiter, cancelled_id, NULL);
      core_lock (self);
    }
  outcome = deliver_locked (self, waiter);
  unlock_changed (self);
  hand_over (self, waiter, outcome);
}

/* An acquisition without a cancellable: once woken, nothing but its own
 * context's thread (this one) looks at it, so its outcome is final and is
 * read without the mutex (the completion source's mutex ordered the wake
 * before). Upgrades and drains look at their guard or the lock. */
static gboolean
settled_for_good (AioRwLockWaiter *waiter)
{
  return aio_rw_lock_waiter_get_cancellable (waiter) == NULL &&
         !waiter->request.is_upgrade && !waiter->is_drain;
}

/* ---- Async requests ---- */

static void
waiter_free (gpointer data)
{
  AioRwLockWaiter *waiter = data;

  g_clear_pointer (&waiter->guard, aio_rw_lock_core_guard_unref);
  aio_rw_lock_waiter_free (waiter);
}

/* On the waiter's context, from its completion source: the outcome is due.
 * GTask then calls aio_rw_lock_core_task_returned (), at once or from an
 * idle of its own. */
static void
on_completion (AioCompletion *completion)
{
  AioRwLockWaiter *waiter = G_STRUCT_MEMBER_P (completion, -G_STRUCT_OFFSET (AioRwLockWaiter, completion));
  GTask *task = g_steal_pointer (&waiter->task);

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
aio_rw_lock_core_task_returned (GObject      *source_object,
                                GAsyncResult *result,
                                gpointer      unused)
{
  AioRwLockWaiter *waiter = g_task_get_task_data (G_TASK (result));
  AioRwLockCore *self = waiter->core;

  if (settled_for_good (waiter))
    {
      AioRwLockWaiterStatus outcome = waiter->status;

      waiter->status = AIO_RW_LOCK_WAITER_DONE;
      hand_over (self, waiter, outcome);
    }
  else
    {
      core_lock (self);
      deliver (self, waiter);
    }

  /* GIO lets a caller pass no callback. */
  if (waiter->callback != NULL)
    waiter->callback (source_object, result, waiter->user_data);
}

/* The waiter of @task (an acquisition, the upgrade of @upgrade_of, or the
 * wait of close_async if @is_drain), holding @keep_alive (transfer full)
 * until its delivery, with room for a deadline if @may_time_out,
 * connected to the task's cancellable;
 * or NULL if that was cancelled already: the task then reports it, and the
 * lock is not touched. Once connected, its "cancelled" handler may run on
 * another thread: nothing of the waiter is set without the mutex after
 * that. */
static AioRwLockWaiter *
waiter_new_async (AioRwLockCore       *self,
                  GTask               *task,
                  AioRwLockMode        mode,
                  AioRwLockGuard      *upgrade_of,
                  gboolean             is_drain,
                  gboolean             may_time_out,
                  GObject             *keep_alive,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  AioRwLockWaiter *waiter;

  waiter = aio_rw_lock_waiter_new_async (self, mode, task, may_time_out || keep_alive != NULL,
                                         on_completion, callback, user_data);
  if (upgrade_of != NULL)
    {
      waiter->request.is_upgrade = TRUE;
      waiter->guard = aio_rw_lock_core_guard_ref (upgrade_of);
    }
  waiter->is_drain = is_drain;
  /* Held until delivery, even by a request refused as already cancelled. */
  if (keep_alive != NULL)
    aio_rw_lock_waiter_tail (waiter)->keep_alive = keep_alive;
  g_task_set_task_data (task, waiter, waiter_free);
  /* A cancel after the line is too late: _finish returns the guard. */
  g_task_set_check_cancellable (task, FALSE);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (g_steal_pointer (&waiter->task));
      return NULL;
    }

  aio_rw_lock_waiter_connect (waiter, G_CALLBACK (on_cancelled));
  return waiter;
}

/* Takes @task, made by a public _async with aio_rw_lock_core_task_returned
 * as its callback. */
void
aio_rw_lock_core_acquire_async (AioRwLockCore       *self,
                                GTask               *task,
                                AioRwLockMode        mode,
                                int                  timeout_msec,
                                GObject             *keep_alive,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  AioRwLockWaiter *waiter = waiter_new_async (self, task, mode, NULL, FALSE, timeout_msec > 0, keep_alive,
                                              callback, user_data);

  if (waiter == NULL)
    return;

  /* Granted by the word: with no cancellable (no handler of ours can run
   * on another thread) and never queued, nobody else sees the waiter. */
  if (aio_rw_lock_waiter_get_cancellable (waiter) == NULL && aio_rw_lock_fast_enter (&self->fast, mode))
    {
      waiter->status = AIO_RW_LOCK_WAITER_GRANTED;
      aio_rw_lock_waiter_wake (waiter);
      return;
    }

  core_lock (self);
  submit_locked (self, waiter, timeout_msec);
  unlock_changed (self);
}

AioRwLockGuard *
aio_rw_lock_core_acquire_finish (GTask   *task,
                                 GError **error)
{
  AioRwLockWaiter *waiter = g_task_get_task_data (task);

  if (!g_task_propagate_boolean (task, error))
    return NULL;

  if (waiter->failure != AIO_RW_LOCK_FAILURE_NONE)
    {
      g_propagate_error (error, failure_to_error (waiter->failure,
                                                  aio_rw_lock_waiter_get_cancellable (waiter)));
      return NULL;
    }

  return g_steal_pointer (&waiter->guard);
}

void
aio_rw_lock_core_upgrade_async (GTask               *task,
                                AioRwLockGuard      *guard,
                                int                  timeout_msec,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  AioRwLockCore *self = guard->core;
  AioRwLockWaiter *waiter;

  waiter = waiter_new_async (self, task, AIO_RW_LOCK_MODE_WRITE, guard, FALSE, timeout_msec > 0, NULL,
                             callback, user_data);
  if (waiter == NULL)
    return;

  core_lock (self);
  submit_locked (self, waiter, timeout_msec);
  unlock_changed (self);
}

gboolean
aio_rw_lock_core_upgrade_finish (GTask   *task,
                                 GError **error)
{
  AioRwLockWaiter *waiter = g_task_get_task_data (task);

  if (!g_task_propagate_boolean (task, error))
    return FALSE;

  if (waiter->failure != AIO_RW_LOCK_FAILURE_NONE)
    {
      g_propagate_error (error, failure_to_error (waiter->failure,
                                                  aio_rw_lock_waiter_get_cancellable (waiter)));
      return FALSE;
    }

  return TRUE;
}

AioRwLockGuard *
aio_rw_lock_core_upgrade_get_guard (GTask *task)
{
  AioRwLockWaiter *waiter = g_task_get_task_data (task);

  return waiter != NULL ? waiter->guard : NULL;
}

/* ---- Blocking and immediate requests ---- */

AioRwLockGuard *
aio_rw_lock_core_acquire (AioRwLockCore  *self,
                          AioRwLockMode   mode,
                          int             timeout_msec,
                          GCancellable   *cancellable,
                          GError        **error)
{
  AioRwLockWaiterFull full;
  AioRwLockWaiter *waiter = &full.waiter;
  gint64 end_time = -1;
  GCond cond;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  if (aio_rw_lock_fast_enter (&self->fast, mode))
    return guard_new (self, mode, NULL);

  if (timeout_msec > 0)
    end_time = g_get_monotonic_time () + (gint64) timeout_msec * G_TIME_SPAN_MILLISECOND;

  g_cond_init (&cond);
  aio_rw_lock_waiter_init_blocking (&full, self, mode, cancellable, &cond);
  aio_rw_lock_waiter_connect (waiter, G_CALLBACK (on_cancelled));

  core_lock (self);
  submit_locked (self, waiter, timeout_msec);
  while (waiter->status == AIO_RW_LOCK_WAITER_QUEUED)
    {
      gboolean expired = FALSE;

      if (end_time < 0)
        g_cond_wait (&cond, &self->mutex);
      else
        expired = !g_cond_wait_until (&cond, &self->mutex, end_time);
      /* Whoever granted it may have let holds go fast as it unlocked. */
      stop_fast_locked (self);
      if (expired && waiter->status == AIO_RW_LOCK_WAITER_QUEUED)
        withdraw_locked (self, waiter, AIO_RW_LOCK_FAILURE_TIMED_OUT);
    }
  deliver (self, waiter);
  g_cond_clear (&cond);

  if (waiter->failure != AIO_RW_LOCK_FAILURE_NONE)
    g_propagate_error (error, failure_to_error (waiter->failure, cancellable));
  return g_steal_pointer (&waiter->guard);
}

/* Made twice: with @recording FALSE, the record's lines fold away. */
static inline G_ALWAYS_INLINE AioRwLockGuard *
try_acquire (AioRwLockCore  *self,
             AioRwLockMode   mode,
             gboolean        recording,
             GError        **error)
{
  AioRwLockFailure failure = AIO_RW_LOCK_FAILURE_NONE;
  AioRwLockRecord *record = NULL;

  core_lock (self);
  if (!aio_rw_lock_state_try_enter (&self->state, mode))
    failure = self->state.closed ? AIO_RW_LOCK_FAILURE_CLOSED : AIO_RW_LOCK_FAILURE_WOULD_BLOCK;
  else if (recording)
    record = record_hold_locked (self, mode);
  unlock_changed (self);

  if (failure == AIO_RW_LOCK_FAILURE_NONE)
    return guard_new (self, mode, record);
  if (error != NULL)
    g_propagate_error (error, failure_to_error (failure, NULL));
  return NULL;
}

static G_GNUC_NO_INLINE AioRwLockGuard *
try_acquire_recording (AioRwLockCore  *self,
                       AioRwLockMode   mode,
                       GError        **error)
{
  return try_acquire (self, mode, TRUE, error);
}

/* The word first (never fast while recording), then one test of
 * recording before the mutex: a monitor made meanwhile lists this hold as
 * one that began unrecorded, which it is. */
AioRwLockGuard *
aio_rw_lock_core_try_acquire (AioRwLockCore  *self,
                              AioRwLockMode   mode,
                              GError        **error)
{
  if (G_LIKELY (aio_rw_lock_fast_enter (&self->fast, mode)))
    return guard_new (self, mode, NULL);
  if (G_UNLIKELY (g_atomic_int_get (&self->recording)))
    return try_acquire_recording (self, mode, error);
  return try_acquire (self, mode, FALSE, error);
}

void
aio_rw_lock_core_close (AioRwLockCore *self)
{
  AioRwLockRequest *request;

  core_lock (self);
  aio_rw_lock_state_close (&self->state);
  while ((request = aio_rw_lock_state_pop_any (&self->state)) != NULL)
    settle_locked (self, (AioRwLockWaiter *) request,
                   AIO_RW_LOCK_WAITER_FAILED, AIO_RW_LOCK_FAILURE_CLOSED);
  unlock_changed (self);
}

/* Closes, then waits (as a waiter of its own, outside the state's queue)
 * until no hold is left. Cancelling cancels the wait, never the close. */
void
aio_rw_lock_core_close_async (AioRwLockCore       *self,
                              GTask               *task,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  AioRwLockWaiter *waiter;

  aio_rw_lock_core_close (self);

  waiter = waiter_new_async (self, task, AIO_RW_LOCK_MODE_READ, NULL, TRUE, FALSE, NULL, callback, user_data);
  if (waiter == NULL)
    return;

  core_lock (self);
  if (g_cancellable_is_cancelled (aio_rw_lock_waiter_get_cancellable (waiter)))
    settle_locked (self, waiter, AIO_RW_LOCK_WAITER_FAILED, AIO_RW_LOCK_FAILURE_CANCELLED);
  else if (!aio_rw_lock_state_has_holds (&self->state))
    settle_locked (self, waiter, AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);
  else
    {
      /* Its request's link, unused outside the state's queues: O(1). */
      g_queue_push_tail_link (&self->drains, &waiter->request.link);
      waiter->status = AIO_RW_LOCK_WAITER_QUEUED;
    }
  unlock_changed (self);
}

gboolean
aio_rw_lock_core_close_finish (GTask   *task,
                               GError **error)
{
  /* Nothing differs from an upgrade's outcome: TRUE, or why not. */
  return aio_rw_lock_core_upgrade_finish (task, error);
}

/* ---- Snapshots ---- */

static void
snapshot_locked (AioRwLockCore     *self,
                 AioRwLockSnapshot *snapshot)
{
  const AioRwLockState *state = &self->state;
  const AioRwLockHold *write_hold = self->write_hold;

  /* A WRITE hold with read guards re-entered from it reads too; the state
   * keeps "a writer excludes readers". */
  snapshot->readers = aio_rw_lock_state_readers (state) +
                      (write_hold != NULL &&
                       write_hold->n[AIO_RW_LOCK_MODE_READ] +
                       write_hold->n[AIO_RW_LOCK_MODE_UPGRADABLE_READ] > 0);
  snapshot->write_locked = state->writer;
  snapshot->pending_readers = aio_rw_lock_state_pending_readers (state);
  snapshot->pending_writers = aio_rw_lock_state_pending_writers (state);
  snapshot->closed = state->closed;
}

void
aio_rw_lock_core_snapshot (AioRwLockCore     *self,
                           AioRwLockSnapshot *snapshot)
{
  core_lock (self);
  snapshot_locked (self, snapshot);
  core_unlock (self);
}

static void
list_entry (AioRwLockMode           mode,
            gboolean                waiting,
            const AioRwLockRecord  *record,
            AioRwLockEntryFunc      func,
            gpointer                user_data)
{
  AioRwLockEntry entry = { mode, waiting, 0, 0, NULL };

  if (record != NULL)
    {
      entry.since_usec = record->since_usec;
      entry.thread_id = record->thread_id;
      entry.label = record->label;
    }
  func (&entry, user_data);
}

/* The @n_held holds in @mode: those that began unrecorded first. */
static void
list_holds_locked (AioRwLockCore      *self,
                   AioRwLockMode       mode,
                   guint               n_held,
                   AioRwLockEntryFunc  func,
                   gpointer            user_data)
{
  guint n_recorded = 0;

  for (GList *l = self->records.head; l != NULL; l = l->next)
    n_recorded += ((AioRwLockRecord *) l->data)->mode == mode;
  for (guint i = n_recorded; i < n_held; i++)
    list_entry (mode, FALSE, NULL, func, user_data);
  for (GList *l = self->records.head; l != NULL; l = l->next)
    if (((AioRwLockRecord *) l->data)->mode == mode)
      list_entry (mode, FALSE, l->data, func, user_data);
}

/* The snapshot, and every hold and waiting request, read together: holds
 * (WRITE, UPGRADABLE_READ, then READ), then the pending upgrade, then the
 * queue in arrival order. @func runs under the mutex: it must not call
 * into the lock. */
void
aio_rw_lock_core_list (AioRwLockCore      *self,
                       AioRwLockSnapshot  *snapshot,
                       AioRwLockEntryFunc  func,
                       gpointer            user_data)
{
  const AioRwLockState *state = &self->state;
  GList *heads[3];

  core_lock (self);
  snapshot_locked (self, snapshot);

  list_holds_locked (self, AIO_RW_LOCK_MODE_WRITE, state->writer, func, user_data);
  list_holds_locked (self, AIO_RW_LOCK_MODE_UPGRADABLE_READ, state->upgradable, func, user_data);
  list_holds_locked (self, AIO_RW_LOCK_MODE_READ, state->n_read, func, user_data);

  if (state->upgrade != NULL)
    list_entry (AIO_RW_LOCK_MODE_WRITE, TRUE,
                ((AioRwLockWaiter *) state->upgrade)->record, func, user_data);

  /* The three queues merged by arrival. */
  for (guint m = 0; m < G_N_ELEMENTS (heads); m++)
    heads[m] = state->queue[m].head;
  for (;;)
    {
      AioRwLockRequest *first = NULL;
      guint first_mode = 0;

      for (guint m = 0; m < G_N_ELEMENTS (heads); m++)
        {
          AioRwLockRequest *request = heads[m] != NULL ? heads[m]->data : NULL;

          if (request != NULL && (first == NULL || request->seq < first->seq))
            {
              first = request;
              first_mode = m;
            }
        }
      if (first == NULL)
        break;
      heads[first_mode] = heads[first_mode]->next;
      list_entry (first->mode, TRUE, ((AioRwLockWaiter *) first)->record, func, user_data);
    }
  core_unlock (self);
}

void
aio_rw_lock_core_inspect (AioRwLockCore        *self,
                          AioRwLockInspectFunc  func,
                          gpointer              user_data)
{
  core_lock (self);
  func (&self->state, user_data);
  core_unlock (self);
}

/* ---- Guards ---- */

AioRwLockGuard *
aio_rw_lock_core_guard_ref (AioRwLockGuard *guard)
{
  g_atomic_ref_count_inc (&guard->ref_count);
  return guard;
}

static void
release_locked (AioRwLockCore  *self,
                AioRwLockGuard *guard)
{
  /* A waiting upgrade leaves the queue; one already decided learns at
   * delivery that its guard is gone. */
  if (guard->upgrade != NULL && guard->upgrade->status == AIO_RW_LOCK_WAITER_QUEUED)
    {
      aio_rw_lock_state_remove (&self->state, &guard->upgrade->request);
      settle_locked (self, guard->upgrade, AIO_RW_LOCK_WAITER_FAILED,
                     AIO_RW_LOCK_FAILURE_RELEASED_WHILE_WAITING);
    }

  change_mode_locked (self, guard, AIO_RW_LOCK_HOLD_NONE);
  serve_locked (self);
}

/* The hold of a HELD guard whose release was claimed: one
 * compare-and-swap, unless the state counts the holds now. */
static void
end_fast_hold (AioRwLockCore *self,
               AioRwLockMode  mode)
{
  if (G_LIKELY (aio_rw_lock_fast_leave (&self->fast, mode)))
    return;

  core_lock (self);
  aio_rw_lock_state_convert (&self->state, mode, AIO_RW_LOCK_HOLD_NONE);
  serve_locked (self);
  unlock_changed (self);
}

/* FALSE if it was released already (also by a release racing this one). */
static gboolean
release (AioRwLockCore  *self,
         AioRwLockGuard *guard)
{
  gint status = GUARD_HELD;
  gboolean was_held;

  if (__atomic_compare_exchange_n (&guard->status, &status, GUARD_RELEASED, FALSE,
                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    {
      end_fast_hold (self, guard->mode);
      return TRUE;
    }
  if (status == GUARD_RELEASED)
    return FALSE;

  /* HELD_SLOW: it changes under the mutex only. */
  core_lock (self);
  was_held = !guard_released (guard);
  if (was_held)
    release_locked (self, guard);
  unlock_changed (self);

  return was_held;
}

void
aio_rw_lock_core_guard_unref (AioRwLockGuard *guard)
{
  AioRwLockCore *self = guard->core;
  GObject *owner = self->owner;

  /* The only reference is the caller's: nobody can take another, so the
   * locked decrement is not needed. */
  if (!g_atomic_ref_count_compare (&guard->ref_count, 1) &&
      !g_atomic_ref_count_dec (&guard->ref_count))
    return;

  /* Usually released already. */
  if (!guard_released (guard))
    release (self, guard);

  if (guard->hold != NULL && g_atomic_ref_count_dec (&guard->hold->ref_count))
    {
      g_assert (guard->hold->record == NULL);
      g_free (guard->hold);
    }
  g_free (guard);

  g_object_unref (owner);
}

GObject *
aio_rw_lock_core_guard_get_owner (AioRwLockGuard *guard)
{
  return guard->core->owner;
}

AioRwLockMode
aio_rw_lock_core_guard_get_mode (AioRwLockGuard *guard)
{
  AioRwLockCore *self = guard->core;
  AioRwLockMode mode;

  core_lock (self);
  mode = visible_mode_locked (guard);
  core_unlock (self);

  return mode;
}

gboolean
aio_rw_lock_core_guard_is_held (AioRwLockGuard *guard)
{
  return !guard_released (guard);
}

/* FALSE if it was released already (the caller's programmer error). */
gboolean
aio_rw_lock_core_guard_release (AioRwLockGuard *guard)
{
  return release (guard->core, guard);
}

static const char *
reenter_refusal (AioRwLockMode have,
                 AioRwLockMode want)
{
  if (want == AIO_RW_LOCK_MODE_WRITE && have == AIO_RW_LOCK_MODE_READ)
    return "Cannot upgrade a read hold to write";
  if (want == AIO_RW_LOCK_MODE_WRITE && have == AIO_RW_LOCK_MODE_UPGRADABLE_READ)
    return "Cannot re-enter an upgradable read hold as write; upgrade the guard with upgrade_async() instead";
  if (want == AIO_RW_LOCK_MODE_UPGRADABLE_READ && have == AIO_RW_LOCK_MODE_READ)
    return "Cannot re-enter a read hold as upgradable read";
  return NULL;
}

AioRwLockGuard *
aio_rw_lock_core_guard_reenter (AioRwLockGuard  *guard,
                                AioRwLockMode    mode,
                                GError         **error)
{
  AioRwLockCore *self = guard->core;
  AioRwLockGuard *again = NULL;
  const char *refusal;

  core_lock (self);

  if (!guard_hold_slow_locked (guard))
    g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                         "The guard was already released");
  else if ((refusal = reenter_refusal (visible_mode_locked (guard), mode)) != NULL)
    g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK, refusal);
  else
    {
      if (guard->hold == NULL)
        {
          guard->hold = g_new0 (AioRwLockHold, 1);
          g_atomic_ref_count_init (&guard->hold->ref_count);
          guard->hold->n[guard->mode] = 1;
          guard->hold->record = g_steal_pointer (&guard->record);
          if (guard->mode == AIO_RW_LOCK_MODE_WRITE)
            self->write_hold = guard->hold;
        }

      /* Shares the hold: the state's count of it does not change. */
      again = guard_new (self, mode, NULL);
      again->status = GUARD_HELD_SLOW;
      again->hold = guard->hold;
      g_atomic_ref_count_inc (&again->hold->ref_count);
      again->hold->n[mode]++;
    }

  unlock_changed (self);

  return again;
}

/* NULL, or why downgrading is a programmer error. */
/* How much a mode lets its holder do: READ < UPGRADABLE_READ < WRITE. */
static guint
mode_strength (AioRwLockMode mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      return 0;
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      return 1;
    case AIO_RW_LOCK_MODE_WRITE:
    default:
      return 2;
    }
}

gboolean
aio_rw_lock_core_guard_downgrade_to (AioRwLockGuard  *guard,
                                     AioRwLockMode    mode,
                                     GError         **error)
{
  AioRwLockCore *self = guard->core;
  gboolean downgraded = FALSE;

  core_lock (self);
  if (!guard_hold_slow_locked (guard))
    g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                         "The guard was already released");
  else if (guard->upgrade != NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                         "The guard's upgrade is pending");
  else if (mode_strength (mode) >= mode_strength (guard->mode))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "Cannot downgrade a %s guard to %s",
                 aio_rw_lock_state_mode_name (guard->mode),
                 aio_rw_lock_state_mode_name (mode));
  else
    {
      change_mode_locked (self, guard, mode);
      serve_locked (self);
      downgraded = TRUE;
    }
  unlock_changed (self);

  return downgraded;
}

/* NULL, or why downgrading to READ is a programmer error: downgrade_to ()
 * with a READ guard left as it is. */
const char *
aio_rw_lock_core_guard_downgrade (AioRwLockGuard *guard)
{
  g_autoptr(GError) error = NULL;

  if (aio_rw_lock_core_guard_downgrade_to (guard, AIO_RW_LOCK_MODE_READ, &error) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    return NULL;
  if (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD))
    return "the guard was already released";
  return "the guard's upgrade is pending";
}

/* The upgrade of submit_locked (), without waiting. */
gboolean
aio_rw_lock_core_guard_try_upgrade (AioRwLockGuard  *guard,
                                    GError         **error)
{
  AioRwLockCore *self = guard->core;
  AioRwLockFailure failure = AIO_RW_LOCK_FAILURE_NONE;

  core_lock (self);
  if (!guard_hold_slow_locked (guard))
    failure = AIO_RW_LOCK_FAILURE_ALREADY_RELEASED;
  else if (guard->mode == AIO_RW_LOCK_MODE_READ)
    failure = AIO_RW_LOCK_FAILURE_UPGRADE_OF_READ;
  else if (guard->upgrade != NULL || self->state.upgrade != NULL)
    failure = AIO_RW_LOCK_FAILURE_UPGRADE_PENDING;
  else if (hold_mode_locked (guard) == AIO_RW_LOCK_MODE_WRITE)
    change_mode_locked (self, guard, AIO_RW_LOCK_MODE_WRITE);  /* exclusive already */
  else if (self->state.closed)
    failure = AIO_RW_LOCK_FAILURE_CLOSED;
  else if (aio_rw_lock_state_try_upgrade (&self->state))
    {
      AioRwLockMode from, to;

      /* The state counts the hold as WRITE already. */
      set_guard_mode_locked (self, guard, AIO_RW_LOCK_MODE_WRITE, &from, &to);
      record_sync_locked (self, guard);
    }
  else
    failure = AIO_RW_LOCK_FAILURE_WOULD_BLOCK;
  unlock_changed (self);

  if (failure != AIO_RW_LOCK_FAILURE_NONE)
    g_propagate_error (error, failure_to_error (failure, NULL));
  return failure == AIO_RW_LOCK_FAILURE_NONE;
}

/* FALSE if it was released already (the caller's programmer error). The
 * label is its hold's: guards that re-entered one another share it. */
gboolean
aio_rw_lock_core_guard_set_label (AioRwLockGuard *guard,
                                  const char     *label)
{
  AioRwLockCore *self = guard->core;
  gboolean held;

  core_lock (self);
  held = guard_hold_slow_locked (guard);
  if (held)
    {
      AioRwLockRecord **record = guard->hold != NULL ? &guard->hold->record : &guard->record;

      if (*record == NULL)
        {
          /* Begun unrecorded: when, and on which thread, is unknown. */
          *record = aio_rw_lock_record_new_unknown (self->name, hold_mode_locked (guard));
          /* Listed first, as the holds that began unrecorded are. */
          g_queue_push_head_link (&self->records, &(*record)->link);
        }
      aio_rw_lock_record_set_label (*record, label);
    }
  unlock_changed (self);

  return held;
}
