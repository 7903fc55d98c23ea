/* test-rw-lock-misuse.c: programmer errors log a critical and change nothing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

#define expect_critical(pattern) \
  g_test_expect_message ("Aio", G_LOG_LEVEL_CRITICAL, pattern)

static void
never_called (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_assert_not_reached ();
}

/* NULL and wrong-type arguments: criticals, nothing queued or granted. */
static void
test_bad_arguments (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GObject) not_a_lock = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GObject) not_a_cancellable = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;

  expect_critical ("*AIO_IS_RW_LOCK*");
  aio_rw_lock_acquire_read_async (NULL, NULL, never_called, NULL);
  expect_critical ("*AIO_IS_RW_LOCK*");
  aio_rw_lock_acquire_write_async ((AioRwLock *) not_a_lock, NULL, never_called, NULL);
  expect_critical ("*G_IS_CANCELLABLE*");
  aio_rw_lock_acquire_read_async (lock, (GCancellable *) not_a_cancellable, never_called, NULL);
  expect_critical ("*mode_is_valid*");
  aio_rw_lock_acquire_async (lock, (AioRwLockMode) 7, -1, NULL, never_called, NULL);
  expect_critical ("*timeout_msec >= -1*");
  aio_rw_lock_acquire_async (lock, READ, -2, NULL, never_called, NULL);
  expect_critical ("*timeout_msec >= -1*");
  g_assert_null (aio_rw_lock_acquire (lock, WRITE, -5, NULL, &error));
  expect_critical ("*AIO_IS_RW_LOCK*");
  g_assert_null (aio_rw_lock_try_acquire_read (NULL));
  expect_critical ("*AIO_IS_RW_LOCK*");
  g_assert_null (aio_rw_lock_try_acquire_write ((AioRwLock *) not_a_lock));
  expect_critical ("*AIO_IS_RW_LOCK*");
  aio_rw_lock_close (NULL);
  expect_critical ("*AIO_IS_RW_LOCK*");
  g_assert_cmpuint (aio_rw_lock_get_readers (NULL), ==, 0);
  expect_critical ("*policy <=*");
  g_assert_null (aio_rw_lock_new_with_policy ((AioRwLockPolicy) 9));
  expect_critical ("*self != NULL*");
  aio_rw_lock_guard_release (NULL);
  expect_critical ("*self != NULL*");
  g_assert_null (aio_rw_lock_guard_reenter (NULL, READ, &error));
  expect_critical ("*self != NULL*");
  aio_rw_lock_guard_upgrade_async (NULL, NULL, never_called, NULL);
  expect_critical ("*mode_is_valid*");
  g_assert_null (aio_rw_lock_try_acquire (lock, (AioRwLockMode) 3, &error));
  expect_critical ("*AIO_IS_RW_LOCK*");
  g_assert_null (aio_rw_lock_try_acquire (NULL, READ, &error));
  expect_critical ("*AIO_IS_RW_LOCK*");
  aio_rw_lock_close_async (NULL, NULL, never_called, NULL);
  expect_critical ("*G_IS_CANCELLABLE*");
  aio_rw_lock_close_async (lock, (GCancellable *) not_a_cancellable, never_called, NULL);
  expect_critical ("*self != NULL*");
  g_assert_false (aio_rw_lock_guard_try_upgrade (NULL, &error));
  expect_critical ("*self != NULL*");
  g_assert_false (aio_rw_lock_guard_downgrade_to (NULL, READ, &error));
  expect_critical ("*self != NULL*");
  aio_rw_lock_guard_upgrade_full_async (NULL, -1, NULL, never_called, NULL);
  g_test_assert_expected_messages ();

  g_assert_no_error (error);
  aio_test_iterate_pending (NULL);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  g_assert_false (aio_rw_lock_is_closed (lock));
}

