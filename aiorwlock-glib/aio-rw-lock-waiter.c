/* aio-rw-lock-waiter.c: one waiting request and how it completes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-waiter.h"

/* Lock order: lock->mutex, then a dispatcher's mutex, then GLib's own
 * (context, cancellable). Nothing here calls g_cancellable_connect() or
 * _disconnect() with lock->mutex held: a "cancelled" handler running in
 * another thread takes that mutex, and disconnect waits for the handler. */

AioRwLockWaiter *
aio_rw_lock_waiter_new (AioRwLock     *lock,
                        AioRwLockMode  mode,
                        GCancellable  *cancellable,
                        GTask         *task)
{
  AioRwLockWaiter *self = aio_rw_lock_take_spare (&lock->spare_waiter, sizeof *self);

  g_atomic_ref_count_init (&self->ref_count);
  self->status = AIO_RW_LOCK_WAITER_NEW;
  self->request.mode = mode;
  self->request.link.data = self;
  self->lock = g_object_ref (lock);
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  self->task = task;

  return self;
}

/* The GTask and waiter of an async request (an acquisition, or the upgrade
 * of @upgrade_of), connected to @cancellable and ready to submit; or NULL
 * if @cancellable was cancelled already: the task then reports that,
 * never before the caller returns, and the lock is not touched. */
AioRwLockWaiter *
aio_rw_lock_waiter_new_async (AioRwLock           *lock,
                              AioRwLockMode        mode,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data,
                              gpointer             source_tag,
                              AioRwLockGuard      *upgrade_of)
{
  g_autoptr(GTask) task = g_task_new (lock, cancellable, callback, user_data);
  AioRwLockWaiter *self;

  g_task_set_source_tag (task, source_tag);
  /* The upgrade's _finish checks the guard; set before any return. */
  if (upgrade_of != NULL)
    g_task_set_task_data (task, aio_rw_lock_guard_ref (upgrade_of),
                          (GDestroyNotify) aio_rw_lock_guard_unref);
  /* A grant cancelled before its callback is handed back by the lock and
   * reported by _finish: GTask's own check would strand it in the task. */
  g_task_set_check_cancellable (task, FALSE);

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "Operation was cancelled");
      return NULL;
    }

  /* The waiter owns the task from here; the lock owns the waiter from its
   * submission until it is delivered. */
  self = aio_rw_lock_waiter_new (lock, mode, cancellable, g_steal_pointer (&task));
  if (upgrade_of != NULL)
    self->guard = aio_rw_lock_guard_ref (upgrade_of);
  aio_rw_lock_waiter_connect (self);

  return self;
}

