/* bench-keyed.c: KEYED, a lock per key: AioRwLockTable against a hand-made map
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * N distinct keys ("/srv/data/0000042", ...). Each operation picks a key
 * uniformly at random (a sequence drawn in setup from a seeded GRand, so
 * that drawing costs nothing in the timed loop, and the same sequence on
 * both sides) and takes and releases one hold on it:
 *
 *   try-read     try_acquire READ + release + unref
 *   try-write    try_acquire WRITE + release + unref
 *   async-write  acquire_async WRITE -> callback (default context) ->
 *                release, one after the other, as S2 does
 *   held-read    try-read on keys that a reader holds for the whole run
 *
 * Uniform, not Zipf: every key is as likely as any, the worst case for the
 * caches of a map with N entries.
 *
 * The lock figure is an AioRwLockTable. Its baseline, measured right after
 * it in the same repetition, is what applications do without it: a
 * GHashTable of key -> AioRwLock, the lock made with aio_rw_lock_new () on
 * the key's first use and kept forever (the warm-up uses every key once,
 * so the timed runs find them all). The held-read sides are a table and a
 * map of their own, with a read guard on every key made in setup: there
 * the table has N live entries and finds them, where in the other three
 * nothing holds a key between operations, so each operation makes the
 * key's lock and finalizes it again, and the table is empty in between.
 *
 * At N = 10^3 and 10^5 (10^2 and 10^3 with --quick), --ops operations
 * per try phase (half as many async): ns per operation for both, their
 * ratio, and the growth of each side's cost from the smaller N to the
 * larger. Bytes: the heap in use (mallinfo2, with
 * G_SLICE=always-malloc) that each table or map added from its creation to
 * the end of the run (glibc's tcache keeps a few freed chunks counted as in
 * use: a few kB either way).
 *
 * Under valgrind --tool=callgrind each timed phase is dumped on its own,
 * named "KEYED SIDE WORKLOAD keys=N ops=M" (bench_callgrind_end ()).
 */

#include <math.h>

#include "bench-scenario.h"

#define N_SIZES 2

typedef enum
{
  WORKLOAD_TRY_READ,
  WORKLOAD_TRY_WRITE,
  WORKLOAD_ASYNC_WRITE,
  WORKLOAD_HELD_READ,
  N_WORKLOADS
} Workload;

static const char * const workload_names[N_WORKLOADS] = {
  "try-read", "try-write", "async-write", "held-read",
};

static const char * const workload_whats[N_WORKLOADS] = {
  "try_acquire READ + release + unref",
  "try_acquire WRITE + release + unref",
  "acquire_async WRITE -> callback -> release",
  "try_acquire READ + release + unref, every key held by a reader",
};

typedef enum
{
  SIDE_TABLE,
  SIDE_MAP,
  N_SIDES
} Side;

static const char * const side_names[N_SIDES] = { "table", "map" };

/* One side's locks: a table, or a hand-made map. */
typedef struct
{
  AioRwLockTable *table;    /* SIDE_TABLE */
  GHashTable     *map;      /* SIDE_MAP: key (owned) -> AioRwLock (owned) */
  GPtrArray      *readers;  /* held-read: a read guard per key */
  double          bytes;    /* heap in use it added since it was made */
} Locks;

typedef struct
{
  guint     n_keys;
  char    **keys;
  guint32  *picks;                      /* indices into keys, one per operation */
  guint32  *all;                        /* 0 .. n_keys - 1: the warm-up's */
  Locks     idle[N_SIDES];              /* try-read, try-write, async-write */
  Locks     held[N_SIDES];              /* held-read */
  GArray   *ns[N_WORKLOADS][N_SIDES];
} Size;

typedef struct
{
  guint      n_ops;                     /* per timed try phase */
  guint      n_async;                   /* per timed async phase */
  int        reps;
  guint      failures;
  Size       sizes[N_SIZES];

  /* The async phase that runs. */
  Locks         *locks;
  char         **keys;
  const guint32 *picks;
  guint          next;
  guint          end;
  GMainLoop     *loop;
} Keyed;

/* ---- Both sides ---- */

