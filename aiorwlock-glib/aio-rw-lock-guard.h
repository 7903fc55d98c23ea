/* aio-rw-lock-guard.h: one hold of an AioRwLock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (AIO_INSIDE) && !defined (AIO_COMPILATION)
# error "Only <aiorwlock-glib/aiorwlock.h> can be included directly."
#endif

#include <gio/gio.h>

#include "aio-version-macros.h"
#include "aio-rw-lock.h"

G_BEGIN_DECLS

#define AIO_TYPE_RW_LOCK_GUARD (aio_rw_lock_guard_get_type ())

AIO_AVAILABLE_IN_1_0
GType           aio_rw_lock_guard_get_type       (void) G_GNUC_CONST;
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_guard_ref            (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_guard_unref          (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
AioRwLock      *aio_rw_lock_guard_get_lock       (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
AioRwLockMode   aio_rw_lock_guard_get_mode       (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_guard_is_held        (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_guard_release        (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_guard_reenter        (AioRwLockGuard       *self,
                                                  AioRwLockMode         mode,
                                                  GError              **error);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_guard_downgrade      (AioRwLockGuard       *self);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_guard_upgrade_async  (AioRwLockGuard       *self,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_guard_upgrade_finish (AioRwLockGuard       *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_guard_try_upgrade    (AioRwLockGuard       *self,
                                                  GError              **error);
AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_guard_set_label      (AioRwLockGuard       *self,
                                                  const char           *label);
AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_guard_upgrade_full_async  (AioRwLockGuard  *self,
                                                  int                   timeout_msec,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_guard_upgrade_full_finish (AioRwLockGuard  *self,
                                                  GAsyncResult         *result,
                                                  GError              **error);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_guard_downgrade_to   (AioRwLockGuard       *self,
                                                  AioRwLockMode         mode,
                                                  GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AioRwLockGuard, aio_rw_lock_guard_unref)

G_END_DECLS
