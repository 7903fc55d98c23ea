/* aio-rw-lock.h: the asynchronous read-write lock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (AIO_INSIDE) && !defined (AIO_COMPILATION)
# error "Only <aiorwlock-glib/aiorwlock.h> can be included directly."
#endif

#include <gio/gio.h>

#include "aio-version-macros.h"

G_BEGIN_DECLS

/**
 * AioRwLockMode:
 * @AIO_RW_LOCK_MODE_READ: a shared hold; any number of readers may hold
 *   the lock together.
 * @AIO_RW_LOCK_MODE_WRITE: an exclusive hold; nobody else holds the lock.
 * @AIO_RW_LOCK_MODE_UPGRADABLE_READ: a shared hold that may later be
 *   upgraded to write with [method@Aio.RwLockGuard.upgrade_async]; it is
 *   compatible with READ holds only, so at most one exists at a time.
 *
 * The kind of hold a guard has on an [class@Aio.RwLock].
 *
 * Since: 1.0
 */
typedef enum {
  AIO_RW_LOCK_MODE_READ,
  AIO_RW_LOCK_MODE_WRITE,
  AIO_RW_LOCK_MODE_UPGRADABLE_READ,
} AioRwLockMode;

/**
 * AioRwLockPolicy:
 * @AIO_RW_LOCK_POLICY_FAIR: first come, first served, without barging:
 *   a request enters at once only if it is compatible with the holders
 *   and nobody is queued. Neither readers nor writers can starve.
 * @AIO_RW_LOCK_POLICY_PREFER_WRITERS: a reader waits while any writer holds
 *   or waits; the ordering of Python's aiorwlock.
 * @AIO_RW_LOCK_POLICY_PREFER_READERS: a reader enters whenever no writer
 *   holds; writers can starve.
 *
 * Who may enter the lock next. See the [Policies](policies.html) page.
 *
 * Since: 1.0
 */
typedef enum {
  AIO_RW_LOCK_POLICY_FAIR,
  AIO_RW_LOCK_POLICY_PREFER_WRITERS,
  AIO_RW_LOCK_POLICY_PREFER_READERS,
} AioRwLockPolicy;

/**
 * AioRwLockError:
 * @AIO_RW_LOCK_ERROR_WOULD_DEADLOCK: the request could only be granted by
 *   waiting for a hold the caller owns itself (for example re-entering a
 *   read hold as write).
 * @AIO_RW_LOCK_ERROR_NOT_HELD: the guard was already released.
 * @AIO_RW_LOCK_ERROR_CLOSED: the lock was closed with
 *   [method@Aio.RwLock.close].
 *
 * Errors of the `AIO_RW_LOCK_ERROR` domain. Cancellation is reported as
 * `G_IO_ERROR_CANCELLED` and an expired deadline as `G_IO_ERROR_TIMED_OUT`.
 *
 * Since: 1.0
 */
typedef enum {
  AIO_RW_LOCK_ERROR_WOULD_DEADLOCK,
  AIO_RW_LOCK_ERROR_NOT_HELD,
  AIO_RW_LOCK_ERROR_CLOSED,
} AioRwLockError;

/**
 * AIO_RW_LOCK_ERROR:
 *
 * The error domain of [class@Aio.RwLock]; its codes are [enum@Aio.RwLockError].
 *
 * Since: 1.0
 */
#define AIO_RW_LOCK_ERROR (aio_rw_lock_error_quark ())

#define AIO_TYPE_RW_LOCK_MODE (aio_rw_lock_mode_get_type ())
#define AIO_TYPE_RW_LOCK_POLICY (aio_rw_lock_policy_get_type ())
#define AIO_TYPE_RW_LOCK_ERROR (aio_rw_lock_error_get_type ())
#define AIO_TYPE_RW_LOCK (aio_rw_lock_get_type ())

typedef struct _AioRwLockGuard AioRwLockGuard;

AIO_AVAILABLE_IN_1_0
GType           aio_rw_lock_mode_get_type          (void) G_GNUC_CONST;
AIO_AVAILABLE_IN_1_0
GType           aio_rw_lock_policy_get_type        (void) G_GNUC_CONST;
AIO_AVAILABLE_IN_1_0
GType           aio_rw_lock_error_get_type         (void) G_GNUC_CONST;
AIO_AVAILABLE_IN_1_0
GQuark          aio_rw_lock_error_quark            (void);

AIO_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (AioRwLock, aio_rw_lock, AIO, RW_LOCK, GObject)

AIO_AVAILABLE_IN_1_0
AioRwLock      *aio_rw_lock_new                    (void);
AIO_AVAILABLE_IN_1_0
AioRwLock      *aio_rw_lock_new_with_policy        (AioRwLockPolicy       policy);

AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_acquire_read_async     (AioRwLock            *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_acquire_read_finish    (AioRwLock            *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_acquire_write_async    (AioRwLock            *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_acquire_write_finish   (AioRwLock            *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_acquire_async          (AioRwLock            *self,
                                                    AioRwLockMode         mode,
                                                    int                   timeout_msec,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_acquire_finish         (AioRwLock            *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_acquire                (AioRwLock            *self,
                                                    AioRwLockMode         mode,
                                                    int                   timeout_msec,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_try_acquire_read       (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
AioRwLockGuard *aio_rw_lock_try_acquire_write      (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_upgrade_async          (AioRwLock            *self,
                                                    AioRwLockGuard       *guard,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_upgrade_finish         (AioRwLock            *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_0
void            aio_rw_lock_close                  (AioRwLock            *self);
AIO_AVAILABLE_IN_1_1
AioRwLockGuard *aio_rw_lock_try_acquire            (AioRwLock            *self,
                                                    AioRwLockMode         mode,
                                                    GError              **error);
AIO_AVAILABLE_IN_1_1
void            aio_rw_lock_close_async            (AioRwLock            *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
AIO_AVAILABLE_IN_1_1
gboolean        aio_rw_lock_close_finish           (AioRwLock            *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

AIO_AVAILABLE_IN_1_0
AioRwLockPolicy aio_rw_lock_get_policy             (AioRwLock            *self);
AIO_AVAILABLE_IN_1_1
const char     *aio_rw_lock_get_name               (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
guint           aio_rw_lock_get_readers            (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_is_read_locked         (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_is_write_locked        (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
guint           aio_rw_lock_get_pending_readers    (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
guint           aio_rw_lock_get_pending_writers    (AioRwLock            *self);
AIO_AVAILABLE_IN_1_0
gboolean        aio_rw_lock_is_closed              (AioRwLock            *self);

G_END_DECLS
