/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache-viewer.c: a GTK 4 window that shows who holds an AioRwLock.
 *
 * An in-memory cache of key=value entries is guarded by a lock named
 * "cache". Eight reader loops on the main context take READ holds with
 * aio_rw_lock_acquire_async (), copy the cache into the window's list when
 * it changed, and keep their hold for a moment. "Rebuild" runs a worker
 * thread (GTask) that takes the WRITE hold with the blocking
 * aio_rw_lock_acquire () and rebuilds the cache entry by entry, for a few
 * seconds. The main thread never waits for the lock, so the window keeps
 * drawing and answering clicks while the writer holds it.
 *
 * The panel on the right is bound to an AioRwLockMonitor: its properties
 * drive labels through g_object_bind_property (), its GListModel of
 * AioRwLockHoldInfo items fills a list of holders and waiters, and its
 * notifications feed a timeline of the last ten seconds.
 *
 * `cache-viewer --self-test FILE.png` (run under xvfb-run by the test
 * 'example-cache-viewer-gtk') drives a rebuild with a two-second write
 * hold, checks that the window drew at least 20 frames and handled a click
 * during the hold, that the monitor showed the writer (labelled with
 * aio_rw_lock_guard_set_label (), timed, on the worker thread) and the
 * readers waiting behind it, and saves a screenshot taken during the hold. It exits
 * with status 1 and a message on the first failed check, or when a check
 * has not finished after 60 s. */

#include <aiorwlock-glib/aiorwlock.h>
#include <gtk/gtk.h>

#ifdef HAVE_XTEST
# include <gdk/x11/gdkx.h>
# include <X11/extensions/XTest.h>
#endif

#include <string.h>
#include <unistd.h>

#define N_READERS 8
#define N_ENTRIES 24
#define TIMELINE_USEC (10 * G_USEC_PER_SEC)
#define SELF_TEST_HOLD_MSEC 2000
#define SELF_TEST_WARM_UP_MSEC 3000  /* readers only, for the timeline */
#define SELF_TEST_MIN_FRAMES 20
#define SELF_TEST_DEADLINE_SECONDS 60

/* The data the lock guards. Shared with the rebuild thread, so it outlives
 * the window if a rebuild is still running when the window goes. */
typedef struct
{
  GPtrArray *entries;   /* char *, "key = value" */
  guint      generation;
} Cache;

static Cache *
cache_new (void)
{
  Cache *cache = g_atomic_rc_box_new0 (Cache);

  cache->entries = g_ptr_array_new_with_free_func (g_free);
  return cache;
}

static void
cache_clear (Cache *cache)
{
  g_ptr_array_unref (cache->entries);
}

static void
cache_unref (Cache *cache)
{
  g_atomic_rc_box_release_full (cache, (GDestroyNotify) cache_clear);
}

static char *
cache_make_entry (guint generation,
                  guint i)
{
  static const char *const words[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
  };

  return g_strdup_printf ("key-%02u = %s (generation %u)",
                          i, words[(i + generation) % G_N_ELEMENTS (words)], generation);
}

typedef struct _Viewer Viewer;

typedef struct
{
  Viewer         *viewer;
  guint           number;
  char            label[16];  /* "reader N", what the monitor shows */
  AioRwLockGuard *guard;      /* while the reader holds the lock */
  guint           source_id;  /* the end of its hold, or its next request */
  gboolean        requesting;
} Reader;

/* One state of the lock as the monitor told it, for the timeline. */
typedef struct
{
  gint64   usec;
  guint    readers;
  guint    pending_readers;
  guint    pending_writers;
  gboolean write_locked;
} Sample;

/* What the rebuild thread owns; read by the main thread once it is done. */
typedef struct
{
  AioRwLock *lock;
  Cache     *cache;
  guint      hold_msec;
  guint      number;
  gint64     acquired_usec;  /* the write hold, measured inside it */
  gint64     released_usec;
  gboolean   completed;
} RebuildJob;

typedef struct
{
  char       *screenshot_path;
  /* The deadline is kept by a thread of its own, so that it also fails a
   * main thread that hangs (on the lock, say) instead of only a slow one. */
  GThread    *watchdog;
  GMutex      watchdog_mutex;
  GCond       watchdog_cond;
  gboolean    watchdog_stop;
  const char *stage;            /* static strings; under watchdog_mutex */
  gboolean    finished;         /* passed, or a failure was reported */

  GArray     *tick_usecs;       /* gint64: every frame of the window */
  GArray     *draw_usecs;       /* gint64: every draw of the timeline */
  gint64      ping_usec;        /* when the ping action last ran */
  gint64      click_sent_usec;  /* when the click was sent */
  const char *click_path;       /* how it was sent */
  gboolean    saw_write_locked; /* the monitor's write-locked became TRUE */
  guint       max_waiting_readers;  /* beside a held WRITE item in the model */
  gboolean    saw_writer_item;
  GdkTexture *screenshot;
  guint       screenshot_waiting_readers;
  RebuildJob  result;           /* a copy of the finished job */
  gboolean    rebuild_done;
  char       *rebuild_error;
} SelfTest;

struct _Viewer
{
  GtkApplication   *app;
  GtkWidget        *window;
  GtkWidget        *rebuild_button;
  GtkWidget        *ping_button;
  GtkWidget        *status_label;
  GtkWidget        *ping_label;
  GtkWidget        *timeline;
  GtkStringList    *shown;             /* what the readers copied out */
  guint             shown_generation;

  AioRwLock        *lock;
  AioRwLockMonitor *monitor;
  Cache            *cache;             /* guarded by lock */
  GCancellable     *cancellable;       /* cancelled at shutdown */
  Reader            readers[N_READERS];
  guint             requests_in_flight;
  guint             reads;

  gboolean          rebuilding;
  guint             rebuilds;
  guint             rebuild_msec;
  guint             pings;

  GHashTable       *bound_rows;        /* rows of the holds list on screen */
  guint             rows_timer_id;
  GArray           *samples;           /* Sample, oldest first */

  SelfTest         *self_test;         /* NULL unless --self-test */
  int               exit_status;
};

static void start_read (Reader *reader);
static gboolean self_test_fail (Viewer *viewer, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* ---- the readers: async READ holds on the main context ---- */

static gboolean
on_read_pause_over (gpointer user_data)
{
  Reader *reader = user_data;

  reader->source_id = 0;
  start_read (reader);
  return G_SOURCE_REMOVE;
}

static gboolean
on_read_hold_over (gpointer user_data)
{
  Reader *reader = user_data;

  reader->source_id = 0;
  aio_rw_lock_guard_release (reader->guard);
  g_clear_pointer (&reader->guard, aio_rw_lock_guard_unref);
  reader->source_id = g_timeout_add (g_random_int_range (50, 400), on_read_pause_over, reader);
  return G_SOURCE_REMOVE;
}

/* Under the READ hold: copy the cache into the window if it changed. */
static void
read_cache (Viewer *viewer)
{
  Cache *cache = viewer->cache;
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) strv = NULL;

  viewer->reads++;
  if (cache->generation == viewer->shown_generation)
    return;

  builder = g_strv_builder_new ();
  for (guint i = 0; i < cache->entries->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (cache->entries, i));
  strv = g_strv_builder_end (builder);

  gtk_string_list_splice (viewer->shown, 0,
                          g_list_model_get_n_items (G_LIST_MODEL (viewer->shown)),
                          (const char * const *) strv);
  viewer->shown_generation = cache->generation;
}

