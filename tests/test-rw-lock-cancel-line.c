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
 * for the one cancellable under test, runs a hook before the real
 * disconnect: another thread cancels, and finishes cancelling; or the
 * guard whose upgrade is being delivered is looked at, upgraded again,
 * downgraded or released. Until the callback starts the upgrade is
 * pending, whatever the library was deciding. It is a program of its own
 * because the interposition covers the whole process.
 */

#define _GNU_SOURCE
#include <dlfcn.h>

#include "aio-test-util.h"

#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

typedef void (*DisconnectFunc) (GCancellable *, gulong);

/* Armed for one cancellable, once: runs in the library's disconnect. */
static GCancellable *hook_cancellable;
static void (*hook) (GCancellable *cancellable);
static gboolean hook_ran;

void
g_cancellable_disconnect (GCancellable *cancellable,
                          gulong        handler_id)
{
  static DisconnectFunc real;

  if (real == NULL)
    real = (DisconnectFunc) dlsym (RTLD_NEXT, "g_cancellable_disconnect");

  if (cancellable != NULL && cancellable == hook_cancellable && handler_id != 0)
    {
      hook_cancellable = NULL;
      hook (cancellable);
      hook_ran = TRUE;
    }

  real (cancellable, handler_id);
}

static void
arm (GCancellable *cancellable,
     void        (*func) (GCancellable *))
{
  hook = func;
  hook_ran = FALSE;
  hook_cancellable = cancellable;
}

static AioRwLockGuard *window_guard;  /* the guard whose upgrade is delivered */

static gpointer
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

/* Another thread cancels, and has finished cancelling (every handler run,
 * g_cancellable_cancel () returned) before the delivery goes on. */
static void
cancel_in_window (GCancellable *cancellable)
{
  g_thread_join (g_thread_new ("canceller", cancel_now, cancellable));
}

/* Takes an UPGRADABLE_READ guard of @lock into @r, upgrades it with
 * @cancellable, runs @func in the delivery's disconnect, and waits for the
 * upgrade's callback. */
static void
upgrade_with_hook (AioRwLock     *lock,
                   GCancellable  *cancellable,
                   void         (*func) (GCancellable *),
                   Request       *r)
{
  g_autoptr(GError) error = NULL;

  r->guard = aio_rw_lock_acquire (lock, UPGRADABLE, -1, NULL, &error);
  g_assert_no_error (error);
  window_guard = r->guard;
  aio_rw_lock_guard_upgrade_async (r->guard, cancellable, aio_test_on_upgraded, r);

  arm (cancellable, func);
  aio_test_wait (r);
  g_assert_true (hook_ran);
}

static void
cancel_landed_before_callback (gboolean upgrade)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request r = { 0 };

  if (upgrade)
    upgrade_with_hook (lock, cancellable, cancel_in_window, &r);
  else
    {
      aio_rw_lock_acquire_write_async (lock, cancellable, aio_test_on_acquired, &r);
      arm (cancellable, cancel_in_window);
      aio_test_wait (&r);
      g_assert_true (hook_ran);
    }
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  if (upgrade)
    {
      g_assert_false (r.upgraded);
      g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (r.guard), ==, UPGRADABLE);
      aio_test_assert_state (lock, 1, FALSE, 0, 0);
    }
  else
    {
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

/* ---- The upgrade is pending until its callback starts ---- */

static Request second;

/* In the window: the guard still shows UPGRADABLE_READ, a second upgrade
 * is refused as pending, and a downgrade is a programmer error. */
static void
probe_in_window (GCancellable *cancellable)
{
  g_assert_cmpint (aio_rw_lock_guard_get_mode (window_guard), ==, UPGRADABLE);

  second.guard = aio_rw_lock_guard_ref (window_guard);
  aio_rw_lock_guard_upgrade_async (window_guard, NULL, aio_test_on_upgraded, &second);

  g_test_expect_message ("Aio", G_LOG_LEVEL_CRITICAL, "*upgrade is pending*");
  aio_rw_lock_guard_downgrade (window_guard);
  g_test_assert_expected_messages ();
}

static void
test_upgrade_pending_until_callback (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request r = { 0 };

  upgrade_with_hook (lock, cancellable, probe_in_window, &r);
  g_assert_no_error (r.error);
  g_assert_true (r.upgraded);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (r.guard), ==, WRITE);

  aio_test_wait (&second);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (r.guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  aio_test_request_clear (&second);
  aio_test_release (&r);
  aio_test_request_clear (&r);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Released in the window: the upgrade never reports success for a guard
 * released before its callback started. */
static void
release_in_window (GCancellable *cancellable)
{
  aio_rw_lock_guard_release (window_guard);
}

static void
test_upgrade_released_before_callback (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Request r = { 0 };

  upgrade_with_hook (lock, cancellable, release_in_window, &r);
  g_assert_false (r.upgraded);
  g_assert_error (r.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  g_assert_false (aio_rw_lock_guard_is_held (r.guard));
  g_assert_cmpint (aio_rw_lock_guard_get_mode (r.guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  aio_test_request_clear (&r);
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
  g_test_add_func ("/Aio/RwLock/cancel/line/upgrade-pending-until-callback",
                   test_upgrade_pending_until_callback);
  g_test_add_func ("/Aio/RwLock/cancel/line/upgrade-released-before-callback",
                   test_upgrade_released_before_callback);

  return g_test_run ();
}
