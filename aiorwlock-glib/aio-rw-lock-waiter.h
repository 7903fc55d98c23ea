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

typedef enum
{
  AIO_RW_LOCK_WAITER_NEW,      /* not yet submitted */
  AIO_RW_LOCK_WAITER_QUEUED,   /* in the state's queue */
  AIO_RW_LOCK_WAITER_GRANTED,  /* hold counted, not yet delivered */
  AIO_RW_LOCK_WAITER_FAILED,   /* ->error says why */
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
  GError                *error;         /* when FAILED */
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
AioRwLockWaiter *aio_rw_lock_waiter_ref             (AioRwLockWaiter  *self);
void             aio_rw_lock_waiter_unref           (AioRwLockWaiter  *self);
void             aio_rw_lock_waiter_connect         (AioRwLockWaiter  *self);
gboolean         aio_rw_lock_waiter_fail_if_cancelled_locked (AioRwLockWaiter *self);
void             aio_rw_lock_waiter_settle_locked   (AioRwLockWaiter  *self,
                                                     AioRwLockWaiterStatus status,
                                                     GError           *error);
void             aio_rw_lock_waiter_fail_locked     (AioRwLockWaiter  *self,
                                                     GQuark            domain,
                                                     int               code,
                                                     const char       *message);
void             aio_rw_lock_waiter_start_timeout_locked (AioRwLockWaiter *self,
                                                     int               timeout_msec);
void             aio_rw_lock_waiter_deliver         (AioRwLockWaiter  *self);
AioRwLockGuard  *aio_rw_lock_waiter_wait            (AioRwLockWaiter  *self,
                                                     gint64            end_time,
                                                     GError          **error);

GSource         *aio_rw_lock_dispatcher_new         (GMainContext     *context);
gboolean         aio_rw_lock_dispatcher_serves      (GSource          *dispatcher,
                                                     GMainContext     *context);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AioRwLockWaiter, aio_rw_lock_waiter_unref)

G_END_DECLS
