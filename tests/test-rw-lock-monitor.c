/* test-rw-lock-monitor.c: AioRwLockMonitor, the lock's state for UIs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define _GNU_SOURCE  /* gettid () */

#include <unistd.h>

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

typedef struct
{
  guint     readers;        /* notify::readers emissions */
  guint     write_locked;
  guint     pending_readers;
  guint     pending_writers;
  guint     closed;
  guint     items_changed;
  GThread  *thread;         /* where the last one ran */
} Seen;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  Seen *seen = user_data;

  seen->thread = g_thread_self ();
  if (g_str_equal (pspec->name, "readers"))
    seen->readers++;
  else if (g_str_equal (pspec->name, "write-locked"))
    seen->write_locked++;
  else if (g_str_equal (pspec->name, "pending-readers"))
    seen->pending_readers++;
  else if (g_str_equal (pspec->name, "pending-writers"))
    seen->pending_writers++;
  else if (g_str_equal (pspec->name, "closed"))
    seen->closed++;
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  gpointer    user_data)
{
  Seen *seen = user_data;

  g_assert_cmpuint (position, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, added);
  seen->thread = g_thread_self ();
  seen->items_changed++;
}

static AioRwLockMonitor *
watch (AioRwLock *lock,
       Seen      *seen)
{
  AioRwLockMonitor *monitor = aio_rw_lock_monitor_new (lock);

  g_signal_connect (monitor, "notify", G_CALLBACK (on_notify), seen);
  g_signal_connect (monitor, "items-changed", G_CALLBACK (on_items_changed), seen);
  return monitor;
}

/* Checks item I of MONITOR. */
static void
assert_item (AioRwLockMonitor *monitor,
             guint             i,
             AioRwLockMode     mode,
             gboolean          waiting)
{
  g_autoptr(AioRwLockHoldInfo) info = g_list_model_get_item (G_LIST_MODEL (monitor), i);

  g_assert_nonnull (info);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (info), ==, mode);
  g_assert_cmpint (aio_rw_lock_hold_info_is_waiting (info), ==, waiting);
}

/* A new monitor starts with what exists, without notifying. */
static void
test_starts_with_what_exists (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = aio_rw_lock_try_acquire_read (lock);
  g_autoptr(AioRwLockGuard) upgradable = aio_rw_lock_try_acquire (lock, UPGRADABLE, NULL);
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  Request writer = { "writer" }, late = { "late reader" };
  Seen seen = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &writer);
  aio_test_acquire (lock, READ, -1, NULL, &late);
  monitor = watch (lock, &seen);

  g_assert_true (aio_rw_lock_monitor_get_lock (monitor) == lock);
  g_assert_cmpuint (aio_rw_lock_monitor_get_readers (monitor), ==, 2);
  g_assert_false (aio_rw_lock_monitor_is_write_locked (monitor));
  g_assert_cmpuint (aio_rw_lock_monitor_get_pending_readers (monitor), ==, 1);
  g_assert_cmpuint (aio_rw_lock_monitor_get_pending_writers (monitor), ==, 1);
  g_assert_false (aio_rw_lock_monitor_is_closed (monitor));
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (monitor)) == AIO_TYPE_RW_LOCK_HOLD_INFO);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 4);
  /* Holds first, strongest first; then the queue in arrival order. */
  assert_item (monitor, 0, UPGRADABLE, FALSE);
  assert_item (monitor, 1, READ, FALSE);
  assert_item (monitor, 2, WRITE, TRUE);
  assert_item (monitor, 3, READ, TRUE);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (monitor), 4));

  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (seen.readers + seen.pending_writers + seen.items_changed, ==, 0);

  aio_rw_lock_close (lock);
  aio_test_wait (&writer);
  aio_test_wait (&late);
  aio_test_request_clear (&writer);
  aio_test_request_clear (&late);
}

/* Changes notify on the monitor's context, not in the call that made
 * them, and many changes in one iteration notify once. */
