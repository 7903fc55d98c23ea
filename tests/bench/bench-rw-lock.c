/* bench-rw-lock.c: what an AioRwLock costs, against the GLib parts it is made of
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The options, the table of scenarios and the runner. Each scenario lives
 * in its own file (bench-cycle.c, bench-try.c, ...) as one row of the table
 * (bench-scenario.h); what they share is in bench-util.c.
 *
 * Prints one JSON object per line on stdout: first the machine, then one
 * line per measured case with the median (and min, max) of --reps
 * repetitions, the baselines measured in the same run (each repetition of
 * a baseline runs right after the matching repetition of the lock, so slow
 * phases of a noisy machine hit both) and the ratios. A summary table goes
 * to stderr at the end.
 *
 * Run it with G_SLICE=always-malloc (meson test does): GSlice would hide
 * the allocations from malloc's statistics, and the byte counts of S4 are
 * reported as null without it. The heap is never trimmed during the run
 * (bench_disable_heap_trimming ()).
 *
 * Nothing about timing is asserted. The exit status is non-zero only when
 * a correctness check fails (a request not completed, a lock not free at
 * the end, an unexpected error); tests/bench/bench-output.py checks that
 * every line is well-formed JSON.
 */

#include <stdlib.h>
#include <string.h>

#include "bench-scenario.h"

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

/* The table, in the order the scenarios run. */
static const BenchScenario * const scenarios[] = {
  &bench_scenario_s1,
  &bench_scenario_s2,
  &bench_scenario_try,
  /* The scaling scenarios run before the churn of S3 and S6: their small
   * sizes depend on the state of malloc's heap (after S3, S4's enqueue at
   * W = 100 measured twice as slow, at W >= 1000 the same);
   * `--scenario S4,S5` alone gives the cleanest figures. */
  &bench_scenario_s4,
  &bench_scenario_s5,
  &bench_scenario_s3,
  &bench_scenario_s6,
  &bench_scenario_idle,
  &bench_scenario_keyed,
};

/* ---- The runner ---- */