/* The hand-made map's lock of KEY, made on first use. */
static AioRwLock *
map_lock (GHashTable *map,
          const char *key)
{
  AioRwLock *lock = g_hash_table_lookup (map, key);

  if (lock == NULL)
    {
      lock = aio_rw_lock_new ();
      g_hash_table_insert (map, g_strdup (key), lock);
    }

  return lock;
}

static AioRwLockGuard *
locks_try_acquire (Locks         *locks,
                   const char    *key,
                   AioRwLockMode  mode)
{
  if (locks->table != NULL)
    return aio_rw_lock_table_try_acquire (locks->table, key, mode, NULL);

  return aio_rw_lock_try_acquire (map_lock (locks->map, key), mode, NULL);
}

static void
release (Keyed          *k,
         AioRwLockGuard *guard)
{
  if (G_UNLIKELY (guard == NULL))
    {
      k->failures++;
      return;
    }
  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
}

static void
try_loop (Keyed          *k,
          Locks          *locks,
          char          **keys,
          const guint32  *picks,
          guint           n,
          AioRwLockMode   mode)
{
  for (guint i = 0; i < n; i++)
    release (k, locks_try_acquire (locks, keys[picks[i]], mode));
}

static void async_start (Keyed *k);

static void
on_async_acquired (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Keyed *k = user_data;

  if (k->locks->table != NULL)
    release (k, aio_rw_lock_table_acquire_finish (AIO_RW_LOCK_TABLE (source), result, NULL));
  else
    release (k, aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, NULL));

  if (++k->next == k->end)
    g_main_loop_quit (k->loop);
  else
    async_start (k);
}

static void
async_start (Keyed *k)
{
  const char *key = k->keys[k->picks[k->next]];

  if (k->locks->table != NULL)
    aio_rw_lock_table_acquire_async (k->locks->table, key, AIO_RW_LOCK_MODE_WRITE, -1, NULL,
                                     on_async_acquired, k);
  else
    aio_rw_lock_acquire_async (map_lock (k->locks->map, key), AIO_RW_LOCK_MODE_WRITE, -1, NULL,
                               on_async_acquired, k);
}

static void
async_loop (Keyed          *k,
            Locks          *locks,
            char          **keys,
            const guint32  *picks,
            guint           n)
{
  k->locks = locks;
  k->keys = keys;
  k->picks = picks;
  k->next = 0;
  k->end = n;
  k->loop = g_main_loop_new (NULL, FALSE);

  async_start (k);
  g_main_loop_run (k->loop);

  g_clear_pointer (&k->loop, g_main_loop_unref);
  k->locks = NULL;
}

/* N operations of WORKLOAD on LOCKS, the keys KEYS[PICKS[i]]; returns ns
 * per operation and adds what the heap grew by to LOCKS' bytes. WHAT
 * names the phase for callgrind (NULL: not dumped). */
static double
run_phase (Keyed          *k,
           Locks          *locks,
           Workload        workload,
           char          **keys,
           const guint32  *picks,
           guint           n,
           const char     *what)
{
  double heap = bench_heap_in_use ();
  gint64 t0, t1;

  if (what != NULL)
    bench_callgrind_begin ();
  t0 = bench_now_ns ();
  switch (workload)
    {
    case WORKLOAD_TRY_READ:
    case WORKLOAD_HELD_READ:
      try_loop (k, locks, keys, picks, n, AIO_RW_LOCK_MODE_READ);
      break;
    case WORKLOAD_TRY_WRITE:
      try_loop (k, locks, keys, picks, n, AIO_RW_LOCK_MODE_WRITE);
      break;
    case WORKLOAD_ASYNC_WRITE:
      async_loop (k, locks, keys, picks, n);
      break;
    case N_WORKLOADS:
    default:
      g_assert_not_reached ();
    }
  t1 = bench_now_ns ();
  if (what != NULL)
    bench_callgrind_end (what);

  /* The last GTasks, and their locks, go. */
  bench_settle_context (NULL);
  locks->bytes += bench_heap_in_use () - heap;

  return (double) (t1 - t0) / n;
}

