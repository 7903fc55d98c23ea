/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* file-cache.c: a key=value table in a file, read by many at once, updated
 * by one at a time.
 *
 * A lookup takes a read guard and loads the file with GFile async I/O, so
 * any number of lookups run together. An update takes the write guard,
 * loads the file, changes one key and writes it back with
 * g_file_replace_contents_async (), so no lookup reads between the load and
 * the write and no two updates lose each other's change.
 *
 * Each operation is a GTask whose task data (a CacheOp) owns the guard. The
 * success paths release the guard as soon as the work is done; every error
 * path just returns the error, and the hold ends when the task frees its
 * data. No error path can forget to release. */

#include <aiorwlock-glib/aiorwlock.h>
#include <glib/gstdio.h>

#include <stdlib.h>
#include <string.h>

#define SAFETY_TIMEOUT_SECONDS 10

typedef struct
{
  AioRwLock *lock;
  GFile *file;
} FileCache;

/* What one operation owns while it runs; freed with its task. */
typedef struct
{
  FileCache *cache;       /* not owned: the cache outlives its operations */
  AioRwLockGuard *guard;  /* the hold; NULL until granted or once released */
  char *key;
  char *value;            /* updates: the new value */
  char *new_contents;     /* updates: must live until the write finished */
  GAsyncReadyCallback loaded_cb;  /* what reads the table once the lock is held */
} CacheOp;

static void
cache_op_free (gpointer data)
{
  CacheOp *op = data;

  /* Dropping the last reference to a guard that was not released ends
   * its hold: this is what releases the lock on the error paths. */
  g_clear_pointer (&op->guard, aio_rw_lock_guard_unref);
  g_free (op->key);
  g_free (op->value);
  g_free (op->new_contents);
  g_free (op);
}

static GTask *
cache_op_new (FileCache           *cache,
              const char          *key,
              const char          *value,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data,
              gpointer             source_tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  CacheOp *op = g_new0 (CacheOp, 1);

  op->cache = cache;
  op->key = g_strdup (key);
  op->value = g_strdup (value);
  g_task_set_task_data (task, op, cache_op_free);
  g_task_set_source_tag (task, source_tag);

  return task;
}

/* The work is done: end the hold now rather than when the task is freed,
 * which may be after the caller's callback has run. */
static void
cache_op_release (CacheOp *op)
{
  aio_rw_lock_guard_release (op->guard);
  g_clear_pointer (&op->guard, aio_rw_lock_guard_unref);
}

/* The table: "key=value" lines; blank lines and '#' comments are kept. */

static char *
table_lookup (const char *contents,
              gsize       length,
              const char *key)
{
  g_autofree char *text = g_strndup (contents, length);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  gsize key_len = strlen (key);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] != '#' &&
          strncmp (lines[i], key, key_len) == 0 && lines[i][key_len] == '=')
        return g_strdup (lines[i] + key_len + 1);
    }

  return NULL;
}

static char *
table_set (const char *contents,
           gsize       length,
           const char *key,
           const char *value)
{
  g_autofree char *text = g_strndup (contents, length);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);
  gsize key_len = strlen (key);
  gboolean found = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* g_strsplit leaves an empty last element after the final '\n'. */
      if (lines[i + 1] == NULL && lines[i][0] == '\0')
        break;

      if (!found && lines[i][0] != '#' &&
          strncmp (lines[i], key, key_len) == 0 && lines[i][key_len] == '=')
        {
          g_string_append_printf (out, "%s=%s\n", key, value);
          found = TRUE;
        }
      else
        g_string_append_printf (out, "%s\n", lines[i]);
    }

  if (!found)
    g_string_append_printf (out, "%s=%s\n", key, value);

  return g_string_free (out, FALSE);
}

/* Lookups, under a read guard. */

static guint max_concurrent_readers;

