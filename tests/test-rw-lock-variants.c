/* test-rw-lock-variants.c: try_acquire, try_upgrade, upgrade_full and
 * downgrade_to (added in 1.1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

static const AioRwLockMode all_modes[] = { READ, WRITE, UPGRADABLE };

/* ---- try_acquire ---- */

static void
test_try_acquire_each_mode (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (all_modes); i++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, all_modes[i], &error);

      g_assert_no_error (error);
      g_assert_nonnull (guard);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, all_modes[i]);
      aio_test_assert_state (lock, all_modes[i] == WRITE ? 0 : 1, all_modes[i] == WRITE, 0, 0);
      aio_rw_lock_guard_release (guard);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }
}

/* Would have to wait: WOULD_BLOCK, nothing queued, nothing held. */
static void
test_try_acquire_would_block (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  g_autoptr(AioRwLockGuard) upgradable = NULL;
  g_autoptr(AioRwLockGuard) reader = NULL;
  Request queued = { "writer" };

  for (guint i = 0; i < G_N_ELEMENTS (all_modes); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (aio_rw_lock_try_acquire (lock, all_modes[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    }
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_release (writer);

  /* One UPGRADABLE_READ at a time; READ beside it. */
  upgradable = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_assert_nonnull (upgradable);
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (aio_rw_lock_try_acquire (lock, UPGRADABLE, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  }
  reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  g_assert_nonnull (reader);

  /* FAIR: a queued writer stops newcomers. */
  aio_test_acquire (lock, WRITE, -1, NULL, &queued);
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (aio_rw_lock_try_acquire (lock, READ, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  }
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  aio_rw_lock_guard_release (reader);
  aio_rw_lock_guard_release (upgradable);
  aio_test_wait (&queued);
  aio_test_assert_granted (&queued);
  aio_test_release (&queued);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A closed lock says CLOSED, held or not; a NULL error is allowed. */
static void
test_try_acquire_closed (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);

  aio_rw_lock_close (lock);
  for (guint pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (all_modes); i++)
        {
          g_autoptr(GError) error = NULL;

          g_assert_null (aio_rw_lock_try_acquire (lock, all_modes[i], &error));
          g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
          g_assert_null (aio_rw_lock_try_acquire (lock, all_modes[i], NULL));
        }
      if (pass == 0)
        aio_rw_lock_guard_release (writer);
    }
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* ---- try_upgrade ---- */

static void
test_try_upgrade (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  g_autoptr(GError) error = NULL;

  /* Another reader holds: WOULD_BLOCK, and the guard is as it was. */
  g_assert_false (aio_rw_lock_guard_try_upgrade (guard, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);

  aio_rw_lock_guard_release (reader);
  g_assert_true (aio_rw_lock_guard_try_upgrade (guard, &error));
  g_assert_no_error (error);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  /* A WRITE guard succeeds, unchanged. */
  g_assert_true (aio_rw_lock_guard_try_upgrade (guard, NULL));
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  aio_rw_lock_guard_release (guard);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);

  /* Released: NOT_HELD. */
  g_assert_false (aio_rw_lock_guard_try_upgrade (guard, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
}

static void
test_try_upgrade_refusals (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(GError) error = NULL;
  Request upgrade = { "upgrade" };

  /* A READ guard would deadlock. */
  g_assert_false (aio_rw_lock_guard_try_upgrade (reader, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);

  /* While an upgrade of the guard waits: PENDING. */
  upgrade.guard = aio_rw_lock_guard_ref (guard);
  aio_rw_lock_guard_upgrade_async (guard, NULL, aio_test_on_upgraded, &upgrade);
  g_assert_false (aio_rw_lock_guard_try_upgrade (guard, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  /* Closing fails the waiting upgrade; then try_upgrade says CLOSED. */
  aio_rw_lock_close (lock);
  aio_test_wait (&upgrade);
  g_assert_false (upgrade.upgraded);
  g_assert_error (upgrade.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_false (aio_rw_lock_guard_try_upgrade (guard, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);

  aio_test_request_clear (&upgrade);
}

/* The upgrade goes ahead of queued writers; a hold that is exclusive
 * already upgrades even on a closed lock. */
static void
test_try_upgrade_ahead_of_writers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(AioRwLockGuard) writer = NULL;
  g_autoptr(AioRwLockGuard) reentered = NULL;
  Request queued = { "writer" };

  aio_test_acquire (lock, WRITE, -1, NULL, &queued);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);
  g_assert_true (aio_rw_lock_guard_try_upgrade (guard, NULL));
  aio_test_assert_state (lock, 0, TRUE, 0, 1);
  aio_rw_lock_guard_release (guard);
  aio_test_wait (&queued);
  aio_test_assert_granted (&queued);
  aio_test_release (&queued);

  writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  reentered = aio_rw_lock_guard_reenter (writer, UPGRADABLE, NULL);
  aio_rw_lock_close (lock);
  g_assert_true (aio_rw_lock_guard_try_upgrade (reentered, NULL));
  g_assert_cmpint (aio_rw_lock_guard_get_mode (reentered), ==, WRITE);
  aio_rw_lock_guard_release (writer);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_rw_lock_guard_release (reentered);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* ---- upgrade_full ---- */

typedef struct
{
  AioRwLockGuard *guard;
  gboolean done;
  gboolean upgraded;
  GError *error;
  char *task_name;
} Full;

static void
on_upgraded_full (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Full *full = user_data;

  g_assert_false (full->done);
  g_assert_true (AIO_IS_RW_LOCK (source));
  full->task_name = g_strdup (g_task_get_name (G_TASK (result)));
  full->upgraded = aio_rw_lock_guard_upgrade_full_finish (full->guard, result, &full->error);
  full->done = TRUE;
}

/* The same, finished by the lock. */
static void
on_upgraded_full_tagging (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  Full *full = user_data;

  g_assert_false (full->done);
  full->task_name = g_strdup (g_task_get_name (G_TASK (result)));
  full->upgraded = aio_rw_lock_upgrade_finish (AIO_RW_LOCK (source), result, &full->error);
  full->done = TRUE;
}

static void
full_clear (Full *full)
{
  g_clear_error (&full->error);
  g_clear_pointer (&full->task_name, g_free);
  full->done = full->upgraded = FALSE;
}

static void
test_upgrade_full_deadline (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  Full full = { 0 };
  gint64 started;

  /* 0: only if at once. */
  aio_rw_lock_guard_upgrade_full_async (guard, 0, NULL, on_upgraded_full_tagging, &full);
  aio_test_iterate_until (NULL, &full.done);
  g_assert_false (full.upgraded);
  g_assert_error (full.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (full.task_name, ==, "aio_rw_lock_guard_upgrade_full_async");
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  full_clear (&full);

  /* 50 ms: waits, then TIMED_OUT, the guard as it was. */
  started = g_get_monotonic_time ();
  aio_rw_lock_guard_upgrade_full_async (guard, 50, NULL, on_upgraded_full_tagging, &full);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);
  aio_test_iterate_until (NULL, &full.done);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 50 * G_TIME_SPAN_MILLISECOND);
  g_assert_error (full.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  full_clear (&full);

  /* In time: upgraded. */
  aio_rw_lock_guard_upgrade_full_async (guard, 10000, NULL, on_upgraded_full_tagging, &full);
  aio_rw_lock_guard_release (reader);
  aio_test_iterate_until (NULL, &full.done);
  g_assert_no_error (full.error);
  g_assert_true (full.upgraded);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  full_clear (&full);
}

static void
test_upgrade_full_cancelled (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Full full = { guard };

  aio_rw_lock_guard_upgrade_full_async (guard, 10000, cancellable, on_upgraded_full, &full);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);
  g_cancellable_cancel (cancellable);
  g_assert_false (full.done);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  aio_test_iterate_until (NULL, &full.done);
  g_assert_false (full.upgraded);
  g_assert_error (full.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);

  /* A released guard: NOT_HELD, through the guard's own finish. */
  full_clear (&full);
  aio_rw_lock_guard_release (reader);
  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_upgrade_full_async (guard, -1, NULL, on_upgraded_full, &full);
  aio_test_iterate_until (NULL, &full.done);
  g_assert_error (full.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  g_assert_cmpstr (full.task_name, ==, "aio_rw_lock_guard_upgrade_full_async");
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  full_clear (&full);
}

/* ---- downgrade_to ---- */

static void
test_downgrade_write_to_upgradable (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  g_autoptr(GError) error = NULL;
  Request reader = { "reader" };
  Request upgradable = { "upgradable" };
  Request writer = { "writer" };

  aio_test_acquire (lock, READ, -1, NULL, &reader);
  aio_test_acquire (lock, UPGRADABLE, -1, NULL, &upgradable);
  aio_test_acquire (lock, WRITE, -1, NULL, &writer);
  aio_test_assert_state (lock, 0, TRUE, 2, 1);

  g_assert_true (aio_rw_lock_guard_downgrade_to (guard, UPGRADABLE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, UPGRADABLE);
  /* The reader enters at once; the second UPGRADABLE_READ and the writer
   * wait. */
  aio_test_assert_state (lock, 2, FALSE, 1, 1);
  aio_test_wait (&reader);
  aio_test_assert_granted (&reader);
  aio_test_iterate_pending (NULL);
  g_assert_false (upgradable.done);
  g_assert_false (writer.done);

  /* It may upgrade again once the reader has left. */
  aio_test_release (&reader);
  g_assert_true (aio_rw_lock_guard_try_upgrade (guard, NULL));
  aio_test_assert_state (lock, 0, TRUE, 1, 1);

  aio_rw_lock_guard_release (guard);
  aio_test_wait (&upgradable);
  aio_test_assert_granted (&upgradable);
  aio_test_release (&upgradable);
  aio_test_wait (&writer);
  aio_test_assert_granted (&writer);
  aio_test_release (&writer);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

static void
test_downgrade_to_read (void)
{
  const AioRwLockMode from[] = { WRITE, UPGRADABLE };

  for (guint i = 0; i < G_N_ELEMENTS (from); i++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
      g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, from[i], NULL);
      g_autoptr(GError) error = NULL;
      Request reader = { "reader" };
      Request writer = { "writer" };

      aio_test_acquire (lock, READ, -1, NULL, &reader);
      aio_test_acquire (lock, WRITE, -1, NULL, &writer);
      g_assert_true (aio_rw_lock_guard_downgrade_to (guard, READ, &error));
      g_assert_no_error (error);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, READ);
      if (from[i] == WRITE)
        {
          /* The queued reader came before the writer: it enters. */
          aio_test_wait (&reader);
          aio_test_assert_granted (&reader);
          aio_test_release (&reader);
        }
      aio_rw_lock_guard_release (guard);
      if (from[i] == UPGRADABLE)
        {
          /* FAIR: the reader queued behind nothing but the holds. */
          aio_test_wait (&reader);
          aio_test_assert_granted (&reader);
          aio_test_release (&reader);
        }
      aio_test_wait (&writer);
      aio_test_assert_granted (&writer);
      aio_test_release (&writer);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }
}

/* Same or stronger: INVALID_ARGUMENT; released: NOT_HELD; while an
 * upgrade is pending: PENDING. Nothing changes. */
static void
test_downgrade_to_refusals (void)
{
  static const struct { AioRwLockMode from, to; } invalid[] = {
    { READ, READ }, { READ, UPGRADABLE }, { READ, WRITE },
    { UPGRADABLE, UPGRADABLE }, { UPGRADABLE, WRITE }, { WRITE, WRITE },
  };
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = NULL;
  g_autoptr(AioRwLockGuard) guard = NULL;
  g_autoptr(GError) error = NULL;
  Request upgrade = { "upgrade" };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(AioRwLockGuard) g = aio_rw_lock_try_acquire (lock, invalid[i].from, NULL);

      g_assert_nonnull (g);
      g_assert_false (aio_rw_lock_guard_downgrade_to (g, invalid[i].to, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (g), ==, invalid[i].from);
      aio_test_assert_state (lock, invalid[i].from == WRITE ? 0 : 1, invalid[i].from == WRITE, 0, 0);
      aio_rw_lock_guard_release (g);
      g_assert_false (aio_rw_lock_guard_downgrade_to (g, READ, &error));
      g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
      g_clear_error (&error);
    }

  reader = aio_rw_lock_try_acquire (lock, READ, NULL);
  guard = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  upgrade.guard = aio_rw_lock_guard_ref (guard);
  aio_rw_lock_guard_upgrade_async (guard, NULL, aio_test_on_upgraded, &upgrade);
  g_assert_false (aio_rw_lock_guard_downgrade_to (guard, READ, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  aio_rw_lock_guard_release (reader);
  aio_test_wait (&upgrade);
  g_assert_true (upgrade.upgraded);
  g_assert_true (aio_rw_lock_guard_downgrade_to (guard, UPGRADABLE, NULL));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_request_clear (&upgrade);
}

/* A re-entered hold: downgrading its WRITE guard keeps the hold in the
 * strongest mode left among its guards. */
static void
test_downgrade_to_shared_hold (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_guard_reenter (writer, READ, NULL);

  aio_test_assert_state (lock, 1, TRUE, 0, 0);
  g_assert_true (aio_rw_lock_guard_downgrade_to (writer, UPGRADABLE, NULL));
  /* One hold, now UPGRADABLE_READ: one reader. */
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_assert_null (aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL));
  aio_rw_lock_guard_release (writer);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_rw_lock_guard_release (reader);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/try-acquire/each-mode", test_try_acquire_each_mode);
  g_test_add_func ("/Aio/RwLock/try-acquire/would-block", test_try_acquire_would_block);
  g_test_add_func ("/Aio/RwLock/try-acquire/closed", test_try_acquire_closed);
  g_test_add_func ("/Aio/RwLock/try-upgrade/upgrades", test_try_upgrade);
  g_test_add_func ("/Aio/RwLock/try-upgrade/refusals", test_try_upgrade_refusals);
  g_test_add_func ("/Aio/RwLock/try-upgrade/ahead-of-writers", test_try_upgrade_ahead_of_writers);
  g_test_add_func ("/Aio/RwLock/upgrade-full/deadline", test_upgrade_full_deadline);
  g_test_add_func ("/Aio/RwLock/upgrade-full/cancelled", test_upgrade_full_cancelled);
  g_test_add_func ("/Aio/RwLock/downgrade-to/write-to-upgradable", test_downgrade_write_to_upgradable);
  g_test_add_func ("/Aio/RwLock/downgrade-to/read", test_downgrade_to_read);
  g_test_add_func ("/Aio/RwLock/downgrade-to/refusals", test_downgrade_to_refusals);
  g_test_add_func ("/Aio/RwLock/downgrade-to/shared-hold", test_downgrade_to_shared_hold);

  return g_test_run ();
}
