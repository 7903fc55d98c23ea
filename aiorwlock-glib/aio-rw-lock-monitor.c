/* aio-rw-lock-monitor.c: a lock's state for user interfaces
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-monitor.h"
#include "aio-rw-lock-private.h"

/* ---- AioRwLockHoldInfo ---- */

/**
 * AioRwLockHoldInfo:
 *
 * One hold of a lock, or one request waiting for it, as an
 * [class@Aio.RwLockMonitor] lists them. Its properties do not change: the
 * monitor replaces the item when the hold changes.
 *
 * Since: 1.1
 */
struct _AioRwLockHoldInfo
{
  GObject        parent_instance;
  AioRwLockMode  mode;
  gboolean       waiting;
  gint64         since_usec;
  guint64        thread_id;
  char          *label;
};

enum {
  INFO_PROP_0,
  INFO_PROP_MODE,
  INFO_PROP_WAITING,
  INFO_PROP_SINCE_USEC,
  INFO_PROP_THREAD_ID,
  INFO_PROP_LABEL,
  INFO_N_PROPS
};

static GParamSpec *info_properties[INFO_N_PROPS];

G_DEFINE_FINAL_TYPE (AioRwLockHoldInfo, aio_rw_lock_hold_info, G_TYPE_OBJECT)

static void
aio_rw_lock_hold_info_finalize (GObject *object)
{
  AioRwLockHoldInfo *self = (AioRwLockHoldInfo *) object;

  g_free (self->label);

  G_OBJECT_CLASS (aio_rw_lock_hold_info_parent_class)->finalize (object);
}