AioRwLockWaiter *
aio_rw_lock_waiter_ref (AioRwLockWaiter *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
aio_rw_lock_waiter_unref (AioRwLockWaiter *self)
{
  AioRwLock *lock;

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_assert (self->status == AIO_RW_LOCK_WAITER_DONE ||
            self->status == AIO_RW_LOCK_WAITER_NEW);
  g_assert (self->cancelled_id == 0);
  g_assert (self->timeout_source == NULL);
  g_assert (self->task == NULL);

  g_clear_pointer (&self->guard, aio_rw_lock_guard_unref);
  g_clear_pointer (&self->dispatcher, g_source_unref);
  g_clear_object (&self->cancellable);

  /* Keep it for the lock's next waiter (before dropping our reference:
   * the lock frees its spare when finalized). */
  lock = g_steal_pointer (&self->lock);
  aio_rw_lock_give_spare (&lock->spare_waiter, self);
  g_object_unref (lock);
}

/* Gives a grant back: the hold it counted ends (or, for an upgrade, the
 * guard is UPGRADABLE_READ again) and whoever it blocked is served. */
static void
revoke_locked (AioRwLockWaiter *self)
{
  AioRwLock *lock = self->lock;

  g_assert (self->status == AIO_RW_LOCK_WAITER_GRANTED);

  if (self->request.is_upgrade)
    {
      if (self->changed_mode)
        aio_rw_lock_guard_upgrade_revoked_locked (self->guard);
    }
  else
    aio_rw_lock_state_convert (&lock->state, self->request.mode, AIO_RW_LOCK_HOLD_NONE);

  self->status = AIO_RW_LOCK_WAITER_FAILED;
  self->failure = AIO_RW_LOCK_FAILURE_CANCELLED;
  aio_rw_lock_serve_locked (lock);
}

/* A request that was cancelled, or whose deadline passed, while it was
 * waiting gives up its place; whoever it blocked is served. */
static void
withdraw_locked (AioRwLockWaiter  *self,
                 AioRwLockFailure  failure)
{
  AioRwLock *lock = self->lock;

  g_assert (self->status == AIO_RW_LOCK_WAITER_QUEUED);

  aio_rw_lock_state_remove (&lock->state, &self->request);
  aio_rw_lock_waiter_fail_locked (self, failure);
  aio_rw_lock_serve_locked (lock);
}

/* Any thread; also at once inside g_cancellable_connect(). */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  AioRwLockWaiter *self = user_data;
  AioRwLock *lock = self->lock;

  g_mutex_lock (&lock->mutex);

  switch (self->status)
    {
    case AIO_RW_LOCK_WAITER_NEW:
      /* Not submitted yet: the submission sees the cancellation (the flag
       * is set before this runs) and fails it without touching the state.
       * Settling it here would let another thread deliver and free it
       * while its caller is still submitting it. */
      break;

    case AIO_RW_LOCK_WAITER_QUEUED:
      withdraw_locked (self, AIO_RW_LOCK_FAILURE_CANCELLED);
      break;

    case AIO_RW_LOCK_WAITER_GRANTED:
      /* Granted, but its caller has not seen it yet: hand it on now rather
       * than when the GTask happens to be finalized. */
      revoke_locked (self);
      break;

    case AIO_RW_LOCK_WAITER_FAILED:
    case AIO_RW_LOCK_WAITER_DONE:
    default:
      break;
    }

  g_mutex_unlock (&lock->mutex);
}

/* Before submission, without the mutex: until it is submitted (under the
 * mutex) nobody else touches the waiter, the handler included. */
void
aio_rw_lock_waiter_connect (AioRwLockWaiter *self)
{
  g_assert (self->status == AIO_RW_LOCK_WAITER_NEW);

  if (self->cancellable == NULL)
    return;

  self->cancelled_id = g_cancellable_connect (self->cancellable,
                                              G_CALLBACK (on_cancelled),
                                              aio_rw_lock_waiter_ref (self),
                                              (GDestroyNotify) aio_rw_lock_waiter_unref);
}

/* The first thing a submission does: a request cancelled before (or while)
 * it was connected fails without touching the state. */
gboolean
aio_rw_lock_waiter_fail_if_cancelled_locked (AioRwLockWaiter *self)
{
  if (!g_cancellable_is_cancelled (self->cancellable))
    return FALSE;

  aio_rw_lock_waiter_fail_locked (self, AIO_RW_LOCK_FAILURE_CANCELLED);
  return TRUE;
}

static void
dispatcher_push (GSource         *dispatcher,
                 AioRwLockWaiter *waiter);

/* NEW or QUEUED -> GRANTED or FAILED, and wakes the waiter's owner: the
 * completion source of its context, or its sleeping thread. Never runs a
 * callback. */