static void
on_read_granted (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Reader *reader = user_data;
  Viewer *viewer = reader->viewer;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard;

  g_assert (AIO_IS_RW_LOCK (source));

  reader->requesting = FALSE;
  viewer->requests_in_flight--;

  guard = aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, &error);
  if (guard == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("reader %u: %s", reader->number, error->message);
      return;
    }

  reader->guard = guard;
  aio_rw_lock_guard_set_label (guard, reader->label);
  read_cache (viewer);
  reader->source_id = g_timeout_add (g_random_int_range (150, 500), on_read_hold_over, reader);
}

static void
start_read (Reader *reader)
{
  Viewer *viewer = reader->viewer;

  if (g_cancellable_is_cancelled (viewer->cancellable))
    return;

  reader->requesting = TRUE;
  viewer->requests_in_flight++;
  aio_rw_lock_acquire_async (viewer->lock, AIO_RW_LOCK_MODE_READ, -1,
                             viewer->cancellable, on_read_granted, reader);
}

/* ---- the rebuild: a WRITE hold taken by a worker thread ---- */

static void
rebuild_job_free (RebuildJob *job)
{
  g_object_unref (job->lock);
  cache_unref (job->cache);
  g_free (job);
}

/* On the worker thread: the blocking acquire may wait here, never on the
 * main thread. The new entries are made while the hold lasts, slowly, as a
 * stand-in for real work, and replace the old ones at the end. */
static void
rebuild_in_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  RebuildJob *job = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(AioRwLockGuard) guard = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autofree char *label = NULL;
  gint64 deadline;

  guard = aio_rw_lock_acquire (job->lock, AIO_RW_LOCK_MODE_WRITE, -1, cancellable, &error);
  if (guard == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  job->acquired_usec = g_get_monotonic_time ();
  label = g_strdup_printf ("rebuild %u", job->number);
  aio_rw_lock_guard_set_label (guard, label);
  deadline = job->acquired_usec + (gint64) job->hold_msec * 1000;
  entries = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < N_ENTRIES; i++)
    {
      gint64 step_end = job->acquired_usec + (gint64) job->hold_msec * 1000 * (i + 1) / N_ENTRIES;
      gint64 now = g_get_monotonic_time ();

      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (step_end > now)
        g_usleep (step_end - now);
      g_ptr_array_add (entries, cache_make_entry (job->cache->generation + 1, i));
    }

  /* The last step may wake a little early on a coarse clock. */
  while (!g_cancellable_is_cancelled (cancellable) && g_get_monotonic_time () < deadline)
    g_usleep (deadline - g_get_monotonic_time ());

  if (entries->len == N_ENTRIES)
    {
      g_ptr_array_unref (job->cache->entries);
      job->cache->entries = g_steal_pointer (&entries);
      job->cache->generation++;
      job->completed = TRUE;
    }

  job->released_usec = g_get_monotonic_time ();
  aio_rw_lock_guard_release (guard);

  g_task_return_boolean (task, TRUE);
}

static void self_test_rebuild_done (Viewer *viewer, RebuildJob *job, const GError *error);

static void
on_rebuild_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Viewer *viewer = user_data;
  RebuildJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;

  g_assert (G_IS_TASK (result));

  viewer->rebuilding = FALSE;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    status = g_strdup_printf ("Rebuild %u failed: %s", job->number, error->message);
  else
    status = g_strdup_printf ("Rebuild %u held the write lock for %.2f s",
                              job->number,
                              (job->released_usec - job->acquired_usec) / (double) G_USEC_PER_SEC);

  /* The window may have been closed while the thread finished. */
  if (viewer->window != NULL)
    {
      gtk_widget_set_sensitive (viewer->rebuild_button, TRUE);
      gtk_label_set_text (GTK_LABEL (viewer->status_label), status);
    }

  if (viewer->self_test != NULL)
    self_test_rebuild_done (viewer, job, error);
}

static void
start_rebuild (Viewer *viewer)
{
  g_autoptr(GTask) task = NULL;
  RebuildJob *job;
  g_autofree char *status = NULL;

  if (viewer->rebuilding)
    return;

  job = g_new0 (RebuildJob, 1);
  job->lock = g_object_ref (viewer->lock);
  job->cache = g_atomic_rc_box_acquire (viewer->cache);
  job->hold_msec = viewer->rebuild_msec;
  job->number = ++viewer->rebuilds;

  viewer->rebuilding = TRUE;
  gtk_widget_set_sensitive (viewer->rebuild_button, FALSE);
  status = g_strdup_printf ("Rebuild %u: waiting for the write lock…", job->number);
  gtk_label_set_text (GTK_LABEL (viewer->status_label), status);

  task = g_task_new (NULL, viewer->cancellable, on_rebuild_done, viewer);
  g_task_set_source_tag (task, start_rebuild);
  g_task_set_task_data (task, job, (GDestroyNotify) rebuild_job_free);
  g_task_run_in_thread (task, rebuild_in_thread);
}

static void
on_rebuild_activated (GSimpleAction *action,
                      GVariant      *parameter,
                      gpointer       user_data)
{
  start_rebuild (user_data);
}

/* Any action will do to show that the window answers during the hold. */
static void
on_ping_activated (GSimpleAction *action,
                   GVariant      *parameter,
                   gpointer       user_data)
{
  Viewer *viewer = user_data;
  g_autofree char *text = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");

  viewer->pings++;
  text = g_strdup_printf ("Pinged %u× (last at %s)", viewer->pings, clock);
  gtk_label_set_text (GTK_LABEL (viewer->ping_label), text);

  if (viewer->self_test != NULL)
    viewer->self_test->ping_usec = g_get_monotonic_time ();
}

/* ---- the monitor panel ---- */

static const char *
mode_to_string (AioRwLockMode mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      return "read";
    case AIO_RW_LOCK_MODE_WRITE:
      return "write";
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      return "upgradable";
    default:
      return "?";
    }
}

/* A hold or wait began before anything recorded it, or the library does
 * not record times: show a dash rather than a made-up duration. */
static char *
format_since (gint64 since_usec,
              gint64 now_usec)
{
  if (since_usec == 0)
    return g_strdup ("—");
  return g_strdup_printf ("%.1f s", MAX (now_usec - since_usec, 0) / (double) G_USEC_PER_SEC);
}