/* The table with bad arguments: criticals, no key made. */
static void
test_bad_table_arguments (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  g_autoptr(GObject) not_a_table = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;

  expect_critical ("*key != NULL*");
  aio_rw_lock_table_acquire_async (table, NULL, READ, -1, NULL, never_called, NULL);
  expect_critical ("*mode_is_valid*");
  aio_rw_lock_table_acquire_async (table, "k", (AioRwLockMode) 4, -1, NULL, never_called, NULL);
  expect_critical ("*timeout_msec >= -1*");
  aio_rw_lock_table_acquire_async (table, "k", READ, -7, NULL, never_called, NULL);
  expect_critical ("*AIO_IS_RW_LOCK_TABLE*");
  aio_rw_lock_table_acquire_async ((AioRwLockTable *) not_a_table, "k", READ, -1, NULL, never_called, NULL);
  expect_critical ("*key != NULL*");
  g_assert_null (aio_rw_lock_table_try_acquire (table, NULL, WRITE, &error));
  expect_critical ("*key != NULL*");
  g_assert_null (aio_rw_lock_table_acquire (table, NULL, WRITE, -1, NULL, &error));
  expect_critical ("*AIO_IS_RW_LOCK_TABLE*");
  aio_rw_lock_table_close (NULL);
  expect_critical ("*policy <=*");
  g_assert_null (aio_rw_lock_table_new ((AioRwLockPolicy) 3));
  g_test_assert_expected_messages ();

  g_assert_no_error (error);
  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
  g_assert_false (aio_rw_lock_table_is_closed (table));
}

/* The 1.1 guard calls with bad arguments: criticals, the guard unchanged. */
static void
test_bad_guard_arguments (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire (lock, AIO_RW_LOCK_MODE_UPGRADABLE_READ, NULL);
  g_autoptr(GError) error = NULL;
  GError *set = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set already");

  expect_critical ("*mode_is_valid*");
  g_assert_false (aio_rw_lock_guard_downgrade_to (guard, (AioRwLockMode) 5, &error));
  expect_critical ("*timeout_msec >= -1*");
  aio_rw_lock_guard_upgrade_full_async (guard, -3, NULL, never_called, NULL);
  expect_critical ("*error == NULL || *error == NULL*");
  g_assert_false (aio_rw_lock_guard_try_upgrade (guard, &set));
  expect_critical ("*error == NULL || *error == NULL*");
  g_assert_null (aio_rw_lock_try_acquire (lock, READ, &set));
  g_test_assert_expected_messages ();

  g_assert_no_error (error);
  g_assert_error (set, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_error_free (set);
  aio_test_iterate_pending (NULL);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, AIO_RW_LOCK_MODE_UPGRADABLE_READ);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
}

/* Releasing twice: a critical, and the other holders keep their holds. */
static void
test_double_release (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) a = aio_rw_lock_try_acquire_read (lock);
  g_autoptr(AioRwLockGuard) b = aio_rw_lock_try_acquire_read (lock);

  aio_rw_lock_guard_release (a);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  expect_critical ("*already released*");
  aio_rw_lock_guard_release (a);
  g_test_assert_expected_messages ();
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_assert_true (aio_rw_lock_guard_is_held (b));

  expect_critical ("*already released*");
  aio_rw_lock_guard_downgrade (a);
  g_test_assert_expected_messages ();
  aio_test_assert_state (lock, 1, FALSE, 0, 0);

  /* Labelling it records nothing: a monitor lists b's hold alone. */
  expect_critical ("*already released*");
  aio_rw_lock_guard_set_label (a, "gone");
  g_test_assert_expected_messages ();
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  {
    g_autoptr(AioRwLockMonitor) monitor = aio_rw_lock_monitor_new (lock);
    g_autoptr(AioRwLockHoldInfo) info = g_list_model_get_item (G_LIST_MODEL (monitor), 0);

    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
    g_assert_null (aio_rw_lock_hold_info_get_label (info));
  }
  expect_critical ("*self != NULL*");
  aio_rw_lock_guard_set_label (NULL, "none");
  g_test_assert_expected_messages ();
}

