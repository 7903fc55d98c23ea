/* bench-cycle.c: S1, S2, the uncontended async cycle
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * acquire_read_async (S1) or acquire_write_async (S2) -> callback ->
 * release, one after the other on the default context, against (a) a bare
 * GTask cycle, what any GIO async call pays, and (b) one idle-source
 * dispatch.
 */

#include "bench-scenario.h"

typedef struct _Cycle Cycle;
typedef void (*CycleStart) (Cycle *c);

struct _Cycle
{
  const char *name;
  gboolean    write;
  guint       n;
  int         reps;
  AioRwLock  *lock;
  GMainLoop  *loop;
  guint       remaining;
  guint       failures;
  GArray     *lock_ns;
  GArray     *task_ns;
  GArray     *idle_ns;
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

/* Baseline (a): a bare GTask round trip. */
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

/* ns per cycle. Under callgrind, the cycles are a phase of their own
 * named "S1 WHAT ops=N" (tests/bench/instructions.sh). */
static double
run_cycles (Cycle      *c,
            CycleStart  start,
            const char *what,
            guint       n)
{
  g_autofree char *phase = g_strdup_printf ("%s %s ops=%u", c->name, what, n);
  gint64 t0, t1;

  bench_settle_context (NULL);
  c->loop = g_main_loop_new (NULL, FALSE);
  c->remaining = n;

  bench_callgrind_begin ();
  t0 = bench_now_ns ();
  start (c);
  g_main_loop_run (c->loop);
  t1 = bench_now_ns ();
  bench_callgrind_end (phase);

  g_clear_pointer (&c->loop, g_main_loop_unref);

  return (double) (t1 - t0) / n;
}

static gpointer
cycle_setup (const BenchScenario *scenario,
             const BenchConfig   *config)
{
  Cycle *c = g_new0 (Cycle, 1);

  c->name = scenario->name;
  c->write = GPOINTER_TO_INT (scenario->extra_data);
  c->n = config->quick ? 2000 : 100000;
  c->reps = config->reps;
  c->lock = aio_rw_lock_new ();
  c->lock_ns = bench_samples_new ();
  c->task_ns = bench_samples_new ();
  c->idle_ns = bench_samples_new ();

  return c;
}

/* Caches, the lock's completion source, GTask's class. */
static void
cycle_warm_up (gpointer data)
{
  Cycle *c = data;
  guint n = MAX (c->n / 10, 100);

  run_cycles (c, cycle_lock_start, "warm-up lock", n);
  run_cycles (c, cycle_task_start, "warm-up gtask", n);
  run_cycles (c, cycle_idle_start, "warm-up idle", n);
}

static void
cycle_run (gpointer data)
{
  Cycle *c = data;

  bench_samples_add (c->lock_ns, run_cycles (c, cycle_lock_start, "lock", c->n));
  bench_samples_add (c->task_ns, run_cycles (c, cycle_task_start, "gtask", c->n));
  bench_samples_add (c->idle_ns, run_cycles (c, cycle_idle_start, "idle", c->n));
}

static void
cycle_print (gpointer data)
{
  Cycle *c = data;
  const char *what = c->write ? "write cycle: acquire_write_async -> callback -> release"
                              : "read cycle: acquire_read_async -> callback -> release";
  const char *row = c->write ? "async write cycle" : "async read cycle";
  BenchStats lock_s, task_s, idle_s;
  BenchJson j;

  bench_check (c->failures == 0, "%s: %u acquisitions failed", c->name, c->failures);
  bench_check_lock_free (c->lock, c->name);

  lock_s = bench_stats_of (c->lock_ns);
  task_s = bench_stats_of (c->task_ns);
  idle_s = bench_stats_of (c->idle_ns);

  bench_json_begin (&j, c->name, what);
  bench_json_int (&j, "n", c->n);
  bench_json_int (&j, "reps", c->reps);
  bench_json_stats (&j, NULL, &lock_s);
  bench_json_baseline (&j, "baseline_gtask_ns", &task_s);
  bench_json_baseline (&j, "baseline_idle_ns", &idle_s);
  bench_json_num (&j, "ratio_vs_gtask", bench_ratio (lock_s.median, task_s.median));
  bench_json_num (&j, "ratio_vs_idle", bench_ratio (lock_s.median, idle_s.median));
  bench_json_bool (&j, "checks_ok", c->failures == 0 && bench_lock_is_free (c->lock));
  bench_json_end (&j);

  bench_summary_add (c->name, row, lock_s.median, "ns/cycle", "bare GTask cycle", task_s.median);
  bench_summary_add (c->name, row, lock_s.median, "ns/cycle", "idle dispatch", idle_s.median);
}

static void
cycle_teardown (gpointer data)
{
  Cycle *c = data;

  g_object_unref (c->lock);
  g_array_unref (c->lock_ns);
  g_array_unref (c->task_ns);
  g_array_unref (c->idle_ns);
  g_free (c);
}

const BenchScenario bench_scenario_s1 = {
  "S1", "uncontended async read cycle vs a bare GTask and an idle dispatch",
  GINT_TO_POINTER (FALSE),
  cycle_setup, cycle_warm_up, cycle_run, cycle_print, cycle_teardown,
};

const BenchScenario bench_scenario_s2 = {
  "S2", "uncontended async write cycle vs a bare GTask and an idle dispatch",
  GINT_TO_POINTER (TRUE),
  cycle_setup, cycle_warm_up, cycle_run, cycle_print, cycle_teardown,
};
