/* aio-rw-lock.c: the asynchronous read-write lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-private.h"

/**
 * AioRwLock:
 *
 * An asynchronous read-write lock for GLib programs: many readers may hold
 * it at once, a writer holds it alone.
 *
 * Acquiring never blocks the main loop. [method@Aio.RwLock.acquire_read_async]
 * and [method@Aio.RwLock.acquire_write_async] complete on the thread-default
 * main context of the calling thread with an [struct@Aio.RwLockGuard], the
 * proof of one hold; releasing the guard (or dropping its last reference)
 * ends the hold.
 *
 * The lock is thread-safe: any thread may acquire, release or cancel, async
 * waiters on many threads and main contexts share one queue with threads
 * blocked in [method@Aio.RwLock.acquire], and each async waiter completes on
 * its own context. No call into the library, and no
 * [method@Gio.Cancellable.cancel] of a cancellable given to it, runs a user
 * callback before it returns.
 *
 * Who enters next is decided by the [property@Aio.RwLock:policy]; the
 * default, %AIO_RW_LOCK_POLICY_FAIR, serves requests in arrival order
 * without barging, so neither readers nor writers starve.
 *
 * The [Overview](overview.html) introduces holds, guards and modes; the
 * [Policies](policies.html), [Cancellation and timeouts](cancellation.html),
 * [Threads and main contexts](threads.html) and
 * [Upgrade, downgrade and re-entry](upgrade.html) pages give the details,
 * [Migrating from aiorwlock](migrating.html) maps Python's aiorwlock
 * onto this API, and [Performance](performance.html) gives what it costs.
 *
 * ## Usage
 *
 * ```c
 * static void
 * on_write_locked (GObject      *source,
 *                  GAsyncResult *result,
 *                  gpointer      user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(AioRwLockGuard) guard = NULL;
 *
 *   guard = aio_rw_lock_acquire_write_finish (AIO_RW_LOCK (source), result, &error);
 *   if (guard == NULL)
 *     {
 *       g_warning ("Could not lock: %s", error->message);
 *       return;
 *     }
 *
 *   update_the_shared_table ();
 *
 *   // The hold ends here, when the guard goes out of scope.
 * }
 *
 * aio_rw_lock_acquire_write_async (lock, cancellable, on_write_locked, NULL);
 * ```
 *
 * Since: 1.0
 */

struct _AioRwLock
{
  GObject        parent_instance;
  AioRwLockCore  core;
  char          *name;  /* construct-only */
};

enum {
  PROP_0,
  PROP_POLICY,
  PROP_NAME,
  PROP_READERS,
  PROP_READ_LOCKED,
  PROP_WRITE_LOCKED,
  PROP_PENDING_READERS,
  PROP_PENDING_WRITERS,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (AioRwLock, aio_rw_lock, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (AioRwLockMode, aio_rw_lock_mode,
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_MODE_READ, "read"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_MODE_WRITE, "write"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_MODE_UPGRADABLE_READ, "upgradable-read"))

G_DEFINE_ENUM_TYPE (AioRwLockPolicy, aio_rw_lock_policy,
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_POLICY_FAIR, "fair"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_POLICY_PREFER_WRITERS, "prefer-writers"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_POLICY_PREFER_READERS, "prefer-readers"))

G_DEFINE_ENUM_TYPE (AioRwLockError, aio_rw_lock_error,
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_ERROR_WOULD_DEADLOCK, "would-deadlock"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_ERROR_NOT_HELD, "not-held"),
  G_DEFINE_ENUM_VALUE (AIO_RW_LOCK_ERROR_CLOSED, "closed"))

/**
 * aio_rw_lock_error_quark:
 *
 * The error domain of [class@Aio.RwLock].
 *
 * Returns: the quark of `AIO_RW_LOCK_ERROR`
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (aio-rw-lock-error-quark, aio_rw_lock_error)

/* For the keyed table, which makes a lock per key: the construct-only
 * properties set directly, without GObject's property machinery (a third
 * of the cost of a table operation on an idle key). */
