/* test-state.c: the policy ("who enters next"), driven without a main loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-rw-lock-state.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ
#define NONE AIO_RW_LOCK_HOLD_NONE

static AioRwLockRequest *
request_new (AioRwLockMode mode)
{
  AioRwLockRequest *request = g_new0 (AioRwLockRequest, 1);

  request->mode = mode;
  return request;
}

static AioRwLockRequest *
enqueue (AioRwLockState *state,
         AioRwLockMode   mode,
         GPtrArray      *owned)
{
  AioRwLockRequest *request = request_new (mode);

  g_ptr_array_add (owned, request);
  aio_rw_lock_state_enqueue (state, request);
  return request;
}

static void
assert_holds (const AioRwLockState *state,
              guint                 n_read,
              gboolean              upgradable,
              gboolean              writer)
{
  g_assert_cmpuint (state->n_read, ==, n_read);
  g_assert_cmpint (state->upgradable, ==, upgradable);
  g_assert_cmpint (state->writer, ==, writer);
}

/* With nobody queued, every policy admits exactly the compatible holds. */
static void
test_compatibility (void)
{
  for (AioRwLockPolicy policy = 0; policy <= AIO_RW_LOCK_POLICY_PREFER_READERS; policy++)
    {
      AioRwLockState s;

      aio_rw_lock_state_init (&s, policy);

      g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
      g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
      g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
      g_assert_false (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
      g_assert_false (aio_rw_lock_state_try_enter (&s, WRITE));
      assert_holds (&s, 2, TRUE, FALSE);
      g_assert_cmpuint (aio_rw_lock_state_readers (&s), ==, 3);

      aio_rw_lock_state_convert (&s, READ, NONE);
      aio_rw_lock_state_convert (&s, READ, NONE);
      g_assert_false (aio_rw_lock_state_try_enter (&s, WRITE));
      g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
      aio_rw_lock_state_convert (&s, READ, NONE);
      aio_rw_lock_state_convert (&s, UPGRADABLE, NONE);

      g_assert_true (aio_rw_lock_state_try_enter (&s, WRITE));
      g_assert_false (aio_rw_lock_state_try_enter (&s, READ));
      g_assert_false (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
      g_assert_false (aio_rw_lock_state_try_enter (&s, WRITE));
      assert_holds (&s, 0, FALSE, TRUE);

      /* Downgrades keep the hold and let compatible modes in. */
      aio_rw_lock_state_convert (&s, WRITE, UPGRADABLE);
      g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
      aio_rw_lock_state_convert (&s, UPGRADABLE, READ);
      g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
      assert_holds (&s, 2, TRUE, FALSE);

      aio_rw_lock_state_convert (&s, READ, NONE);
      aio_rw_lock_state_convert (&s, READ, NONE);
      aio_rw_lock_state_convert (&s, UPGRADABLE, NONE);
      g_assert_true (aio_rw_lock_state_is_idle (&s));
    }
}

/* FAIR: a compatible newcomer still waits behind anyone queued. */
static void
test_fair_no_barging (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *w;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w = enqueue (&s, WRITE, owned);

  g_assert_false (aio_rw_lock_state_admits (&s, READ));
  g_assert_false (aio_rw_lock_state_try_enter (&s, READ));
  g_assert_null (aio_rw_lock_state_peek_next (&s));

  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_peek_next (&s) == w);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  assert_holds (&s, 0, FALSE, TRUE);
}

/* FAIR: a run of readers at the head enters together, a writer alone, and
 * readers behind a writer wait for it. */
static void
test_fair_order (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *r1, *r2, *w2, *r3, *u4;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, WRITE));
  r1 = enqueue (&s, READ, owned);
  r2 = enqueue (&s, READ, owned);
  w2 = enqueue (&s, WRITE, owned);
  r3 = enqueue (&s, READ, owned);
  u4 = enqueue (&s, UPGRADABLE, owned);
  g_assert_cmpuint (aio_rw_lock_state_pending_readers (&s), ==, 4);
  g_assert_cmpuint (aio_rw_lock_state_pending_writers (&s), ==, 1);

  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r1);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r2);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  assert_holds (&s, 2, FALSE, FALSE);

  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w2);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r3);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == u4);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  assert_holds (&s, 1, TRUE, FALSE);
  g_assert_cmpuint (aio_rw_lock_state_pending_readers (&s), ==, 0);
}

/* FAIR: a second UPGRADABLE_READ in a run stops it; the readers behind it
 * wait (nobody passes the head). */
