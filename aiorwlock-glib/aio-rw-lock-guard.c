/* aio-rw-lock-guard.c: one hold of an AioRwLock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-private.h"
#include "aio-rw-lock-waiter.h"

/* Guards that re-enter one another share a hold: the lock counts the hold
 * once, in the strongest mode among its unreleased guards. A guard that was
 * never re-entered has no AioRwLockHold: its own mode is the hold's. */
typedef struct
{
  gatomicrefcount ref_count;  /* guards pointing here */
  guint           n[3];       /* unreleased guards per mode; under the lock's mutex */
} AioRwLockHold;

/**
 * AioRwLockGuard:
 *
 * One hold of an [class@Aio.RwLock].
 *
 * Every successful acquisition returns a new guard. The hold ends when
 * [method@Aio.RwLockGuard.release] is called or, if it never was, when the
 * last reference to the guard is dropped, so code that drops its state on
 * an error path cannot leak the lock. A guard keeps its lock alive.
 *
 * Only whoever has the guard can end its hold. Releasing a guard twice is a
 * programmer error: it logs a critical and does not touch the lock.
 *
 * In C, `g_autoptr (AioRwLockGuard)` releases the hold at the end of the
 * scope. From Python and JavaScript the hold ends when the guard is
 * garbage-collected; call `release()` explicitly, since a hidden reference
 * (a traceback, a stored result) can keep a guard alive.
 *
 * Since: 1.0
 */
struct _AioRwLockGuard
{
  gatomicrefcount  ref_count;
  AioRwLock       *lock;       /* owned */
  AioRwLockHold   *hold;       /* shared with re-entered guards, or NULL */
  AioRwLockWaiter *upgrade;    /* an upgrade whose caller has not seen its
                                * outcome yet (not owned) */
  AioRwLockMode    mode;       /* as the lock counts it; under its mutex */
  gint             released;   /* set under the mutex; read atomically by unref */
};

G_DEFINE_BOXED_TYPE (AioRwLockGuard, aio_rw_lock_guard,
                     aio_rw_lock_guard_ref, aio_rw_lock_guard_unref)

static AioRwLockMode
hold_mode_locked (AioRwLockGuard *self)
{
  const guint *n;

  if (self->hold == NULL)
    return self->released ? AIO_RW_LOCK_HOLD_NONE : self->mode;

  n = self->hold->n;
  if (n[AIO_RW_LOCK_MODE_WRITE] > 0)
    return AIO_RW_LOCK_MODE_WRITE;
  if (n[AIO_RW_LOCK_MODE_UPGRADABLE_READ] > 0)
    return AIO_RW_LOCK_MODE_UPGRADABLE_READ;
  if (n[AIO_RW_LOCK_MODE_READ] > 0)
    return AIO_RW_LOCK_MODE_READ;
  return AIO_RW_LOCK_HOLD_NONE;
}

/* Changes this guard's mode (NONE: releases it) and returns how the mode
 * of its hold, which the state counts, changed. */
static void
set_mode_locked (AioRwLockGuard *self,
                 AioRwLockMode   mode,
                 AioRwLockMode  *hold_from,
                 AioRwLockMode  *hold_to)
{
  *hold_from = hold_mode_locked (self);

  if (self->hold != NULL)
    {
      self->hold->n[self->mode]--;
      if (mode != AIO_RW_LOCK_HOLD_NONE)
        self->hold->n[mode]++;
    }

  if (mode == AIO_RW_LOCK_HOLD_NONE)
    g_atomic_int_set (&self->released, TRUE);
  else
    self->mode = mode;

  *hold_to = hold_mode_locked (self);
}

/* The same, and the lock's holds follow; whoever may enter now is served. */
static void
change_mode_locked (AioRwLockGuard *self,
                    AioRwLockMode   mode)
{
  AioRwLock *lock = self->lock;
  AioRwLockMode from, to;

  set_mode_locked (self, mode, &from, &to);
  aio_rw_lock_state_convert (&lock->state, from, to);
  aio_rw_lock_serve_locked (lock);
}

AioRwLockGuard *
aio_rw_lock_guard_new_granted (AioRwLock     *lock,
                               AioRwLockMode  mode)
{
  AioRwLockGuard *self = aio_rw_lock_take_spare (&lock->spare_guard, sizeof *self);

  g_atomic_ref_count_init (&self->ref_count);
  self->lock = g_object_ref (lock);
  self->mode = mode;

  return self;
}

