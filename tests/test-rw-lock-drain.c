/* test-rw-lock-drain.c: close_async completes when the last hold ends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

typedef struct
{
  gboolean done;
  gboolean drained;
  GError *error;
  GThread *thread;
  char *task_name;
} Drain;

static void
on_drained (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Drain *drain = user_data;

  g_assert_false (drain->done);
  g_assert_true (AIO_IS_RW_LOCK (source));
  drain->task_name = g_strdup (g_task_get_name (G_TASK (result)));
  drain->drained = aio_rw_lock_close_finish (AIO_RW_LOCK (source), result, &drain->error);
  g_assert_true (drain->drained == (drain->error == NULL));
  g_assert_true (aio_rw_lock_is_closed (AIO_RW_LOCK (source)));
  drain->thread = g_thread_self ();
  drain->done = TRUE;
}

static void
close_async (AioRwLock    *lock,
             GCancellable *cancellable,
             Drain        *drain)
{
  aio_rw_lock_close_async (lock, cancellable, on_drained, drain);
  /* Never completes inside the call, even on an idle lock. */
  g_assert_false (drain->done);
  g_assert_true (aio_rw_lock_is_closed (lock));
}

static void
drain_clear (Drain *drain)
{
  g_clear_error (&drain->error);
  g_clear_pointer (&drain->task_name, g_free);
}

static void
test_idle_lock (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Drain drain = { 0 };

  close_async (lock, NULL, &drain);
  aio_test_iterate_until (NULL, &drain.done);
  g_assert_true (drain.drained);
  g_assert_cmpstr (drain.task_name, ==, "aio_rw_lock_close_async");
  drain_clear (&drain);

  /* Again, on the closed lock. */
  memset (&drain, 0, sizeof drain);
  close_async (lock, NULL, &drain);
  aio_test_iterate_until (NULL, &drain.done);
  g_assert_true (drain.drained);
  drain_clear (&drain);
}

/* Waits for every holder; waiters fail at once; two callers both learn. */
static void
test_waits_for_holders (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *a = aio_rw_lock_try_acquire_read (lock);
  AioRwLockGuard *b = aio_rw_lock_try_acquire_read (lock);
  Request writer = { "writer" };
  Drain first = { 0 }, second = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &writer);
  close_async (lock, NULL, &first);
  close_async (lock, NULL, &second);
  aio_test_wait (&writer);
  aio_test_assert_failed (&writer, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  aio_test_iterate_pending (NULL);
  g_assert_false (first.done);

  aio_rw_lock_guard_release (a);
  aio_test_iterate_pending (NULL);
  g_assert_false (first.done);
  g_assert_false (second.done);

  /* The last hold ends with its last reference, never released. */
  aio_rw_lock_guard_unref (b);
  aio_test_iterate_until (NULL, &first.done);
  aio_test_iterate_until (NULL, &second.done);
  g_assert_true (first.drained && second.drained);
  aio_rw_lock_guard_unref (a);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  drain_clear (&first);
  drain_clear (&second);
}

/* Re-entered guards and downgrades keep the hold: only its end counts. */
static void
test_shared_hold (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) writer = aio_rw_lock_try_acquire_write (lock);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_guard_reenter (writer, READ, NULL);
  Drain drain = { 0 };

  close_async (lock, NULL, &drain);
  aio_rw_lock_guard_release (writer);
  aio_test_iterate_pending (NULL);
  g_assert_false (drain.done);
  aio_rw_lock_guard_release (reader);
  aio_test_iterate_until (NULL, &drain.done);
  g_assert_true (drain.drained);
  drain_clear (&drain);
}