static void
test_fair_upgradable_stops_run (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *u1, *u2, *r3;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, WRITE));
  u1 = enqueue (&s, UPGRADABLE, owned);
  u2 = enqueue (&s, UPGRADABLE, owned);
  r3 = enqueue (&s, READ, owned);

  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == u1);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  aio_rw_lock_state_convert (&s, UPGRADABLE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == u2);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r3);
}

/* PREFER_WRITERS: readers wait while a writer holds or waits; writers go
 * first in their arrival order. */
static void
test_prefer_writers_order (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *w1, *r2, *w2;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w1 = enqueue (&s, WRITE, owned);

  /* Compatible with the holders, but a writer waits. */
  g_assert_false (aio_rw_lock_state_try_enter (&s, READ));
  g_assert_false (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
  r2 = enqueue (&s, READ, owned);
  w2 = enqueue (&s, WRITE, owned);

  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w1);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  /* w2 arrived after r2 but enters first. */
  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w2);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r2);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  /* With no writer waiting, readers enter while readers hold. */
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
}

/* PREFER_WRITERS: a cancelled writer that was the last one waiting lets the
 * readers queued behind it in at once (unlike aiorwlock). */
static void
test_prefer_writers_cancelled_writer (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *w1, *r2, *r3;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_PREFER_WRITERS);
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w1 = enqueue (&s, WRITE, owned);
  r2 = enqueue (&s, READ, owned);
  r3 = enqueue (&s, READ, owned);
  g_assert_null (aio_rw_lock_state_grant_next (&s));

  aio_rw_lock_state_remove (&s, w1);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r2);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r3);
  assert_holds (&s, 3, FALSE, FALSE);
}

/* FAIR: a cancelled writer at the head lets the readers behind it in, and a
 * writer behind cancelled readers enters. */
static void
test_fair_cancelled_head (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *w1, *r2, *w3, *r4;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w1 = enqueue (&s, WRITE, owned);
  r2 = enqueue (&s, READ, owned);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  aio_rw_lock_state_remove (&s, w1);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r2);

  aio_rw_lock_state_convert (&s, READ, NONE);
  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_try_enter (&s, WRITE));
  r4 = enqueue (&s, READ, owned);
  w3 = enqueue (&s, WRITE, owned);
  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r4);
  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w3);
}

/* PREFER_READERS: a reader enters whenever no writer holds; a writer waits
 * until no reader holds. */
static void
test_prefer_readers (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest *w1, *r2, *w2;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_PREFER_READERS);
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w1 = enqueue (&s, WRITE, owned);

  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
  aio_rw_lock_state_convert (&s, READ, NONE);
  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  aio_rw_lock_state_convert (&s, UPGRADABLE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w1);

  /* While a writer holds, readers queue; on release all of them enter
   * before the next writer, whatever the order of arrival. */
  w2 = enqueue (&s, WRITE, owned);
  r2 = enqueue (&s, READ, owned);
  aio_rw_lock_state_convert (&s, WRITE, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == r2);
  g_assert_null (aio_rw_lock_state_grant_next (&s));
  aio_rw_lock_state_convert (&s, READ, NONE);
  g_assert_true (aio_rw_lock_state_grant_next (&s) == w2);
}

/* An upgrade waits for the other readers and goes before queued writers;
 * new readers wait behind it (but not under PREFER_READERS). */
static void
test_upgrade (void)
{
  for (AioRwLockPolicy policy = 0; policy <= AIO_RW_LOCK_POLICY_PREFER_READERS; policy++)
    {
      g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
      AioRwLockRequest *up = request_new (WRITE);
      AioRwLockRequest *w;
      AioRwLockState s;

      g_ptr_array_add (owned, up);
      aio_rw_lock_state_init (&s, policy);
      g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
      g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
      w = enqueue (&s, WRITE, owned);

      g_assert_false (aio_rw_lock_state_try_upgrade (&s));
      aio_rw_lock_state_enqueue_upgrade (&s, up);
      g_assert_cmpuint (aio_rw_lock_state_pending_writers (&s), ==, 2);
      g_assert_cmpint (aio_rw_lock_state_admits (&s, READ), ==,
                       policy == AIO_RW_LOCK_POLICY_PREFER_READERS);

      aio_rw_lock_state_convert (&s, READ, NONE);
      g_assert_true (aio_rw_lock_state_grant_next (&s) == up);
      g_assert_null (aio_rw_lock_state_grant_next (&s));
      assert_holds (&s, 0, FALSE, TRUE);

      aio_rw_lock_state_convert (&s, WRITE, NONE);
      g_assert_true (aio_rw_lock_state_grant_next (&s) == w);
      aio_rw_lock_state_convert (&s, WRITE, NONE);
      g_assert_true (aio_rw_lock_state_is_idle (&s));
    }
}

