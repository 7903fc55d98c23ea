/* test-rw-lock-threads.c: blocking waiters, cross-thread release and
 * cancellation, async waiters on several threads and main contexts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

/* Polls (the lock is touched from several threads) until @cond holds. */
#define wait_for(cond) \
  G_STMT_START { \
    gint64 end_ = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_TIME_SPAN_SECOND; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > end_) \
          g_error ("timed out waiting for %s", #cond); \
        g_usleep (1000); \
      } \
  } G_STMT_END

typedef struct
{
  AioRwLock      *lock;
  AioRwLockMode   mode;
  int             timeout_msec;
  GCancellable   *cancellable;
  AioRwLockGuard *guard;
  GError         *error;
  gboolean        release;
} Blocking;

static gpointer
blocking_acquire (gpointer data)
{
  Blocking *b = data;

  b->guard = aio_rw_lock_acquire (b->lock, b->mode, b->timeout_msec, b->cancellable, &b->error);
  g_assert_true ((b->guard == NULL) != (b->error == NULL));
  if (b->release && b->guard != NULL)
    g_clear_pointer (&b->guard, aio_rw_lock_guard_unref);
  return NULL;
}

/* A worker blocks until a release on the main thread wakes it. */
static void
test_blocking_woken_by_release (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *reader = aio_rw_lock_try_acquire_read (lock);
  Blocking b = { lock, WRITE, -1, NULL, NULL, NULL, FALSE };
  GThread *thread = g_thread_new ("blocking", blocking_acquire, &b);

  wait_for (aio_rw_lock_get_pending_writers (lock) == 1);
  aio_rw_lock_guard_unref (reader);
  g_thread_join (thread);
  g_assert_no_error (b.error);
  g_assert_nonnull (b.guard);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (b.guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_unref (b.guard);
}

/* A blocked worker is woken by a cancellable cancelled from another
 * thread, and leaves nothing behind. */
static void
test_blocking_cancelled_from_other_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  Blocking b = { lock, READ, -1, cancellable, NULL, NULL, FALSE };
  GThread *thread = g_thread_new ("blocking", blocking_acquire, &b);

  wait_for (aio_rw_lock_get_pending_readers (lock) == 1);
  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (b.guard);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_unref (writer);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  g_clear_error (&b.error);
}

static void
test_blocking_deadline (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  Blocking b = { lock, READ, 30, NULL, NULL, NULL, FALSE };
  GThread *thread = g_thread_new ("blocking", blocking_acquire, &b);

  g_thread_join (thread);
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_unref (writer);
  g_clear_error (&b.error);
}

/* Blocking and async waiters share one FIFO queue. */
static void
test_blocking_shares_queue (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  Blocking b = { lock, WRITE, -1, NULL, NULL, NULL, FALSE };
  Request r1 = { 0 }, r3 = { 0 };
  GThread *thread;

  aio_test_acquire (lock, READ, -1, NULL, &r1);
  thread = g_thread_new ("blocking", blocking_acquire, &b);
  wait_for (aio_rw_lock_get_pending_writers (lock) == 1);
  aio_test_acquire (lock, READ, -1, NULL, &r3);

  aio_rw_lock_guard_unref (writer);
  aio_test_wait (&r1);
  aio_test_assert_granted (&r1);
  aio_test_assert_state (lock, 1, FALSE, 1, 1);  /* r3 waits behind the worker */

  aio_test_release (&r1);
  g_thread_join (thread);
  g_assert_no_error (b.error);
  g_assert_false (r3.done);
  aio_rw_lock_guard_unref (b.guard);
  aio_test_wait (&r3);
  aio_test_assert_granted (&r3);
  aio_test_release (&r3);
}

typedef struct
{
  AioRwLock    *lock;
  Request       request;
  GMainContext *context;
  gboolean      asked;
} ContextThread;

/* Asks for the lock from a thread with its own thread-default context and
 * runs that context until the callback ran. */
