/* test-rw-lock-cancel.c: every cancellation case of DESIGN.md
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

/* Already cancelled at the call: CANCELLED, and the state is untouched
 * even though the lock was free. */
static void
test_pre_cancelled (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Request r = { 0 }, w = { 0 }, any = { 0 };

  g_cancellable_cancel (cancellable);
  aio_rw_lock_acquire_read_async (lock, cancellable, aio_test_on_acquired, &r);
  aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &w);
  aio_test_acquire (lock, READ, 100, cancellable, &any);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  g_assert_false (r.done);

  aio_test_wait (&r);
  aio_test_wait (&w);
  aio_test_wait (&any);
  aio_test_assert_failed (&r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_failed (&w, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_failed (&any, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_assert_null (aio_rw_lock_acquire (lock, WRITE, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Cancelled while queued: removed at once, completed promptly (never
 * inside g_cancellable_cancel()), and the lock is as if it never asked. */
static void
test_cancel_queued (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *w = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 }, r2 = { 0 };

  aio_rw_lock_acquire_read_async (lock, cancellable, aio_test_on_acquired, &r);
  aio_test_iterate_pending (NULL);
  aio_test_assert_state (lock, 0, TRUE, 1, 0);

  g_cancellable_cancel (cancellable);
  g_assert_false (r.done);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_wait (&r);
  aio_test_assert_failed (&r, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The lock works on as before. */
  aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r2);
  aio_rw_lock_guard_unref (w);
  aio_test_wait (&r2);
  aio_test_assert_granted (&r2);
  aio_test_release (&r2);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A cancelled queued writer lets the readers queued behind it in at once,
 * under every policy (aiorwlock's long-standing bug). */
static void
test_cancelled_writer_unblocks_readers (void)
{
  for (AioRwLockPolicy policy = 0; policy <= AIO_RW_LOCK_POLICY_PREFER_WRITERS; policy++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (policy);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      AioRwLockGuard *holder = aio_rw_lock_try_acquire_read (lock);
      Request w = { 0 }, r1 = { 0 }, r2 = { 0 };

      aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &w);
      aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r1);
      aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r2);
      aio_test_iterate_pending (NULL);
      g_assert_false (r1.done);
      aio_test_assert_state (lock, 1, FALSE, 2, 1);

      g_cancellable_cancel (cancellable);
      aio_test_assert_state (lock, 3, FALSE, 0, 0);  /* granted in the cancel */
      aio_test_wait (&r1);
      aio_test_wait (&r2);
      aio_test_wait (&w);
      aio_test_assert_failed (&w, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      aio_test_assert_granted (&r1);
      aio_test_assert_granted (&r2);

      aio_test_release (&r1);
      aio_test_release (&r2);
      aio_rw_lock_guard_unref (holder);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }
}

/* Cancelled queued readers ahead of a writer stop blocking it. */
static void
test_cancelled_readers_unblock_writer (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
  Request r1 = { 0 }, r2 = { 0 }, w = { 0 };

  aio_rw_lock_acquire_read_async (lock, cancellable, aio_test_on_acquired, &r1);
  aio_rw_lock_acquire_read_async (lock, cancellable, aio_test_on_acquired, &r2);
  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w);
  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 0, TRUE, 0, 1);

  aio_rw_lock_guard_unref (holder);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);  /* the writer, not the readers */
  aio_test_wait (&w);
  aio_test_wait (&r1);
  aio_test_wait (&r2);
  aio_test_assert_granted (&w);
  aio_test_assert_failed (&r1, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_failed (&r2, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_release (&w);
}

typedef struct
{
  Request    request;
  AioRwLock *lock;
  gboolean   next_was_granted;
} WatchNext;

static void
on_acquired_check_next (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  WatchNext *watch = user_data;

  /* By the time this callback runs the grant was already handed on. */
  watch->next_was_granted = aio_rw_lock_is_write_locked (watch->lock);
  aio_test_on_acquired (source, result, &watch->request);
}

/* Cancelled after the grant, before the callback: finish reports CANCELLED
 * and the grant goes to the next waiters before that callback runs. */
static void
test_cancel_after_grant (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
  WatchNext r = { { 0 }, lock, FALSE };
  Request w = { 0 };

  aio_rw_lock_acquire_read_async (lock, cancellable, on_acquired_check_next, &r);
  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w);

  aio_rw_lock_guard_unref (holder);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);  /* granted, not delivered */

  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);   /* handed on at once */

  aio_test_wait (&r.request);
  aio_test_assert_failed (&r.request, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (r.next_was_granted);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_release (&w);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* The same for an immediate grant (the lock was free). */
static void
test_cancel_after_immediate_grant (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request w = { 0 };

  aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &w);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  aio_test_wait (&w);
  aio_test_assert_failed (&w, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

typedef struct
{
  GCancellable *cancel_this;
  Request       request;
} CancelOther;

static void
on_acquired_cancel_other (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  CancelOther *co = user_data;

  aio_test_on_acquired (source, result, &co->request);
  g_cancellable_cancel (co->cancel_this);
}

/* Two grants delivered in one dispatch: the first callback cancels the
 * second, whose grant is handed back before its callback. */
static void
test_cancel_between_deliveries (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  CancelOther first = { cancellable, { 0 } };
  Request second = { 0 }, w = { 0 };

  aio_rw_lock_acquire_read_async (lock, NULL, on_acquired_cancel_other, &first);
  aio_rw_lock_acquire_read_async (lock, cancellable, aio_test_on_acquired, &second);
  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  aio_test_wait (&second);
  aio_test_assert_granted (&first.request);
  aio_test_assert_failed (&second, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);

  aio_test_release (&first.request);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_release (&w);
}

static void
on_acquired_cancel_then_finish (GObject      *source,
                                GAsyncResult *result,
                                gpointer      user_data)
{
  CancelOther *co = user_data;

  /* Cancelled once the callback has started: too late, the callback has
   * the guard and _finish returns it. */
  g_cancellable_cancel (co->cancel_this);
  aio_test_on_acquired (source, result, &co->request);
}

static void
test_cancel_before_finish (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  CancelOther r = { cancellable, { 0 } };

  aio_rw_lock_acquire_read_async (lock, cancellable, on_acquired_cancel_then_finish, &r);
  aio_test_wait (&r.request);
  aio_test_assert_granted (&r.request);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_iterate_pending (NULL);
  g_assert_true (aio_rw_lock_guard_is_held (r.request.guard));
  aio_test_release (&r.request);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* ---- The line is the moment the callback starts ----
 *
 * A's grant has been decided, and a cancel lands before A's callback
 * starts: the callback must find the hold already handed on to B, and
 * A's _finish reports CANCELLED. */

typedef struct
{
  AioRwLock      *lock;
  GCancellable   *cancellable;
  AioRwLockGuard *holder;
  Request         a, b;
  /* What A's callback saw as it started. */
  gboolean        cancelled_at_start;
  gboolean        write_locked_at_start;
  guint           pending_writers_at_start;
} Window;

static void
on_a_acquired (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Window *w = user_data;

  w->cancelled_at_start = g_cancellable_is_cancelled (w->cancellable);
  w->write_locked_at_start = aio_rw_lock_is_write_locked (w->lock);
  w->pending_writers_at_start = aio_rw_lock_get_pending_writers (w->lock);
  aio_test_on_acquired (source, result, &w->a);
}

static void
window_check (Window *w)
{
  aio_test_wait (&w->a);
  g_assert_true (w->cancelled_at_start);
  aio_test_assert_failed (&w->a, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* B had the lock before A's callback started. */
  g_assert_true (w->write_locked_at_start);
  g_assert_cmpuint (w->pending_writers_at_start, ==, 0);

  aio_test_wait (&w->b);
  aio_test_assert_granted (&w->b);
  aio_test_release (&w->b);
  aio_test_assert_state (w->lock, 0, FALSE, 0, 0);
}

/* Runs first in the iteration: A is granted at once, in this iteration. */
static gboolean
on_window_grant (gpointer user_data)
{
  Window *w = user_data;

  aio_rw_lock_guard_unref (g_steal_pointer (&w->holder));
  aio_rw_lock_acquire_write_async (w->lock, w->cancellable, on_a_acquired, w);
  aio_test_assert_state (w->lock, 0, TRUE, 0, 0);
  return G_SOURCE_REMOVE;
}

/* Runs last in the same iteration, after the completions were dispatched:
 * B queues behind A, then A is cancelled. */
static gboolean
on_window_cancel (gpointer user_data)
{
  Window *w = user_data;

  aio_test_acquire (w->lock, WRITE, -1, NULL, &w->b);
  g_assert_false (w->a.done);
  g_cancellable_cancel (w->cancellable);
  return G_SOURCE_REMOVE;
}

/* The cancel comes from a source of the waiter's own context, dispatched
 * after the library's completions in the iteration that completes A. */
static void
test_cancel_window_same_context (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Window w = { lock, cancellable, NULL, { 0 }, { 0 } };

  g_main_context_push_thread_default (context);
  w.holder = aio_rw_lock_try_acquire_write (lock);

  aio_test_iterate_around_completions (context, lock, READ, on_window_grant,
                                       on_window_cancel, &w);
  window_check (&w);

  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* The cancel comes from another thread after the grant, while A's context
 * has not been iterated yet. */
static void
test_cancel_window_other_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Window w = { lock, cancellable, NULL, { 0 }, { 0 } };
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);

  aio_rw_lock_acquire_write_async (lock, cancellable, on_a_acquired, &w);
  aio_test_acquire (lock, WRITE, -1, NULL, &w.b);
  aio_rw_lock_guard_unref (holder);
  aio_test_assert_state (lock, 0, TRUE, 0, 1);  /* A granted, B waits */

  aio_test_cancel_from_thread (cancellable);
  window_check (&w);
}

/* Cancelling after finish changes nothing: the guard holds. */
static void
test_cancel_after_finish (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request w = { 0 };

  aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &w);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  g_cancellable_cancel (cancellable);
  aio_test_iterate_pending (NULL);
  g_assert_true (aio_rw_lock_guard_is_held (w.guard));
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_release (&w);
}

/* One cancellable shared by several waiters cancels all of them. */
static void
test_cancel_shared_cancellable (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
  Request r[4] = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    aio_test_acquire (lock, i % 2 ? READ : WRITE, i == 3 ? 10000 : -1, cancellable, &r[i]);
  aio_test_assert_state (lock, 0, TRUE, 2, 2);
  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      aio_test_wait (&r[i]);
      aio_test_assert_failed (&r[i], G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
  aio_rw_lock_guard_unref (holder);
}

static gpointer
cancel_in_thread (gpointer data)
{
  g_usleep (10 * G_TIME_SPAN_MILLISECOND);
  g_cancellable_cancel (data);
  return NULL;
}

typedef struct
{
  GCancellable *cancellable;
  gint64        delay_usec;
  gint64        start;      /* when the grant was made; set before go */
  gint          running;
  gint          go;
} RacingCancel;

static gpointer
cancel_after_spin (gpointer data)
{
  RacingCancel *rc = data;

  g_atomic_int_set (&rc->running, TRUE);
  while (!g_atomic_int_get (&rc->go))
    g_thread_yield ();
  while (g_get_monotonic_time () < rc->start + rc->delay_usec)
    ;
  g_cancellable_cancel (rc->cancellable);
  return NULL;
}

/* The same, with the cancel racing the delivery from another thread at
 * random moments: whichever side of the line it lands on, what the
 * callback sees must match (handed on and CANCELLED, or the guard).
 * AIO_RACE_ROUNDS sets the number of rounds (default 2000). */
static void
test_cancel_window_racing_thread (void)
{
  const char *env = g_getenv ("AIO_RACE_ROUNDS");
  guint rounds = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : 2000;
  g_autoptr(GRand) rand = g_rand_new ();
  guint n_cancelled = 0, n_granted = 0;

  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      Window w = { lock, cancellable, NULL, { 0 }, { 0 } };
      AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
      RacingCancel rc = { cancellable, g_rand_int_range (rand, 0, 12), 0, FALSE, FALSE };
      GThread *thread;

      aio_rw_lock_acquire_write_async (lock, cancellable, on_a_acquired, &w);
      aio_test_acquire (lock, WRITE, -1, NULL, &w.b);
      thread = g_thread_new ("canceller", cancel_after_spin, &rc);
      while (!g_atomic_int_get (&rc.running))
        g_thread_yield ();

      /* The grant, then the delivery, while the thread counts down. */
      aio_rw_lock_guard_unref (holder);
      rc.start = g_get_monotonic_time ();
      g_atomic_int_set (&rc.go, TRUE);
      aio_test_wait (&w.a);
      g_thread_join (thread);

      if (w.a.error != NULL)
        {
          /* Cancelled: B had the lock before A's callback started. */
          n_cancelled++;
          g_assert_true (w.cancelled_at_start);
          aio_test_assert_failed (&w.a, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_true (w.write_locked_at_start);
          g_assert_cmpuint (w.pending_writers_at_start, ==, 0);
        }
      else
        {
          /* Too late: the callback has the guard, B waits for it. */
          n_granted++;
          aio_test_assert_granted (&w.a);
          g_assert_true (aio_rw_lock_guard_is_held (w.a.guard));
          g_assert_cmpuint (w.pending_writers_at_start, ==, 1);
          aio_test_release (&w.a);
        }
      aio_test_wait (&w.b);
      aio_test_assert_granted (&w.b);
      aio_test_release (&w.b);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }

  g_test_message ("cancel before the callback: %u, after: %u", n_cancelled, n_granted);
}

/* Cancelled, then reset before the callback: still CANCELLED, with the
 * message GLib gives it. */
static void
test_cancel_then_reset (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) reference = g_cancellable_new ();
  g_autoptr(GError) expected = NULL;
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 };

  aio_test_acquire (lock, READ, -1, cancellable, &r);
  g_cancellable_cancel (cancellable);
  g_cancellable_reset (cancellable);
  aio_test_wait (&r);

  g_cancellable_cancel (reference);
  g_assert_true (g_cancellable_set_error_if_cancelled (reference, &expected));
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (r.error->message, ==, expected->message);
  aio_test_assert_failed (&r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_unref (holder);
}

/* Cancelled from another thread while queued. */
static void
test_cancel_from_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *holder = aio_rw_lock_try_acquire_read (lock);
  Request w = { 0 };
  GThread *thread;

  aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &w);
  thread = g_thread_new ("canceller", cancel_in_thread, cancellable);
  aio_test_wait (&w);
  g_thread_join (thread);

  aio_test_assert_failed (&w, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (w.thread == g_thread_self ());  /* completed on our context */
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_rw_lock_guard_unref (holder);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/cancel/pre-cancelled", test_pre_cancelled);
  g_test_add_func ("/Aio/RwLock/cancel/queued", test_cancel_queued);
  g_test_add_func ("/Aio/RwLock/cancel/writer-unblocks-readers", test_cancelled_writer_unblocks_readers);
  g_test_add_func ("/Aio/RwLock/cancel/readers-unblock-writer", test_cancelled_readers_unblock_writer);
  g_test_add_func ("/Aio/RwLock/cancel/after-grant", test_cancel_after_grant);
  g_test_add_func ("/Aio/RwLock/cancel/after-immediate-grant", test_cancel_after_immediate_grant);
  g_test_add_func ("/Aio/RwLock/cancel/between-deliveries", test_cancel_between_deliveries);
  g_test_add_func ("/Aio/RwLock/cancel/before-finish", test_cancel_before_finish);
  g_test_add_func ("/Aio/RwLock/cancel/after-finish", test_cancel_after_finish);
  g_test_add_func ("/Aio/RwLock/cancel/window/same-context", test_cancel_window_same_context);
  g_test_add_func ("/Aio/RwLock/cancel/window/other-thread", test_cancel_window_other_thread);
  g_test_add_func ("/Aio/RwLock/cancel/window/racing-thread", test_cancel_window_racing_thread);
  g_test_add_func ("/Aio/RwLock/cancel/shared-cancellable", test_cancel_shared_cancellable);
  g_test_add_func ("/Aio/RwLock/cancel/from-thread", test_cancel_from_thread);
  g_test_add_func ("/Aio/RwLock/cancel/then-reset", test_cancel_then_reset);

  return g_test_run ();
}
