/* bench-threads.c: S6, one lock shared by threads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Throughput: 2 threads with their own main context (4 chains of async
 * acquire -> release each, one of them writing) and 2 worker threads
 * (blocking acquire -> release, every fourth one writing) on one lock for
 * --duration seconds; every request must complete. Hand-off: the latency
 * from a release on thread A to the callback of B's queued request on B's
 * context, against a GTask made on B and returned from A.
 */

#include <math.h>
#include <string.h>

#include "bench-scenario.h"

#define S6_ACTORS_PER_THREAD 4
#define HANDOFF_SETTLE_USEC 100

/* ---- Throughput ---- */

typedef struct
{
  AioRwLock *lock;
  gint       stop;      /* atomic */
} S6Shared;

typedef struct
{
  S6Shared  *shared;
  GThread   *thread;
  guint64    requested[2];   /* read, write */
  guint64    completed[2];
  guint64    failures;
  GMainLoop *loop;           /* async threads */
  guint      active;
} S6Thread;

typedef struct
{
  S6Thread *thread;
  gboolean  write;
} S6Actor;

static void s6_request (S6Actor *actor);

static void
on_s6_locked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  S6Actor *actor = user_data;
  S6Thread *t = actor->thread;
  AioRwLockGuard *guard;

  if (actor->write)
    guard = aio_rw_lock_acquire_write_finish (t->shared->lock, result, NULL);
  else
    guard = aio_rw_lock_acquire_read_finish (t->shared->lock, result, NULL);

  if (guard != NULL)
    {
      t->completed[actor->write]++;
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  else
    {
      t->failures++;
    }

  if (!g_atomic_int_get (&t->shared->stop))
    s6_request (actor);
  else if (--t->active == 0)
    g_main_loop_quit (t->loop);
}

static void
s6_request (S6Actor *actor)
{
  S6Thread *t = actor->thread;

  t->requested[actor->write]++;
  if (actor->write)
    aio_rw_lock_acquire_write_async (t->shared->lock, NULL, on_s6_locked, actor);
  else
    aio_rw_lock_acquire_read_async (t->shared->lock, NULL, on_s6_locked, actor);
}

/* A thread with its own main context: 4 chains of acquire -> release, one
 * of them writing. */
static gpointer
s6_async_main (gpointer data)
{
  S6Thread *t = data;
  GMainContext *context = g_main_context_new ();
  S6Actor actors[S6_ACTORS_PER_THREAD];

  g_main_context_push_thread_default (context);
  t->loop = g_main_loop_new (context, FALSE);

  for (guint i = 0; i < S6_ACTORS_PER_THREAD; i++)
    {
      actors[i].thread = t;
      actors[i].write = i == 0;
      t->active++;
      s6_request (&actors[i]);
    }
  g_main_loop_run (t->loop);

  g_clear_pointer (&t->loop, g_main_loop_unref);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return NULL;
}

/* A worker thread: blocking acquire -> release, every fourth one writing. */
static gpointer
s6_blocking_main (gpointer data)
{
  S6Thread *t = data;
  AioRwLock *lock = t->shared->lock;

  for (guint64 i = 0; !g_atomic_int_get (&t->shared->stop); i++)
    {
      gboolean write = (i % 4) == 3;
      g_autoptr(GError) error = NULL;
      AioRwLockGuard *guard;

      t->requested[write]++;
      guard = aio_rw_lock_acquire (lock, write ? AIO_RW_LOCK_MODE_WRITE : AIO_RW_LOCK_MODE_READ,
                                   -1, NULL, &error);
      if (guard != NULL)
        {
          t->completed[write]++;
          aio_rw_lock_guard_release (guard);
          aio_rw_lock_guard_unref (guard);
        }
      else
        {
          t->failures++;
        }
    }

  return NULL;
}

typedef struct
{
  double   rate[4];          /* async read, async write, blocking read, blocking write; per s */
  double   total;
  guint64  requests;
  guint64  completions;
  guint64  failures;
  gboolean lock_free;
} S6Result;