static Locks *
locks_of (Size     *s,
          Workload  workload,
          Side      side)
{
  return workload == WORKLOAD_HELD_READ ? &s->held[side] : &s->idle[side];
}

/* ---- The scenario ---- */

static void
locks_init (Locks *locks,
            Side   side)
{
  double heap = bench_heap_in_use ();

  if (side == SIDE_TABLE)
    locks->table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  else
    locks->map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  locks->bytes = bench_heap_in_use () - heap;
}

/* A reader on every key, for the whole run. */
static void
locks_hold (Keyed  *k,
            Locks  *locks,
            char  **keys,
            guint   n_keys)
{
  double heap;

  locks->readers = g_ptr_array_sized_new (n_keys);
  heap = bench_heap_in_use ();
  for (guint i = 0; i < n_keys; i++)
    {
      AioRwLockGuard *guard = locks_try_acquire (locks, keys[i], AIO_RW_LOCK_MODE_READ);

      if (guard == NULL)
        k->failures++;
      else
        g_ptr_array_add (locks->readers, guard);
    }
  locks->bytes += bench_heap_in_use () - heap;
}

/* What GLib makes once (types, the default context's completion source):
 * made here, it is counted on neither side. */
static void
prewarm (Keyed *k)
{
  g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
  g_autoptr(GHashTable) map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  Locks locks[N_SIDES] = { { table, NULL, NULL, 0 }, { NULL, map, NULL, 0 } };
  char *keys[] = { (char *) "/prewarm" };
  const guint32 picks[] = { 0 };

  for (int side = 0; side < N_SIDES; side++)
    for (int w = 0; w < N_WORKLOADS; w++)
      run_phase (k, &locks[side], w, keys, picks, 1, NULL);
}

static gpointer
keyed_setup (const BenchScenario *scenario,
             const BenchConfig   *config)
{
  const guint n_keys[N_SIZES] = { config->quick ? 100 : 1000, config->quick ? 1000 : 100000 };
  Keyed *k = g_new0 (Keyed, 1);

  k->n_ops = config->ops;
  k->n_async = MAX (config->ops / 2, 1);
  k->reps = config->reps;

  prewarm (k);

  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];
      g_autoptr(GRand) rand = g_rand_new_with_seed (n_keys[z]);

      s->n_keys = n_keys[z];
      s->keys = g_new0 (char *, s->n_keys + 1);
      s->all = g_new (guint32, s->n_keys);
      for (guint i = 0; i < s->n_keys; i++)
        {
          s->keys[i] = g_strdup_printf ("/srv/data/%07u", i);
          s->all[i] = i;
        }
      s->picks = g_new (guint32, k->n_ops);
      for (guint i = 0; i < k->n_ops; i++)
        s->picks[i] = g_rand_int_range (rand, 0, s->n_keys);

      for (int side = 0; side < N_SIDES; side++)
        {
          locks_init (&s->idle[side], side);
          locks_init (&s->held[side], side);
          locks_hold (k, &s->held[side], s->keys, s->n_keys);
          for (int w = 0; w < N_WORKLOADS; w++)
            s->ns[w][side] = bench_samples_new ();
        }
    }

  return k;
}

/* Every phase once, in each the table's right before the map's. The
 * warm-up (TIMED false) uses every key once: the map makes all its locks. */
static void
run_phases (Keyed    *k,
            gboolean  timed)
{
  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];

      for (int w = 0; w < N_WORKLOADS; w++)
        for (int side = 0; side < N_SIDES; side++)
          {
            guint n = !timed ? s->n_keys : w == WORKLOAD_ASYNC_WRITE ? k->n_async : k->n_ops;
            g_autofree char *what = NULL;
            double ns;

            if (timed)
              what = g_strdup_printf ("KEYED %s %s keys=%u ops=%u", side_names[side],
                                      workload_names[w], s->n_keys, n);
            ns = run_phase (k, locks_of (s, w, side), w, s->keys, timed ? s->picks : s->all, n,
                            what);
            if (timed)
              bench_samples_add (s->ns[w][side], ns);
          }
    }
}

static void
keyed_warm_up (gpointer data)
{
  run_phases (data, FALSE);
}