static void
lookup_loaded_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CacheOp *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  char *value;

  /* Everyone who is loading right now holds a read guard. */
  max_concurrent_readers = MAX (max_concurrent_readers,
                                aio_rw_lock_get_readers (op->cache->lock));

  if (!g_file_load_contents_finish (G_FILE (source), result, &contents, &length, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  value = table_lookup (contents, length, op->key);
  if (value == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "No key '%s' in the table", op->key);
      return;
    }

  cache_op_release (op);
  g_task_return_pointer (task, value, g_free);
}

static void
cache_op_locked_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CacheOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  GCancellable *cancellable;

  /* The guard goes into the task's data: whatever happens from here on,
   * freeing the task ends the hold. */
  op->guard = aio_rw_lock_acquire_finish (AIO_RW_LOCK (source), result, &error);
  if (op->guard == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  /* The cancellable is read before the task is stolen: argument
   * evaluation order is unspecified. */
  cancellable = g_task_get_cancellable (task);
  g_file_load_contents_async (op->cache->file, cancellable, op->loaded_cb, g_steal_pointer (&task));
}

/* Takes the lock in @mode, then loads the table and calls @loaded_cb. */
static void
cache_op_lock_and_load (GTask               *task,
                        AioRwLockMode        mode,
                        GAsyncReadyCallback  loaded_cb)
{
  CacheOp *op = g_task_get_task_data (task);

  op->loaded_cb = loaded_cb;
  aio_rw_lock_acquire_async (op->cache->lock, mode, -1, g_task_get_cancellable (task),
                             cache_op_locked_cb, task);
}

static void
file_cache_lookup_async (FileCache           *cache,
                         const char          *key,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task = cache_op_new (cache, key, NULL, cancellable, callback, user_data,
                              file_cache_lookup_async);

  /* Lookups share the lock. */
  cache_op_lock_and_load (task, AIO_RW_LOCK_MODE_READ, lookup_loaded_cb);
}

/* Returns: (transfer full): the value of the key. */
static char *
file_cache_lookup_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == file_cache_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Updates, under the write guard. */

static void
set_written_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CacheOp *op = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  cache_op_release (op);
  g_task_return_boolean (task, TRUE);
}

static void
set_loaded_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CacheOp *op = g_task_get_task_data (task);
  g_autofree char *contents = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  gsize length;

  if (!g_file_load_contents_finish (G_FILE (source), result, &contents, &length, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  op->new_contents = table_set (contents, length, op->key, op->value);
  cancellable = g_task_get_cancellable (task);
  /* Replaced atomically (a temporary file renamed over it); the write
   * guard is what makes load + change + write one step for the others. */
  g_file_replace_contents_async (op->cache->file,
                                 op->new_contents, strlen (op->new_contents),
                                 NULL, FALSE, G_FILE_CREATE_NONE,
                                 cancellable,
                                 set_written_cb,
                                 g_steal_pointer (&task));
}

static void
file_cache_set_async (FileCache           *cache,
                      const char          *key,
                      const char          *value,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task = cache_op_new (cache, key, value, cancellable, callback, user_data,
                              file_cache_set_async);

  /* An update holds the lock alone from reading the table to writing it. */
  cache_op_lock_and_load (task, AIO_RW_LOCK_MODE_WRITE, set_loaded_cb);
}

static gboolean
file_cache_set_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == file_cache_set_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The demo. */

typedef struct
{
  const char *key;
  const char *value;     /* NULL for a lookup */
  const char *expected;  /* the value a lookup must see; NULL: not found */

  char *seen;
  gboolean done;
  gboolean ok;
} Step;

/* All started in one go, in this order. With the default FAIR policy the
 * first three lookups share the lock, the update waits for them, and every
 * later request queues behind the update before it. */
static Step steps[] = {
  { "apple",      NULL,  "3" },
  { "banana",     NULL,  "5" },
  { "cherry",     NULL,  "7" },
  { "banana",     "6",   NULL },
  { "banana",     NULL,  "6" },
  { "durian",     NULL,  NULL },  /* an error path: the hold must still end */
  { "elderberry", "2",   NULL },
  { "elderberry", NULL,  "2" },
};

static const char initial_table[] =
  "# fruit prices\n"
  "apple=3\n"
  "banana=5\n"
  "cherry=7\n";

static const char expected_table[] =
  "# fruit prices\n"
  "apple=3\n"
  "banana=6\n"
  "cherry=7\n"
  "elderberry=2\n";

static GMainLoop *loop;
static guint n_done;

static void
step_done (Step *step)
{
  step->done = TRUE;
  if (++n_done == G_N_ELEMENTS (steps))
    g_main_loop_quit (loop);
}

static void
lookup_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Step *step = user_data;
  g_autoptr(GError) error = NULL;

  step->seen = file_cache_lookup_finish (result, &error);
  if (step->seen != NULL)
    {
      g_print ("lookup %-10s -> %s\n", step->key, step->seen);
      step->ok = g_strcmp0 (step->seen, step->expected) == 0;
    }
  else
    {
      g_print ("lookup %-10s -> error: %s\n", step->key, error->message);
      step->ok = step->expected == NULL &&
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    }
  step_done (step);
}

