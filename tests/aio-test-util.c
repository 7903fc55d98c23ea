/* aio-test-util.c: helpers shared by the C tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

gint aio_test_completions;

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs @context until *@flag is set; fails the test after the deadline. */
void
aio_test_iterate_until (GMainContext *context,
                        gboolean     *flag)
{
  gboolean expired = FALSE;
  /* Not g_timeout_source_new_seconds (): in GLib 2.74 its first use on
   * several threads at once races on a lazily set static (timer_perturb),
   * which ThreadSanitizer reports. */
  GSource *deadline = g_timeout_source_new (AIO_TEST_DEADLINE_SEC * 1000);

  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, context);

  while (!*flag && !expired)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (deadline);
  g_source_unref (deadline);

  if (!*flag)
    g_error ("timed out after %d s waiting for a callback", AIO_TEST_DEADLINE_SEC);
}

/* Iterates the default context, without blocking, every millisecond until
 * @done says so; fails by the deadline. For conditions no callback sets
 * (another thread's, a log writer's). */
void
aio_test_poll_until (AioTestCondition done,
                     gpointer         user_data)
{
  gint64 deadline = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_TIME_SPAN_SECOND;

  while (!done (user_data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out after %d s waiting for a condition", AIO_TEST_DEADLINE_SEC);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Dispatches what is due on @context now, without blocking. */
void
aio_test_iterate_pending (GMainContext *context)
{
  /* A completion can take two iterations (a GTask returned in the same
   * microsecond as it was created defers once more). */
  for (guint i = 0; i < 3; i++)
    while (g_main_context_iteration (context, FALSE))
      ;
}

void
aio_test_on_acquired (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Request *request = user_data;

  g_assert_false (request->done);
  g_assert_true (AIO_IS_RW_LOCK (source));

  if (g_async_result_is_tagged (result, aio_rw_lock_acquire_read_async))
    request->guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, &request->error);
  else if (g_async_result_is_tagged (result, aio_rw_lock_acquire_write_async))
    request->guard = aio_rw_lock_acquire_write_finish (AIO_RW_LOCK (source), result, &request->error);
  else
    request->guard = aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, &request->error);

  g_assert_true ((request->guard == NULL) != (request->error == NULL));
  request->order = g_atomic_int_add (&aio_test_completions, 1) + 1;
  request->thread = g_thread_self ();
  request->done = TRUE;
}

void
aio_test_on_upgraded (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Request *request = user_data;

  g_assert_false (request->done);
  g_assert_true (AIO_IS_RW_LOCK (source));

  request->upgraded = aio_rw_lock_guard_upgrade_finish (request->guard, result, &request->error);
  g_assert_true (request->upgraded == (request->error == NULL));
  request->order = g_atomic_int_add (&aio_test_completions, 1) + 1;
  request->thread = g_thread_self ();
  request->done = TRUE;
}

void
aio_test_acquire (AioRwLock     *lock,
                  AioRwLockMode  mode,
                  int            timeout_msec,
                  GCancellable  *cancellable,
                  Request       *request)
{
  aio_rw_lock_acquire_async (lock, mode, timeout_msec, cancellable,
                             aio_test_on_acquired, request);
  /* Never completes before the call returns. */
  g_assert_false (request->done);
}

void
aio_test_wait (Request *request)
{
  aio_test_iterate_until (g_main_context_get_thread_default (), &request->done);
}

void
aio_test_release (Request *request)
{
  g_assert_nonnull (request->guard);
  aio_rw_lock_guard_release (request->guard);
  g_clear_pointer (&request->guard, aio_rw_lock_guard_unref);
}

void
aio_test_request_clear (Request *request)
{
  g_clear_pointer (&request->guard, aio_rw_lock_guard_unref);
  g_clear_error (&request->error);
  request->done = FALSE;
  request->upgraded = FALSE;
}

static GSource *
attach_default_idle (GMainContext *context,
                     GSourceFunc   func,
                     gpointer      user_data)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, user_data, NULL);
  g_source_attach (source, context);
  return source;
}

/* One iteration of @context (new: the library has no completion source on
 * it yet) that runs, in this order: @first, the library's completions,
 * @last. The completions are made ready by a request for @probe_mode that
 * fails at once (@lock must be held against it), which attaches the
 * library's source between the two. @first and @last return
 * G_SOURCE_REMOVE. */
void
aio_test_iterate_around_completions (GMainContext  *context,
                                     AioRwLock     *lock,
                                     AioRwLockMode  probe_mode,
                                     GSourceFunc    first,
                                     GSourceFunc    last,
                                     gpointer       user_data)
{
  g_autoptr(GSource) before = NULL;
  g_autoptr(GSource) after = NULL;
  Request probe = { 0 };

  g_assert_true (g_main_context_get_thread_default () == context);

  before = attach_default_idle (context, first, user_data);
  aio_test_acquire (lock, probe_mode, 0, NULL, &probe);
  after = attach_default_idle (context, last, user_data);

  g_main_context_iteration (context, FALSE);
  g_assert_true (g_source_is_destroyed (before));
  g_assert_true (probe.done);
  aio_test_assert_failed (&probe, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (g_source_is_destroyed (after));
}

static gpointer
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

/* Cancels @cancellable from another thread, and returns once it did. */
void
aio_test_cancel_from_thread (GCancellable *cancellable)
{
  g_thread_join (g_thread_new ("canceller", cancel_now, cancellable));
}

void
aio_test_assert_state (AioRwLock *lock,
                       guint      readers,
                       gboolean   write_locked,
                       guint      pending_readers,
                       guint      pending_writers)
{
  guint p_readers, p_pending_readers, p_pending_writers;
  gboolean p_read_locked, p_write_locked;

  g_assert_cmpuint (aio_rw_lock_get_readers (lock), ==, readers);
  g_assert_cmpint (aio_rw_lock_is_read_locked (lock), ==, readers > 0);
  g_assert_cmpint (aio_rw_lock_is_write_locked (lock), ==, write_locked);
  g_assert_cmpuint (aio_rw_lock_get_pending_readers (lock), ==, pending_readers);
  g_assert_cmpuint (aio_rw_lock_get_pending_writers (lock), ==, pending_writers);

  /* The properties say the same as the getters. */
  g_object_get (lock,
                "readers", &p_readers,
                "read-locked", &p_read_locked,
                "write-locked", &p_write_locked,
                "pending-readers", &p_pending_readers,
                "pending-writers", &p_pending_writers,
                NULL);
  g_assert_cmpuint (p_readers, ==, readers);
  g_assert_cmpint (p_read_locked, ==, readers > 0);
  g_assert_cmpint (p_write_locked, ==, write_locked);
  g_assert_cmpuint (p_pending_readers, ==, pending_readers);
  g_assert_cmpuint (p_pending_writers, ==, pending_writers);
}
