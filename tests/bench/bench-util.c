/* bench-util.c: what the scenarios of bench-rw-lock share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined (HAVE_MALLINFO2) || defined (HAVE_MALLOPT)
# include <malloc.h>
#endif
#ifdef HAVE_VALGRIND_CALLGRIND_H
# include <valgrind/callgrind.h>
#endif

#include "bench-util.h"

/* How long one phase may take before the run is declared stuck (a lost
 * completion would otherwise hang until meson's timeout). */
#define WATCHDOG_SECONDS 300

/* ---- Time and statistics ---- */

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

void
bench_sort_doubles (GArray *values)
{
  qsort (values->data, values->len, sizeof (double), compare_doubles);
}

/* Nearest-rank percentile of sorted values. */
double
bench_percentile_sorted (GArray *sorted,
                         double  p)
{
  double exact;
  gsize rank;

  if (sorted->len == 0)
    return NAN;

  exact = p / 100.0 * sorted->len;
  rank = (gsize) exact;
  if ((double) rank < exact)
    rank++;
  rank = CLAMP (rank, 1, sorted->len);

  return g_array_index (sorted, double, rank - 1);
}

BenchStats
bench_stats_of (GArray *samples)
{
  g_autoptr(GArray) v = g_array_sized_new (FALSE, FALSE, sizeof (double), samples->len);
  BenchStats s = { NAN, NAN, NAN };
  guint n = samples->len;

  if (n == 0)
    return s;

  g_array_append_vals (v, samples->data, n);
  bench_sort_doubles (v);
  s.min = g_array_index (v, double, 0);
  s.max = g_array_index (v, double, n - 1);
  if (n % 2 == 1)
    s.median = g_array_index (v, double, n / 2);
  else
    s.median = (g_array_index (v, double, n / 2 - 1) + g_array_index (v, double, n / 2)) / 2;

  return s;
}

GArray *
bench_samples_new (void)
{
  return g_array_new (FALSE, FALSE, sizeof (double));
}

void
bench_samples_add (GArray *samples,
                   double  value)
{
  g_array_append_val (samples, value);
}

double
bench_median_of (GArray *samples)
{
  return bench_stats_of (samples).median;
}

/* a / b, or NAN (printed as null) when it means nothing. */
double
bench_ratio (double a,
             double b)
{
  if (!isfinite (a) || !isfinite (b) || b == 0)
    return NAN;
  return a / b;
}

/* ---- Checks ---- */

static gboolean checks_failed;

gboolean
bench_check (gboolean    ok,
             const char *format,
             ...)
{
  va_list args;
  g_autofree char *message = NULL;

  if (ok)
    return TRUE;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("bench-rw-lock: CHECK FAILED: %s\n", message);
  checks_failed = TRUE;
  return FALSE;
}

gboolean
bench_checks_ok (void)
{
  return !checks_failed;
}

gboolean
bench_lock_is_free (AioRwLock *lock)
{
  return aio_rw_lock_get_readers (lock) == 0 &&
         !aio_rw_lock_is_write_locked (lock) &&
         aio_rw_lock_get_pending_readers (lock) == 0 &&
         aio_rw_lock_get_pending_writers (lock) == 0;
}

gboolean
bench_check_lock_free (AioRwLock  *lock,
                       const char *where)
{
  return bench_check (bench_lock_is_free (lock),
                      "%s: the lock is not free at the end (readers %u, write-locked %d, "
                      "pending readers %u, pending writers %u)",
                      where,
                      aio_rw_lock_get_readers (lock),
                      aio_rw_lock_is_write_locked (lock),
                      aio_rw_lock_get_pending_readers (lock),
                      aio_rw_lock_get_pending_writers (lock));
}

/* ---- The watchdog ---- */

/* A thread that ends the run if one phase takes far too long: a lost
 * completion shows as a message, not as a hang. It sleeps on a condition
 * variable, so it does not disturb the measurements. */
static struct
{
  GMutex    mutex;
  GCond     cond;
  GThread  *thread;
  char     *phase;     /* NULL: disarmed */
  gint64    deadline;  /* monotonic, µs */
  gboolean  quit;
} watchdog;