static char *
format_thread (guint64 thread_id)
{
  if (thread_id == 0)
    return g_strdup ("—");
  return g_strdup_printf ("%" G_GUINT64_FORMAT, thread_id);
}

enum { COL_MODE, COL_STATE, COL_SINCE, COL_THREAD, COL_LABEL, N_COLS };

static const int column_chars[N_COLS] = { 10, 8, 7, 8, 12 };

static GtkWidget *
make_row (const char * const *texts,
          gboolean            heading)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  for (guint i = 0; i < N_COLS; i++)
    {
      GtkWidget *label = gtk_label_new (texts != NULL ? texts[i] : NULL);

      gtk_label_set_xalign (GTK_LABEL (label), 0.0);
      gtk_label_set_width_chars (GTK_LABEL (label), column_chars[i]);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      if (i == COL_LABEL)
        gtk_widget_set_hexpand (label, TRUE);
      /* Same font as the rows, so that the columns line up. */
      if (heading)
        gtk_widget_add_css_class (label, "dim-label");
      else if (i == COL_SINCE || i == COL_THREAD)
        gtk_widget_add_css_class (label, "numeric");
      gtk_box_append (GTK_BOX (row), label);
    }
  return row;
}

static GtkWidget *
row_column (GtkWidget *row,
            guint      column)
{
  GtkWidget *child = gtk_widget_get_first_child (row);

  while (column-- > 0)
    child = gtk_widget_get_next_sibling (child);
  return child;
}

static void
on_hold_row_setup (GtkSignalListItemFactory *factory,
                   GtkListItem              *list_item,
                   gpointer                  user_data)
{
  gtk_list_item_set_child (list_item, make_row (NULL, FALSE));
}

static void
update_hold_row_since (GtkWidget         *row,
                       AioRwLockHoldInfo *info)
{
  g_autofree char *since = format_since (aio_rw_lock_hold_info_get_since_usec (info),
                                         g_get_monotonic_time ());

  gtk_label_set_text (GTK_LABEL (row_column (row, COL_SINCE)), since);
}

static void
on_hold_row_bind (GtkSignalListItemFactory *factory,
                  GtkListItem              *list_item,
                  gpointer                  user_data)
{
  Viewer *viewer = user_data;
  GtkWidget *row = gtk_list_item_get_child (list_item);
  AioRwLockHoldInfo *info = gtk_list_item_get_item (list_item);
  gboolean waiting = aio_rw_lock_hold_info_is_waiting (info);
  const char *label = aio_rw_lock_hold_info_get_label (info);
  g_autofree char *thread = format_thread (aio_rw_lock_hold_info_get_thread_id (info));

  gtk_label_set_text (GTK_LABEL (row_column (row, COL_MODE)),
                      mode_to_string (aio_rw_lock_hold_info_get_mode (info)));
  gtk_label_set_text (GTK_LABEL (row_column (row, COL_STATE)), waiting ? "waiting" : "holds");
  gtk_label_set_text (GTK_LABEL (row_column (row, COL_THREAD)), thread);
  gtk_label_set_text (GTK_LABEL (row_column (row, COL_LABEL)),
                      label != NULL && *label != '\0' ? label : "—");
  update_hold_row_since (row, info);

  if (waiting)
    gtk_widget_add_css_class (row, "dim-label");
  else
    gtk_widget_remove_css_class (row, "dim-label");

  g_hash_table_replace (viewer->bound_rows, row, info);
}

static void
on_hold_row_unbind (GtkSignalListItemFactory *factory,
                    GtkListItem              *list_item,
                    gpointer                  user_data)
{
  Viewer *viewer = user_data;

  g_hash_table_remove (viewer->bound_rows, gtk_list_item_get_child (list_item));
}

/* The items do not change while a hold lasts; its duration does. */
static gboolean
on_rows_timer (gpointer user_data)
{
  Viewer *viewer = user_data;
  GHashTableIter iter;
  gpointer row, info;

  g_hash_table_iter_init (&iter, viewer->bound_rows);
  while (g_hash_table_iter_next (&iter, &row, &info))
    update_hold_row_since (row, info);
  return G_SOURCE_CONTINUE;
}

static gboolean
boolean_to_yes_no (GBinding     *binding,
                   const GValue *from_value,
                   GValue       *to_value,
                   gpointer      user_data)
{
  g_value_set_string (to_value, g_value_get_boolean (from_value) ? "yes" : "no");
  return TRUE;
}

static void self_test_check_model (Viewer *viewer);

static void
add_sample (Viewer *viewer)
{
  Sample sample = {
    .usec = g_get_monotonic_time (),
    .readers = aio_rw_lock_monitor_get_readers (viewer->monitor),
    .pending_readers = aio_rw_lock_monitor_get_pending_readers (viewer->monitor),
    .pending_writers = aio_rw_lock_monitor_get_pending_writers (viewer->monitor),
    .write_locked = aio_rw_lock_monitor_is_write_locked (viewer->monitor),
  };
  guint old = 0;

  /* Keep one sample older than the window, where the first bar starts. */
  while (old + 1 < viewer->samples->len &&
         g_array_index (viewer->samples, Sample, old + 1).usec < sample.usec - TIMELINE_USEC)
    old++;
  if (old > 0)
    g_array_remove_range (viewer->samples, 0, old);

  g_array_append_val (viewer->samples, sample);
}

static void
on_monitor_notify (GObject    *object,
                   GParamSpec *pspec,
                   gpointer    user_data)
{
  Viewer *viewer = user_data;

  add_sample (viewer);

  /* The worker thread cannot touch widgets; the monitor tells the main
   * thread when its hold began. */
  if (viewer->rebuilding && viewer->window != NULL &&
      g_strcmp0 (pspec->name, "write-locked") == 0 &&
      aio_rw_lock_monitor_is_write_locked (viewer->monitor))
    {
      g_autofree char *status = g_strdup_printf ("Rebuild %u holds the write lock and rebuilds the cache…",
                                                 viewer->rebuilds);

      gtk_label_set_text (GTK_LABEL (viewer->status_label), status);
    }

  if (viewer->self_test != NULL)
    self_test_check_model (viewer);
}

static void
on_monitor_items_changed (GListModel *model,
                          guint       position,
                          guint       removed,
                          guint       added,
                          gpointer    user_data)
{
  Viewer *viewer = user_data;

  add_sample (viewer);
  if (viewer->self_test != NULL)
    self_test_check_model (viewer);
}

/* ---- the timeline: three lanes over the last ten seconds ---- */

static void
draw_lane_label (GtkWidget  *widget,
                 cairo_t    *cr,
                 double      y,
                 const char *text)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (widget, text);

  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_move_to (cr, 4, y);
  pango_cairo_show_layout (cr, layout);
  g_object_unref (layout);
}

