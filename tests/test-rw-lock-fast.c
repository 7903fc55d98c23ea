/* test-rw-lock-fast.c: holds taken and ended without the lock's mutex
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * While nothing waits, READ and WRITE holds live in the lock's atomic word
 * (aiorwlock-glib/aio-rw-lock-fast.h); anything that needs the mutex moves
 * them to the state first. These tests take holds on the word, then make
 * the lock need its mutex, and check that no hold was lost or counted
 * twice, also with threads racing the two.
 */

#include <string.h>

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

/* Holds taken without the mutex show in the properties. */
static void
test_properties_count_fast_holds (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *r1 = aio_rw_lock_try_acquire_read (lock);
  AioRwLockGuard *r2 = aio_rw_lock_try_acquire_read (lock);
  AioRwLockGuard *w;

  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  aio_rw_lock_guard_unref (r1);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  g_assert_null (aio_rw_lock_try_acquire_write (lock));
  aio_rw_lock_guard_unref (r2);

  w = aio_rw_lock_try_acquire_write (lock);
  g_assert_nonnull (w);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  aio_rw_lock_guard_unref (w);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A writer that queues behind readers holding on the word waits for every
 * one of them; while it waits, a new reader neither barges (FAIR) nor is
 * counted on the word. */
static void
test_writer_waits_for_fast_readers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *r1 = aio_rw_lock_try_acquire_read (lock);
  AioRwLockGuard *r2 = aio_rw_lock_try_acquire_read (lock);
  Request w = { 0 }, r3 = { 0 };
  AioRwLockGuard *again;

  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_iterate_pending (NULL);
  g_assert_false (w.done);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  aio_test_acquire (lock, READ, -1, NULL, &r3);

  aio_rw_lock_guard_release (r1);
  aio_test_iterate_pending (NULL);
  g_assert_false (w.done);
  aio_test_assert_state (lock, 1, FALSE, 1, 1);

  aio_rw_lock_guard_release (r2);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  g_assert_false (r3.done);
  aio_test_release (&w);
  aio_test_wait (&r3);
  aio_test_assert_granted (&r3);

  /* Nothing waits now: holds go on the word again, with r3's among them. */
  again = aio_rw_lock_try_acquire_read (lock);
  g_assert_nonnull (again);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  aio_test_release (&r3);
  aio_rw_lock_guard_unref (again);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  aio_rw_lock_guard_unref (r1);
  aio_rw_lock_guard_unref (r2);
}

/* An async request granted at once, without a cancellable (delivered
 * without the mutex), still completes on its context, after the call. */
static void
test_async_grant_on_the_word (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request r = { 0 }, w = { 0 };

  aio_test_acquire (lock, READ, -1, NULL, &r);
  g_assert_false (r.done);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);

  /* Queued behind it, then granted under the mutex, then delivered
   * without it. */
  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_iterate_pending (NULL);
  g_assert_false (w.done);
  aio_test_release (&r);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_release (&w);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* ---- Races ---- */

#define RACE_ROUNDS 3000

/* Starts a race: each thread arrives, then spins (a GCond would let them
 * leave microseconds apart) until the gate opens. */
typedef struct
{
  gint arrived;
  gint open;
} Gate;

static void
gate_pass (Gate *gate)
{
  g_atomic_int_inc (&gate->arrived);
  while (!g_atomic_int_get (&gate->open))
    ;
}

static void
gate_open_once_arrived (Gate *gate,
                        gint  n_threads)
{
  while (g_atomic_int_get (&gate->arrived) < n_threads)
    ;
  g_atomic_int_set (&gate->open, TRUE);
}

typedef struct
{
  AioRwLockGuard *guard;
  GThread        *thread;
  Gate           *gate;
} Racer;

static gint criticals;  /* atomic */

static gboolean
count_critical (const char     *log_domain,
                GLogLevelFlags  log_level,
                const char     *message,
                gpointer        user_data)
{
  if ((log_level & G_LOG_LEVEL_CRITICAL) != 0 && strstr (message, "released") != NULL)
    {
      g_atomic_int_inc (&criticals);
      return FALSE;
    }
  return TRUE;
}

static void
swallow (const char     *log_domain,
         GLogLevelFlags  log_level,
         const char     *message,
         gpointer        user_data)
{
}

static gpointer
release_when_told (gpointer data)
{
  Racer *racer = data;

  gate_pass (racer->gate);
  aio_rw_lock_guard_release (racer->guard);
  return NULL;
}

/* Two threads release one guard at once (a programmer error): one release
 * ends the hold, the other is a critical, and the lock counts the hold
 * once. Releasing twice by the word alone would end a hold it does not
 * have (another reader's, here). */
static void
test_double_release_race (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *other = aio_rw_lock_try_acquire_read (lock);
  guint handler;

  /* Counted, not printed (a printed critical fails the TAP output). */
  g_test_log_set_fatal_handler (count_critical, NULL);
  handler = g_log_set_handler ("Aio", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL, swallow, NULL);
  g_atomic_int_set (&criticals, 0);

  for (guint round = 0; round < RACE_ROUNDS; round++)
    {
      Gate gate = { 0 };
      Racer a = { 0 }, b = { 0 };

      a.gate = b.gate = &gate;
      a.guard = b.guard = aio_rw_lock_try_acquire_read (lock);
      g_assert_nonnull (a.guard);
      a.thread = g_thread_new ("release-a", release_when_told, &a);
      b.thread = g_thread_new ("release-b", release_when_told, &b);
      gate_open_once_arrived (&gate, 2);
      g_thread_join (a.thread);
      g_thread_join (b.thread);

      g_assert_cmpint (g_atomic_int_get (&criticals), ==, round + 1);
      /* The other reader still holds; only the released hold ended. */
      aio_test_assert_state (lock, 1, FALSE, 0, 0);
      aio_rw_lock_guard_unref (a.guard);
    }

  aio_rw_lock_guard_unref (other);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  g_log_remove_handler ("Aio", handler);
  g_test_log_set_fatal_handler (NULL, NULL);
}

