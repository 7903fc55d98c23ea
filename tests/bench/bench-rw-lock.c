/* bench-rw-lock.c: what an AioRwLock costs, against the GLib parts it is made of
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the scenarios share (statistics, checks, the watchdog, main-context
 * helpers, malloc, the JSON lines and the summary table) is in
 * bench-util.c.
 *
 * Prints one JSON object per line on stdout: first the machine, then one
 * line per measured case with the median (and min, max) of --reps
 * repetitions, the baselines measured in the same run (each repetition of
 * a baseline runs right after the matching repetition of the lock, so slow
 * phases of a noisy machine hit both) and the ratios. A summary table goes
 * to stderr at the end.
 *
 * Scenarios (--scenario S1,S2,TRY,S3,S4,S5,S6; all by default):
 *
 *   S1, S2  uncontended async read / write cycle vs a bare GTask and an idle
 *   TRY     try_acquire + release + unref vs GRWLock and GMutex
 *   S3      64 readers + 4 writers on one context, per policy, vs no lock
 *   S4      W pending readers behind a writer: enqueue, grant, bytes
 *   S5      N pending writers, every other one cancelled: cost per cancel
 *   S6      2 async contexts + 2 blocking threads; cross-thread hand-off
 *
 * Run it with G_SLICE=always-malloc (meson test does): GSlice would hide
 * the allocations from malloc's statistics, and the byte counts of S4 are
 * reported as null without it. The heap is never trimmed during the run
 * (see bench_disable_heap_trimming ()), and the scaling scenarios S4 and
 * S5 run first, after the light S1, S2 and TRY: per-waiter costs at small
 * sizes depend on the state of malloc's heap, and `--scenario S4,S5`
 * alone gives the cleanest figures.
 *
 * Nothing about timing is asserted. The exit status is non-zero only when
 * a correctness check fails (a request not completed, a lock not free at
 * the end, an unexpected error); tests/bench/bench-output.py checks that
 * every line is well-formed JSON.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"

#ifndef BENCH_BUILDTYPE
# define BENCH_BUILDTYPE "unknown"
#endif

#if defined (__clang__)
# define BENCH_COMPILER "clang " __clang_version__
#elif defined (__GNUC__)
# define BENCH_COMPILER "gcc " __VERSION__
#else
# define BENCH_COMPILER "unknown"
#endif

#ifdef __OPTIMIZE__
# define BENCH_OPTIMIZED TRUE
#else
# define BENCH_OPTIMIZED FALSE
#endif

#define S3_READERS 64
#define S3_WRITERS 4
#define S6_ACTORS_PER_THREAD 4
#define HANDOFF_SETTLE_USEC 100

/* ---- Options and sizes ---- */

static struct
{
  int       reps;
  gboolean  quick;
  char     *scenarios;
  char     *output;
  double    duration;
  int       k;
  int       rounds;
} options;

static guint n_cycles;          /* S1, S2 */
static guint n_try;             /* TRY */
static guint s4_sizes[4];
static guint s4_n_sizes;
static guint s5_sizes[3];
static guint s5_n_sizes;

static const char * const all_scenarios[] = { "S1", "S2", "TRY", "S3", "S4", "S5", "S6" };


/* Runs the default context until *counter reaches target; a watchdog
 * ends the run if that takes far too long. */
static void
iterate_until (const guint *counter,
               guint        target,
               const char  *phase)
{
  bench_watchdog_arm (phase);
  bench_iterate_until (counter, target);
  bench_watchdog_disarm ();
}

/* ---- Machine ---- */

static char *
cpu_model (void)
{
  g_autofree char *cpuinfo = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    return g_strdup ("unknown");

  lines = g_strsplit (cpuinfo, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *colon = strchr (lines[i], ':');

      if (colon != NULL && g_str_has_prefix (lines[i], "model name"))
        return g_strstrip (g_strdup (colon + 1));
    }

  return g_strdup ("unknown");
}

static gboolean scenario_selected (const char *name);

static void
print_machine (gboolean no_heap_trim)
{
  g_autofree char *cpu = cpu_model ();
  g_autofree char *glib_version = g_strdup_printf ("%u.%u.%u", glib_major_version,
                                                   glib_minor_version, glib_micro_version);
  g_autofree char *loadavg = NULL;
  GString *ran = g_string_new (NULL);
  BenchJson j;

  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    g_strstrip (loadavg);
  for (guint s = 0; s < G_N_ELEMENTS (all_scenarios); s++)
    if (scenario_selected (all_scenarios[s]))
      g_string_append_printf (ran, "%s%s", ran->len > 0 ? "," : "", all_scenarios[s]);

  bench_json_begin (&j, "machine", NULL);
  bench_json_str (&j, "cpu", cpu);
  bench_json_int (&j, "nproc", g_get_num_processors ());
  bench_json_str (&j, "glib", glib_version);
  bench_json_str (&j, "compiler", BENCH_COMPILER);
  bench_json_bool (&j, "optimized", BENCH_OPTIMIZED);
  bench_json_str (&j, "buildtype", BENCH_BUILDTYPE);
  bench_json_str (&j, "aiorwlock", AIO_VERSION_S);
  bench_json_str (&j, "g_slice", g_getenv ("G_SLICE"));
  bench_json_bool (&j, "malloc_no_trim", no_heap_trim);
  bench_json_str (&j, "loadavg", loadavg);
  bench_json_int (&j, "reps", options.reps);
  bench_json_bool (&j, "quick", options.quick);
  bench_json_str (&j, "scenarios", ran->str);
  bench_json_end (&j);

  g_string_free (ran, TRUE);
}

/* ---- S1, S2: the uncontended async cycle, and its baselines ---- */

typedef struct _Cycle Cycle;
typedef void (*CycleStart) (Cycle *c);

struct _Cycle
{
  AioRwLock *lock;
  gboolean   write;
  GMainLoop *loop;
  guint      remaining;
  guint      failures;
};

static void cycle_lock_start (Cycle *c);
static void cycle_task_start (Cycle *c);
static void cycle_idle_start (Cycle *c);

static void
cycle_next (Cycle      *c,
            CycleStart  start)
{
  if (--c->remaining == 0)
    g_main_loop_quit (c->loop);
  else
    start (c);
}

static void
on_cycle_locked (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Cycle *c = user_data;
  AioRwLockGuard *guard;

  if (c->write)
    guard = aio_rw_lock_acquire_write_finish (c->lock, result, NULL);
  else
    guard = aio_rw_lock_acquire_read_finish (c->lock, result, NULL);

  if (guard == NULL)
    {
      c->failures++;
    }
  else
    {
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }

  cycle_next (c, cycle_lock_start);
}

static void
cycle_lock_start (Cycle *c)
{
  if (c->write)
    aio_rw_lock_acquire_write_async (c->lock, NULL, on_cycle_locked, c);
  else
    aio_rw_lock_acquire_read_async (c->lock, NULL, on_cycle_locked, c);
}

