/* aio-rw-lock-state.h: holds, queue and policy of a lock ("who enters next")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. Pure data: no GTask, no GMainContext, no locking of its own. The
 * owner (AioRwLock) serializes every call with its mutex. Tests, the stress
 * model and the fuzzer drive it directly.
 */

#pragma once

#include <glib.h>

#include "aio-rw-lock.h"

G_BEGIN_DECLS

/* A hold's mode, or no hold at all (a hold that ended). */
#define AIO_RW_LOCK_HOLD_NONE ((AioRwLockMode) -1)

/* One waiting request, as the state sees it. Embedded in a waiter; the link
 * puts it in one of the state's queues in O(1) and takes it out in O(1). */
typedef struct _AioRwLockRequest
{
  GList          link;            /* .data points back to the request */
  guint64        seq;             /* arrival order across the queues */
  AioRwLockMode  mode;            /* READ, WRITE or UPGRADABLE_READ */
  guint          is_upgrade : 1;  /* an UPGRADABLE_READ hold asking for WRITE */
  guint          queued : 1;      /* in a queue (or the upgrade slot) now */
} AioRwLockRequest;

typedef struct _AioRwLockState
{
  AioRwLockPolicy   policy;
  guint             n_read;          /* READ holds */
  guint             upgradable : 1;  /* an UPGRADABLE_READ hold exists */
  guint             writer : 1;      /* a WRITE hold exists */
  guint             closed : 1;
  AioRwLockRequest *upgrade;         /* pending upgrade of the UPGRADABLE_READ hold */
  GQueue            queue[3];        /* waiting requests, one queue per mode */
  guint64           next_seq;
} AioRwLockState;

gboolean          aio_rw_lock_state_mode_is_valid (AioRwLockMode            mode);
const char       *aio_rw_lock_state_mode_name     (AioRwLockMode            mode);

void              aio_rw_lock_state_init          (AioRwLockState          *state,
                                                   AioRwLockPolicy          policy);
gboolean          aio_rw_lock_state_is_idle       (const AioRwLockState    *state);
gboolean          aio_rw_lock_state_has_holds     (const AioRwLockState    *state);

/* The policy: pure functions of the state. */
gboolean          aio_rw_lock_state_admits        (const AioRwLockState    *state,
                                                   AioRwLockMode            mode);
AioRwLockRequest *aio_rw_lock_state_peek_next     (const AioRwLockState    *state);

/* Changes. Each grant is counted in the holds at the moment it is made. */
gboolean          aio_rw_lock_state_try_enter     (AioRwLockState          *state,
                                                   AioRwLockMode            mode);
void              aio_rw_lock_state_enqueue       (AioRwLockState          *state,
                                                   AioRwLockRequest        *request);
gboolean          aio_rw_lock_state_try_upgrade   (AioRwLockState          *state);
void              aio_rw_lock_state_enqueue_upgrade (AioRwLockState        *state,
                                                   AioRwLockRequest        *request);
void              aio_rw_lock_state_remove        (AioRwLockState          *state,
                                                   AioRwLockRequest        *request);
AioRwLockRequest *aio_rw_lock_state_grant_next    (AioRwLockState          *state);
void              aio_rw_lock_state_convert       (AioRwLockState          *state,
                                                   AioRwLockMode            from,
                                                   AioRwLockMode            to);
void              aio_rw_lock_state_close         (AioRwLockState          *state);
AioRwLockRequest *aio_rw_lock_state_pop_any       (AioRwLockState          *state);

/* Snapshots, as the properties show them. */
guint             aio_rw_lock_state_readers         (const AioRwLockState  *state);
guint             aio_rw_lock_state_pending_readers (const AioRwLockState  *state);
guint             aio_rw_lock_state_pending_writers (const AioRwLockState  *state);

G_END_DECLS
