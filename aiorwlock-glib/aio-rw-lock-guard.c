/* aio-rw-lock-guard.c: one hold of an AioRwLock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-guard.h"
#include "aio-rw-lock-core.h"

/* The guard is the core's (aio-rw-lock-core.c has its fields): these are
 * the checked public wrappers over it. */

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
G_DEFINE_BOXED_TYPE (AioRwLockGuard, aio_rw_lock_guard,
                     aio_rw_lock_guard_ref, aio_rw_lock_guard_unref)

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

  return aio_rw_lock_core_guard_ref (self);
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
  g_return_if_fail (self != NULL);

  aio_rw_lock_core_guard_unref (self);
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

  return AIO_RW_LOCK (aio_rw_lock_core_guard_get_owner (self));
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
  g_return_val_if_fail (self != NULL, AIO_RW_LOCK_MODE_READ);

  return aio_rw_lock_core_guard_get_mode (self);
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
  g_return_val_if_fail (self != NULL, FALSE);

  return aio_rw_lock_core_guard_is_held (self);
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

  if (!aio_rw_lock_core_guard_release (self))
    g_critical ("%s: the guard was already released", G_STRFUNC);
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
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return aio_rw_lock_core_guard_reenter (self, mode, error);
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
  const char *refusal;

  g_return_if_fail (self != NULL);

  if ((refusal = aio_rw_lock_core_guard_downgrade (self)) != NULL)
    g_critical ("%s: %s", G_STRFUNC, refusal);
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
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (aio_rw_lock_core_guard_get_owner (self), cancellable,
                     aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_guard_upgrade_async);
  aio_rw_lock_core_upgrade_async (g_steal_pointer (&task), self, -1, callback, user_data);
}

/**
 * aio_rw_lock_guard_upgrade_full_async:
 * @self: an UPGRADABLE_READ guard
 * @timeout_msec: how long to wait, in milliseconds: -1 for no limit, 0 for
 *   "only if it can be granted at once"
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the guard is WRITE, or the upgrade failed
 * @user_data: data for @callback
 *
 * [method@Aio.RwLockGuard.upgrade_async] with a deadline: an upgrade still
 * waiting when @timeout_msec has passed fails with `G_IO_ERROR_TIMED_OUT`
 * and leaves the guard UPGRADABLE_READ, as it was. A deadline never takes
 * back an upgrade that was granted. [method@Aio.RwLockGuard.try_upgrade]
 * tells the same situation as @timeout_msec 0 apart without a round trip.
 *
 * Since: 1.1
 */
void
aio_rw_lock_guard_upgrade_full_async (AioRwLockGuard      *self,
                                      int                  timeout_msec,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (timeout_msec >= -1);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (aio_rw_lock_core_guard_get_owner (self), cancellable,
                     aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_guard_upgrade_full_async);
  aio_rw_lock_core_upgrade_async (g_steal_pointer (&task), self, timeout_msec, callback, user_data);
}

