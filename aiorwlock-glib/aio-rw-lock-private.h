/* aio-rw-lock-private.h: what the tests may see of the lock's insides
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "aio-rw-lock.h"
#include "aio-rw-lock-guard.h"
#include "aio-rw-lock-core.h"

G_BEGIN_DECLS

AioRwLock     *aio_rw_lock_new_named (AioRwLockPolicy  policy,
                                     const char      *name);
AioRwLockCore *aio_rw_lock_get_core  (AioRwLock       *self);

/* For the tests that check the state after every step: runs @func on the
 * state of @self under its mutex. @func must not call into the lock. */
void aio_rw_lock_inspect_state (AioRwLock            *self,
                                AioRwLockInspectFunc  func,
                                gpointer              user_data);

G_END_DECLS