/* Baseline (a): what any GIO async call pays, a GTask returned inside its
 * _async call and completed by the main loop. */
static void
on_cycle_task_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Cycle *c = user_data;

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    c->failures++;

  cycle_next (c, cycle_task_start);
}

static void
cycle_task_start (Cycle *c)
{
  bench_task_round_trip (on_cycle_task_done, c);
}

/* Baseline (b): one idle-source dispatch. */
static gboolean
on_cycle_idle (gpointer user_data)
{
  Cycle *c = user_data;

  cycle_next (c, cycle_idle_start);
  return G_SOURCE_REMOVE;
}

static void
cycle_idle_start (Cycle *c)
{
  g_idle_add (on_cycle_idle, c);
}

/* ns per cycle */
static double
run_cycles (Cycle      *c,
            CycleStart  start,
            guint       n,
            const char *phase)
{
  gint64 t0, t1;

  bench_settle_context (NULL);
  c->loop = g_main_loop_new (NULL, FALSE);
  c->remaining = n;

  bench_watchdog_arm (phase);
  t0 = bench_now_ns ();
  start (c);
  g_main_loop_run (c->loop);
  t1 = bench_now_ns ();
  bench_watchdog_disarm ();

  g_clear_pointer (&c->loop, g_main_loop_unref);

  return (double) (t1 - t0) / n;
}

static void
scenario_cycle (const char *name,
                gboolean    write)
{
  const char *what = write ? "write cycle: acquire_write_async -> callback -> release"
                           : "read cycle: acquire_read_async -> callback -> release";
  g_autoptr(GArray) lock_ns = bench_samples_new ();
  g_autoptr(GArray) task_ns = bench_samples_new ();
  g_autoptr(GArray) idle_ns = bench_samples_new ();
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Cycle c = { lock, write, NULL, 0, 0 };
  BenchStats lock_s, task_s, idle_s;
  BenchJson j;

  /* Warm-up: caches, the lock's completion source, GTask's class. */
  run_cycles (&c, cycle_lock_start, MAX (n_cycles / 10, 100), name);
  run_cycles (&c, cycle_task_start, MAX (n_cycles / 10, 100), name);
  run_cycles (&c, cycle_idle_start, MAX (n_cycles / 10, 100), name);

  for (int rep = 0; rep < options.reps; rep++)
    {
      bench_samples_add (lock_ns, run_cycles (&c, cycle_lock_start, n_cycles, name));
      bench_samples_add (task_ns, run_cycles (&c, cycle_task_start, n_cycles, name));
      bench_samples_add (idle_ns, run_cycles (&c, cycle_idle_start, n_cycles, name));
    }

  bench_check (c.failures == 0, "%s: %u acquisitions failed", name, c.failures);
  bench_check_lock_free (lock, name);

  lock_s = bench_stats_of (lock_ns);
  task_s = bench_stats_of (task_ns);
  idle_s = bench_stats_of (idle_ns);

  bench_json_begin (&j, name, what);
  bench_json_int (&j, "n", n_cycles);
  bench_json_int (&j, "reps", options.reps);
  bench_json_stats (&j, NULL, &lock_s);
  bench_json_baseline (&j, "baseline_gtask_ns", &task_s);
  bench_json_baseline (&j, "baseline_idle_ns", &idle_s);
  bench_json_num (&j, "ratio_vs_gtask", bench_ratio (lock_s.median, task_s.median));
  bench_json_num (&j, "ratio_vs_idle", bench_ratio (lock_s.median, idle_s.median));
  bench_json_bool (&j, "checks_ok", c.failures == 0 && bench_lock_is_free (lock));
  bench_json_end (&j);

  bench_summary_add (name, write ? "async write cycle" : "async read cycle",
           lock_s.median, "ns/cycle", "bare GTask cycle", task_s.median);
  bench_summary_add (name, write ? "async write cycle" : "async read cycle",
           lock_s.median, "ns/cycle", "idle dispatch", idle_s.median);
}

/* ---- TRY: the non-blocking path ---- */

static double
try_lock_loop (AioRwLock *lock,
               gboolean   write,
               guint      n,
               guint     *failures)
{
  gint64 t0, t1;

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      AioRwLockGuard *guard = write ? aio_rw_lock_try_acquire_write (lock)
                                    : aio_rw_lock_try_acquire_read (lock);

      if (G_UNLIKELY (guard == NULL))
        {
          (*failures)++;
          continue;
        }
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  t1 = bench_now_ns ();

  return (double) (t1 - t0) / n;
}

static double
grwlock_loop (GRWLock  *rw,
              gboolean  write,
              guint     n)
{
  gint64 t0, t1;

  t0 = bench_now_ns ();
  if (write)
    {
      for (guint i = 0; i < n; i++)
        {
          g_rw_lock_writer_lock (rw);
          g_rw_lock_writer_unlock (rw);
        }
    }
  else
    {
      for (guint i = 0; i < n; i++)
        {
          g_rw_lock_reader_lock (rw);
          g_rw_lock_reader_unlock (rw);
        }
    }
  t1 = bench_now_ns ();

  return (double) (t1 - t0) / n;
}

static double
gmutex_loop (GMutex *mutex,
             guint   n)
{
  gint64 t0, t1;

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      g_mutex_lock (mutex);
      g_mutex_unlock (mutex);
    }
  t1 = bench_now_ns ();

  return (double) (t1 - t0) / n;
}