static void
test_notifies_coalesced (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  Seen seen = { 0 };
  AioRwLockGuard *guards[3];

  monitor = watch (lock, &seen);
  for (guint i = 0; i < G_N_ELEMENTS (guards); i++)
    guards[i] = aio_rw_lock_try_acquire_read (lock);
  g_assert_cmpuint (seen.readers, ==, 0);
  g_assert_cmpuint (aio_rw_lock_monitor_get_readers (monitor), ==, 0);

  g_assert_true (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpuint (seen.readers, ==, 1);
  g_assert_cmpuint (seen.items_changed, ==, 1);
  g_assert_cmpuint (aio_rw_lock_monitor_get_readers (monitor), ==, 3);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 3);
  g_assert_cmpuint (seen.write_locked, ==, 0);
  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (seen.readers, ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (guards); i++)
    aio_rw_lock_guard_unref (guards[i]);
  guards[0] = aio_rw_lock_try_acquire_write (lock);
  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (seen.readers, ==, 2);
  g_assert_cmpuint (seen.write_locked, ==, 1);
  g_assert_true (aio_rw_lock_monitor_is_write_locked (monitor));
  assert_item (monitor, 0, WRITE, FALSE);

  aio_rw_lock_close (lock);
  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (seen.closed, ==, 1);
  g_assert_true (aio_rw_lock_monitor_is_closed (monitor));
  aio_rw_lock_guard_unref (guards[0]);
}

/* A read-only look at the lock (a property read, a guard's mode) is not a
 * change: the monitor does not wake for it. */
static void
test_reads_are_not_changes (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire_read (lock);
  g_autoptr(AioRwLockMonitor) monitor = aio_rw_lock_monitor_new (lock);

  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (aio_rw_lock_get_readers (lock), ==, 1);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (guard), ==, READ);
  g_assert_false (g_main_context_iteration (NULL, FALSE));
}

typedef struct
{
  AioRwLock *lock;
  guint      rounds;
} Churn;

static gpointer
churn (gpointer data)
{
  Churn *c = data;

  for (guint i = 0; i < c->rounds; i++)
    {
      AioRwLockGuard *guard = aio_rw_lock_acquire (c->lock, i % 3 ? READ : WRITE, -1, NULL, NULL);

      g_assert_nonnull (guard);
      aio_rw_lock_guard_unref (guard);
    }
  return NULL;
}

/* Changes from other threads reach the monitor on its own context's
 * thread; once they stop, it shows the lock as it is. */
static void
test_changes_from_threads (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  Churn c = { lock, 20000 };
  Seen seen = { 0 };
  GThread *threads[3];
  g_autoptr(AioRwLockGuard) last = NULL;

  monitor = watch (lock, &seen);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("churn", churn, &c);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_thread_join (threads[i]);
    }
  last = aio_rw_lock_try_acquire_write (lock);
  aio_test_iterate_pending (NULL);

  g_assert_true (seen.thread == g_thread_self ());
  g_assert_cmpuint (seen.write_locked, >=, 1);
  g_assert_true (aio_rw_lock_monitor_is_write_locked (monitor));
  g_assert_cmpuint (aio_rw_lock_monitor_get_readers (monitor), ==, 0);
  g_assert_cmpuint (aio_rw_lock_monitor_get_pending_writers (monitor), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
  assert_item (monitor, 0, WRITE, FALSE);
}

typedef struct
{
  AioRwLock *lock;
  gint       ready;
} OnThread;

static gboolean
on_deadline (gpointer user_data)
{
  g_error ("timed out after %d s waiting for the monitor", AIO_TEST_DEADLINE_SEC);
  return G_SOURCE_REMOVE;
}

