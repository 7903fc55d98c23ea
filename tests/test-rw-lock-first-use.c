/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The first failures of a process, made on several threads at once.
 *
 * GLib's G_DEFINE_QUARK caches the error quark in a plain static, so two
 * threads making the first G_IO_ERROR or AIO_RW_LOCK_ERROR of a process
 * race on it (ThreadSanitizer reports it; the stress test hit it). The
 * lock makes both quarks when its class is initialized. This test must be
 * a program of its own: any earlier failure in the process would hide the
 * race. Under ThreadSanitizer it fails without that initialization.
 */

#include <aiorwlock-glib/aiorwlock.h>

#define N_THREADS 4

typedef struct {
  AioRwLock *held;    /* write-held: a READ request with timeout 0 fails */
  AioRwLock *closed;
  GMutex mutex;
  GCond cond;
  gboolean go;
} Shared;

static gpointer
fail_twice (gpointer data)
{
  Shared *shared = data;
  g_autoptr(GError) timed_out = NULL;
  g_autoptr(GError) closed = NULL;
  AioRwLockGuard *guard;

  g_mutex_lock (&shared->mutex);
  while (!shared->go)
    g_cond_wait (&shared->cond, &shared->mutex);
  g_mutex_unlock (&shared->mutex);

  guard = aio_rw_lock_acquire (shared->held, AIO_RW_LOCK_MODE_READ, 0, NULL, &timed_out);
  g_assert_null (guard);
  g_assert_error (timed_out, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

  guard = aio_rw_lock_acquire (shared->closed, AIO_RW_LOCK_MODE_READ, -1, NULL, &closed);
  g_assert_null (guard);
  g_assert_error (closed, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  return GINT_TO_POINTER (TRUE);
}

static void
test_first_failures_on_threads (void)
{
  Shared shared = { 0 };
  g_autoptr(AioRwLockGuard) writer = NULL;
  GThread *threads[N_THREADS];

  shared.held = aio_rw_lock_new ();
  shared.closed = aio_rw_lock_new ();
  g_mutex_init (&shared.mutex);
  g_cond_init (&shared.cond);
  writer = aio_rw_lock_try_acquire_write (shared.held);
  g_assert_nonnull (writer);
  aio_rw_lock_close (shared.closed);

  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("first-use", fail_twice, &shared);
  g_mutex_lock (&shared.mutex);
  shared.go = TRUE;
  g_cond_broadcast (&shared.cond);
  g_mutex_unlock (&shared.mutex);
  for (guint i = 0; i < N_THREADS; i++)
    g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[i])));

  aio_rw_lock_guard_release (writer);
  g_assert_false (aio_rw_lock_is_write_locked (shared.held));
  g_clear_object (&shared.held);
  g_clear_object (&shared.closed);
  g_mutex_clear (&shared.mutex);
  g_cond_clear (&shared.cond);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/Aio/RwLock/threads/first-failures-on-threads", test_first_failures_on_threads);
  return g_test_run ();
}
