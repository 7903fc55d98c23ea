/* bench-rw-lock.c: what an AioRwLock costs, against the GLib parts it is made of
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
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
 * (see disable_heap_trimming()), and
 * the scaling scenarios S4 and S5 run first, after the light S1, S2 and
 * TRY: per-waiter costs at small sizes depend on the state of malloc's
 * heap, and `--scenario S4,S5` alone gives the cleanest figures.
 *
 * Nothing about timing is asserted. The exit status is non-zero only when
 * a correctness check fails (a request not completed, a lock not free at
 * the end, an unexpected error); tests/bench/bench-output.py checks that
 * every line is well-formed JSON.
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

#include <aiorwlock-glib/aiorwlock.h>

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

/* How long one phase may take before the run is declared stuck (a lost
 * completion would otherwise hang until meson's timeout). */
#define WATCHDOG_SECONDS 300

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

static FILE *output_file;
static gboolean checks_failed;
static GObject *bench_object;   /* the source object of the bare GTasks */

/* ---- Time, statistics ---- */

static inline gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

typedef struct
{
  double median;
  double min;
  double max;
} Stats;

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

static void
sort_doubles (GArray *values)
{
  qsort (values->data, values->len, sizeof (double), compare_doubles);
}

/* Nearest-rank percentile of sorted values. */
static double
percentile_sorted (GArray *sorted,
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

static Stats
stats_of (GArray *values)
{
  g_autoptr(GArray) v = g_array_sized_new (FALSE, FALSE, sizeof (double), values->len);
  Stats s = { NAN, NAN, NAN };
  guint n = values->len;

  if (n == 0)
    return s;

  g_array_append_vals (v, values->data, n);
  sort_doubles (v);
  s.min = g_array_index (v, double, 0);
  s.max = g_array_index (v, double, n - 1);
  if (n % 2 == 1)
    s.median = g_array_index (v, double, n / 2);
  else
    s.median = (g_array_index (v, double, n / 2 - 1) + g_array_index (v, double, n / 2)) / 2;

  return s;
}

static GArray *
samples_new (void)
{
  return g_array_new (FALSE, FALSE, sizeof (double));
}

static void
samples_add (GArray *samples,
             double  value)
{
  g_array_append_val (samples, value);
}

static double
median_of (GArray *samples)
{
  return stats_of (samples).median;
}

/* a / b, or NAN (printed as null) when it means nothing. */
static double
ratio (double a,
       double b)
{
  if (!isfinite (a) || !isfinite (b) || b == 0)
    return NAN;
  return a / b;
}

/* ---- Checks and the watchdog ---- */

static gboolean check (gboolean    ok,
                       const char *format,
                       ...) G_GNUC_PRINTF (2, 3);

static gboolean
check (gboolean    ok,
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

static gboolean
lock_is_free (AioRwLock *lock)
{
  return aio_rw_lock_get_readers (lock) == 0 &&
         !aio_rw_lock_is_write_locked (lock) &&
         aio_rw_lock_get_pending_readers (lock) == 0 &&
         aio_rw_lock_get_pending_writers (lock) == 0;
}

static gboolean
check_lock_free (AioRwLock  *lock,
                 const char *where)
{
  return check (lock_is_free (lock),
                "%s: the lock is not free at the end (readers %u, write-locked %d, "
                "pending readers %u, pending writers %u)",
                where,
                aio_rw_lock_get_readers (lock),
                aio_rw_lock_is_write_locked (lock),
                aio_rw_lock_get_pending_readers (lock),
                aio_rw_lock_get_pending_writers (lock));
}

/* A thread that ends the run if one phase takes far too long: a lost
 * completion shows as a message, not as a hang. It sleeps on a condition
 * variable, so it does not disturb the measurements. */
static struct
{
  GMutex      mutex;
  GCond       cond;
  GThread    *thread;
  const char *phase;     /* NULL: disarmed */
  gint64      deadline;  /* monotonic, µs */
  gboolean    quit;
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

static void
watchdog_arm (const char *phase)
{
  g_mutex_lock (&watchdog.mutex);
  watchdog.phase = phase;
  watchdog.deadline = g_get_monotonic_time () + WATCHDOG_SECONDS * G_USEC_PER_SEC;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
}

static void
watchdog_disarm (void)
{
  g_mutex_lock (&watchdog.mutex);
  watchdog.phase = NULL;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
}

/* Runs the default context until *counter reaches target. */
static void
iterate_until (const guint *counter,
               guint        target,
               const char  *phase)
{
  watchdog_arm (phase);
  while (*counter < target)
    g_main_context_iteration (NULL, TRUE);
  watchdog_disarm ();
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

/* Dispatches whatever is already due, so that one phase starts clean. */
static void
settle_default_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  consolidate_malloc ();
}

/* ---- JSON lines ---- */

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

typedef struct
{
  GString *s;
} JsonLine;

static void
json_key (JsonLine   *j,
          const char *key)
{
  if (j->s->len > 1)
    g_string_append_c (j->s, ',');
  json_append_string (j->s, key);
  g_string_append_c (j->s, ':');
}

static void
json_str (JsonLine   *j,
          const char *key,
          const char *value)
{
  json_key (j, key);
  if (value == NULL)
    g_string_append (j->s, "null");
  else
    json_append_string (j->s, value);
}

static void
json_int (JsonLine   *j,
          const char *key,
          gint64      value)
{
  json_key (j, key);
  g_string_append_printf (j->s, "%" G_GINT64_FORMAT, value);
}

static void
json_bool (JsonLine   *j,
           const char *key,
           gboolean    value)
{
  json_key (j, key);
  g_string_append (j->s, value ? "true" : "false");
}

/* Non-finite numbers are not JSON: they become null. */
static void
json_num (JsonLine   *j,
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

/* PREFIX_median, PREFIX_min, PREFIX_max; with a NULL prefix the primary
 * result's ns_per_op_median, min, max. */
static void
json_stats (JsonLine    *j,
            const char  *prefix,
            const Stats *s)
{
  g_autofree char *median = NULL;
  g_autofree char *min = NULL;
  g_autofree char *max = NULL;

  if (prefix == NULL)
    {
      json_num (j, "ns_per_op_median", s->median);
      json_num (j, "min", s->min);
      json_num (j, "max", s->max);
      return;
    }

  median = g_strconcat (prefix, "_median", NULL);
  min = g_strconcat (prefix, "_min", NULL);
  max = g_strconcat (prefix, "_max", NULL);
  json_num (j, median, s->median);
  json_num (j, min, s->min);
  json_num (j, max, s->max);
}

static void
json_begin (JsonLine   *j,
            const char *scenario,
            const char *what)
{
  j->s = g_string_new ("{");
  json_str (j, "scenario", scenario);
  if (what != NULL)
    json_str (j, "what", what);
}

static void
json_end (JsonLine *j)
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
static void
row_add (const char *scenario,
         const char *what,
         double      value,
         const char *unit,
         const char *baseline,
         double      baseline_value)
{
  Row *row = g_new0 (Row, 1);

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

static void
print_table (void)
{
  g_printerr ("\naiorwlock-glib benchmark: medians of %d repetitions; ratio = lock / baseline\n\n",
              options.reps);
  g_printerr ("%-4s %-44s %10s %-9s %-32s %10s %8s\n",
              "", "case", "lock", "unit", "baseline", "baseline", "ratio");
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = g_ptr_array_index (rows, i);
      char value[32], baseline[32], r[32];

      format_value (value, sizeof value, row->value);
      format_value (baseline, sizeof baseline, row->baseline_value);
      format_value (r, sizeof r, ratio (row->value, row->baseline_value));
      g_printerr ("%-4s %-44s %10s %-9s %-32s %10s %8s\n",
                  row->scenario, row->what, value, row->unit,
                  row->baseline != NULL ? row->baseline : "-", baseline, r);
    }
  g_printerr ("\n%s\n", checks_failed ? "CHECKS FAILED (see above)"
                                      : "checks: every request completed, every lock ended free");
}

/* ---- Memory ---- */

/* Bytes malloc has handed out and not got back (main arena + mmapped). */
static double
heap_in_use (void)
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
static gboolean
disable_heap_trimming (void)
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
static gboolean
gslice_bypassed (void)
{
  const char *g_slice = g_getenv ("G_SLICE");

  return g_slice != NULL && strstr (g_slice, "always-malloc") != NULL;
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
  JsonLine j;

  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    g_strstrip (loadavg);
  for (guint s = 0; s < G_N_ELEMENTS (all_scenarios); s++)
    if (scenario_selected (all_scenarios[s]))
      g_string_append_printf (ran, "%s%s", ran->len > 0 ? "," : "", all_scenarios[s]);

  json_begin (&j, "machine", NULL);
  json_str (&j, "cpu", cpu);
  json_int (&j, "nproc", g_get_num_processors ());
  json_str (&j, "glib", glib_version);
  json_str (&j, "compiler", BENCH_COMPILER);
  json_bool (&j, "optimized", BENCH_OPTIMIZED);
  json_str (&j, "buildtype", BENCH_BUILDTYPE);
  json_str (&j, "aiorwlock", AIO_VERSION_S);
  json_str (&j, "g_slice", g_getenv ("G_SLICE"));
  json_bool (&j, "malloc_no_trim", no_heap_trim);
  json_str (&j, "loadavg", loadavg);
  json_int (&j, "reps", options.reps);
  json_bool (&j, "quick", options.quick);
  json_str (&j, "scenarios", ran->str);
  json_end (&j);

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
  GTask *task = g_task_new (bench_object, NULL, on_cycle_task_done, c);

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
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

  settle_default_context ();
  c->loop = g_main_loop_new (NULL, FALSE);
  c->remaining = n;

  watchdog_arm (phase);
  t0 = now_ns ();
  start (c);
  g_main_loop_run (c->loop);
  t1 = now_ns ();
  watchdog_disarm ();

  g_clear_pointer (&c->loop, g_main_loop_unref);

  return (double) (t1 - t0) / n;
}

static void
scenario_cycle (const char *name,
                gboolean    write)
{
  const char *what = write ? "write cycle: acquire_write_async -> callback -> release"
                           : "read cycle: acquire_read_async -> callback -> release";
  g_autoptr(GArray) lock_ns = samples_new ();
  g_autoptr(GArray) task_ns = samples_new ();
  g_autoptr(GArray) idle_ns = samples_new ();
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Cycle c = { lock, write, NULL, 0, 0 };
  Stats lock_s, task_s, idle_s;
  JsonLine j;

  /* Warm-up: caches, the lock's completion source, GTask's class. */
  run_cycles (&c, cycle_lock_start, MAX (n_cycles / 10, 100), name);
  run_cycles (&c, cycle_task_start, MAX (n_cycles / 10, 100), name);
  run_cycles (&c, cycle_idle_start, MAX (n_cycles / 10, 100), name);

  for (int rep = 0; rep < options.reps; rep++)
    {
      samples_add (lock_ns, run_cycles (&c, cycle_lock_start, n_cycles, name));
      samples_add (task_ns, run_cycles (&c, cycle_task_start, n_cycles, name));
      samples_add (idle_ns, run_cycles (&c, cycle_idle_start, n_cycles, name));
    }

  check (c.failures == 0, "%s: %u acquisitions failed", name, c.failures);
  check_lock_free (lock, name);

  lock_s = stats_of (lock_ns);
  task_s = stats_of (task_ns);
  idle_s = stats_of (idle_ns);

  json_begin (&j, name, what);
  json_int (&j, "n", n_cycles);
  json_int (&j, "reps", options.reps);
  json_stats (&j, NULL, &lock_s);
  json_num (&j, "baseline_gtask_ns", task_s.median);
  json_num (&j, "baseline_gtask_ns_min", task_s.min);
  json_num (&j, "baseline_gtask_ns_max", task_s.max);
  json_num (&j, "baseline_idle_ns", idle_s.median);
  json_num (&j, "baseline_idle_ns_min", idle_s.min);
  json_num (&j, "baseline_idle_ns_max", idle_s.max);
  json_num (&j, "ratio_vs_gtask", ratio (lock_s.median, task_s.median));
  json_num (&j, "ratio_vs_idle", ratio (lock_s.median, idle_s.median));
  json_bool (&j, "checks_ok", c.failures == 0 && lock_is_free (lock));
  json_end (&j);

  row_add (name, write ? "async write cycle" : "async read cycle",
           lock_s.median, "ns/cycle", "bare GTask cycle", task_s.median);
  row_add (name, write ? "async write cycle" : "async read cycle",
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

  t0 = now_ns ();
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
  t1 = now_ns ();

  return (double) (t1 - t0) / n;
}

static double
grwlock_loop (GRWLock  *rw,
              gboolean  write,
              guint     n)
{
  gint64 t0, t1;

  t0 = now_ns ();
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
  t1 = now_ns ();

  return (double) (t1 - t0) / n;
}

static double
gmutex_loop (GMutex *mutex,
             guint   n)
{
  gint64 t0, t1;

  t0 = now_ns ();
  for (guint i = 0; i < n; i++)
    {
      g_mutex_lock (mutex);
      g_mutex_unlock (mutex);
    }
  t1 = now_ns ();

  return (double) (t1 - t0) / n;
}

static void
scenario_try (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GArray) try_read = samples_new ();
  g_autoptr(GArray) try_write = samples_new ();
  g_autoptr(GArray) rw_read = samples_new ();
  g_autoptr(GArray) rw_write = samples_new ();
  g_autoptr(GArray) mutex_ns = samples_new ();
  Stats tr, tw, rr, rw, mx;
  guint failures = 0;
  GRWLock grw;
  GMutex mutex;
  JsonLine j;

  g_rw_lock_init (&grw);
  g_mutex_init (&mutex);

  watchdog_arm ("TRY");

  /* Warm-up */
  try_lock_loop (lock, FALSE, n_try / 10, &failures);
  try_lock_loop (lock, TRUE, n_try / 10, &failures);
  grwlock_loop (&grw, FALSE, n_try / 10);
  grwlock_loop (&grw, TRUE, n_try / 10);
  gmutex_loop (&mutex, n_try / 10);

  for (int rep = 0; rep < options.reps; rep++)
    {
      samples_add (try_read, try_lock_loop (lock, FALSE, n_try, &failures));
      samples_add (try_write, try_lock_loop (lock, TRUE, n_try, &failures));
      samples_add (rw_read, grwlock_loop (&grw, FALSE, n_try));
      samples_add (rw_write, grwlock_loop (&grw, TRUE, n_try));
      samples_add (mutex_ns, gmutex_loop (&mutex, n_try));
    }

  watchdog_disarm ();

  check (failures == 0, "TRY: %u try-acquisitions of a free lock failed", failures);
  check_lock_free (lock, "TRY");

  tr = stats_of (try_read);
  tw = stats_of (try_write);
  rr = stats_of (rw_read);
  rw = stats_of (rw_write);
  mx = stats_of (mutex_ns);

  json_begin (&j, "TRY", "try_acquire_read + release + unref");
  json_int (&j, "n", n_try);
  json_int (&j, "reps", options.reps);
  json_stats (&j, NULL, &tr);
  json_num (&j, "baseline_grwlock_reader_ns", rr.median);
  json_num (&j, "baseline_grwlock_reader_ns_min", rr.min);
  json_num (&j, "baseline_grwlock_reader_ns_max", rr.max);
  json_num (&j, "baseline_gmutex_ns", mx.median);
  json_num (&j, "ratio_vs_grwlock_reader", ratio (tr.median, rr.median));
  json_num (&j, "ratio_vs_gmutex", ratio (tr.median, mx.median));
  json_bool (&j, "checks_ok", failures == 0 && lock_is_free (lock));
  json_end (&j);

  json_begin (&j, "TRY", "try_acquire_write + release + unref");
  json_int (&j, "n", n_try);
  json_int (&j, "reps", options.reps);
  json_stats (&j, NULL, &tw);
  json_num (&j, "baseline_grwlock_writer_ns", rw.median);
  json_num (&j, "baseline_grwlock_writer_ns_min", rw.min);
  json_num (&j, "baseline_grwlock_writer_ns_max", rw.max);
  json_num (&j, "baseline_gmutex_ns", mx.median);
  json_num (&j, "ratio_vs_grwlock_writer", ratio (tw.median, rw.median));
  json_num (&j, "ratio_vs_gmutex", ratio (tw.median, mx.median));
  json_bool (&j, "checks_ok", failures == 0 && lock_is_free (lock));
  json_end (&j);

  row_add ("TRY", "try read + release + unref", tr.median, "ns/op",
           "GRWLock reader lock+unlock", rr.median);
  row_add ("TRY", "try write + release + unref", tw.median, "ns/op",
           "GRWLock writer lock+unlock", rw.median);
  row_add ("TRY", "try read + release + unref", tr.median, "ns/op",
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
  double wait_ms = (now_ns () - actor->requested_at) / 1e6;

  samples_add (run->waits[actor->write], wait_ms);
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

  actor->requested_at = now_ns ();
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

  settle_default_context ();

  run.lock = lock;
  run.loop = g_main_loop_new (NULL, FALSE);
  run.k = k;
  run.waits[0] = samples_new ();
  run.waits[1] = samples_new ();

  /* The writers are spread among the readers: actors 16, 33, 50, 67. */
  for (guint i = 0; i < n_actors; i++)
    {
      actors[i].run = &run;
      actors[i].write = (i % 17) == 16 && writers < S3_WRITERS;
      if (actors[i].write)
        writers++;
    }
  g_assert (writers == S3_WRITERS);

  watchdog_arm (phase);
  t0 = now_ns ();
  for (guint i = 0; i < n_actors; i++)
    {
      run.active++;
      s3_request (&actors[i]);
    }
  g_main_loop_run (run.loop);
  t1 = now_ns ();
  watchdog_disarm ();

  check (run.acquisitions == n_actors * k, "%s: %u acquisitions, expected %u",
         phase, run.acquisitions, n_actors * k);
  check (run.failures == 0, "%s: %u acquisitions failed", phase, run.failures);
  if (lock != NULL)
    check_lock_free (lock, phase);

  result.throughput = run.acquisitions / ((t1 - t0) / 1e9);
  for (guint kind = 0; kind < 2; kind++)
    {
      sort_doubles (run.waits[kind]);
      result.p50[kind] = percentile_sorted (run.waits[kind], 50);
      result.p99[kind] = percentile_sorted (run.waits[kind], 99);
      result.max[kind] = percentile_sorted (run.waits[kind], 100);
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
  g_autoptr(GArray) base_tput = samples_new ();
  g_autoptr(GArray) base_p50 = samples_new ();
  Stats base;

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      tput[p] = samples_new ();
      for (guint kind = 0; kind < 2; kind++)
        {
          p50[p][kind] = samples_new ();
          p99[p][kind] = samples_new ();
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

      samples_add (base_tput, r.throughput);
      samples_add (base_p50, r.p50[0]);

      for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
        {
          g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (s3_policies[p].policy);

          r = s3_run_once (lock, k, "S3");
          samples_add (tput[p], r.throughput);
          for (guint kind = 0; kind < 2; kind++)
            {
              samples_add (p50[p][kind], r.p50[kind]);
              samples_add (p99[p][kind], r.p99[kind]);
              max_wait[p][kind] = MAX (max_wait[p][kind], r.max[kind]);
            }
        }
    }

  base = stats_of (base_tput);

  for (guint p = 0; p < G_N_ELEMENTS (s3_policies); p++)
    {
      g_autofree char *what = g_strdup_printf ("%u readers + %u writers, hold one pass, policy %s",
                                               S3_READERS, S3_WRITERS, s3_policies[p].name);
      g_autofree char *row = g_strdup_printf ("contended throughput, %s", s3_policies[p].name);
      Stats t = stats_of (tput[p]);
      JsonLine j;

      json_begin (&j, "S3", what);
      json_str (&j, "policy", s3_policies[p].name);
      json_int (&j, "readers", S3_READERS);
      json_int (&j, "writers", S3_WRITERS);
      json_int (&j, "k", k);
      json_int (&j, "reps", options.reps);
      json_stats (&j, "acq_per_s", &t);
      json_num (&j, "baseline_acq_per_s", base.median);
      json_num (&j, "baseline_acq_per_s_min", base.min);
      json_num (&j, "baseline_acq_per_s_max", base.max);
      json_num (&j, "baseline_wait_ms_p50", median_of (base_p50));
      json_num (&j, "ratio_vs_baseline", ratio (t.median, base.median));
      for (guint kind = 0; kind < 2; kind++)
        {
          g_autofree char *k50 = g_strdup_printf ("%s_wait_ms_p50", kind_name[kind]);
          g_autofree char *k99 = g_strdup_printf ("%s_wait_ms_p99", kind_name[kind]);
          g_autofree char *kmax = g_strdup_printf ("%s_wait_ms_max", kind_name[kind]);

          json_num (&j, k50, median_of (p50[p][kind]));
          json_num (&j, k99, median_of (p99[p][kind]));
          json_num (&j, kmax, max_wait[p][kind]);
        }
      json_bool (&j, "checks_ok", !checks_failed);
      json_end (&j);

      row_add ("S3", row, t.median, "acq/s", "same passes, no lock", base.median);
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
  check (drain.granted == 1, "priming a lock failed");
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
  settle_default_context ();
  writer = aio_rw_lock_try_acquire_write (lock);
  g_assert (writer != NULL);

  mem0 = heap_in_use ();
  t0 = now_ns ();
  for (guint i = 0; i < w; i++)
    aio_rw_lock_acquire_read_async (lock, NULL, on_reader_granted, &drain);
  t1 = now_ns ();
  mem1 = heap_in_use ();

  check (aio_rw_lock_get_pending_readers (lock) == w, "S4: %u pending readers, expected %u",
         aio_rw_lock_get_pending_readers (lock), w);

  t2 = now_ns ();
  aio_rw_lock_guard_release (writer);
  iterate_until (&drain.done, w, "S4 grant");
  t3 = now_ns ();

  aio_rw_lock_guard_unref (writer);
  check (drain.granted == w && drain.failures == 0, "S4: %u of %u readers granted, %u failed",
         drain.granted, w, drain.failures);
  check_lock_free (lock, "S4");

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

  settle_default_context ();

  mem0 = heap_in_use ();
  t0 = now_ns ();
  for (guint i = 0; i < w; i++)
    tasks[i] = g_task_new (bench_object, NULL, on_bare_task_done, &drain);
  t1 = now_ns ();
  mem1 = heap_in_use ();

  t2 = now_ns ();
  for (guint i = 0; i < w; i++)
    {
      g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  iterate_until (&drain.done, w, "S4 baseline");
  t3 = now_ns ();

  check (drain.granted == w, "S4 baseline: %u of %u tasks completed", drain.granted, w);

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
  gboolean bytes_valid = gslice_bypassed ();
  double m_enq[G_N_ELEMENTS (s4_sizes)], m_grant[G_N_ELEMENTS (s4_sizes)];
  double m_benq[G_N_ELEMENTS (s4_sizes)], m_bdone[G_N_ELEMENTS (s4_sizes)];
  double m_bytes = NAN, m_bbytes = NAN;
  JsonLine j;

  if (!bytes_valid)
    g_printerr ("bench-rw-lock: S4: G_SLICE is not always-malloc: byte counts are not reported "
                "(run with G_SLICE=always-malloc, as meson test does)\n");

  for (guint s = 0; s < n; s++)
    {
      enq[s] = samples_new ();
      grant[s] = samples_new ();
      total[s] = samples_new ();
      bytes[s] = samples_new ();
      b_enq[s] = samples_new ();
      b_done[s] = samples_new ();
      b_total[s] = samples_new ();
      b_bytes[s] = samples_new ();
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

          samples_add (enq[s], r.enqueue_ns);
          samples_add (grant[s], r.drain_ns);
          samples_add (total[s], r.enqueue_ns + r.drain_ns);
          samples_add (bytes[s], r.bytes);
          samples_add (b_enq[s], b.enqueue_ns);
          samples_add (b_done[s], b.drain_ns);
          samples_add (b_total[s], b.enqueue_ns + b.drain_ns);
          samples_add (b_bytes[s], b.bytes);
        }
    }

  for (guint s = 0; s < n; s++)
    {
      Stats e = stats_of (enq[s]);
      Stats g = stats_of (grant[s]);
      Stats t = stats_of (total[s]);
      Stats be = stats_of (b_enq[s]);
      Stats bd = stats_of (b_done[s]);
      Stats bt = stats_of (b_total[s]);
      double by = bytes_valid ? median_of (bytes[s]) : NAN;
      double bby = bytes_valid ? median_of (b_bytes[s]) : NAN;

      m_enq[s] = e.median;
      m_grant[s] = g.median;
      m_benq[s] = be.median;
      m_bdone[s] = bd.median;
      m_bytes = by;
      m_bbytes = bby;

      json_begin (&j, "S4", "W pending readers behind a writer: per waiter");
      json_int (&j, "w", s4_sizes[s]);
      json_int (&j, "reps", options.reps);
      json_stats (&j, NULL, &t);
      json_stats (&j, "enqueue_ns", &e);
      json_stats (&j, "grant_release_ns", &g);
      json_num (&j, "bytes_per_waiter", by);
      json_num (&j, "baseline_gtask_ns", bt.median);
      json_stats (&j, "baseline_enqueue_ns", &be);
      json_stats (&j, "baseline_complete_ns", &bd);
      json_num (&j, "baseline_bytes_per_task", bby);
      json_num (&j, "extra_bytes_per_waiter", by - bby);
      json_num (&j, "ratio_vs_gtask", ratio (t.median, bt.median));
      json_num (&j, "ratio_enqueue_vs_gtask", ratio (e.median, be.median));
      json_num (&j, "ratio_grant_vs_gtask", ratio (g.median, bd.median));
      json_bool (&j, "checks_ok", !checks_failed);
      json_end (&j);
    }

  /* Growth from the smallest to the largest queue, against the bare
   * GTask's own growth (malloc and cache effects hit both). */
  {
    double enq_growth = ratio (m_enq[n - 1], m_enq[0]);
    double grant_growth = ratio (m_grant[n - 1], m_grant[0]);
    double benq_growth = ratio (m_benq[n - 1], m_benq[0]);
    double bdone_growth = ratio (m_bdone[n - 1], m_bdone[0]);
    g_autofree char *enq_row = g_strdup_printf ("enqueue/waiter growth W %u -> %u", s4_sizes[0], s4_sizes[n - 1]);
    g_autofree char *grant_row = g_strdup_printf ("grant+release/waiter growth W %u -> %u", s4_sizes[0], s4_sizes[n - 1]);
    g_autofree char *bytes_row = g_strdup_printf ("bytes per pending waiter, W %u", s4_sizes[n - 1]);

    json_begin (&j, "S4", "growth of the per-waiter cost, smallest to largest W");
    json_int (&j, "w_from", s4_sizes[0]);
    json_int (&j, "w_to", s4_sizes[n - 1]);
    json_num (&j, "enqueue_growth", enq_growth);
    json_num (&j, "grant_release_growth", grant_growth);
    json_num (&j, "baseline_enqueue_growth", benq_growth);
    json_num (&j, "baseline_complete_growth", bdone_growth);
    json_num (&j, "enqueue_growth_vs_baseline", ratio (enq_growth, benq_growth));
    json_num (&j, "grant_growth_vs_baseline", ratio (grant_growth, bdone_growth));
    json_num (&j, "bytes_per_waiter", m_bytes);
    json_num (&j, "baseline_bytes_per_task", m_bbytes);
    json_num (&j, "extra_bytes_per_waiter", m_bytes - m_bbytes);
    json_bool (&j, "bytes_valid", bytes_valid);
    json_bool (&j, "checks_ok", !checks_failed);
    json_end (&j);

    row_add ("S4", enq_row, enq_growth, "x", "bare g_task_new growth", benq_growth);
    row_add ("S4", grant_row, grant_growth, "x", "bare GTask completion growth", bdone_growth);
    row_add ("S4", bytes_row, m_bytes, "bytes", "bare pending GTask", m_bbytes);
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
  settle_default_context ();
  writer = aio_rw_lock_try_acquire_write (lock);
  g_assert (writer != NULL);

  t0 = now_ns ();
  for (guint i = 0; i < n; i++)
    aio_rw_lock_acquire_write_async (lock, cancellables[i], on_writer_done, &drain);
  t1 = now_ns ();

  check (aio_rw_lock_get_pending_writers (lock) == n, "S5: %u pending writers, expected %u",
         aio_rw_lock_get_pending_writers (lock), n);

  t2 = now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t3 = now_ns ();

  check (aio_rw_lock_get_pending_writers (lock) == n - n_cancel,
         "S5: %u pending writers after cancelling %u of %u",
         aio_rw_lock_get_pending_writers (lock), n_cancel, n);

  t4 = now_ns ();
  aio_rw_lock_guard_release (writer);
  iterate_until (&drain.done, n, "S5 drain");
  t5 = now_ns ();

  aio_rw_lock_guard_unref (writer);
  check (drain.cancelled == n_cancel && drain.granted == n - n_cancel && drain.failures == 0,
         "S5: %u cancelled (expected %u), %u granted (expected %u), %u failed",
         drain.cancelled, n_cancel, drain.granted, n - n_cancel, drain.failures);
  check_lock_free (lock, "S5");
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

  settle_default_context ();

  t0 = now_ns ();
  for (guint i = 0; i < n; i++)
    {
      tasks[i] = g_task_new (bench_object, cancellables[i], on_bare_task_done, &drain);
      ids[i] = g_cancellable_connect (cancellables[i], G_CALLBACK (on_bare_cancelled),
                                      &handler_calls, NULL);
    }
  t1 = now_ns ();

  t2 = now_ns ();
  for (guint i = 0; i < n; i += 2)
    g_cancellable_cancel (cancellables[i]);
  t3 = now_ns ();

  t4 = now_ns ();
  for (guint i = 0; i < n; i++)
    {
      g_cancellable_disconnect (cancellables[i], ids[i]);
      if (!g_task_return_error_if_cancelled (tasks[i]))
        g_task_return_boolean (tasks[i], TRUE);
      g_object_unref (tasks[i]);
    }
  iterate_until (&drain.done, n, "S5 baseline");
  t5 = now_ns ();

  check (handler_calls == n_cancel && drain.cancelled == n_cancel && drain.granted == n - n_cancel,
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
  JsonLine j;

  for (guint s = 0; s < n; s++)
    {
      cancel[s] = samples_new ();
      enq[s] = samples_new ();
      drain[s] = samples_new ();
      b_cancel[s] = samples_new ();
      b_enq[s] = samples_new ();
      b_drain[s] = samples_new ();
    }

  s5_lock_once (s5_sizes[n - 1]);
  s5_gtask_once (s5_sizes[n - 1]);

  for (int rep = 0; rep < options.reps; rep++)
    {
      for (guint s = 0; s < n; s++)
        {
          S5Result r = s5_lock_once (s5_sizes[s]);
          S5Result b = s5_gtask_once (s5_sizes[s]);

          samples_add (cancel[s], r.cancel_ns);
          samples_add (enq[s], r.enqueue_ns);
          samples_add (drain[s], r.drain_ns);
          samples_add (b_cancel[s], b.cancel_ns);
          samples_add (b_enq[s], b.enqueue_ns);
          samples_add (b_drain[s], b.drain_ns);
        }
    }

  for (guint s = 0; s < n; s++)
    {
      Stats c = stats_of (cancel[s]);
      Stats e = stats_of (enq[s]);
      Stats d = stats_of (drain[s]);
      Stats bc = stats_of (b_cancel[s]);
      Stats be = stats_of (b_enq[s]);
      Stats bd = stats_of (b_drain[s]);

      m_cancel[s] = c.median;
      m_bcancel[s] = bc.median;

      json_begin (&j, "S5", "N pending writers, every other one cancelled: per cancel");
      json_int (&j, "n", s5_sizes[s]);
      json_int (&j, "cancelled", (s5_sizes[s] + 1) / 2);
      json_int (&j, "reps", options.reps);
      json_stats (&j, NULL, &c);
      json_stats (&j, "enqueue_ns", &e);
      json_stats (&j, "drain_ns", &d);
      json_num (&j, "baseline_gtask_ns", bc.median);
      json_num (&j, "baseline_gtask_ns_min", bc.min);
      json_num (&j, "baseline_gtask_ns_max", bc.max);
      json_num (&j, "baseline_enqueue_ns", be.median);
      json_num (&j, "baseline_drain_ns", bd.median);
      json_num (&j, "ratio_vs_gtask", ratio (c.median, bc.median));
      json_bool (&j, "checks_ok", !checks_failed);
      json_end (&j);
    }

  {
    double growth = ratio (m_cancel[n - 1], m_cancel[0]);
    double b_growth = ratio (m_bcancel[n - 1], m_bcancel[0]);
    g_autofree char *growth_row = g_strdup_printf ("cancel growth N %u -> %u", s5_sizes[0], s5_sizes[n - 1]);
    g_autofree char *cost_row = g_strdup_printf ("cancel, N %u", s5_sizes[n - 1]);

    json_begin (&j, "S5", "growth of the per-cancel cost, smallest to largest N");
    json_int (&j, "n_from", s5_sizes[0]);
    json_int (&j, "n_to", s5_sizes[n - 1]);
    json_num (&j, "cancel_growth", growth);
    json_num (&j, "baseline_cancel_growth", b_growth);
    json_num (&j, "growth_vs_baseline", ratio (growth, b_growth));
    json_bool (&j, "checks_ok", !checks_failed);
    json_end (&j);

    row_add ("S5", cost_row, m_cancel[n - 1], "ns/cancel", "GTask + cancelled handler", m_bcancel[n - 1]);
    row_add ("S5", growth_row, growth, "x", "GTask + handler growth", b_growth);
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

  watchdog_arm ("S6 threads");
  t0 = now_ns ();
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
  t1 = now_ns ();
  watchdog_disarm ();

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
  r.lock_free = lock_is_free (shared.lock);

  check (r.requests == r.completions + r.failures,
         "S6: %" G_GUINT64_FORMAT " requests but %" G_GUINT64_FORMAT " completions: some were lost",
         r.requests, r.completions + r.failures);
  check (r.failures == 0, "S6: %" G_GUINT64_FORMAT " acquisitions failed", r.failures);
  check_lock_free (shared.lock, "S6");

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
  gint64 called_at = now_ns ();
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
  gint64 called_at = now_ns ();

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
  GTask *task = g_task_new (bench_object, NULL, on_handoff_task_done, h);

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
      check (aio_rw_lock_get_pending_writers (h->lock) == 1, "S6 hand-off: B's request is not queued");
    }

  /* B goes back to sleep in poll(): the hand-off includes waking it. */
  g_usleep (HANDOFF_SETTLE_USEC);

  t0 = now_ns ();
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
  GArray *rates[4] = { samples_new (), samples_new (), samples_new (), samples_new () };
  const char *rate_names[4] = { "async_read_per_s", "async_write_per_s",
                                "blocking_read_per_s", "blocking_write_per_s" };
  g_autoptr(GArray) totals = samples_new ();
  g_autoptr(GArray) lock_us = samples_new ();
  g_autoptr(GArray) task_us = samples_new ();
  g_autoptr(GArray) all_lock_us = samples_new ();
  g_autoptr(GArray) all_task_us = samples_new ();
  guint64 requests = 0, completions = 0, failures = 0;
  gboolean lock_free = TRUE;
  Handoff h;
  Stats total_s, lock_s, task_s;
  JsonLine j;

  /* Throughput and "none lost" */
  s6_run_once (MIN (options.duration / 4, 0.2));
  for (int rep = 0; rep < options.reps; rep++)
    {
      S6Result r = s6_run_once (options.duration);

      for (guint i = 0; i < 4; i++)
        samples_add (rates[i], r.rate[i]);
      samples_add (totals, r.total);
      requests += r.requests;
      completions += r.completions;
      failures += r.failures;
      lock_free = lock_free && r.lock_free;
    }

  total_s = stats_of (totals);
  json_begin (&j, "S6", "2 async contexts (4 chains each) + 2 blocking threads on one lock");
  json_num (&j, "duration_s", options.duration);
  json_int (&j, "reps", options.reps);
  json_stats (&j, "total_per_s", &total_s);
  for (guint i = 0; i < 4; i++)
    {
      Stats s = stats_of (rates[i]);

      json_stats (&j, rate_names[i], &s);
    }
  json_int (&j, "requests", (gint64) requests);
  json_int (&j, "completions", (gint64) completions);
  json_int (&j, "failures", (gint64) failures);
  json_bool (&j, "none_lost", requests == completions + failures && failures == 0);
  json_bool (&j, "lock_free", lock_free);
  json_end (&j);

  row_add ("S6", "threads: all acquisitions", total_s.median, "acq/s", NULL, NAN);
  row_add ("S6", "threads: async reads", median_of (rates[0]), "acq/s", NULL, NAN);
  row_add ("S6", "threads: async writes", median_of (rates[1]), "acq/s", NULL, NAN);
  row_add ("S6", "threads: blocking reads", median_of (rates[2]), "acq/s", NULL, NAN);
  row_add ("S6", "threads: blocking writes", median_of (rates[3]), "acq/s", NULL, NAN);

  /* Hand-off latency */
  memset (&h, 0, sizeof h);
  g_mutex_init (&h.mutex);
  g_cond_init (&h.cond);
  h.lock = aio_rw_lock_new ();
  h.context = g_main_context_new ();
  h.loop = g_main_loop_new (h.context, FALSE);
  h.thread = g_thread_new ("bench-handoff", handoff_thread_main, &h);

  watchdog_arm ("S6 hand-off");
  for (int i = 0; i < MAX (options.rounds / 10, 5); i++)
    {
      handoff_round (&h, FALSE);
      handoff_round (&h, TRUE);
    }
  for (int rep = 0; rep < options.reps; rep++)
    {
      g_autoptr(GArray) rep_lock = samples_new ();
      g_autoptr(GArray) rep_task = samples_new ();

      for (int i = 0; i < options.rounds; i++)
        {
          double us = handoff_round (&h, FALSE);
          double bare_us = handoff_round (&h, TRUE);

          samples_add (rep_lock, us);
          samples_add (all_lock_us, us);
          samples_add (rep_task, bare_us);
          samples_add (all_task_us, bare_us);
        }
      samples_add (lock_us, median_of (rep_lock));
      samples_add (task_us, median_of (rep_task));
    }
  watchdog_disarm ();

  g_main_context_invoke (h.context, handoff_quit, &h);
  g_thread_join (h.thread);

  check (h.failures == 0, "S6 hand-off: %u rounds failed", h.failures);
  check_lock_free (h.lock, "S6 hand-off");

  lock_s = stats_of (lock_us);
  task_s = stats_of (task_us);
  sort_doubles (all_lock_us);
  sort_doubles (all_task_us);

  json_begin (&j, "S6", "cross-thread hand-off: release on A -> callback on B's context");
  json_int (&j, "rounds", options.rounds);
  json_int (&j, "reps", options.reps);
  json_stats (&j, "handoff_us", &lock_s);
  json_num (&j, "handoff_us_p99", percentile_sorted (all_lock_us, 99));
  json_num (&j, "baseline_gtask_us", task_s.median);
  json_num (&j, "baseline_gtask_us_min", task_s.min);
  json_num (&j, "baseline_gtask_us_max", task_s.max);
  json_num (&j, "baseline_gtask_us_p99", percentile_sorted (all_task_us, 99));
  json_num (&j, "ratio_vs_gtask", ratio (lock_s.median, task_s.median));
  json_bool (&j, "checks_ok", h.failures == 0 && lock_is_free (h.lock));
  json_end (&j);

  row_add ("S6", "cross-thread hand-off latency", lock_s.median, "us",
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

  if (options.output != NULL)
    {
      output_file = fopen (options.output, "w");
      if (output_file == NULL)
        {
          g_printerr ("bench-rw-lock: cannot write %s\n", options.output);
          return 2;
        }
    }

  rows = g_ptr_array_new_with_free_func (row_free);
  bench_object = g_object_new (G_TYPE_OBJECT, NULL);
  g_mutex_init (&watchdog.mutex);
  g_cond_init (&watchdog.cond);
  watchdog.thread = g_thread_new ("bench-watchdog", watchdog_main, NULL);

  print_machine (disable_heap_trimming ());

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

  print_table ();

  g_mutex_lock (&watchdog.mutex);
  watchdog.quit = TRUE;
  g_cond_signal (&watchdog.cond);
  g_mutex_unlock (&watchdog.mutex);
  g_thread_join (watchdog.thread);
  g_mutex_clear (&watchdog.mutex);
  g_cond_clear (&watchdog.cond);

  g_ptr_array_unref (rows);
  g_object_unref (bench_object);
  if (output_file != NULL)
    fclose (output_file);
  g_free (options.scenarios);
  g_free (options.output);

  return checks_failed ? 1 : 0;
}