static gpointer
make_monitor_on_thread (gpointer data)
{
  OnThread *on = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  Seen seen = { 0 };

  g_autoptr(GSource) deadline = g_timeout_source_new_seconds (AIO_TEST_DEADLINE_SEC);

  g_source_set_callback (deadline, on_deadline, NULL, NULL);
  g_source_attach (deadline, context);
  g_main_context_push_thread_default (context);
  monitor = watch (on->lock, &seen);
  g_atomic_int_set (&on->ready, TRUE);
  while (seen.write_locked == 0)
    g_main_context_iteration (context, TRUE);
  g_assert_true (seen.thread == g_thread_self ());
  g_assert_true (aio_rw_lock_monitor_is_write_locked (monitor));
  g_clear_object (&monitor);
  g_source_destroy (deadline);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* A monitor made on another thread notifies there, woken from this one;
 * once dropped, the lock no longer calls it. */
static void
test_monitor_on_other_context (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  OnThread on = { lock };
  GThread *thread = g_thread_new ("monitor", make_monitor_on_thread, &on);
  AioRwLockGuard *writer;

  while (!g_atomic_int_get (&on.ready))
    g_usleep (1000);
  writer = aio_rw_lock_try_acquire_write (lock);
  g_thread_join (thread);
  aio_rw_lock_guard_unref (writer);
  writer = aio_rw_lock_try_acquire_write (lock);
  aio_rw_lock_guard_unref (writer);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

static AioRwLockHoldInfo *
item (AioRwLockMonitor *monitor,
      guint             i)
{
  AioRwLockHoldInfo *info = g_list_model_get_item (G_LIST_MODEL (monitor), i);

  g_assert_nonnull (info);
  return info;
}

static guint64
os_thread_id (void)
{
  return (guint64) gettid ();
}

typedef struct
{
  Seen  *seen;
  guint  before;
} ItemsChanged;

static gboolean
items_changed_again (gpointer data)
{
  ItemsChanged *wait = data;

  return wait->seen->items_changed != wait->before;
}

/* Iterates until the monitor's items changed once more. */
static void
wait_items_changed (Seen *seen)
{
  ItemsChanged wait = { seen, seen->items_changed };

  aio_test_poll_until (items_changed_again, &wait);
}

/* While a monitor exists, holds and waits carry when they began, the OS
 * thread that made them, and the label set on the guard; a wait becomes a
 * hold that begins at its grant. */
static void
test_records_since_thread_label (void)
{
  g_autoptr(AioRwLock) lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "records", NULL);
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  g_autoptr(AioRwLockHoldInfo) held = NULL;
  g_autoptr(AioRwLockHoldInfo) waiting = NULL;
  g_autoptr(AioRwLockHoldInfo) granted = NULL;
  AioRwLockGuard *reader;
  Request writer = { "writer" };
  Seen seen = { 0 };
  gint64 t0, t1, t2;

  monitor = watch (lock, &seen);
  t0 = g_get_monotonic_time ();
  reader = aio_rw_lock_try_acquire_read (lock);
  aio_rw_lock_guard_set_label (reader, "scan");
  aio_test_acquire (lock, WRITE, -1, NULL, &writer);
  t1 = g_get_monotonic_time ();
  wait_items_changed (&seen);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 2);
  held = item (monitor, 0);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (held), ==, READ);
  g_assert_false (aio_rw_lock_hold_info_is_waiting (held));
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (held), >=, t0);
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (held), <=, t1);
  g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (held), ==, os_thread_id ());
  g_assert_cmpstr (aio_rw_lock_hold_info_get_label (held), ==, "scan");
  waiting = item (monitor, 1);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (waiting), ==, WRITE);
  g_assert_true (aio_rw_lock_hold_info_is_waiting (waiting));
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (waiting), >=, aio_rw_lock_hold_info_get_since_usec (held));
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (waiting), <=, t1);
  g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (waiting), ==, os_thread_id ());
  g_assert_null (aio_rw_lock_hold_info_get_label (waiting));

  g_usleep (2000);
  t2 = g_get_monotonic_time ();
  aio_rw_lock_guard_release (reader);
  aio_rw_lock_guard_unref (reader);
  aio_test_wait (&writer);
  aio_test_iterate_pending (NULL);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
  granted = item (monitor, 0);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (granted), ==, WRITE);
  g_assert_false (aio_rw_lock_hold_info_is_waiting (granted));
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (granted), >=, t2);
  g_assert_null (aio_rw_lock_hold_info_get_label (granted));

  aio_test_request_clear (&writer);
}

/* Holds begun before anything recorded them show since-usec 0 and thread
 * 0, and can still be labelled; re-entered guards share one hold and one
 * label. */
