/* aio-rw-lock-record.c: what is known of one hold or wait, and where it is told
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSPROF
# include <sysprof-capture.h>
#endif

#include "aio-rw-lock-record.h"

/* ---- What the process asked for, read once ---- */

typedef struct
{
  gboolean  enabled;        /* record every hold and wait from the start */
  gint64    long_usec[2];   /* thresholds: [0] holds, [1] waits; 0: none */
#ifdef HAVE_SYSPROF
  SysprofCaptureWriter *writer;  /* the capture of SYSPROF_TRACE_FD */
  GMutex                writer_mutex;
#endif
} Config;

static Config config;

/* AIO_RW_LOCK_DEBUG: comma-separated; any value turns recording on. The
 * items it cannot use go to @bad, to be warned of outside the once. */
static void
parse_debug (const char *value,
             GPtrArray  *bad)
{
  g_auto(GStrv) items = g_strsplit (value, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      const char *eq = strchr (item, '=');
      guint64 msec = 0;
      int which = -1;

      if (*item == '\0')
        continue;
      if (eq != NULL && strncmp (item, "long-hold=", eq - item + 1) == 0)
        which = 0;
      else if (eq != NULL && strncmp (item, "long-wait=", eq - item + 1) == 0)
        which = 1;

      if (which >= 0 && g_ascii_string_to_unsigned (eq + 1, 10, 1, G_MAXINT, &msec, NULL))
        config.long_usec[which] = (gint64) msec * G_TIME_SPAN_MILLISECOND;
      else if (!g_str_equal (item, "record"))
        g_ptr_array_add (bad, g_strdup (item));
    }
}

#ifdef HAVE_SYSPROF
/* At exit, or when the library is unloaded: a destructor, not atexit (),
 * which would outlive an unloaded library. */
__attribute__ ((destructor)) static void
flush_capture (void)
{
  if (config.writer == NULL)
    return;
  g_mutex_lock (&config.writer_mutex);
  sysprof_capture_writer_flush (config.writer);
  g_mutex_unlock (&config.writer_mutex);
}
#endif

static gpointer watchdog (gpointer unused);

/* Read once, by the first lock made (never under a mutex of the library:
 * the keyed table asks before it takes its own). What it says, it says
 * after the once, so that a log writer that makes a lock cannot wait on
 * it. */
static const Config *
get_config (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      const char *debug = g_getenv ("AIO_RW_LOCK_DEBUG");
      g_autoptr(GPtrArray) bad = g_ptr_array_new_with_free_func (g_free);

      if (debug != NULL && *debug != '\0')
        {
          config.enabled = TRUE;
          parse_debug (debug, bad);
        }
#ifdef HAVE_SYSPROF
      /* GLib's and GTK's convention: a file descriptor to write a capture
       * into, which Sysprof merges into its own. */
      if (g_getenv ("SYSPROF_TRACE_FD") != NULL &&
          (config.writer = sysprof_capture_writer_new_from_env (0)) != NULL)
        {
          g_mutex_init (&config.writer_mutex);
          config.enabled = TRUE;
        }
#endif
      g_once_init_leave (&done, 1);

      for (guint i = 0; i < bad->len; i++)
        g_warning ("AIO_RW_LOCK_DEBUG: cannot use “%s”: expected "
                   "long-hold=MSEC, long-wait=MSEC (MSEC > 0) or record, comma-separated",
                   (const char *) g_ptr_array_index (bad, i));
      /* Lives as long as the process, like GLib's worker thread. */
      if (config.long_usec[0] > 0 || config.long_usec[1] > 0)
        g_thread_unref (g_thread_new ("aio-rw-lock-watchdog", watchdog, NULL));
    }

  return &config;
}

gboolean
aio_rw_lock_record_enabled (void)
{
  return get_config ()->enabled;
}

static guint64
current_thread_id (void)
{
#ifdef HAVE_GETTID
  static _Thread_local guint64 tid;

  if (tid == 0)
    tid = (guint64) gettid ();
  return tid;
#else
  return (guint64) (guintptr) g_thread_self ();
#endif
}

static const char *
kind_name (const AioRwLockRecord *self)
{
  return self->waiting ? "wait" : "hold";
}

/* ---- The watchdog: logs what lasts too long, off every lock's mutex ---- */

