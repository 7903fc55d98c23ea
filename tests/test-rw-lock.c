/* test-rw-lock.c: shared readers, exclusive writers, hand-off, lifetime,
 * try-locks, timeouts and close
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

static void
test_new (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLock) writers_first = NULL;
  AioRwLockPolicy policy;
  gboolean closed;

  g_assert_cmpint (aio_rw_lock_get_policy (lock), ==, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_false (aio_rw_lock_is_closed (lock));
  aio_test_assert_state (lock, 0, FALSE, 0, 0);

  writers_first = g_object_new (AIO_TYPE_RW_LOCK, "policy", AIO_RW_LOCK_POLICY_PREFER_WRITERS, NULL);
  g_object_get (writers_first, "policy", &policy, "closed", &closed, NULL);
  g_assert_cmpint (policy, ==, AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  g_assert_false (closed);
  g_clear_object (&writers_first);

  writers_first = aio_rw_lock_new_with_policy (AIO_RW_LOCK_POLICY_PREFER_READERS);
  g_assert_cmpint (aio_rw_lock_get_policy (writers_first), ==, AIO_RW_LOCK_POLICY_PREFER_READERS);
}

/* The enums are registered types (properties and bindings use them), and
 * the error domain is a registered enum too. */
static void
test_enum_types (void)
{
  g_autoptr(GEnumClass) modes = g_type_class_ref (AIO_TYPE_RW_LOCK_MODE);
  g_autoptr(GEnumClass) policies = g_type_class_ref (AIO_TYPE_RW_LOCK_POLICY);
  g_autoptr(GEnumClass) errors = g_type_class_ref (AIO_TYPE_RW_LOCK_ERROR);

  g_assert_cmpint (g_enum_get_value_by_nick (modes, "upgradable-read")->value, ==,
                   AIO_RW_LOCK_MODE_UPGRADABLE_READ);
  g_assert_cmpint (g_enum_get_value_by_nick (policies, "prefer-writers")->value, ==,
                   AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  g_assert_cmpint (g_enum_get_value_by_nick (errors, "closed")->value, ==,
                   AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_cmpuint (modes->n_values, ==, 3);
  g_assert_cmpstr (g_quark_to_string (AIO_RW_LOCK_ERROR), ==, "aio-rw-lock-error-quark");
}

static void
test_version (void)
{
  g_autofree char *s = g_strdup_printf ("%d.%d.%d", AIO_MAJOR_VERSION, AIO_MINOR_VERSION, AIO_MICRO_VERSION);

  g_assert_cmpstr (s, ==, AIO_VERSION_S);
  g_assert_true (AIO_CHECK_VERSION (AIO_MAJOR_VERSION, AIO_MINOR_VERSION, AIO_MICRO_VERSION));
  g_assert_true (AIO_CHECK_VERSION (1, 0, 0));
  g_assert_false (AIO_CHECK_VERSION (AIO_MAJOR_VERSION + 1, 0, 0));
}

/* Many readers hold at once. */
static void
test_readers_share (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request r[3] = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r[i]);
      g_assert_false (r[i].done);
    }
  /* Counted when granted, before any callback ran. */
  aio_test_assert_state (lock, 3, FALSE, 0, 0);

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      aio_test_wait (&r[i]);
      aio_test_assert_granted (&r[i]);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (r[i].guard), ==, READ);
      g_assert_true (aio_rw_lock_guard_get_lock (r[i].guard) == lock);
      g_assert_true (aio_rw_lock_guard_is_held (r[i].guard));
    }

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      aio_test_release (&r[i]);
      aio_test_assert_state (lock, 2 - i, FALSE, 0, 0);
    }
}

/* A writer holds alone: readers and writers wait for it, and it waits
 * for readers. */
