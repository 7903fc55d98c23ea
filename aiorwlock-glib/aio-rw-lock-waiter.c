/* aio-rw-lock-waiter.c: one waiting request, and how it is woken
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-waiter.h"

/* The waiter of an async request: @task's, owned by its task data from
 * here on (the core sets it), completed on the task's context by
 * @on_completion. The task's reference to its context keeps that
 * context's completion source alive. Made with a tail if @with_tail, or
 * if the task has a cancellable. */
AioRwLockWaiter *
aio_rw_lock_waiter_new_async (gpointer             core,
                              AioRwLockMode        mode,
                              GTask               *task,
                              gboolean             with_tail,
                              AioCompletionFunc    on_completion,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  gsize size = with_tail || cancellable != NULL ? sizeof (AioRwLockWaiterFull) : sizeof (AioRwLockWaiter);
  /* g_malloc () and memset (): glibc's calloc () bypasses its thread cache. */
  AioRwLockWaiter *self = g_malloc (size);

  memset (self, 0, size);
  self->request.mode = mode;
  self->request.link.data = self;
  self->completion.func = on_completion;
  self->status = AIO_RW_LOCK_WAITER_NEW;
  self->has_tail = size == sizeof (AioRwLockWaiterFull);
  self->core = core;
  if (self->has_tail)
    ((AioRwLockWaiterFull *) self)->tail.cancellable = cancellable;
  self->task = task;
  self->completions = aio_completion_source_get (g_task_get_context (task));
  self->callback = callback;
  self->user_data = user_data;

  return self;
}

/* A blocking waiter lives in its caller's frame, with its tail. */
void
aio_rw_lock_waiter_init_blocking (AioRwLockWaiterFull *full,
                                  gpointer             core,
                                  AioRwLockMode        mode,
                                  GCancellable        *cancellable,
                                  GCond               *cond)
{
  AioRwLockWaiter *self = &full->waiter;

  memset (full, 0, sizeof *full);
  self->request.mode = mode;
  self->request.link.data = self;
  self->status = AIO_RW_LOCK_WAITER_NEW;
  self->has_tail = TRUE;
  self->core = core;
  full->tail.cancellable = cancellable;
  self->blocking = TRUE;
  self->cond = cond;
}

/* What the core left in it (its guard, its error) is the core's to free
 * first. */
void
aio_rw_lock_waiter_free (AioRwLockWaiter *self)
{
  AioRwLockWaiterTail *tail = aio_rw_lock_waiter_tail (self);

  g_assert (tail == NULL || (tail->cancelled_id == 0 && tail->deadline == NULL &&
                             tail->keep_alive == NULL));
  g_assert (self->task == NULL && self->record == NULL && self->guard == NULL);

  g_free (self);
}

/* Before submission, without the core's mutex: @on_cancelled may run at
 * once, in this call, and takes that mutex. It gets the waiter; it is
 * disconnected before the waiter goes. */
void
aio_rw_lock_waiter_connect (AioRwLockWaiter *self,
                            GCallback        on_cancelled)
{
  AioRwLockWaiterTail *tail = aio_rw_lock_waiter_tail (self);

  g_assert (self->status == AIO_RW_LOCK_WAITER_NEW);

  if (tail != NULL && tail->cancellable != NULL)
    tail->cancelled_id = g_cancellable_connect (tail->cancellable, on_cancelled, self, NULL);
}

/* An async waiter's deadline, on its task's context. It has a tail. */
void
aio_rw_lock_waiter_start_deadline (AioRwLockWaiter *self,
                                   int              timeout_msec,
                                   GSourceFunc      on_deadline)
{
  AioRwLockWaiterTail *tail = aio_rw_lock_waiter_tail (self);
  GSource *source;

  g_assert (self->task != NULL && tail != NULL && tail->deadline == NULL);

  source = g_timeout_source_new (timeout_msec);
  g_source_set_static_name (source, "[aiorwlock] acquire deadline");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, on_deadline, self, NULL);
  g_source_attach (source, g_task_get_context (self->task));
  tail->deadline = source;
}

/* Tells the waiter's owner that its status changed: the sleeping thread,
 * or the completion source of its context. Never runs a callback. */
void
aio_rw_lock_waiter_wake (AioRwLockWaiter *self)
{
  if (self->blocking)
    g_cond_signal (self->cond);
  else
    aio_completion_source_push (self->completions, &self->completion);
}

/* At delivery, without the core's mutex (a handler running on another
 * thread takes it, and g_cancellable_disconnect () waits for the handler).
 * An async waiter's on its context's thread. */
void
aio_rw_lock_waiter_disconnect (AioRwLockWaiter *self,
                               gulong           cancelled_id,
                               GSource         *deadline)
{
  if (cancelled_id != 0)
    g_cancellable_disconnect (aio_rw_lock_waiter_get_cancellable (self), cancelled_id);
  if (deadline != NULL)
    {
      g_source_destroy (deadline);
      g_source_unref (deadline);
    }
}