static S6Result
s6_run_once (double duration)
{
  S6Shared shared = { NULL, 0 };
  S6Thread threads[4];
  S6Result r = { { 0, }, 0, 0, 0, 0, FALSE };
  gint64 t0, t1;
  double elapsed;

  shared.lock = aio_rw_lock_new ();
  memset (threads, 0, sizeof threads);

  t0 = bench_now_ns ();
  for (guint i = 0; i < 4; i++)
    {
      threads[i].shared = &shared;
      threads[i].thread = g_thread_new (i < 2 ? "bench-async" : "bench-blocking",
                                        i < 2 ? s6_async_main : s6_blocking_main,
                                        &threads[i]);
    }
  g_usleep ((gulong) (duration * G_USEC_PER_SEC));
  g_atomic_int_set (&shared.stop, 1);
  for (guint i = 0; i < 4; i++)
    g_thread_join (threads[i].thread);
  t1 = bench_now_ns ();

  elapsed = (t1 - t0) / 1e9;
  for (guint i = 0; i < 4; i++)
    {
      guint base = i < 2 ? 0 : 2;

      for (guint kind = 0; kind < 2; kind++)
        {
          r.rate[base + kind] += threads[i].completed[kind] / elapsed;
          r.requests += threads[i].requested[kind];
          r.completions += threads[i].completed[kind];
        }
      r.failures += threads[i].failures;
    }
  r.total = r.completions / elapsed;
  r.lock_free = bench_lock_is_free (shared.lock);

  bench_check (r.requests == r.completions + r.failures,
               "S6: %" G_GUINT64_FORMAT " requests but %" G_GUINT64_FORMAT " completions: some were lost",
               r.requests, r.completions + r.failures);
  bench_check (r.failures == 0, "S6: %" G_GUINT64_FORMAT " acquisitions failed", r.failures);
  bench_check_lock_free (shared.lock, "S6");

  g_object_unref (shared.lock);

  return r;
}

/* ---- Hand-off ---- */

/* Cross-thread hand-off: thread B runs its own context; thread A (this
 * one) holds the lock while B's request is queued, then releases. */
typedef struct
{
  GMutex        mutex;
  GCond         cond;
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  AioRwLock    *lock;
  GTask        *task;        /* baseline: created on B, returned from A */
  gboolean      queued;
  gboolean      done;
  gint64        called_at;
  guint         failures;
} Handoff;

static gpointer
handoff_thread_main (gpointer data)
{
  Handoff *h = data;

  g_main_context_push_thread_default (h->context);
  g_main_loop_run (h->loop);
  g_main_context_pop_thread_default (h->context);

  return NULL;
}

static void
handoff_finish (Handoff  *h,
                gint64    called_at,
                gboolean  ok)
{
  g_mutex_lock (&h->mutex);
  h->called_at = called_at;
  if (!ok)
    h->failures++;
  h->done = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);
}

static void
on_handoff_locked (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Handoff *h = user_data;
  gint64 called_at = bench_now_ns ();
  AioRwLockGuard *guard = aio_rw_lock_acquire_write_finish (h->lock, result, NULL);

  if (guard != NULL)
    {
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  handoff_finish (h, called_at, guard != NULL);
}

static void
on_handoff_task_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Handoff *h = user_data;
  gint64 called_at = bench_now_ns ();

  handoff_finish (h, called_at, g_task_propagate_boolean (G_TASK (result), NULL));
}

/* On B: tells A that B's request (TASK, for the baseline) is queued. */
static void
handoff_queued (Handoff *h,
                GTask   *task)
{
  g_mutex_lock (&h->mutex);
  h->task = task;
  h->queued = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);
}

/* On B */
static gboolean
handoff_request_lock (gpointer data)
{
  Handoff *h = data;

  aio_rw_lock_acquire_write_async (h->lock, NULL, on_handoff_locked, h);
  handoff_queued (h, NULL);

  return G_SOURCE_REMOVE;
}

/* On B */
static gboolean
handoff_create_task (gpointer data)
{
  Handoff *h = data;

  handoff_queued (h, bench_task_new (NULL, on_handoff_task_done, h));

  return G_SOURCE_REMOVE;
}

static gboolean
handoff_quit (gpointer data)
{
  Handoff *h = data;

  g_main_loop_quit (h->loop);
  return G_SOURCE_REMOVE;
}