/* Downgrading a guard whose upgrade waits is refused. */
static void
test_downgrade_during_upgrade (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire_read (lock);
  Request up = { 0 };

  up.guard = aio_rw_lock_acquire (lock, AIO_RW_LOCK_MODE_UPGRADABLE_READ, 0, NULL, NULL);
  g_assert_nonnull (up.guard);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  expect_critical ("*upgrade is pending*");
  aio_rw_lock_guard_downgrade (up.guard);
  g_test_assert_expected_messages ();
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, AIO_RW_LOCK_MODE_UPGRADABLE_READ);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  aio_rw_lock_guard_release (reader);
  aio_test_wait (&up);
  g_assert_true (up.upgraded);
  aio_test_release (&up);
}

typedef struct
{
  GAsyncResult *result;
  gboolean      done;
} SaveResult;

static void
save_result (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  SaveResult *save = user_data;

  save->result = g_object_ref (result);
  save->done = TRUE;
}

/* A result finished by the wrong lock or the wrong _finish is refused;
 * the right one still works, and an unfinished result does not leak the
 * hold. */
static void
test_wrong_finish (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLock) other = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = NULL;
  g_autoptr(GError) error = NULL;
  SaveResult save = { 0 };

  aio_rw_lock_acquire_write_async (lock, NULL, save_result, &save);
  aio_test_iterate_until (NULL, &save.done);

  expect_critical ("*g_task_is_valid*");
  g_assert_null (aio_rw_lock_acquire_write_finish (other, save.result, &error));
  expect_critical ("*is_tagged*");
  g_assert_null (aio_rw_lock_acquire_read_finish (lock, save.result, &error));
  expect_critical ("*is_tagged*");
  g_assert_null (aio_rw_lock_acquire_finish (lock, save.result, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  guard = aio_rw_lock_acquire_write_finish (lock, save.result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (guard);
  g_clear_pointer (&guard, aio_rw_lock_guard_unref);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  g_clear_object (&save.result);

  /* Never finished: the guard inside the result goes with the task. */
  save.done = FALSE;
  aio_rw_lock_acquire_read_async (lock, NULL, save_result, &save);
  aio_test_iterate_until (NULL, &save.done);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_clear_object (&save.result);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* An upgrade finished against another guard is refused. */
static void
test_wrong_upgrade_finish (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) up = aio_rw_lock_acquire (lock, AIO_RW_LOCK_MODE_UPGRADABLE_READ, 0, NULL, NULL);
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire_read (lock);
  g_autoptr(GError) error = NULL;
  SaveResult save = { 0 };

  aio_rw_lock_guard_release (reader);
  aio_rw_lock_guard_upgrade_async (up, NULL, save_result, &save);
  aio_test_iterate_until (NULL, &save.done);

  expect_critical ("*upgrade_get_guard*");
  g_assert_false (aio_rw_lock_guard_upgrade_finish (reader, save.result, &error));
  g_test_assert_expected_messages ();
  g_assert_true (aio_rw_lock_guard_upgrade_finish (up, save.result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up), ==, WRITE);
  g_clear_object (&save.result);
}

/* Two threads release the same guard at once: exactly one ends the hold,
 * the other gets the critical, and the lock stays consistent. */
static gint racing_criticals;

static void
count_release_critical (const gchar    *log_domain,
                        GLogLevelFlags  log_level,
                        const gchar    *message,
                        gpointer        user_data)
{
  g_assert_nonnull (strstr (message, "already released"));
  g_atomic_int_inc (&racing_criticals);
}

typedef struct
{
  AioRwLockGuard *guard;
  gint           *go;
} Racer;

static gpointer
release_racer (gpointer data)
{
  Racer *racer = data;

  while (!g_atomic_int_get (racer->go))
    ;
  aio_rw_lock_guard_release (racer->guard);
  return NULL;
}

static void
test_double_release_race (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  GLogLevelFlags always_fatal;
  guint handler;

  /* Count the criticals (from either thread) instead of aborting. */
  always_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  handler = g_log_set_handler ("Aio", G_LOG_LEVEL_CRITICAL, count_release_critical, NULL);
  for (guint round = 0; round < 200; round++)
    {
      g_autoptr(AioRwLockGuard) other = aio_rw_lock_try_acquire_read (lock);
      AioRwLockGuard *guard = aio_rw_lock_try_acquire_read (lock);
      gint go = 0;
      Racer racer = { guard, &go };
      GThread *a, *b;

      racing_criticals = 0;
      a = g_thread_new ("release-a", release_racer, &racer);
      b = g_thread_new ("release-b", release_racer, &racer);
      g_atomic_int_set (&go, 1);
      g_thread_join (a);
      g_thread_join (b);

      g_assert_cmpint (racing_criticals, ==, 1);
      aio_test_assert_state (lock, 1, FALSE, 0, 0);  /* `other` still holds */
      g_assert_true (aio_rw_lock_guard_is_held (other));
      aio_rw_lock_guard_unref (guard);
    }
  g_log_remove_handler ("Aio", handler);
  g_log_set_always_fatal (always_fatal);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Finishing the same result twice is a programmer error that GIO reports;
 * the guard from the first call still holds and the lock is unchanged. */
static void
test_finish_twice (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = NULL;
  g_autoptr(GError) error = NULL;
  SaveResult save = { 0 };

  aio_rw_lock_acquire_read_async (lock, NULL, save_result, &save);
  aio_test_iterate_until (NULL, &save.done);
  guard = aio_rw_lock_acquire_read_finish (lock, save.result, &error);
  g_assert_nonnull (guard);

  g_test_expect_message ("GLib-GIO", G_LOG_LEVEL_CRITICAL, "*result_set*");
  g_assert_null (aio_rw_lock_acquire_read_finish (lock, save.result, &error));
  g_test_assert_expected_messages ();
  g_assert_true (aio_rw_lock_guard_is_held (guard));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_clear_object (&save.result);
}

/* After each misuse the lock is still usable. */
static void
test_usable_after_misuse (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 }, w = { 0 };

  aio_rw_lock_guard_release (guard);
  expect_critical ("*already released*");
  aio_rw_lock_guard_release (guard);
  expect_critical ("*timeout_msec >= -1*");
  aio_rw_lock_acquire_async (lock, READ, -3, NULL, never_called, NULL);
  g_test_assert_expected_messages ();

  aio_test_acquire (lock, READ, -1, NULL, &r);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);
  aio_test_release (&r);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_release (&w);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/misuse/bad-arguments", test_bad_arguments);
  g_test_add_func ("/Aio/RwLock/misuse/bad-guard-arguments", test_bad_guard_arguments);
  g_test_add_func ("/Aio/RwLock/misuse/bad-table-arguments", test_bad_table_arguments);
  g_test_add_func ("/Aio/RwLock/misuse/double-release", test_double_release);
  g_test_add_func ("/Aio/RwLock/misuse/downgrade-during-upgrade", test_downgrade_during_upgrade);
  g_test_add_func ("/Aio/RwLock/misuse/wrong-finish", test_wrong_finish);
  g_test_add_func ("/Aio/RwLock/misuse/wrong-upgrade-finish", test_wrong_upgrade_finish);
  g_test_add_func ("/Aio/RwLock/misuse/double-release-race", test_double_release_race);
  g_test_add_func ("/Aio/RwLock/misuse/finish-twice", test_finish_twice);
  g_test_add_func ("/Aio/RwLock/misuse/usable-after-misuse", test_usable_after_misuse);

  return g_test_run ();
}
