/* bench-contended.c: S3, 64 readers and 4 writers on one context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 68 actors on the default context, K cycles each: request, get the grant,
 * hold it across one main-loop pass (an idle), release, request again. Run
 * with the lock under each policy, and with two stand-ins for "acquire"
 * and no lock at all:
 *
 *   gtask  a bare GTask round trip (created, returned, completed by the
 *          main loop): what any async request costs; the main ratio
 *   naive  the naive FAIR lock of bench-naive.c, whose release completes
 *          the next waiters' callbacks itself
 *   idle   one idle pass: the scheduling alone
 *
 * Each run also counts its main-loop iterations (a source's prepare ()):
 * every hand-off of an exclusive hold costs the lock two (the grant's
 * delivery, then the hold's pass), which is what keeps S3 below the GTask
 * baseline, whose 68 actors never wait for one another.
 */

#include "bench-naive.h"
#include "bench-scenario.h"

#define S3_READERS 64
#define S3_WRITERS 4

typedef enum
{
  S3_GRANT_LOCK,
  S3_GRANT_GTASK,
  S3_GRANT_NAIVE,
  S3_GRANT_IDLE,
} S3Grant;

typedef struct _S3Run S3Run;

typedef struct
{
  S3Run          *run;
  gboolean        write;
  guint           done;
  gint64          requested_at;
  AioRwLockGuard *guard;
  NaiveGuard     *naive_guard;
} S3Actor;

struct _S3Run
{
  S3Grant    grant;
  AioRwLock *lock;       /* with S3_GRANT_LOCK */
  NaiveLock *naive;      /* with S3_GRANT_NAIVE */
  GMainLoop *loop;
  guint      k;
  guint      active;
  guint      acquisitions;
  guint      failures;
  guint      iterations;
  GArray    *waits[2];   /* ms from request to grant: readers, writers */
};

/* The repetitions of one kind of run. */
typedef struct
{
  GArray *throughput;    /* acquisitions/s */
  GArray *iterations;    /* main-loop iterations per 68 acquisitions */
  GArray *p50[2];        /* ms; readers, writers */
  GArray *p99[2];
  double  max[2];        /* over all repetitions */
} S3Figures;

static const struct
{
  AioRwLockPolicy  policy;
  const char      *name;
} s3_policies[] = {
  { AIO_RW_LOCK_POLICY_FAIR, "fair" },
  { AIO_RW_LOCK_POLICY_PREFER_WRITERS, "prefer-writers" },
  { AIO_RW_LOCK_POLICY_PREFER_READERS, "prefer-readers" },
};

typedef struct
{
  guint     k;
  int       reps;
  S3Figures policy[G_N_ELEMENTS (s3_policies)];
  S3Figures gtask;
  S3Figures naive;
  S3Figures idle;
} Contended;

static void s3_request (S3Actor *actor);

/* Counts the iterations of the context it is attached to: never ready,
 * so it only adds one prepare () and one check () to each. */
typedef struct
{
  GSource  source;
  guint   *count;
} CountSource;

static gboolean
count_prepare (GSource *source,
               gint    *timeout)
{
  (*((CountSource *) source)->count)++;
  *timeout = -1;
  return FALSE;
}

static gboolean
count_check (GSource *source)
{
  return FALSE;
}

static GSourceFuncs count_funcs = { .prepare = count_prepare, .check = count_check };

static gboolean
on_s3_hold_done (gpointer user_data)
{
  S3Actor *actor = user_data;
  S3Run *run = actor->run;

  if (actor->guard != NULL)
    {
      aio_rw_lock_guard_release (actor->guard);
      g_clear_pointer (&actor->guard, aio_rw_lock_guard_unref);
    }
  if (actor->naive_guard != NULL)
    naive_guard_release (g_steal_pointer (&actor->naive_guard));

  if (++actor->done < run->k)
    s3_request (actor);
  else if (--run->active == 0)
    g_main_loop_quit (run->loop);

  return G_SOURCE_REMOVE;
}

