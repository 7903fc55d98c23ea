/* aio-rw-lock-table.h: a lock per string key, made on demand
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (AIO_INSIDE) && !defined (AIO_COMPILATION)
# error "Only <aiorwlock-glib/aiorwlock.h> can be included directly."
#endif

#include "aio-rw-lock.h"
#include "aio-rw-lock-guard.h"

G_BEGIN_DECLS

#define AIO_TYPE_RW_LOCK_TABLE (aio_rw_lock_table_get_type ())

AIO_AVAILABLE_IN_1_1
G_DECLARE_FINAL_TYPE (AioRwLockTable, aio_rw_lock_table, AIO, RW_LOCK_TABLE, GObject)

AIO_AVAILABLE_IN_1_1
AioRwLockTable *aio_rw_lock_table_new              (AioRwLockPolicy       policy);

AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_table_acquire_async    (AioRwLockTable       *self,
                                                    const char           *key,
                                                    AioRwLockMode         mode,
                                                    int                   timeout_msec,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_1
AioRwLockGuard *aio_rw_lock_table_acquire_finish   (AioRwLockTable       *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_1
AioRwLockGuard *aio_rw_lock_table_try_acquire      (AioRwLockTable       *self,
                                                    const char           *key,
                                                    AioRwLockMode         mode,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_1
AioRwLockGuard *aio_rw_lock_table_acquire          (AioRwLockTable       *self,
                                                    const char           *key,
                                                    AioRwLockMode         mode,
                                                    int                   timeout_msec,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_table_close            (AioRwLockTable       *self);
AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_table_close_async      (AioRwLockTable       *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_table_close_finish     (AioRwLockTable       *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

AIO_AVAILABLE_IN_1_1
AioRwLockPolicy aio_rw_lock_table_get_policy       (AioRwLockTable       *self);
AIO_AVAILABLE_IN_1_1
guint           aio_rw_lock_table_get_n_keys       (AioRwLockTable       *self);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_table_is_closed        (AioRwLockTable       *self);

G_END_DECLS