/* An upgrade with no other reader is immediate; a withdrawn upgrade lets
 * the readers it held back in. */
static void
test_upgrade_immediate_and_withdrawn (void)
{
  AioRwLockRequest up = { 0 };
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
  g_assert_true (aio_rw_lock_state_try_upgrade (&s));
  assert_holds (&s, 0, FALSE, TRUE);
  aio_rw_lock_state_convert (&s, WRITE, UPGRADABLE);

  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  aio_rw_lock_state_enqueue_upgrade (&s, &up);
  g_assert_false (aio_rw_lock_state_admits (&s, READ));
  aio_rw_lock_state_remove (&s, &up);
  g_assert_true (aio_rw_lock_state_admits (&s, READ));
  g_assert_cmpuint (aio_rw_lock_state_pending_writers (&s), ==, 0);
}

/* Closing admits nothing new; the queue empties in arrival order, the
 * pending upgrade first. */
static void
test_close (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockRequest up = { 0 };
  AioRwLockRequest *w1, *r2, *u3;
  AioRwLockState s;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, UPGRADABLE));
  g_assert_true (aio_rw_lock_state_try_enter (&s, READ));
  w1 = enqueue (&s, WRITE, owned);
  r2 = enqueue (&s, READ, owned);
  u3 = enqueue (&s, UPGRADABLE, owned);
  aio_rw_lock_state_enqueue_upgrade (&s, &up);

  aio_rw_lock_state_close (&s);
  g_assert_false (aio_rw_lock_state_admits (&s, READ));
  g_assert_true (aio_rw_lock_state_pop_any (&s) == &up);
  g_assert_true (aio_rw_lock_state_pop_any (&s) == w1);
  g_assert_true (aio_rw_lock_state_pop_any (&s) == r2);
  g_assert_true (aio_rw_lock_state_pop_any (&s) == u3);
  g_assert_null (aio_rw_lock_state_pop_any (&s));
  g_assert_cmpuint (aio_rw_lock_state_pending_readers (&s), ==, 0);
  g_assert_cmpuint (aio_rw_lock_state_pending_writers (&s), ==, 0);
}

/* Removing from anywhere in a long queue keeps the others in order. */
static void
test_remove_anywhere (void)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  AioRwLockState s;
  guint granted = 0;

  aio_rw_lock_state_init (&s, AIO_RW_LOCK_POLICY_FAIR);
  g_assert_true (aio_rw_lock_state_try_enter (&s, WRITE));
  for (guint i = 0; i < 1000; i++)
    enqueue (&s, i % 3 == 0 ? WRITE : READ, owned);
  for (guint i = 0; i < 1000; i += 2)
    aio_rw_lock_state_remove (&s, owned->pdata[i]);
  g_assert_cmpuint (aio_rw_lock_state_pending_readers (&s) +
                    aio_rw_lock_state_pending_writers (&s), ==, 500);

  aio_rw_lock_state_convert (&s, WRITE, NONE);
  for (guint i = 1; i < 1000; i += 2)
    {
      AioRwLockRequest *next;

      /* Release whatever holds until the expected request enters. */
      while ((next = aio_rw_lock_state_grant_next (&s)) == NULL)
        {
          if (s.writer)
            aio_rw_lock_state_convert (&s, WRITE, NONE);
          else
            while (s.n_read > 0)
              aio_rw_lock_state_convert (&s, READ, NONE);
        }
      g_assert_true (next == owned->pdata[i]);
      granted++;
    }
  g_assert_cmpuint (granted, ==, 500);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/State/compatibility", test_compatibility);
  g_test_add_func ("/Aio/State/fair/no-barging", test_fair_no_barging);
  g_test_add_func ("/Aio/State/fair/order", test_fair_order);
  g_test_add_func ("/Aio/State/fair/upgradable-stops-run", test_fair_upgradable_stops_run);
  g_test_add_func ("/Aio/State/fair/cancelled-head", test_fair_cancelled_head);
  g_test_add_func ("/Aio/State/prefer-writers/order", test_prefer_writers_order);
  g_test_add_func ("/Aio/State/prefer-writers/cancelled-writer", test_prefer_writers_cancelled_writer);
  g_test_add_func ("/Aio/State/prefer-readers/order", test_prefer_readers);
  g_test_add_func ("/Aio/State/upgrade/waits-for-readers", test_upgrade);
  g_test_add_func ("/Aio/State/upgrade/immediate-and-withdrawn", test_upgrade_immediate_and_withdrawn);
  g_test_add_func ("/Aio/State/close", test_close);
  g_test_add_func ("/Aio/State/remove-anywhere", test_remove_anywhere);

  return g_test_run ();
}