/* The grant (or what stands for it): hold across one main-loop pass. */
static void
s3_granted (S3Actor *actor)
{
  S3Run *run = actor->run;
  double wait_ms = (bench_now_ns () - actor->requested_at) / 1e6;

  bench_samples_add (run->waits[actor->write], wait_ms);
  run->acquisitions++;
  g_idle_add_full (G_PRIORITY_DEFAULT, on_s3_hold_done, actor, NULL);
}

static void
on_s3_locked (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  S3Actor *actor = user_data;
  AioRwLock *lock = actor->run->lock;

  if (actor->write)
    actor->guard = aio_rw_lock_acquire_write_finish (lock, result, NULL);
  else
    actor->guard = aio_rw_lock_acquire_read_finish (lock, result, NULL);

  if (actor->guard == NULL)
    actor->run->failures++;

  s3_granted (actor);
}

static void
on_s3_task_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  S3Actor *actor = user_data;

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    actor->run->failures++;

  s3_granted (actor);
}

static void
on_s3_naive_locked (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  S3Actor *actor = user_data;

  actor->naive_guard = naive_lock_acquire_finish (result, NULL);
  if (actor->naive_guard == NULL)
    actor->run->failures++;

  s3_granted (actor);
}

static gboolean
on_s3_idle_grant (gpointer user_data)
{
  s3_granted (user_data);
  return G_SOURCE_REMOVE;
}

