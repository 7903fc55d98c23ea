/* aio-rw-lock-record.h: what is known of one hold or wait, and where it is told
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. Holds and waits are recorded only while something looks: a
 * monitor of the lock (the core decides that), AIO_RW_LOCK_DEBUG, or a
 * Sysprof capture (SYSPROF_TRACE_FD); the last two are read once per
 * process. A record that ends becomes a Sysprof mark while a capture is
 * active; one that lasts longer than AIO_RW_LOCK_DEBUG's threshold is
 * logged (domain "Aio", level INFO) when it crosses it and when it ends,
 * by a watchdog thread that exists only while thresholds are set, so
 * nothing is logged under the lock's mutex.
 *
 * The core calls these with its mutex held; the record's fields belong to
 * the core, but for what the watchdog reads, which changes under the
 * watchdog's own mutex (taken after the core's).
 */

#pragma once

#include <glib.h>

#include "aio-rw-lock-state.h"

G_BEGIN_DECLS

typedef struct _AioRwLockRecord AioRwLockRecord;

struct _AioRwLockRecord
{
  GList          link;        /* the core's list of holds; data = the record */
  GList          watch_link;  /* in the watchdog's queue until it is logged */
  const char    *lock_name;   /* the lock's (construct-only), or NULL */
  char          *label;       /* owned, or NULL */
  gint64         since_usec;  /* monotonic; 0 if it began unrecorded */
  guint64        thread_id;   /* OS thread id; 0 if unknown */
  AioRwLockMode  mode;
  gboolean       waiting;
  gboolean       watched;     /* under the watchdog's eye: what it reads
                               * changes under its mutex */
  gboolean       logged;      /* the watchdog told that it is long (under
                               * its mutex; a word, not a bit-field) */
};

gboolean          aio_rw_lock_record_enabled   (void);
AioRwLockRecord  *aio_rw_lock_record_new       (const char       *lock_name,
                                                AioRwLockMode     mode,
                                                gboolean          waiting);
AioRwLockRecord  *aio_rw_lock_record_new_unknown (const char     *lock_name,
                                                AioRwLockMode     mode);
void              aio_rw_lock_record_granted   (AioRwLockRecord  *self);
void              aio_rw_lock_record_set_mode  (AioRwLockRecord  *self,
                                                AioRwLockMode     mode);
void              aio_rw_lock_record_set_label (AioRwLockRecord  *self,
                                                const char       *label);
void              aio_rw_lock_record_end       (AioRwLockRecord  *self);

G_END_DECLS