static void
test_writer_exclusive (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request r1 = { 0 }, w1 = { 0 }, r2 = { 0 }, w2 = { 0 };

  aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r1);
  aio_test_wait (&r1);
  aio_test_assert_granted (&r1);

  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w1);
  aio_test_iterate_pending (NULL);
  g_assert_false (w1.done);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);

  aio_test_release (&r1);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  g_assert_false (w1.done);  /* release never completes a waiter itself */
  aio_test_wait (&w1);
  aio_test_assert_granted (&w1);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (w1.guard), ==, WRITE);

  aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r2);
  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w2);
  aio_test_iterate_pending (NULL);
  g_assert_false (r2.done);
  g_assert_false (w2.done);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  g_assert_null (aio_rw_lock_try_acquire_write (lock));
  aio_test_assert_state (lock, 0, TRUE, 1, 1);

  aio_test_release (&w1);
  aio_test_wait (&r2);
  aio_test_assert_granted (&r2);
  g_assert_false (w2.done);
  aio_test_release (&r2);
  aio_test_wait (&w2);
  aio_test_assert_granted (&w2);
  aio_test_release (&w2);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A grant is counted when it is made: a releaser that asks again at once
 * queues behind the waiter it woke (aiorwlock 1.2.0 let both in). */
static void
test_hand_off (void)
{
  for (AioRwLockPolicy policy = 0; policy <= AIO_RW_LOCK_POLICY_PREFER_READERS; policy++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (policy);
      Request a = { 0 }, b = { 0 }, a2 = { 0 };

      aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &a);
      aio_test_wait (&a);
      aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &b);
      aio_test_iterate_pending (NULL);
      g_assert_false (b.done);

      aio_test_release (&a);
      aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &a2);
      aio_test_assert_state (lock, 0, TRUE, 0, 1);

      aio_test_wait (&b);
      aio_test_assert_granted (&b);
      aio_test_iterate_pending (NULL);
      g_assert_false (a2.done);
      aio_test_release (&b);
      aio_test_wait (&a2);
      aio_test_assert_granted (&a2);
      g_assert_cmpuint (a2.order, >, b.order);
      aio_test_release (&a2);
    }
}

/* The last reference to a guard ends its hold if release() was not called;
 * g_autoptr does it at the end of a scope. */
static void
test_guard_unref_releases (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *extra;
  Request w = { 0 }, r = { 0 };

  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &w);
  aio_test_wait (&w);
  extra = aio_rw_lock_guard_ref (w.guard);
  aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &r);

  g_clear_pointer (&w.guard, aio_rw_lock_guard_unref);
  aio_test_assert_state (lock, 0, TRUE, 1, 0);  /* another reference is alive */
  aio_rw_lock_guard_unref (extra);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);

  {
    g_autoptr(AioRwLockGuard) scoped = g_steal_pointer (&r.guard);

    g_assert_true (aio_rw_lock_guard_is_held (scoped));
  }
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Guards and waiters keep the lock alive; it is finalized after the last. */
static void
test_lifetime (void)
{
  AioRwLock *lock = aio_rw_lock_new ();
  AioRwLockGuard *guard = aio_rw_lock_try_acquire_write (lock);
  Request waiting = { 0 };

  g_assert_nonnull (guard);
  g_object_add_weak_pointer (G_OBJECT (lock), (gpointer *) &lock);
  aio_rw_lock_acquire_read_async (lock, NULL, aio_test_on_acquired, &waiting);
  g_object_unref (lock);
  g_assert_nonnull (lock);

  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
  g_assert_nonnull (lock);  /* the waiter still needs it */

  aio_test_wait (&waiting);
  aio_test_assert_granted (&waiting);
  g_assert_nonnull (lock);
  g_assert_true (aio_rw_lock_guard_get_lock (waiting.guard) == lock);
  aio_test_iterate_pending (NULL);
  g_assert_nonnull (lock);  /* the guard keeps it */

  g_clear_pointer (&waiting.guard, aio_rw_lock_guard_unref);
  g_assert_null (lock);
}

static void
test_try_acquire (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *r1, *r2, *w;
  Request queued = { 0 };

  r1 = aio_rw_lock_try_acquire_read (lock);
  r2 = aio_rw_lock_try_acquire_read (lock);
  g_assert_nonnull (r1);
  g_assert_nonnull (r2);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (r1), ==, READ);
  g_assert_null (aio_rw_lock_try_acquire_write (lock));
  aio_test_assert_state (lock, 2, FALSE, 0, 0);

  /* FAIR: once a writer waits, a new reader may not pass it. */
  aio_rw_lock_acquire_write_async (lock, NULL, aio_test_on_acquired, &queued);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  aio_rw_lock_guard_unref (r1);
  aio_rw_lock_guard_unref (r2);
  aio_test_wait (&queued);
  aio_test_release (&queued);

  w = aio_rw_lock_try_acquire_write (lock);
  g_assert_nonnull (w);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (w), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  aio_rw_lock_guard_release (w);
  aio_rw_lock_guard_unref (w);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A waiter still queued at its deadline fails with TIMED_OUT and leaves
 * the queue; whoever it blocked goes in. */
