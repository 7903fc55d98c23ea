/* test-rw-lock-table.c: AioRwLockTable, a lock per key
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <malloc.h>

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

typedef struct
{
  gboolean done;
  AioRwLockGuard *guard;
  GError *error;
  char *task_name;
} TableRequest;

static void
on_table_acquired (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  TableRequest *request = user_data;

  g_assert_false (request->done);
  g_assert_true (AIO_IS_RW_LOCK_TABLE (source));
  request->task_name = g_strdup (g_task_get_name (G_TASK (result)));
  request->guard = aio_rw_lock_table_acquire_finish (AIO_RW_LOCK_TABLE (source), result, &request->error);
  g_assert_true ((request->guard == NULL) == (request->error != NULL));
  request->done = TRUE;
}

static void
table_acquire (AioRwLockTable *table,
               const char     *key,
               AioRwLockMode   mode,
               int             timeout_msec,
               GCancellable   *cancellable,
               TableRequest   *request)
{
  aio_rw_lock_table_acquire_async (table, key, mode, timeout_msec, cancellable,
                                   on_table_acquired, request);
  g_assert_false (request->done);
}

static void
table_request_clear (TableRequest *request)
{
  g_clear_pointer (&request->guard, aio_rw_lock_guard_unref);
  g_clear_error (&request->error);
  g_clear_pointer (&request->task_name, g_free);
  request->done = FALSE;
}

/* A key's lock behaves as a lock; other keys are independent. */
static void
test_keys (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  TableRequest writer = { 0 }, reader = { 0 }, other = { 0 };
  AioRwLock *lock;

  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
  table_acquire (table, "/a", WRITE, -1, NULL, &writer);
  table_acquire (table, "/a", READ, -1, NULL, &reader);
  table_acquire (table, "/b", READ, -1, NULL, &other);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 2);
  aio_test_iterate_until (NULL, &writer.done);
  aio_test_iterate_until (NULL, &other.done);
  g_assert_no_error (writer.error);
  g_assert_no_error (other.error);
  g_assert_cmpstr (writer.task_name, ==, "aio_rw_lock_table_acquire_async");

  lock = aio_rw_lock_guard_get_lock (writer.guard);
  g_assert_cmpstr (aio_rw_lock_get_name (lock), ==, "/a");
  g_assert_cmpint (aio_rw_lock_get_policy (lock), ==, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_cmpstr (aio_rw_lock_get_name (aio_rw_lock_guard_get_lock (other.guard)), ==, "/b");
  aio_test_assert_state (lock, 0, TRUE, 1, 0);
  aio_test_iterate_pending (NULL);
  g_assert_false (reader.done);

  aio_rw_lock_guard_release (writer.guard);
  aio_test_iterate_until (NULL, &reader.done);
  g_assert_no_error (reader.error);
  g_assert_true (aio_rw_lock_guard_get_lock (reader.guard) == lock);

  table_request_clear (&writer);
  table_request_clear (&reader);
  table_request_clear (&other);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
}

/* An entry lives exactly as long as its lock: guards, waiters and
 * references keep it; a key never has two live locks. */
static void
test_entry_lifetime (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  AioRwLockGuard *guard = aio_rw_lock_table_try_acquire (table, "k", READ, NULL);
  AioRwLockGuard *again = aio_rw_lock_table_try_acquire (table, "k", READ, NULL);
  AioRwLock *lock = aio_rw_lock_guard_get_lock (guard);
  AioRwLock *kept;

  g_assert_true (aio_rw_lock_guard_get_lock (again) == lock);
  g_assert_cmpint (aio_rw_lock_get_policy (lock), ==, AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  g_object_add_weak_pointer (G_OBJECT (lock), (gpointer *) &lock);

  /* Released but referenced: the lock and the entry stay. */
  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_release (again);
  kept = g_object_ref (aio_rw_lock_guard_get_lock (guard));
  aio_rw_lock_guard_unref (guard);
  aio_rw_lock_guard_unref (again);
  g_assert_nonnull (lock);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 1);
  guard = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_assert_true (aio_rw_lock_guard_get_lock (guard) == kept);
  aio_rw_lock_guard_unref (guard);

  g_object_unref (kept);
  g_assert_null (lock);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);

  /* A new lock for the key after that. */
  guard = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_assert_nonnull (guard);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 1);
  aio_rw_lock_guard_unref (guard);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
}

