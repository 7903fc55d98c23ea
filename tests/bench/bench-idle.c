/* bench-idle.c: IDLE, what idle locks cost a main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 10^4 locks (10^3 with --quick) each complete one async request
 * (acquire_read_async -> callback -> release) on a context of their own,
 * then stay alive and idle. Measured: N iterations of that context with
 * nothing ready, g_main_context_iteration (context, FALSE), against N
 * iterations of a context no lock has used, in the same repetition. A lock
 * nobody waits for should cost a main loop nothing.
 *
 * Only the public API is used: whatever the lock leaves on a context it
 * has completed a request on is what is measured.
 */

#include "bench-scenario.h"

typedef struct
{
  guint             n_locks;
  guint             iterations;
  int               reps;
  GMainContext     *used;           /* the locks completed their requests on it */
  GMainContext     *unused;         /* no lock ever used it */
  AioRwLock       **locks;
  BenchCompletions  requests;
  guint             dispatched[2];  /* iterations that dispatched something: used, unused */
  GArray           *used_ns;
  GArray           *unused_ns;
} Idle;

/* ns per iteration of CONTEXT; counts the iterations that dispatched. */
static double
time_iterations (GMainContext *context,
                 guint         n,
                 guint        *dispatched)
{
  gint64 t0, t1;

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    if (g_main_context_iteration (context, FALSE))
      (*dispatched)++;
  t1 = bench_now_ns ();

  return (double) (t1 - t0) / n;
}

static gpointer
idle_setup (const BenchScenario *scenario,
            const BenchConfig   *config)
{
  Idle *idle = g_new0 (Idle, 1);

  idle->n_locks = config->quick ? 1000 : 10000;
  idle->iterations = config->quick ? 100 : 1000;
  idle->reps = config->reps;
  idle->used = g_main_context_new ();
  idle->unused = g_main_context_new ();
  idle->locks = g_new0 (AioRwLock *, idle->n_locks);
  idle->used_ns = bench_samples_new ();
  idle->unused_ns = bench_samples_new ();

  /* The callbacks run on the thread-default context of the caller. */
  g_main_context_push_thread_default (idle->used);
  for (guint i = 0; i < idle->n_locks; i++)
    {
      idle->locks[i] = aio_rw_lock_new ();
      aio_rw_lock_acquire_read_async (idle->locks[i], NULL, bench_on_read_acquired,
                                      &idle->requests);
    }
  while (idle->requests.done < idle->n_locks)
    g_main_context_iteration (idle->used, TRUE);
  g_main_context_pop_thread_default (idle->used);

  bench_settle_context (idle->used);
  bench_settle_context (idle->unused);

  return idle;
}

static void
idle_warm_up (gpointer data)
{
  Idle *idle = data;
  guint dispatched = 0;

  time_iterations (idle->unused, idle->iterations / 10, &dispatched);
  time_iterations (idle->used, idle->iterations / 10, &dispatched);
}

static void
idle_run (gpointer data)
{
  Idle *idle = data;

  bench_samples_add (idle->unused_ns, time_iterations (idle->unused, idle->iterations,
                                                       &idle->dispatched[1]));
  bench_samples_add (idle->used_ns, time_iterations (idle->used, idle->iterations,
                                                     &idle->dispatched[0]));
}

static void
idle_print (gpointer data)
{
  Idle *idle = data;
  g_autofree char *what = g_strdup_printf ("one main-context iteration with nothing ready, "
                                           "%u idle locks that completed a request on it",
                                           idle->n_locks);
  g_autofree char *row = g_strdup_printf ("no-op iteration, %u idle locks", idle->n_locks);
  BenchStats used = bench_stats_of (idle->used_ns);
  BenchStats unused = bench_stats_of (idle->unused_ns);
  guint not_free = 0;
  gboolean ok;
  BenchJson j;

  for (guint i = 0; i < idle->n_locks; i++)
    if (!bench_lock_is_free (idle->locks[i]))
      not_free++;

  ok = bench_check (idle->requests.granted == idle->n_locks && idle->requests.failures == 0,
                    "IDLE: %u of %u requests granted, %u failed",
                    idle->requests.granted, idle->n_locks, idle->requests.failures);
  ok = bench_check (not_free == 0, "IDLE: %u of %u locks are not free", not_free, idle->n_locks) && ok;

  bench_json_begin (&j, "IDLE", what);
  bench_json_int (&j, "locks", idle->n_locks);
  bench_json_int (&j, "iterations", idle->iterations);
  bench_json_int (&j, "reps", idle->reps);
  bench_json_stats (&j, NULL, &used);
  bench_json_baseline (&j, "baseline_no_lock_ns", &unused);
  bench_json_num (&j, "ratio_vs_no_lock", bench_ratio (used.median, unused.median));
  bench_json_int (&j, "dispatched", idle->dispatched[0]);
  bench_json_int (&j, "baseline_dispatched", idle->dispatched[1]);
  bench_json_bool (&j, "checks_ok", ok);
  bench_json_end (&j);

  bench_summary_add ("IDLE", row, used.median, "ns/iter", "no-op iteration, no lock", unused.median);
}

static void
idle_teardown (gpointer data)
{
  Idle *idle = data;

  for (guint i = 0; i < idle->n_locks; i++)
    g_object_unref (idle->locks[i]);
  g_free (idle->locks);
  bench_settle_context (idle->used);
  g_main_context_unref (idle->used);
  g_main_context_unref (idle->unused);
  g_array_unref (idle->used_ns);
  g_array_unref (idle->unused_ns);
  g_free (idle);
}

const BenchScenario bench_scenario_idle = {
  "IDLE", "a no-op main-context iteration with 10^4 idle locks vs with none",
  NULL,
  idle_setup, idle_warm_up, idle_run, idle_print, idle_teardown,
};