static void
set_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Step *step = user_data;
  g_autoptr(GError) error = NULL;

  step->ok = file_cache_set_finish (result, &error);
  if (step->ok)
    g_print ("set    %-10s =  %s\n", step->key, step->value);
  else
    g_print ("set    %-10s failed: %s\n", step->key, error->message);
  step_done (step);
}

static gboolean
safety_timeout_cb (gpointer user_data)
{
  g_printerr ("error: the operations did not finish within %d s\n", SAFETY_TIMEOUT_SECONDS);
  exit (EXIT_FAILURE);
  return G_SOURCE_REMOVE;
}

static int
fail (const GError *error)
{
  g_printerr ("error: %s\n", error->message);
  return EXIT_FAILURE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *final = NULL;
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GFile) file = NULL;
  FileCache cache;
  gboolean ok = TRUE;

  dir = g_dir_make_tmp ("aio-file-cache-XXXXXX", &error);
  if (dir == NULL)
    return fail (error);
  path = g_build_filename (dir, "prices.txt", NULL);
  file = g_file_new_for_path (path);
  /* Setting up the demo; the cache itself only does async I/O. */
  if (!g_file_set_contents (path, initial_table, -1, &error))
    return fail (error);

  cache.lock = lock;
  cache.file = file;
  loop = g_main_loop_new (NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      if (steps[i].value != NULL)
        file_cache_set_async (&cache, steps[i].key, steps[i].value, NULL, set_done_cb, &steps[i]);
      else
        file_cache_lookup_async (&cache, steps[i].key, NULL, lookup_done_cb, &steps[i]);
    }
  g_timeout_add_seconds (SAFETY_TIMEOUT_SECONDS, safety_timeout_cb, NULL);
  g_main_loop_run (loop);
  g_main_loop_unref (loop);

  if (!g_file_get_contents (path, &final, NULL, &error))
    return fail (error);
  g_print ("\nfinal %s:\n%s", path, final);
  g_unlink (path);
  g_rmdir (dir);

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      if (!steps[i].ok)
        {
          g_printerr ("error: step %u (%s %s) did not give the expected result\n",
                      i, steps[i].value != NULL ? "set" : "lookup", steps[i].key);
          ok = FALSE;
        }
      g_free (steps[i].seen);
    }

  g_print ("\ncheck: max concurrent lookups = %u; lock free at the end: %s; file as expected: %s\n",
           max_concurrent_readers,
           aio_rw_lock_get_readers (lock) == 0 && !aio_rw_lock_is_write_locked (lock) ? "yes" : "no",
           g_strcmp0 (final, expected_table) == 0 ? "yes" : "no");

  if (max_concurrent_readers < 2)
    {
      g_printerr ("error: the lookups did not overlap\n");
      ok = FALSE;
    }
  if (aio_rw_lock_get_readers (lock) != 0 || aio_rw_lock_is_write_locked (lock))
    {
      g_printerr ("error: an operation leaked its hold\n");
      ok = FALSE;
    }
  if (g_strcmp0 (final, expected_table) != 0)
    {
      g_printerr ("error: the file does not hold the expected table:\n%s", expected_table);
      ok = FALSE;
    }

  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