static gpointer
acquire_on_own_context (gpointer data)
{
  ContextThread *ct = data;

  ct->context = g_main_context_new ();
  g_main_context_push_thread_default (ct->context);
  aio_rw_lock_acquire_read_async (ct->lock, NULL, aio_test_on_acquired, &ct->request);
  g_atomic_int_set (&ct->asked, TRUE);
  aio_test_iterate_until (ct->context, &ct->request.done);
  g_main_context_pop_thread_default (ct->context);

  return NULL;
}

/* Async waiters on two threads, each with its own context, are completed
 * on their own thread when a third releases. */
static void
test_async_on_two_contexts (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  ContextThread ct[2] = { { lock, { 0 }, NULL, FALSE }, { lock, { 0 }, NULL, FALSE } };
  GThread *threads[2];

  for (guint i = 0; i < 2; i++)
    threads[i] = g_thread_new ("context", acquire_on_own_context, &ct[i]);
  wait_for (g_atomic_int_get (&ct[0].asked) && g_atomic_int_get (&ct[1].asked));
  aio_test_assert_state (lock, 0, TRUE, 2, 0);

  aio_rw_lock_guard_unref (writer);
  for (guint i = 0; i < 2; i++)
    {
      g_thread_join (threads[i]);
      aio_test_assert_granted (&ct[i].request);
      g_assert_true (ct[i].request.thread == threads[i]);
      aio_test_release (&ct[i].request);
      g_main_context_unref (ct[i].context);
    }
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

static gpointer
release_in_thread (gpointer data)
{
  g_usleep (5 * G_TIME_SPAN_MILLISECOND);
  aio_rw_lock_guard_unref (data);
  return NULL;
}

/* A release on another thread wakes a waiter of this context, which still
 * completes here. */
static void
test_release_from_other_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 };
  GThread *thread;

  aio_test_acquire (lock, READ, -1, NULL, &r);
  thread = g_thread_new ("releaser", release_in_thread, writer);
  aio_test_wait (&r);
  g_thread_join (thread);
  aio_test_assert_granted (&r);
  g_assert_true (r.thread == g_thread_self ());
  aio_test_release (&r);
}

/* Many threads, blocking and async, readers and writers: a writer is
 * always alone and no acquisition is lost. */
typedef struct
{
  AioRwLock *lock;
  gint       readers_inside;
  gint       writers_inside;
  gint       acquisitions;
  gint       violations;
} Shared;

static void
hold_briefly (Shared         *shared,
              AioRwLockGuard *guard)
{
  gboolean writer = aio_rw_lock_guard_get_mode (guard) == WRITE;

  if (writer)
    g_atomic_int_inc (&shared->writers_inside);
  else
    g_atomic_int_inc (&shared->readers_inside);

  if (g_atomic_int_get (&shared->writers_inside) > 1 ||
      (g_atomic_int_get (&shared->writers_inside) > 0 && g_atomic_int_get (&shared->readers_inside) > 0))
    g_atomic_int_inc (&shared->violations);
  g_thread_yield ();

  if (writer)
    g_atomic_int_add (&shared->writers_inside, -1);
  else
    g_atomic_int_add (&shared->readers_inside, -1);
  g_atomic_int_inc (&shared->acquisitions);
  aio_rw_lock_guard_release (guard);
}

static gpointer
blocking_worker (gpointer data)
{
  Shared *shared = data;

  for (guint i = 0; i < 300; i++)
    {
      g_autoptr(AioRwLockGuard) guard = NULL;

      guard = aio_rw_lock_acquire (shared->lock, i % 3 ? READ : WRITE, -1, NULL, NULL);
      g_assert_nonnull (guard);
      hold_briefly (shared, guard);
    }
  return NULL;
}

typedef struct
{
  Shared  *shared;
  guint    left;
  gboolean done;
} AsyncLoop;