static void
handoff_wait (Handoff  *h,
              gboolean *flag)
{
  g_mutex_lock (&h->mutex);
  while (!*flag)
    g_cond_wait (&h->cond, &h->mutex);
  g_mutex_unlock (&h->mutex);
}

/* µs from A's release (or g_task_return_boolean) to B's callback. */
static double
handoff_round (Handoff  *h,
               gboolean  bare)
{
  AioRwLockGuard *guard = NULL;
  GTask *task = NULL;
  gint64 t0;

  g_mutex_lock (&h->mutex);
  h->queued = FALSE;
  h->done = FALSE;
  h->task = NULL;
  g_mutex_unlock (&h->mutex);

  if (!bare)
    {
      guard = aio_rw_lock_try_acquire_write (h->lock);
      g_assert (guard != NULL);
    }

  g_main_context_invoke (h->context, bare ? handoff_create_task : handoff_request_lock, h);
  handoff_wait (h, &h->queued);
  if (bare)
    {
      g_mutex_lock (&h->mutex);
      task = h->task;
      g_mutex_unlock (&h->mutex);
    }
  else
    {
      bench_check (aio_rw_lock_get_pending_writers (h->lock) == 1,
                   "S6 hand-off: B's request is not queued");
    }

  /* B goes back to sleep in poll(): the hand-off includes waking it. */
  g_usleep (HANDOFF_SETTLE_USEC);

  t0 = bench_now_ns ();
  if (bare)
    g_task_return_boolean (task, TRUE);
  else
    aio_rw_lock_guard_release (guard);
  handoff_wait (h, &h->done);

  if (bare)
    g_object_unref (task);
  else
    aio_rw_lock_guard_unref (guard);

  return (h->called_at - t0) / 1e3;
}

/* ---- The scenario ---- */

static const char * const rate_names[4] = {
  "async_read_per_s", "async_write_per_s", "blocking_read_per_s", "blocking_write_per_s",
};

typedef struct
{
  double    duration;
  guint     rounds;
  int       reps;
  GArray   *rates[4];
  GArray   *totals;
  guint64   requests;
  guint64   completions;
  guint64   failures;
  gboolean  lock_free;
  Handoff   h;
  GArray   *lock_us;      /* per repetition: the median of its rounds */
  GArray   *task_us;
  GArray   *all_lock_us;  /* every round */
  GArray   *all_task_us;
} Threads;

static gpointer
threads_setup (const BenchScenario *scenario,
               const BenchConfig   *config)
{
  Threads *t = g_new0 (Threads, 1);
  Handoff *h = &t->h;

  t->duration = config->duration;
  t->rounds = config->rounds;
  t->reps = config->reps;
  for (guint i = 0; i < 4; i++)
    t->rates[i] = bench_samples_new ();
  t->totals = bench_samples_new ();
  t->lock_free = TRUE;
  t->lock_us = bench_samples_new ();
  t->task_us = bench_samples_new ();
  t->all_lock_us = bench_samples_new ();
  t->all_task_us = bench_samples_new ();

  g_mutex_init (&h->mutex);
  g_cond_init (&h->cond);
  h->lock = aio_rw_lock_new ();
  h->context = g_main_context_new ();
  h->loop = g_main_loop_new (h->context, FALSE);
  h->thread = g_thread_new ("bench-handoff", handoff_thread_main, h);

  return t;
}

static void
threads_warm_up (gpointer data)
{
  Threads *t = data;

  s6_run_once (MIN (t->duration / 4, 0.2));
  for (guint i = 0; i < MAX (t->rounds / 10, 5); i++)
    {
      handoff_round (&t->h, FALSE);
      handoff_round (&t->h, TRUE);
    }
}

static void
threads_run (gpointer data)
{
  Threads *t = data;
  S6Result r = s6_run_once (t->duration);
  g_autoptr(GArray) rep_lock = bench_samples_new ();
  g_autoptr(GArray) rep_task = bench_samples_new ();

  for (guint i = 0; i < 4; i++)
    bench_samples_add (t->rates[i], r.rate[i]);
  bench_samples_add (t->totals, r.total);
  t->requests += r.requests;
  t->completions += r.completions;
  t->failures += r.failures;
  t->lock_free = t->lock_free && r.lock_free;

  for (guint i = 0; i < t->rounds; i++)
    {
      double us = handoff_round (&t->h, FALSE);
      double bare_us = handoff_round (&t->h, TRUE);

      bench_samples_add (rep_lock, us);
      bench_samples_add (t->all_lock_us, us);
      bench_samples_add (rep_task, bare_us);
      bench_samples_add (t->all_task_us, bare_us);
    }
  bench_samples_add (t->lock_us, bench_median_of (rep_lock));
  bench_samples_add (t->task_us, bench_median_of (rep_task));
}

