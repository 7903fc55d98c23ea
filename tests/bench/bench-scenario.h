/* bench-scenario.h: one row of bench-rw-lock's table, and the rows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The runner (bench-rw-lock.c) runs each selected row the same way:
 *
 *   data = setup (scenario, config);
 *   warm_up (data);                       (if not NULL)
 *   run (data);                           (config->reps times)
 *   print (data);
 *   teardown (data);
 *
 * One call of run is one repetition: it measures every figure of the
 * scenario once, each lock figure right before its baselines, so that a
 * slow phase of a noisy machine hits both. print reports the medians of
 * the repetitions as JSON lines and summary rows. A scenario asserts
 * correctness only (bench_check ()), never time.
 */

#pragma once

#include "bench-util.h"

G_BEGIN_DECLS

typedef struct
{
  int      reps;
  gboolean quick;      /* small sizes: a smoke run */
  double   duration;   /* S6: seconds per repetition of the thread run */
  guint    k;          /* S3: cycles per actor */
  guint    rounds;     /* S6: hand-off rounds per repetition */
  guint    ops;        /* KEYED: operations per timed try phase */
} BenchConfig;

typedef struct _BenchScenario BenchScenario;

struct _BenchScenario
{
  const char    *name;        /* as --scenario takes it */
  const char    *summary;     /* one line of --help */
  gconstpointer  extra_data;  /* what tells apart rows that share functions */

  gpointer (*setup)    (const BenchScenario *scenario,
                        const BenchConfig   *config);
  void     (*warm_up)  (gpointer             data);
  void     (*run)      (gpointer             data);
  void     (*print)    (gpointer             data);
  void     (*teardown) (gpointer             data);
};

extern const BenchScenario bench_scenario_s1;       /* bench-cycle.c */
extern const BenchScenario bench_scenario_s2;       /* bench-cycle.c */
extern const BenchScenario bench_scenario_try;      /* bench-try.c */
extern const BenchScenario bench_scenario_s3;       /* bench-contended.c */
extern const BenchScenario bench_scenario_s4;       /* bench-queue.c */
extern const BenchScenario bench_scenario_s5;       /* bench-queue.c */
extern const BenchScenario bench_scenario_s6;       /* bench-threads.c */
extern const BenchScenario bench_scenario_idle;     /* bench-idle.c */
extern const BenchScenario bench_scenario_keyed;    /* bench-keyed.c */

G_END_DECLS
