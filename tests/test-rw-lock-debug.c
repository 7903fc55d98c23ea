/* test-rw-lock-debug.c: AIO_RW_LOCK_DEBUG's long-hold and long-wait messages
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run with AIO_RW_LOCK_DEBUG=long-hold=100,long-wait=50 (tests/meson.build).
 * Messages are caught with a log writer; the child processes check what
 * reaches the standard streams.
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

/* One message of domain Aio, as the writer saw it. */
typedef struct
{
  char *lock_name;
  char *mode;
  char *kind;
  char *state;
  char *label;
  char *message;
  gint64 duration_ms;
  gint64 thread_id;
} Seen;

static GMutex seen_mutex;
static GPtrArray *seen;  /* Seen, in order; the watchdog thread logs */

static void
seen_free (gpointer data)
{
  Seen *message = data;

  g_free (message->lock_name);
  g_free (message->mode);
  g_free (message->kind);
  g_free (message->state);
  g_free (message->label);
  g_free (message->message);
  g_free (message);
}

static const char *
field (const GLogField *fields,
       gsize            n_fields,
       const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key))
      return fields[i].value;
  return NULL;
}

static GLogWriterOutput
catch_writer (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  Seen *message;

  if (g_strcmp0 (field (fields, n_fields, "GLIB_DOMAIN"), "Aio") != 0 ||
      field (fields, n_fields, "AIO_STATE") == NULL)
    return g_log_writer_default (log_level, fields, n_fields, user_data);

  g_assert_cmpint (log_level & G_LOG_LEVEL_MASK, ==, G_LOG_LEVEL_INFO);
  message = g_new0 (Seen, 1);
  message->lock_name = g_strdup (field (fields, n_fields, "AIO_LOCK_NAME"));
  message->mode = g_strdup (field (fields, n_fields, "AIO_MODE"));
  message->kind = g_strdup (field (fields, n_fields, "AIO_KIND"));
  message->state = g_strdup (field (fields, n_fields, "AIO_STATE"));
  message->label = g_strdup (field (fields, n_fields, "AIO_LABEL"));
  message->message = g_strdup (field (fields, n_fields, "MESSAGE"));
  message->duration_ms = g_ascii_strtoll (field (fields, n_fields, "AIO_DURATION_MS"), NULL, 10);
  message->thread_id = g_ascii_strtoll (field (fields, n_fields, "AIO_THREAD_ID"), NULL, 10);
  g_mutex_lock (&seen_mutex);
  g_ptr_array_add (seen, message);
  g_mutex_unlock (&seen_mutex);
  return G_LOG_WRITER_HANDLED;
}

/* How many messages of lock NAME, of KIND and STATE, were seen; copies
 * the last one's duration and label. */
static guint
count_seen (const char  *name,
            const char  *kind,
            const char  *state,
            gint64      *duration_ms,
            char       **label)
{
  guint n = 0;

  g_mutex_lock (&seen_mutex);
  for (guint i = 0; i < seen->len; i++)
    {
      Seen *message = g_ptr_array_index (seen, i);

      if (g_str_equal (message->lock_name, name) && g_str_equal (message->kind, kind) &&
          g_str_equal (message->state, state))
        {
          n++;
          if (duration_ms != NULL)
            *duration_ms = message->duration_ms;
          if (label != NULL)
            {
              g_free (*label);
              *label = g_strdup (message->label);
            }
        }
    }
  g_mutex_unlock (&seen_mutex);
  return n;
}

typedef struct
{
  const char *name;
  const char *kind;
  const char *state;
} Wanted;

static gboolean
was_seen (gpointer data)
{
  const Wanted *wanted = data;

  return count_seen (wanted->name, wanted->kind, wanted->state, NULL, NULL) > 0;
}

/* Waits (iterating the default context) until a message of lock NAME, of
 * KIND and STATE, was seen, or fails by the deadline. */
static void
wait_seen (const char *name,
           const char *kind,
           const char *state)
{
  Wanted wanted = { name, kind, state };

  aio_test_poll_until (was_seen, &wanted);
}

/* A long hold is told while it lasts, once, and once more when it ends;
 * a short one is not told at all. */
