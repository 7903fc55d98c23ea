/* aio-rw-lock-waiter.c: one waiting request, and how it is woken
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-waiter.h"

/* The waiter of an async request: @task's, owned by its task data from
 * here on (the core sets it), completed on the task's context by
 * @on_completion. The task's reference to its context keeps that
 * context's completion source alive. */
AioRwLockWaiter *
aio_rw_lock_waiter_new_async (gpointer             core,
                              AioRwLockMode        mode,
                              GTask               *task,
                              AioCompletionFunc    on_completion,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  /* g_new () and memset (): glibc's calloc () bypasses its thread cache. */
  AioRwLockWaiter *self = g_new (AioRwLockWaiter, 1);

  memset (self, 0, sizeof *self);
  self->request.mode = mode;
  self->request.link.data = self;
  self->completion.func = on_completion;
  self->status = AIO_RW_LOCK_WAITER_NEW;
  self->core = core;
  self->cancellable = g_task_get_cancellable (task);
  self->task = task;
  self->completions = aio_completion_source_get (g_task_get_context (task));
  self->callback = callback;
  self->user_data = user_data;

  return self;
}

/* A blocking waiter lives in its caller's frame. */
void
aio_rw_lock_waiter_init_blocking (AioRwLockWaiter *self,
                                  gpointer         core,
                                  AioRwLockMode    mode,
                                  GCancellable    *cancellable,
                                  GCond           *cond)
{
  memset (self, 0, sizeof *self);
  self->request.mode = mode;
  self->request.link.data = self;
  self->status = AIO_RW_LOCK_WAITER_NEW;
  self->core = core;
  self->cancellable = cancellable;
  self->blocking = TRUE;
  self->cond = cond;
}

/* What the core left in it (its guard, its error) is the core's to free
 * first. */
void
aio_rw_lock_waiter_free (AioRwLockWaiter *self)
{
  g_assert (self->cancelled_id == 0 && self->deadline == NULL && self->task == NULL);
  g_assert (self->keep_alive == NULL && self->record == NULL);
  g_assert (self->guard == NULL);

  g_free (self);
}

/* Before submission, without the core's mutex: @on_cancelled may run at
 * once, in this call, and takes that mutex. It gets the waiter; it is
 * disconnected before the waiter goes. */
void
aio_rw_lock_waiter_connect (AioRwLockWaiter *self,
                            GCallback        on_cancelled)
{
  g_assert (self->status == AIO_RW_LOCK_WAITER_NEW);

  if (self->cancellable != NULL)
    self->cancelled_id = g_cancellable_connect (self->cancellable, on_cancelled, self, NULL);
}

/* An async waiter's deadline, on its task's context. */
void
aio_rw_lock_waiter_start_deadline (AioRwLockWaiter *self,
                                   int              timeout_msec,
                                   GSourceFunc      on_deadline)
{
  GSource *source;

  g_assert (self->task != NULL && self->deadline == NULL);

  source = g_timeout_source_new (timeout_msec);
  g_source_set_static_name (source, "[aiorwlock] acquire deadline");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, on_deadline, self, NULL);
  g_source_attach (source, g_task_get_context (self->task));
  self->deadline = source;
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
    g_cancellable_disconnect (self->cancellable, cancelled_id);
  if (deadline != NULL)
    {
      g_source_destroy (deadline);
      g_source_unref (deadline);
    }
}