static void
aio_rw_lock_hold_info_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  AioRwLockHoldInfo *self = AIO_RW_LOCK_HOLD_INFO (object);

  switch (prop_id)
    {
    case INFO_PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case INFO_PROP_WAITING:
      g_value_set_boolean (value, self->waiting);
      break;
    case INFO_PROP_SINCE_USEC:
      g_value_set_int64 (value, self->since_usec);
      break;
    case INFO_PROP_THREAD_ID:
      g_value_set_uint64 (value, self->thread_id);
      break;
    case INFO_PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_hold_info_class_init (AioRwLockHoldInfoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = aio_rw_lock_hold_info_finalize;
  object_class->get_property = aio_rw_lock_hold_info_get_property;

  /**
   * AioRwLockHoldInfo:mode: (getter get_mode)
   *
   * The mode held, or asked for.
   *
   * Since: 1.1
   */
  info_properties[INFO_PROP_MODE] =
    g_param_spec_enum ("mode", NULL, NULL,
                       AIO_TYPE_RW_LOCK_MODE, AIO_RW_LOCK_MODE_READ,
                       (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockHoldInfo:waiting: (getter is_waiting)
   *
   * Whether this is a request still waiting (a pending upgrade included),
   * not a hold.
   *
   * Since: 1.1
   */
  info_properties[INFO_PROP_WAITING] =
    g_param_spec_boolean ("waiting", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockHoldInfo:since-usec: (getter get_since_usec)
   *
   * When the hold began or the request started waiting, in the time of
   * g_get_monotonic_time(); 0 if it began before anything recorded it.
   *
   * Since: 1.1
   */
  info_properties[INFO_PROP_SINCE_USEC] =
    g_param_spec_int64 ("since-usec", NULL, NULL,
                        0, G_MAXINT64, 0,
                        (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockHoldInfo:thread-id: (getter get_thread_id)
   *
   * The operating system's id of the thread that made the request (on
   * Linux, gettid(): what `ps -L`, `top -H`, gdb and Sysprof show), or 0
   * if it began before anything recorded it.
   *
   * Since: 1.1
   */
  info_properties[INFO_PROP_THREAD_ID] =
    g_param_spec_uint64 ("thread-id", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockHoldInfo:label: (getter get_label)
   *
   * The label its holder set with [method@Aio.RwLockGuard.set_label], or
   * `NULL`. Waiting requests have none.
   *
   * Since: 1.1
   */
  info_properties[INFO_PROP_LABEL] =
    g_param_spec_string ("label", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, INFO_N_PROPS, info_properties);
}

static void
aio_rw_lock_hold_info_init (AioRwLockHoldInfo *self)
{
}

static AioRwLockHoldInfo *
hold_info_new (const AioRwLockEntry *entry)
{
  AioRwLockHoldInfo *self = g_object_new (AIO_TYPE_RW_LOCK_HOLD_INFO, NULL);

  self->mode = entry->mode;
  self->waiting = entry->waiting;
  self->since_usec = entry->since_usec;
  self->thread_id = entry->thread_id;
  self->label = g_strdup (entry->label);
  return self;
}

static gboolean
hold_info_equal (AioRwLockHoldInfo *a,
                 AioRwLockHoldInfo *b)
{
  return a->mode == b->mode && a->waiting == b->waiting &&
         a->since_usec == b->since_usec && a->thread_id == b->thread_id &&
         g_strcmp0 (a->label, b->label) == 0;
}

/**
 * aio_rw_lock_hold_info_get_mode:
 * @self: a hold info
 *
 * Gets the [property@Aio.RwLockHoldInfo:mode] of @self.
 *
 * Returns: the mode
 *
 * Since: 1.1
 */
AioRwLockMode
aio_rw_lock_hold_info_get_mode (AioRwLockHoldInfo *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_HOLD_INFO (self), AIO_RW_LOCK_MODE_READ);

  return self->mode;
}

/**
 * aio_rw_lock_hold_info_is_waiting:
 * @self: a hold info
 *
 * Gets the [property@Aio.RwLockHoldInfo:waiting] of @self.
 *
 * Returns: whether it is a waiting request
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_hold_info_is_waiting (AioRwLockHoldInfo *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_HOLD_INFO (self), FALSE);

  return self->waiting;
}

/**
 * aio_rw_lock_hold_info_get_since_usec:
 * @self: a hold info
 *
 * Gets the [property@Aio.RwLockHoldInfo:since-usec] of @self.
 *
 * Returns: the monotonic time it began, or 0
 *
 * Since: 1.1
 */
gint64
aio_rw_lock_hold_info_get_since_usec (AioRwLockHoldInfo *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_HOLD_INFO (self), 0);

  return self->since_usec;
}

/**
 * aio_rw_lock_hold_info_get_thread_id:
 * @self: a hold info
 *
 * Gets the [property@Aio.RwLockHoldInfo:thread-id] of @self.
 *
 * Returns: the OS thread id, or 0
 *
 * Since: 1.1
 */
guint64
aio_rw_lock_hold_info_get_thread_id (AioRwLockHoldInfo *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_HOLD_INFO (self), 0);

  return self->thread_id;
}

/**
 * aio_rw_lock_hold_info_get_label:
 * @self: a hold info
 *
 * Gets the [property@Aio.RwLockHoldInfo:label] of @self.
 *
 * Returns: (nullable): the label, or `NULL`
 *
 * Since: 1.1
 */
const char *
aio_rw_lock_hold_info_get_label (AioRwLockHoldInfo *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_HOLD_INFO (self), NULL);

  return self->label;
}

/* ---- AioRwLockMonitor ---- */

/**
 * AioRwLockMonitor:
 *
 * Shows the state of an [class@Aio.RwLock] to a user interface: its
 * properties ([property@Aio.RwLockMonitor:readers],
 * [property@Aio.RwLockMonitor:write-locked], …) notify on the main
 * context that was the thread-default one when the monitor was made, and
 * it is a [iface@Gio.ListModel] of [class@Aio.RwLockHoldInfo]: the holds
 * and the waiting requests of the lock. `g_object_bind_property()` and
 * GtkExpressions work with them.
 *
 * The lock changes on any thread; the monitor catches up on its context,
 * at most once per main-loop iteration, however many changes came in
 * between. Use and drop a monitor on the thread of its context, as a
 * #GFileMonitor.
 *
 * While a monitor of a lock exists, the lock records when each hold and
 * wait began, the operating-system thread that made it and the label its
 * holder set with [method@Aio.RwLockGuard.set_label]. Holds and waits
 * that began before (when neither a monitor, `AIO_RW_LOCK_DEBUG` nor a
 * Sysprof capture was recording) are listed with
 * [property@Aio.RwLockHoldInfo:since-usec] and
 * [property@Aio.RwLockHoldInfo:thread-id] 0. Items are listed holds
 * first (WRITE, UPGRADABLE_READ, then READ; those begun unrecorded
 * first, then by when they began), then the pending upgrade, then the
 * waiting requests in the order they arrived. A WRITE hold whose guard
 * re-entered the lock for reading is one item.
 *
 * Since: 1.1
 */
struct _AioRwLockMonitor
{
  GObject            parent_instance;
  AioRwLock         *lock;
  GMainContext      *context;
  GSource           *refresh;  /* ready when the lock changed */
  AioRwLockSnapshot  shown;
  GPtrArray         *items;    /* AioRwLockHoldInfo */
};

enum {
  PROP_0,
  PROP_LOCK,
  PROP_READERS,
  PROP_WRITE_LOCKED,
  PROP_PENDING_READERS,
  PROP_PENDING_WRITERS,
  PROP_CLOSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void aio_rw_lock_monitor_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (AioRwLockMonitor, aio_rw_lock_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      aio_rw_lock_monitor_list_model_init))

/* Under the lock's mutex, on the thread that changed it. */
static void
on_lock_changed (gpointer user_data)
{
  AioRwLockMonitor *self = user_data;

  g_source_set_ready_time (self->refresh, 0);
}

static void
collect_entry (const AioRwLockEntry *entry,
               gpointer              user_data)
{
  g_ptr_array_add (user_data, hold_info_new (entry));
}

/* Reads the lock, then tells what changed: the properties that did, and
 * the items, replaced as a whole if any differs. */
static void
refresh (AioRwLockMonitor *self)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) old_items = NULL;
  AioRwLockSnapshot now, was = self->shown;
  gboolean same = TRUE;

  aio_rw_lock_core_list (aio_rw_lock_get_core (self->lock), &now, collect_entry, items);

  if (items->len != self->items->len)
    same = FALSE;
  for (guint i = 0; same && i < items->len; i++)
    same = hold_info_equal (g_ptr_array_index (items, i), g_ptr_array_index (self->items, i));

  self->shown = now;
  if (!same)
    {
      old_items = g_steal_pointer (&self->items);
      self->items = g_steal_pointer (&items);
    }

  g_object_freeze_notify (G_OBJECT (self));
  if (now.readers != was.readers)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READERS]);
  if (now.write_locked != was.write_locked)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITE_LOCKED]);
  if (now.pending_readers != was.pending_readers)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING_READERS]);
  if (now.pending_writers != was.pending_writers)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PENDING_WRITERS]);
  if (now.closed != was.closed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLOSED]);
  if (!same)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old_items->len, self->items->len);
  g_object_thaw_notify (G_OBJECT (self));
}