static void
draw_timeline (GtkDrawingArea *area,
               cairo_t        *cr,
               int             width,
               int             height,
               gpointer        user_data)
{
  Viewer *viewer = user_data;
  const double left = 110, right = width - 8;
  const double lane_h = (height - 22) / 3.0;
  const gint64 now = g_get_monotonic_time ();
  const gint64 start = now - TIMELINE_USEC;

  if (viewer->self_test != NULL)
    g_array_append_val (viewer->self_test->draw_usecs, now);

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);

  /* A grid line every second. */
  cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
  cairo_set_line_width (cr, 1);
  for (int s = 0; s <= 10; s++)
    {
      double x = left + (right - left) * s / 10.0;

      cairo_move_to (cr, (int) x + 0.5, 0);
      cairo_line_to (cr, (int) x + 0.5, height - 18);
    }
  cairo_stroke (cr);

  for (guint i = 0; i < viewer->samples->len; i++)
    {
      const Sample *s = &g_array_index (viewer->samples, Sample, i);
      gint64 from = MAX (s->usec, start);
      gint64 to = i + 1 < viewer->samples->len
                  ? g_array_index (viewer->samples, Sample, i + 1).usec : now;
      double x0, x1;
      guint pending = s->pending_readers + s->pending_writers;

      if (to <= start)
        continue;
      x0 = left + (right - left) * (from - start) / (double) TIMELINE_USEC;
      x1 = left + (right - left) * (to - start) / (double) TIMELINE_USEC;

      if (s->write_locked)
        {
          cairo_set_source_rgb (cr, 0.75, 0.11, 0.16);
          cairo_rectangle (cr, x0, 4, x1 - x0, lane_h - 8);
          cairo_fill (cr);
        }
      if (s->readers > 0)
        {
          double h = (lane_h - 8) * MIN (s->readers, N_READERS) / N_READERS;

          cairo_set_source_rgb (cr, 0.21, 0.52, 0.89);
          cairo_rectangle (cr, x0, 2 * lane_h - 4 - h, x1 - x0, h);
          cairo_fill (cr);
        }
      if (pending > 0)
        {
          double h = (lane_h - 8) * MIN (pending, N_READERS + 1) / (N_READERS + 1);

          cairo_set_source_rgb (cr, 0.96, 0.66, 0.18);
          cairo_rectangle (cr, x0, 3 * lane_h - 4 - h, x1 - x0, h);
          cairo_fill (cr);
        }
    }

  draw_lane_label (GTK_WIDGET (area), cr, 0 * lane_h + lane_h / 2 - 9, "write held");
  draw_lane_label (GTK_WIDGET (area), cr, 1 * lane_h + lane_h / 2 - 9, "readers");
  draw_lane_label (GTK_WIDGET (area), cr, 2 * lane_h + lane_h / 2 - 9, "waiting");
  draw_lane_label (GTK_WIDGET (area), cr, height - 18, "−10 s");
  {
    PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (area), "now");
    int lw, lh;

    pango_layout_get_pixel_size (layout, &lw, &lh);
    cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
    cairo_move_to (cr, right - lw, height - 18);
    pango_cairo_show_layout (cr, layout);
    g_object_unref (layout);
  }
}

/* Every frame: the timeline scrolls, and the self-test counts frames. */
static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *frame_clock,
         gpointer       user_data)
{
  Viewer *viewer = user_data;

  if (viewer->self_test != NULL)
    {
      gint64 now = g_get_monotonic_time ();

      g_array_append_val (viewer->self_test->tick_usecs, now);
    }
  gtk_widget_queue_draw (viewer->timeline);
  return G_SOURCE_CONTINUE;
}

/* ---- the window ---- */

static void
on_entry_setup (GtkSignalListItemFactory *factory,
                GtkListItem              *list_item,
                gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_list_item_set_child (list_item, label);
}

static void
on_entry_bind (GtkSignalListItemFactory *factory,
               GtkListItem              *list_item,
               gpointer                  user_data)
{
  GtkStringObject *entry = gtk_list_item_get_item (list_item);

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (list_item)),
                      gtk_string_object_get_string (entry));
}

static GtkWidget *
make_bound_value (Viewer     *viewer,
                  GtkGrid    *grid,
                  int         row,
                  const char *title,
                  const char *property)
{
  GtkWidget *name = gtk_label_new (title);
  GtkWidget *value = gtk_label_new (NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (viewer->monitor), property);

  gtk_label_set_xalign (GTK_LABEL (name), 0.0);
  gtk_label_set_xalign (GTK_LABEL (value), 0.0);
  gtk_widget_add_css_class (name, "dim-label");
  gtk_widget_add_css_class (value, "numeric");
  gtk_grid_attach (grid, name, 0, row, 1, 1);
  gtk_grid_attach (grid, value, 1, row, 1, 1);

  if (G_PARAM_SPEC_VALUE_TYPE (pspec) == G_TYPE_BOOLEAN)
    g_object_bind_property_full (viewer->monitor, property, value, "label",
                                 G_BINDING_SYNC_CREATE, boolean_to_yes_no, NULL, NULL, NULL);
  else
    g_object_bind_property (viewer->monitor, property, value, "label", G_BINDING_SYNC_CREATE);
  return value;
}

static GtkWidget *
make_monitor_panel (Viewer *viewer)
{
  GtkWidget *panel = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *title, *grid, *list, *scrolled;
  GtkListItemFactory *factory;
  static const char *const headings[N_COLS] = { "Mode", "State", "For", "Thread", "Label" };
  g_autofree char *markup = NULL;

  markup = g_markup_printf_escaped ("<b>Lock “%s”</b> (AioRwLockMonitor)",
                                    aio_rw_lock_get_name (viewer->lock));
  title = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (title), markup);
  gtk_label_set_xalign (GTK_LABEL (title), 0.0);
  gtk_box_append (GTK_BOX (panel), title);

  grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 2);
  make_bound_value (viewer, GTK_GRID (grid), 0, "Readers", "readers");
  make_bound_value (viewer, GTK_GRID (grid), 1, "Write-locked", "write-locked");
  make_bound_value (viewer, GTK_GRID (grid), 2, "Pending readers", "pending-readers");
  make_bound_value (viewer, GTK_GRID (grid), 3, "Pending writers", "pending-writers");
  make_bound_value (viewer, GTK_GRID (grid), 4, "Closed", "closed");
  gtk_box_append (GTK_BOX (panel), grid);

  gtk_box_append (GTK_BOX (panel), make_row (headings, TRUE));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (on_hold_row_setup), viewer);
  g_signal_connect (factory, "bind", G_CALLBACK (on_hold_row_bind), viewer);
  g_signal_connect (factory, "unbind", G_CALLBACK (on_hold_row_unbind), viewer);
  list = gtk_list_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (viewer->monitor)))),
                            factory);
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), list);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (panel), scrolled);

  title = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (title), "<b>Timeline</b> (last 10 s)");
  gtk_label_set_xalign (GTK_LABEL (title), 0.0);
  gtk_box_append (GTK_BOX (panel), title);

  viewer->timeline = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (viewer->timeline), 130);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (viewer->timeline), draw_timeline, viewer, NULL);
  gtk_box_append (GTK_BOX (panel), viewer->timeline);

  return panel;
}