static void
scenario_try (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GArray) try_read = bench_samples_new ();
  g_autoptr(GArray) try_write = bench_samples_new ();
  g_autoptr(GArray) rw_read = bench_samples_new ();
  g_autoptr(GArray) rw_write = bench_samples_new ();
  g_autoptr(GArray) mutex_ns = bench_samples_new ();
  BenchStats tr, tw, rr, rw, mx;
  guint failures = 0;
  GRWLock grw;
  GMutex mutex;
  BenchJson j;

  g_rw_lock_init (&grw);
  g_mutex_init (&mutex);

  bench_watchdog_arm ("TRY");

  /* Warm-up */
  try_lock_loop (lock, FALSE, n_try / 10, &failures);
  try_lock_loop (lock, TRUE, n_try / 10, &failures);
  grwlock_loop (&grw, FALSE, n_try / 10);
  grwlock_loop (&grw, TRUE, n_try / 10);
  gmutex_loop (&mutex, n_try / 10);

  for (int rep = 0; rep < options.reps; rep++)
    {
      bench_samples_add (try_read, try_lock_loop (lock, FALSE, n_try, &failures));
      bench_samples_add (try_write, try_lock_loop (lock, TRUE, n_try, &failures));
      bench_samples_add (rw_read, grwlock_loop (&grw, FALSE, n_try));
      bench_samples_add (rw_write, grwlock_loop (&grw, TRUE, n_try));
      bench_samples_add (mutex_ns, gmutex_loop (&mutex, n_try));
    }

  bench_watchdog_disarm ();

  bench_check (failures == 0, "TRY: %u try-acquisitions of a free lock failed", failures);
  bench_check_lock_free (lock, "TRY");

  tr = bench_stats_of (try_read);
  tw = bench_stats_of (try_write);
  rr = bench_stats_of (rw_read);
  rw = bench_stats_of (rw_write);
  mx = bench_stats_of (mutex_ns);

  bench_json_begin (&j, "TRY", "try_acquire_read + release + unref");
  bench_json_int (&j, "n", n_try);
  bench_json_int (&j, "reps", options.reps);
  bench_json_stats (&j, NULL, &tr);
  bench_json_baseline (&j, "baseline_grwlock_reader_ns", &rr);
  bench_json_num (&j, "baseline_gmutex_ns", mx.median);
  bench_json_num (&j, "ratio_vs_grwlock_reader", bench_ratio (tr.median, rr.median));
  bench_json_num (&j, "ratio_vs_gmutex", bench_ratio (tr.median, mx.median));
  bench_json_bool (&j, "checks_ok", failures == 0 && bench_lock_is_free (lock));
  bench_json_end (&j);

  bench_json_begin (&j, "TRY", "try_acquire_write + release + unref");
  bench_json_int (&j, "n", n_try);
  bench_json_int (&j, "reps", options.reps);
  bench_json_stats (&j, NULL, &tw);
  bench_json_baseline (&j, "baseline_grwlock_writer_ns", &rw);
  bench_json_num (&j, "baseline_gmutex_ns", mx.median);
  bench_json_num (&j, "ratio_vs_grwlock_writer", bench_ratio (tw.median, rw.median));
  bench_json_num (&j, "ratio_vs_gmutex", bench_ratio (tw.median, mx.median));
  bench_json_bool (&j, "checks_ok", failures == 0 && bench_lock_is_free (lock));
  bench_json_end (&j);

  bench_summary_add ("TRY", "try read + release + unref", tr.median, "ns/op",
           "GRWLock reader lock+unlock", rr.median);
  bench_summary_add ("TRY", "try write + release + unref", tw.median, "ns/op",
           "GRWLock writer lock+unlock", rw.median);
  bench_summary_add ("TRY", "try read + release + unref", tr.median, "ns/op",
           "GMutex lock+unlock", mx.median);

  g_rw_lock_clear (&grw);
  g_mutex_clear (&mutex);
}

/* ---- S3: 64 readers and 4 writers on one context ---- */

typedef struct _S3Run S3Run;

typedef struct
{
  S3Run          *run;
  gboolean        write;
  guint           done;
  gint64          requested_at;
  AioRwLockGuard *guard;
} S3Actor;

struct _S3Run
{
  AioRwLock *lock;       /* NULL: the baseline, no lock */
  GMainLoop *loop;
  guint      k;
  guint      active;
  guint      acquisitions;
  guint      failures;
  GArray    *waits[2];   /* ms from request to grant: readers, writers */
};

static void s3_request (S3Actor *actor);

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

  if (++actor->done < run->k)
    s3_request (actor);
  else if (--run->active == 0)
    g_main_loop_quit (run->loop);

  return G_SOURCE_REMOVE;
}

/* The grant (or, in the baseline, the pass standing for it): hold the lock
 * across one main-loop pass. */
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

static gboolean
on_s3_fake_grant (gpointer user_data)
{
  s3_granted (user_data);
  return G_SOURCE_REMOVE;
}

static void
s3_request (S3Actor *actor)
{
  AioRwLock *lock = actor->run->lock;

  actor->requested_at = bench_now_ns ();
  if (lock == NULL)
    g_idle_add_full (G_PRIORITY_DEFAULT, on_s3_fake_grant, actor, NULL);
  else if (actor->write)
    aio_rw_lock_acquire_write_async (lock, NULL, on_s3_locked, actor);
  else
    aio_rw_lock_acquire_read_async (lock, NULL, on_s3_locked, actor);
}

typedef struct
{
  double throughput;          /* acquisitions/s */
  double p50[2], p99[2], max[2];
} S3Result;

/* One run of the 68 actors, K cycles each; lock NULL for the baseline. */
static S3Result
s3_run_once (AioRwLock  *lock,
             guint       k,
             const char *phase)
{
  const guint n_actors = S3_READERS + S3_WRITERS;
  g_autofree S3Actor *actors = g_new0 (S3Actor, n_actors);
  S3Run run = { 0, };
  S3Result result;
  gint64 t0, t1;
  guint writers = 0;

  bench_settle_context (NULL);

  run.lock = lock;
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

  bench_watchdog_arm (phase);
  t0 = bench_now_ns ();
  for (guint i = 0; i < n_actors; i++)
    {
      run.active++;
      s3_request (&actors[i]);
    }
  g_main_loop_run (run.loop);
  t1 = bench_now_ns ();
  bench_watchdog_disarm ();

  bench_check (run.acquisitions == n_actors * k, "%s: %u acquisitions, expected %u",
         phase, run.acquisitions, n_actors * k);
  bench_check (run.failures == 0, "%s: %u acquisitions failed", phase, run.failures);
  if (lock != NULL)
    bench_check_lock_free (lock, phase);

  result.throughput = run.acquisitions / ((t1 - t0) / 1e9);
  for (guint kind = 0; kind < 2; kind++)
    {
      bench_sort_doubles (run.waits[kind]);
      result.p50[kind] = bench_percentile_sorted (run.waits[kind], 50);
      result.p99[kind] = bench_percentile_sorted (run.waits[kind], 99);
      result.max[kind] = bench_percentile_sorted (run.waits[kind], 100);
      g_array_unref (run.waits[kind]);
    }
  g_main_loop_unref (run.loop);

  return result;
}

static const struct
{
  AioRwLockPolicy  policy;
  const char      *name;
} s3_policies[] = {
  { AIO_RW_LOCK_POLICY_FAIR, "fair" },
  { AIO_RW_LOCK_POLICY_PREFER_WRITERS, "prefer-writers" },
  { AIO_RW_LOCK_POLICY_PREFER_READERS, "prefer-readers" },
};