static gpointer
watchdog_main (gpointer data)
{
  g_mutex_lock (&watchdog.mutex);
  while (!watchdog.quit)
    {
      if (watchdog.phase == NULL)
        {
          g_cond_wait (&watchdog.cond, &watchdog.mutex);
        }
      else if (!g_cond_wait_until (&watchdog.cond, &watchdog.mutex, watchdog.deadline) &&
               watchdog.phase != NULL && g_get_monotonic_time () >= watchdog.deadline)
        {
          fprintf (stderr, "bench-rw-lock: CHECK FAILED: %s did not finish within %d s "
                   "(a completion was lost?)\n", watchdog.phase, WATCHDOG_SECONDS);
          fflush (stderr);
          _exit (1);
        }
    }
  g_mutex_unlock (&watchdog.mutex);

  return NULL;
}

void
bench_watchdog_start (void)
{
  g_mutex_init (&watchdog.mutex);
  g_cond_init (&watchdog.cond);
  watchdog.thread = g_thread_new ("bench-watchdog", watchdog_main, NULL);
}

void
bench_watchdog_stop (void)
{
  g_mutex_lock (&watchdog.mutex);
  watchdog.quit = TRUE;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
  g_thread_join (watchdog.thread);
  g_mutex_clear (&watchdog.mutex);
  g_cond_clear (&watchdog.cond);
  g_clear_pointer (&watchdog.phase, g_free);
}

void
bench_watchdog_arm (const char *phase)
{
  g_mutex_lock (&watchdog.mutex);
  g_free (watchdog.phase);
  watchdog.phase = g_strdup (phase);
  watchdog.deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
}

void
bench_watchdog_disarm (void)
{
  g_mutex_lock (&watchdog.mutex);
  g_clear_pointer (&watchdog.phase, g_free);
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
}

/* ---- Main contexts and bare GTasks ---- */

/* Runs the default context until *counter reaches target. */
void
bench_iterate_until (const guint *counter,
                     guint        target)
{
  while (*counter < target)
    g_main_context_iteration (NULL, TRUE);
}

/* glibc keeps small freed chunks in "fast bins" and merges them all in one
 * pass (malloc_consolidate) at the next large request or large free: after
 * a phase that freed 10^5 waiters, that O(n) pass lands in whatever phase
 * comes next (seen: 0.65 ms in the single main-loop iteration of a
 * 100-task phase). A large request triggers it now, outside the timed part,
 * without giving memory back to the system. */
static void
consolidate_malloc (void)
{
  g_free (g_malloc (16 * 1024));
}

/* Dispatches whatever is already due on CONTEXT (NULL: the default one),
 * so that one phase starts clean. */
void
bench_settle_context (GMainContext *context)
{
  while (g_main_context_iteration (context, FALSE))
    ;
  consolidate_malloc ();
}

/* The callback of aio_rw_lock_acquire_read_async () with a
 * BenchCompletions: counts the grant and releases it at once. */
void
bench_on_read_acquired (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  BenchCompletions *completions = user_data;
  AioRwLockGuard *guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, NULL);

  if (guard == NULL)
    {
      completions->failures++;
    }
  else
    {
      completions->granted++;
      aio_rw_lock_guard_release (guard);
      aio_rw_lock_guard_unref (guard);
    }
  completions->done++;
}

/* The source object of the bare GTasks the baselines use. */
static GObject *task_source_object;

static GObject *
task_source (void)
{
  if (g_once_init_enter (&task_source_object))
    g_once_init_leave (&task_source_object, g_object_new (G_TYPE_OBJECT, NULL));

  return task_source_object;
}

/* A bare GTask, as any GIO async call makes one. */
GTask *
bench_task_new (GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  return g_task_new (task_source (), cancellable, callback, user_data);
}

/* What any GIO async call pays: a GTask returned inside its _async call
 * and completed by the main loop (CALLBACK runs in a later iteration of
 * the thread-default context). */