static GtkWidget *
make_cache_panel (Viewer *viewer)
{
  GtkWidget *panel = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *title, *list, *scrolled, *buttons, *ping;
  GtkListItemFactory *factory;
  g_autofree char *markup = NULL;

  markup = g_markup_printf_escaped ("<b>Cache</b> (%u readers read it under the lock)", N_READERS);
  title = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (title), markup);
  gtk_label_set_xalign (GTK_LABEL (title), 0.0);
  gtk_box_append (GTK_BOX (panel), title);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (on_entry_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (on_entry_bind), NULL);
  list = gtk_list_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (viewer->shown)))),
                            factory);
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), list);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_widget_add_css_class (scrolled, "frame");
  gtk_box_append (GTK_BOX (panel), scrolled);

  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  viewer->rebuild_button = gtk_button_new_with_mnemonic ("_Rebuild");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (viewer->rebuild_button), "win.rebuild");
  gtk_widget_add_css_class (viewer->rebuild_button, "suggested-action");
  ping = viewer->ping_button = gtk_button_new_with_mnemonic ("_Ping");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (ping), "win.ping");
  gtk_box_append (GTK_BOX (buttons), viewer->rebuild_button);
  gtk_box_append (GTK_BOX (buttons), ping);
  viewer->ping_label = gtk_label_new ("Not pinged yet");
  gtk_widget_add_css_class (viewer->ping_label, "dim-label");
  gtk_box_append (GTK_BOX (buttons), viewer->ping_label);
  gtk_box_append (GTK_BOX (panel), buttons);

  viewer->status_label = gtk_label_new ("Press Rebuild: a worker thread takes the write lock");
  gtk_label_set_xalign (GTK_LABEL (viewer->status_label), 0.0);
  gtk_label_set_wrap (GTK_LABEL (viewer->status_label), TRUE);
  gtk_box_append (GTK_BOX (panel), viewer->status_label);

  return panel;
}

static gboolean self_test_start (gpointer user_data);

/* The widgets go with the window; the lock, the cache and the readers stay
 * until the application shuts down. */
static void
on_window_destroy (GtkWidget *window,
                   gpointer   user_data)
{
  Viewer *viewer = user_data;

  g_clear_handle_id (&viewer->rows_timer_id, g_source_remove);
  g_hash_table_remove_all (viewer->bound_rows);
  viewer->window = NULL;
  viewer->rebuild_button = NULL;
  viewer->ping_button = NULL;
  viewer->status_label = NULL;
  viewer->ping_label = NULL;
  viewer->timeline = NULL;
}

static void
on_activate (GApplication *app,
             gpointer      user_data)
{
  Viewer *viewer = user_data;
  GtkWidget *paned;
  g_autofree char *title = NULL;
  const GActionEntry actions[] = {
    { "rebuild", on_rebuild_activated, NULL, NULL, NULL, { 0 } },
    { "ping", on_ping_activated, NULL, NULL, NULL, { 0 } },
  };

  if (viewer->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (viewer->window));
      return;
    }

  viewer->window = gtk_application_window_new (GTK_APPLICATION (app));
  title = g_strdup_printf ("Cache viewer — lock “%s”", aio_rw_lock_get_name (viewer->lock));
  gtk_window_set_title (GTK_WINDOW (viewer->window), title);
  gtk_window_set_default_size (GTK_WINDOW (viewer->window), 960, 560);
  g_action_map_add_action_entries (G_ACTION_MAP (viewer->window), actions,
                                   G_N_ELEMENTS (actions), viewer);

  paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_paned_set_start_child (GTK_PANED (paned), make_cache_panel (viewer));
  gtk_paned_set_end_child (GTK_PANED (paned), make_monitor_panel (viewer));
  gtk_paned_set_position (GTK_PANED (paned), 400);
  gtk_widget_set_margin_start (paned, 12);
  gtk_widget_set_margin_end (paned, 12);
  gtk_widget_set_margin_top (paned, 12);
  gtk_widget_set_margin_bottom (paned, 12);
  gtk_window_set_child (GTK_WINDOW (viewer->window), paned);

  gtk_widget_add_tick_callback (viewer->window, on_tick, viewer, NULL);
  g_signal_connect (viewer->window, "destroy", G_CALLBACK (on_window_destroy), viewer);
  viewer->rows_timer_id = g_timeout_add (200, on_rows_timer, viewer);

  for (guint i = 0; i < N_READERS; i++)
    {
      viewer->readers[i].viewer = viewer;
      viewer->readers[i].number = i + 1;
      g_snprintf (viewer->readers[i].label, sizeof viewer->readers[i].label, "reader %u", i + 1);
      start_read (&viewer->readers[i]);
    }

  gtk_window_present (GTK_WINDOW (viewer->window));

  if (viewer->self_test != NULL)
    g_timeout_add (SELF_TEST_WARM_UP_MSEC, self_test_start, viewer);
}

/* Cancels what is pending and waits for it: the readers' requests complete
 * promptly once cancelled, and the rebuild thread stops between steps. */
static void
on_shutdown (GApplication *app,
             gpointer      user_data)
{
  Viewer *viewer = user_data;

  if (viewer->self_test != NULL && !viewer->self_test->finished)
    self_test_fail (viewer, "the application quit before the checks were done (stage: %s)",
                    viewer->self_test->stage);

  g_cancellable_cancel (viewer->cancellable);
  g_clear_handle_id (&viewer->rows_timer_id, g_source_remove);

  for (guint i = 0; i < N_READERS; i++)
    {
      Reader *reader = &viewer->readers[i];

      g_clear_handle_id (&reader->source_id, g_source_remove);
      if (reader->guard != NULL)
        aio_rw_lock_guard_release (reader->guard);
      g_clear_pointer (&reader->guard, aio_rw_lock_guard_unref);
    }

  while (viewer->requests_in_flight > 0 || viewer->rebuilding)
    g_main_context_iteration (NULL, TRUE);
}

/* ---- the self-test ---- */

static void
self_test_free (SelfTest *test)
{
  g_free (test->screenshot_path);
  g_mutex_lock (&test->watchdog_mutex);
  test->watchdog_stop = TRUE;
  g_cond_signal (&test->watchdog_cond);
  g_mutex_unlock (&test->watchdog_mutex);
  g_thread_join (test->watchdog);
  g_mutex_clear (&test->watchdog_mutex);
  g_cond_clear (&test->watchdog_cond);
  g_array_unref (test->tick_usecs);
  g_array_unref (test->draw_usecs);
  g_clear_object (&test->screenshot);
  g_free (test->rebuild_error);
  g_free (test);
}

/* Returns FALSE, for `return self_test_fail (…);`. */
static gboolean
self_test_fail (Viewer     *viewer,
                const char *format,
                ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("cache-viewer: self-test FAILED: %s\n", message);
  viewer->self_test->finished = TRUE;
  viewer->exit_status = 1;
  g_application_quit (G_APPLICATION (viewer->app));
  return FALSE;
}

