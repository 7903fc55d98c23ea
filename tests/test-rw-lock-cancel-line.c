/* test-rw-lock-cancel-line.c: a cancel that completes while the library
 * disconnects its handler, just before the callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The library decides "deliver or hand back" and then disconnects the
 * request's "cancelled" handler, which waits for an emission in progress
 * on another thread: a cancel whose flag is set in between has run to its
 * end before the callback starts, so it must give CANCELLED. The window is
 * a few instructions wide; to hit it every time this program interposes
 * g_cancellable_disconnect () (the library calls it through the PLT) and,
 * for the one cancellable under test, has another thread cancel, and
 * finish cancelling, before the real disconnect runs. It is a program of
 * its own because the interposition covers the whole process.
 */

#define _GNU_SOURCE
#include <dlfcn.h>

#include "aio-test-util.h"

#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

typedef void (*DisconnectFunc) (GCancellable *, gulong);

static GCancellable *hook_cancellable;  /* armed for this one, once */
static gint hook_cancel_done;

static gpointer
cancel_thread (gpointer data)
{
  g_cancellable_cancel (data);
  g_atomic_int_set (&hook_cancel_done, TRUE);
  return NULL;
}

void
g_cancellable_disconnect (GCancellable *cancellable,
                          gulong        handler_id)
{
  static DisconnectFunc real;

  if (real == NULL)
    real = (DisconnectFunc) dlsym (RTLD_NEXT, "g_cancellable_disconnect");

  if (cancellable != NULL && cancellable == hook_cancellable && handler_id != 0)
    {
      gint64 end = g_get_monotonic_time () + AIO_TEST_DEADLINE_SEC * G_USEC_PER_SEC;
      GThread *thread;

      hook_cancellable = NULL;
      thread = g_thread_new ("canceller", cancel_thread, cancellable);
      while (!g_atomic_int_get (&hook_cancel_done))
        {
          if (g_get_monotonic_time () > end)
            g_error ("the cancelling thread did not finish");
          g_usleep (1000);
        }
      g_thread_join (thread);
    }

  real (cancellable, handler_id);
}

static void
cancel_landed_before_callback (gboolean upgrade)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Request r = { 0 };

  g_atomic_int_set (&hook_cancel_done, FALSE);
  if (upgrade)
    {
      r.guard = aio_rw_lock_acquire (lock, UPGRADABLE, -1, NULL, &error);
      g_assert_no_error (error);
      aio_rw_lock_guard_upgrade_async (r.guard, cancellable, aio_test_on_upgraded, &r);
    }
  else
    aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &r);

  hook_cancellable = cancellable;
  aio_test_wait (&r);
  hook_cancellable = NULL;

  /* The cancel had completed before the callback started. */
  g_assert_true (g_atomic_int_get (&hook_cancel_done));
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  if (upgrade)
    {
      g_test_message ("upgrade: upgraded=%d", r.upgraded);
      g_assert_false (r.upgraded);
      g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (r.guard), ==, UPGRADABLE);
    }
  else
    {
      g_test_message ("acquire: guard=%p", (gpointer) r.guard);
      aio_test_assert_failed (&r, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }
  aio_test_request_clear (&r);
}

static void
test_cancel_landed_before_callback_acquire (void)
{
  cancel_landed_before_callback (FALSE);
}

static void
test_cancel_landed_before_callback_upgrade (void)
{
  cancel_landed_before_callback (TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/cancel/line/during-disconnect/acquire",
                   test_cancel_landed_before_callback_acquire);
  g_test_add_func ("/Aio/RwLock/cancel/line/during-disconnect/upgrade",
                   test_cancel_landed_before_callback_upgrade);

  return g_test_run ();
}
