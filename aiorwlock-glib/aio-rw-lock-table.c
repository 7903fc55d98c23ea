/* aio-rw-lock-table.c: a lock per string key, made on demand
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-table.h"
#include "aio-rw-lock-private.h"
#include "aio-rw-lock-record.h"

/**
 * AioRwLockTable:
 *
 * A table of read-write locks, one per string key (a path, a URI, an
 * account or cache entry id), made on demand and gone when nothing holds,
 * waits on or references it.
 *
 * Each key's lock is an ordinary [class@Aio.RwLock] with the table's
 * policy, named after its key: acquiring a key behaves exactly as
 * acquiring its lock (same errors, cancellation and deadlines), and the
 * guard's [method@Aio.RwLockGuard.get_lock] is the key's lock.
 *
 * The table holds only a weak reference to each key's lock, so an entry
 * lives exactly as long as its lock: the lock's guards, its waiting
 * requests, and anyone holding a reference to it (taken from
 * [method@Aio.RwLockGuard.get_lock]) keep it alive; once every guard is
 * released and unreferenced, the lock is finalized and its entry removed.
 * A key never has two live locks, even when it is looked up on several
 * threads while its previous lock is being finalized.
 *
 * Every operation is O(1) in the number of keys.
 *
 * ```c
 * static AioRwLockTable *files;  // aio_rw_lock_table_new (AIO_RW_LOCK_POLICY_FAIR)
 *
 * aio_rw_lock_table_acquire_async (files, path, AIO_RW_LOCK_MODE_WRITE, -1,
 *                                  cancellable, on_file_locked, data);
 * ```
 *
 * Since: 1.1
 */

/* The entries outlive the table object: a key's lock may outlive the table
 * (its guards keep it), and its weak notify needs the map to take its
 * entry out of. Everything here is under @mutex, the table's own (the
 * locks' mutexes are never taken while it is held, nor the other way; no
 * lock is unreffed under it). g_weak_ref_get () under it may run a
 * binding's toggle notify, under GLib's weak-reference lock, which every
 * finalization of a key's lock takes before @mutex: no cycle.
 *
 * A lock resurrected during its dispose (a reference taken by a weak
 * notify or a signal's destroy notify of the app's) leaves the table
 * without an entry for its key: GObject's resurrection is not supported
 * for a key's lock. */
typedef struct
{
  gatomicrefcount  ref_count;  /* the table's, and one per entry */
  GMutex           mutex;
  GHashTable      *map;        /* key -> Entry; the key is the lock's name */
  gboolean         closed;
} Entries;

typedef struct
{
  const char *key;      /* the lock's name: alive until its weak notify */
  GWeakRef    lock;
  Entries    *entries;  /* owned */
} Entry;

struct _AioRwLockTable
{
  GObject          parent_instance;
  AioRwLockPolicy  policy;
  Entries         *entries;
};

