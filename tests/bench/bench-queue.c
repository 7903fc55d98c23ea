/* bench-queue.c: S4, S5, long queues of waiters
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   S4  W readers queued behind a writer: enqueue, grant + callback +
 *       release, bytes, per waiter, against W pending bare GTasks
 *   S5  N writers queued, every other one cancelled: cost per cancel,
 *       against N bare GTasks with a "cancelled" handler each
 *
 * What matters is how the cost per waiter grows with the queue, against
 * the bare GTask's own growth (malloc and the caches hit both). Each
 * repetition runs every size, the lock before the baseline, and the
 * warm-up runs the largest size once, so that malloc's heap is grown once
 * for all (bench_disable_heap_trimming ()).
 */

#include <math.h>

#include "bench-scenario.h"

#define MAX_SIZES 4

/* One run of one size. */
typedef struct
{
  double enqueue_ns;   /* per waiter */
  double cancel_ns;    /* per cancel (S5) */
  double drain_ns;     /* per waiter: grant + callback + release, or completion */
  double bytes;        /* per pending waiter (S4) */
} QueueResult;

/* The repetitions of one size. */
typedef struct
{
  GArray *enqueue;
  GArray *cancel;
  GArray *drain;
  GArray *total;       /* enqueue + drain */
  GArray *bytes;
} QueueSamples;

/* When each phase of one run started and ended, and the heap in use
 * before and after the enqueue. */
typedef struct
{
  gint64 enqueue[2];
  gint64 cancel[2];
  gint64 drain[2];
  double heap[2];
} QueueTimes;

typedef QueueResult (*QueueOnce) (guint size);

typedef struct
{
  QueueOnce lock_once;
  QueueOnce bare_once;
  guint     sizes[MAX_SIZES];        /* 0-terminated if shorter */
  guint     quick_sizes[MAX_SIZES];
} QueueKind;

typedef struct
{
  const char      *name;
  const QueueKind *kind;
  int              reps;
  guint            sizes[MAX_SIZES];
  guint            n_sizes;
  QueueSamples     lock[MAX_SIZES];
  QueueSamples     bare[MAX_SIZES];
} Queue;

/* Costs per waiter (per cancel) from the phases of a run of N waiters,
 * N_CANCEL of them cancelled; a phase that did not run is NAN. */
static QueueResult
queue_result (const QueueTimes *t,
              guint             n,
              guint             n_cancel)
{
  QueueResult r;

  r.enqueue_ns = (double) (t->enqueue[1] - t->enqueue[0]) / n;
  r.cancel_ns = n_cancel > 0 ? (double) (t->cancel[1] - t->cancel[0]) / n_cancel : NAN;
  r.drain_ns = (double) (t->drain[1] - t->drain[0]) / n;
  r.bytes = (t->heap[1] - t->heap[0]) / n;

  return r;
}

/* ---- Completions ---- */

static void
on_writer_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  BenchCompletions *drain = user_data;
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

static void
on_bare_task_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  BenchCompletions *drain = user_data;
  g_autoptr(GError) error = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    drain->granted++;
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    drain->cancelled++;
  else
    drain->failures++;
  drain->done++;
}

/* One async cycle, so that whatever the lock sets up for the default
 * context on its first request exists before anything is measured; then
 * a writer holds the lock, so that what follows queues. */
static AioRwLockGuard *
prime_and_hold (AioRwLock *lock)
{
  BenchCompletions drain = { 0, };
  AioRwLockGuard *writer;

  aio_rw_lock_acquire_read_async (lock, NULL, bench_on_read_acquired, &drain);
  bench_iterate_until (&drain.done, 1);
  bench_check (drain.granted == 1, "priming a lock failed");

  bench_settle_context (NULL);
  writer = aio_rw_lock_try_acquire_write (lock);
  g_assert (writer != NULL);

  return writer;
}

/* ---- S4 ---- */

