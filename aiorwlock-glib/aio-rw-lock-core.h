/* aio-rw-lock-core.h: the lock's mutex and every transition made under it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. The core owns the lock's mutex: submitting, serving,
 * withdrawing, revoking and delivering requests, releasing, re-entering,
 * upgrading and downgrading holds all happen in aio-rw-lock-core.c and
 * nowhere else. The GObject (aio-rw-lock.c) and the guard
 * (aio-rw-lock-guard.c) are checked wrappers over these calls; the core
 * calls down only, into the state, the waiters and GLib.
 */

#pragma once

#include <gio/gio.h>

#include "aio-rw-lock-state.h"

G_BEGIN_DECLS

typedef struct _AioRwLockHold AioRwLockHold;

/* Embedded in the AioRwLock. Its fields are the core's alone. */
typedef struct _AioRwLockCore
{
  guint           fast;        /* READ and WRITE holds counted without the
                                * mutex, or SLOW (aio-rw-lock-fast.h) */
  GMutex          mutex;       /* everything below, every waiter's status and
                                * every guard's mode */
  AioRwLockState  state;
  AioRwLockHold  *write_hold;  /* the WRITE hold, if guards share it */
  GQueue          drains;      /* close_async waiters, until no hold is left */
  GSList         *watches;     /* AioRwLockWatch: told of every change */
  GQueue          records;     /* AioRwLockRecord of the holds recorded */
  gint            recording;   /* record new holds and waits: a watch,
                                * AIO_RW_LOCK_DEBUG or a Sysprof capture;
                                * set under the mutex, read atomically */
  const char     *name;        /* the lock's, construct-only; or NULL */
  GObject        *owner;       /* the AioRwLock; not owned */
} AioRwLockCore;

/* The properties of the lock, read together under the mutex. */
typedef struct
{
  guint    readers;
  gboolean write_locked;
  guint    pending_readers;
  guint    pending_writers;
  gboolean closed;
} AioRwLockSnapshot;

typedef void (*AioRwLockInspectFunc) (const AioRwLockState *state,
                                      gpointer              user_data);

/* Called with the lock's mutex held, on whatever thread changed the lock:
 * it may only schedule work elsewhere (never call into the lock). */
typedef void (*AioRwLockChangedFunc) (gpointer user_data);

/* One hold or waiting request, as aio_rw_lock_core_list () tells them. */
typedef struct
{
  AioRwLockMode  mode;
  gboolean       waiting;
  gint64         since_usec;  /* monotonic; 0 if nothing recorded it */
  guint64        thread_id;   /* the OS thread id; 0 if unknown */
  const char    *label;       /* or NULL */
} AioRwLockEntry;

typedef void (*AioRwLockEntryFunc) (const AioRwLockEntry *entry,
                                    gpointer              user_data);

void             aio_rw_lock_core_init             (AioRwLockCore       *self,
                                                    GObject             *owner);
void             aio_rw_lock_core_clear            (AioRwLockCore       *self);
void             aio_rw_lock_core_set_policy       (AioRwLockCore       *self,
                                                    AioRwLockPolicy      policy);
AioRwLockPolicy  aio_rw_lock_core_get_policy       (AioRwLockCore       *self);
void             aio_rw_lock_core_set_name         (AioRwLockCore       *self,
                                                    const char          *name);
void             aio_rw_lock_core_snapshot         (AioRwLockCore       *self,
                                                    AioRwLockSnapshot   *snapshot);
void             aio_rw_lock_core_inspect          (AioRwLockCore       *self,
                                                    AioRwLockInspectFunc func,
                                                    gpointer             user_data);
void             aio_rw_lock_core_list             (AioRwLockCore       *self,
                                                    AioRwLockSnapshot   *snapshot,
                                                    AioRwLockEntryFunc   func,
                                                    gpointer             user_data);
void             aio_rw_lock_core_add_watch        (AioRwLockCore       *self,
                                                    AioRwLockChangedFunc func,
                                                    gpointer             user_data);
void             aio_rw_lock_core_remove_watch     (AioRwLockCore       *self,
                                                    AioRwLockChangedFunc func,
                                                    gpointer             user_data);

/* For a _finish's checks, once g_task_is_valid () has passed: whether
 * @result is the task of the _async tagged @tag. g_async_result_is_tagged ()
 * answers the same through an interface look-up that costs an async
 * acquisition about 200 instructions. */
#define aio_rw_lock_core_task_is_tagged(result, tag) \
  (g_task_get_source_tag ((GTask *) (result)) == (gpointer) (tag))

/* Async requests. Each public _async makes its GTask with
 * aio_rw_lock_core_task_returned as the task's callback: it decides
 * "deliver or hand back" on the caller's context, immediately before it
 * calls @callback with @user_data. */
void             aio_rw_lock_core_task_returned    (GObject             *source_object,
                                                    GAsyncResult        *result,
                                                    gpointer             unused);
void             aio_rw_lock_core_acquire_async    (AioRwLockCore       *self,
                                                    GTask               *task,
                                                    AioRwLockMode        mode,
                                                    int                  timeout_msec,
                                                    GObject             *keep_alive,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
AioRwLockGuard  *aio_rw_lock_core_acquire_finish   (GTask               *task,
                                                    GError             **error);
void             aio_rw_lock_core_upgrade_async    (GTask               *task,
                                                    AioRwLockGuard      *guard,
                                                    int                  timeout_msec,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean         aio_rw_lock_core_upgrade_finish   (GTask               *task,
                                                    GError             **error);
AioRwLockGuard  *aio_rw_lock_core_upgrade_get_guard (GTask              *task);

AioRwLockGuard  *aio_rw_lock_core_acquire          (AioRwLockCore       *self,
                                                    AioRwLockMode        mode,
                                                    int                  timeout_msec,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
AioRwLockGuard  *aio_rw_lock_core_try_acquire      (AioRwLockCore       *self,
                                                    AioRwLockMode        mode,
                                                    GError             **error);
void             aio_rw_lock_core_close            (AioRwLockCore       *self);
void             aio_rw_lock_core_close_async      (AioRwLockCore       *self,
                                                    GTask               *task,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean         aio_rw_lock_core_close_finish     (GTask               *task,
                                                    GError             **error);

/* Guards. */
AioRwLockGuard  *aio_rw_lock_core_guard_ref        (AioRwLockGuard      *guard);
void             aio_rw_lock_core_guard_unref      (AioRwLockGuard      *guard);
GObject         *aio_rw_lock_core_guard_get_owner  (AioRwLockGuard      *guard);
AioRwLockMode    aio_rw_lock_core_guard_get_mode   (AioRwLockGuard      *guard);
gboolean         aio_rw_lock_core_guard_is_held    (AioRwLockGuard      *guard);
gboolean         aio_rw_lock_core_guard_release    (AioRwLockGuard      *guard);
AioRwLockGuard  *aio_rw_lock_core_guard_reenter    (AioRwLockGuard      *guard,
                                                    AioRwLockMode        mode,
                                                    GError             **error);
const char      *aio_rw_lock_core_guard_downgrade  (AioRwLockGuard      *guard);
gboolean         aio_rw_lock_core_guard_downgrade_to (AioRwLockGuard    *guard,
                                                    AioRwLockMode        mode,
                                                    GError             **error);
gboolean         aio_rw_lock_core_guard_try_upgrade (AioRwLockGuard     *guard,
                                                    GError             **error);
gboolean         aio_rw_lock_core_guard_set_label  (AioRwLockGuard      *guard,
                                                    const char          *label);

G_END_DECLS