void
aio_rw_lock_waiter_settle_locked (AioRwLockWaiter       *self,
                                  AioRwLockWaiterStatus  status,
                                  AioRwLockFailure       failure)
{
  g_assert (self->status == AIO_RW_LOCK_WAITER_NEW ||
            self->status == AIO_RW_LOCK_WAITER_QUEUED);
  g_assert (status == AIO_RW_LOCK_WAITER_GRANTED ||
            status == AIO_RW_LOCK_WAITER_FAILED);
  g_assert ((status == AIO_RW_LOCK_WAITER_FAILED) == (failure != AIO_RW_LOCK_FAILURE_NONE));

  self->status = status;
  self->failure = failure;

  if (self->request.is_upgrade && status == AIO_RW_LOCK_WAITER_GRANTED)
    self->changed_mode = aio_rw_lock_guard_upgrade_granted_locked (self->guard);

  if (self->cond != NULL)
    {
      g_cond_signal (self->cond);
    }
  else
    {
      if (self->dispatcher == NULL)
        self->dispatcher = g_source_ref (aio_rw_lock_get_dispatcher_locked (self->lock,
                                                                            g_task_get_context (self->task)));
      dispatcher_push (self->dispatcher, self);
    }
}

void
aio_rw_lock_waiter_fail_locked (AioRwLockWaiter  *self,
                                AioRwLockFailure  failure)
{
  aio_rw_lock_waiter_settle_locked (self, AIO_RW_LOCK_WAITER_FAILED, failure);
}

static GError *
failure_to_error (AioRwLockFailure failure)
{
  switch (failure)
    {
    case AIO_RW_LOCK_FAILURE_CANCELLED:
      return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                  "Operation was cancelled");
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
    case AIO_RW_LOCK_FAILURE_NONE:
    default:
      g_assert_not_reached ();
    }
}

/* Runs in the waiter's context. */
static gboolean
on_timeout (gpointer user_data)
{
  AioRwLockWaiter *self = user_data;

  g_mutex_lock (&self->lock->mutex);
  if (self->status == AIO_RW_LOCK_WAITER_QUEUED)
    withdraw_locked (self, AIO_RW_LOCK_FAILURE_TIMED_OUT);
  g_mutex_unlock (&self->lock->mutex);

  return G_SOURCE_REMOVE;
}

void
aio_rw_lock_waiter_start_timeout_locked (AioRwLockWaiter *self,
                                         int              timeout_msec)
{
  GSource *source;

  g_assert (self->task != NULL && self->timeout_source == NULL);

  source = g_timeout_source_new (timeout_msec);
  g_source_set_static_name (source, "[aiorwlock] acquire deadline");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, on_timeout, aio_rw_lock_waiter_ref (self),
                         (GDestroyNotify) aio_rw_lock_waiter_unref);
  g_source_attach (source, g_task_get_context (self->task));
  self->timeout_source = source;
}

/* Leaves the lock's world: from here on only its caller sees the waiter. */
static void
finish_locked (AioRwLockWaiter *self,
               gulong          *cancelled_id,
               GSource        **timeout_source)
{
  if (self->status == AIO_RW_LOCK_WAITER_GRANTED &&
      g_cancellable_is_cancelled (self->cancellable))
    revoke_locked (self);

  if (self->request.is_upgrade)
    {
      if (self->status == AIO_RW_LOCK_WAITER_GRANTED &&
          !aio_rw_lock_guard_is_held_locked (self->guard))
        {
          /* The guard was released between the grant and now. */
          self->status = AIO_RW_LOCK_WAITER_FAILED;
          self->failure = AIO_RW_LOCK_FAILURE_RELEASED_BEFORE_COMPLETED;
        }
      /* Its caller learns the outcome now: the upgrade is no longer pending. */
      aio_rw_lock_guard_upgrade_delivered_locked (self->guard, self);
    }

  *cancelled_id = self->cancelled_id;
  self->cancelled_id = 0;
  *timeout_source = g_steal_pointer (&self->timeout_source);
}

static void
disconnect (AioRwLockWaiter *self,
            gulong           cancelled_id,
            GSource         *timeout_source)
{
  g_cancellable_disconnect (self->cancellable, cancelled_id);
  if (timeout_source != NULL)
    {
      g_source_destroy (timeout_source);
      g_source_unref (timeout_source);
    }
}