/**
 * aio_rw_lock_guard_upgrade_full_finish:
 * @self: the guard passed to [method@Aio.RwLockGuard.upgrade_full_async]
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLockGuard.upgrade_full_async]; see
 * [method@Aio.RwLockGuard.upgrade_finish].
 *
 * Returns: `TRUE` if @self is now WRITE, `FALSE` with @error set otherwise
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_guard_upgrade_full_finish (AioRwLockGuard  *self,
                                       GAsyncResult    *result,
                                       GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (g_task_is_valid (result, aio_rw_lock_core_guard_get_owner (self)), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_guard_upgrade_full_async), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_upgrade_get_guard (G_TASK (result)) == self, FALSE);

  return aio_rw_lock_core_upgrade_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_guard_try_upgrade:
 * @self: an UPGRADABLE_READ (or WRITE) guard
 * @error: return location for a #GError
 *
 * Turns an UPGRADABLE_READ guard into a WRITE guard if that needs no wait
 * (no other reader holds the lock), without a main-loop round trip.
 * A WRITE guard, or one whose hold is exclusive already, succeeds at once.
 *
 * Fails, leaving the guard as it was, with `G_IO_ERROR_WOULD_BLOCK` if the
 * upgrade would have to wait, %AIO_RW_LOCK_ERROR_WOULD_DEADLOCK for a READ
 * guard, %AIO_RW_LOCK_ERROR_NOT_HELD for a released one,
 * %AIO_RW_LOCK_ERROR_CLOSED on a closed lock, and `G_IO_ERROR_PENDING`
 * while an upgrade of the same hold is pending.
 *
 * Returns: `TRUE` if @self is now WRITE, `FALSE` with @error set otherwise
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_guard_try_upgrade (AioRwLockGuard  *self,
                               GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return aio_rw_lock_core_guard_try_upgrade (self, error);
}

/**
 * aio_rw_lock_guard_set_label:
 * @self: a held guard
 * @label: (nullable): what the hold is for, or `NULL`
 *
 * Says what the hold of @self is for ("rebuild index", a URI…), for people
 * looking at the lock: an [class@Aio.RwLockMonitor] shows it as the
 * [property@Aio.RwLockHoldInfo:label] of the hold, and the long-hold
 * messages of `AIO_RW_LOCK_DEBUG` and the Sysprof marks carry it. Guards
 * that re-entered one another share one hold, and so one label: the last
 * one set. The label is copied; it goes when the hold ends.
 *
 * Labelling a released guard is a programmer error: it changes nothing.
 *
 * Since: 1.1
 */
void
aio_rw_lock_guard_set_label (AioRwLockGuard *self,
                             const char     *label)
{
  g_return_if_fail (self != NULL);

  if (!aio_rw_lock_core_guard_set_label (self, label))
    g_critical ("%s: the guard was already released", G_STRFUNC);
}

/**
 * aio_rw_lock_guard_downgrade_to:
 * @self: a WRITE or UPGRADABLE_READ guard
 * @mode: a weaker mode: UPGRADABLE_READ or READ for a WRITE guard, READ
 *   for an UPGRADABLE_READ guard
 * @error: return location for a #GError
 *
 * Turns @self into a guard in the weaker @mode, atomically: no writer can
 * enter in between. WRITE to UPGRADABLE_READ keeps the right to upgrade
 * again while letting readers in. Readers (and, under a policy that lets
 * them, upgradable readers) that may enter now do so at once.
 *
 * Fails, changing nothing, with `G_IO_ERROR_INVALID_ARGUMENT` if @mode is
 * the guard's mode or a stronger one, `G_IO_ERROR_PENDING` while an
 * upgrade of @self is pending, and %AIO_RW_LOCK_ERROR_NOT_HELD for a
 * released guard.
 *
 * Returns: `TRUE` if @self is now in @mode, `FALSE` with @error set otherwise
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_guard_downgrade_to (AioRwLockGuard  *self,
                                AioRwLockMode    mode,
                                GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return aio_rw_lock_core_guard_downgrade_to (self, mode, error);
}

/**
 * aio_rw_lock_guard_upgrade_finish:
 * @self: the guard passed to [method@Aio.RwLockGuard.upgrade_async]
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes an upgrade started with [method@Aio.RwLockGuard.upgrade_async].
 * On success @self is a WRITE guard. An upgrade whose cancellable was
 * cancelled before its callback started is handed back (the guard is
 * UPGRADABLE_READ again, and the next waiters were served before the
 * callback ran) and this reports `G_IO_ERROR_CANCELLED`; a cancellation
 * after the callback started is too late, and this reports the upgrade.
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
  g_return_val_if_fail (g_task_is_valid (result, aio_rw_lock_core_guard_get_owner (self)), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_guard_upgrade_async) ||
                        aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_guard_upgrade_full_async) ||
                        aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_upgrade_async), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_upgrade_get_guard (G_TASK (result)) == self, FALSE);

  return aio_rw_lock_core_upgrade_finish (G_TASK (result), error);
}