static void
scenario_contended (void)
{
  const guint k = options.k;
  const char *kind_name[2] = { "read", "write" };
  GArray *tput[G_N_ELEMENTS (s3_policies)];
  GArray *p50[G_N_ELEMENTS (s3_policies)][2];
  GArray *p99[G_N_ELEMENTS (s3_policies)][2];
  double max_wait[G_N_ELEMENTS (s3_policies)][2];
  g_autoptr(GArray) base_tput = bench_samples_new ();
  g_autoptr(GArray) base_p50 = bench_samples_new ();
  BenchStats base;

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      tput[p] = bench_samples_new ();
      for (guint kind = 0; kind < 2; kind++)
        {
          p50[p][kind] = bench_samples_new ();
          p99[p][kind] = bench_samples_new ();
          max_wait[p][kind] = 0;
        }
    }

  /* Warm-up */
  s3_run_once (NULL, MAX (k / 10, 2), "S3 warm-up");
  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (s3_policies[p].policy);

      s3_run_once (lock, MAX (k / 10, 2), "S3 warm-up");
    }

  for (int rep = 0; rep < options.reps; rep++)
    {
      S3Result r = s3_run_once (NULL, k, "S3 baseline");

      bench_samples_add (base_tput, r.throughput);
      bench_samples_add (base_p50, r.p50[0]);

      for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
        {
          g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (s3_policies[p].policy);

          r = s3_run_once (lock, k, "S3");
          bench_samples_add (tput[p], r.throughput);
          for (guint kind = 0; kind < 2; kind++)
            {
              bench_samples_add (p50[p][kind], r.p50[kind]);
              bench_samples_add (p99[p][kind], r.p99[kind]);
              max_wait[p][kind] = MAX (max_wait[p][kind], r.max[kind]);
            }
        }
    }

  base = bench_stats_of (base_tput);

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      g_autofree char *what = g_strdup_printf ("%u readers + %u writers, hold one pass, policy %s",
                                               S3_READERS, S3_WRITERS, s3_policies[p].name);
      g_autofree char *row = g_strdup_printf ("contended throughput, %s", s3_policies[p].name);
      BenchStats t = bench_stats_of (tput[p]);
      BenchJson j;

      bench_json_begin (&j, "S3", what);
      bench_json_str (&j, "policy", s3_policies[p].name);
      bench_json_int (&j, "readers", S3_READERS);
      bench_json_int (&j, "writers", S3_WRITERS);
      bench_json_int (&j, "k", k);
      bench_json_int (&j, "reps", options.reps);
      bench_json_stats (&j, "acq_per_s", &t);
      bench_json_baseline (&j, "baseline_acq_per_s", &base);
      bench_json_num (&j, "baseline_wait_ms_p50", bench_median_of (base_p50));
      bench_json_num (&j, "ratio_vs_baseline", bench_ratio (t.median, base.median));
      for (guint kind = 0; kind < 2; kind++)
        {
          g_autofree char *k50 = g_strdup_printf ("%s_wait_ms_p50", kind_name[kind]);
          g_autofree char *k99 = g_strdup_printf ("%s_wait_ms_p99", kind_name[kind]);
          g_autofree char *kmax = g_strdup_printf ("%s_wait_ms_max", kind_name[kind]);

          bench_json_num (&j, k50, bench_median_of (p50[p][kind]));
          bench_json_num (&j, k99, bench_median_of (p99[p][kind]));
          bench_json_num (&j, kmax, max_wait[p][kind]);
        }
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);

      bench_summary_add ("S3", row, t.median, "acq/s", "same passes, no lock", base.median);
    }

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      g_array_unref (tput[p]);
      for (guint kind = 0; kind < 2; kind++)
        {
          g_array_unref (p50[p][kind]);
          g_array_unref (p99[p][kind]);
        }
    }
}

/* ---- S4: waiter scaling ---- */

typedef struct
{
  guint done;
  guint granted;
  guint cancelled;
  guint failures;
} Drain;

static void
on_reader_granted (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Drain *drain = user_data;
  AioRwLockGuard *guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, NULL);

  if (guard == NULL)
    {
      drain->failures++;
    }
  else
    {
      drain->granted++;
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  drain->done++;
}

/* One async cycle, so that the lock's completion source for the default
 * context exists before anything is measured. */
static void
prime_lock (AioRwLock *lock)
{
  Drain drain = { 0, };

  aio_rw_lock_acquire_read_async (lock, NULL, on_reader_granted, &drain);
  iterate_until (&drain.done, 1, "priming a lock");
  bench_check (drain.granted == 1, "priming a lock failed");
}

typedef struct
{
  double enqueue_ns;   /* per waiter */
  double drain_ns;     /* per waiter: grant + callback + release, or completion */
  double bytes;        /* per pending waiter */
} S4Result;

static S4Result
s4_lock_once (guint w)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer;
  Drain drain = { 0, };
  double mem0, mem1;
  gint64 t0, t1, t2, t3;
  S4Result r;

  prime_lock (lock);
  bench_settle_context (NULL);
  writer = aio_rw_lock_try_acquire_write (lock);
  g_assert (writer != NULL);

  mem0 = bench_heap_in_use ();
  t0 = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    aio_rw_lock_acquire_read_async (lock, NULL, on_reader_granted, &drain);
  t1 = bench_now_ns ();
  mem1 = bench_heap_in_use ();

  bench_check (aio_rw_lock_get_pending_readers (lock) == w, "S4: %u pending readers, expected %u",
         aio_rw_lock_get_pending_readers (lock), w);

  t2 = bench_now_ns ();
  aio_rw_lock_guard_release (writer);
  iterate_until (&drain.done, w, "S4 grant");
  t3 = bench_now_ns ();

  aio_rw_lock_guard_unref (writer);
  bench_check (drain.granted == w && drain.failures == 0, "S4: %u of %u readers granted, %u failed",
         drain.granted, w, drain.failures);
  bench_check_lock_free (lock, "S4");

  r.enqueue_ns = (double) (t1 - t0) / w;
  r.drain_ns = (double) (t3 - t2) / w;
  r.bytes = (mem1 - mem0) / w;

  return r;
}

static void
on_bare_task_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Drain *drain = user_data;
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    drain->granted++;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    drain->cancelled++;
  else
    drain->failures++;
  drain->done++;
}

/* Baseline: W pending bare GTasks (created, kept, not returned); then all
 * returned and completed by the main loop. */
