/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* quickstart.c: readers share, a writer waits its turn and holds alone */

#include <aiorwlock-glib/aiorwlock.h>

#include <stdlib.h>

/* Width of the timeline picture, in columns. */
#define TIMELINE_WIDTH 60

/* Give up if the scenario has not finished by then: a hang is a failure. */
#define SAFETY_TIMEOUT_SECONDS 10

typedef struct _Demo Demo;

typedef struct
{
  const char *name;
  AioRwLockMode mode;
  guint arrive_ms;
  guint hold_ms;

  Demo *demo;
  AioRwLockGuard *guard;

  /* Monotonic times in µs; -1 until the event happened. */
  gint64 asked_at;
  gint64 acquired_at;
  gint64 released_at;
} Actor;

struct _Demo
{
  AioRwLock *lock;
  GMainLoop *loop;
  gint64 start;
  guint n_released;
  gboolean timed_out;
};

/* The seed scenario: three readers, a writer a little later, and three
 * readers that arrive while the writer is queued. */
static Actor actors[] = {
  { "reader 1", AIO_RW_LOCK_MODE_READ,   0, 120, },
  { "reader 2", AIO_RW_LOCK_MODE_READ,  10, 120, },
  { "reader 3", AIO_RW_LOCK_MODE_READ,  20, 120, },
  { "writer",   AIO_RW_LOCK_MODE_WRITE, 40, 150, },
  { "reader 4", AIO_RW_LOCK_MODE_READ,  60, 120, },
  { "reader 5", AIO_RW_LOCK_MODE_READ,  70, 120, },
  { "reader 6", AIO_RW_LOCK_MODE_READ,  80, 120, },
};

static gint64
elapsed_ms (Demo   *demo,
            gint64  when)
{
  return (when - demo->start) / 1000;
}

/* One line per event, with the lock's state right after it. */
static void
log_event (Actor      *actor,
           gint64      when,
           const char *what)
{
  AioRwLock *lock = actor->demo->lock;

  g_print ("[%4" G_GINT64_FORMAT " ms] %-8s %-8s (readers=%u, write-locked=%s, "
           "pending readers=%u, pending writers=%u)\n",
           elapsed_ms (actor->demo, when),
           actor->name,
           what,
           aio_rw_lock_get_readers (lock),
           aio_rw_lock_is_write_locked (lock) ? "yes" : "no",
           aio_rw_lock_get_pending_readers (lock),
           aio_rw_lock_get_pending_writers (lock));
}

static gboolean
actor_release_cb (gpointer user_data)
{
  Actor *actor = user_data;
  Demo *demo = actor->demo;

  actor->released_at = g_get_monotonic_time ();
  aio_rw_lock_guard_release (actor->guard);
  g_clear_pointer (&actor->guard, aio_rw_lock_guard_unref);

  /* Logged after the release: a waiter that was just granted already
   * shows in the counts, before its own callback has run. */
  log_event (actor, actor->released_at, "released");

  if (++demo->n_released == G_N_ELEMENTS (actors))
    g_main_loop_quit (demo->loop);

  return G_SOURCE_REMOVE;
}

static void
actor_acquired_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Actor *actor = user_data;
  AioRwLock *lock = AIO_RW_LOCK (source);
  g_autoptr(GError) error = NULL;

  if (actor->mode == AIO_RW_LOCK_MODE_WRITE)
    actor->guard = aio_rw_lock_acquire_write_finish (lock, result, &error);
  else
    actor->guard = aio_rw_lock_acquire_read_finish (lock, result, &error);

  if (actor->guard == NULL)
    {
      /* Nothing cancels or closes the lock here, so this is a bug. */
      g_printerr ("%s: acquisition failed: %s\n", actor->name, error->message);
      exit (EXIT_FAILURE);
    }

  actor->acquired_at = g_get_monotonic_time ();
  log_event (actor, actor->acquired_at, "acquired");

  /* Hold the lock for a while without blocking the main loop. */
  g_timeout_add (actor->hold_ms, actor_release_cb, actor);
}

static gboolean
actor_arrive_cb (gpointer user_data)
{
  Actor *actor = user_data;

  actor->asked_at = g_get_monotonic_time ();

  if (actor->mode == AIO_RW_LOCK_MODE_WRITE)
    aio_rw_lock_acquire_write_async (actor->demo->lock, NULL, actor_acquired_cb, actor);
  else
    aio_rw_lock_acquire_read_async (actor->demo->lock, NULL, actor_acquired_cb, actor);

  /* Logged after the call: a request that has to wait shows as pending. */
  log_event (actor, actor->asked_at, "asks");

  return G_SOURCE_REMOVE;
}

static gboolean
safety_timeout_cb (gpointer user_data)
{
  Demo *demo = user_data;

  g_printerr ("error: the scenario did not finish within %d s\n", SAFETY_TIMEOUT_SECONDS);
  demo->timed_out = TRUE;
  g_main_loop_quit (demo->loop);

  return G_SOURCE_REMOVE;
}

/* How long the intervals [a0, a1) and [b0, b1) share, in µs. */
static gint64
overlap_us (gint64 a0,
            gint64 a1,
            gint64 b0,
            gint64 b1)
{
  return MAX (MIN (a1, b1) - MAX (a0, b0), 0);
}