static gpointer
self_test_watchdog (gpointer data)
{
  SelfTest *test = data;
  gint64 deadline = g_get_monotonic_time () + SELF_TEST_DEADLINE_SECONDS * G_USEC_PER_SEC;

  g_mutex_lock (&test->watchdog_mutex);
  while (!test->watchdog_stop)
    if (!g_cond_wait_until (&test->watchdog_cond, &test->watchdog_mutex, deadline))
      {
        g_printerr ("cache-viewer: self-test FAILED: not done after %d s (stage: %s)\n",
                    SELF_TEST_DEADLINE_SECONDS, test->stage);
        _exit (1);
      }
  g_mutex_unlock (&test->watchdog_mutex);
  return NULL;
}

static void
self_test_set_stage (SelfTest   *test,
                     const char *stage)
{
  g_mutex_lock (&test->watchdog_mutex);
  test->stage = stage;
  g_mutex_unlock (&test->watchdog_mutex);
}

/* Counts the waiting readers of the model, if it also lists a held WRITE. */
static guint
count_waiting_readers_behind_writer (Viewer   *viewer,
                                     gboolean *writer_held)
{
  GListModel *model = G_LIST_MODEL (viewer->monitor);
  guint n = g_list_model_get_n_items (model);
  guint waiting_readers = 0;

  *writer_held = FALSE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(AioRwLockHoldInfo) info = g_list_model_get_item (model, i);
      gboolean waiting = aio_rw_lock_hold_info_is_waiting (info);
      AioRwLockMode mode = aio_rw_lock_hold_info_get_mode (info);

      if (mode == AIO_RW_LOCK_MODE_WRITE && !waiting)
        *writer_held = TRUE;
      else if (mode == AIO_RW_LOCK_MODE_READ && waiting)
        waiting_readers++;
    }
  return *writer_held ? waiting_readers : 0;
}

/* What the monitor says of the writer, and of a reader waiting behind it:
 * the hold is labelled, timed and on the worker thread, the wait is timed
 * and on the main thread. */
static gboolean
self_test_check_writer_item (Viewer *viewer)
{
  GListModel *model = G_LIST_MODEL (viewer->monitor);
  g_autoptr(AioRwLockHoldInfo) writer = NULL;
  g_autoptr(AioRwLockHoldInfo) reader = NULL;
  g_autofree char *expected_label = g_strdup_printf ("rebuild %u", viewer->rebuilds);
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(AioRwLockHoldInfo) info = g_list_model_get_item (model, i);
      gboolean waiting = aio_rw_lock_hold_info_is_waiting (info);
      AioRwLockMode mode = aio_rw_lock_hold_info_get_mode (info);

      if (mode == AIO_RW_LOCK_MODE_WRITE && !waiting && writer == NULL)
        writer = g_steal_pointer (&info);
      else if (mode == AIO_RW_LOCK_MODE_READ && waiting && reader == NULL)
        reader = g_steal_pointer (&info);
    }

  if (writer == NULL || reader == NULL)
    return self_test_fail (viewer, "the model lists %s and %s",
                           writer != NULL ? "the writer" : "no held WRITE",
                           reader != NULL ? "a waiting reader" : "no waiting READ");
  if (g_strcmp0 (aio_rw_lock_hold_info_get_label (writer), expected_label) != 0)
    return self_test_fail (viewer, "the writer's label is \"%s\", not \"%s\"",
                           aio_rw_lock_hold_info_get_label (writer), expected_label);
  if (aio_rw_lock_hold_info_get_since_usec (writer) <= 0 ||
      aio_rw_lock_hold_info_get_since_usec (writer) > now ||
      aio_rw_lock_hold_info_get_since_usec (reader) <= 0 ||
      aio_rw_lock_hold_info_get_since_usec (reader) > now)
    return self_test_fail (viewer, "since-usec of the writer %" G_GINT64_FORMAT " and of a waiting reader %"
                           G_GINT64_FORMAT ": not times before now (%" G_GINT64_FORMAT ")",
                           aio_rw_lock_hold_info_get_since_usec (writer),
                           aio_rw_lock_hold_info_get_since_usec (reader), now);
  if (aio_rw_lock_hold_info_get_thread_id (writer) == 0 ||
      aio_rw_lock_hold_info_get_thread_id (reader) == 0 ||
      aio_rw_lock_hold_info_get_thread_id (writer) == aio_rw_lock_hold_info_get_thread_id (reader))
    return self_test_fail (viewer, "thread ids: writer %" G_GUINT64_FORMAT ", waiting reader %" G_GUINT64_FORMAT
                           "; expected two different threads",
                           aio_rw_lock_hold_info_get_thread_id (writer),
                           aio_rw_lock_hold_info_get_thread_id (reader));
  g_print ("cache-viewer: the monitor showed \"%s\" holding for %.1f s on thread %" G_GUINT64_FORMAT
           ", readers waiting on thread %" G_GUINT64_FORMAT "\n",
           expected_label, (now - aio_rw_lock_hold_info_get_since_usec (writer)) / 1e6,
           aio_rw_lock_hold_info_get_thread_id (writer), aio_rw_lock_hold_info_get_thread_id (reader));
  return TRUE;
}

static gboolean self_test_click (gpointer user_data);
static gboolean self_test_take_screenshot (gpointer user_data);

static void
self_test_check_model (Viewer *viewer)
{
  SelfTest *test = viewer->self_test;
  gboolean writer_held;
  guint waiting;

  if (!viewer->rebuilding)
    return;

  waiting = count_waiting_readers_behind_writer (viewer, &writer_held);
  test->saw_writer_item |= writer_held;
  test->max_waiting_readers = MAX (test->max_waiting_readers, waiting);

  /* The first time the monitor says the writer holds: act during the hold. */
  if (!test->saw_write_locked && aio_rw_lock_monitor_is_write_locked (viewer->monitor))
    {
      test->saw_write_locked = TRUE;
      self_test_set_stage (test, "during the write hold");
      g_timeout_add (SELF_TEST_HOLD_MSEC * 3 / 10, self_test_click, viewer);
      g_timeout_add (SELF_TEST_HOLD_MSEC * 7 / 10, self_test_take_screenshot, viewer);
    }
}

static gboolean
self_test_start (gpointer user_data)
{
  Viewer *viewer = user_data;

  self_test_set_stage (viewer->self_test, "waiting for the rebuild's write hold");
  viewer->rebuild_msec = SELF_TEST_HOLD_MSEC;
  /* Through the button's action, as a user's click would. */
  if (viewer->window == NULL)
    {
      self_test_fail (viewer, "the window is gone");
      return G_SOURCE_REMOVE;
    }
  gtk_widget_activate_action (viewer->window, "win.rebuild", NULL);
  if (!viewer->rebuilding)
    self_test_fail (viewer, "the rebuild action did not start a rebuild");
  return G_SOURCE_REMOVE;
}