static S4Result
s4_gtask_once (guint w)
{
  g_autofree GTask **tasks = g_new0 (GTask *, w);
  Drain drain = { 0, };
  double mem0, mem1;
  gint64 t0, t1, t2, t3;
  S4Result r;

  bench_settle_context (NULL);

  mem0 = bench_heap_in_use ();
  t0 = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    tasks[i] = bench_task_new (NULL, on_bare_task_done, &drain);
  t1 = bench_now_ns ();
  mem1 = bench_heap_in_use ();

  t2 = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    {
      g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  iterate_until (&drain.done, w, "S4 baseline");
  t3 = bench_now_ns ();

  bench_check (drain.granted == w, "S4 baseline: %u of %u tasks completed", drain.granted, w);

  r.enqueue_ns = (double) (t1 - t0) / w;
  r.drain_ns = (double) (t3 - t2) / w;
  r.bytes = (mem1 - mem0) / w;

  return r;
}

static void
scenario_waiters (void)
{
  const guint n = s4_n_sizes;
  GArray *enq[G_N_ELEMENTS (s4_sizes)], *grant[G_N_ELEMENTS (s4_sizes)], *total[G_N_ELEMENTS (s4_sizes)];
  GArray *bytes[G_N_ELEMENTS (s4_sizes)];
  GArray *b_enq[G_N_ELEMENTS (s4_sizes)], *b_done[G_N_ELEMENTS (s4_sizes)], *b_total[G_N_ELEMENTS (s4_sizes)];
  GArray *b_bytes[G_N_ELEMENTS (s4_sizes)];
  gboolean bytes_valid = bench_gslice_bypassed ();
  double m_enq[G_N_ELEMENTS (s4_sizes)], m_grant[G_N_ELEMENTS (s4_sizes)];
  double m_benq[G_N_ELEMENTS (s4_sizes)], m_bdone[G_N_ELEMENTS (s4_sizes)];
  double m_bytes = NAN, m_bbytes = NAN;
  BenchJson j;

  if (!bytes_valid)
    g_printerr ("bench-rw-lock: S4: G_SLICE is not always-malloc: byte counts are not reported "
                "(run with G_SLICE=always-malloc, as meson test does)\n");

  for (guint s = 0; s < n; s++)
    {
      enq[s] = bench_samples_new ();
      grant[s] = bench_samples_new ();
      total[s] = bench_samples_new ();
      bytes[s] = bench_samples_new ();
      b_enq[s] = bench_samples_new ();
      b_done[s] = bench_samples_new ();
      b_total[s] = bench_samples_new ();
      b_bytes[s] = bench_samples_new ();
    }

  /* Warm-up at the largest size: grows malloc's heap once for all. */
  s4_lock_once (s4_sizes[n - 1]);
  s4_gtask_once (s4_sizes[n - 1]);

  for (int rep = 0; rep < options.reps; rep++)
    {
      for (guint s = 0; s < n; s++)
        {
          S4Result r = s4_lock_once (s4_sizes[s]);
          S4Result b = s4_gtask_once (s4_sizes[s]);

          bench_samples_add (enq[s], r.enqueue_ns);
          bench_samples_add (grant[s], r.drain_ns);
          bench_samples_add (total[s], r.enqueue_ns + r.drain_ns);
          bench_samples_add (bytes[s], r.bytes);
          bench_samples_add (b_enq[s], b.enqueue_ns);
          bench_samples_add (b_done[s], b.drain_ns);
          bench_samples_add (b_total[s], b.enqueue_ns + b.drain_ns);
          bench_samples_add (b_bytes[s], b.bytes);
        }
    }

  for (guint s = 0; s < n; s++)
    {
      BenchStats e = bench_stats_of (enq[s]);
      BenchStats g = bench_stats_of (grant[s]);
      BenchStats t = bench_stats_of (total[s]);
      BenchStats be = bench_stats_of (b_enq[s]);
      BenchStats bd = bench_stats_of (b_done[s]);
      BenchStats bt = bench_stats_of (b_total[s]);
      double by = bytes_valid ? bench_median_of (bytes[s]) : NAN;
      double bby = bytes_valid ? bench_median_of (b_bytes[s]) : NAN;

      m_enq[s] = e.median;
      m_grant[s] = g.median;
      m_benq[s] = be.median;
      m_bdone[s] = bd.median;
      m_bytes = by;
      m_bbytes = bby;

      bench_json_begin (&j, "S4", "W pending readers behind a writer: per waiter");
      bench_json_int (&j, "w", s4_sizes[s]);
      bench_json_int (&j, "reps", options.reps);
      bench_json_stats (&j, NULL, &t);
      bench_json_stats (&j, "enqueue_ns", &e);
      bench_json_stats (&j, "grant_release_ns", &g);
      bench_json_num (&j, "bytes_per_waiter", by);
      bench_json_num (&j, "baseline_gtask_ns", bt.median);
      bench_json_stats (&j, "baseline_enqueue_ns", &be);
      bench_json_stats (&j, "baseline_complete_ns", &bd);
      bench_json_num (&j, "baseline_bytes_per_task", bby);
      bench_json_num (&j, "extra_bytes_per_waiter", by - bby);
      bench_json_num (&j, "ratio_vs_gtask", bench_ratio (t.median, bt.median));
      bench_json_num (&j, "ratio_enqueue_vs_gtask", bench_ratio (e.median, be.median));
      bench_json_num (&j, "ratio_grant_vs_gtask", bench_ratio (g.median, bd.median));
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);
    }

  /* Growth from the smallest to the largest queue, against the bare
   * GTask's own growth (malloc and cache effects hit both). */
  {
    double enq_growth = bench_ratio (m_enq[n - 1], m_enq[0]);
    double grant_growth = bench_ratio (m_grant[n - 1], m_grant[0]);
    double benq_growth = bench_ratio (m_benq[n - 1], m_benq[0]);
    double bdone_growth = bench_ratio (m_bdone[n - 1], m_bdone[0]);
    g_autofree char *enq_row = g_strdup_printf ("enqueue/waiter growth W %u -> %u", s4_sizes[0], s4_sizes[n - 1]);
    g_autofree char *grant_row = g_strdup_printf ("grant+release/waiter growth W %u -> %u", s4_sizes[0], s4_sizes[n - 1]);
    g_autofree char *bytes_row = g_strdup_printf ("bytes per pending waiter, W %u", s4_sizes[n - 1]);

    bench_json_begin (&j, "S4", "growth of the per-waiter cost, smallest to largest W");
    bench_json_int (&j, "w_from", s4_sizes[0]);
    bench_json_int (&j, "w_to", s4_sizes[n - 1]);
    bench_json_num (&j, "enqueue_growth", enq_growth);
    bench_json_num (&j, "grant_release_growth", grant_growth);
    bench_json_num (&j, "baseline_enqueue_growth", benq_growth);
    bench_json_num (&j, "baseline_complete_growth", bdone_growth);
    bench_json_num (&j, "enqueue_growth_vs_baseline", bench_ratio (enq_growth, benq_growth));
    bench_json_num (&j, "grant_growth_vs_baseline", bench_ratio (grant_growth, bdone_growth));
    bench_json_num (&j, "bytes_per_waiter", m_bytes);
    bench_json_num (&j, "baseline_bytes_per_task", m_bbytes);
    bench_json_num (&j, "extra_bytes_per_waiter", m_bytes - m_bbytes);
    bench_json_bool (&j, "bytes_valid", bytes_valid);
    bench_json_bool (&j, "checks_ok", bench_checks_ok ());
    bench_json_end (&j);

    bench_summary_add ("S4", enq_row, enq_growth, "x", "bare g_task_new growth", benq_growth);
    bench_summary_add ("S4", grant_row, grant_growth, "x", "bare GTask completion growth", bdone_growth);
    bench_summary_add ("S4", bytes_row, m_bytes, "bytes", "bare pending GTask", m_bbytes);
  }

  for (guint s = 0; s < n; s++)
    {
      g_array_unref (enq[s]);
      g_array_unref (grant[s]);
      g_array_unref (total[s]);
      g_array_unref (bytes[s]);
      g_array_unref (b_enq[s]);
      g_array_unref (b_done[s]);
      g_array_unref (b_total[s]);
      g_array_unref (b_bytes[s]);
    }
}