static void
print_timeline (Demo   *demo,
                gint64  end)
{
  gint64 total_us = MAX (end - demo->start, 1);

  g_print ("\ntimeline (R/W = holds the lock, . = waits for it):\n\n");

  for (guint i = 0; i < G_N_ELEMENTS (actors); i++)
    {
      const Actor *actor = &actors[i];
      char held = actor->mode == AIO_RW_LOCK_MODE_WRITE ? 'W' : 'R';
      char row[TIMELINE_WIDTH + 1];

      /* Each column shows what filled most of its slice of time, so the
       * main-loop round trip between a request and an immediate grant
       * does not show up as waiting. */
      for (guint col = 0; col < TIMELINE_WIDTH; col++)
        {
          gint64 c0 = demo->start + (total_us * col) / TIMELINE_WIDTH;
          gint64 c1 = demo->start + (total_us * (col + 1)) / TIMELINE_WIDTH;
          gint64 holding = overlap_us (c0, c1, actor->acquired_at, actor->released_at);
          gint64 waiting = overlap_us (c0, c1, actor->asked_at, actor->acquired_at);
          gint64 idle = (c1 - c0) - holding - waiting;

          if (holding >= waiting && holding >= idle)
            row[col] = held;
          else if (waiting >= idle)
            row[col] = '.';
          else
            row[col] = ' ';
        }
      row[TIMELINE_WIDTH] = '\0';

      g_print ("  %-8s |%s|\n", actor->name, row);
    }

  /* The axis: the frame's edges are 0 and the total, with a tick every
   * ten columns, labelled in ms below it. */
  g_print ("  %-8s +", "");
  for (guint col = 1; col < TIMELINE_WIDTH; col++)
    g_print ("%c", col % 10 == 0 ? '+' : '-');
  g_print ("-+\n");

  g_print ("  %-8s  ", "ms");
  for (guint col = 0; col < TIMELINE_WIDTH; col += 10)
    g_print ("%-10" G_GINT64_FORMAT, (total_us * col) / TIMELINE_WIDTH / 1000);
  g_print (" %" G_GINT64_FORMAT "\n\n", total_us / 1000);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Demo demo = { lock, loop, 0, 0, FALSE };
  const Actor *writer = NULL;
  guint safety_id;
  guint max_readers = 0;
  gboolean writer_alone = TRUE;
  gboolean late_readers_waited = TRUE;
  gint64 end = 0;

  g_print ("policy: %s (the default: no barging)\n\n",
           aio_rw_lock_get_policy (lock) == AIO_RW_LOCK_POLICY_FAIR ? "FAIR" : "other");

  demo.start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (actors); i++)
    {
      actors[i].demo = &demo;
      actors[i].asked_at = actors[i].acquired_at = actors[i].released_at = -1;
      g_timeout_add (actors[i].arrive_ms, actor_arrive_cb, &actors[i]);
    }
  safety_id = g_timeout_add_seconds (SAFETY_TIMEOUT_SECONDS, safety_timeout_cb, &demo);

  g_main_loop_run (loop);

  if (demo.timed_out)
    return EXIT_FAILURE;
  g_source_remove (safety_id);

  for (guint i = 0; i < G_N_ELEMENTS (actors); i++)
    {
      end = MAX (end, actors[i].released_at);
      if (actors[i].mode == AIO_RW_LOCK_MODE_WRITE)
        writer = &actors[i];
    }

  print_timeline (&demo, end);

  /* Everything below comes from the recorded intervals, so the picture
   * and the exit status cannot disagree with what really happened. */
  for (guint i = 0; i < G_N_ELEMENTS (actors); i++)
    {
      const Actor *a = &actors[i];
      guint concurrent = 0;

      if (a->mode != AIO_RW_LOCK_MODE_READ)
        continue;

      /* Concurrency peaks at some reader's entry: count who holds then. */
      for (guint j = 0; j < G_N_ELEMENTS (actors); j++)
        {
          const Actor *b = &actors[j];

          if (b->mode == AIO_RW_LOCK_MODE_READ &&
              a->acquired_at >= b->acquired_at && a->acquired_at < b->released_at)
            concurrent++;
        }
      max_readers = MAX (max_readers, concurrent);

      if (overlap_us (a->acquired_at, a->released_at,
                      writer->acquired_at, writer->released_at) > 0)
        writer_alone = FALSE;

      /* FAIR: a reader that asked after the writer enters after it. */
      if (a->asked_at > writer->asked_at && a->acquired_at < writer->released_at)
        late_readers_waited = FALSE;
    }

  g_print ("check: max concurrent readers = %u; writer overlapped with nobody: %s; "
           "late readers waited for the writer: %s\n",
           max_readers,
           writer_alone ? "yes" : "no",
           late_readers_waited ? "yes" : "no");

  if (max_readers < 2 || !writer_alone || !late_readers_waited)
    {
      g_printerr ("error: the lock did not behave as expected\n");
      return EXIT_FAILURE;
    }

  return EXIT_SUCCESS;
}