static void async_loop_next (AsyncLoop *loop);

static void
on_loop_acquired (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  AsyncLoop *loop = user_data;
  g_autoptr(AioRwLockGuard) guard = NULL;

  guard = aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, NULL);
  g_assert_nonnull (guard);
  hold_briefly (loop->shared, guard);
  async_loop_next (loop);
}

static void
async_loop_next (AsyncLoop *loop)
{
  if (loop->left == 0)
    {
      loop->done = TRUE;
      return;
    }
  loop->left--;
  aio_rw_lock_acquire_async (loop->shared->lock, loop->left % 4 ? READ : WRITE, -1, NULL,
                             on_loop_acquired, loop);
}

static gpointer
async_worker (gpointer data)
{
  GMainContext *context = g_main_context_new ();
  AsyncLoop loop = { data, 300, FALSE };

  g_main_context_push_thread_default (context);
  async_loop_next (&loop);
  aio_test_iterate_until (context, &loop.done);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_mixed_threads (void)
{
  for (AioRwLockPolicy policy = 0; policy <= AIO_RW_LOCK_POLICY_PREFER_READERS; policy++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (policy);
      Shared shared = { lock, 0, 0, 0, 0 };
      GThread *threads[4];

      threads[0] = g_thread_new ("blocking-1", blocking_worker, &shared);
      threads[1] = g_thread_new ("blocking-2", blocking_worker, &shared);
      threads[2] = g_thread_new ("async-1", async_worker, &shared);
      threads[3] = g_thread_new ("async-2", async_worker, &shared);
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        g_thread_join (threads[i]);

      g_assert_cmpint (shared.violations, ==, 0);
      g_assert_cmpint (shared.acquisitions, ==, 4 * 300);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }
}

/* Requests cancelled while they are being submitted, from another thread,
 * on a context another thread dispatches: none is lost, freed twice or
 * leaked (the lock is finalized at the end). */
typedef struct
{
  AioRwLock    *lock;
  GAsyncQueue  *to_cancel;
  gint          completed;
} SubmitRace;

static void
on_race_acquired (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SubmitRace *race = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AioRwLockGuard) guard = NULL;

  guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, &error);
  g_assert_true ((guard == NULL) != (error == NULL));
  if (error != NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_atomic_int_inc (&race->completed);
}

static gpointer
race_submitter (gpointer data)
{
  SubmitRace *race = data;

  /* No thread-default context: completions go to the global default one,
   * which the main thread runs. */
  for (guint i = 0; i < 2000; i++)
    {
      GCancellable *cancellable = g_cancellable_new ();

      g_async_queue_push (race->to_cancel, g_object_ref (cancellable));
      aio_rw_lock_acquire_read_async (race->lock, cancellable, on_race_acquired, race);
      g_object_unref (cancellable);
    }
  return NULL;
}

static gpointer
race_canceller (gpointer data)
{
  SubmitRace *race = data;

  for (guint i = 0; i < 4000; i++)
    {
      GCancellable *cancellable = g_async_queue_pop (race->to_cancel);

      g_cancellable_cancel (cancellable);
      g_object_unref (cancellable);
    }
  return NULL;
}

static void
test_cancel_during_submission (void)
{
  SubmitRace race = { aio_rw_lock_new (), g_async_queue_new (), 0 };
  GThread *threads[3];
  gint64 end = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_TIME_SPAN_SECOND;

  g_object_add_weak_pointer (G_OBJECT (race.lock), (gpointer *) &race.lock);
  threads[0] = g_thread_new ("submit-1", race_submitter, &race);
  threads[1] = g_thread_new ("submit-2", race_submitter, &race);
  threads[2] = g_thread_new ("cancel", race_canceller, &race);

  while (g_atomic_int_get (&race.completed) < 4000)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, FALSE);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  aio_test_iterate_pending (NULL);

  g_assert_cmpint (race.completed, ==, 4000);
  aio_test_assert_state (race.lock, 0, FALSE, 0, 0);
  g_object_unref (race.lock);
  g_assert_null (race.lock);  /* no waiter was leaked with a reference */
  g_async_queue_unref (race.to_cancel);
}