enum {
  PROP_0,
  PROP_POLICY,
  PROP_N_KEYS,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (AioRwLockTable, aio_rw_lock_table, G_TYPE_OBJECT)


/* ---- Entries ---- */

static Entries *
entries_new (void)
{
  Entries *entries = g_new0 (Entries, 1);

  g_atomic_ref_count_init (&entries->ref_count);
  g_mutex_init (&entries->mutex);
  entries->map = g_hash_table_new (g_str_hash, g_str_equal);
  return entries;
}

static Entries *
entries_ref (Entries *entries)
{
  g_atomic_ref_count_inc (&entries->ref_count);
  return entries;
}

static void
entries_unref (Entries *entries)
{
  if (!g_atomic_ref_count_dec (&entries->ref_count))
    return;

  /* Every entry holds a reference: none is left. */
  g_assert (g_hash_table_size (entries->map) == 0);
  g_hash_table_unref (entries->map);
  g_mutex_clear (&entries->mutex);
  g_free (entries);
}

/* A key's lock is being finalized, on any thread. Its GWeakRef was cleared
 * already, so a lookup that came first made a new lock for the key and
 * replaced this entry; then it only frees itself. */
static void
on_lock_finalized (gpointer  data,
                   GObject  *where_the_lock_was)
{
  Entry *entry = data;
  Entries *entries = entry->entries;

  g_mutex_lock (&entries->mutex);
  if (g_hash_table_lookup (entries->map, entry->key) == entry)
    g_hash_table_remove (entries->map, entry->key);
  g_mutex_unlock (&entries->mutex);

  g_weak_ref_clear (&entry->lock);
  g_free (entry);
  entries_unref (entries);
}

/* The live lock of @key, made if it has none (transfer full); NULL with
 * @error set if the table is closed. */
static AioRwLock *
lock_for_key (AioRwLockTable  *self,
              const char      *key,
              GError         **error)
{
  Entries *entries = self->entries;
  AioRwLock *lock = NULL;
  Entry *entry;

  g_mutex_lock (&entries->mutex);

  if (entries->closed)
    {
      g_mutex_unlock (&entries->mutex);
      g_set_error_literal (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED,
                           "The lock table is closed");
      return NULL;
    }

  entry = g_hash_table_lookup (entries->map, key);
  if (entry != NULL)
    lock = g_weak_ref_get (&entry->lock);

  if (lock == NULL)
    {
      /* An entry without a lock: its lock is being finalized, and its weak
       * notify will find itself replaced. */
      if (entry != NULL)
        g_hash_table_steal (entries->map, key);

      lock = aio_rw_lock_new_named (self->policy, key);
      entry = g_new (Entry, 1);
      entry->key = aio_rw_lock_get_name (lock);
      g_weak_ref_init (&entry->lock, lock);
      entry->entries = entries_ref (entries);
      g_object_weak_ref (G_OBJECT (lock), on_lock_finalized, entry);
      g_hash_table_insert (entries->map, (gpointer) entry->key, entry);
    }

  g_mutex_unlock (&entries->mutex);

  return lock;
}

/* Closes the table: no new lock is made; returns the live ones. */
static GPtrArray *
close_entries (AioRwLockTable *self)
{
  Entries *entries = self->entries;
  GPtrArray *locks = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  Entry *entry;

  g_mutex_lock (&entries->mutex);
  entries->closed = TRUE;
  g_hash_table_iter_init (&iter, entries->map);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    {
      AioRwLock *lock = g_weak_ref_get (&entry->lock);

      if (lock != NULL)
        g_ptr_array_add (locks, lock);
    }
  g_mutex_unlock (&entries->mutex);

  return locks;
}

/* ---- GObject ---- */

static void
aio_rw_lock_table_finalize (GObject *object)
{
  AioRwLockTable *self = (AioRwLockTable *) object;

  /* Live locks keep their entries (and the map) until they go. */
  entries_unref (self->entries);

  G_OBJECT_CLASS (aio_rw_lock_table_parent_class)->finalize (object);
}

static void
aio_rw_lock_table_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  AioRwLockTable *self = AIO_RW_LOCK_TABLE (object);