static void
test_long_hold (void)
{
  g_autoptr(AioRwLock) lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "long-hold", NULL);
  g_autoptr(AioRwLock) quick = g_object_new (AIO_TYPE_RW_LOCK, "name", "short-hold", NULL);
  gint64 start = g_get_monotonic_time ();
  AioRwLockGuard *guard = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  AioRwLockGuard *brief = aio_rw_lock_try_acquire (quick, WRITE, NULL);
  g_autofree char *label = NULL;
  gint64 duration_ms = 0;

  aio_rw_lock_guard_set_label (guard, "migrate");
  g_usleep (10 * 1000);
  aio_rw_lock_guard_release (brief);
  aio_rw_lock_guard_unref (brief);

  /* Told while still held: a stuck lock is reported while it is stuck. */
  wait_seen ("long-hold", "hold", "ongoing");
  g_assert_true (aio_rw_lock_guard_is_held (guard));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (count_seen ("long-hold", "hold", "ongoing", &duration_ms, &label), ==, 1);
  g_assert_cmpint (duration_ms, >=, 100);
  g_assert_cmpstr (label, ==, "migrate");

  g_usleep (150 * 1000);
  g_assert_cmpuint (count_seen ("long-hold", "hold", "ongoing", NULL, NULL), ==, 1);
  aio_rw_lock_guard_release (guard);
  aio_rw_lock_guard_unref (guard);
  wait_seen ("long-hold", "hold", "ended");
  g_assert_cmpuint (count_seen ("long-hold", "hold", "ended", &duration_ms, NULL), ==, 1);
  g_assert_cmpint (duration_ms, >=, 250);

  g_usleep (150 * 1000);
  g_assert_cmpuint (count_seen ("short-hold", "hold", "ongoing", NULL, NULL), ==, 0);
  g_assert_cmpuint (count_seen ("short-hold", "hold", "ended", NULL, NULL), ==, 0);
  g_assert_cmpuint (count_seen ("long-hold", "wait", "ongoing", NULL, NULL), ==, 0);
}

/* A request queued longer than long-wait is told while it waits and when
 * it is granted; then its hold is timed from the grant. */
static void
test_long_wait (void)
{
  g_autoptr(AioRwLock) lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "long-wait", NULL);
  AioRwLockGuard *writer = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  Request reader = { "reader" };
  gint64 duration_ms = 0;
  g_autofree char *message = NULL;

  aio_test_acquire (lock, READ, -1, NULL, &reader);
  wait_seen ("long-wait", "wait", "ongoing");
  g_assert_false (reader.done);
  /* Longer than long-hold: a hold timed from the wait's start would be. */
  g_usleep (120 * 1000);

  g_mutex_lock (&seen_mutex);
  for (guint i = 0; i < seen->len; i++)
    {
      Seen *s = g_ptr_array_index (seen, i);

      if (g_str_equal (s->lock_name, "long-wait") && g_str_equal (s->kind, "wait"))
        {
          g_assert_cmpstr (s->mode, ==, "READ");
          g_assert_cmpint (s->thread_id, >, 0);
          message = g_strdup (s->message);
        }
    }
  g_mutex_unlock (&seen_mutex);
  g_assert_true (g_str_has_prefix (message, "Lock “long-wait”: READ wait"));

  aio_rw_lock_guard_release (writer);
  aio_rw_lock_guard_unref (writer);
  aio_test_wait (&reader);
  aio_test_assert_granted (&reader);
  wait_seen ("long-wait", "wait", "ended");
  g_assert_cmpuint (count_seen ("long-wait", "wait", "ended", &duration_ms, NULL), ==, 1);
  g_assert_cmpint (duration_ms, >=, 50);

  /* The hold that followed is timed from its grant: not long. (The
   * writer's hold may be, under valgrind.) */
  aio_test_release (&reader);
  aio_test_request_clear (&reader);
  g_usleep (150 * 1000);
  g_mutex_lock (&seen_mutex);
  for (guint i = 0; i < seen->len; i++)
    {
      Seen *s = g_ptr_array_index (seen, i);

      g_assert_false (g_str_equal (s->lock_name, "long-wait") && g_str_equal (s->kind, "hold") &&
                      g_str_equal (s->mode, "READ"));
    }
  g_mutex_unlock (&seen_mutex);
}

/* In a child: GLib's default writer (so G_MESSAGES_DEBUG decides what is
 * shown), noting which states of the child's lock were logged. */
static gint child_states_logged;  /* atomic: 1 ongoing, 2 ended */

static GLogWriterOutput
noting_writer (GLogLevelFlags   log_level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  const char *state = field (fields, n_fields, "AIO_STATE");
  GLogWriterOutput written = g_log_writer_default (log_level, fields, n_fields, user_data);

  /* Only once it is written: the child may exit as soon as it knows. */
  if (g_strcmp0 (state, "ongoing") == 0)
    g_atomic_int_or (&child_states_logged, 1);
  else if (g_strcmp0 (state, "ended") == 0)
    g_atomic_int_or (&child_states_logged, 2);
  return written;
}

static gboolean
child_logged (gpointer data)
{
  guint state = GPOINTER_TO_UINT (data);

  return (g_atomic_int_get (&child_states_logged) & state) != 0;
}

/* A hold held until the watchdog told it is long, then released; returns
 * once the end was told too (the watchdog logs from its own thread). */