/* A real click: an XTest button press and release at the Ping button's
 * centre, delivered by the X server and GDK's event path to the button's
 * click gesture, which activates win.ping. Without XTest (or off X11) the
 * button is activated through its "activate" signal instead. */
static gboolean
self_test_click (gpointer user_data)
{
  Viewer *viewer = user_data;
  SelfTest *test = viewer->self_test;
  GtkWidget *button = viewer->ping_button;

  if (viewer->window == NULL)
    {
      self_test_fail (viewer, "the window is gone");
      return G_SOURCE_REMOVE;
    }

  test->click_sent_usec = g_get_monotonic_time ();

#ifdef HAVE_XTEST
  if (GDK_IS_X11_DISPLAY (gtk_widget_get_display (button)))
    {
      GtkNative *native = gtk_widget_get_native (button);
      GdkSurface *surface = gtk_native_get_surface (native);
      Display *xdisplay = gdk_x11_display_get_xdisplay (gtk_widget_get_display (button));
      int scale = gdk_surface_get_scale_factor (surface);
      graphene_point_t centre = GRAPHENE_POINT_INIT (gtk_widget_get_width (button) / 2.0f,
                                                     gtk_widget_get_height (button) / 2.0f);
      graphene_point_t in_native;
      double dx, dy;
      int root_x, root_y, event_base, error_base, major, minor;
      Window child;

      if (!XTestQueryExtension (xdisplay, &event_base, &error_base, &major, &minor))
        {
          self_test_fail (viewer, "the X server has no XTEST extension");
          return G_SOURCE_REMOVE;
        }
      if (!gtk_widget_compute_point (button, GTK_WIDGET (native), &centre, &in_native))
        {
          self_test_fail (viewer, "cannot place the Ping button in its window");
          return G_SOURCE_REMOVE;
        }
      gtk_native_get_surface_transform (native, &dx, &dy);
      XTranslateCoordinates (xdisplay, gdk_x11_surface_get_xid (surface),
                             DefaultRootWindow (xdisplay),
                             (int) ((in_native.x + dx) * scale), (int) ((in_native.y + dy) * scale),
                             &root_x, &root_y, &child);
      XTestFakeMotionEvent (xdisplay, -1, root_x, root_y, CurrentTime);
      XTestFakeButtonEvent (xdisplay, 1, True, CurrentTime);
      XTestFakeButtonEvent (xdisplay, 1, False, 10);
      XFlush (xdisplay);
      test->click_path = "an XTest button press and release on the Ping button";
      return G_SOURCE_REMOVE;
    }
#endif

  gtk_widget_activate (button);
  test->click_path = "the Ping button's activate signal (no XTest)";
  return G_SOURCE_REMOVE;
}

static GdkTexture *
render_window (GtkWidget *window)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (window);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot),
                          gtk_widget_get_width (window), gtk_widget_get_height (window));
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    return NULL;
  return gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node, NULL);
}

/* A blank or failed render has a handful of colours; a drawn window has
 * hundreds (text is antialiased). */
static guint
count_colours (GdkTexture *texture,
               guint       enough)
{
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  gsize stride = (gsize) width * 4;
  g_autofree guchar *pixels = g_malloc (stride * height);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  gdk_texture_download (texture, pixels, stride);
  for (int y = 0; y < height && g_hash_table_size (seen) < enough; y++)
    for (int x = 0; x < width; x++)
      {
        guint32 pixel;

        memcpy (&pixel, pixels + y * stride + x * 4, 4);
        g_hash_table_add (seen, GUINT_TO_POINTER (pixel));
      }
  return g_hash_table_size (seen);
}

static gboolean
self_test_take_screenshot (gpointer user_data)
{
  Viewer *viewer = user_data;
  SelfTest *test = viewer->self_test;
  gboolean writer_held;

  if (viewer->window == NULL)
    {
      self_test_fail (viewer, "the window is gone");
      return G_SOURCE_REMOVE;
    }

  /* Informative only if it shows the writer and readers waiting for it. */
  test->screenshot_waiting_readers = count_waiting_readers_behind_writer (viewer, &writer_held);
  if (!writer_held || test->screenshot_waiting_readers == 0)
    {
      self_test_fail (viewer, "at the screenshot the monitor listed %s and %u waiting readers",
                      writer_held ? "the writer" : "no held WRITE", test->screenshot_waiting_readers);
      return G_SOURCE_REMOVE;
    }
  if (!self_test_check_writer_item (viewer))
    return G_SOURCE_REMOVE;

  test->screenshot = render_window (viewer->window);
  if (test->screenshot == NULL)
    self_test_fail (viewer, "the window rendered to nothing");
  return G_SOURCE_REMOVE;
}

static guint
count_between (GArray *usecs,
               gint64  from,
               gint64  to)
{
  guint n = 0;

  for (guint i = 0; i < usecs->len; i++)
    {
      gint64 t = g_array_index (usecs, gint64, i);

      if (t >= from && t <= to)
        n++;
    }
  return n;
}