/* Cancelling cancels the wait, not the close. */
static void
test_cancelled_wait (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLock) other = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire_read (lock);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  Drain drain = { 0 }, early = { 0 };

  close_async (lock, cancellable, &drain);
  g_cancellable_cancel (cancellable);
  g_assert_false (drain.done);
  aio_test_iterate_until (NULL, &drain.done);
  g_assert_error (drain.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (aio_rw_lock_is_closed (lock));
  g_assert_true (aio_rw_lock_guard_is_held (guard));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  drain_clear (&drain);

  /* Cancelled before the call: the lock is closed all the same. */
  g_cancellable_cancel (cancelled);
  close_async (other, cancelled, &early);
  aio_test_iterate_until (NULL, &early.done);
  g_assert_error (early.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (aio_rw_lock_is_closed (other));
  drain_clear (&early);
}

/* A grant made before the close counts as a hold until it is delivered
 * and released, or handed back. */
static void
test_grant_in_flight (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request kept = { "kept" };
  Request handed_back = { "handed back" };
  Drain drain = { 0 };

  aio_test_acquire (lock, READ, -1, NULL, &kept);
  aio_test_acquire (lock, READ, -1, cancellable, &handed_back);
  aio_rw_lock_guard_release (holder);
  aio_rw_lock_guard_unref (holder);
  /* Both granted, neither delivered. */
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  close_async (lock, NULL, &drain);
  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);

  aio_test_wait (&kept);
  aio_test_wait (&handed_back);
  aio_test_assert_granted (&kept);
  aio_test_assert_failed (&handed_back, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_iterate_pending (NULL);
  g_assert_false (drain.done);
  aio_test_release (&kept);
  aio_test_iterate_until (NULL, &drain.done);
  g_assert_true (drain.drained);
  drain_clear (&drain);
}

typedef struct
{
  AioRwLock *lock;
  AioRwLockGuard *guard;
  GMainContext *context;
  Drain drain;
} Worker;

static gpointer
close_on_thread (gpointer data)
{
  Worker *worker = data;

  g_main_context_push_thread_default (worker->context);
  close_async (worker->lock, NULL, &worker->drain);
  aio_test_iterate_until (worker->context, &worker->drain.done);
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

/* The waiter completes on its own context, whoever ends the last hold. */
static void
test_completes_on_callers_context (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Worker worker = { lock, aio_rw_lock_try_acquire_write (lock), g_main_context_new () };
  GThread *thread;

  thread = g_thread_new ("drain", close_on_thread, &worker);
  while (!aio_rw_lock_is_closed (lock))
    g_usleep (1000);
  aio_rw_lock_guard_release (worker.guard);
  g_thread_join (thread);

  g_assert_true (worker.drain.drained);
  g_assert_true (worker.drain.thread == thread);
  aio_rw_lock_guard_unref (worker.guard);
  g_main_context_unref (worker.context);
  drain_clear (&worker.drain);
}

/* Cancelled from another thread while close_async is being called, at
 * any point of it: every wait (a hold is kept) reports CANCELLED, and
 * nothing is left waiting. Run under ThreadSanitizer too: the canceller's
 * "cancelled" handler looks at the wait from its thread while the caller
 * still sets it up. */
#define N_RACES 4000

typedef struct
{
  GAsyncQueue *to_cancel;
  gint         cancelled;
} DrainRace;

static gpointer
drain_race_canceller (gpointer data)
{
  DrainRace *race = data;

  for (guint i = 0; i < N_RACES; i++)
    {
      GCancellable *cancellable = g_async_queue_pop (race->to_cancel);

      g_cancellable_cancel (cancellable);
      g_object_unref (cancellable);
    }
  return NULL;
}

static void
on_drain_raced (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  DrainRace *race = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_false (aio_rw_lock_close_finish (AIO_RW_LOCK (source), result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  race->cancelled++;
}

static void
test_cancel_during_submission (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, READ, NULL);
  DrainRace race = { g_async_queue_new (), 0 };
  GThread *canceller = g_thread_new ("cancel", drain_race_canceller, &race);
  gint64 end = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_TIME_SPAN_SECOND;

  /* Held throughout: every wait waits, until cancelled. */
  g_assert_true (aio_rw_lock_guard_is_held (guard));

  for (guint i = 0; i < N_RACES; i++)
    {
      GCancellable *cancellable = g_cancellable_new ();

      g_async_queue_push (race.to_cancel, g_object_ref (cancellable));
      aio_rw_lock_close_async (lock, cancellable, on_drain_raced, &race);
      g_object_unref (cancellable);
    }
  g_thread_join (canceller);

  while (race.cancelled < N_RACES)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, FALSE);
    }
  aio_test_iterate_pending (NULL);
  g_assert_cmpint (race.cancelled, ==, N_RACES);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_async_queue_unref (race.to_cancel);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/drain/idle-lock", test_idle_lock);
  g_test_add_func ("/Aio/RwLock/drain/waits-for-holders", test_waits_for_holders);
  g_test_add_func ("/Aio/RwLock/drain/shared-hold", test_shared_hold);
  g_test_add_func ("/Aio/RwLock/drain/cancelled-wait", test_cancelled_wait);
  g_test_add_func ("/Aio/RwLock/drain/grant-in-flight", test_grant_in_flight);
  g_test_add_func ("/Aio/RwLock/drain/completes-on-callers-context", test_completes_on_callers_context);
  g_test_add_func ("/Aio/RwLock/drain/cancel-during-submission", test_cancel_during_submission);

  return g_test_run ();
}