/* Completes an async waiter: runs in its context, from its dispatcher. */
void
aio_rw_lock_waiter_deliver (AioRwLockWaiter *self)
{
  /* The task's source object is the lock: it outlives the waiter. */
  AioRwLock *lock = self->lock;
  g_autoptr(GTask) task = g_steal_pointer (&self->task);
  AioRwLockWaiterStatus status;
  AioRwLockFailure failure;
  AioRwLockMode mode = self->request.mode;
  gboolean is_upgrade = self->request.is_upgrade;
  gboolean changed_mode;
  GSource *timeout_source;
  gulong cancelled_id;

  g_mutex_lock (&lock->mutex);
  finish_locked (self, &cancelled_id, &timeout_source);
  status = self->status;
  failure = self->failure;
  changed_mode = self->changed_mode;
  self->status = AIO_RW_LOCK_WAITER_DONE;
  g_mutex_unlock (&lock->mutex);

  disconnect (self, cancelled_id, timeout_source);

  /* Drop the reference the lock kept from submission to delivery before
   * the callback runs, so a request it makes can reuse the waiter. */
  aio_rw_lock_waiter_unref (self);

  if (status == AIO_RW_LOCK_WAITER_FAILED)
    g_task_return_error (task, failure_to_error (failure));
  else if (is_upgrade)
    g_task_return_int (task, changed_mode ? AIO_RW_LOCK_UPGRADE_CHANGED_MODE
                                          : AIO_RW_LOCK_UPGRADE_WAS_WRITE);
  else
    g_task_return_pointer (task,
                           aio_rw_lock_guard_new_granted (lock, mode),
                           (GDestroyNotify) aio_rw_lock_guard_unref);
}

/* Sleeps until a blocking waiter is granted, fails or its deadline
 * (monotonic time, -1 for none) passes. Consumes the submission reference. */
AioRwLockGuard *
aio_rw_lock_waiter_wait (AioRwLockWaiter  *self,
                         gint64            end_time,
                         GError          **error)
{
  AioRwLock *lock = self->lock;
  AioRwLockGuard *guard = NULL;
  GSource *timeout_source;
  gulong cancelled_id;

  g_assert (self->cond != NULL && self->task == NULL);

  g_mutex_lock (&lock->mutex);
  while (self->status == AIO_RW_LOCK_WAITER_QUEUED)
    {
      if (end_time < 0)
        {
          g_cond_wait (self->cond, &lock->mutex);
        }
      else if (!g_cond_wait_until (self->cond, &lock->mutex, end_time) &&
               self->status == AIO_RW_LOCK_WAITER_QUEUED)
        {
          withdraw_locked (self, AIO_RW_LOCK_FAILURE_TIMED_OUT);
        }
    }

  finish_locked (self, &cancelled_id, &timeout_source);
  if (self->status == AIO_RW_LOCK_WAITER_GRANTED)
    guard = aio_rw_lock_guard_new_granted (lock, self->request.mode);
  else
    g_propagate_error (error, failure_to_error (self->failure));
  self->status = AIO_RW_LOCK_WAITER_DONE;
  self->cond = NULL;
  g_mutex_unlock (&lock->mutex);

  disconnect (self, cancelled_id, timeout_source);
  aio_rw_lock_waiter_unref (self);

  return guard;
}

/* ---- The completion source: one per (lock, main context) ----
 *
 * Grants, failures and timeouts of async waiters are queued on the source
 * of the waiter's context and completed from its dispatch: never inside the
 * library call (or g_cancellable_cancel()) that decided them, and without an
 * idle source per completion. The source knows nothing of the lock, so a
 * late dispatch never touches a finalized lock: each queued waiter holds its
 * own lock reference. */

typedef struct
{
  GSource       source;
  GMainContext *context;  /* not owned: valid while the source is attached */
  GMutex        mutex;
  GQueue        ready;    /* of AioRwLockWaiter, by request.link */
  gint          n_ready;  /* ready.length, for prepare () without the mutex */
  gint          gone;     /* destroyed with its context */
} AioRwLockDispatcher;

