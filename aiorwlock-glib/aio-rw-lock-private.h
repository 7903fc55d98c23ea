/* aio-rw-lock-private.h: what the lock's own files share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "aio-rw-lock.h"
#include "aio-rw-lock-guard.h"
#include "aio-rw-lock-state.h"

G_BEGIN_DECLS

struct _AioRwLock
{
  GObject         parent_instance;

  /* Guards the state, every waiter's status and every guard's mode. */
  GMutex          mutex;
  AioRwLockState  state;

  /* One completion source per main context that has waited here. */
  GHashTable     *dispatchers;       /* GMainContext (not owned) -> GSource */
  guint           dispatchers_swept; /* their number after the last sweep */
  GSource        *last_dispatcher;   /* the one found last (in the table) */

  /* One freed guard and one freed waiter kept for reuse: a cycle of
   * acquire and release then allocates nothing. Taken and given back with
   * atomic exchanges, without the mutex. */
  gpointer        spare_guard;
  gpointer        spare_waiter;
};

typedef struct _AioRwLockWaiter AioRwLockWaiter;

/* What a granted upgrade's task returns (as an int). */
enum {
  AIO_RW_LOCK_UPGRADE_CHANGED_MODE = 1,  /* UPGRADABLE_READ became WRITE */
  AIO_RW_LOCK_UPGRADE_WAS_WRITE    = 2,  /* the guard was WRITE already */
};

void            aio_rw_lock_serve_locked        (AioRwLock        *self);
gpointer        aio_rw_lock_take_spare          (gpointer         *slot,
                                                 gsize             size);
void            aio_rw_lock_give_spare          (gpointer         *slot,
                                                 gpointer          mem);
GSource        *aio_rw_lock_get_dispatcher_locked (AioRwLock      *self,
                                                 GMainContext     *context);

/* For the tests that check the state after every step: runs @func on the
 * state of @self under its mutex. @func must not call into the lock. */
typedef void (*AioRwLockInspectFunc) (const AioRwLockState *state,
                                      gpointer              user_data);
void            aio_rw_lock_inspect_state       (AioRwLock        *self,
                                                 AioRwLockInspectFunc func,
                                                 gpointer          user_data);

/* Guard internals, called with the lock's mutex held. */
AioRwLockGuard *aio_rw_lock_guard_new_granted   (AioRwLock        *lock,
                                                 AioRwLockMode     mode);
gboolean        aio_rw_lock_guard_is_held_locked (AioRwLockGuard  *self);
gboolean        aio_rw_lock_guard_upgrade_granted_locked (AioRwLockGuard *self);
void            aio_rw_lock_guard_upgrade_revoked_locked (AioRwLockGuard *self);
void            aio_rw_lock_guard_upgrade_delivered_locked (AioRwLockGuard  *self,
                                                 AioRwLockWaiter  *waiter);

G_END_DECLS