static void
keyed_run (gpointer data)
{
  run_phases (data, TRUE);
}

/* The checks, at the end of the run. */
static gboolean
keyed_check (Keyed *k)
{
  gboolean ok = bench_check (k->failures == 0, "KEYED: %u acquisitions failed", k->failures);

  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];
      guint idle_keys = aio_rw_lock_table_get_n_keys (s->idle[SIDE_TABLE].table);
      guint held_keys = aio_rw_lock_table_get_n_keys (s->held[SIDE_TABLE].table);
      guint not_free = 0, not_held = 0;
      GHashTableIter iter;
      gpointer lock;

      g_hash_table_iter_init (&iter, s->idle[SIDE_MAP].map);
      while (g_hash_table_iter_next (&iter, NULL, &lock))
        if (!bench_lock_is_free (lock))
          not_free++;
      for (int side = 0; side < N_SIDES; side++)
        for (guint i = 0; i < s->held[side].readers->len; i++)
          if (!aio_rw_lock_guard_is_held (g_ptr_array_index (s->held[side].readers, i)))
            not_held++;

      ok = bench_check (idle_keys == 0, "KEYED: %u keys: %u left in the table, none held",
                        s->n_keys, idle_keys) && ok;
      ok = bench_check (held_keys == s->n_keys, "KEYED: %u keys held: the table has %u",
                        s->n_keys, held_keys) && ok;
      ok = bench_check (g_hash_table_size (s->idle[SIDE_MAP].map) == s->n_keys,
                        "KEYED: %u keys: the map has %u locks",
                        s->n_keys, g_hash_table_size (s->idle[SIDE_MAP].map)) && ok;
      ok = bench_check (not_free == 0, "KEYED: %u of the map's locks are not free", not_free) && ok;
      ok = bench_check (not_held == 0, "KEYED: %u readers were released", not_held) && ok;
    }

  return ok;
}