static void
test_unrecorded_and_reentered (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) before = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  g_autoptr(AioRwLockGuard) again = aio_rw_lock_guard_reenter (before, READ, NULL);
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  g_autoptr(AioRwLockHoldInfo) first = NULL;
  g_autoptr(AioRwLockHoldInfo) labelled = NULL;
  Seen seen = { 0 };

  g_assert_nonnull (again);
  monitor = watch (lock, &seen);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
  first = item (monitor, 0);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (first), ==, WRITE);
  if (g_getenv ("AIO_RW_LOCK_DEBUG") == NULL)
    {
      g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (first), ==, 0);
      g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (first), ==, 0);
    }
  else
    {
      /* Recorded from the start. */
      g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (first), >, 0);
      g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (first), ==, os_thread_id ());
    }

  aio_rw_lock_guard_set_label (before, "first");
  aio_rw_lock_guard_set_label (again, "migrate");
  wait_items_changed (&seen);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
  labelled = item (monitor, 0);
  g_assert_cmpstr (aio_rw_lock_hold_info_get_label (labelled), ==, "migrate");
  g_assert_cmpint (aio_rw_lock_hold_info_get_since_usec (labelled), ==,
                   aio_rw_lock_hold_info_get_since_usec (first));

  /* The WRITE guard goes, the hold stays READ with its label. */
  aio_rw_lock_guard_release (before);
  wait_items_changed (&seen);
  g_clear_object (&labelled);
  labelled = item (monitor, 0);
  g_assert_cmpint (aio_rw_lock_hold_info_get_mode (labelled), ==, READ);
  g_assert_cmpstr (aio_rw_lock_hold_info_get_label (labelled), ==, "migrate");
  aio_rw_lock_guard_release (again);
  wait_items_changed (&seen);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 0);
}

typedef struct
{
  AioRwLock *lock;
  guint64    thread_id;
  GMutex     mutex;
  GCond      cond;
  gboolean   holding;
  gboolean   release;
} Holder;

static gpointer
hold_on_thread (gpointer data)
{
  Holder *holder = data;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = aio_rw_lock_acquire (holder->lock, WRITE, -1, NULL, &error);

  g_assert_no_error (error);
  aio_rw_lock_guard_set_label (guard, "worker");
  g_mutex_lock (&holder->mutex);
  holder->thread_id = os_thread_id ();
  holder->holding = TRUE;
  g_cond_broadcast (&holder->cond);
  while (!holder->release)
    g_cond_wait (&holder->cond, &holder->mutex);
  g_mutex_unlock (&holder->mutex);
  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
  return NULL;
}

/* A hold made by a blocking acquisition on another thread carries that
 * thread's OS id. */
static void
test_records_other_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockMonitor) monitor = NULL;
  g_autoptr(AioRwLockHoldInfo) info = NULL;
  Holder holder = { lock };
  Seen seen = { 0 };
  GThread *thread;

  monitor = watch (lock, &seen);
  g_mutex_init (&holder.mutex);
  g_cond_init (&holder.cond);
  thread = g_thread_new ("holder", hold_on_thread, &holder);
  g_mutex_lock (&holder.mutex);
  while (!holder.holding)
    g_cond_wait (&holder.cond, &holder.mutex);
  g_mutex_unlock (&holder.mutex);

  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (monitor)), ==, 1);
  info = item (monitor, 0);
  g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (info), ==, holder.thread_id);
  g_assert_cmpuint (aio_rw_lock_hold_info_get_thread_id (info), !=, os_thread_id ());
  g_assert_cmpstr (aio_rw_lock_hold_info_get_label (info), ==, "worker");

  g_mutex_lock (&holder.mutex);
  holder.release = TRUE;
  g_cond_broadcast (&holder.cond);
  g_mutex_unlock (&holder.mutex);
  g_thread_join (thread);
  g_mutex_clear (&holder.mutex);
  g_cond_clear (&holder.cond);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLockMonitor/starts-with-what-exists", test_starts_with_what_exists);
  g_test_add_func ("/Aio/RwLockMonitor/notifies-coalesced", test_notifies_coalesced);
  g_test_add_func ("/Aio/RwLockMonitor/reads-are-not-changes", test_reads_are_not_changes);
  g_test_add_func ("/Aio/RwLockMonitor/changes-from-threads", test_changes_from_threads);
  g_test_add_func ("/Aio/RwLockMonitor/monitor-on-other-context", test_monitor_on_other_context);
  g_test_add_func ("/Aio/RwLockMonitor/records-since-thread-label", test_records_since_thread_label);
  g_test_add_func ("/Aio/RwLockMonitor/unrecorded-and-reentered", test_unrecorded_and_reentered);
  g_test_add_func ("/Aio/RwLockMonitor/records-other-thread", test_records_other_thread);

  return g_test_run ();
}