typedef struct
{
  AioRwLockGuard *guard;
  AioRwLockGuard *again;
  GError         *error;
  Gate            gate;
} Reenter;

static gpointer
reenter_when_told (gpointer data)
{
  Reenter *r = data;

  gate_pass (&r->gate);
  r->again = aio_rw_lock_guard_reenter (r->guard, READ, &r->error);
  return NULL;
}

/* A release without the mutex races a re-entry of the same guard under
 * it: either the re-entry came first (its guard holds on), or it sees the
 * guard released; never a re-entered guard whose hold ended. */
static void
test_release_races_reenter (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  guint reentered = 0;

  for (guint round = 0; round < RACE_ROUNDS; round++)
    {
      Reenter r = { 0 };
      GThread *thread;

      r.guard = aio_rw_lock_try_acquire_read (lock);
      thread = g_thread_new ("reenter", reenter_when_told, &r);
      gate_open_once_arrived (&r.gate, 1);
      aio_rw_lock_guard_release (r.guard);
      g_thread_join (thread);

      if (r.again != NULL)
        {
          reentered++;
          g_assert_no_error (r.error);
          g_assert_true (aio_rw_lock_guard_is_held (r.again));
          aio_test_assert_state (lock, 1, FALSE, 0, 0);
          g_assert_null (aio_rw_lock_try_acquire_write (lock));
          aio_rw_lock_guard_unref (r.again);
        }
      else
        g_assert_error (r.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
      g_clear_error (&r.error);
      aio_rw_lock_guard_unref (r.guard);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
    }

  g_test_message ("%u of %u re-entries came before the release", reentered, RACE_ROUNDS);
}

/* ---- Mutual exclusion, word and mutex mixed ---- */

#define MIX_THREADS 4
#define MIX_OPS 20000

typedef struct
{
  AioRwLock *lock;
  gint       inside;     /* readers << 1 | writer: what the threads hold */
  gint       violations;
  guint      seed;
} Mix;

static void
mix_enter (Mix          *mix,
           AioRwLockMode mode)
{
  gint was = g_atomic_int_add (&mix->inside, mode == WRITE ? 1 : 2);

  if (mode == WRITE ? was != 0 : (was & 1) != 0)
    g_atomic_int_inc (&mix->violations);
}

static void
mix_leave (Mix          *mix,
           AioRwLockMode mode)
{
  g_atomic_int_add (&mix->inside, mode == WRITE ? -1 : -2);
}

static gpointer
mix_thread (gpointer data)
{
  Mix *mix = data;
  GRand *rand = g_rand_new_with_seed (g_atomic_int_add (&mix->seed, 1));

  for (guint i = 0; i < MIX_OPS; i++)
    {
      AioRwLockMode mode = g_rand_int_range (rand, 0, 4) == 0 ? WRITE : READ;
      AioRwLockGuard *guard;

      switch (g_rand_int_range (rand, 0, 3))
        {
        case 0:  /* on the word while nothing waits */
          guard = aio_rw_lock_try_acquire (mix->lock, mode, NULL);
          break;
        case 1:  /* waits under the mutex when it must */
          guard = aio_rw_lock_acquire (mix->lock, mode, -1, NULL, NULL);
          g_assert_nonnull (guard);
          break;
        default: /* gives up after a while: withdrawn from the queue */
          guard = aio_rw_lock_acquire (mix->lock, mode, 1, NULL, NULL);
          break;
        }
      if (guard == NULL)
        continue;

      mix_enter (mix, mode);
      if (g_rand_int_range (rand, 0, 8) == 0)
        g_thread_yield ();
      mix_leave (mix, mode);
      if (g_rand_boolean (rand))
        aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }

  g_rand_free (rand);
  return NULL;
}

/* Threads take holds on the word, wait under the mutex, time out, in any
 * order: never a writer with anyone, and the lock ends free. */
static void
test_mixed_threads (void)
{
  Mix mix = { 0 };
  GThread *threads[MIX_THREADS];

  mix.lock = aio_rw_lock_new ();
  mix.seed = g_test_rand_int ();
  for (guint i = 0; i < MIX_THREADS; i++)
    threads[i] = g_thread_new ("mix", mix_thread, &mix);
  for (guint i = 0; i < MIX_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (mix.violations, ==, 0);
  g_assert_cmpint (mix.inside, ==, 0);
  aio_test_assert_state (mix.lock, 0, FALSE, 0, 0);
  /* Free for a writer on the word again. */
  aio_rw_lock_guard_unref (aio_rw_lock_try_acquire_write (mix.lock));
  g_object_unref (mix.lock);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/fast/properties-count-fast-holds", test_properties_count_fast_holds);
  g_test_add_func ("/Aio/RwLock/fast/writer-waits-for-fast-readers", test_writer_waits_for_fast_readers);
  g_test_add_func ("/Aio/RwLock/fast/async-grant-on-the-word", test_async_grant_on_the_word);
  g_test_add_func ("/Aio/RwLock/fast/double-release-race", test_double_release_race);
  g_test_add_func ("/Aio/RwLock/fast/release-races-reenter", test_release_races_reenter);
  g_test_add_func ("/Aio/RwLock/fast/mixed-threads", test_mixed_threads);

  return g_test_run ();
}