static void
test_timeout (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *reader = aio_rw_lock_try_acquire_read (lock);
  Request w = { 0 }, r = { 0 };

  aio_test_acquire (lock, WRITE, 50, NULL, &w);
  aio_test_acquire (lock, READ, -1, NULL, &r);
  aio_test_assert_state (lock, 1, FALSE, 1, 1);

  aio_test_wait (&w);
  aio_test_assert_failed (&w, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);

  aio_test_release (&r);
  aio_rw_lock_guard_unref (reader);
}

/* timeout 0: granted only if it can be at once, and never queued. */
static void
test_timeout_zero (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request now = { 0 }, never = { 0 };

  aio_test_acquire (lock, WRITE, 0, NULL, &now);
  aio_test_wait (&now);
  aio_test_assert_granted (&now);

  aio_test_acquire (lock, READ, 0, NULL, &never);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_wait (&never);
  aio_test_assert_failed (&never, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  aio_test_release (&now);
}

/* A deadline never revokes a grant, even one whose callback has not run. */
static void
test_timeout_never_revokes (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *w = aio_rw_lock_try_acquire_write (lock);
  Request r = { 0 };

  aio_test_acquire (lock, READ, 20, NULL, &r);
  aio_rw_lock_guard_unref (w);     /* granted now, delivered later */
  g_usleep (40 * G_TIME_SPAN_MILLISECOND);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);
  aio_test_iterate_pending (NULL);
  g_usleep (40 * G_TIME_SPAN_MILLISECOND);
  aio_test_iterate_pending (NULL);
  g_assert_true (aio_rw_lock_guard_is_held (r.guard));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_release (&r);
}

/* close(): waiters fail with CLOSED, holders keep their guards, later
 * acquisitions fail. */