static gboolean
refresh_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs refresh_funcs = {
  NULL, NULL, refresh_dispatch, NULL, NULL, NULL,
};

static gboolean
on_refresh (gpointer user_data)
{
  refresh (user_data);
  return G_SOURCE_CONTINUE;
}

static void
aio_rw_lock_monitor_constructed (GObject *object)
{
  AioRwLockMonitor *self = (AioRwLockMonitor *) object;

  G_OBJECT_CLASS (aio_rw_lock_monitor_parent_class)->constructed (object);

  g_return_if_fail (AIO_IS_RW_LOCK (self->lock));

  self->context = g_main_context_ref_thread_default ();
  self->refresh = g_source_new (&refresh_funcs, sizeof (GSource));
  g_source_set_static_name (self->refresh, "[aiorwlock] monitor refresh");
  g_source_set_priority (self->refresh, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->refresh, on_refresh, self, NULL);
  g_source_set_ready_time (self->refresh, -1);
  g_source_attach (self->refresh, self->context);

  /* What exists now, without notifications: nobody listens yet. */
  aio_rw_lock_core_add_watch (aio_rw_lock_get_core (self->lock), on_lock_changed, self);
  aio_rw_lock_core_list (aio_rw_lock_get_core (self->lock), &self->shown, collect_entry, self->items);
}