static gboolean
self_test_verify (Viewer *viewer)
{
  SelfTest *test = viewer->self_test;
  const RebuildJob *job = &test->result;
  gint64 hold_usec = job->released_usec - job->acquired_usec;
  guint ticks = count_between (test->tick_usecs, job->acquired_usec, job->released_usec);
  guint draws = count_between (test->draw_usecs, job->acquired_usec, job->released_usec);
  guint colours;
  g_autoptr(GError) error = NULL;

  self_test_set_stage (test, "checking");

  if (test->rebuild_error != NULL)
    return self_test_fail (viewer, "the rebuild failed: %s", test->rebuild_error);
  if (!job->completed || hold_usec < SELF_TEST_HOLD_MSEC * 1000)
    return self_test_fail (viewer, "the write hold lasted %.3f s, completed %d; expected %.1f s",
                           hold_usec / 1e6, job->completed, SELF_TEST_HOLD_MSEC / 1e3);

  g_print ("cache-viewer: write hold %.3f s: %u frames (tick callback), %u timeline draws\n",
           hold_usec / 1e6, ticks, draws);
  if (ticks < SELF_TEST_MIN_FRAMES)
    return self_test_fail (viewer, "only %u frames during the write hold (at least %d expected)",
                           ticks, SELF_TEST_MIN_FRAMES);
  if (draws < SELF_TEST_MIN_FRAMES)
    return self_test_fail (viewer, "the timeline was drawn only %u times during the write hold (at least %d expected)",
                           draws, SELF_TEST_MIN_FRAMES);

  if (test->click_path == NULL)
    return self_test_fail (viewer, "no click was sent");
  if (test->ping_usec == 0)
    return self_test_fail (viewer, "the Ping action never ran after %s", test->click_path);
  if (test->ping_usec < job->acquired_usec || test->ping_usec > job->released_usec)
    return self_test_fail (viewer, "the Ping action ran at %+.3f s, outside the write hold [0, %.3f] s",
                           (test->ping_usec - job->acquired_usec) / 1e6, hold_usec / 1e6);
  g_print ("cache-viewer: click by %s handled at +%.3f s into the hold (%.1f ms after it was sent)\n",
           test->click_path, (test->ping_usec - job->acquired_usec) / 1e6,
           (test->ping_usec - test->click_sent_usec) / 1e3);

  if (!test->saw_write_locked)
    return self_test_fail (viewer, "the monitor's write-locked never became TRUE");
  if (!test->saw_writer_item)
    return self_test_fail (viewer, "the monitor's model never listed the held WRITE");
  if (test->max_waiting_readers == 0)
    return self_test_fail (viewer, "the monitor's model never listed a reader waiting behind the writer");
  g_print ("cache-viewer: the monitor listed the writer with up to %u readers waiting\n",
           test->max_waiting_readers);

  if (viewer->shown_generation != job->cache->generation || job->cache->generation < 2)
    return self_test_fail (viewer, "the window shows generation %u of the cache after the rebuild to %u",
                           viewer->shown_generation, job->cache->generation);

  if (test->screenshot == NULL)
    return self_test_fail (viewer, "no screenshot was taken during the hold");
  colours = count_colours (test->screenshot, 100);
  if (colours < 100)
    return self_test_fail (viewer, "the screenshot has only %u colours: not a drawn window", colours);
  if (!gdk_texture_save_to_png (test->screenshot, test->screenshot_path))
    return self_test_fail (viewer, "cannot save %s", test->screenshot_path);
  if (!g_file_test (test->screenshot_path, G_FILE_TEST_IS_REGULAR))
    return self_test_fail (viewer, "%s is missing after saving it", test->screenshot_path);
  g_print ("cache-viewer: saved %s (%d×%d, taken with %u readers waiting)\n",
           test->screenshot_path,
           gdk_texture_get_width (test->screenshot), gdk_texture_get_height (test->screenshot),
           test->screenshot_waiting_readers);

  g_print ("cache-viewer: self-test passed\n");
  test->finished = TRUE;
  viewer->exit_status = 0;
  g_application_quit (G_APPLICATION (viewer->app));
  return TRUE;
}

static gboolean
self_test_finish (gpointer user_data)
{
  self_test_verify (user_data);
  return G_SOURCE_REMOVE;
}

static void
self_test_rebuild_done (Viewer       *viewer,
                        RebuildJob   *job,
                        const GError *error)
{
  SelfTest *test = viewer->self_test;

  if (test->rebuild_done)
    return;
  test->rebuild_done = TRUE;
  test->result = *job;
  test->result.cache = g_atomic_rc_box_acquire (job->cache);
  if (error != NULL)
    test->rebuild_error = g_strdup (error->message);

  /* Give the readers time to come back and show the new entries. */
  self_test_set_stage (test, "waiting for the readers to show the rebuilt cache");
  g_timeout_add (1000, self_test_finish, viewer);
}

/* ---- main ---- */

static int
on_handle_local_options (GApplication *app,
                         GVariantDict *options,
                         gpointer      user_data)
{
  Viewer *viewer = user_data;
  char *path = NULL;
  double seconds;

  if (g_variant_dict_lookup (options, "rebuild-seconds", "d", &seconds))
    {
      if (seconds <= 0 || seconds > 600)
        {
          g_printerr ("cache-viewer: --rebuild-seconds must be in (0, 600]\n");
          return 2;
        }
      viewer->rebuild_msec = (guint) (seconds * 1000);
    }

  if (g_variant_dict_lookup (options, "self-test", "^ay", &path))
    {
      SelfTest *test = g_new0 (SelfTest, 1);

      test->screenshot_path = path;
      test->tick_usecs = g_array_new (FALSE, FALSE, sizeof (gint64));
      test->draw_usecs = g_array_new (FALSE, FALSE, sizeof (gint64));
      test->stage = "starting";
      g_mutex_init (&test->watchdog_mutex);
      g_cond_init (&test->watchdog_cond);
      test->watchdog = g_thread_new ("self-test watchdog", self_test_watchdog, test);
      viewer->self_test = test;
      viewer->exit_status = 1;  /* until every check passed */
    }
  return -1;
}

int
main (int   argc,
      char *argv[])
{
  Viewer viewer = { 0 };
  int status;

  viewer.lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "cache", NULL);
  viewer.monitor = aio_rw_lock_monitor_new (viewer.lock);
  viewer.cache = cache_new ();
  viewer.cancellable = g_cancellable_new ();
  viewer.shown = gtk_string_list_new (NULL);
  viewer.bound_rows = g_hash_table_new (NULL, NULL);
  viewer.samples = g_array_new (FALSE, FALSE, sizeof (Sample));
  viewer.rebuild_msec = 3000;

  /* Nobody else sees the cache yet. */
  viewer.cache->generation = 1;
  for (guint i = 0; i < N_ENTRIES; i++)
    g_ptr_array_add (viewer.cache->entries, cache_make_entry (1, i));

  g_signal_connect (viewer.monitor, "notify", G_CALLBACK (on_monitor_notify), &viewer);
  g_signal_connect (viewer.monitor, "items-changed", G_CALLBACK (on_monitor_items_changed), &viewer);
  add_sample (&viewer);

  viewer.app = gtk_application_new ("org.example.AioCacheViewer", G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option (G_APPLICATION (viewer.app), "self-test", 0, 0, G_OPTION_ARG_FILENAME,
                                 "Drive a 2 s rebuild, check that the window kept drawing and "
                                 "answering, save a screenshot to FILE and exit", "FILE");
  g_application_add_main_option (G_APPLICATION (viewer.app), "rebuild-seconds", 0, 0, G_OPTION_ARG_DOUBLE,
                                 "How long a rebuild holds the write lock (default 3)", "SECONDS");
  g_signal_connect (viewer.app, "handle-local-options", G_CALLBACK (on_handle_local_options), &viewer);
  g_signal_connect (viewer.app, "activate", G_CALLBACK (on_activate), &viewer);
  g_signal_connect (viewer.app, "shutdown", G_CALLBACK (on_shutdown), &viewer);

  status = g_application_run (G_APPLICATION (viewer.app), argc, argv);
  if (status == 0)
    status = viewer.exit_status;

  if (viewer.self_test != NULL)
    {
      g_clear_pointer (&viewer.self_test->result.cache, cache_unref);
      self_test_free (viewer.self_test);
    }
  g_object_unref (viewer.app);
  g_signal_handlers_disconnect_by_data (viewer.monitor, &viewer);
  g_object_unref (viewer.monitor);
  g_object_unref (viewer.shown);
  g_hash_table_unref (viewer.bound_rows);
  g_array_unref (viewer.samples);
  g_object_unref (viewer.cancellable);
  cache_unref (viewer.cache);
  g_object_unref (viewer.lock);
  return status;
}