static void
keyed_print (gpointer data)
{
  Keyed *k = data;
  const gboolean bytes_valid = bench_gslice_bypassed ();
  const gboolean ok = keyed_check (k);
  Size *small = &k->sizes[0], *large = &k->sizes[N_SIZES - 1];
  BenchJson j;

  if (!bytes_valid)
    g_printerr ("bench-rw-lock: KEYED: G_SLICE is not always-malloc: byte counts are not "
                "reported\n");

  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];

      for (int w = 0; w < N_WORKLOADS; w++)
        {
          g_autofree char *what = g_strdup_printf ("%s, a uniformly random key of %u",
                                                   workload_whats[w], s->n_keys);
          BenchStats table = bench_stats_of (s->ns[w][SIDE_TABLE]);
          BenchStats map = bench_stats_of (s->ns[w][SIDE_MAP]);

          bench_json_begin (&j, "KEYED", what);
          bench_json_str (&j, "workload", workload_names[w]);
          bench_json_int (&j, "keys", s->n_keys);
          bench_json_int (&j, "n", w == WORKLOAD_ASYNC_WRITE ? k->n_async : k->n_ops);
          bench_json_int (&j, "reps", k->reps);
          bench_json_stats (&j, NULL, &table);
          bench_json_baseline (&j, "baseline_map_ns", &map);
          bench_json_num (&j, "ratio_vs_map", bench_ratio (table.median, map.median));
          bench_json_bool (&j, "checks_ok", ok);
          bench_json_end (&j);
        }
    }

  for (int w = 0; w < N_WORKLOADS; w++)
    {
      g_autofree char *what = g_strdup_printf ("%s: growth of the per-op cost, %u -> %u keys",
                                               workload_whats[w], small->n_keys, large->n_keys);
      g_autofree char *row = g_strdup_printf ("%s growth %u -> %u keys",
                                              workload_names[w], small->n_keys, large->n_keys);
      g_autofree char *cost_row = g_strdup_printf ("%s, %u keys", workload_names[w],
                                                   large->n_keys);
      double table_large = bench_median_of (large->ns[w][SIDE_TABLE]);
      double map_large = bench_median_of (large->ns[w][SIDE_MAP]);
      double table_growth = bench_ratio (table_large, bench_median_of (small->ns[w][SIDE_TABLE]));
      double map_growth = bench_ratio (map_large, bench_median_of (small->ns[w][SIDE_MAP]));

      bench_json_begin (&j, "KEYED", what);
      bench_json_str (&j, "workload", workload_names[w]);
      bench_json_int (&j, "keys_from", small->n_keys);
      bench_json_int (&j, "keys_to", large->n_keys);
      bench_json_num (&j, "table_growth", table_growth);
      bench_json_num (&j, "baseline_map_growth", map_growth);
      bench_json_bool (&j, "checks_ok", ok);
      bench_json_end (&j);

      bench_summary_add ("KEYED", cost_row, table_large, "ns/op", "hand-made map", map_large);
      bench_summary_add ("KEYED", row, table_growth, "x", "hand-made map growth", map_growth);
    }

  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];
      g_autofree char *what = g_strdup_printf ("heap in use each table or map added, "
                                               "from its creation to the end, %u keys",
                                               s->n_keys);
      g_autofree char *row = g_strdup_printf ("bytes after the run, %u keys, none held", s->n_keys);
      g_autofree char *held_row = g_strdup_printf ("bytes per key, %u keys held", s->n_keys);
      double bytes[N_SIDES], held_bytes[N_SIDES];

      for (int side = 0; side < N_SIDES; side++)
        {
          bytes[side] = bytes_valid ? s->idle[side].bytes : NAN;
          held_bytes[side] = bytes_valid ? s->held[side].bytes : NAN;
        }

      bench_json_begin (&j, "KEYED", what);
      bench_json_int (&j, "keys", s->n_keys);
      bench_json_num (&j, "table_bytes", bytes[SIDE_TABLE]);
      bench_json_num (&j, "baseline_map_bytes", bytes[SIDE_MAP]);
      bench_json_int (&j, "table_n_keys", aio_rw_lock_table_get_n_keys (s->idle[SIDE_TABLE].table));
      bench_json_int (&j, "map_n_locks", g_hash_table_size (s->idle[SIDE_MAP].map));
      bench_json_num (&j, "held_table_bytes_per_key", held_bytes[SIDE_TABLE] / s->n_keys);
      bench_json_num (&j, "held_map_bytes_per_key", held_bytes[SIDE_MAP] / s->n_keys);
      bench_json_bool (&j, "bytes_valid", bytes_valid);
      bench_json_bool (&j, "checks_ok", ok);
      bench_json_end (&j);

      if (s != large)
        continue;
      bench_summary_add ("KEYED", row, bytes[SIDE_TABLE], "bytes", "hand-made map", bytes[SIDE_MAP]);
      bench_summary_add ("KEYED", held_row, held_bytes[SIDE_TABLE] / s->n_keys, "bytes",
                         "hand-made map", held_bytes[SIDE_MAP] / s->n_keys);
    }
}

static void
keyed_teardown (gpointer data)
{
  Keyed *k = data;

  for (guint z = 0; z < N_SIZES; z++)
    {
      Size *s = &k->sizes[z];

      for (int side = 0; side < N_SIDES; side++)
        {
          for (guint i = 0; i < s->held[side].readers->len; i++)
            release (k, g_ptr_array_index (s->held[side].readers, i));
          g_ptr_array_unref (s->held[side].readers);
          g_clear_object (&s->idle[side].table);
          g_clear_object (&s->held[side].table);
          g_clear_pointer (&s->idle[side].map, g_hash_table_unref);
          g_clear_pointer (&s->held[side].map, g_hash_table_unref);
          for (int w = 0; w < N_WORKLOADS; w++)
            g_array_unref (s->ns[w][side]);
        }
      g_strfreev (s->keys);
      g_free (s->picks);
      g_free (s->all);
    }
  bench_settle_context (NULL);
  g_free (k);
}

const BenchScenario bench_scenario_keyed = {
  "KEYED", "a lock per key: AioRwLockTable vs a hand-made GHashTable of AioRwLocks, 10^5 keys",
  NULL,
  keyed_setup, keyed_warm_up, keyed_run, keyed_print, keyed_teardown,
};