/* ---- S5: cancel churn ---- */

static void
on_writer_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Drain *drain = user_data;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = aio_rw_lock_acquire_write_finish (AIO_RW_LOCK (source), result, &error);

  if (guard != NULL)
    {
      drain->granted++;
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      drain->cancelled++;
    }
  else
    {
      drain->failures++;
    }
  drain->done++;
}

typedef struct
{
  double enqueue_ns;   /* per waiter */
  double cancel_ns;    /* per cancel */
  double drain_ns;     /* per waiter */
} S5Result;

static GCancellable **
cancellables_new (guint n)
{
  GCancellable **c = g_new (GCancellable *, n);

  for (guint i = 0; i < n; i++)
    c[i] = g_cancellable_new ();
  return c;
}

static void
cancellables_free (GCancellable **c,
                   guint          n)
{
  for (guint i = 0; i < n; i++)
    g_object_unref (c[i]);
  g_free (c);
}

static S5Result
s5_lock_once (guint n)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  GCancellable **cancellables = cancellables_new (n);
  const guint n_cancel = (n + 1) / 2;
  AioRwLockGuard *writer;
  Drain drain = { 0, };
  gint64 t0, t1, t2, t3, t4, t5;
  S5Result r;

  prime_lock (lock);
  bench_settle_context (NULL);
  writer = aio_rw_lock_try_acquire_write (lock);
  g_assert (writer != NULL);

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    aio_rw_lock_acquire_write_async (lock, cancellables[i], on_writer_done, &drain);
  t1 = bench_now_ns ();

  bench_check (aio_rw_lock_get_pending_writers (lock) == n, "S5: %u pending writers, expected %u",
         aio_rw_lock_get_pending_writers (lock), n);

  t2 = bench_now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t3 = bench_now_ns ();

  bench_check (aio_rw_lock_get_pending_writers (lock) == n - n_cancel,
         "S5: %u pending writers after cancelling %u of %u",
         aio_rw_lock_get_pending_writers (lock), n_cancel, n);

  t4 = bench_now_ns ();
  aio_rw_lock_guard_release (writer);
  iterate_until (&drain.done, n, "S5 drain");
  t5 = bench_now_ns ();

  aio_rw_lock_guard_unref (writer);
  bench_check (drain.cancelled == n_cancel && drain.granted == n - n_cancel && drain.failures == 0,
         "S5: %u cancelled (expected %u), %u granted (expected %u), %u failed",
         drain.cancelled, n_cancel, drain.granted, n - n_cancel, drain.failures);
  bench_check_lock_free (lock, "S5");
  cancellables_free (cancellables, n);

  r.enqueue_ns = (double) (t1 - t0) / n;
  r.cancel_ns = (double) (t3 - t2) / n_cancel;
  r.drain_ns = (double) (t5 - t4) / n;

  return r;
}

static void
on_bare_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  guint *handler_calls = user_data;

  (*handler_calls)++;
}

/* Baseline: N pending bare GTasks, each with its own cancellable and a
 * "cancelled" handler connected, every other one cancelled; then all
 * returned (an error for the cancelled ones) and completed. */
static S5Result
s5_gtask_once (guint n)
{
  GCancellable **cancellables = cancellables_new (n);
  g_autofree GTask **tasks = g_new0 (GTask *, n);
  g_autofree gulong *ids = g_new0 (gulong, n);
  const guint n_cancel = (n + 1) / 2;
  guint handler_calls = 0;
  Drain drain = { 0, };
  gint64 t0, t1, t2, t3, t4, t5;
  S5Result r;

  bench_settle_context (NULL);

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      tasks[i] = bench_task_new (cancellables[i], on_bare_task_done, &drain);
      ids[i] = g_cancellable_connect (cancellables[i], G_CALLBACK (on_bare_cancelled),
                                      &handler_calls, NULL);
    }
  t1 = bench_now_ns ();

  t2 = bench_now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t3 = bench_now_ns ();

  t4 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      g_cancellable_disconnect (cancellables[i], ids[i]);
      if (!g_task_return_error_if_cancelled (tasks[i]))
        g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  iterate_until (&drain.done, n, "S5 baseline");
  t5 = bench_now_ns ();

  bench_check (handler_calls == n_cancel && drain.cancelled == n_cancel && drain.granted == n - n_cancel,
         "S5 baseline: %u handler calls, %u cancelled, %u completed (expected %u, %u, %u)",
         handler_calls, drain.cancelled, drain.granted, n_cancel, n_cancel, n - n_cancel);
  cancellables_free (cancellables, n);

  r.enqueue_ns = (double) (t1 - t0) / n;
  r.cancel_ns = (double) (t3 - t2) / n_cancel;
  r.drain_ns = (double) (t5 - t4) / n;

  return r;
}

