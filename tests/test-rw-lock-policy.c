/* test-rw-lock-policy.c: each policy's admission and wake-up order, seen
 * through async callbacks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE

/* FAIR: a compatible reader does not barge past a queued writer. */
static void
test_fair_no_barging (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request r1 = { 0 }, w = { 0 }, r2 = { 0 };

  aio_test_acquire (lock, READ, -1, NULL, &r1);
  aio_test_wait (&r1);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_acquire (lock, READ, -1, NULL, &r2);
  aio_test_iterate_pending (NULL);
  g_assert_false (r2.done);
  aio_test_assert_state (lock, 1, FALSE, 1, 1);

  aio_test_release (&r1);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  g_assert_false (r2.done);
  aio_test_release (&w);
  aio_test_wait (&r2);
  aio_test_assert_granted (&r2);
  g_assert_cmpuint (w.order, <, r2.order);
  aio_test_release (&r2);
}

/* FAIR: the run of readers at the head enters together; a writer alone;
 * readers behind the writer after it. */
static void
test_fair_wake_order (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *w0 = aio_rw_lock_try_acquire_write (lock);
  Request r1 = { 0 }, r2 = { 0 }, w3 = { 0 }, r4 = { 0 };

  aio_test_acquire (lock, READ, -1, NULL, &r1);
  aio_test_acquire (lock, READ, -1, NULL, &r2);
  aio_test_acquire (lock, WRITE, -1, NULL, &w3);
  aio_test_acquire (lock, READ, -1, NULL, &r4);

  aio_rw_lock_guard_unref (w0);
  aio_test_assert_state (lock, 2, FALSE, 1, 1);
  aio_test_wait (&r1);
  aio_test_wait (&r2);
  aio_test_iterate_pending (NULL);
  g_assert_false (w3.done);
  g_assert_false (r4.done);
  g_assert_cmpuint (r1.order, <, r2.order);

  aio_test_release (&r1);
  aio_test_release (&r2);
  aio_test_wait (&w3);
  aio_test_assert_state (lock, 0, TRUE, 1, 0);
  aio_test_release (&w3);
  aio_test_wait (&r4);
  aio_test_assert_granted (&r4);
  aio_test_release (&r4);
}

/* PREFER_WRITERS: readers wait while a writer holds or waits; waiting
 * writers all go before waiting readers. */
static void
test_prefer_writers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  AioRwLockGuard *r0 = aio_rw_lock_try_acquire_read (lock);
  Request w1 = { 0 }, r2 = { 0 }, w3 = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &w1);
  aio_test_acquire (lock, READ, -1, NULL, &r2);   /* compatible, yet waits */
  aio_test_acquire (lock, WRITE, -1, NULL, &w3);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  aio_test_assert_state (lock, 1, FALSE, 1, 2);

  aio_rw_lock_guard_unref (r0);
  aio_test_wait (&w1);
  aio_test_release (&w1);
  aio_test_wait (&w3);
  aio_test_iterate_pending (NULL);
  g_assert_false (r2.done);
  aio_test_release (&w3);
  aio_test_wait (&r2);
  aio_test_assert_granted (&r2);
  g_assert_cmpuint (w1.order, <, w3.order);
  g_assert_cmpuint (w3.order, <, r2.order);

  /* With no writer waiting, readers enter together. */
  g_assert_nonnull (r0 = aio_rw_lock_try_acquire_read (lock));
  aio_rw_lock_guard_unref (r0);
  aio_test_release (&r2);
}

/* PREFER_READERS: readers enter whenever no writer holds, passing waiting
 * writers; a writer waits until no reader holds. */
static void
test_prefer_readers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new_with_policy (AIO_RW_LOCK_POLICY_PREFER_READERS);
  AioRwLockGuard *r0 = aio_rw_lock_try_acquire_read (lock);
  Request w1 = { 0 }, r2 = { 0 }, w3 = { 0 }, r4 = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &w1);
  aio_test_acquire (lock, READ, -1, NULL, &r2);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);  /* r2 passed w1 */
  aio_test_wait (&r2);

  aio_rw_lock_guard_unref (r0);
  aio_test_iterate_pending (NULL);
  g_assert_false (w1.done);
  aio_test_release (&r2);
  aio_test_wait (&w1);
  aio_test_assert_granted (&w1);

  /* While w1 holds: w3 then r4 queue; on release r4 goes first. */
  aio_test_acquire (lock, WRITE, -1, NULL, &w3);
  aio_test_acquire (lock, READ, -1, NULL, &r4);
  aio_test_release (&w1);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);
  aio_test_wait (&r4);
  aio_test_release (&r4);
  aio_test_wait (&w3);
  g_assert_cmpuint (r4.order, <, w3.order);
  aio_test_release (&w3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/policy/fair/no-barging", test_fair_no_barging);
  g_test_add_func ("/Aio/RwLock/policy/fair/wake-order", test_fair_wake_order);
  g_test_add_func ("/Aio/RwLock/policy/prefer-writers", test_prefer_writers);
  g_test_add_func ("/Aio/RwLock/policy/prefer-readers", test_prefer_readers);

  return g_test_run ();
}
