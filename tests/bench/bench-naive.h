/* bench-naive.h: the deliberately naive async read-write lock that issue
 * 11's outside measurements compared against
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _NaiveLock  NaiveLock;
typedef struct _NaiveGuard NaiveGuard;

NaiveLock  *naive_lock_new            (void);
void        naive_lock_free           (NaiveLock           *lock);
gboolean    naive_lock_is_free        (NaiveLock           *lock);
void        naive_lock_acquire_async  (NaiveLock           *lock,
                                       gboolean             write,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
NaiveGuard *naive_lock_acquire_finish (GAsyncResult        *result,
                                       GError             **error);
void        naive_guard_release       (NaiveGuard          *guard);

G_END_DECLS