static void
aio_rw_lock_monitor_dispose (GObject *object)
{
  AioRwLockMonitor *self = (AioRwLockMonitor *) object;

  if (self->refresh != NULL)
    {
      /* No call of on_lock_changed () after this. */
      aio_rw_lock_core_remove_watch (aio_rw_lock_get_core (self->lock), on_lock_changed, self);
      g_source_destroy (self->refresh);
      g_clear_pointer (&self->refresh, g_source_unref);
    }

  G_OBJECT_CLASS (aio_rw_lock_monitor_parent_class)->dispose (object);
}

static void
aio_rw_lock_monitor_finalize (GObject *object)
{
  AioRwLockMonitor *self = (AioRwLockMonitor *) object;

  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->lock);

  G_OBJECT_CLASS (aio_rw_lock_monitor_parent_class)->finalize (object);
}

static void
aio_rw_lock_monitor_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  AioRwLockMonitor *self = AIO_RW_LOCK_MONITOR (object);

  switch (prop_id)
    {
    case PROP_LOCK:
      g_value_set_object (value, self->lock);
      break;
    case PROP_READERS:
      g_value_set_uint (value, self->shown.readers);
      break;
    case PROP_WRITE_LOCKED:
      g_value_set_boolean (value, self->shown.write_locked);
      break;
    case PROP_PENDING_READERS:
      g_value_set_uint (value, self->shown.pending_readers);
      break;
    case PROP_PENDING_WRITERS:
      g_value_set_uint (value, self->shown.pending_writers);
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, self->shown.closed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
aio_rw_lock_monitor_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  AioRwLockMonitor *self = AIO_RW_LOCK_MONITOR (object);

  switch (prop_id)
    {
    case PROP_LOCK:
      self->lock = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GType
aio_rw_lock_monitor_get_item_type (GListModel *model)
{
  return AIO_TYPE_RW_LOCK_HOLD_INFO;
}

static guint
aio_rw_lock_monitor_get_n_items (GListModel *model)
{
  return AIO_RW_LOCK_MONITOR (model)->items->len;
}

static gpointer
aio_rw_lock_monitor_get_item (GListModel *model,
                              guint       position)
{
  AioRwLockMonitor *self = AIO_RW_LOCK_MONITOR (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
aio_rw_lock_monitor_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = aio_rw_lock_monitor_get_item_type;
  iface->get_n_items = aio_rw_lock_monitor_get_n_items;
  iface->get_item = aio_rw_lock_monitor_get_item;
}

static void
aio_rw_lock_monitor_class_init (AioRwLockMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = aio_rw_lock_monitor_constructed;
  object_class->dispose = aio_rw_lock_monitor_dispose;
  object_class->finalize = aio_rw_lock_monitor_finalize;
  object_class->get_property = aio_rw_lock_monitor_get_property;
  object_class->set_property = aio_rw_lock_monitor_set_property;

  /**
   * AioRwLockMonitor:lock: (getter get_lock)
   *
   * The lock it shows. Set at construction; the monitor keeps it alive.
   *
   * Since: 1.1
   */
  properties[PROP_LOCK] =
    g_param_spec_object ("lock", NULL, NULL,
                         AIO_TYPE_RW_LOCK,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockMonitor:readers: (getter get_readers)
   *
   * The lock's [property@Aio.RwLock:readers], as of the monitor's last
   * look; notified on the monitor's context.
   *
   * Since: 1.1
   */
  properties[PROP_READERS] =
    g_param_spec_uint ("readers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockMonitor:write-locked: (getter is_write_locked)
   *
   * The lock's [property@Aio.RwLock:write-locked], as of the monitor's
   * last look; notified on the monitor's context.
   *
   * Since: 1.1
   */
  properties[PROP_WRITE_LOCKED] =
    g_param_spec_boolean ("write-locked", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockMonitor:pending-readers: (getter get_pending_readers)
   *
   * The lock's [property@Aio.RwLock:pending-readers], as of the monitor's
   * last look; notified on the monitor's context.
   *
   * Since: 1.1
   */
  properties[PROP_PENDING_READERS] =
    g_param_spec_uint ("pending-readers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockMonitor:pending-writers: (getter get_pending_writers)
   *
   * The lock's [property@Aio.RwLock:pending-writers], as of the monitor's
   * last look; notified on the monitor's context.
   *
   * Since: 1.1
   */
  properties[PROP_PENDING_WRITERS] =
    g_param_spec_uint ("pending-writers", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * AioRwLockMonitor:closed: (getter is_closed)
   *
   * The lock's [property@Aio.RwLock:closed], as of the monitor's last
   * look; notified on the monitor's context.
   *
   * Since: 1.1
   */
  properties[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
aio_rw_lock_monitor_init (AioRwLockMonitor *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * aio_rw_lock_monitor_new:
 * @lock: the lock to show
 *
 * Makes a monitor of @lock, notifying on the calling thread's
 * thread-default main context. It starts with what exists now.
 *
 * Returns: (transfer full): a new monitor
 *
 * Since: 1.1
 */
AioRwLockMonitor *
aio_rw_lock_monitor_new (AioRwLock *lock)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK (lock), NULL);

  return g_object_new (AIO_TYPE_RW_LOCK_MONITOR, "lock", lock, NULL);
}

/**
 * aio_rw_lock_monitor_get_lock:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:lock] of @self.
 *
 * Returns: (transfer none): the lock
 *
 * Since: 1.1
 */
AioRwLock *
aio_rw_lock_monitor_get_lock (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), NULL);

  return self->lock;
}

/**
 * aio_rw_lock_monitor_get_readers:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:readers] of @self.
 *
 * Returns: the read holds, as of the monitor's last look
 *
 * Since: 1.1
 */
guint
aio_rw_lock_monitor_get_readers (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), 0);

  return self->shown.readers;
}

/**
 * aio_rw_lock_monitor_is_write_locked:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:write-locked] of @self.
 *
 * Returns: whether a writer held the lock at the monitor's last look
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_monitor_is_write_locked (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), FALSE);

  return self->shown.write_locked;
}

/**
 * aio_rw_lock_monitor_get_pending_readers:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:pending-readers] of @self.
 *
 * Returns: the waiting read requests, as of the monitor's last look
 *
 * Since: 1.1
 */
guint
aio_rw_lock_monitor_get_pending_readers (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), 0);

  return self->shown.pending_readers;
}

/**
 * aio_rw_lock_monitor_get_pending_writers:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:pending-writers] of @self.
 *
 * Returns: the waiting write requests and upgrades, as of the monitor's
 *   last look
 *
 * Since: 1.1
 */
guint
aio_rw_lock_monitor_get_pending_writers (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), 0);

  return self->shown.pending_writers;
}

/**
 * aio_rw_lock_monitor_is_closed:
 * @self: a monitor
 *
 * Gets the [property@Aio.RwLockMonitor:closed] of @self.
 *
 * Returns: whether the lock was closed at the monitor's last look
 *
 * Since: 1.1
 */
gboolean
aio_rw_lock_monitor_is_closed (AioRwLockMonitor *self)
{
  g_return_val_if_fail (AIO_IS_RW_LOCK_MONITOR (self), FALSE);

  return self->shown.closed;
}