void
bench_task_round_trip (GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  GTask *task = bench_task_new (NULL, callback, user_data);

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
bench_tasks_cleanup (void)
{
  g_clear_object (&task_source_object);
}

/* ---- Instruction counts ---- */

/* Under valgrind --tool=callgrind, what runs between bench_callgrind_begin
 * () and bench_callgrind_end (WHAT) is dumped on its own, as a profile
 * whose description ends with WHAT (callgrind.out.PID.N: its 'totals' line
 * is the instructions of that phase). Natively, and without valgrind's
 * headers, these do nothing (a few instructions). */
void
bench_callgrind_begin (void)
{
#ifdef HAVE_VALGRIND_CALLGRIND_H
  CALLGRIND_ZERO_STATS;
#endif
}

void
bench_callgrind_end (const char *what)
{
#ifdef HAVE_VALGRIND_CALLGRIND_H
  CALLGRIND_DUMP_STATS_AT (what);
#endif
}

/* ---- Memory ---- */

/* Bytes malloc has handed out and not got back (main arena + mmapped). */
double
bench_heap_in_use (void)
{
#ifdef HAVE_MALLINFO2
  struct mallinfo2 mi = mallinfo2 ();

  return (double) (mi.uordblks + mi.hblkhd);
#else
  return NAN;
#endif
}

/* The heap never shrinks during the run. Otherwise glibc gives the top of
 * the heap back to the kernel (brk) whenever the chunk next to it is freed:
 * after a phase with 10^5 waiters that is a ~0.5 ms system call landing in
 * whichever later phase happens to free that chunk (seen: a 100-task phase
 * measured 15x slower). With the warm-ups at the largest sizes, every
 * repetition then runs on a heap that is already grown, as a long-running
 * program's is. */
gboolean
bench_disable_heap_trimming (void)
{
#ifdef HAVE_MALLOPT
  return mallopt (M_TRIM_THRESHOLD, G_MAXINT) == 1;
#else
  return FALSE;
#endif
}

/* GSlice reads G_SLICE when GLib starts, before main(): unless it is
 * always-malloc, GTasks and GObjects come from GSlice's magazines and do
 * not show in malloc's statistics. */
gboolean
bench_gslice_bypassed (void)
{
  const char *g_slice = g_getenv ("G_SLICE");

  return g_slice != NULL && strstr (g_slice, "always-malloc") != NULL;
}

/* ---- JSON lines ---- */

static FILE *output_file;

gboolean
bench_output_open (const char *path)
{
  output_file = fopen (path, "w");
  return output_file != NULL;
}

void
bench_output_close (void)
{
  if (output_file != NULL)
    fclose (output_file);
  output_file = NULL;
}

static void
json_append_string (GString    *s,
                    const char *value)
{
  g_string_append_c (s, '"');
  for (const char *c = value; *c != '\0'; c++)
    {
      switch (*c)
        {
        case '"':
          g_string_append (s, "\\\"");
          break;
        case '\\':
          g_string_append (s, "\\\\");
          break;
        case '\n':
          g_string_append (s, "\\n");
          break;
        case '\t':
          g_string_append (s, "\\t");
          break;
        default:
          if ((unsigned char) *c < 0x20)
            g_string_append_printf (s, "\\u%04x", (unsigned char) *c);
          else
            g_string_append_c (s, *c);
        }
    }
  g_string_append_c (s, '"');
}

static void
json_key (BenchJson  *j,
          const char *key)
{
  if (j->s->len > 1)
    g_string_append_c (j->s, ',');
  json_append_string (j->s, key);
  g_string_append_c (j->s, ':');
}

void
bench_json_str (BenchJson  *j,
                const char *key,
                const char *value)
{
  json_key (j, key);
  if (value == NULL)
    g_string_append (j->s, "null");
  else
    json_append_string (j->s, value);
}

void
bench_json_int (BenchJson  *j,
                const char *key,
                gint64      value)
{
  json_key (j, key);
  g_string_append_printf (j->s, "%" G_GINT64_FORMAT, value);
}

void
bench_json_bool (BenchJson  *j,
                 const char *key,
                 gboolean    value)
{
  json_key (j, key);
  g_string_append (j->s, value ? "true" : "false");
}

/* Non-finite numbers are not JSON: they become null. */
void
bench_json_num (BenchJson  *j,
                const char *key,
                double      value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  json_key (j, key);
  if (!isfinite (value))
    g_string_append (j->s, "null");
  else
    g_string_append (j->s, g_ascii_formatd (buf, sizeof buf, "%.6g", value));
}

/* MEDIAN_KEY, then PREFIX_min and PREFIX_max (min and max with a NULL
 * prefix). */
static void
json_stats_as (BenchJson        *j,
               const char       *median_key,
               const char       *prefix,
               const BenchStats *s)
{
  g_autofree char *min = prefix != NULL ? g_strconcat (prefix, "_min", NULL) : g_strdup ("min");
  g_autofree char *max = prefix != NULL ? g_strconcat (prefix, "_max", NULL) : g_strdup ("max");

  bench_json_num (j, median_key, s->median);
  bench_json_num (j, min, s->min);
  bench_json_num (j, max, s->max);
}

/* PREFIX_median, PREFIX_min, PREFIX_max; with a NULL prefix the primary
 * result's ns_per_op_median, min, max. */
void
bench_json_stats (BenchJson        *j,
                  const char       *prefix,
                  const BenchStats *s)
{
  g_autofree char *median = prefix != NULL ? g_strconcat (prefix, "_median", NULL)
                                           : g_strdup ("ns_per_op_median");

  json_stats_as (j, median, prefix, s);
}

/* A baseline's figure: KEY (the median), KEY_min, KEY_max. */
void
bench_json_baseline (BenchJson        *j,
                     const char       *key,
                     const BenchStats *s)
{
  json_stats_as (j, key, key, s);
}

void
bench_json_begin (BenchJson  *j,
                  const char *scenario,
                  const char *what)
{
  j->s = g_string_new ("{");
  bench_json_str (j, "scenario", scenario);
  if (what != NULL)
    bench_json_str (j, "what", what);
}

/* Prints the line on stdout (and to --output). tests/bench/bench-output.py
 * checks that every line parses. */
void
bench_json_end (BenchJson *j)
{
  g_string_append_c (j->s, '}');

  fputs (j->s->str, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  if (output_file != NULL)
    {
      fputs (j->s->str, output_file);
      fputc ('\n', output_file);
      fflush (output_file);
    }

  g_string_free (j->s, TRUE);
  j->s = NULL;
}

/* ---- The summary table ---- */

typedef struct
{
  char   *scenario;
  char   *what;
  double  value;
  char   *unit;
  char   *baseline;
  double  baseline_value;
} Row;

static GPtrArray *rows;

static void
row_free (gpointer data)
{
  Row *row = data;

  g_free (row->scenario);
  g_free (row->what);
  g_free (row->unit);
  g_free (row->baseline);
  g_free (row);
}

/* The ratio printed is value / baseline_value. */
void
bench_summary_add (const char *scenario,
                   const char *what,
                   double      value,
                   const char *unit,
                   const char *baseline,
                   double      baseline_value)
{
  Row *row = g_new0 (Row, 1);

  if (rows == NULL)
    rows = g_ptr_array_new_with_free_func (row_free);

  row->scenario = g_strdup (scenario);
  row->what = g_strdup (what);
  row->value = value;
  row->unit = g_strdup (unit);
  row->baseline = g_strdup (baseline);
  row->baseline_value = baseline_value;
  g_ptr_array_add (rows, row);
}

static void
format_value (char   *buf,
              gsize   size,
              double  value)
{
  if (!isfinite (value))
    g_strlcpy (buf, "-", size);
  else if (fabs (value) >= 1e6)
    g_snprintf (buf, size, "%.4g", value);
  else if (fabs (value) >= 100)
    g_snprintf (buf, size, "%.0f", value);
  else
    g_snprintf (buf, size, "%.3g", value);
}

void
bench_summary_print (int reps)
{
  g_printerr ("\naiorwlock-glib benchmark: medians of %d repetitions; ratio = lock / baseline\n\n",
              reps);
  g_printerr ("%-5s %-44s %10s %-9s %-32s %10s %8s\n",
              "", "case", "lock", "unit", "baseline", "baseline", "ratio");
  for (guint i = 0; rows != NULL && i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);
      char value[32], baseline[32], r[32];

      format_value (value, sizeof value, row->value);
      format_value (baseline, sizeof baseline, row->baseline_value);
      format_value (r, sizeof r, bench_ratio (row->value, row->baseline_value));
      g_printerr ("%-5s %-44s %10s %-9s %-32s %10s %8s\n",
                  row->scenario, row->what, value, row->unit,
                  row->baseline != NULL ? row->baseline : "-", baseline, r);
    }
  g_printerr ("\n%s\n", checks_failed ? "CHECKS FAILED (see above)"
                                      : "checks: every request completed, every lock ended free");
}

void
bench_summary_clear (void)
{
  g_clear_pointer (&rows, g_ptr_array_unref);
}