/* Readiness is polled in prepare/check rather than signalled with a ready
 * time: g_source_set_ready_time () writes to the context's wakeup fd on
 * every change, two system calls per completion. Only a push from another
 * thread than the context's owner needs to wake it (it may be in poll ());
 * the owner itself runs prepare before it next polls. */
static void
dispatcher_push (GSource         *source,
                 AioRwLockWaiter *waiter)
{
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;
  gboolean was_empty;

  g_mutex_lock (&self->mutex);
  was_empty = g_queue_is_empty (&self->ready);
  g_queue_push_tail_link (&self->ready, &waiter->request.link);
  g_atomic_int_set (&self->n_ready, self->ready.length);
  g_mutex_unlock (&self->mutex);

  if (was_empty && !g_main_context_is_owner (self->context))
    g_main_context_wakeup (self->context);
}

static gboolean
dispatcher_prepare (GSource *source,
                    gint    *timeout)
{
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;

  *timeout = -1;
  return g_atomic_int_get (&self->n_ready) > 0;
}

static gboolean
dispatcher_check (GSource *source)
{
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;

  return g_atomic_int_get (&self->n_ready) > 0;
}

static AioRwLockWaiter *
dispatcher_pop (AioRwLockDispatcher *self)
{
  GList *link;

  g_mutex_lock (&self->mutex);
  link = g_queue_pop_head_link (&self->ready);
  g_atomic_int_set (&self->n_ready, self->ready.length);
  g_mutex_unlock (&self->mutex);

  return link != NULL ? link->data : NULL;
}

/* Completes the waiters that were due when it started, one at a time in
 * order, so that a callback running a nested main loop on this context
 * (the source may recurse) still receives the ones behind it. Those queued
 * by the callbacks wait for the next dispatch. */
static gboolean
dispatcher_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;
  AioRwLockWaiter *waiter;
  guint n = g_atomic_int_get (&self->n_ready);

  while (n-- > 0 && (waiter = dispatcher_pop (self)) != NULL)
    aio_rw_lock_waiter_deliver (waiter);

  return G_SOURCE_CONTINUE;
}

static void
dispatcher_finalize (GSource *source)
{
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;

  /* Queued waiters keep their context alive, so none can be left here. */
  g_assert (g_queue_is_empty (&self->ready));
  g_mutex_clear (&self->mutex);
}

static GSourceFuncs dispatcher_funcs = {
  .prepare = dispatcher_prepare,
  .check = dispatcher_check,
  .dispatch = dispatcher_dispatch,
  .finalize = dispatcher_finalize,
};

/* The destroy notify of the (unused) callback data: the only notice a
 * source gets when its context is finalized. Read with an atomic, unlike
 * g_source_is_destroyed (), which reads flags the context's thread writes. */
static void
dispatcher_mark_gone (gpointer data)
{
  AioRwLockDispatcher *self = data;

  g_atomic_int_set (&self->gone, TRUE);
}

GSource *
aio_rw_lock_dispatcher_new (GMainContext *context)
{
  GSource *source = g_source_new (&dispatcher_funcs, sizeof (AioRwLockDispatcher));
  AioRwLockDispatcher *self = (AioRwLockDispatcher *) source;

  g_mutex_init (&self->mutex);
  g_queue_init (&self->ready);
  self->context = context;

  g_source_set_static_name (source, "[aiorwlock] completions");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, NULL, self, dispatcher_mark_gone);
  g_source_attach (source, context);

  return source;
}

/* A destroyed source served a context that is gone (another may now have
 * its address). */
gboolean
aio_rw_lock_dispatcher_is_gone (GSource *source)
{
  return g_atomic_int_get (&((AioRwLockDispatcher *) source)->gone);
}

gboolean
aio_rw_lock_dispatcher_serves (GSource      *source,
                               GMainContext *context)
{
  return !aio_rw_lock_dispatcher_is_gone (source) &&
         ((AioRwLockDispatcher *) source)->context == context;
}