static void
scenario_cancel (void)
{
  const guint n = s5_n_sizes;
  GArray *cancel[G_N_ELEMENTS (s5_sizes)], *enq[G_N_ELEMENTS (s5_sizes)], *drain[G_N_ELEMENTS (s5_sizes)];
  GArray *b_cancel[G_N_ELEMENTS (s5_sizes)], *b_enq[G_N_ELEMENTS (s5_sizes)], *b_drain[G_N_ELEMENTS (s5_sizes)];
  double m_cancel[G_N_ELEMENTS (s5_sizes)], m_bcancel[G_N_ELEMENTS (s5_sizes)];
  BenchJson j;

  for (guint s = 0; s < n; s++)
    {
      cancel[s] = bench_samples_new ();
      enq[s] = bench_samples_new ();
      drain[s] = bench_samples_new ();
      b_cancel[s] = bench_samples_new ();
      b_enq[s] = bench_samples_new ();
      b_drain[s] = bench_samples_new ();
    }

  s5_lock_once (s5_sizes[n - 1]);
  s5_gtask_once (s5_sizes[n - 1]);

  for (int rep = 0; rep < options.reps; rep++)
    {
      for (guint s = 0; s < n; s++)
        {
          S5Result r = s5_lock_once (s5_sizes[s]);
          S5Result b = s5_gtask_once (s5_sizes[s]);

          bench_samples_add (cancel[s], r.cancel_ns);
          bench_samples_add (enq[s], r.enqueue_ns);
          bench_samples_add (drain[s], r.drain_ns);
          bench_samples_add (b_cancel[s], b.cancel_ns);
          bench_samples_add (b_enq[s], b.enqueue_ns);
          bench_samples_add (b_drain[s], b.drain_ns);
        }
    }

  for (guint s = 0; s < n; s++)
    {
      BenchStats c = bench_stats_of (cancel[s]);
      BenchStats e = bench_stats_of (enq[s]);
      BenchStats d = bench_stats_of (drain[s]);
      BenchStats bc = bench_stats_of (b_cancel[s]);
      BenchStats be = bench_stats_of (b_enq[s]);
      BenchStats bd = bench_stats_of (b_drain[s]);

      m_cancel[s] = c.median;
      m_bcancel[s] = bc.median;

      bench_json_begin (&j, "S5", "N pending writers, every other one cancelled: per cancel");
      bench_json_int (&j, "n", s5_sizes[s]);
      bench_json_int (&j, "cancelled", (s5_sizes[s] + 1) / 2);
      bench_json_int (&j, "reps", options.reps);
      bench_json_stats (&j, NULL, &c);
      bench_json_stats (&j, "enqueue_ns", &e);
      bench_json_stats (&j, "drain_ns", &d);
      bench_json_baseline (&j, "baseline_gtask_ns", &bc);
      bench_json_num (&j, "baseline_enqueue_ns", be.median);
      bench_json_num (&j, "baseline_drain_ns", bd.median);
      bench_json_num (&j, "ratio_vs_gtask", bench_ratio (c.median, bc.median));
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);
    }

  {
    double growth = bench_ratio (m_cancel[n - 1], m_cancel[0]);
    double b_growth = bench_ratio (m_bcancel[n - 1], m_bcancel[0]);
    g_autofree char *growth_row = g_strdup_printf ("cancel growth N %u -> %u", s5_sizes[0], s5_sizes[n - 1]);
    g_autofree char *cost_row = g_strdup_printf ("cancel, N %u", s5_sizes[n - 1]);

    bench_json_begin (&j, "S5", "growth of the per-cancel cost, smallest to largest N");
    bench_json_int (&j, "n_from", s5_sizes[0]);
    bench_json_int (&j, "n_to", s5_sizes[n - 1]);
    bench_json_num (&j, "cancel_growth", growth);
    bench_json_num (&j, "baseline_cancel_growth", b_growth);
    bench_json_num (&j, "growth_vs_baseline", bench_ratio (growth, b_growth));
    bench_json_bool (&j, "checks_ok", bench_checks_ok ());
    bench_json_end (&j);

    bench_summary_add ("S5", cost_row, m_cancel[n - 1], "ns/cancel", "GTask + cancelled handler", m_bcancel[n - 1]);
    bench_summary_add ("S5", growth_row, growth, "x", "GTask + handler growth", b_growth);
  }

  for (guint s = 0; s < n; s++)
    {
      g_array_unref (cancel[s]);
      g_array_unref (enq[s]);
      g_array_unref (drain[s]);
      g_array_unref (b_cancel[s]);
      g_array_unref (b_enq[s]);
      g_array_unref (b_drain[s]);
    }
}

/* ---- S6: threads ---- */

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

  bench_watchdog_arm ("S6 threads");
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
  bench_watchdog_disarm ();

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

/* On B */
static gboolean
handoff_request_lock (gpointer data)
{
  Handoff *h = data;

  aio_rw_lock_acquire_write_async (h->lock, NULL, on_handoff_locked, h);

  g_mutex_lock (&h->mutex);
  h->queued = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);

  return G_SOURCE_REMOVE;
}