static QueueResult
s4_lock_once (guint w)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = prime_and_hold (lock);
  BenchCompletions drain = { 0, };
  QueueTimes t = { { 0, }, { 0, }, { 0, }, { NAN, NAN } };

  t.heap[0] = bench_heap_in_use ();
  t.enqueue[0] = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    aio_rw_lock_acquire_read_async (lock, NULL, bench_on_read_acquired, &drain);
  t.enqueue[1] = bench_now_ns ();
  t.heap[1] = bench_heap_in_use ();

  bench_check (aio_rw_lock_get_pending_readers (lock) == w, "S4: %u pending readers, expected %u",
               aio_rw_lock_get_pending_readers (lock), w);

  t.drain[0] = bench_now_ns ();
  aio_rw_lock_guard_release (writer);
  bench_iterate_until (&drain.done, w);
  t.drain[1] = bench_now_ns ();

  aio_rw_lock_guard_unref (writer);
  bench_check (drain.granted == w && drain.failures == 0, "S4: %u of %u readers granted, %u failed",
               drain.granted, w, drain.failures);
  bench_check_lock_free (lock, "S4");

  return queue_result (&t, w, 0);
}

/* Baseline: W pending bare GTasks (created, kept, not returned); then all
 * returned and completed by the main loop. */
static QueueResult
s4_gtask_once (guint w)
{
  g_autofree GTask **tasks = g_new0 (GTask *, w);
  BenchCompletions drain = { 0, };
  QueueTimes t = { { 0, }, { 0, }, { 0, }, { NAN, NAN } };

  bench_settle_context (NULL);

  t.heap[0] = bench_heap_in_use ();
  t.enqueue[0] = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    tasks[i] = bench_task_new (NULL, on_bare_task_done, &drain);
  t.enqueue[1] = bench_now_ns ();
  t.heap[1] = bench_heap_in_use ();

  t.drain[0] = bench_now_ns ();
  for (guint i = 0; i < w; i++)
    {
      g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  bench_iterate_until (&drain.done, w);
  t.drain[1] = bench_now_ns ();

  bench_check (drain.granted == w, "S4 baseline: %u of %u tasks completed", drain.granted, w);

  return queue_result (&t, w, 0);
}

/* ---- S5 ---- */

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

static QueueResult
s5_lock_once (guint n)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = prime_and_hold (lock);
  GCancellable **cancellables = cancellables_new (n);
  const guint n_cancel = (n + 1) / 2;
  BenchCompletions drain = { 0, };
  QueueTimes t = { { 0, }, { 0, }, { 0, }, { NAN, NAN } };

  t.enqueue[0] = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    aio_rw_lock_acquire_write_async (lock, cancellables[i], on_writer_done, &drain);
  t.enqueue[1] = bench_now_ns ();

  bench_check (aio_rw_lock_get_pending_writers (lock) == n, "S5: %u pending writers, expected %u",
               aio_rw_lock_get_pending_writers (lock), n);

  t.cancel[0] = bench_now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t.cancel[1] = bench_now_ns ();

  bench_check (aio_rw_lock_get_pending_writers (lock) == n - n_cancel,
               "S5: %u pending writers after cancelling %u of %u",
               aio_rw_lock_get_pending_writers (lock), n_cancel, n);

  t.drain[0] = bench_now_ns ();
  aio_rw_lock_guard_release (writer);
  bench_iterate_until (&drain.done, n);
  t.drain[1] = bench_now_ns ();

  aio_rw_lock_guard_unref (writer);
  bench_check (drain.cancelled == n_cancel && drain.granted == n - n_cancel && drain.failures == 0,
               "S5: %u cancelled (expected %u), %u granted (expected %u), %u failed",
               drain.cancelled, n_cancel, drain.granted, n - n_cancel, drain.failures);
  bench_check_lock_free (lock, "S5");
  cancellables_free (cancellables, n);

  return queue_result (&t, n, n_cancel);
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
static QueueResult
s5_gtask_once (guint n)
{
  GCancellable **cancellables = cancellables_new (n);
  g_autofree GTask **tasks = g_new0 (GTask *, n);
  g_autofree gulong *ids = g_new0 (gulong, n);
  const guint n_cancel = (n + 1) / 2;
  guint handler_calls = 0;
  BenchCompletions drain = { 0, };
  QueueTimes t = { { 0, }, { 0, }, { 0, }, { NAN, NAN } };

  bench_settle_context (NULL);

  t.enqueue[0] = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      tasks[i] = bench_task_new (cancellables[i], on_bare_task_done, &drain);
      ids[i] = g_cancellable_connect (cancellables[i], G_CALLBACK (on_bare_cancelled),
                                      &handler_calls, NULL);
    }
  t.enqueue[1] = bench_now_ns ();

  t.cancel[0] = bench_now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t.cancel[1] = bench_now_ns ();

  t.drain[0] = bench_now_ns ();
  for (guint i = 0; i < n; i++)
    {
      g_cancellable_disconnect (cancellables[i], ids[i]);
      if (!g_task_return_error_if_cancelled (tasks[i]))
        g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  bench_iterate_until (&drain.done, n);
  t.drain[1] = bench_now_ns ();

  bench_check (handler_calls == n_cancel && drain.cancelled == n_cancel && drain.granted == n - n_cancel,
               "S5 baseline: %u handler calls, %u cancelled, %u completed (expected %u, %u, %u)",
               handler_calls, drain.cancelled, drain.granted, n_cancel, n_cancel, n - n_cancel);
  cancellables_free (cancellables, n);

  return queue_result (&t, n, n_cancel);
}

/* ---- The runs, shared by S4 and S5 ---- */

static void
queue_samples_init (QueueSamples *s)
{
  s->enqueue = bench_samples_new ();
  s->cancel = bench_samples_new ();
  s->drain = bench_samples_new ();
  s->total = bench_samples_new ();
  s->bytes = bench_samples_new ();
}

static void
queue_samples_add (QueueSamples      *s,
                   const QueueResult *r)
{
  bench_samples_add (s->enqueue, r->enqueue_ns);
  bench_samples_add (s->cancel, r->cancel_ns);
  bench_samples_add (s->drain, r->drain_ns);
  bench_samples_add (s->total, r->enqueue_ns + r->drain_ns);
  bench_samples_add (s->bytes, r->bytes);
}

static void
queue_samples_clear (QueueSamples *s)
{
  g_array_unref (s->enqueue);
  g_array_unref (s->cancel);
  g_array_unref (s->drain);
  g_array_unref (s->total);
  g_array_unref (s->bytes);
}

static gpointer
queue_setup (const BenchScenario *scenario,
             const BenchConfig   *config)
{
  Queue *q = g_new0 (Queue, 1);
  const guint *sizes;

  q->name = scenario->name;
  q->kind = scenario->extra_data;
  q->reps = config->reps;
  sizes = config->quick ? q->kind->quick_sizes : q->kind->sizes;
  for (guint s = 0; s < MAX_SIZES && sizes[s] != 0; s++)
    {
      q->sizes[s] = sizes[s];
      queue_samples_init (&q->lock[s]);
      queue_samples_init (&q->bare[s]);
      q->n_sizes++;
    }

  return q;
}

/* At the largest size: grows malloc's heap once for all. */
static void
queue_warm_up (gpointer data)
{
  Queue *q = data;

  q->kind->lock_once (q->sizes[q->n_sizes - 1]);
  q->kind->bare_once (q->sizes[q->n_sizes - 1]);
}

static void
queue_run (gpointer data)
{
  Queue *q = data;

  for (guint s = 0; s < q->n_sizes; s++)
    {
      QueueResult r = q->kind->lock_once (q->sizes[s]);
      QueueResult b = q->kind->bare_once (q->sizes[s]);

      queue_samples_add (&q->lock[s], &r);
      queue_samples_add (&q->bare[s], &b);
    }
}

static void
queue_teardown (gpointer data)
{
  Queue *q = data;

  for (guint s = 0; s < q->n_sizes; s++)
    {
      queue_samples_clear (&q->lock[s]);
      queue_samples_clear (&q->bare[s]);
    }
  g_free (q);
}

/* ---- What S4 and S5 print ---- */

static void
s4_print (gpointer data)
{
  Queue *q = data;
  const guint last = q->n_sizes - 1;
  const gboolean bytes_valid = bench_gslice_bypassed ();
  double m_enq[MAX_SIZES], m_grant[MAX_SIZES], m_benq[MAX_SIZES], m_bdone[MAX_SIZES];
  double m_bytes = NAN, m_bbytes = NAN;
  BenchJson j;

  if (!bytes_valid)
    g_printerr ("bench-rw-lock: S4: G_SLICE is not always-malloc: byte counts are not reported "
                "(run with G_SLICE=always-malloc, as meson test does)\n");

  for (guint s = 0; s < q->n_sizes; s++)
    {
      BenchStats e = bench_stats_of (q->lock[s].enqueue);
      BenchStats g = bench_stats_of (q->lock[s].drain);
      BenchStats t = bench_stats_of (q->lock[s].total);
      BenchStats be = bench_stats_of (q->bare[s].enqueue);
      BenchStats bd = bench_stats_of (q->bare[s].drain);
      BenchStats bt = bench_stats_of (q->bare[s].total);

      m_enq[s] = e.median;
      m_grant[s] = g.median;
      m_benq[s] = be.median;
      m_bdone[s] = bd.median;
      m_bytes = bytes_valid ? bench_median_of (q->lock[s].bytes) : NAN;
      m_bbytes = bytes_valid ? bench_median_of (q->bare[s].bytes) : NAN;

      bench_json_begin (&j, "S4", "W pending readers behind a writer: per waiter");
      bench_json_int (&j, "w", q->sizes[s]);
      bench_json_int (&j, "reps", q->reps);
      bench_json_stats (&j, NULL, &t);
      bench_json_stats (&j, "enqueue_ns", &e);
      bench_json_stats (&j, "grant_release_ns", &g);
      bench_json_num (&j, "bytes_per_waiter", m_bytes);
      bench_json_num (&j, "baseline_gtask_ns", bt.median);
      bench_json_stats (&j, "baseline_enqueue_ns", &be);
      bench_json_stats (&j, "baseline_complete_ns", &bd);
      bench_json_num (&j, "baseline_bytes_per_task", m_bbytes);
      bench_json_num (&j, "extra_bytes_per_waiter", m_bytes - m_bbytes);
      bench_json_num (&j, "ratio_vs_gtask", bench_ratio (t.median, bt.median));
      bench_json_num (&j, "ratio_enqueue_vs_gtask", bench_ratio (e.median, be.median));
      bench_json_num (&j, "ratio_grant_vs_gtask", bench_ratio (g.median, bd.median));
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);
    }

  /* Growth from the smallest to the largest queue, against the bare
   * GTask's own growth. */
  {
    double enq_growth = bench_ratio (m_enq[last], m_enq[0]);
    double grant_growth = bench_ratio (m_grant[last], m_grant[0]);
    double benq_growth = bench_ratio (m_benq[last], m_benq[0]);
    double bdone_growth = bench_ratio (m_bdone[last], m_bdone[0]);
    g_autofree char *enq_row = g_strdup_printf ("enqueue/waiter growth W %u -> %u",
                                                q->sizes[0], q->sizes[last]);
    g_autofree char *grant_row = g_strdup_printf ("grant+release/waiter growth W %u -> %u",
                                                  q->sizes[0], q->sizes[last]);
    g_autofree char *bytes_row = g_strdup_printf ("bytes per pending waiter, W %u", q->sizes[last]);

    bench_json_begin (&j, "S4", "growth of the per-waiter cost, smallest to largest W");
    bench_json_int (&j, "w_from", q->sizes[0]);
    bench_json_int (&j, "w_to", q->sizes[last]);
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
}

static void
s5_print (gpointer data)
{
  Queue *q = data;
  const guint last = q->n_sizes - 1;
  double m_cancel[MAX_SIZES], m_bcancel[MAX_SIZES];
  BenchJson j;

  for (guint s = 0; s < q->n_sizes; s++)
    {
      BenchStats c = bench_stats_of (q->lock[s].cancel);
      BenchStats e = bench_stats_of (q->lock[s].enqueue);
      BenchStats d = bench_stats_of (q->lock[s].drain);
      BenchStats bc = bench_stats_of (q->bare[s].cancel);

      m_cancel[s] = c.median;
      m_bcancel[s] = bc.median;

      bench_json_begin (&j, "S5", "N pending writers, every other one cancelled: per cancel");
      bench_json_int (&j, "n", q->sizes[s]);
      bench_json_int (&j, "cancelled", (q->sizes[s] + 1) / 2);
      bench_json_int (&j, "reps", q->reps);
      bench_json_stats (&j, NULL, &c);
      bench_json_stats (&j, "enqueue_ns", &e);
      bench_json_stats (&j, "drain_ns", &d);
      bench_json_baseline (&j, "baseline_gtask_ns", &bc);
      bench_json_num (&j, "baseline_enqueue_ns", bench_median_of (q->bare[s].enqueue));
      bench_json_num (&j, "baseline_drain_ns", bench_median_of (q->bare[s].drain));
      bench_json_num (&j, "ratio_vs_gtask", bench_ratio (c.median, bc.median));
      bench_json_bool (&j, "checks_ok", bench_checks_ok ());
      bench_json_end (&j);
    }

  {
    double growth = bench_ratio (m_cancel[last], m_cancel[0]);
    double b_growth = bench_ratio (m_bcancel[last], m_bcancel[0]);
    g_autofree char *growth_row = g_strdup_printf ("cancel growth N %u -> %u",
                                                   q->sizes[0], q->sizes[last]);
    g_autofree char *cost_row = g_strdup_printf ("cancel, N %u", q->sizes[last]);

    bench_json_begin (&j, "S5", "growth of the per-cancel cost, smallest to largest N");
    bench_json_int (&j, "n_from", q->sizes[0]);
    bench_json_int (&j, "n_to", q->sizes[last]);
    bench_json_num (&j, "cancel_growth", growth);
    bench_json_num (&j, "baseline_cancel_growth", b_growth);
    bench_json_num (&j, "growth_vs_baseline", bench_ratio (growth, b_growth));
    bench_json_bool (&j, "checks_ok", bench_checks_ok ());
    bench_json_end (&j);

    bench_summary_add ("S5", cost_row, m_cancel[last], "ns/cancel", "GTask + cancelled handler",
                       m_bcancel[last]);
    bench_summary_add ("S5", growth_row, growth, "x", "GTask + handler growth", b_growth);
  }
}

static const QueueKind s4_kind = {
  s4_lock_once, s4_gtask_once,
  { 100, 1000, 10000, 100000 },
  { 100, 1000, 0, 0 },
};

static const QueueKind s5_kind = {
  s5_lock_once, s5_gtask_once,
  { 2000, 20000, 200000, 0 },
  { 200, 2000, 0, 0 },
};

const BenchScenario bench_scenario_s4 = {
  "S4", "W pending readers behind a writer: enqueue, grant, bytes, vs pending GTasks",
  &s4_kind,
  queue_setup, queue_warm_up, queue_run, s4_print, queue_teardown,
};

const BenchScenario bench_scenario_s5 = {
  "S5", "N pending writers, every other one cancelled: cost per cancel, vs GTasks",
  &s5_kind,
  queue_setup, queue_warm_up, queue_run, s5_print, queue_teardown,
};