  switch (prop_id)
    {
    case PROP_POLICY:
      g_value_set_enum (value, self->policy);
      break;
    case PROP_N_KEYS:
      g_value_set_uint (value, aio_rw_lock_table_get_n_keys (self));
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, aio_rw_lock_table_is_closed (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_table_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  AioRwLockTable *self = AIO_RW_LOCK_TABLE (object);

  switch (prop_id)
    {
    case PROP_POLICY:
      self->policy = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_table_class_init (AioRwLockTableClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = aio_rw_lock_table_finalize;
  object_class->get_property = aio_rw_lock_table_get_property;
  object_class->set_property = aio_rw_lock_table_set_property;

  /* As the lock's class does, and for the table's own CLOSED error. */
  (void) AIO_RW_LOCK_ERROR;
  g_type_ensure (AIO_TYPE_RW_LOCK);

  /**
   * AioRwLockTable:policy: (getter get_policy)
   *
   * The policy of the locks the table makes. Set at construction.
   *
   * Since: 1.1
   */
  properties[PROP_POLICY] =
    g_param_spec_enum ("policy", NULL, NULL,
                       AIO_TYPE_RW_LOCK_POLICY,
                       AIO_RW_LOCK_POLICY_FAIR,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockTable:n-keys: (getter get_n_keys)
   *
   * The number of keys that have a lock now. A snapshot: it changes on
   * any thread and is never notified.
   *
   * Since: 1.1
   */
  properties[PROP_N_KEYS] =
    g_param_spec_uint ("n-keys", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockTable:closed: (getter is_closed)
   *
   * Whether [method@Aio.RwLockTable.close] was called.
   *
   * Since: 1.1
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
aio_rw_lock_table_init (AioRwLockTable *self)
{
  self->entries = entries_new ();
  /* The first lock may be made under the table's mutex: AIO_RW_LOCK_DEBUG
   * is read (and warned of) now, not there. */
  aio_rw_lock_record_enabled ();
}

/* ---- Public API ---- */

/**
 * aio_rw_lock_table_new:
 * @policy: the policy of the locks the table makes
 *
 * Creates an empty table of locks.
 *
 * Returns: (transfer full): a new table
 *
 * Since: 1.1
 */
AioRwLockTable *
aio_rw_lock_table_new (AioRwLockPolicy policy)
{
  g_return_val_if_fail (policy <= AIO_RW_LOCK_POLICY_PREFER_READERS, NULL);

  return g_object_new (AIO_TYPE_RW_LOCK_TABLE, "policy", policy, NULL);
}

/**
 * aio_rw_lock_table_acquire_async:
 * @self: a table
 * @key: the key whose lock to acquire
 * @mode: the mode of the hold
 * @timeout_msec: how long to wait, in milliseconds: -1 for no limit, 0 for
 *   "only if it can be granted at once"
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the key's lock is held, or the
 *   request failed
 * @user_data: data for @callback
 *
 * Acquires the lock of @key in @mode, making it if the key has none, as
 * [method@Aio.RwLock.acquire_async] does for a single lock: the same
 * cancellation guarantee, deadline and errors. On a closed table it fails
 * with %AIO_RW_LOCK_ERROR_CLOSED. The request keeps the key's lock alive
 * while it waits.
 *
 * @callback runs in the thread-default main context of the calling thread,
 * never before this function returns; its source object is @self.
 *
 * Since: 1.1
 */
void
aio_rw_lock_table_acquire_async (AioRwLockTable      *self,
                                 const char          *key,
                                 AioRwLockMode        mode,
                                 int                  timeout_msec,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  AioRwLock *lock;

  g_return_if_fail (AIO_IS_RW_LOCK_TABLE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (aio_rw_lock_state_mode_is_valid (mode));
  g_return_if_fail (timeout_msec >= -1);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if ((lock = lock_for_key (self, key, &error)) == NULL)
    {
      /* No waiter (no task data): CLOSED, whatever the cancellable says. */
      task = g_task_new (self, cancellable, callback, user_data);
      g_task_set_source_tag (task, aio_rw_lock_table_acquire_async);
      g_task_set_check_cancellable (task, FALSE);
      g_task_return_error (task, error);
      return;
    }

  /* One task, as for a single lock, with the table as its source; the
   * request keeps the key's lock alive until it is delivered. */
  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_table_acquire_async);
  aio_rw_lock_core_acquire_async (aio_rw_lock_get_core (lock), g_steal_pointer (&task),
                                  mode, timeout_msec, G_OBJECT (lock), callback, user_data);
}

/**
 * aio_rw_lock_table_acquire_finish:
 * @self: a table
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLockTable.acquire_async].
 *
 * Returns: (transfer full): a guard of the key's lock, or `NULL` with
 *   @error set
 *
 * Since: 1.1
 */
AioRwLockGuard *
aio_rw_lock_table_acquire_finish (AioRwLockTable  *self,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_table_acquire_async), NULL);

  /* A closed table's task has no waiter. */
  if (g_task_get_task_data (G_TASK (result)) == NULL)
    return g_task_propagate_pointer (G_TASK (result), error);

  return aio_rw_lock_core_acquire_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_table_try_acquire:
 * @self: a table
 * @key: the key whose lock to acquire
 * @mode: the mode of the hold
 * @error: return location for a #GError
 *
 * Takes a hold of the lock of @key without waiting, as
 * [method@Aio.RwLock.try_acquire] does: `G_IO_ERROR_WOULD_BLOCK` if it
 * would have to wait, %AIO_RW_LOCK_ERROR_CLOSED if the table or the key's
 * lock is closed.
 *
 * Returns: (transfer full): a guard of the key's lock, or `NULL` with
 *   @error set
 *
 * Since: 1.1
 */
AioRwLockGuard *
aio_rw_lock_table_try_acquire (AioRwLockTable  *self,
                               const char      *key,
                               AioRwLockMode    mode,
                               GError         **error)
{
  g_autoptr(AioRwLock) lock = NULL;

  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((lock = lock_for_key (self, key, error)) == NULL)
    return NULL;

  return aio_rw_lock_try_acquire (lock, mode, error);
}

/**
 * aio_rw_lock_table_acquire:
 * @self: a table
 * @key: the key whose lock to acquire
 * @mode: the mode of the hold
 * @timeout_msec: how long to wait, in milliseconds: -1 for no limit, 0 for
 *   "only if it can be granted at once"
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Acquires the lock of @key, blocking the calling thread, as
 * [method@Aio.RwLock.acquire] does: for worker threads only.
 *
 * Returns: (transfer full): a guard of the key's lock, or `NULL` with
 *   @error set
 *
 * Since: 1.1
 */
AioRwLockGuard *
aio_rw_lock_table_acquire (AioRwLockTable  *self,
                           const char      *key,
                           AioRwLockMode    mode,
                           int              timeout_msec,
                           GCancellable    *cancellable,
                           GError         **error)
{
  g_autoptr(AioRwLock) lock = NULL;

  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), NULL);
  g_return_val_if_fail (timeout_msec >= -1, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((lock = lock_for_key (self, key, error)) == NULL)
    return NULL;

  return aio_rw_lock_acquire (lock, mode, timeout_msec, cancellable, error);
}

/**
 * aio_rw_lock_table_close:
 * @self: a table
 *
 * Closes the table and every lock it has now, as [method@Aio.RwLock.close]
 * does: waiting requests fail with %AIO_RW_LOCK_ERROR_CLOSED, and so does
 * every later acquisition of any key. Holders keep their guards until they
 * release them. Closing a closed table does nothing.
 *
 * Since: 1.1
 */
void
aio_rw_lock_table_close (AioRwLockTable *self)
{
  g_autoptr(GPtrArray) locks = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK_TABLE (self));

  locks = close_entries (self);
  for (guint i = 0; i < locks->len; i++)
    aio_rw_lock_close (g_ptr_array_index (locks, i));
}

typedef struct
{
  gint    pending;  /* the locks still draining, and the call itself */
  GError *error;    /* the first failure */
} Drains;

static void
drains_free (gpointer data)
{
  Drains *drains = data;

  g_clear_error (&drains->error);
  g_free (drains);
}

static void
drained_one (GTask  *task,
             GError *error)
{
  Drains *drains = g_task_get_task_data (task);

  if (error != NULL && drains->error == NULL)
    drains->error = g_steal_pointer (&error);
  g_clear_error (&error);

  if (!g_atomic_int_dec_and_test (&drains->pending))
    return;

  if (drains->error != NULL)
    g_task_return_error (task, g_steal_pointer (&drains->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_lock_drained (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  aio_rw_lock_close_finish (AIO_RW_LOCK (source), result, &error);
  drained_one (task, error);
}

/**
 * aio_rw_lock_table_close_async:
 * @self: a table
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once no hold of any key's lock is left
 * @user_data: data for @callback
 *
 * Closes the table as [method@Aio.RwLockTable.close] does, then completes
 * when the last hold of every key's lock has ended (each as
 * [method@Aio.RwLock.close_async]). A table with no held lock completes at
 * once (from the main context, never inside this call). Cancelling
 * @cancellable cancels the wait, not the close.
 *
 * Since: 1.1
 */
void
aio_rw_lock_table_close_async (AioRwLockTable      *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GPtrArray) locks = NULL;
  g_autoptr(GTask) task = NULL;
  Drains *drains;

  g_return_if_fail (AIO_IS_RW_LOCK_TABLE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, aio_rw_lock_table_close_async);
  /* As a lock's: a cancel after the callback started is too late. */
  g_task_set_check_cancellable (task, FALSE);
  locks = close_entries (self);
  if (g_task_return_error_if_cancelled (task))
    return;

  drains = g_new0 (Drains, 1);
  drains->pending = locks->len + 1;
  g_task_set_task_data (task, drains, drains_free);

  for (guint i = 0; i < locks->len; i++)
    aio_rw_lock_close_async (g_ptr_array_index (locks, i), cancellable,
                             on_lock_drained, g_object_ref (task));
  drained_one (task, NULL);
}

/**
 * aio_rw_lock_table_close_finish:
 * @self: a table
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLockTable.close_async].
 *
 * Returns: `TRUE` once the table is closed and no hold is left, `FALSE`
 *   with @error set if the wait was cancelled
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_table_close_finish (AioRwLockTable  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_table_close_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * aio_rw_lock_table_get_policy:
 * @self: a table
 *
 * Gets the [property@Aio.RwLockTable:policy] of @self.
 *
 * Returns: the policy of the locks it makes
 *
 * Since: 1.1
 */
AioRwLockPolicy
aio_rw_lock_table_get_policy (AioRwLockTable *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), AIO_RW_LOCK_POLICY_FAIR);

  return self->policy;
}

/**
 * aio_rw_lock_table_get_n_keys:
 * @self: a table
 *
 * Gets the [property@Aio.RwLockTable:n-keys] of @self.
 *
 * Returns: the number of keys with a lock now
 *
 * Since: 1.1
 */
guint
aio_rw_lock_table_get_n_keys (AioRwLockTable *self)
{
  guint n_keys;

  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), 0);

  g_mutex_lock (&self->entries->mutex);
  n_keys = g_hash_table_size (self->entries->map);
  g_mutex_unlock (&self->entries->mutex);

  return n_keys;
}

/**
 * aio_rw_lock_table_is_closed:
 * @self: a table
 *
 * Gets the [property@Aio.RwLockTable:closed] of @self.
 *
 * Returns: whether the table was closed
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_table_is_closed (AioRwLockTable *self)
{
  gboolean closed;

  g_return_val_if_fail (AIO_IS_RW_LOCK_TABLE (self), FALSE);

  g_mutex_lock (&self->entries->mutex);
  closed = self->entries->closed;
  g_mutex_unlock (&self->entries->mutex);

  return closed;
}
