/* bench-naive.c: the deliberately naive async read-write lock that issue
 * 11's outside measurements compared against
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A GMutex, a GQueue of GTasks, FAIR (a run of readers at the head enters
 * together, a writer alone, nobody passes a waiter), one GTask per
 * request and a guard per grant. Cancellation is left out: S3 uses none.
 *
 * The difference that matters: a release returns the next waiters' GTasks
 * itself. GTask completes a task returned from a dispatch on its own
 * context at once, so their callbacks run inside naive_guard_release ()
 * and a hand-off costs no main-loop iteration. AioRwLock may not do that
 * (DESIGN.md: no call into the library runs a user callback before it
 * returns): its grants are delivered from the context's completion source
 * in the next iteration.
 */

#include "bench-naive.h"

struct _NaiveLock
{
  GMutex mutex;
  GQueue queue;    /* waiting GTasks; task data: the NaiveGuard to be */
  guint  readers;
  guint  writer : 1;
};

struct _NaiveGuard
{
  NaiveLock *lock;
  gboolean   write;
};

NaiveLock *
naive_lock_new (void)
{
  NaiveLock *lock = g_new0 (NaiveLock, 1);

  g_mutex_init (&lock->mutex);
  return lock;
}

void
naive_lock_free (NaiveLock *lock)
{
  g_assert (g_queue_is_empty (&lock->queue));
  g_mutex_clear (&lock->mutex);
  g_free (lock);
}

gboolean
naive_lock_is_free (NaiveLock *lock)
{
  gboolean is_free;

  g_mutex_lock (&lock->mutex);
  is_free = lock->readers == 0 && !lock->writer && g_queue_is_empty (&lock->queue);
  g_mutex_unlock (&lock->mutex);
  return is_free;
}

static gboolean
compatible (NaiveLock *lock,
            gboolean   write)
{
  return !lock->writer && (!write || lock->readers == 0);
}

static void
enter (NaiveLock *lock,
       gboolean   write)
{
  if (write)
    lock->writer = TRUE;
  else
    lock->readers++;
}

/* The request's guard, made with its task, becomes the task's result. */
static void
grant (GTask *task)
{
  g_task_return_pointer (task, g_task_get_task_data (task), g_free);
  g_object_unref (task);
}

static gboolean
wants_write (GTask *task)
{
  return ((NaiveGuard *) g_task_get_task_data (task))->write;
}

void
naive_lock_acquire_async (NaiveLock           *lock,
                          gboolean             write,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  NaiveGuard *guard = g_new (NaiveGuard, 1);
  gboolean now;

  guard->lock = lock;
  guard->write = write;
  g_task_set_task_data (task, guard, NULL);

  g_mutex_lock (&lock->mutex);
  now = g_queue_is_empty (&lock->queue) && compatible (lock, write);
  if (now)
    enter (lock, write);
  else
    g_queue_push_tail (&lock->queue, task);
  g_mutex_unlock (&lock->mutex);

  if (now)
    grant (task);
}

NaiveGuard *
naive_lock_acquire_finish (GAsyncResult  *result,
                           GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Frees GUARD; the waiters it lets in are completed before it returns. */
void
naive_guard_release (NaiveGuard *guard)
{
  NaiveLock *lock = guard->lock;
  GQueue granted = G_QUEUE_INIT;
  GTask *task;

  g_mutex_lock (&lock->mutex);
  if (guard->write)
    lock->writer = FALSE;
  else
    lock->readers--;
  while ((task = g_queue_peek_head (&lock->queue)) != NULL &&
         compatible (lock, wants_write (task)))
    {
      enter (lock, wants_write (task));
      g_queue_push_tail (&granted, g_queue_pop_head (&lock->queue));
    }
  g_mutex_unlock (&lock->mutex);
  g_free (guard);

  while ((task = g_queue_pop_head (&granted)) != NULL)
    grant (task);
}