static GMutex watch_mutex;
static GCond  watch_cond;
static GQueue watched[2];    /* holds, waits not logged yet: by since */
static GQueue due_messages;  /* Message, to log in order */

typedef struct
{
  char     *name;
  char     *mode;
  char     *kind;
  char     *label;
  char     *duration;
  char     *thread;
  char     *state;
  char     *message;
} Message;

static void
message_free (Message *message)
{
  g_free (message->name);
  g_free (message->mode);
  g_free (message->kind);
  g_free (message->label);
  g_free (message->duration);
  g_free (message->thread);
  g_free (message->state);
  g_free (message->message);
  g_free (message);
}

/* Under watch_mutex: a message for the watchdog to log. */
static void
queue_message (const AioRwLockRecord *self,
               gint64                 duration_usec,
               gboolean               ended)
{
  Message *message = g_new0 (Message, 1);
  const char *name = self->lock_name != NULL ? self->lock_name : "(unnamed)";
  gint64 msec = duration_usec / G_TIME_SPAN_MILLISECOND;

  message->name = g_strdup (name);
  message->mode = g_strdup (aio_rw_lock_state_mode_name (self->mode));
  message->kind = g_strdup (kind_name (self));
  message->label = g_strdup (self->label != NULL ? self->label : "");
  message->duration = g_strdup_printf ("%" G_GINT64_FORMAT, msec);
  message->thread = g_strdup_printf ("%" G_GUINT64_FORMAT, self->thread_id);
  message->state = g_strdup (ended ? "ended" : "ongoing");
  message->message =
    g_strdup_printf ("Lock “%s”: %s %s%s%s%s (thread %" G_GUINT64_FORMAT ") %s %" G_GINT64_FORMAT " ms",
                     name, message->mode, message->kind,
                     self->label != NULL ? " “" : "",
                     self->label != NULL ? self->label : "",
                     self->label != NULL ? "”" : "",
                     self->thread_id,
                     ended ? "ended after" : "has lasted",
                     msec);
  g_queue_push_tail (&due_messages, message);
  g_cond_signal (&watch_cond);
}

static void
log_message (const Message *message)
{
  const GLogField fields[] = {
    { "MESSAGE", message->message, -1 },
    { "GLIB_DOMAIN", "Aio", -1 },
    { "PRIORITY", "6", -1 },
    { "AIO_LOCK_NAME", message->name, -1 },
    { "AIO_MODE", message->mode, -1 },
    { "AIO_KIND", message->kind, -1 },
    { "AIO_STATE", message->state, -1 },
    { "AIO_DURATION_MS", message->duration, -1 },
    { "AIO_THREAD_ID", message->thread, -1 },
    { "AIO_LABEL", message->label, -1 },
  };

  g_log_structured_array (G_LOG_LEVEL_INFO, fields, G_N_ELEMENTS (fields));
}

static gint64
threshold_of (const AioRwLockRecord *self)
{
  return config.long_usec[self->waiting ? 1 : 0];
}

/* Each queue is in the order the records began, so only its head can be
 * due: a wake costs what it logs, however many records are watched. */
static gpointer
watchdog (gpointer unused)
{
  g_mutex_lock (&watch_mutex);
  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      gint64 next = G_MAXINT64;

      for (guint k = 0; k < G_N_ELEMENTS (watched); k++)
        {
          GList *link;

          while ((link = watched[k].head) != NULL)
            {
              AioRwLockRecord *record = link->data;
              gint64 due = record->since_usec + config.long_usec[k];

              if (due > now)
                {
                  next = MIN (next, due);
                  break;
                }
              g_queue_unlink (&watched[k], link);
              record->logged = TRUE;
              queue_message (record, now - record->since_usec, FALSE);
            }
        }

      if (!g_queue_is_empty (&due_messages))
        {
          GQueue batch = due_messages;
          Message *message;

          /* The log writer is the application's: never under a mutex. */
          g_queue_init (&due_messages);
          g_mutex_unlock (&watch_mutex);
          while ((message = g_queue_pop_head (&batch)) != NULL)
            {
              log_message (message);
              message_free (message);
            }
          g_mutex_lock (&watch_mutex);
        }
      else if (next == G_MAXINT64)
        g_cond_wait (&watch_cond, &watch_mutex);
      else
        g_cond_wait_until (&watch_cond, &watch_mutex, next);
    }

  return NULL;
}

