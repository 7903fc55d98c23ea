/* aio-test-util.h: helpers shared by the C tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <aiorwlock-glib/aiorwlock.h>

/* Every async wait in the tests ends by this deadline instead of hanging. */
#define AIO_TEST_DEADLINE_SEC 10

/* One async request and what became of it. */
typedef struct
{
  const char     *name;
  gboolean        done;
  guint           order;      /* when its callback ran, from 1 */
  GThread        *thread;     /* where its callback ran */
  AioRwLockGuard *guard;
  gboolean        upgraded;
  GError         *error;
} Request;

extern gint aio_test_completions;  /* atomic: callbacks run on several threads */

void     aio_test_iterate_until     (GMainContext *context,
                                     gboolean     *flag);
void     aio_test_iterate_pending   (GMainContext *context);
typedef gboolean (*AioTestCondition) (gpointer user_data);
void     aio_test_poll_until        (AioTestCondition done,
                                     gpointer         user_data);
void     aio_test_on_acquired       (GObject      *source,
                                     GAsyncResult *result,
                                     gpointer      user_data);
void     aio_test_on_upgraded       (GObject      *source,
                                     GAsyncResult *result,
                                     gpointer      user_data);
void     aio_test_acquire           (AioRwLock    *lock,
                                     AioRwLockMode mode,
                                     int           timeout_msec,
                                     GCancellable *cancellable,
                                     Request      *request);
void     aio_test_wait              (Request      *request);
void     aio_test_release           (Request      *request);
void     aio_test_request_clear     (Request      *request);
void     aio_test_iterate_around_completions (GMainContext  *context,
                                              AioRwLock     *lock,
                                              AioRwLockMode  probe_mode,
                                              GSourceFunc    first,
                                              GSourceFunc    last,
                                              gpointer       user_data);
void     aio_test_cancel_from_thread (GCancellable *cancellable);
void     aio_test_assert_state      (AioRwLock    *lock,
                                     guint         readers,
                                     gboolean      write_locked,
                                     guint         pending_readers,
                                     guint         pending_writers);

#define aio_test_assert_granted(r) \
  G_STMT_START { \
    g_assert_true ((r)->done); \
    g_assert_no_error ((r)->error); \
    g_assert_nonnull ((r)->guard); \
  } G_STMT_END

/* Checks the request failed with @dom/@code, then frees the error. */
#define aio_test_assert_failed(r, dom, code) \
  G_STMT_START { \
    g_assert_true ((r)->done); \
    g_assert_error ((r)->error, dom, code); \
    g_assert_null ((r)->guard); \
    g_clear_error (&(r)->error); \
  } G_STMT_END