AioRwLock *
aio_rw_lock_new_named (AioRwLockPolicy  policy,
                       const char      *name)
{
  AioRwLock *self = g_object_new (AIO_TYPE_RW_LOCK, NULL);

  aio_rw_lock_core_set_policy (&self->core, policy);
  self->name = g_strdup (name);
  aio_rw_lock_core_set_name (&self->core, self->name);
  return self;
}

/* For the keyed table, which submits to a key's lock directly. */
AioRwLockCore *
aio_rw_lock_get_core (AioRwLock *self)
{
  return &self->core;
}

/* For the tests that check the state after every step. */
void
aio_rw_lock_inspect_state (AioRwLock            *self,
                           AioRwLockInspectFunc  func,
                           gpointer              user_data)
{
  aio_rw_lock_core_inspect (&self->core, func, user_data);
}

/* ---- GObject ---- */

static void
aio_rw_lock_finalize (GObject *object)
{
  AioRwLock *self = (AioRwLock *) object;

  aio_rw_lock_core_clear (&self->core);
  g_free (self->name);

  G_OBJECT_CLASS (aio_rw_lock_parent_class)->finalize (object);
}

static void
aio_rw_lock_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  AioRwLock *self = AIO_RW_LOCK (object);

  switch (prop_id)
    {
    case PROP_POLICY:
      g_value_set_enum (value, aio_rw_lock_get_policy (self));
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_READERS:
      g_value_set_uint (value, aio_rw_lock_get_readers (self));
      break;
    case PROP_READ_LOCKED:
      g_value_set_boolean (value, aio_rw_lock_is_read_locked (self));
      break;
    case PROP_WRITE_LOCKED:
      g_value_set_boolean (value, aio_rw_lock_is_write_locked (self));
      break;
    case PROP_PENDING_READERS:
      g_value_set_uint (value, aio_rw_lock_get_pending_readers (self));
      break;
    case PROP_PENDING_WRITERS:
      g_value_set_uint (value, aio_rw_lock_get_pending_writers (self));
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, aio_rw_lock_is_closed (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  AioRwLock *self = AIO_RW_LOCK (object);

  switch (prop_id)
    {
    case PROP_POLICY:
      aio_rw_lock_core_set_policy (&self->core, g_value_get_enum (value));
      break;
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      aio_rw_lock_core_set_name (&self->core, self->name);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_class_init (AioRwLockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = aio_rw_lock_finalize;
  object_class->get_property = aio_rw_lock_get_property;
  object_class->set_property = aio_rw_lock_set_property;

  /* G_DEFINE_QUARK caches a quark in a plain static: make the two our
   * errors use here, once, rather than racing on them in the first
   * failures of a process on several threads. */
  (void) G_IO_ERROR;
  (void) AIO_RW_LOCK_ERROR;

  /**
   * AioRwLock:policy: (getter get_policy)
   *
   * Who may enter next; see [enum@Aio.RwLockPolicy]. Set at construction.
   *
   * Since: 1.0
   */
  properties[PROP_POLICY] =
    g_param_spec_enum ("policy", NULL, NULL,
                       AIO_TYPE_RW_LOCK_POLICY,
                       AIO_RW_LOCK_POLICY_FAIR,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:name: (getter get_name)
   *
   * A name for the lock, for people reading logs and debuggers, or `NULL`.
   * Set at construction; the lock of a key of an [class@Aio.RwLockTable]
   * is named after its key.
   *
   * Since: 1.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:readers: (getter get_readers)
   *
   * The number of read holds now, an UPGRADABLE_READ hold included. Guards
   * that re-entered one hold count once.
   *
   * Like every state property this is a snapshot: the state changes on any
   * thread, so no change notification is emitted.
   *
   * Since: 1.0
   */
  properties[PROP_READERS] =
    g_param_spec_uint ("readers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:read-locked: (getter is_read_locked)
   *
   * Whether any read hold (READ or UPGRADABLE_READ) exists now, that is,
 * whether [property@Aio.RwLock:readers] is not 0. It can be true next to
 * [property@Aio.RwLock:write-locked] when the writer re-entered its hold as
 * a reader.
   *
   * Since: 1.0
   */
  properties[PROP_READ_LOCKED] =
    g_param_spec_boolean ("read-locked", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:write-locked: (getter is_write_locked)
   *
   * Whether a writer holds the lock now.
   *
   * Since: 1.0
   */
  properties[PROP_WRITE_LOCKED] =
    g_param_spec_boolean ("write-locked", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:pending-readers: (getter get_pending_readers)
   *
   * The number of waiting READ and UPGRADABLE_READ requests.
   *
   * Since: 1.0
   */
  properties[PROP_PENDING_READERS] =
    g_param_spec_uint ("pending-readers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:pending-writers: (getter get_pending_writers)
   *
   * The number of waiting WRITE requests and pending upgrades.
   *
   * Since: 1.0
   */
  properties[PROP_PENDING_WRITERS] =
    g_param_spec_uint ("pending-writers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLock:closed: (getter is_closed)
   *
   * Whether [method@Aio.RwLock.close] was called.
   *
   * Since: 1.0
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
aio_rw_lock_init (AioRwLock *self)
{
  aio_rw_lock_core_init (&self->core, G_OBJECT (self));
}

/* ---- Public API ---- */

/**
 * aio_rw_lock_new:
 *
 * Creates a lock with the %AIO_RW_LOCK_POLICY_FAIR policy. Creating a lock
 * needs no main loop and binds it to no main context.
 *
 * Returns: (transfer full): a new lock
 *
 * Since: 1.0
 */
AioRwLock *
aio_rw_lock_new (void)
{
  return g_object_new (AIO_TYPE_RW_LOCK, NULL);
}

/**
 * aio_rw_lock_new_with_policy:
 * @policy: who may enter next
 *
 * Creates a lock with @policy; use %AIO_RW_LOCK_POLICY_PREFER_WRITERS for
 * the ordering of Python's aiorwlock.
 *
 * Returns: (transfer full): a new lock
 *
 * Since: 1.0
 */
AioRwLock *
aio_rw_lock_new_with_policy (AioRwLockPolicy policy)
{
  g_return_val_if_fail (policy <= AIO_RW_LOCK_POLICY_PREFER_READERS, NULL);

  return g_object_new (AIO_TYPE_RW_LOCK, "policy", policy, NULL);
}

/**
 * aio_rw_lock_acquire_read_async:
 * @self: a lock
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the lock is read-held, or the request failed
 * @user_data: data for @callback
 *
 * Asks for a READ hold: shared with other readers and one UPGRADABLE_READ
 * hold. @callback runs in the thread-default main context of the calling
 * thread, at `G_PRIORITY_DEFAULT`, never before this function returns; it
 * calls [method@Aio.RwLock.acquire_read_finish] for the guard.
 *
 * The request is granted at once if the policy lets it in now; otherwise it
 * waits in the queue. Cancelling @cancellable before @callback starts
 * makes the request fail with `G_IO_ERROR_CANCELLED`, even if the lock was
 * already granted: the grant is handed to the next waiters before @callback
 * runs. Once @callback has started, cancelling is too late and
 * [method@Aio.RwLock.acquire_read_finish] returns the guard. On a closed
 * lock the request fails with %AIO_RW_LOCK_ERROR_CLOSED.
 *
 * Since: 1.0
 */
void
aio_rw_lock_acquire_read_async (AioRwLock           *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_acquire_read_async);
  aio_rw_lock_core_acquire_async (&self->core, g_steal_pointer (&task),
                                  AIO_RW_LOCK_MODE_READ, -1, NULL, callback, user_data);
}

/**
 * aio_rw_lock_acquire_read_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.acquire_read_async].
 *
 * Returns: (transfer full): a READ guard, or `NULL` with @error set
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_acquire_read_finish (AioRwLock     *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_acquire_read_async), NULL);

  return aio_rw_lock_core_acquire_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_acquire_write_async:
 * @self: a lock
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the lock is write-held, or the request failed
 * @user_data: data for @callback
 *
 * Asks for a WRITE hold: the lock held by nobody else. Completion,
 * cancellation and closing work as for [method@Aio.RwLock.acquire_read_async];
 * @callback calls [method@Aio.RwLock.acquire_write_finish] for the guard.
 *
 * Since: 1.0
 */
void
aio_rw_lock_acquire_write_async (AioRwLock           *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_acquire_write_async);
  aio_rw_lock_core_acquire_async (&self->core, g_steal_pointer (&task),
                                  AIO_RW_LOCK_MODE_WRITE, -1, NULL, callback, user_data);
}

/**
 * aio_rw_lock_acquire_write_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.acquire_write_async].
 *
 * Returns: (transfer full): a WRITE guard, or `NULL` with @error set
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_acquire_write_finish (AioRwLock     *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_acquire_write_async), NULL);

  return aio_rw_lock_core_acquire_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_acquire_async:
 * @self: a lock
 * @mode: the mode of the hold
 * @timeout_msec: how long to wait, in milliseconds: -1 for no limit, 0 for
 *   "only if it can be granted at once"
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the lock is held, or the request failed
 * @user_data: data for @callback
 *
 * The general form of [method@Aio.RwLock.acquire_read_async] and
 * [method@Aio.RwLock.acquire_write_async]: any @mode, including
 * %AIO_RW_LOCK_MODE_UPGRADABLE_READ, and an optional deadline. A request
 * still waiting when the deadline passes fails with `G_IO_ERROR_TIMED_OUT`;
 * a deadline never revokes a grant already made. @callback calls
 * [method@Aio.RwLock.acquire_finish].
 *
 * Since: 1.0
 */
void
aio_rw_lock_acquire_async (AioRwLock           *self,
                           AioRwLockMode        mode,
                           int                  timeout_msec,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (aio_rw_lock_state_mode_is_valid (mode));
  g_return_if_fail (timeout_msec >= -1);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_acquire_async);
  aio_rw_lock_core_acquire_async (&self->core, g_steal_pointer (&task),
                                  mode, timeout_msec, NULL, callback, user_data);
}

/**
 * aio_rw_lock_acquire_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.acquire_async].
 *
 * Returns: (transfer full): a guard in the requested mode, or `NULL` with
 *   @error set
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_acquire_finish (AioRwLock     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_acquire_async), NULL);

  return aio_rw_lock_core_acquire_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_acquire:
 * @self: a lock
 * @mode: the mode of the hold
 * @timeout_msec: how long to wait, in milliseconds: -1 for no limit, 0 for
 *   "only if it can be granted at once"
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Acquires the lock, blocking the calling thread until it is granted: for
 * worker threads (in g_task_run_in_thread(), for example), never for a
 * thread that runs a main loop the holders need. The request waits in the
 * same queue as the async ones. Cancelling @cancellable from another
 * thread wakes it with `G_IO_ERROR_CANCELLED`; an expired deadline gives
 * `G_IO_ERROR_TIMED_OUT`; a closed lock %AIO_RW_LOCK_ERROR_CLOSED.
 *
 * Returns: (transfer full): a guard, or `NULL` with @error set
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_acquire (AioRwLock     *self,
                     AioRwLockMode  mode,
                     int            timeout_msec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), NULL);
  g_return_val_if_fail (timeout_msec >= -1, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return aio_rw_lock_core_acquire (&self->core, mode, timeout_msec, cancellable, error);
}

/**
 * aio_rw_lock_try_acquire_read:
 * @self: a lock
 *
 * Takes a READ hold if the policy lets a new reader in now, without
 * waiting and without a main-loop round trip (the `fast` path of Python's
 * aiorwlock). Under %AIO_RW_LOCK_POLICY_FAIR that needs an empty queue.
 *
 * Returns: (transfer full) (nullable): a READ guard, or `NULL` if the
 *   request would have to wait or the lock is closed
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_try_acquire_read (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);

  return aio_rw_lock_core_try_acquire (&self->core, AIO_RW_LOCK_MODE_READ, NULL);
}

/**
 * aio_rw_lock_try_acquire_write:
 * @self: a lock
 *
 * Takes a WRITE hold if nobody holds the lock and the policy lets a new
 * writer in now, without waiting.
 *
 * Returns: (transfer full) (nullable): a WRITE guard, or `NULL` if the
 *   request would have to wait or the lock is closed
 *
 * Since: 1.0
 */
AioRwLockGuard *
aio_rw_lock_try_acquire_write (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);

  return aio_rw_lock_core_try_acquire (&self->core, AIO_RW_LOCK_MODE_WRITE, NULL);
}

/**
 * aio_rw_lock_try_acquire:
 * @self: a lock
 * @mode: the mode of the hold
 * @error: return location for a #GError
 *
 * Takes a hold in any @mode if the policy lets it in now, without waiting
 * and without a main-loop round trip, and says why not otherwise:
 * `G_IO_ERROR_WOULD_BLOCK` if the request would have to wait,
 * %AIO_RW_LOCK_ERROR_CLOSED if the lock is closed. Under
 * %AIO_RW_LOCK_POLICY_FAIR a new hold needs an empty queue.
 *
 * Returns: (transfer full): a guard in @mode, or `NULL` with @error set
 *
 * Since: 1.1
 */
AioRwLockGuard *
aio_rw_lock_try_acquire (AioRwLock      *self,
                         AioRwLockMode   mode,
                         GError        **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);
  g_return_val_if_fail (aio_rw_lock_state_mode_is_valid (mode), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return aio_rw_lock_core_try_acquire (&self->core, mode, error);
}

/**
 * aio_rw_lock_upgrade_async:
 * @self: a lock
 * @guard: an UPGRADABLE_READ guard of @self
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when @guard is WRITE, or the upgrade failed
 * @user_data: data for @callback
 *
 * The same as [method@Aio.RwLockGuard.upgrade_async], as a method of the
 * lock, whose result [method@Aio.RwLock.upgrade_finish] finishes. Either
 * finish function takes the result of either start function; bindings that
 * finish on the source object (GJS's `Gio._promisify`) use this one.
 *
 * Since: 1.0
 */
void
aio_rw_lock_upgrade_async (AioRwLock           *self,
                           AioRwLockGuard      *guard,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (guard != NULL);
  g_return_if_fail (aio_rw_lock_core_guard_get_owner (guard) == G_OBJECT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_upgrade_async);
  aio_rw_lock_core_upgrade_async (g_steal_pointer (&task), guard, -1, callback, user_data);
}

/**
 * aio_rw_lock_upgrade_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.upgrade_async] (or
 * [method@Aio.RwLockGuard.upgrade_async]); see
 * [method@Aio.RwLockGuard.upgrade_finish].
 *
 * Returns: `TRUE` if the guard is now WRITE, `FALSE` with @error set otherwise
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_upgrade_finish (AioRwLock     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_upgrade_async) ||
                        aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_guard_upgrade_async) ||
                        aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_guard_upgrade_full_async), FALSE);

  return aio_rw_lock_core_upgrade_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_close:
 * @self: a lock
 *
 * Closes the lock: every waiting request, pending upgrades included, fails
 * with %AIO_RW_LOCK_ERROR_CLOSED (from its own main context, as always),
 * and so does every later acquisition; try-locks return `NULL`. Holders
 * keep their guards until they release them, and may still re-enter and
 * downgrade them. Closing a closed lock does nothing.
 *
 * Since: 1.0
 */
void
aio_rw_lock_close (AioRwLock *self)
{
  g_return_if_fail (AIO_IS_RW_LOCK (self));

  aio_rw_lock_core_close (&self->core);
}

/**
 * aio_rw_lock_close_async:
 * @self: a lock
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once no hold of @self is left
 * @user_data: data for @callback
 *
 * Closes the lock as [method@Aio.RwLock.close] does, then completes when
 * the last hold has ended: once every guard is released (or gone), so an
 * app can write out what the lock protected at shutdown. A lock that
 * holds nothing completes at once (still from the main context, never
 * inside this call).
 *
 * Cancelling @cancellable cancels the wait, not the close: the lock stays
 * closed, and [method@Aio.RwLock.close_finish] reports
 * `G_IO_ERROR_CANCELLED` if the cancel landed before @callback started.
 *
 * @callback runs in the thread-default main context of the calling
 * thread. Any number of callers may wait at once.
 *
 * Since: 1.1
 */
void
aio_rw_lock_close_async (AioRwLock           *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (AIO_IS_RW_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, aio_rw_lock_core_task_returned, NULL);
  g_task_set_source_tag (task, aio_rw_lock_close_async);
  aio_rw_lock_core_close_async (&self->core, g_steal_pointer (&task), callback, user_data);
}

/**
 * aio_rw_lock_close_finish:
 * @self: a lock
 * @result: the result passed to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Aio.RwLock.close_async].
 *
 * Returns: `TRUE` once the lock is closed and no hold is left, `FALSE`
 *   with @error set if the wait was cancelled
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_close_finish (AioRwLock     *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (aio_rw_lock_core_task_is_tagged (result, aio_rw_lock_close_async), FALSE);

  return aio_rw_lock_core_close_finish (G_TASK (result), error);
}

/**
 * aio_rw_lock_get_policy:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:policy] of @self.
 *
 * Returns: the policy
 *
 * Since: 1.0
 */
AioRwLockPolicy
aio_rw_lock_get_policy (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), AIO_RW_LOCK_POLICY_FAIR);

  return aio_rw_lock_core_get_policy (&self->core);
}

/**
 * aio_rw_lock_get_name:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:name] of @self.
 *
 * Returns: (nullable): the name, or `NULL`
 *
 * Since: 1.1
 */
const char *
aio_rw_lock_get_name (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), NULL);

  return self->name;
}

static AioRwLockSnapshot
snapshot (AioRwLock *self)
{
  AioRwLockSnapshot snapshot;

  aio_rw_lock_core_snapshot (&self->core, &snapshot);
  return snapshot;
}

/**
 * aio_rw_lock_get_readers:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:readers] of @self: the read holds now.
 *
 * Returns: the number of read holds
 *
 * Since: 1.0
 */
guint
aio_rw_lock_get_readers (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), 0);

  return snapshot (self).readers;
}

