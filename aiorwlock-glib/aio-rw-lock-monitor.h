/* aio-rw-lock-monitor.h: a lock's state for user interfaces
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (AIO_INSIDE) && !defined (AIO_COMPILATION)
# error "Only <aiorwlock-glib/aiorwlock.h> can be included directly."
#endif

#include "aio-rw-lock.h"

G_BEGIN_DECLS

#define AIO_TYPE_RW_LOCK_HOLD_INFO (aio_rw_lock_hold_info_get_type ())

AIO_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (AioRwLockHoldInfo, aio_rw_lock_hold_info, AIO, RW_LOCK_HOLD_INFO, GObject)

AIO_AVAILABLE_IN_1_1
AioRwLockMode   aio_rw_lock_hold_info_get_mode        (AioRwLockHoldInfo *self);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_hold_info_is_waiting      (AioRwLockHoldInfo *self);
AIO_AVAILABLE_IN_1_1
gint64          aio_rw_lock_hold_info_get_since_usec  (AioRwLockHoldInfo *self);
AIO_AVAILABLE_IN_1_1
guint64         aio_rw_lock_hold_info_get_thread_id   (AioRwLockHoldInfo *self);
AIO_AVAILABLE_IN_1_1
const char     *aio_rw_lock_hold_info_get_label       (AioRwLockHoldInfo *self);

#define AIO_TYPE_RW_LOCK_MONITOR (aio_rw_lock_monitor_get_type ())

AIO_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (AioRwLockMonitor, aio_rw_lock_monitor, AIO, RW_LOCK_MONITOR, GObject)

AIO_AVAILABLE_IN_1_1
AioRwLockMonitor *aio_rw_lock_monitor_new                 (AioRwLock        *lock);
AIO_AVAILABLE_IN_1_1
AioRwLock       *aio_rw_lock_monitor_get_lock             (AioRwLockMonitor *self);
AIO_AVAILABLE_IN_1_1
guint            aio_rw_lock_monitor_get_readers          (AioRwLockMonitor *self);
AIO_AVAILABLE_IN_1_1
gboolean         aio_rw_lock_monitor_is_write_locked      (AioRwLockMonitor *self);
AIO_AVAILABLE_IN_1_1
guint            aio_rw_lock_monitor_get_pending_readers  (AioRwLockMonitor *self);
AIO_AVAILABLE_IN_1_1
guint            aio_rw_lock_monitor_get_pending_writers  (AioRwLockMonitor *self);
AIO_AVAILABLE_IN_1_1
gboolean         aio_rw_lock_monitor_is_closed            (AioRwLockMonitor *self);

G_END_DECLS
