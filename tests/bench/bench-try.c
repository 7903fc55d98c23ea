/* bench-try.c: TRY, the non-blocking path
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * try_acquire_read / try_acquire_write + release + unref of a free lock,
 * against an uncontended GRWLock and GMutex lock + unlock.
 */

#include "bench-scenario.h"

typedef struct
{
  guint      n;
  int        reps;
  AioRwLock *lock;
  GRWLock    grw;
  GMutex     mutex;
  guint      failures;
  GArray    *try_read;
  GArray    *try_write;
  GArray    *rw_read;
  GArray    *rw_write;
  GArray    *mutex_ns;
} Try;

static double
try_lock_loop (Try      *t,
               gboolean  write,
               guint     n)
{
  gint64 t0, t1;

  t0 = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      AioRwLockGuard *guard = write ? aio_rw_lock_try_acquire_write (t->lock)
                                    : aio_rw_lock_try_acquire_read (t->lock);

      if (G_UNLIKELY (guard == NULL))
        {
          t->failures++;
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

static gpointer
try_setup (const BenchScenario *scenario,
           const BenchConfig   *config)
{
  Try *t = g_new0 (Try, 1);

  t->n = config->quick ? 20000 : 1000000;
  t->reps = config->reps;
  t->lock = aio_rw_lock_new ();
  g_rw_lock_init (&t->grw);
  g_mutex_init (&t->mutex);
  t->try_read = bench_samples_new ();
  t->try_write = bench_samples_new ();
  t->rw_read = bench_samples_new ();
  t->rw_write = bench_samples_new ();
  t->mutex_ns = bench_samples_new ();

  return t;
}

static void
try_warm_up (gpointer data)
{
  Try *t = data;

  try_lock_loop (t, FALSE, t->n / 10);
  try_lock_loop (t, TRUE, t->n / 10);
  grwlock_loop (&t->grw, FALSE, t->n / 10);
  grwlock_loop (&t->grw, TRUE, t->n / 10);
  gmutex_loop (&t->mutex, t->n / 10);
}

/* Under callgrind, each loop is a phase of its own named "TRY WHAT ops=N"
 * (tests/bench/instructions.sh). */
#define PHASE(samples, what, call) G_STMT_START {                       \
  g_autofree char *phase = g_strdup_printf ("TRY %s ops=%u", what, t->n); \
  double ns;                                                            \
  bench_callgrind_begin ();                                             \
  ns = (call);                                                          \
  bench_callgrind_end (phase);                                          \
  bench_samples_add (samples, ns);                                      \
} G_STMT_END

static void
try_run (gpointer data)
{
  Try *t = data;

  PHASE (t->try_read, "lock-read", try_lock_loop (t, FALSE, t->n));
  PHASE (t->try_write, "lock-write", try_lock_loop (t, TRUE, t->n));
  PHASE (t->rw_read, "grwlock-read", grwlock_loop (&t->grw, FALSE, t->n));
  PHASE (t->rw_write, "grwlock-write", grwlock_loop (&t->grw, TRUE, t->n));
  PHASE (t->mutex_ns, "gmutex", gmutex_loop (&t->mutex, t->n));
}

#undef PHASE

/* One line per mode: the lock's figure, its GRWLock counterpart (ROLE:
 * reader or writer), GMutex. */
static void
try_print_line (Try              *t,
                const char       *mode,
                const char       *role,
                const BenchStats *lock_s,
                const BenchStats *grw_s,
                const BenchStats *mutex_s)
{
  g_autofree char *what = g_strdup_printf ("try_acquire_%s + release + unref", mode);
  g_autofree char *grw_key = g_strdup_printf ("baseline_grwlock_%s_ns", role);
  g_autofree char *grw_ratio = g_strdup_printf ("ratio_vs_grwlock_%s", role);
  BenchJson j;

  bench_json_begin (&j, "TRY", what);
  bench_json_int (&j, "n", t->n);
  bench_json_int (&j, "reps", t->reps);
  bench_json_stats (&j, NULL, lock_s);
  bench_json_baseline (&j, grw_key, grw_s);
  bench_json_num (&j, "baseline_gmutex_ns", mutex_s->median);
  bench_json_num (&j, grw_ratio, bench_ratio (lock_s->median, grw_s->median));
  bench_json_num (&j, "ratio_vs_gmutex", bench_ratio (lock_s->median, mutex_s->median));
  bench_json_bool (&j, "checks_ok", t->failures == 0 && bench_lock_is_free (t->lock));
  bench_json_end (&j);
}

static void
try_print (gpointer data)
{
  Try *t = data;
  BenchStats tr = bench_stats_of (t->try_read);
  BenchStats tw = bench_stats_of (t->try_write);
  BenchStats rr = bench_stats_of (t->rw_read);
  BenchStats rw = bench_stats_of (t->rw_write);
  BenchStats mx = bench_stats_of (t->mutex_ns);

  bench_check (t->failures == 0, "TRY: %u try-acquisitions of a free lock failed", t->failures);
  bench_check_lock_free (t->lock, "TRY");

  try_print_line (t, "read", "reader", &tr, &rr, &mx);
  try_print_line (t, "write", "writer", &tw, &rw, &mx);

  bench_summary_add ("TRY", "try read + release + unref", tr.median, "ns/op",
                     "GRWLock reader lock+unlock", rr.median);
  bench_summary_add ("TRY", "try write + release + unref", tw.median, "ns/op",
                     "GRWLock writer lock+unlock", rw.median);
  bench_summary_add ("TRY", "try read + release + unref", tr.median, "ns/op",
                     "GMutex lock+unlock", mx.median);
}

static void
try_teardown (gpointer data)
{
  Try *t = data;

  g_object_unref (t->lock);
  g_rw_lock_clear (&t->grw);
  g_mutex_clear (&t->mutex);
  g_array_unref (t->try_read);
  g_array_unref (t->try_write);
  g_array_unref (t->rw_read);
  g_array_unref (t->rw_write);
  g_array_unref (t->mutex_ns);
  g_free (t);
}

const BenchScenario bench_scenario_try = {
  "TRY", "try_acquire + release + unref vs GRWLock and GMutex",
  NULL,
  try_setup, try_warm_up, try_run, try_print, try_teardown,
};