static void
test_close (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) holder = NULL;
  g_autoptr(AioRwLockGuard) again = NULL;
  g_autoptr(GError) error = NULL;
  Request w = { 0 }, r = { 0 }, late = { 0 };

  holder = aio_rw_lock_try_acquire_read (lock);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_acquire (lock, READ, -1, NULL, &r);

  aio_rw_lock_close (lock);
  g_assert_true (aio_rw_lock_is_closed (lock));
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_assert_false (w.done);  /* completes from the main context, as always */
  aio_test_wait (&w);
  aio_test_wait (&r);
  aio_test_assert_failed (&w, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  aio_test_assert_failed (&r, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);

  g_assert_true (aio_rw_lock_guard_is_held (holder));
  again = aio_rw_lock_guard_reenter (holder, READ, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);

  aio_test_acquire (lock, READ, -1, NULL, &late);
  aio_test_wait (&late);
  aio_test_assert_failed (&late, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  g_assert_null (aio_rw_lock_try_acquire_write (lock));
  g_assert_null (aio_rw_lock_acquire (lock, READ, -1, NULL, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);

  aio_rw_lock_close (lock);  /* again: nothing changes */
  g_assert_true (aio_rw_lock_is_closed (lock));
  aio_rw_lock_guard_release (holder);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);  /* the re-entered guard */
  aio_rw_lock_guard_release (again);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* The blocking form on the main thread: granted or refused at once. */
static void
test_blocking_immediate (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) w = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  w = aio_rw_lock_acquire (lock, WRITE, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (w);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (w), ==, WRITE);

  g_assert_null (aio_rw_lock_acquire (lock, READ, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  g_assert_null (aio_rw_lock_acquire (lock, READ, 30, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 30 * G_TIME_SPAN_MILLISECOND);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
}

typedef struct
{
  gboolean  done;
  char     *name;
  gpointer  tag;
} Named;

static void
on_named_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Named *n = user_data;

  n->name = g_strdup (g_task_get_name (G_TASK (result)));
  n->tag = g_task_get_source_tag (G_TASK (result));
  n->done = TRUE;
}

/* Each GTask is named and tagged after the call that made it, so
 * debuggers and profilers show the API call. */
static void
test_task_names (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = NULL;
  Named n[5] = { { 0 } };
  static const struct {
    const char *name;
    gpointer    tag;
  } expected[] = {
    { "aio_rw_lock_acquire_read_async", aio_rw_lock_acquire_read_async },
    { "aio_rw_lock_acquire_write_async", aio_rw_lock_acquire_write_async },
    { "aio_rw_lock_acquire_async", aio_rw_lock_acquire_async },
    { "aio_rw_lock_guard_upgrade_async", aio_rw_lock_guard_upgrade_async },
    { "aio_rw_lock_upgrade_async", aio_rw_lock_upgrade_async },
  };

  guard = aio_rw_lock_try_acquire_read (lock);
  aio_rw_lock_acquire_read_async (lock, NULL, on_named_done, &n[0]);
  aio_rw_lock_acquire_write_async (lock, NULL, on_named_done, &n[1]);
  aio_rw_lock_acquire_async (lock, AIO_RW_LOCK_MODE_READ, 0, NULL, on_named_done, &n[2]);
  /* A READ guard cannot upgrade: both fail at once, which is enough. */
  aio_rw_lock_guard_upgrade_async (guard, NULL, on_named_done, &n[3]);
  aio_rw_lock_upgrade_async (lock, guard, NULL, on_named_done, &n[4]);
  /* The writer enters once the READ holds are gone (the first one's with
   * its task: its callback does not finish it). */
  g_clear_pointer (&guard, aio_rw_lock_guard_unref);

  for (guint i = 0; i < G_N_ELEMENTS (n); i++)
    {
      aio_test_iterate_until (NULL, &n[i].done);
      g_assert_cmpstr (n[i].name, ==, expected[i].name);
      g_assert_true (n[i].tag == expected[i].tag);
      g_free (n[i].name);
    }
}

/* A NULL callback is accepted, as by any GIO call: the request runs, and
 * a grant nobody finishes ends with its task. */
static void
test_null_callback (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(AioRwLockGuard) guard = NULL;

  aio_rw_lock_acquire_write_async (lock, NULL, NULL, NULL);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_iterate_pending (NULL);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);

  guard = aio_rw_lock_acquire (lock, AIO_RW_LOCK_MODE_UPGRADABLE_READ, -1, NULL, &error);
  g_assert_no_error (error);
  aio_rw_lock_guard_upgrade_async (guard, NULL, NULL, NULL);
  aio_test_iterate_pending (NULL);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, AIO_RW_LOCK_MODE_WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
}

/* The name: construct-only, nullable, and NULL unless given. */
static void
test_name (void)
{
  g_autoptr(AioRwLock) unnamed = aio_rw_lock_new ();
  g_autoptr(AioRwLock) named = g_object_new (AIO_TYPE_RW_LOCK, "name", "cache", NULL);
  g_autofree char *name = NULL;
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (named), "name");

  g_assert_null (aio_rw_lock_get_name (unnamed));
  g_assert_cmpstr (aio_rw_lock_get_name (named), ==, "cache");
  g_object_get (named, "name", &name, NULL);
  g_assert_cmpstr (name, ==, "cache");
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/new", test_new);
  g_test_add_func ("/Aio/RwLock/version", test_version);
  g_test_add_func ("/Aio/RwLock/name", test_name);
  g_test_add_func ("/Aio/RwLock/enum-types", test_enum_types);
  g_test_add_func ("/Aio/RwLock/readers-share", test_readers_share);
  g_test_add_func ("/Aio/RwLock/writer-exclusive", test_writer_exclusive);
  g_test_add_func ("/Aio/RwLock/hand-off", test_hand_off);
  g_test_add_func ("/Aio/RwLock/guard-unref-releases", test_guard_unref_releases);
  g_test_add_func ("/Aio/RwLock/lifetime", test_lifetime);
  g_test_add_func ("/Aio/RwLock/try-acquire", test_try_acquire);
  g_test_add_func ("/Aio/RwLock/timeout/expires", test_timeout);
  g_test_add_func ("/Aio/RwLock/timeout/zero", test_timeout_zero);
  g_test_add_func ("/Aio/RwLock/timeout/never-revokes", test_timeout_never_revokes);
  g_test_add_func ("/Aio/RwLock/close", test_close);
  g_test_add_func ("/Aio/RwLock/blocking/immediate", test_blocking_immediate);
  g_test_add_func ("/Aio/RwLock/task-names", test_task_names);
  g_test_add_func ("/Aio/RwLock/null-callback", test_null_callback);

  return g_test_run ();
}
