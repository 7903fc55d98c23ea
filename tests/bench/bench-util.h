/* bench-util.h: what the scenarios of bench-rw-lock share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Time and statistics, the checks, the watchdog, the main-context helpers,
 * malloc's statistics, the JSON lines and the summary table. Nothing here
 * knows a scenario.
 */

#pragma once

#include <aiorwlock-glib/aiorwlock.h>

G_BEGIN_DECLS

/* ---- Time and statistics ---- */

gint64   bench_now_ns (void);

typedef struct
{
  double median;
  double min;
  double max;
} BenchStats;

/* Samples are a GArray of double: one value per repetition (or per
 * request, for latencies). */
GArray    *bench_samples_new       (void);
void       bench_samples_add       (GArray *samples,
                                    double  value);
BenchStats bench_stats_of          (GArray *samples);
double     bench_median_of         (GArray *samples);
void       bench_sort_doubles      (GArray *values);
double     bench_percentile_sorted (GArray *sorted,
                                    double  p);
double     bench_ratio             (double  a,
                                    double  b);

/* ---- Checks and the watchdog ---- */

gboolean bench_check           (gboolean    ok,
                                const char *format,
                                ...) G_GNUC_PRINTF (2, 3);
gboolean bench_checks_ok       (void);
gboolean bench_lock_is_free    (AioRwLock  *lock);
gboolean bench_check_lock_free (AioRwLock  *lock,
                                const char *where);

void bench_watchdog_start  (void);
void bench_watchdog_stop   (void);
void bench_watchdog_arm    (const char *phase);
void bench_watchdog_disarm (void);

/* ---- Main contexts and bare GTasks ---- */

void bench_iterate_until  (const guint  *counter,
                           guint         target);
void bench_settle_context (GMainContext *context);

/* Counts the completions of async requests. */
typedef struct
{
  guint done;
  guint granted;
  guint cancelled;
  guint failures;
} BenchCompletions;

void bench_on_read_acquired (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data);

GTask *bench_task_new        (GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data);
void   bench_task_round_trip (GAsyncReadyCallback  callback,
                              gpointer             user_data);
void   bench_tasks_cleanup   (void);

/* ---- Instruction counts (valgrind --tool=callgrind) ---- */

void bench_callgrind_begin (void);
void bench_callgrind_end   (const char *what);

/* ---- Memory ---- */

double   bench_heap_in_use           (void);
gboolean bench_disable_heap_trimming (void);
gboolean bench_gslice_bypassed       (void);

/* ---- JSON lines ---- */

typedef struct
{
  GString *s;
} BenchJson;

gboolean bench_output_open  (const char *path);
void     bench_output_close (void);

void bench_json_begin    (BenchJson        *j,
                          const char       *scenario,
                          const char       *what);
void bench_json_str      (BenchJson        *j,
                          const char       *key,
                          const char       *value);
void bench_json_int      (BenchJson        *j,
                          const char       *key,
                          gint64            value);
void bench_json_bool     (BenchJson        *j,
                          const char       *key,
                          gboolean          value);
void bench_json_num      (BenchJson        *j,
                          const char       *key,
                          double            value);
void bench_json_stats    (BenchJson        *j,
                          const char       *prefix,
                          const BenchStats *s);
void bench_json_baseline (BenchJson        *j,
                          const char       *key,
                          const BenchStats *s);
void bench_json_end      (BenchJson        *j);

/* ---- The summary table (stderr, at the end) ---- */

void bench_summary_add   (const char *scenario,
                          const char *what,
                          double      value,
                          const char *unit,
                          const char *baseline,
                          double      baseline_value);
void bench_summary_print (int         reps);
void bench_summary_clear (void);

G_END_DECLS