static void
threads_print (gpointer data)
{
  Threads *t = data;
  Handoff *h = &t->h;
  BenchStats total_s = bench_stats_of (t->totals);
  BenchStats lock_s = bench_stats_of (t->lock_us);
  BenchStats task_s = bench_stats_of (t->task_us);
  BenchJson j;

  bench_json_begin (&j, "S6", "2 async contexts (4 chains each) + 2 blocking threads on one lock");
  bench_json_num (&j, "duration_s", t->duration);
  bench_json_int (&j, "reps", t->reps);
  bench_json_stats (&j, "total_per_s", &total_s);
  for (guint i = 0; i < 4; i++)
    {
      BenchStats s = bench_stats_of (t->rates[i]);

      bench_json_stats (&j, rate_names[i], &s);
    }
  bench_json_int (&j, "requests", (gint64) t->requests);
  bench_json_int (&j, "completions", (gint64) t->completions);
  bench_json_int (&j, "failures", (gint64) t->failures);
  bench_json_bool (&j, "none_lost", t->requests == t->completions + t->failures && t->failures == 0);
  bench_json_bool (&j, "lock_free", t->lock_free);
  bench_json_end (&j);

  bench_summary_add ("S6", "threads: all acquisitions", total_s.median, "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: async reads", bench_median_of (t->rates[0]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: async writes", bench_median_of (t->rates[1]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: blocking reads", bench_median_of (t->rates[2]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: blocking writes", bench_median_of (t->rates[3]), "acq/s", NULL, NAN);

  /* Every round waited for B's callback: nothing is pending now. */
  bench_check (h->failures == 0, "S6 hand-off: %u rounds failed", h->failures);
  bench_check_lock_free (h->lock, "S6 hand-off");

  bench_sort_doubles (t->all_lock_us);
  bench_sort_doubles (t->all_task_us);

  bench_json_begin (&j, "S6", "cross-thread hand-off: release on A -> callback on B's context");
  bench_json_int (&j, "rounds", t->rounds);
  bench_json_int (&j, "reps", t->reps);
  bench_json_stats (&j, "handoff_us", &lock_s);
  bench_json_num (&j, "handoff_us_p99", bench_percentile_sorted (t->all_lock_us, 99));
  bench_json_baseline (&j, "baseline_gtask_us", &task_s);
  bench_json_num (&j, "baseline_gtask_us_p99", bench_percentile_sorted (t->all_task_us, 99));
  bench_json_num (&j, "ratio_vs_gtask", bench_ratio (lock_s.median, task_s.median));
  bench_json_bool (&j, "checks_ok", h->failures == 0 && bench_lock_is_free (h->lock));
  bench_json_end (&j);

  bench_summary_add ("S6", "cross-thread hand-off latency", lock_s.median, "us",
                     "GTask returned from thread A", task_s.median);
}

static void
threads_teardown (gpointer data)
{
  Threads *t = data;
  Handoff *h = &t->h;

  g_main_context_invoke (h->context, handoff_quit, h);
  g_thread_join (h->thread);
  g_main_loop_unref (h->loop);
  g_main_context_unref (h->context);
  g_object_unref (h->lock);
  g_mutex_clear (&h->mutex);
  g_cond_clear (&h->cond);

  for (guint i = 0; i < 4; i++)
    g_array_unref (t->rates[i]);
  g_array_unref (t->totals);
  g_array_unref (t->lock_us);
  g_array_unref (t->task_us);
  g_array_unref (t->all_lock_us);
  g_array_unref (t->all_task_us);
  g_free (t);
}

const BenchScenario bench_scenario_s6 = {
  "S6", "2 async contexts + 2 blocking threads on one lock; cross-thread hand-off",
  NULL,
  threads_setup, threads_warm_up, threads_run, threads_print, threads_teardown,
};