/* A record that began now goes under the watchdog's eye, if its kind has
 * a threshold. Its start is read under the watchdog's mutex, so that each
 * queue stays in the order of the starts. */
static void
watch (AioRwLockRecord *self)
{
  if (threshold_of (self) == 0 || self->since_usec == 0)
    return;

  g_mutex_lock (&watch_mutex);
  self->since_usec = g_get_monotonic_time ();
  self->watched = TRUE;
  self->watch_link.data = self;
  g_queue_push_tail_link (&watched[self->waiting ? 1 : 0], &self->watch_link);
  if (self->watch_link.prev == NULL)
    g_cond_signal (&watch_cond);  /* the new head: the next due time moved */
  g_mutex_unlock (&watch_mutex);
}

/* Whatever it was, it ends now: a mark, and a message if it was long. */
static void
finish (AioRwLockRecord *self)
{
  gint64 now;

  if (self->since_usec == 0)
    return;

  now = g_get_monotonic_time ();

#ifdef HAVE_SYSPROF
  if (config.writer != NULL)
    {
      g_autofree char *message =
        g_strdup_printf ("%s %s%s%s", aio_rw_lock_state_mode_name (self->mode),
                         kind_name (self),
                         self->label != NULL ? ": " : "",
                         self->label != NULL ? self->label : "");

      g_mutex_lock (&config.writer_mutex);
      sysprof_capture_writer_add_mark (config.writer,
                                       self->since_usec * 1000, -1, getpid (),
                                       (now - self->since_usec) * 1000,
                                       "AioRwLock",
                                       self->lock_name != NULL ? self->lock_name : "AioRwLock",
                                       message);
      g_mutex_unlock (&config.writer_mutex);
    }
#endif

  if (self->watched)
    {
      g_mutex_lock (&watch_mutex);
      if (!self->logged)
        g_queue_unlink (&watched[self->waiting ? 1 : 0], &self->watch_link);
      if (now - self->since_usec >= threshold_of (self))
        queue_message (self, now - self->since_usec, TRUE);
      self->watched = FALSE;
      self->logged = FALSE;
      g_mutex_unlock (&watch_mutex);
    }
}

/* ---- Records ---- */

AioRwLockRecord *
aio_rw_lock_record_new (const char    *lock_name,
                        AioRwLockMode  mode,
                        gboolean       waiting)
{
  AioRwLockRecord *self = g_new0 (AioRwLockRecord, 1);

  self->link.data = self;
  self->lock_name = lock_name;
  self->since_usec = g_get_monotonic_time ();
  self->thread_id = current_thread_id ();
  self->mode = mode;
  self->waiting = waiting;
  watch (self);

  return self;
}

/* A hold that began before anything recorded it. */
AioRwLockRecord *
aio_rw_lock_record_new_unknown (const char    *lock_name,
                                AioRwLockMode  mode)
{
  AioRwLockRecord *self = g_new0 (AioRwLockRecord, 1);

  self->link.data = self;
  self->lock_name = lock_name;
  self->mode = mode;

  return self;
}

/* The wait ends; the hold begins. */
void
aio_rw_lock_record_granted (AioRwLockRecord *self)
{
  g_assert (self->waiting);

  finish (self);
  self->waiting = FALSE;
  self->since_usec = g_get_monotonic_time ();
  watch (self);
}

void
aio_rw_lock_record_set_mode (AioRwLockRecord *self,
                             AioRwLockMode    mode)
{
  if (self->watched)
    {
      g_mutex_lock (&watch_mutex);
      self->mode = mode;
      g_mutex_unlock (&watch_mutex);
    }
  else
    self->mode = mode;
}

void
aio_rw_lock_record_set_label (AioRwLockRecord *self,
                              const char      *label)
{
  char *old = self->label;

  if (self->watched)
    g_mutex_lock (&watch_mutex);
  self->label = g_strdup (label);
  if (self->watched)
    g_mutex_unlock (&watch_mutex);
  g_free (old);
}

void
aio_rw_lock_record_end (AioRwLockRecord *self)
{
  finish (self);
  g_free (self->label);
  g_free (self);
}