static void
run_scenario (const BenchScenario *scenario,
              const BenchConfig   *config)
{
  g_autofree char *setup = g_strconcat (scenario->name, " setup", NULL);
  g_autofree char *warm_up = g_strconcat (scenario->name, " warm-up", NULL);
  g_autofree char *end = g_strconcat (scenario->name, " print and teardown", NULL);
  gpointer data;

  bench_watchdog_arm (setup);
  data = scenario->setup (scenario, config);

  if (scenario->warm_up != NULL)
    {
      bench_watchdog_arm (warm_up);
      scenario->warm_up (data);
    }

  for (int rep = 0; rep < config->reps; rep++)
    {
      g_autofree char *phase = g_strdup_printf ("%s repetition %d of %d",
                                                scenario->name, rep + 1, config->reps);

      bench_watchdog_arm (phase);
      scenario->run (data);
    }

  bench_watchdog_arm (end);
  scenario->print (data);
  scenario->teardown (data);
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

static void
print_machine (const BenchConfig *config,
               const char        *ran,
               gboolean           no_heap_trim)
{
  g_autofree char *cpu = cpu_model ();
  g_autofree char *glib_version = g_strdup_printf ("%u.%u.%u", glib_major_version,
                                                   glib_minor_version, glib_micro_version);
  g_autofree char *loadavg = NULL;
  BenchJson j;

  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    g_strstrip (loadavg);

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
  bench_json_int (&j, "reps", config->reps);
  bench_json_bool (&j, "quick", config->quick);
  bench_json_str (&j, "scenarios", ran);
  bench_json_end (&j);
}

/* ---- Options ---- */

static const BenchScenario *
find_scenario (const char *name)
{
  for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
    if (g_ascii_strcasecmp (name, scenarios[s]->name) == 0)
      return scenarios[s];

  return NULL;
}

/* The names of the scenarios SELECTED marks (NULL: all), comma-separated. */
static char *
scenario_names (const gboolean *selected)
{
  GString *names = g_string_new (NULL);

  for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
    if (selected == NULL || selected[s])
      g_string_append_printf (names, "%s%s", names->len > 0 ? "," : "", scenarios[s]->name);

  return g_string_free (names, FALSE);
}

/* Marks the scenarios LIST names (NULL: all) in SELECTED; FALSE if it
 * names one that does not exist. */
static gboolean
select_scenarios (const char *list,
                  gboolean   *selected)
{
  g_auto(GStrv) names = NULL;

  for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
    selected[s] = list == NULL;
  if (list == NULL)
    return TRUE;

  names = g_strsplit (list, ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      const BenchScenario *scenario = find_scenario (g_strstrip (names[i]));
      g_autofree char *known = NULL;

      if (scenario != NULL)
        {
          for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
            selected[s] = selected[s] || scenarios[s] == scenario;
          continue;
        }

      known = scenario_names (NULL);
      g_printerr ("bench-rw-lock: unknown scenario “%s” (known: %s)\n", names[i], known);
      return FALSE;
    }

  return TRUE;
}

static char *
describe_scenarios (void)
{
  GString *text = g_string_new ("Scenarios, in the order they run:\n");

  for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
    g_string_append_printf (text, "  %-6s %s\n", scenarios[s]->name, scenarios[s]->summary);

  return g_string_free (text, FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *scenario_list = NULL;
  g_autofree char *output = NULL;
  g_autofree char *description = describe_scenarios ();
  g_autofree char *ran = NULL;
  gboolean selected[G_N_ELEMENTS (scenarios)];
  BenchConfig config = { 0, };
  int k = 0, rounds = 0, ops = 0;
  const char *env_reps;
  GOptionEntry entries[] = {
    { "scenario", 's', 0, G_OPTION_ARG_STRING, &scenario_list,
      "Comma-separated scenarios to run (default: all)", "LIST" },
    { "reps", 'r', 0, G_OPTION_ARG_INT, &config.reps,
      "Repetitions per measurement (default 7, 3 with --quick; env BENCH_REPS)", "N" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &config.quick,
      "Small sizes: a smoke run that checks correctness and the output format", NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Also write the JSON lines to FILE", "FILE" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &config.duration,
      "Seconds per repetition of the S6 thread run (default 2, 0.2 with --quick)", "SECS" },
    { "k", 'k', 0, G_OPTION_ARG_INT, &k,
      "S3: cycles per actor (default 200, 20 with --quick)", "K" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
      "S6: hand-off rounds per repetition (default 500, 30 with --quick)", "N" },
    { "ops", 0, 0, G_OPTION_ARG_INT, &ops,
      "KEYED: operations per timed try phase, half as many async (default 200000, "
      "2000 with --quick)", "N" },
    { NULL }
  };

  context = g_option_context_new ("- benchmark AioRwLock against GTask, GRWLock and GMutex");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, description);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-rw-lock: %s\n", error->message);
      return 2;
    }
  if (!select_scenarios (scenario_list, selected))
    return 2;

  env_reps = g_getenv ("BENCH_REPS");
  if (config.reps <= 0 && env_reps != NULL)
    config.reps = atoi (env_reps);
  if (config.reps <= 0)
    config.reps = config.quick ? 3 : 7;
  if (config.duration <= 0)
    config.duration = config.quick ? 0.2 : 2.0;
  config.k = k > 0 ? (guint) k : config.quick ? 20 : 200;
  config.rounds = rounds > 0 ? (guint) rounds : config.quick ? 30 : 500;
  config.ops = ops > 0 ? (guint) ops : config.quick ? 2000 : 200000;

  if (output != NULL && !bench_output_open (output))
    {
      g_printerr ("bench-rw-lock: cannot write %s\n", output);
      return 2;
    }

  bench_watchdog_start ();
  ran = scenario_names (selected);
  print_machine (&config, ran, bench_disable_heap_trimming ());

  for (guint s = 0; s < G_N_ELEMENTS (scenarios); s++)
    if (selected[s])
      run_scenario (scenarios[s], &config);

  bench_summary_print (config.reps);

  bench_watchdog_stop ();
  bench_summary_clear ();
  bench_tasks_cleanup ();
  bench_output_close ();

  return bench_checks_ok () ? 0 : 1;
}