/**
 * aio_rw_lock_is_read_locked:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:read-locked] of @self.
 *
 * Returns: whether any read hold exists now
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_is_read_locked (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);

  return snapshot (self).readers > 0;
}

/**
 * aio_rw_lock_is_write_locked:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:write-locked] of @self.
 *
 * Returns: whether a writer holds the lock now
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_is_write_locked (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);

  return snapshot (self).write_locked;
}

/**
 * aio_rw_lock_get_pending_readers:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:pending-readers] of @self.
 *
 * Returns: the number of waiting READ and UPGRADABLE_READ requests
 *
 * Since: 1.0
 */
guint
aio_rw_lock_get_pending_readers (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), 0);

  return snapshot (self).pending_readers;
}

/**
 * aio_rw_lock_get_pending_writers:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:pending-writers] of @self.
 *
 * Returns: the number of waiting WRITE requests and pending upgrades
 *
 * Since: 1.0
 */
guint
aio_rw_lock_get_pending_writers (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), 0);

  return snapshot (self).pending_writers;
}

/**
 * aio_rw_lock_is_closed:
 * @self: a lock
 *
 * Gets the [property@Aio.RwLock:closed] of @self.
 *
 * Returns: whether the lock was closed
 *
 * Since: 1.0
 */
gboolean
aio_rw_lock_is_closed (AioRwLock *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (self), FALSE);

  return snapshot (self).closed;
}