static void
s3_request (S3Actor *actor)
{
  S3Run *run = actor->run;

  actor->requested_at = bench_now_ns ();
  switch (run->grant)
    {
    case S3_GRANT_LOCK:
      if (actor->write)
        aio_rw_lock_acquire_write_async (run->lock, NULL, on_s3_locked, actor);
      else
        aio_rw_lock_acquire_read_async (run->lock, NULL, on_s3_locked, actor);
      break;
    case S3_GRANT_GTASK:
      bench_task_round_trip (on_s3_task_done, actor);
      break;
    case S3_GRANT_NAIVE:
      naive_lock_acquire_async (run->naive, actor->write, on_s3_naive_locked, actor);
      break;
    case S3_GRANT_IDLE:
      g_idle_add_full (G_PRIORITY_DEFAULT, on_s3_idle_grant, actor, NULL);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* One run of the 68 actors, K cycles each; adds its figures to FIGURES
 * (NULL: a warm-up). LOCK only with S3_GRANT_LOCK. */
static void
s3_run_once (S3Grant     grant,
             AioRwLock  *lock,
             guint       k,
             const char *phase,
             S3Figures  *figures)
{
  const guint n_actors = S3_READERS + S3_WRITERS;
  g_autofree S3Actor *actors = g_new0 (S3Actor, n_actors);
  S3Run run = { 0, };
  gint64 t0, t1;
  guint writers = 0;
  GSource *counter;

  bench_settle_context (NULL);

  run.grant = grant;
  run.lock = lock;
  if (grant == S3_GRANT_NAIVE)
    run.naive = naive_lock_new ();
  run.loop = g_main_loop_new (NULL, FALSE);
  run.k = k;
  run.waits[0] = bench_samples_new ();
  run.waits[1] = bench_samples_new ();

  /* The writers are spread among the readers: actors 16, 33, 50, 67. */
  for (guint i = 0; i < n_actors; i++)
    {
      actors[i].run = &run;
      actors[i].write = (i % 17) == 16 && writers < S3_WRITERS;
      if (actors[i].write)
        writers++;
    }
  g_assert (writers == S3_WRITERS);

  counter = g_source_new (&count_funcs, sizeof (CountSource));
  ((CountSource *) counter)->count = &run.iterations;
  g_source_attach (counter, NULL);

  bench_callgrind_begin ();
  t0 = bench_now_ns ();
  for (guint i = 0; i < n_actors; i++)
    {
      run.active++;
      s3_request (&actors[i]);
    }
  g_main_loop_run (run.loop);
  t1 = bench_now_ns ();
  g_source_destroy (counter);
  g_source_unref (counter);
  if (figures != NULL)
    {
      g_autofree char *what = g_strdup_printf ("%s ops=%u", phase, run.acquisitions);

      bench_callgrind_end (what);
    }

  bench_check (run.acquisitions == n_actors * k, "%s: %u acquisitions, expected %u",
               phase, run.acquisitions, n_actors * k);
  bench_check (run.failures == 0, "%s: %u acquisitions failed", phase, run.failures);
  if (lock != NULL)
    bench_check_lock_free (lock, phase);
  if (run.naive != NULL)
    {
      bench_check (naive_lock_is_free (run.naive), "%s: the naive lock ended held", phase);
      naive_lock_free (run.naive);
    }

  for (guint kind = 0; kind < 2 && figures != NULL; kind++)
    {
      GArray *waits = run.waits[kind];

      bench_sort_doubles (waits);
      bench_samples_add (figures->p50[kind], bench_percentile_sorted (waits, 50));
      bench_samples_add (figures->p99[kind], bench_percentile_sorted (waits, 99));
      figures->max[kind] = MAX (figures->max[kind], bench_percentile_sorted (waits, 100));
    }
  if (figures != NULL)
    {
      bench_samples_add (figures->throughput, run.acquisitions / ((t1 - t0) / 1e9));
      bench_samples_add (figures->iterations, (double) run.iterations * n_actors / run.acquisitions);
    }

  g_array_unref (run.waits[0]);
  g_array_unref (run.waits[1]);
  g_main_loop_unref (run.loop);
}

/* A run of the lock under policy P, with a new lock. */
static void
s3_run_lock (guint       p,
             guint       k,
             S3Figures  *figures)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (s3_policies[p].policy);
  g_autofree char *phase = g_strdup_printf ("S3 %s", s3_policies[p].name);

  s3_run_once (S3_GRANT_LOCK, lock, k, phase, figures);
}

static void
s3_figures_init (S3Figures *f)
{
  f->throughput = bench_samples_new ();
  f->iterations = bench_samples_new ();
  for (guint kind = 0; kind < 2; kind++)
    {
      f->p50[kind] = bench_samples_new ();
      f->p99[kind] = bench_samples_new ();
      f->max[kind] = 0;
    }
}

static void
s3_figures_clear (S3Figures *f)
{
  g_array_unref (f->throughput);
  g_array_unref (f->iterations);
  for (guint kind = 0; kind < 2; kind++)
    {
      g_array_unref (f->p50[kind]);
      g_array_unref (f->p99[kind]);
    }
}

static gpointer
contended_setup (const BenchScenario *scenario,
                 const BenchConfig   *config)
{
  Contended *c = g_new0 (Contended, 1);

  c->k = config->k;
  c->reps = config->reps;
  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    s3_figures_init (&c->policy[p]);
  s3_figures_init (&c->gtask);
  s3_figures_init (&c->naive);
  s3_figures_init (&c->idle);

  return c;
}

static void
contended_warm_up (gpointer data)
{
  Contended *c = data;
  guint k = MAX (c->k / 10, 2);

  s3_run_once (S3_GRANT_GTASK, NULL, k, "S3 warm-up", NULL);
  s3_run_once (S3_GRANT_NAIVE, NULL, k, "S3 warm-up", NULL);
  s3_run_once (S3_GRANT_IDLE, NULL, k, "S3 warm-up", NULL);
  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    s3_run_lock (p, k, NULL);
}

static void
contended_run (gpointer data)
{
  Contended *c = data;

  s3_run_once (S3_GRANT_GTASK, NULL, c->k, "S3 GTask baseline", &c->gtask);
  s3_run_once (S3_GRANT_NAIVE, NULL, c->k, "S3 naive lock", &c->naive);
  s3_run_once (S3_GRANT_IDLE, NULL, c->k, "S3 idle baseline", &c->idle);
  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    s3_run_lock (p, c->k, &c->policy[p]);
}

static void
contended_print (gpointer data)
{
  Contended *c = data;
  const char *kind_name[2] = { "read", "write" };
  BenchStats gtask = bench_stats_of (c->gtask.throughput);
  BenchStats naive = bench_stats_of (c->naive.throughput);
  BenchStats idle = bench_stats_of (c->idle.throughput);
  double gtask_iterations = bench_median_of (c->gtask.iterations);
  double naive_iterations = bench_median_of (c->naive.iterations);

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      S3Figures *f = &c->policy[p];
      g_autofree char *what = g_strdup_printf ("%u readers + %u writers, hold one pass, policy %s",
                                               S3_READERS, S3_WRITERS, s3_policies[p].name);
      g_autofree char *row = g_strdup_printf ("contended throughput, %s", s3_policies[p].name);
      BenchStats t = bench_stats_of (f->throughput);
      double iterations = bench_median_of (f->iterations);
      BenchJson j;

      bench_json_begin (&j, "S3", what);
      bench_json_str (&j, "policy", s3_policies[p].name);
      bench_json_int (&j, "readers", S3_READERS);
      bench_json_int (&j, "writers", S3_WRITERS);
      bench_json_int (&j, "k", c->k);
      bench_json_int (&j, "reps", c->reps);
      bench_json_stats (&j, "acq_per_s", &t);
      bench_json_baseline (&j, "baseline_gtask_acq_per_s", &gtask);
      bench_json_num (&j, "baseline_gtask_wait_ms_p50", bench_median_of (c->gtask.p50[0]));
      bench_json_num (&j, "ratio_vs_gtask", bench_ratio (t.median, gtask.median));
      bench_json_baseline (&j, "baseline_naive_acq_per_s", &naive);
      bench_json_num (&j, "ratio_vs_naive", bench_ratio (t.median, naive.median));
      bench_json_num (&j, "iterations_per_68", iterations);
      bench_json_num (&j, "baseline_gtask_iterations_per_68", gtask_iterations);
      bench_json_num (&j, "baseline_naive_iterations_per_68", naive_iterations);
      bench_json_baseline (&j, "baseline_acq_per_s", &idle);
      bench_json_num (&j, "baseline_wait_ms_p50", bench_median_of (c->idle.p50[0]));
      bench_json_num (&j, "ratio_vs_baseline", bench_ratio (t.median, idle.median));
      for (guint kind = 0; kind < 2; kind++)
        {
          g_autofree char *k50 = g_strdup_printf ("%s_wait_ms_p50", kind_name[kind]);
          g_autofree char *k99 = g_strdup_printf ("%s_wait_ms_p99", kind_name[kind]);
          g_autofree char *kmax = g_strdup_printf ("%s_wait_ms_max", kind_name[kind]);

          bench_json_num (&j, k50, bench_median_of (f->p50[kind]));
          bench_json_num (&j, k99, bench_median_of (f->p99[kind]));
          bench_json_num (&j, kmax, f->max[kind]);
        }
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);

      bench_summary_add ("S3", row, t.median, "acq/s", "GTask round trips, no lock", gtask.median);
      if (s3_policies[p].policy == AIO_RW_LOCK_POLICY_FAIR)
        {
          g_autofree char *it_row = g_strdup_printf ("main-loop iterations per %u acquisitions, %s",
                                                     S3_READERS + S3_WRITERS, s3_policies[p].name);

          bench_summary_add ("S3", row, t.median, "acq/s", "idle passes, no lock", idle.median);
          bench_summary_add ("S3", row, t.median, "acq/s", "naive FAIR GTask lock", naive.median);
          bench_summary_add ("S3", it_row, iterations, "iter", "GTask round trips, no lock", gtask_iterations);
          bench_summary_add ("S3", it_row, iterations, "iter", "naive FAIR GTask lock", naive_iterations);
        }
    }
}

static void
contended_teardown (gpointer data)
{
  Contended *c = data;

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    s3_figures_clear (&c->policy[p]);
  s3_figures_clear (&c->gtask);
  s3_figures_clear (&c->naive);
  s3_figures_clear (&c->idle);
  g_free (c);
}

const BenchScenario bench_scenario_s3 = {
  "S3", "64 readers + 4 writers on one context, per policy, vs GTask round trips, a naive lock and idle passes",
  NULL,
  contended_setup, contended_warm_up, contended_run, contended_print, contended_teardown,
};