typedef struct
{
  AioRwLock *lock;
  Request    inner;
  gboolean   inner_seen_inside;
  gboolean   done;
} Nested;

static void
on_outer_acquired (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Nested *nested = user_data;
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, NULL);

  /* A callback that waits for another completion in a nested loop on the
   * same context (like a modal dialog) gets it. */
  g_assert_nonnull (guard);
  aio_rw_lock_acquire_read_async (nested->lock, NULL, aio_test_on_acquired, &nested->inner);
  aio_test_iterate_until (NULL, &nested->inner.done);
  nested->inner_seen_inside = TRUE;
  nested->done = TRUE;
}

static void
test_nested_main_loop_in_callback (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Nested nested = { lock, { 0 }, FALSE, FALSE };

  aio_rw_lock_acquire_read_async (lock, NULL, on_outer_acquired, &nested);
  aio_test_iterate_until (NULL, &nested.done);
  g_assert_true (nested.inner_seen_inside);
  aio_test_assert_granted (&nested.inner);
  aio_test_release (&nested.inner);
}

/* A cancellation whose flag is set while the grant is being delivered
 * (another thread is inside g_cancellable_cancel(), its handlers not run
 * yet): delivery sees it and hands the grant back itself. */
typedef struct
{
  AioRwLock *lock;
  gint       in_handler;
} SlowCancel;

static void
on_cancelled_first (GCancellable *cancellable,
                    gpointer      user_data)
{
  SlowCancel *sc = user_data;
  gint64 end = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_TIME_SPAN_SECOND;

  /* Hold the emission (and so the lock's own handler) until delivery has
   * handed the grant back. */
  g_atomic_int_set (&sc->in_handler, 1);
  while (aio_rw_lock_get_readers (sc->lock) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (100);
    }
}

static gpointer
cancel_slowly (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel_seen_at_delivery (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  SlowCancel sc = { lock, 0 };
  AioRwLockGuard *writer = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 };
  GThread *thread;

  g_signal_connect (cancellable, "cancelled", G_CALLBACK (on_cancelled_first), &sc);
  aio_test_acquire (lock, READ, -1, cancellable, &r);
  aio_rw_lock_guard_unref (writer);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);  /* granted, not delivered */

  thread = g_thread_new ("canceller", cancel_slowly, cancellable);
  while (!g_atomic_int_get (&sc.in_handler))
    g_usleep (100);
  aio_test_wait (&r);
  g_thread_join (thread);

  aio_test_assert_failed (&r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/threads/blocking-woken-by-release", test_blocking_woken_by_release);
  g_test_add_func ("/Aio/RwLock/threads/blocking-cancelled-from-other-thread", test_blocking_cancelled_from_other_thread);
  g_test_add_func ("/Aio/RwLock/threads/blocking-deadline", test_blocking_deadline);
  g_test_add_func ("/Aio/RwLock/threads/blocking-shares-queue", test_blocking_shares_queue);
  g_test_add_func ("/Aio/RwLock/threads/async-on-two-contexts", test_async_on_two_contexts);
  g_test_add_func ("/Aio/RwLock/threads/release-from-other-thread", test_release_from_other_thread);
  g_test_add_func ("/Aio/RwLock/threads/mixed", test_mixed_threads);
  g_test_add_func ("/Aio/RwLock/threads/cancel-during-submission", test_cancel_during_submission);
  g_test_add_func ("/Aio/RwLock/threads/nested-main-loop-in-callback", test_nested_main_loop_in_callback);
  g_test_add_func ("/Aio/RwLock/threads/cancel-seen-at-delivery", test_cancel_seen_at_delivery);

  return g_test_run ();
}