gboolean
aio_rw_lock_guard_is_held_locked (AioRwLockGuard *self)
{
  return !self->released;
}

/* The mode the guard's owner sees: a granted upgrade shows once its
 * callback runs (until then the lock counts the hold as WRITE already). */
static AioRwLockMode
visible_mode_locked (AioRwLockGuard *self)
{
  if (self->upgrade != NULL && self->upgrade->changed_mode)
    return AIO_RW_LOCK_MODE_UPGRADABLE_READ;
  return self->mode;
}

static void
release_locked (AioRwLockGuard *self)
{
  AioRwLock *lock = self->lock;

  /* A waiting upgrade leaves the queue; one already decided learns at
   * delivery that its guard is gone. */
  if (self->upgrade != NULL && self->upgrade->status == AIO_RW_LOCK_WAITER_QUEUED)
    {
      aio_rw_lock_state_remove (&lock->state, &self->upgrade->request);
      aio_rw_lock_waiter_fail_locked (self->upgrade, AIO_RW_LOCK_FAILURE_RELEASED_WHILE_WAITING);
    }

  change_mode_locked (self, AIO_RW_LOCK_HOLD_NONE);
}

/**
 * aio_rw_lock_guard_ref: (skip)
 * @self: a guard
 *
 * Takes a reference on @self. The hold does not change.
 *
 * Returns: (transfer full): @self
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_guard_ref (AioRwLockGuard *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * aio_rw_lock_guard_unref: (skip)
 * @self: (transfer full): a guard
 *
 * Drops a reference on @self. Dropping the last one releases the hold if
 * [method@Aio.RwLockGuard.release] was not called.
 *
 * Since: 1.0
 */
void
aio_rw_lock_guard_unref (AioRwLockGuard *self)
{
  AioRwLock *lock;

  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  /* Usually released already: then the lock's mutex is not needed. */
  if (!g_atomic_int_get (&self->released))
    {
      g_mutex_lock (&self->lock->mutex);
      if (!self->released)
        release_locked (self);
      g_mutex_unlock (&self->lock->mutex);
    }

  if (self->hold != NULL && g_atomic_ref_count_dec (&self->hold->ref_count))
    g_free (self->hold);

  /* Keep it for the lock's next guard (before dropping our reference: the
   * lock frees its spare when finalized). */
  lock = self->lock;
  aio_rw_lock_give_spare (&lock->spare_guard, self);
  g_object_unref (lock);
}

/**
 * aio_rw_lock_guard_get_lock:
 * @self: a guard
 *
 * Gets the lock @self holds (or held).
 *
 * Returns: (transfer none): the lock
 *
 * Since: 1.0
 */
AioRwLock *
aio_rw_lock_guard_get_lock (AioRwLockGuard *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->lock;
}

/**
 * aio_rw_lock_guard_get_mode:
 * @self: a guard
 *
 * Gets the mode of @self: the one it was acquired in, changed by
 * [method@Aio.RwLockGuard.downgrade] and [method@Aio.RwLockGuard.upgrade_async].
 * A released guard keeps its last mode.
 *
 * Returns: the mode of the guard
 *
 * Since: 1.0
 */
AioRwLockMode
aio_rw_lock_guard_get_mode (AioRwLockGuard *self)
{
  AioRwLockMode mode;

  g_return_val_if_fail (self != NULL, AIO_RW_LOCK_MODE_READ);

  g_mutex_lock (&self->lock->mutex);
  mode = visible_mode_locked (self);
  g_mutex_unlock (&self->lock->mutex);

  return mode;
}

/**
 * aio_rw_lock_guard_is_held:
 * @self: a guard
 *
 * Whether @self still holds its lock, that is, it has not been released.
 *
 * Returns: `TRUE` until @self is released
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_guard_is_held (AioRwLockGuard *self)
{
  gboolean held;

  g_return_val_if_fail (self != NULL, FALSE);

  g_mutex_lock (&self->lock->mutex);
  held = !self->released;
  g_mutex_unlock (&self->lock->mutex);

  return held;
}

/**
 * aio_rw_lock_guard_release:
 * @self: a guard
 *
 * Ends the hold of @self. Waiters that may now enter are granted the lock
 * at once (their callbacks run later, from their own main contexts; never
 * before this function returns).
 *
 * If other guards re-entered this hold, the hold goes on in the strongest
 * of their modes: releasing the WRITE guard of a hold that still has READ
 * guards leaves the lock read-held, and readers that the policy allows
 * enter at once.
 *
 * A pending [method@Aio.RwLockGuard.upgrade_async] of @self fails with
 * %AIO_RW_LOCK_ERROR_NOT_HELD.
 *
 * Releasing a guard that was already released is a programmer error: it
 * logs a critical and changes nothing.
 *
 * Since: 1.0
 */
