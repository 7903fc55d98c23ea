/* aio-rw-lock-waiter.h: one waiting request, and how it is woken
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. A waiter is async (its GTask is completed on the caller's main
 * context through that context's completion source) or blocking (a thread
 * asleep on a GCond). It knows nothing of the lock: what happens to it is
 * decided by the core, under the core's mutex, and what comes back up (a
 * cancellation, a deadline, a completion due) arrives through the function
 * pointers the core gives it.
 */

#pragma once

#include <gio/gio.h>

#include "aio-completion-source.h"
#include "aio-rw-lock-record.h"
#include "aio-rw-lock-state.h"

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
  AIO_RW_LOCK_FAILURE_WOULD_BLOCK,
} AioRwLockFailure;

typedef enum
{
  AIO_RW_LOCK_WAITER_NEW,      /* not yet submitted */
  AIO_RW_LOCK_WAITER_QUEUED,   /* in the state's queue */
  AIO_RW_LOCK_WAITER_GRANTED,  /* hold counted, its caller not told yet */
  AIO_RW_LOCK_WAITER_FAILED,   /* ->failure says why */
  AIO_RW_LOCK_WAITER_DONE,     /* its caller was told */
} AioRwLockWaiterStatus;

typedef struct _AioRwLockWaiter AioRwLockWaiter;

struct _AioRwLockWaiter
{
  AioRwLockRequest       request;       /* the state's view; first member */
  AioCompletion          completion;    /* an async waiter's, when woken */

  /* Under the core's mutex (set once at init for blocking). */
  guint                  status : 4;    /* AioRwLockWaiterStatus */
  guint                  failure : 4;   /* AioRwLockFailure: when FAILED, and
                                         * still once DONE */
  guint                  changed_mode : 1;  /* a granted upgrade made the guard WRITE */
  guint                  blocking : 1;  /* woken by cond, not completions */
  guint                  is_drain : 1;  /* close_async: waits for the holds to
                                         * end, not in the state's queue */
  /* Set at init, read without the mutex: not a bit beside the ones above,
   * which a cancel handler on another thread writes. */
  guint8                 has_tail;      /* allocated as an AioRwLockWaiterFull */

  gpointer               core;          /* what the handlers get back */
  AioRwLockGuard        *guard;         /* owned: an upgrade's guard, or the guard
                                         * an acquisition delivers */
  GTask                 *task;          /* owned from submission until completed */
  AioRwLockRecord       *record;        /* owned while recorded: the wait,
                                         * then the hold until delivered */
  union {
    GSource             *completions;   /* async: not owned, lives as long as
                                         * the task's context */
    GCond               *cond;          /* blocking */
  };
  GAsyncReadyCallback    callback;      /* async: the caller's */
  gpointer               user_data;
};

/* What only some requests need: a request without a cancellable, a
 * deadline or a key to keep (most of them) is allocated without it, in a
 * 128-byte block instead of a 160-byte one. Only through
 * aio_rw_lock_waiter_tail (). */
typedef struct
{
  GCancellable          *cancellable;   /* not owned: the task's or the caller's */
  gulong                 cancelled_id;
  GSource               *deadline;      /* owned; an async waiter's */
  GObject               *keep_alive;    /* owned until delivered: a keyed
                                         * table's request keeps its key's lock */
} AioRwLockWaiterTail;

typedef struct
{
  AioRwLockWaiter        waiter;
  AioRwLockWaiterTail    tail;
} AioRwLockWaiterFull;

/* NULL for a waiter made without one. */
static inline AioRwLockWaiterTail *
aio_rw_lock_waiter_tail (AioRwLockWaiter *self)
{
  return self->has_tail ? &((AioRwLockWaiterFull *) self)->tail : NULL;
}

static inline GCancellable *
aio_rw_lock_waiter_get_cancellable (AioRwLockWaiter *self)
{
  return self->has_tail ? ((AioRwLockWaiterFull *) self)->tail.cancellable : NULL;
}

AioRwLockWaiter *aio_rw_lock_waiter_new_async  (gpointer              core,
                                                AioRwLockMode         mode,
                                                GTask                *task,
                                                gboolean              with_tail,
                                                AioCompletionFunc     on_completion,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
void             aio_rw_lock_waiter_init_blocking (AioRwLockWaiterFull *self,
                                                gpointer              core,
                                                AioRwLockMode         mode,
                                                GCancellable         *cancellable,
                                                GCond                *cond);
void             aio_rw_lock_waiter_free       (AioRwLockWaiter      *self);
void             aio_rw_lock_waiter_connect    (AioRwLockWaiter      *self,
                                                GCallback             on_cancelled);
void             aio_rw_lock_waiter_start_deadline (AioRwLockWaiter  *self,
                                                int                   timeout_msec,
                                                GSourceFunc           on_deadline);
void             aio_rw_lock_waiter_wake       (AioRwLockWaiter      *self);
void             aio_rw_lock_waiter_disconnect (AioRwLockWaiter      *self,
                                                gulong                cancelled_id,
                                                GSource              *deadline);

G_END_DECLS
