/* aio-rw-lock-waiter.h: one waiting request and how it completes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. A waiter is async (a GTask completed on its caller's main context
 * by that context's completion source) or blocking (a thread asleep on a
 * GCond). Cancellation and deadlines are wired here; the decisions are the
 * state's.
 */

#pragma once

#include <gio/gio.h>

#include "aio-rw-lock-private.h"

G_BEGIN_DECLS

/* Why a request failed. Kept small; the GError is made only when the
 * request's caller learns of it. */
typedef enum
{
  AIO_RW_LOCK_FAILURE_NONE,
  AIO_RW_LOCK_FAILURE_CANCELLED,
  AIO_RW_LOCK_FAILURE_TIMED_OUT,
  AIO_RW_LOCK_FAILURE_NOT_AT_ONCE,
  AIO_RW_LOCK_FAILURE_CLOSED,
  AIO_RW_LOCK_FAILURE_ALREADY_RELEASED,
  AIO_RW_LOCK_FAILURE_RELEASED_WHILE_WAITING,
  AIO_RW_LOCK_FAILURE_RELEASED_BEFORE_COMPLETED,
  AIO_RW_LOCK_FAILURE_UPGRADE_OF_READ,
  AIO_RW_LOCK_FAILURE_UPGRADE_PENDING,
} AioRwLockFailure;

typedef enum
{
  AIO_RW_LOCK_WAITER_NEW,      /* not yet submitted */
  AIO_RW_LOCK_WAITER_QUEUED,   /* in the state's queue */
  AIO_RW_LOCK_WAITER_GRANTED,  /* hold counted, not yet delivered */
  AIO_RW_LOCK_WAITER_FAILED,   /* ->failure says why */
  AIO_RW_LOCK_WAITER_DONE,     /* delivered to its caller */
} AioRwLockWaiterStatus;

struct _AioRwLockWaiter
{
  AioRwLockRequest       request;       /* the state's view; first member */
  gatomicrefcount        ref_count;
  AioRwLockWaiterStatus  status;        /* under lock->mutex */
  AioRwLock             *lock;          /* owned */
  GCancellable          *cancellable;   /* owned, nullable */
  gulong                 cancelled_id;
  AioRwLockFailure       failure;       /* when FAILED */
  AioRwLockGuard        *guard;         /* an upgrade's guard (owned) */
  gboolean               changed_mode;  /* the granted upgrade made it WRITE */

  /* async */
  GTask                 *task;          /* owned until delivered */
  GSource               *dispatcher;    /* owned; completes the task */
  GSource               *timeout_source;

  /* blocking */
  GCond                 *cond;
};

AioRwLockWaiter *aio_rw_lock_waiter_new             (AioRwLock        *lock,
                                                     AioRwLockMode     mode,
                                                     GCancellable     *cancellable,
                                                     GTask            *task);
AioRwLockWaiter *aio_rw_lock_waiter_new_async       (AioRwLock        *lock,
                                                     AioRwLockMode     mode,
                                                     GCancellable     *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer          user_data,
                                                     gpointer          source_tag,
                                                     AioRwLockGuard   *upgrade_of);
AioRwLockWaiter *aio_rw_lock_waiter_ref             (AioRwLockWaiter  *self);
void             aio_rw_lock_waiter_unref           (AioRwLockWaiter  *self);
void             aio_rw_lock_waiter_connect         (AioRwLockWaiter  *self);
gboolean         aio_rw_lock_waiter_fail_if_cancelled_locked (AioRwLockWaiter *self);
void             aio_rw_lock_waiter_settle_locked   (AioRwLockWaiter  *self,
                                                     AioRwLockWaiterStatus status,
                                                     AioRwLockFailure  failure);
void             aio_rw_lock_waiter_fail_locked     (AioRwLockWaiter  *self,
                                                     AioRwLockFailure  failure);
void             aio_rw_lock_waiter_start_timeout_locked (AioRwLockWaiter *self,
                                                     int               timeout_msec);
void             aio_rw_lock_waiter_deliver         (AioRwLockWaiter  *self);
AioRwLockGuard  *aio_rw_lock_waiter_wait            (AioRwLockWaiter  *self,
                                                     gint64            end_time,
                                                     GError          **error);

GSource         *aio_rw_lock_dispatcher_new         (GMainContext     *context);
gboolean         aio_rw_lock_dispatcher_serves      (GSource          *dispatcher,
                                                     GMainContext     *context);
gboolean         aio_rw_lock_dispatcher_is_gone     (GSource          *dispatcher);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AioRwLockWaiter, aio_rw_lock_waiter_unref)

G_END_DECLS