void
aio_rw_lock_guard_release (AioRwLockGuard *self)
{
  g_return_if_fail (self != NULL);

  g_mutex_lock (&self->lock->mutex);
  if (self->released)
    {
      g_mutex_unlock (&self->lock->mutex);
      g_critical ("%s: the guard was already released", G_STRFUNC);
      return;
    }
  release_locked (self);
  g_mutex_unlock (&self->lock->mutex);
}

static const char *
reenter_refusal (AioRwLockMode have,
                 AioRwLockMode want)
{
  if (want == AIO_RW_LOCK_MODE_WRITE && have == AIO_RW_LOCK_MODE_READ)
    return "Cannot upgrade a read hold to write";
  if (want == AIO_RW_LOCK_MODE_WRITE && have == AIO_RW_LOCK_MODE_UPGRADABLE_READ)
    return "Cannot re-enter an upgradable read hold as write; upgrade it with aio_rw_lock_guard_upgrade_async()";
  if (want == AIO_RW_LOCK_MODE_UPGRADABLE_READ && have == AIO_RW_LOCK_MODE_READ)
    return "Cannot re-enter a read hold as upgradable read";
  return NULL;
}

/**
 * aio_rw_lock_guard_reenter:
 * @self: a guard
 * @mode: the mode of the new guard
 * @error: return location for a #GError
 *
 * Re-enters the hold of @self: returns a new guard in @mode that shares the
 * hold, granted at once and never queued, even while writers wait (code
 * that holds the lock can call code that takes it again without
 * deadlocking itself).
 *
 * The mode of @self must cover @mode: READ from any guard,
 * UPGRADABLE_READ from an UPGRADABLE_READ or WRITE guard, WRITE from a
 * WRITE guard. Otherwise this fails with
 * %AIO_RW_LOCK_ERROR_WOULD_DEADLOCK; an UPGRADABLE_READ guard becomes WRITE
 * with [method@Aio.RwLockGuard.upgrade_async] instead. A released @self
 * fails with %AIO_RW_LOCK_ERROR_NOT_HELD.
 *
 * Re-entering works on a closed lock: it starts no new hold.
 *
 * Returns: (transfer full): a new guard, or `NULL` with @error set
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_guard_reenter (AioRwLockGuard  *self,
                           AioRwLockMode    mode,
                           GError         **error)
{
  AioRwLockGuard *guard;
  const char *refusal;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (mode <= AIO_RW_LOCK_MODE_UPGRADABLE_READ, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->lock->mutex);

  if (self->released)
    {
      g_mutex_unlock (&self->lock->mutex);
      g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD,
                           "The guard was already released");
      return NULL;
    }

  if ((refusal = reenter_refusal (visible_mode_locked (self), mode)) != NULL)
    {
      g_mutex_unlock (&self->lock->mutex);
      g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK, refusal);
      return NULL;
    }

  if (self->hold == NULL)
    {
      self->hold = g_new0 (AioRwLockHold, 1);
      g_atomic_ref_count_init (&self->hold->ref_count);
      self->hold->n[self->mode] = 1;
    }

  guard = aio_rw_lock_guard_new_granted (self->lock, mode);
  guard->hold = self->hold;
  g_atomic_ref_count_inc (&guard->hold->ref_count);
  guard->hold->n[mode]++;

  g_mutex_unlock (&self->lock->mutex);

  return guard;
}

/**
 * aio_rw_lock_guard_downgrade:
 * @self: a guard
 *
 * Turns a WRITE or UPGRADABLE_READ guard into a READ guard, atomically:
 * no writer can enter in between. Readers that the policy allows enter at
 * once. Downgrading a READ guard does nothing.
 *
 * Downgrading a released guard, or one whose upgrade is pending, is a
 * programmer error: it logs a critical and changes nothing.
 *
 * Since: 1.0
 */