typedef struct
{
  AioRwLockTable *table;
  AioRwLockGuard *guard;
} Lookup;

static void
never_notified (GObject    *object,
                GParamSpec *pspec,
                gpointer    user_data)
{
  g_assert_not_reached ();
}

/* Runs while the lock is disposed: after its weak references were
 * cleared, before its weak notifies. */
static void
on_lock_disposing (gpointer  data,
                   GClosure *closure)
{
  Lookup *lookup = data;

  lookup->guard = aio_rw_lock_table_try_acquire (lookup->table, "k", WRITE, NULL);
}

/* A lookup while the key's previous lock is being finalized makes a new
 * lock, which the old one's finalization leaves in the table. */
static void
test_lookup_during_finalize (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *guard = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_autoptr(GError) error = NULL;
  Lookup lookup = { table };

  g_signal_connect_data (aio_rw_lock_guard_get_lock (guard), "notify",
                         G_CALLBACK (never_notified), &lookup, on_lock_disposing, 0);
  aio_rw_lock_guard_unref (guard);

  g_assert_nonnull (lookup.guard);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 1);
  /* The same, live, lock: write-held, not a third one. */
  g_assert_null (aio_rw_lock_table_try_acquire (table, "k", WRITE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  aio_rw_lock_guard_unref (lookup.guard);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
}

/* A waiting request keeps its key's lock, and the entry, alive. */
static void
test_waiter_keeps_lock (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *holder = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TableRequest waiter = { 0 };

  table_acquire (table, "k", READ, -1, cancellable, &waiter);
  aio_rw_lock_guard_unref (holder);  /* grants the waiter */
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 1);
  g_cancellable_cancel (cancellable);  /* hands the grant back */
  aio_test_iterate_until (NULL, &waiter.done);
  g_assert_error (waiter.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  table_request_clear (&waiter);
  aio_test_iterate_pending (NULL);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
}

static void
test_try_and_deadline (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  g_autoptr(AioRwLockGuard) holder = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_autoptr(GError) error = NULL;
  TableRequest at_once = { 0 };

  g_assert_null (aio_rw_lock_table_try_acquire (table, "k", READ, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  table_acquire (table, "k", READ, 0, NULL, &at_once);
  aio_test_iterate_until (NULL, &at_once.done);
  g_assert_error (at_once.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  table_request_clear (&at_once);

  g_assert_null (aio_rw_lock_table_acquire (table, "k", READ, 20, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  aio_test_assert_state (aio_rw_lock_guard_get_lock (holder), 0, TRUE, 0, 0);
}

typedef struct
{
  AioRwLockTable *table;
  gboolean acquired;
} Blocking;

static gpointer
acquire_blocking (gpointer data)
{
  Blocking *blocking = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_table_acquire (blocking->table, "k", WRITE, -1, NULL, &error);

  g_assert_no_error (error);
  g_atomic_int_set (&blocking->acquired, TRUE);
  return NULL;
}

/* The blocking form waits in the key's queue. */
static void
test_blocking (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *holder = aio_rw_lock_table_try_acquire (table, "k", READ, NULL);
  AioRwLock *lock = aio_rw_lock_guard_get_lock (holder);
  Blocking blocking = { table };
  GThread *thread = g_thread_new ("blocking", acquire_blocking, &blocking);

  while (aio_rw_lock_get_pending_writers (lock) == 0)
    g_usleep (1000);
  g_assert_false (g_atomic_int_get (&blocking.acquired));
  aio_rw_lock_guard_unref (holder);
  g_thread_join (thread);
  g_assert_true (blocking.acquired);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
}

/* Closing fails the waiters of every key and every later request, from
 * the main context; holders keep their holds. */
static void
test_close (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  g_autoptr(AioRwLockGuard) a = aio_rw_lock_table_try_acquire (table, "a", WRITE, NULL);
  g_autoptr(AioRwLockGuard) b = aio_rw_lock_table_try_acquire (table, "b", WRITE, NULL);
  g_autoptr(GError) error = NULL;
  TableRequest waiting = { 0 }, later = { 0 };

  table_acquire (table, "a", READ, -1, NULL, &waiting);
  aio_rw_lock_table_close (table);
  g_assert_true (aio_rw_lock_table_is_closed (table));
  g_assert_true (aio_rw_lock_is_closed (aio_rw_lock_guard_get_lock (b)));
  table_acquire (table, "c", READ, -1, NULL, &later);
  aio_test_iterate_until (NULL, &waiting.done);
  aio_test_iterate_until (NULL, &later.done);
  g_assert_error (waiting.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_error (later.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_cmpstr (later.task_name, ==, "aio_rw_lock_table_acquire_async");
  g_assert_null (aio_rw_lock_table_try_acquire (table, "c", READ, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_null (aio_rw_lock_table_acquire (table, "c", READ, -1, NULL, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  /* No lock was made for "c". */
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 2);
  g_assert_true (aio_rw_lock_guard_is_held (a) && aio_rw_lock_guard_is_held (b));
  table_request_clear (&waiting);
  table_request_clear (&later);
}

typedef struct
{
  gboolean done;
  gboolean drained;
  GError *error;
} TableDrain;

static void
on_table_drained (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  TableDrain *drain = user_data;

  g_assert_false (drain->done);
  drain->drained = aio_rw_lock_table_close_finish (AIO_RW_LOCK_TABLE (source), result, &drain->error);
  drain->done = TRUE;
}

static void
test_close_async (void)
{
  g_autoptr(AioRwLockTable) empty = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *a = aio_rw_lock_table_try_acquire (table, "a", WRITE, NULL);
  AioRwLockGuard *b = aio_rw_lock_table_try_acquire (table, "b", READ, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TableDrain first = { 0 }, cancelled = { 0 }, nothing = { 0 };

  /* Nothing held: completes, but not inside the call. */
  aio_rw_lock_table_close_async (empty, NULL, on_table_drained, &nothing);
  g_assert_false (nothing.done);
  aio_test_iterate_until (NULL, &nothing.done);
  g_assert_true (nothing.drained);

  aio_rw_lock_table_close_async (table, NULL, on_table_drained, &first);
  aio_rw_lock_table_close_async (table, cancellable, on_table_drained, &cancelled);
  g_cancellable_cancel (cancellable);
  aio_test_iterate_until (NULL, &cancelled.done);
  g_assert_error (cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (aio_rw_lock_table_is_closed (table));

  aio_rw_lock_guard_unref (a);
  aio_test_iterate_pending (NULL);
  g_assert_false (first.done);
  aio_rw_lock_guard_unref (b);
  aio_test_iterate_until (NULL, &first.done);
  g_assert_no_error (first.error);
  g_assert_true (first.drained);
  g_clear_error (&cancelled.error);
}

/* Guards may outlive their table. */
static void
test_guard_outlives_table (void)
{
  AioRwLockTable *table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *guard = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);

  g_object_unref (table);
  g_assert_true (aio_rw_lock_is_write_locked (aio_rw_lock_guard_get_lock (guard)));
  aio_rw_lock_guard_unref (guard);
}

/* 10^5 distinct keys: an entry's memory is gone with its lock. */
static void
test_many_keys_memory (void)
{
  const guint n = 100000;
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard **guards = g_new (AioRwLockGuard *, n);
  struct mallinfo2 before, peak, after;
  char key[32];

  /* meson test sets these: otherwise freed memory stays counted in use. */
  if (g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0 ||
      g_strcmp0 (g_getenv ("GLIBC_TUNABLES"), "glibc.malloc.tcache_count=0") != 0)
    {
      g_test_skip ("needs G_SLICE=always-malloc GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
      g_free (guards);
      return;
    }

  /* Warm up what GLib makes once (types, quarks, the map's first size). */
  aio_rw_lock_guard_unref (aio_rw_lock_table_try_acquire (table, "warm-up", WRITE, NULL));
  before = mallinfo2 ();

  for (guint i = 0; i < n; i++)
    {
      g_snprintf (key, sizeof key, "/files/%u", i);
      guards[i] = aio_rw_lock_table_try_acquire (table, key, i % 2 ? READ : WRITE, NULL);
      g_assert_nonnull (guards[i]);
    }
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, n);
  peak = mallinfo2 ();

  for (guint i = 0; i < n; i++)
    aio_rw_lock_guard_unref (guards[i]);
  g_free (guards);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (table), ==, 0);
  after = mallinfo2 ();

  g_test_message ("in use: empty table %zu B, %u keys %zu B (%zu B a key), after %zu B",
                  before.uordblks, n, peak.uordblks, (peak.uordblks - before.uordblks) / n,
                  after.uordblks);
  if (peak.uordblks == before.uordblks)
    {
      /* valgrind and the sanitizers replace malloc: mallinfo2 sees nothing. */
      g_test_skip ("mallinfo2 () does not see this process's allocations");
      return;
    }
  g_assert_cmpuint (peak.uordblks, >, before.uordblks + n * 64);
  /* Back to the empty table's: within one page, less than a byte a key
   * (the rest of the process moves the main arena's count by a few
   * hundred bytes either way between runs). */
  g_assert_cmpuint (after.uordblks, <=, before.uordblks + 4096);
}

/* Many threads look keys up, make and drop their locks at once, also
 * while a key's previous lock is being finalized: a key never has two
 * live locks, so two WRITE holds of one key never overlap. */
#define N_RACE_KEYS 4
#define N_RACE_THREADS 4

typedef struct
{
  AioRwLockTable *table;
  gint inside[N_RACE_KEYS];  /* WRITE holds of each key now */
  gint rounds;
  gint violations;
} Race;

static gpointer
race_thread (gpointer data)
{
  Race *race = data;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  for (gint i = 0; i < race->rounds; i++)
    {
      guint k = g_rand_int_range (rand, 0, N_RACE_KEYS);
      char key[8] = { 'k', '0' + k, 0 };
      AioRwLockGuard *guard;

      if (g_rand_boolean (rand))
        guard = aio_rw_lock_table_try_acquire (race->table, key, WRITE, NULL);
      else
        guard = aio_rw_lock_table_acquire (race->table, key, WRITE, 5, NULL, NULL);
      if (guard == NULL)
        continue;
      if (g_atomic_int_add (&race->inside[k], 1) != 0)
        g_atomic_int_inc (&race->violations);
      if (g_rand_int_range (rand, 0, 8) == 0)
        g_thread_yield ();
      g_atomic_int_add (&race->inside[k], -1);
      aio_rw_lock_guard_unref (guard);
    }
  g_rand_free (rand);
  return NULL;
}

static void
test_concurrent_lookups (void)
{
  Race race = { aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR) };
  GThread *threads[N_RACE_THREADS];

  race.rounds = g_test_slow () ? 200000 : 20000;
  for (guint i = 0; i < N_RACE_THREADS; i++)
    threads[i] = g_thread_new ("table-race", race_thread, &race);
  for (guint i = 0; i < N_RACE_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (race.violations, ==, 0);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (race.table), ==, 0);
  g_object_unref (race.table);
}

typedef struct
{
  AioRwLockTable *table;
  gint granted;
  gint closed;
} CloseRace;

static gpointer
acquire_until_closed (gpointer data)
{
  CloseRace *race = data;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  for (;;)
    {
      char key[8] = { 'k', '0' + g_rand_int_range (rand, 0, 8), 0 };
      g_autoptr(GError) error = NULL;
      AioRwLockGuard *guard;

      if (g_rand_boolean (rand))
        guard = aio_rw_lock_table_try_acquire (race->table, key, WRITE, &error);
      else
        guard = aio_rw_lock_table_acquire (race->table, key, WRITE, 50, NULL, &error);

      if (guard != NULL)
        {
          g_atomic_int_inc (&race->granted);
          aio_rw_lock_guard_unref (guard);
        }
      else if (g_error_matches (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED))
        {
          g_atomic_int_inc (&race->closed);
          break;
        }
      else
        g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
                       g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
    }
  g_rand_free (rand);
  return NULL;
}

/* Closing while threads make, take and drop keys: each request is granted
 * or refused CLOSED, nobody hangs, and the keys go with their guards. */
static void
test_close_races_acquisitions (void)
{
  CloseRace race = { aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR) };
  GThread *threads[N_RACE_THREADS];

  for (guint i = 0; i < N_RACE_THREADS; i++)
    threads[i] = g_thread_new ("table-close", acquire_until_closed, &race);
  while (g_atomic_int_get (&race.granted) < 1000)
    g_thread_yield ();
  aio_rw_lock_table_close (race.table);
  for (guint i = 0; i < N_RACE_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (race.closed, ==, N_RACE_THREADS);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (race.table), ==, 0);
  g_object_unref (race.table);
}

typedef struct
{
  GCancellable *cancellable;
  gboolean      done;
  gboolean      drained;
  GError       *error;
} LateCancel;

static void
on_drained_then_cancel (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  LateCancel *late = user_data;

  g_cancellable_cancel (late->cancellable);  /* the callback started: too late */
  late->drained = aio_rw_lock_table_close_finish (AIO_RW_LOCK_TABLE (source), result, &late->error);
  late->done = TRUE;
}

/* As for a lock: a cancel after the callback started does not count. */
static void
test_close_async_cancel_too_late (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  AioRwLockGuard *guard = aio_rw_lock_table_try_acquire (table, "k", WRITE, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  LateCancel late = { cancellable };

  aio_rw_lock_table_close_async (table, cancellable, on_drained_then_cancel, &late);
  aio_test_iterate_pending (NULL);
  aio_rw_lock_guard_unref (guard);
  aio_test_iterate_until (NULL, &late.done);
  g_assert_no_error (late.error);
  g_assert_true (late.drained);
}

typedef struct
{
  gboolean done;
  guint    n_keys;
} DropAtOnce;

static void
on_acquired_drop_at_once (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  DropAtOnce *drop = user_data;
  AioRwLockGuard *guard = aio_rw_lock_table_acquire_finish (AIO_RW_LOCK_TABLE (source), result, NULL);

  g_assert_nonnull (guard);
  aio_rw_lock_guard_unref (guard);
  drop->n_keys = aio_rw_lock_table_get_n_keys (AIO_RW_LOCK_TABLE (source));
  drop->done = TRUE;
}

/* The request does not keep the key after its delivery: a callback that
 * drops its guard drops the entry, whatever keeps the GTask alive. */
static void
test_entry_gone_inside_callback (void)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  DropAtOnce drop = { 0 };

  aio_rw_lock_table_acquire_async (table, "k", WRITE, -1, NULL, on_acquired_drop_at_once, &drop);
  aio_test_iterate_until (NULL, &drop.done);
  g_assert_cmpuint (drop.n_keys, ==, 0);
}

typedef struct
{
  AioRwLockTable *table;
  AioRwLockGuard *guard;
  gint            go;
} TableAndGuard;

static gpointer
unref_guard_at_go (gpointer data)
{
  TableAndGuard *t = data;

  while (!g_atomic_int_get (&t->go))
    ;
  aio_rw_lock_guard_unref (t->guard);
  return NULL;
}

/* The table finalized on one thread while the last guard of a key goes on
 * another, its lock finalized there (the entries outlive the table). */
static void
test_table_and_lock_finalized_at_once (void)
{
  for (guint i = 0; i < (g_test_slow () ? 20000u : 3000u); i++)
    {
      TableAndGuard t = { aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR) };
      GThread *thread;

      t.guard = aio_rw_lock_table_try_acquire (t.table, "k", WRITE, NULL);
      thread = g_thread_new ("last-guard", unref_guard_at_go, &t);
      g_atomic_int_set (&t.go, 1);
      g_object_unref (t.table);
      g_thread_join (thread);
    }
}

#define N_ASYNC_KEYS 3

typedef struct
{
  AioRwLockTable *table;
  gint            inside[N_ASYNC_KEYS];
  gint            violations;
  guint           rounds;
} AsyncRace;

typedef struct
{
  AsyncRace *race;
  guint      k;
  gboolean   done;
} AsyncRequest;

static void
on_async_race_acquired (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  AsyncRequest *request = user_data;
  AioRwLockGuard *guard;

  guard = aio_rw_lock_table_acquire_finish (AIO_RW_LOCK_TABLE (source), result, NULL);
  if (guard != NULL)
    {
      if (g_atomic_int_add (&request->race->inside[request->k], 1) != 0)
        g_atomic_int_inc (&request->race->violations);
      g_thread_yield ();
      g_atomic_int_add (&request->race->inside[request->k], -1);
      aio_rw_lock_guard_unref (guard);
    }
  request->done = TRUE;
}

static gpointer
async_race_thread (gpointer data)
{
  AsyncRace *race = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  g_main_context_push_thread_default (context);
  for (guint i = 0; i < race->rounds; i++)
    {
      AsyncRequest request = { race, g_rand_int_range (rand, 0, N_ASYNC_KEYS) };
      char key[4] = { 'k', '0' + request.k, 0 };
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();

      aio_rw_lock_table_acquire_async (race->table, key, WRITE, g_rand_boolean (rand) ? -1 : 1,
                                       cancellable, on_async_race_acquired, &request);
      switch (g_rand_int_range (rand, 0, 16))
        {
        case 0:
        case 1:
          g_cancellable_cancel (cancellable);
          break;
        case 2:
          aio_test_cancel_from_thread (cancellable);
          break;
        default:
          break;
        }
      aio_test_iterate_until (context, &request.done);
    }
  aio_test_iterate_pending (context);
  g_main_context_pop_thread_default (context);
  g_rand_free (rand);
  return NULL;
}

/* Async requests of keys on three threads' contexts, with deadlines and
 * cancels from this and other threads: no two WRITE holds of a key
 * overlap, and the keys go with the requests. */
static void
test_async_races (void)
{
  AsyncRace race = { aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR) };
  GThread *threads[3];

  race.rounds = g_test_slow () ? 50000 : 5000;
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("table-async", async_race_thread, &race);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (race.violations, ==, 0);
  g_assert_cmpuint (aio_rw_lock_table_get_n_keys (race.table), ==, 0);
  g_object_unref (race.table);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLockTable/keys", test_keys);
  g_test_add_func ("/Aio/RwLockTable/entry-lifetime", test_entry_lifetime);
  g_test_add_func ("/Aio/RwLockTable/lookup-during-finalize", test_lookup_during_finalize);
  g_test_add_func ("/Aio/RwLockTable/waiter-keeps-lock", test_waiter_keeps_lock);
  g_test_add_func ("/Aio/RwLockTable/try-and-deadline", test_try_and_deadline);
  g_test_add_func ("/Aio/RwLockTable/blocking", test_blocking);
  g_test_add_func ("/Aio/RwLockTable/close", test_close);
  g_test_add_func ("/Aio/RwLockTable/close-async", test_close_async);
  g_test_add_func ("/Aio/RwLockTable/close-async-cancel-too-late", test_close_async_cancel_too_late);
  g_test_add_func ("/Aio/RwLockTable/entry-gone-inside-callback", test_entry_gone_inside_callback);
  g_test_add_func ("/Aio/RwLockTable/guard-outlives-table", test_guard_outlives_table);
  g_test_add_func ("/Aio/RwLockTable/many-keys-memory", test_many_keys_memory);
  g_test_add_func ("/Aio/RwLockTable/concurrent-lookups", test_concurrent_lookups);
  g_test_add_func ("/Aio/RwLockTable/close-races-acquisitions", test_close_races_acquisitions);
  g_test_add_func ("/Aio/RwLockTable/table-and-lock-finalized-at-once", test_table_and_lock_finalized_at_once);
  g_test_add_func ("/Aio/RwLockTable/async-races", test_async_races);

  return g_test_run ();
}