/* On B */
static gboolean
handoff_create_task (gpointer data)
{
  Handoff *h = data;
  GTask *task = bench_task_new (NULL, on_handoff_task_done, h);

  g_mutex_lock (&h->mutex);
  h->task = task;
  h->queued = TRUE;
  g_cond_broadcast (&h->cond);
  g_mutex_unlock (&h->mutex);

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
      bench_check (aio_rw_lock_get_pending_writers (h->lock) == 1, "S6 hand-off: B's request is not queued");
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

static void
scenario_threads (void)
{
  GArray *rates[4] = { bench_samples_new (), bench_samples_new (), bench_samples_new (), bench_samples_new () };
  const char *rate_names[4] = { "async_read_per_s", "async_write_per_s",
                                "blocking_read_per_s", "blocking_write_per_s" };
  g_autoptr(GArray) totals = bench_samples_new ();
  g_autoptr(GArray) lock_us = bench_samples_new ();
  g_autoptr(GArray) task_us = bench_samples_new ();
  g_autoptr(GArray) all_lock_us = bench_samples_new ();
  g_autoptr(GArray) all_task_us = bench_samples_new ();
  guint64 requests = 0, completions = 0, failures = 0;
  gboolean lock_free = TRUE;
  Handoff h;
  BenchStats total_s, lock_s, task_s;
  BenchJson j;

  /* Throughput and "none lost" */
  s6_run_once (MIN (options.duration / 4, 0.2));
  for (int rep = 0; rep < options.reps; rep++)
    {
      S6Result r = s6_run_once (options.duration);

      for (guint i = 0; i < 4; i++)
        bench_samples_add (rates[i], r.rate[i]);
      bench_samples_add (totals, r.total);
      requests += r.requests;
      completions += r.completions;
      failures += r.failures;
      lock_free = lock_free && r.lock_free;
    }

  total_s = bench_stats_of (totals);
  bench_json_begin (&j, "S6", "2 async contexts (4 chains each) + 2 blocking threads on one lock");
  bench_json_num (&j, "duration_s", options.duration);
  bench_json_int (&j, "reps", options.reps);
  bench_json_stats (&j, "total_per_s", &total_s);
  for (guint i = 0; i < 4; i++)
    {
      BenchStats s = bench_stats_of (rates[i]);

      bench_json_stats (&j, rate_names[i], &s);
    }
  bench_json_int (&j, "requests", (gint64) requests);
  bench_json_int (&j, "completions", (gint64) completions);
  bench_json_int (&j, "failures", (gint64) failures);
  bench_json_bool (&j, "none_lost", requests == completions + failures && failures == 0);
  bench_json_bool (&j, "lock_free", lock_free);
  bench_json_end (&j);

  bench_summary_add ("S6", "threads: all acquisitions", total_s.median, "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: async reads", bench_median_of (rates[0]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: async writes", bench_median_of (rates[1]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: blocking reads", bench_median_of (rates[2]), "acq/s", NULL, NAN);
  bench_summary_add ("S6", "threads: blocking writes", bench_median_of (rates[3]), "acq/s", NULL, NAN);

  /* Hand-off latency */
  memset (&h, 0, sizeof h);
  g_mutex_init (&h.mutex);
  g_cond_init (&h.cond);
  h.lock = aio_rw_lock_new ();
  h.context = g_main_context_new ();
  h.loop = g_main_loop_new (h.context, FALSE);
  h.thread = g_thread_new ("bench-handoff", handoff_thread_main, &h);

  bench_watchdog_arm ("S6 hand-off");
  for (int i = 0; i < MAX (options.rounds / 10, 5); i++)
    {
      handoff_round (&h, FALSE);
      handoff_round (&h, TRUE);
    }
  for (int rep = 0; rep < options.reps; rep++)
    {
      g_autoptr(GArray) rep_lock = bench_samples_new ();
      g_autoptr(GArray) rep_task = bench_samples_new ();

      for (int i = 0; i < options.rounds; i++)
        {
          double us = handoff_round (&h, FALSE);
          double bare_us = handoff_round (&h, TRUE);

          bench_samples_add (rep_lock, us);
          bench_samples_add (all_lock_us, us);
          bench_samples_add (rep_task, bare_us);
          bench_samples_add (all_task_us, bare_us);
        }
      bench_samples_add (lock_us, bench_median_of (rep_lock));
      bench_samples_add (task_us, bench_median_of (rep_task));
    }
  bench_watchdog_disarm ();

  g_main_context_invoke (h.context, handoff_quit, &h);
  g_thread_join (h.thread);

  bench_check (h.failures == 0, "S6 hand-off: %u rounds failed", h.failures);
  bench_check_lock_free (h.lock, "S6 hand-off");

  lock_s = bench_stats_of (lock_us);
  task_s = bench_stats_of (task_us);
  bench_sort_doubles (all_lock_us);
  bench_sort_doubles (all_task_us);

  bench_json_begin (&j, "S6", "cross-thread hand-off: release on A -> callback on B's context");
  bench_json_int (&j, "rounds", options.rounds);
  bench_json_int (&j, "reps", options.reps);
  bench_json_stats (&j, "handoff_us", &lock_s);
  bench_json_num (&j, "handoff_us_p99", bench_percentile_sorted (all_lock_us, 99));
  bench_json_baseline (&j, "baseline_gtask_us", &task_s);
  bench_json_num (&j, "baseline_gtask_us_p99", bench_percentile_sorted (all_task_us, 99));
  bench_json_num (&j, "ratio_vs_gtask", bench_ratio (lock_s.median, task_s.median));
  bench_json_bool (&j, "checks_ok", h.failures == 0 && bench_lock_is_free (h.lock));
  bench_json_end (&j);

  bench_summary_add ("S6", "cross-thread hand-off latency", lock_s.median, "us",
           "GTask returned from thread A", task_s.median);

  g_main_loop_unref (h.loop);
  g_main_context_unref (h.context);
  g_object_unref (h.lock);
  g_mutex_clear (&h.mutex);
  g_cond_clear (&h.cond);
  for (guint i = 0; i < 4; i++)
    g_array_unref (rates[i]);
}

/* ---- main ---- */

static gboolean
scenario_selected (const char *name)
{
  g_auto(GStrv) names = NULL;

  if (options.scenarios == NULL)
    return TRUE;

  names = g_strsplit (options.scenarios, ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    if (g_ascii_strcasecmp (g_strstrip (names[i]), name) == 0)
      return TRUE;

  return FALSE;
}

static gboolean
scenarios_are_known (void)
{
  g_auto(GStrv) names = NULL;

  if (options.scenarios == NULL)
    return TRUE;

  names = g_strsplit (options.scenarios, ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      gboolean known = FALSE;

      for (guint s = 0; s < G_N_ELEMENTS (all_scenarios); s++)
        known = known || g_ascii_strcasecmp (g_strstrip (names[i]), all_scenarios[s]) == 0;
      if (!known)
        {
          g_printerr ("bench-rw-lock: unknown scenario “%s” (known: S1,S2,TRY,S3,S4,S5,S6)\n", names[i]);
          return FALSE;
        }
    }

  return TRUE;
}

static void
set_sizes (void)
{
  if (options.quick)
    {
      n_cycles = 2000;
      n_try = 20000;
      s4_sizes[0] = 100;
      s4_sizes[1] = 1000;
      s4_n_sizes = 2;
      s5_sizes[0] = 200;
      s5_sizes[1] = 2000;
      s5_n_sizes = 2;
    }
  else
    {
      n_cycles = 100000;
      n_try = 1000000;
      s4_sizes[0] = 100;
      s4_sizes[1] = 1000;
      s4_sizes[2] = 10000;
      s4_sizes[3] = 100000;
      s4_n_sizes = 4;
      s5_sizes[0] = 2000;
      s5_sizes[1] = 20000;
      s5_sizes[2] = 200000;
      s5_n_sizes = 3;
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *env_reps;
  GOptionEntry entries[] = {
    { "scenario", 's', 0, G_OPTION_ARG_STRING, &options.scenarios,
      "Comma-separated scenarios to run (S1,S2,TRY,S3,S4,S5,S6; default: all)", "LIST" },
    { "reps", 'r', 0, G_OPTION_ARG_INT, &options.reps,
      "Repetitions per measurement (default 7, 3 with --quick; env BENCH_REPS)", "N" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &options.quick,
      "Small sizes: a smoke run that checks correctness and the output format", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &options.output,
      "Also write the JSON lines to FILE", "FILE" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &options.duration,
      "Seconds per repetition of the S6 thread run (default 2, 0.2 with --quick)", "SECS" },
    { "k", 'k', 0, G_OPTION_ARG_INT, &options.k,
      "S3: cycles per actor (default 200, 20 with --quick)", "K" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &options.rounds,
      "S6: hand-off rounds per repetition (default 500, 30 with --quick)", "N" },
    { NULL }
  };

  context = g_option_context_new ("- benchmark AioRwLock against GTask, GRWLock and GMutex");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-rw-lock: %s\n", error->message);
      return 2;
    }
  if (!scenarios_are_known ())
    return 2;

  env_reps = g_getenv ("BENCH_REPS");
  if (options.reps <= 0 && env_reps != NULL)
    options.reps = atoi (env_reps);
  if (options.reps <= 0)
    options.reps = options.quick ? 3 : 7;
  if (options.duration <= 0)
    options.duration = options.quick ? 0.2 : 2.0;
  if (options.k <= 0)
    options.k = options.quick ? 20 : 200;
  if (options.rounds <= 0)
    options.rounds = options.quick ? 30 : 500;
  set_sizes ();

  if (options.output != NULL && !bench_output_open (options.output))
    {
      g_printerr ("bench-rw-lock: cannot write %s\n", options.output);
      return 2;
    }

  bench_watchdog_start ();
  print_machine (bench_disable_heap_trimming ());

  if (scenario_selected ("S1"))
    scenario_cycle ("S1", FALSE);
  if (scenario_selected ("S2"))
    scenario_cycle ("S2", TRUE);
  if (scenario_selected ("TRY"))
    scenario_try ();
  /* The scaling scenarios run before the churn of S3 and S6: their small
   * sizes depend on the state of malloc's heap (after S3, S4's enqueue at
   * W = 100 measured twice as slow, at W >= 1000 the same). */
  if (scenario_selected ("S4"))
    scenario_waiters ();
  if (scenario_selected ("S5"))
    scenario_cancel ();
  if (scenario_selected ("S3"))
    scenario_contended ();
  if (scenario_selected ("S6"))
    scenario_threads ();

  bench_summary_print (options.reps);

  bench_watchdog_stop ();
  bench_summary_clear ();
  bench_tasks_cleanup ();
  bench_output_close ();
  g_free (options.scenarios);
  g_free (options.output);

  return bench_checks_ok () ? 0 : 1;
}