void
aio_rw_lock_guard_downgrade (AioRwLockGuard *self)
{
  const char *refusal = NULL;

  g_return_if_fail (self != NULL);

  g_mutex_lock (&self->lock->mutex);
  if (self->released)
    refusal = "the guard was already released";
  else if (self->upgrade != NULL)
    refusal = "the guard's upgrade is pending";
  else if (self->mode != AIO_RW_LOCK_MODE_READ)
    change_mode_locked (self, AIO_RW_LOCK_MODE_READ);
  g_mutex_unlock (&self->lock->mutex);

  if (refusal != NULL)
    g_critical ("%s: %s", G_STRFUNC, refusal);
}

/* Called when the upgrade is granted; the state already counts the hold as
 * WRITE. Returns whether the guard changed from UPGRADABLE_READ to WRITE (a
 * guard whose hold was exclusive already changes nothing). */
gboolean
aio_rw_lock_guard_upgrade_granted_locked (AioRwLockGuard *self)
{
  AioRwLockMode from, to;

  if (self->released || self->mode != AIO_RW_LOCK_MODE_UPGRADABLE_READ)
    return FALSE;

  set_mode_locked (self, AIO_RW_LOCK_MODE_WRITE, &from, &to);
  g_assert (to == AIO_RW_LOCK_MODE_WRITE);
  return TRUE;
}

/* The upgrade's caller is about to learn its outcome. */
void
aio_rw_lock_guard_upgrade_delivered_locked (AioRwLockGuard  *self,
                                            AioRwLockWaiter *waiter)
{
  if (self->upgrade == waiter)
    self->upgrade = NULL;
}

/* A granted upgrade was cancelled before its caller saw it: the guard is
 * UPGRADABLE_READ again (the caller serves the queue). */
void
aio_rw_lock_guard_upgrade_revoked_locked (AioRwLockGuard *self)
{
  AioRwLockMode from, to;

  if (self->released || self->mode != AIO_RW_LOCK_MODE_WRITE)
    return;

  set_mode_locked (self, AIO_RW_LOCK_MODE_UPGRADABLE_READ, &from, &to);
  aio_rw_lock_state_convert (&self->lock->state, from, to);
}

static void
submit_upgrade_locked (AioRwLockGuard  *self,
                       AioRwLockWaiter *waiter)
{
  AioRwLockState *state = &self->lock->state;

  waiter->request.is_upgrade = TRUE;

  if (aio_rw_lock_waiter_fail_if_cancelled_locked (waiter))
    return;

  if (self->released)
    {
      aio_rw_lock_waiter_fail_locked (waiter, AIO_RW_LOCK_FAILURE_ALREADY_RELEASED);
      return;
    }
  if (self->mode == AIO_RW_LOCK_MODE_READ)
    {
      aio_rw_lock_waiter_fail_locked (waiter, AIO_RW_LOCK_FAILURE_UPGRADE_OF_READ);
      return;
    }
  if (self->upgrade != NULL || state->upgrade != NULL)
    {
      aio_rw_lock_waiter_fail_locked (waiter, AIO_RW_LOCK_FAILURE_UPGRADE_PENDING);
      return;
    }

  /* Pending from here until its caller sees the outcome. */
  self->upgrade = waiter;

  if (hold_mode_locked (self) == AIO_RW_LOCK_MODE_WRITE)
    aio_rw_lock_waiter_settle_locked (waiter, AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);  /* already exclusive */
  else if (state->closed)
    aio_rw_lock_waiter_fail_locked (waiter, AIO_RW_LOCK_FAILURE_CLOSED);
  else if (aio_rw_lock_state_try_upgrade (state))
    aio_rw_lock_waiter_settle_locked (waiter, AIO_RW_LOCK_WAITER_GRANTED, AIO_RW_LOCK_FAILURE_NONE);
  else
    {
      aio_rw_lock_state_enqueue_upgrade (state, &waiter->request);
      waiter->status = AIO_RW_LOCK_WAITER_QUEUED;
    }
}

/**
 * aio_rw_lock_upgrade_async:
 * @self: a lock
 * @guard: an UPGRADABLE_READ guard of @self
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when @guard is WRITE, or the upgrade failed
 * @user_data: data for @callback
 *
 * The same as [method@Aio.RwLockGuard.upgrade_async], as a method of the
 * lock, whose result [method@Aio.RwLock.upgrade_finish] finishes. Either
 * finish function takes the result of either start function; bindings that
 * finish on the source object (GJS's `Gio._promisify`) use this one.
 *
 * Since: 1.0
 */