static void
hold_briefly_long (void)
{
  g_autoptr(AioRwLock) lock = NULL;
  g_autoptr(AioRwLockGuard) guard = NULL;

  g_log_set_writer_func (noting_writer, NULL, NULL);
  lock = g_object_new (AIO_TYPE_RW_LOCK, "name", "child", NULL);
  guard = aio_rw_lock_try_acquire (lock, WRITE, NULL);
  aio_rw_lock_guard_set_label (guard, "visible");
  aio_test_poll_until (child_logged, GUINT_TO_POINTER (1));
  aio_rw_lock_guard_release (guard);
  aio_test_poll_until (child_logged, GUINT_TO_POINTER (2));
}

/* G_MESSAGES_DEBUG=Aio shows the messages on the standard streams. */
static void
test_visible_with_messages_debug (void)
{
  if (g_test_subprocess ())
    {
      hold_briefly_long ();
      return;
    }

  g_setenv ("G_MESSAGES_DEBUG", "Aio", TRUE);
  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, 0);
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*Lock ?child?: WRITE hold ?visible? (thread *) has lasted *ms*");
  g_test_trap_assert_stdout ("*Lock ?child?: WRITE hold ?visible? (thread *) ended after *ms*");
}

/* Without G_MESSAGES_DEBUG, INFO messages stay hidden. */
static void
test_hidden_without_messages_debug (void)
{
  if (g_test_subprocess ())
    {
      hold_briefly_long ();
      return;
    }

  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*Lock ?child?*");
  g_test_trap_assert_stderr_unmatched ("*Lock ?child?*");
}

/* A value it cannot use is a warning naming it; the rest still counts. */
static void
test_bad_value_warns (void)
{
  const char *was = g_getenv ("AIO_RW_LOCK_DEBUG");
  g_autofree char *saved = g_strdup (was);

  if (g_test_subprocess ())
    {
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      hold_briefly_long ();
      return;
    }

  g_setenv ("AIO_RW_LOCK_DEBUG", "long-hold=abc,long-wait=50,long-hold=100", TRUE);
  g_setenv ("G_MESSAGES_DEBUG", "Aio", TRUE);
  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, 0);
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_setenv ("AIO_RW_LOCK_DEBUG", saved, TRUE);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*AIO_RW_LOCK_DEBUG: cannot use ?long-hold=abc?*");
  g_test_trap_assert_stdout ("*Lock ?child?: WRITE hold ?visible? (thread *) has lasted *ms*");
}

/* A log writer that takes a lock when it is told of a warning: what an
 * application's writer may well do. */
static GLogWriterOutput
locking_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_try_acquire_read (lock);

  g_assert_nonnull (guard);
  return g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
}

/* The warning of a bad AIO_RW_LOCK_DEBUG comes from the first lock (or
 * table) made; a writer that makes a lock then must not wait for the
 * first one's reading of the variable (it used to, forever). */
static void
test_warning_writer_makes_lock (gconstpointer first_is_table)
{
  const char *was = g_getenv ("AIO_RW_LOCK_DEBUG");
  g_autofree char *saved = g_strdup (was);

  if (g_test_subprocess ())
    {
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      g_log_set_writer_func (locking_writer, NULL, NULL);
      if (GPOINTER_TO_INT (first_is_table))
        {
          g_autoptr(AioRwLockTable) table = aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR);
          g_autoptr(AioRwLockGuard) guard = aio_rw_lock_table_try_acquire (table, "key", WRITE, NULL);

          g_assert_nonnull (guard);
        }
      else
        {
          g_autoptr(AioRwLock) lock = aio_rw_lock_new ();

          g_assert_nonnull (lock);
        }
      return;
    }

  g_setenv ("AIO_RW_LOCK_DEBUG", "bogus,long-hold=100", TRUE);
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, 0);
  g_setenv ("AIO_RW_LOCK_DEBUG", saved, TRUE);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*AIO_RW_LOCK_DEBUG: cannot use ?bogus?*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  if (!g_test_subprocess ())
    {
      seen = g_ptr_array_new_with_free_func (seen_free);
      g_log_set_writer_func (catch_writer, NULL, NULL);
    }

  g_test_add_func ("/Aio/RwLock/debug/long-hold", test_long_hold);
  g_test_add_func ("/Aio/RwLock/debug/long-wait", test_long_wait);
  g_test_add_func ("/Aio/RwLock/debug/visible-with-messages-debug", test_visible_with_messages_debug);
  g_test_add_func ("/Aio/RwLock/debug/hidden-without-messages-debug", test_hidden_without_messages_debug);
  g_test_add_func ("/Aio/RwLock/debug/bad-value-warns", test_bad_value_warns);
  g_test_add_data_func ("/Aio/RwLock/debug/warning-writer-makes-lock", GINT_TO_POINTER (FALSE),
                        test_warning_writer_makes_lock);
  g_test_add_data_func ("/Aio/RwLock/debug/warning-writer-makes-lock-table", GINT_TO_POINTER (TRUE),
                        test_warning_writer_makes_lock);

  return g_test_run ();
}
