/* test-rw-lock-lifetime.c: teardown on several threads at once, and what
 * an idle lock leaves in a main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   AIO_TEARDOWN_ROUNDS  rounds of the teardown race (default 2000)
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

#define N_WORKERS 3

/* ---- The teardown race ----
 *
 * Each round, worker threads complete a request on the shared lock from a
 * main context of their own, then all at once: the workers drop their
 * contexts (popping and unreffing them, or exiting with them still pushed,
 * which unrefs them as the thread ends) while one thread, the main one or a
 * worker, drops the last reference to the lock. */

typedef enum
{
  LAST_REF_ON_MAIN,
  LAST_REF_ON_WORKER,
} LastRef;

typedef struct
{
  AioRwLock *lock;      /* one reference, dropped on "go" by last_ref's thread */
  LastRef    last_ref;
  GMutex     mutex;
  GCond      cond;
  guint      ready;   /* workers done with their request */
  gint       go;      /* atomic: everybody drops what they have now */
} Round;

typedef struct
{
  Round *round;
  guint  index;
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  Round *round = worker->round;
  GMainContext *context = g_main_context_new ();
  static const AioRwLockMode modes[] = { READ, WRITE, UPGRADABLE };
  gboolean drops_lock = round->last_ref == LAST_REF_ON_WORKER && worker->index == 0;
  Request r = { 0 };

  g_main_context_push_thread_default (context);

  /* A completion on this context: the library now knows it. */
  aio_test_acquire (round->lock, modes[worker->index % G_N_ELEMENTS (modes)], -1, NULL, &r);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);
  aio_test_release (&r);

  g_mutex_lock (&round->mutex);
  round->ready++;
  g_cond_broadcast (&round->cond);
  g_mutex_unlock (&round->mutex);

  /* Spun, not waited for on the cond: everybody starts at once. */
  while (!g_atomic_int_get (&round->go))
    g_thread_yield ();

  if (drops_lock)
    g_object_unref (round->lock);

  if (worker->index % 2 == 0)
    {
      g_main_context_pop_thread_default (context);
      g_main_context_unref (context);
    }
  else
    {
      /* Exits with the context pushed: GLib unrefs it as the thread ends. */
      g_main_context_unref (context);
    }

  return NULL;
}

static void
run_teardown_round (LastRef last_ref)
{
  Round round = { 0 };
  Worker workers[N_WORKERS];
  GThread *threads[N_WORKERS];

  round.lock = aio_rw_lock_new ();
  round.last_ref = last_ref;
  g_mutex_init (&round.mutex);
  g_cond_init (&round.cond);

  for (guint i = 0; i < N_WORKERS; i++)
    {
      workers[i].round = &round;
      workers[i].index = i;
      threads[i] = g_thread_new ("teardown", worker_main, &workers[i]);
    }

  g_mutex_lock (&round.mutex);
  while (round.ready < N_WORKERS)
    g_cond_wait (&round.cond, &round.mutex);
  g_mutex_unlock (&round.mutex);
  g_atomic_int_set (&round.go, TRUE);

  /* Without the mutex, at the moment the workers drop their contexts. */
  if (last_ref == LAST_REF_ON_MAIN)
    g_object_unref (round.lock);

  for (guint i = 0; i < N_WORKERS; i++)
    g_thread_join (threads[i]);

  g_mutex_clear (&round.mutex);
  g_cond_clear (&round.cond);
}

static void
test_teardown_race (void)
{
  const char *env = g_getenv ("AIO_TEARDOWN_ROUNDS");
  guint rounds = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : 2000;

  for (guint i = 0; i < rounds; i++)
    run_teardown_round (i % 2 ? LAST_REF_ON_WORKER : LAST_REF_ON_MAIN);

  g_test_message ("%u rounds, %u worker threads each", rounds, N_WORKERS);
}

/* ---- What an idle lock leaves in a context ---- */

/* The sources attached to @context now. GLib numbers a context's sources
 * from 1, so a new source's id bounds them. */
static guint
count_sources (GMainContext *context)
{
  GSource *probe = g_idle_source_new ();
  guint max_id = g_source_attach (probe, context);
  guint n = 0;

  for (guint id = 1; id < max_id; id++)
    if (g_main_context_find_source_by_id (context, id) != NULL)
      n++;

  g_source_destroy (probe);
  g_source_unref (probe);
  return n;
}

static void
complete_one_request (AioRwLock *lock)
{
  Request r = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &r);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);
  aio_test_release (&r);
}

static void
on_sentinel_destroyed (gpointer data)
{
  gboolean *destroyed = data;

  *destroyed = TRUE;
}

static gboolean
never_runs (gpointer data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

/* The number of sources attached to a context does not grow with the
 * number of locks that completed a request there, and the context is
 * really finalized when its last reference goes, while those locks live. */
static void
test_idle_locks_leave_nothing (void)
{
  GMainContext *context = g_main_context_new ();
  GPtrArray *locks = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean finalized = FALSE;
  GSource *sentinel;
  guint before, after_one, after_many;

  g_main_context_push_thread_default (context);
  before = count_sources (context);

  g_ptr_array_add (locks, aio_rw_lock_new ());
  complete_one_request (locks->pdata[0]);
  after_one = count_sources (context);

  for (guint i = 1; i < 100; i++)
    {
      g_ptr_array_add (locks, aio_rw_lock_new ());
      complete_one_request (locks->pdata[i]);
    }
  after_many = count_sources (context);

  g_test_message ("sources: %u with no lock, %u after one lock, %u after 100",
                  before, after_one, after_many);
  /* At most one completion source, shared by every lock. */
  g_assert_cmpuint (after_one, <=, before + 1);
  g_assert_cmpuint (after_many, ==, after_one);

  /* The context dies with its last reference, although the locks that
   * used it live on. */
  sentinel = g_timeout_source_new (3600 * 1000);
  g_source_set_callback (sentinel, never_runs, &finalized, on_sentinel_destroyed);
  g_source_attach (sentinel, context);
  g_source_unref (sentinel);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  g_assert_true (finalized);

  /* And the locks work on from another context. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  for (guint i = 0; i < locks->len; i += 10)
    complete_one_request (locks->pdata[i]);
  g_assert_cmpuint (count_sources (context), <=, 1);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  g_ptr_array_unref (locks);
}

/* Contexts come and go, many alive at once, then new ones often at the
 * address of a dead one: each is served by one source of its own. */
static void
test_context_replaced (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  GMainContext *alive[12];

  for (guint i = 0; i < G_N_ELEMENTS (alive); i++)
    {
      alive[i] = g_main_context_new ();
      g_main_context_push_thread_default (alive[i]);
      complete_one_request (lock);
      g_main_context_pop_thread_default (alive[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (alive); i++)
    {
      g_assert_cmpuint (count_sources (alive[i]), ==, 1);
      g_main_context_unref (alive[i]);
    }

  for (guint i = 0; i < 40; i++)
    {
      GMainContext *context = g_main_context_new ();

      g_main_context_push_thread_default (context);
      complete_one_request (lock);
      g_assert_cmpuint (count_sources (context), ==, 1);
      g_main_context_pop_thread_default (context);
      g_main_context_unref (context);
    }
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/lifetime/teardown-race", test_teardown_race);
  g_test_add_func ("/Aio/RwLock/lifetime/idle-locks-leave-nothing", test_idle_locks_leave_nothing);
  g_test_add_func ("/Aio/RwLock/lifetime/context-replaced", test_context_replaced);

  return g_test_run ();
}