void
aio_rw_lock_upgrade_async (AioRwLock           *self,
                           AioRwLockGuard      *guard,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  AioRwLockWaiter *waiter;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (guard != NULL);
  g_return_if_fail (guard->lock == self);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  waiter = aio_rw_lock_waiter_new_async (self, AIO_RW_LOCK_MODE_WRITE, cancellable,
                                         callback, user_data, aio_rw_lock_upgrade_async,
                                         guard);
  if (waiter == NULL)
    return;  /* already cancelled */

  g_mutex_lock (&self->mutex);
  submit_upgrade_locked (guard, waiter);
  g_mutex_unlock (&self->mutex);
}

/**
 * aio_rw_lock_upgrade_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.upgrade_async] (or
 * [method@Aio.RwLockGuard.upgrade_async]); see
 * [method@Aio.RwLockGuard.upgrade_finish].
 *
 * Returns: `TRUE` if the guard is now WRITE, `FALSE` with @error set otherwise
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_upgrade_finish (AioRwLock     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  AioRwLockGuard *guard;
  GError *local_error = NULL;
  gssize outcome;

  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, aio_rw_lock_upgrade_async), FALSE);

  guard = g_task_get_task_data (G_TASK (result));
  outcome = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  /* Cancelled after the completion was queued: a cancelled request never
   * reports success, and the guard is left as it was. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
    {
      g_mutex_lock (&self->mutex);
      if (outcome == AIO_RW_LOCK_UPGRADE_CHANGED_MODE)
        {
          aio_rw_lock_guard_upgrade_revoked_locked (guard);
          aio_rw_lock_serve_locked (self);
        }
      g_mutex_unlock (&self->mutex);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
      return FALSE;
    }

  return TRUE;
}

/**
 * aio_rw_lock_guard_upgrade_async:
 * @self: an UPGRADABLE_READ guard
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the guard is WRITE, or the upgrade failed
 * @user_data: data for @callback
 *
 * Turns an UPGRADABLE_READ guard into a WRITE guard. It waits until the
 * other readers have left, ahead of writers that are queued; new readers
 * wait behind it (except under %AIO_RW_LOCK_POLICY_PREFER_READERS, where
 * readers still enter and the upgrade may wait for long). Only one
 * UPGRADABLE_READ hold exists at a time, so two upgrades cannot deadlock.
 *
 * The upgrade fails with %AIO_RW_LOCK_ERROR_WOULD_DEADLOCK for a READ guard,
 * %AIO_RW_LOCK_ERROR_NOT_HELD for a released one (or one released while
 * waiting), %AIO_RW_LOCK_ERROR_CLOSED on a closed lock, `G_IO_ERROR_PENDING`
 * if an upgrade of the same hold is already waiting, and
 * `G_IO_ERROR_CANCELLED` if @cancellable is cancelled before @callback runs.
 * A failed or cancelled upgrade leaves the guard as it was. A guard whose
 * hold is already exclusive (a WRITE guard, or an UPGRADABLE_READ guard
 * re-entered from one) upgrades at once.
 *
 * The task's source object is the lock (a boxed guard cannot be one), so
 * [method@Aio.RwLock.upgrade_finish] finishes it too. @callback runs in the
 * thread-default main context of the calling thread, never before this
 * function returns.
 *
 * Since: 1.0
 */
void
aio_rw_lock_guard_upgrade_async (AioRwLockGuard      *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (self != NULL);

  aio_rw_lock_upgrade_async (self->lock, self, cancellable, callback, user_data);
}

/**
 * aio_rw_lock_guard_upgrade_finish:
 * @self: the guard passed to [method@Aio.RwLockGuard.upgrade_async]
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes an upgrade started with [method@Aio.RwLockGuard.upgrade_async].
 * On success @self is a WRITE guard. If the upgrade's cancellable was
 * cancelled before this call, the upgrade is handed back (the guard is
 * UPGRADABLE_READ again) and this reports `G_IO_ERROR_CANCELLED`.
 *
 * Returns: `TRUE` if @self is now WRITE, `FALSE` with @error set otherwise
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_guard_upgrade_finish (AioRwLockGuard  *self,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self->lock), FALSE);
  g_return_val_if_fail (g_task_get_task_data (G_TASK (result)) == self, FALSE);

  return aio_rw_lock_upgrade_finish (self->lock, result, error);
}
