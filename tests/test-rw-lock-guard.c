/* test-rw-lock-guard.c: re-entry, downgrade and upgrade
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "aio-test-util.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

static AioRwLockGuard *
acquire_now (AioRwLock     *lock,
             AioRwLockMode  mode)
{
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = aio_rw_lock_acquire (lock, mode, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (guard);
  return guard;
}

/* Which guard may re-enter which mode: READ from any; UPGRADABLE_READ from
 * UPGRADABLE_READ or WRITE; WRITE from WRITE. */
static void
test_reenter_table (void)
{
  static const struct {
    AioRwLockMode have;
    AioRwLockMode want;
    const char   *refusal;
  } table[] = {
    { READ, READ, NULL },
    { READ, UPGRADABLE, "Cannot re-enter a read hold as upgradable read" },
    { READ, WRITE, "Cannot upgrade a read hold to write" },
    { UPGRADABLE, READ, NULL },
    { UPGRADABLE, UPGRADABLE, NULL },
    { UPGRADABLE, WRITE, "Cannot re-enter an upgradable read hold as write; upgrade the guard with upgrade_async() instead" },
    { WRITE, READ, NULL },
    { WRITE, UPGRADABLE, NULL },
    { WRITE, WRITE, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
      g_autoptr(AioRwLockGuard) guard = acquire_now (lock, table[i].have);
      g_autoptr(AioRwLockGuard) again = NULL;
      g_autoptr(GError) error = NULL;
      guint readers = aio_rw_lock_get_readers (lock);
      gboolean write_locked = aio_rw_lock_is_write_locked (lock);

      again = aio_rw_lock_guard_reenter (guard, table[i].want, &error);
      if (table[i].refusal != NULL)
        {
          g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
          g_assert_cmpstr (error->message, ==, table[i].refusal);
          g_assert_null (again);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_nonnull (again);
          g_assert_cmpint (aio_rw_lock_guard_get_mode (again), ==, table[i].want);
          g_assert_true (aio_rw_lock_guard_get_lock (again) == lock);
        }

      /* Sharing a hold changes nothing the lock counts, except that a
       * WRITE hold with a read guard re-entered from it also counts as one
       * read hold (as aiorwlock's reader.locked for a writer task). */
      if (table[i].refusal == NULL && table[i].have == WRITE && table[i].want != WRITE)
        readers++;
      g_assert_cmpuint (aio_rw_lock_get_readers (lock), ==, readers);
      g_assert_cmpint (aio_rw_lock_is_read_locked (lock), ==, readers > 0);
      g_assert_cmpint (aio_rw_lock_is_write_locked (lock), ==, write_locked);
      g_assert_true (aio_rw_lock_guard_is_held (guard));
    }
}

/* The readers of a WRITE hold: one while a READ or UPGRADABLE_READ guard
 * re-entered from it lives, however many, none once they are released. */
static void
test_reenter_write_hold_counts_readers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = acquire_now (lock, WRITE);
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *r1, *r2, *u, *w2;

  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  w2 = aio_rw_lock_guard_reenter (writer, WRITE, &error);
  g_assert_no_error (error);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  r1 = aio_rw_lock_guard_reenter (writer, READ, &error);
  g_assert_no_error (error);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);
  g_assert_true (aio_rw_lock_is_read_locked (lock));
  r2 = aio_rw_lock_guard_reenter (w2, READ, &error);
  g_assert_no_error (error);
  u = aio_rw_lock_guard_reenter (writer, UPGRADABLE, &error);
  g_assert_no_error (error);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);

  aio_rw_lock_guard_release (r1);
  aio_rw_lock_guard_release (r2);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);  /* u still reads */
  aio_rw_lock_guard_release (u);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  /* A read guard again, then the WRITE guards go: a plain read hold. */
  aio_rw_lock_guard_unref (r1);
  r1 = aio_rw_lock_guard_reenter (w2, READ, &error);
  g_assert_no_error (error);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);
  aio_rw_lock_guard_release (writer);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);
  aio_rw_lock_guard_release (w2);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_rw_lock_guard_release (r1);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);

  aio_rw_lock_guard_unref (r1);
  aio_rw_lock_guard_unref (r2);
  aio_rw_lock_guard_unref (u);
  aio_rw_lock_guard_unref (w2);
  aio_rw_lock_guard_unref (writer);
}

/* The same when the WRITE hold came from an upgrade of a hold that has
 * READ guards, and after a downgrade back. */
static void
test_reenter_upgraded_hold_counts_readers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *reader;
  Request up = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  reader = aio_rw_lock_guard_reenter (up.guard, READ, &error);
  g_assert_no_error (error);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);

  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  aio_test_wait (&up);
  g_assert_true (up.upgraded);
  aio_test_assert_state (lock, 1, TRUE, 0, 0);

  aio_rw_lock_guard_downgrade (up.guard);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_release (&up);
  aio_test_request_clear (&up);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Re-entry is granted at once even while writers wait (FAIR would queue
 * a new reader), so code holding the lock cannot deadlock itself. */
static void
test_reenter_while_writer_waits (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *reader = acquire_now (lock, READ);
  AioRwLockGuard *again;
  g_autoptr(GError) error = NULL;
  Request w = { 0 };

  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  g_assert_null (aio_rw_lock_try_acquire_read (lock));
  again = aio_rw_lock_guard_reenter (reader, READ, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);

  /* The hold ends with its last guard. */
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 1, FALSE, 0, 1);
  aio_rw_lock_guard_unref (again);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_release (&w);
}

/* Releasing the WRITE guard of a hold that still has READ guards leaves it
 * read-held, and readers the policy allows enter at once. */
static void
test_reenter_release_write_keeps_read (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *writer = acquire_now (lock, WRITE);
  g_autoptr(AioRwLockGuard) reader = NULL;
  g_autoptr(GError) error = NULL;
  Request r = { 0 }, w = { 0 };

  reader = aio_rw_lock_guard_reenter (writer, READ, &error);
  g_assert_no_error (error);
  aio_test_acquire (lock, READ, -1, NULL, &r);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);
  aio_test_assert_state (lock, 1, TRUE, 1, 1);  /* the WRITE hold reads too */

  aio_rw_lock_guard_release (writer);
  aio_rw_lock_guard_unref (writer);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);

  aio_test_release (&r);
  aio_rw_lock_guard_release (reader);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  aio_test_release (&w);
}

static void
test_reenter_released (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) guard = acquire_now (lock, WRITE);
  g_autoptr(GError) error = NULL;

  aio_rw_lock_guard_release (guard);
  g_assert_false (aio_rw_lock_guard_is_held (guard));
  g_assert_null (aio_rw_lock_guard_reenter (guard, READ, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Downgrade is atomic and lets the queued readers in at once; a writer
 * behind them keeps waiting. */
static void
test_downgrade (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) writer = acquire_now (lock, WRITE);
  Request r1 = { 0 }, r2 = { 0 }, w = { 0 };

  aio_test_acquire (lock, READ, -1, NULL, &r1);
  aio_test_acquire (lock, READ, -1, NULL, &r2);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);

  aio_rw_lock_guard_downgrade (writer);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (writer), ==, READ);
  aio_test_assert_state (lock, 3, FALSE, 0, 1);
  aio_test_wait (&r1);
  aio_test_wait (&r2);
  aio_test_assert_granted (&r1);
  aio_test_assert_granted (&r2);

  aio_rw_lock_guard_downgrade (writer);  /* READ: nothing to do */
  aio_test_assert_state (lock, 3, FALSE, 0, 1);

  aio_test_release (&r1);
  aio_test_release (&r2);
  aio_rw_lock_guard_release (writer);
  aio_test_wait (&w);
  aio_test_release (&w);
}

static void
test_downgrade_upgradable (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) upgradable = acquire_now (lock, UPGRADABLE);
  g_autoptr(AioRwLockGuard) other = NULL;

  g_assert_null (aio_rw_lock_try_acquire_write (lock));
  aio_rw_lock_guard_downgrade (upgradable);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (upgradable), ==, READ);
  other = acquire_now (lock, UPGRADABLE);  /* the slot is free again */
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
}

/* Only one UPGRADABLE_READ hold at a time; it shares with readers. */
static void
test_one_upgradable (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *u1 = acquire_now (lock, UPGRADABLE);
  g_autoptr(AioRwLockGuard) r = acquire_now (lock, READ);
  Request u2 = { 0 };

  aio_test_acquire (lock, UPGRADABLE, -1, NULL, &u2);
  aio_test_iterate_pending (NULL);
  g_assert_false (u2.done);
  aio_test_assert_state (lock, 2, FALSE, 1, 0);

  aio_rw_lock_guard_unref (u1);
  aio_test_wait (&u2);
  aio_test_assert_granted (&u2);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (u2.guard), ==, UPGRADABLE);
  aio_test_release (&u2);
}

/* An upgrade waits for the other readers to leave and goes before writers
 * that were already queued; new readers wait behind it. */
static void
test_upgrade_waits_for_readers (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request up = { 0 }, w = { 0 }, r_late = { 0 };
  AioRwLockGuard *reader = acquire_now (lock, READ);

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_test_acquire (lock, WRITE, -1, NULL, &w);

  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  g_assert_false (up.done);
  aio_test_acquire (lock, READ, -1, NULL, &r_late);
  aio_test_assert_state (lock, 2, FALSE, 1, 2);
  aio_test_iterate_pending (NULL);
  g_assert_false (up.done);

  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 0, TRUE, 1, 1);
  aio_test_wait (&up);
  g_assert_no_error (up.error);
  g_assert_true (up.upgraded);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, WRITE);
  g_assert_false (w.done);

  aio_test_release (&up);
  aio_test_wait (&w);
  aio_test_assert_granted (&w);
  g_assert_false (r_late.done);
  aio_test_release (&w);
  aio_test_wait (&r_late);
  aio_test_release (&r_late);
}

/* With no other reader the upgrade is granted at once (still completed
 * from the main loop); a WRITE guard "upgrades" without change. */
static void
test_upgrade_immediate (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request up = { 0 }, again = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  g_assert_false (up.done);
  aio_test_wait (&up);
  g_assert_true (up.upgraded);

  again.guard = aio_rw_lock_guard_ref (up.guard);
  aio_rw_lock_guard_upgrade_async (again.guard, NULL, aio_test_on_upgraded, &again);
  aio_test_wait (&again);
  g_assert_true (again.upgraded);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  aio_test_release (&up);
  g_clear_pointer (&again.guard, aio_rw_lock_guard_unref);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

static void
upgrade_and_wait (AioRwLockGuard *guard,
                  GCancellable   *cancellable,
                  Request        *request)
{
  request->guard = aio_rw_lock_guard_ref (guard);
  aio_rw_lock_guard_upgrade_async (guard, cancellable, aio_test_on_upgraded, request);
  aio_test_wait (request);
}

static void
test_upgrade_refused (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = acquire_now (lock, READ);
  g_autoptr(AioRwLockGuard) released = acquire_now (lock, UPGRADABLE);
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  Request a = { 0 }, b = { 0 }, c = { 0 };

  upgrade_and_wait (reader, NULL, &a);
  g_assert_error (a.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (reader), ==, READ);

  g_cancellable_cancel (cancelled);
  upgrade_and_wait (released, cancelled, &c);
  g_assert_error (c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (released), ==, UPGRADABLE);

  aio_rw_lock_guard_release (released);
  upgrade_and_wait (released, NULL, &b);
  g_assert_error (b.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);

  aio_test_request_clear (&a);
  aio_test_request_clear (&b);
  aio_test_request_clear (&c);
}

/* A cancelled upgrade leaves the guard as it was, whether it was waiting
 * or already granted; whoever it blocked goes in. */
static void
test_upgrade_cancelled_while_waiting (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *reader = acquire_now (lock, READ);
  Request up = { 0 }, r = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, cancellable, aio_test_on_upgraded, &up);
  aio_test_acquire (lock, READ, -1, NULL, &r);  /* waits behind the upgrade */
  aio_test_assert_state (lock, 2, FALSE, 1, 1);

  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 3, FALSE, 0, 0);
  aio_test_wait (&up);
  aio_test_wait (&r);
  g_assert_error (up.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (up.upgraded);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, UPGRADABLE);
  aio_test_assert_granted (&r);

  aio_test_release (&r);
  aio_test_release (&up);
  aio_test_request_clear (&up);
  aio_rw_lock_guard_unref (reader);
}

static void
test_upgrade_cancelled_after_grant (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AioRwLockGuard *reader = acquire_now (lock, READ);
  Request up = { 0 }, r = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, cancellable, aio_test_on_upgraded, &up);
  aio_test_acquire (lock, READ, -1, NULL, &r);
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 0, TRUE, 1, 0);   /* granted */
  /* The guard shows WRITE once the callback ran; until then the upgrade
   * is pending for its owner. */
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, UPGRADABLE);

  g_cancellable_cancel (cancellable);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);  /* handed back, r let in */
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, UPGRADABLE);
  aio_test_wait (&up);
  g_assert_error (up.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  aio_test_wait (&r);
  aio_test_assert_granted (&r);

  aio_test_release (&r);
  aio_test_release (&up);
  aio_test_request_clear (&up);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* Releasing the guard while its upgrade waits fails the upgrade. */
static void
test_upgrade_guard_released (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = acquire_now (lock, READ);
  Request up = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);
  aio_rw_lock_guard_release (up.guard);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_test_wait (&up);
  g_assert_error (up.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  aio_test_request_clear (&up);
}

/* A second upgrade of the same hold while one waits: PENDING. Closing the
 * lock fails the waiting one; the guard stays UPGRADABLE_READ. */
static void
test_upgrade_pending_and_closed (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) reader = acquire_now (lock, READ);
  g_autoptr(AioRwLockGuard) twin = NULL;
  g_autoptr(GError) error = NULL;
  Request up = { 0 }, second = { 0 }, after = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  twin = aio_rw_lock_guard_reenter (up.guard, UPGRADABLE, &error);
  g_assert_no_error (error);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  upgrade_and_wait (twin, NULL, &second);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_PENDING);

  aio_rw_lock_close (lock);
  aio_test_wait (&up);
  g_assert_error (up.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, UPGRADABLE);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);

  aio_rw_lock_guard_release (reader);
  upgrade_and_wait (up.guard, NULL, &after);
  g_assert_error (after.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);

  aio_test_request_clear (&up);
  aio_test_request_clear (&second);
  aio_test_request_clear (&after);
}

/* Granted but not yet delivered, an upgrade is still pending for its
 * owner: no WRITE re-entry, no downgrade, no second upgrade; and once it
 * completes, all of them work. */
static void
test_upgrade_granted_window (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *reader = acquire_now (lock, READ);
  g_autoptr(AioRwLockGuard) again = NULL;
  g_autoptr(GError) error = NULL;
  Request up = { 0 }, second = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);

  g_assert_null (aio_rw_lock_guard_reenter (up.guard, WRITE, &error));
  g_assert_error (error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_test_expect_message ("Aio", G_LOG_LEVEL_CRITICAL, "*upgrade is pending*");
  aio_rw_lock_guard_downgrade (up.guard);
  g_test_assert_expected_messages ();
  second.guard = aio_rw_lock_guard_ref (up.guard);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &second);

  aio_test_wait (&up);
  aio_test_wait (&second);
  g_assert_true (up.upgraded);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (up.guard), ==, WRITE);
  again = aio_rw_lock_guard_reenter (up.guard, WRITE, &error);
  g_assert_no_error (error);

  aio_test_request_clear (&second);
  aio_test_release (&up);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);  /* the re-entered WRITE guard */
  aio_rw_lock_guard_release (again);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* A refused second upgrade does not forget the first: releasing the guard
 * still withdraws the waiting one, and the lock ends free. */
static void
test_upgrade_refused_second_keeps_first (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  AioRwLockGuard *reader = acquire_now (lock, READ);
  Request up = { 0 }, second = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  upgrade_and_wait (up.guard, NULL, &second);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_PENDING);
  aio_test_assert_state (lock, 2, FALSE, 0, 1);

  aio_rw_lock_guard_release (up.guard);
  aio_test_assert_state (lock, 1, FALSE, 0, 0);
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
  aio_test_wait (&up);
  g_assert_error (up.error, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  {
    g_autoptr(AioRwLockGuard) writer = aio_rw_lock_try_acquire_write (lock);

    g_assert_nonnull (writer);  /* no upgrade was left behind holding it */
  }

  aio_test_request_clear (&up);
  aio_test_request_clear (&second);
}

typedef struct
{
  AioRwLockGuard *guard;
  gboolean        by_lock;   /* finish with the lock's function */
  gboolean        ok;
  gboolean        done;
} CrossFinish;

static void
on_upgraded_cross (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  CrossFinish *cf = user_data;
  g_autoptr(GError) error = NULL;

  if (cf->by_lock)
    cf->ok = aio_rw_lock_upgrade_finish (AIO_RW_LOCK (source), result, &error);
  else
    cf->ok = aio_rw_lock_guard_upgrade_finish (cf->guard, result, &error);
  g_assert_no_error (error);
  cf->done = TRUE;
}

/* The lock's upgrade pair (for bindings that finish on the source object)
 * and the guard's pair finish each other's results. */
static void
test_upgrade_lock_pair (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(AioRwLockGuard) a = acquire_now (lock, UPGRADABLE);
  CrossFinish first = { a, TRUE, FALSE, FALSE };
  CrossFinish second = { a, FALSE, FALSE, FALSE };

  aio_rw_lock_guard_upgrade_async (a, NULL, on_upgraded_cross, &first);
  aio_test_iterate_until (NULL, &first.done);
  g_assert_true (first.ok);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (a), ==, WRITE);

  aio_rw_lock_guard_downgrade (a);
  aio_rw_lock_guard_release (a);
  g_clear_pointer (&a, aio_rw_lock_guard_unref);
  a = second.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_upgrade_async (lock, a, NULL, on_upgraded_cross, &second);
  aio_test_iterate_until (NULL, &second.done);
  g_assert_true (second.ok);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (a), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
}

typedef struct
{
  GCancellable *cancellable;
  Request       request;
} CancelThenFinish;

static void
on_upgraded_cancel_then_finish (GObject      *source,
                                GAsyncResult *result,
                                gpointer      user_data)
{
  CancelThenFinish *ctf = user_data;

  g_cancellable_cancel (ctf->cancellable);
  aio_test_on_upgraded (source, result, &ctf->request);
}

/* Cancelled once the callback has started: too late, the upgrade holds
 * and _finish says so, although the cancellable is cancelled by then. */
static void
test_upgrade_cancelled_before_finish (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  CancelThenFinish ctf = { cancellable, { 0 } };

  ctf.request.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (ctf.request.guard, cancellable,
                                   on_upgraded_cancel_then_finish, &ctf);
  aio_test_wait (&ctf.request);
  g_assert_no_error (ctf.request.error);
  g_assert_true (ctf.request.upgraded);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_assert_cmpint (aio_rw_lock_guard_get_mode (ctf.request.guard), ==, WRITE);
  aio_test_assert_state (lock, 0, TRUE, 0, 0);
  aio_test_release (&ctf.request);
  aio_test_request_clear (&ctf.request);
  aio_test_assert_state (lock, 0, FALSE, 0, 0);
}

/* ---- The line is the moment the callback starts, for upgrades ----
 *
 * The upgrade of U has been granted, and a cancel lands before its
 * callback starts: the callback must find U an UPGRADABLE_READ hold again
 * (the lock not write-held), with writer B waiting for it, and _finish
 * reports CANCELLED. */

typedef struct
{
  AioRwLock      *lock;
  GCancellable   *cancellable;
  AioRwLockGuard *reader;
  Request         up, b;
  gboolean        cancelled_at_start;
  gboolean        write_locked_at_start;
  guint           readers_at_start;
  guint           pending_writers_at_start;
} UpgradeWindow;

static void
on_window_upgraded (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  UpgradeWindow *w = user_data;

  w->cancelled_at_start = g_cancellable_is_cancelled (w->cancellable);
  w->write_locked_at_start = aio_rw_lock_is_write_locked (w->lock);
  w->readers_at_start = aio_rw_lock_get_readers (w->lock);
  w->pending_writers_at_start = aio_rw_lock_get_pending_writers (w->lock);
  aio_test_on_upgraded (source, result, &w->up);
}

static void
upgrade_window_check (UpgradeWindow *w)
{
  aio_test_wait (&w->up);
  g_assert_true (w->cancelled_at_start);
  g_assert_error (w->up.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (w->up.upgraded);
  g_assert_false (w->write_locked_at_start);
  g_assert_cmpuint (w->readers_at_start, ==, 1);
  g_assert_cmpuint (w->pending_writers_at_start, ==, 1);
  g_assert_cmpint (aio_rw_lock_guard_get_mode (w->up.guard), ==, UPGRADABLE);

  aio_test_release (&w->up);
  aio_test_request_clear (&w->up);
  aio_test_wait (&w->b);
  aio_test_assert_granted (&w->b);
  aio_test_release (&w->b);
  aio_test_assert_state (w->lock, 0, FALSE, 0, 0);
}

/* First in the iteration: the upgrade is granted at once, in this one. */
static gboolean
on_upgrade_window_grant (gpointer user_data)
{
  UpgradeWindow *w = user_data;

  aio_rw_lock_guard_unref (g_steal_pointer (&w->reader));
  aio_rw_lock_guard_upgrade_async (w->up.guard, w->cancellable, on_window_upgraded, w);
  aio_test_assert_state (w->lock, 0, TRUE, 0, 0);
  return G_SOURCE_REMOVE;
}

/* Last in the same iteration, after the library's completions. */
static gboolean
on_upgrade_window_cancel (gpointer user_data)
{
  UpgradeWindow *w = user_data;

  aio_test_acquire (w->lock, WRITE, -1, NULL, &w->b);
  g_assert_false (w->up.done);
  g_cancellable_cancel (w->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_upgrade_window_same_context (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  UpgradeWindow w = { lock, cancellable, NULL, { 0 }, { 0 } };

  g_main_context_push_thread_default (context);
  w.up.guard = acquire_now (lock, UPGRADABLE);
  w.reader = acquire_now (lock, READ);

  aio_test_iterate_around_completions (context, lock, WRITE, on_upgrade_window_grant,
                                       on_upgrade_window_cancel, &w);
  upgrade_window_check (&w);

  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* From another thread, after the grant, before the context was iterated. */
static void
test_upgrade_window_other_thread (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  UpgradeWindow w = { lock, cancellable, NULL, { 0 }, { 0 } };
  AioRwLockGuard *reader = acquire_now (lock, READ);

  w.up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (w.up.guard, cancellable, on_window_upgraded, &w);
  aio_test_acquire (lock, WRITE, -1, NULL, &w.b);
  aio_rw_lock_guard_unref (reader);
  aio_test_assert_state (lock, 0, TRUE, 0, 1);  /* the upgrade granted, B waits */

  aio_test_cancel_from_thread (cancellable);
  upgrade_window_check (&w);
}

/* An UPGRADABLE_READ hold upgraded to WRITE and downgraded back to READ. */
static void
test_upgrade_then_downgrade (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  Request up = { 0 }, r = { 0 };

  up.guard = acquire_now (lock, UPGRADABLE);
  aio_rw_lock_guard_upgrade_async (up.guard, NULL, aio_test_on_upgraded, &up);
  aio_test_wait (&up);
  g_assert_true (up.upgraded);
  aio_test_acquire (lock, READ, -1, NULL, &r);
  aio_rw_lock_guard_downgrade (up.guard);
  aio_test_assert_state (lock, 2, FALSE, 0, 0);
  aio_test_wait (&r);
  aio_test_release (&r);
  aio_test_release (&up);
}

/* An upgrade granted at once, then failed because its guard was released
 * (and cancelled) before the callback: the released guard shows its last
 * mode as it was, UPGRADABLE_READ, not the WRITE of the undelivered grant. */
static void
test_failed_upgrade_keeps_mode (void)
{
  for (guint cancel = 0; cancel < 2; cancel++)
    {
      g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      Request u = { 0 };

      u.guard = aio_rw_lock_acquire (lock, UPGRADABLE, -1, NULL, &error);
      g_assert_no_error (error);

      aio_rw_lock_guard_upgrade_async (u.guard, cancellable, aio_test_on_upgraded, &u);
      g_assert_cmpint (aio_rw_lock_guard_get_mode (u.guard), ==, UPGRADABLE);
      if (cancel)
        g_cancellable_cancel (cancellable);
      aio_rw_lock_guard_release (u.guard);
      aio_test_wait (&u);

      g_assert_false (u.upgraded);
      g_assert_nonnull (u.error);
      /* "A failed or cancelled upgrade leaves the guard as it was";
       * "a released guard keeps its last mode". */
      g_assert_cmpint (aio_rw_lock_guard_get_mode (u.guard), ==, UPGRADABLE);
      aio_test_assert_state (lock, 0, FALSE, 0, 0);
      aio_test_request_clear (&u);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/RwLock/guard/reenter/table", test_reenter_table);
  g_test_add_func ("/Aio/RwLock/guard/reenter/write-hold-counts-readers", test_reenter_write_hold_counts_readers);
  g_test_add_func ("/Aio/RwLock/guard/reenter/upgraded-hold-counts-readers", test_reenter_upgraded_hold_counts_readers);
  g_test_add_func ("/Aio/RwLock/guard/reenter/while-writer-waits", test_reenter_while_writer_waits);
  g_test_add_func ("/Aio/RwLock/guard/reenter/release-write-keeps-read", test_reenter_release_write_keeps_read);
  g_test_add_func ("/Aio/RwLock/guard/reenter/released", test_reenter_released);
  g_test_add_func ("/Aio/RwLock/guard/downgrade/write", test_downgrade);
  g_test_add_func ("/Aio/RwLock/guard/downgrade/upgradable", test_downgrade_upgradable);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/one-upgradable", test_one_upgradable);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/waits-for-readers", test_upgrade_waits_for_readers);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/immediate", test_upgrade_immediate);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/refused", test_upgrade_refused);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/cancelled-while-waiting", test_upgrade_cancelled_while_waiting);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/cancelled-after-grant", test_upgrade_cancelled_after_grant);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/guard-released", test_upgrade_guard_released);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/pending-and-closed", test_upgrade_pending_and_closed);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/then-downgrade", test_upgrade_then_downgrade);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/granted-window", test_upgrade_granted_window);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/lock-pair", test_upgrade_lock_pair);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/cancelled-before-finish", test_upgrade_cancelled_before_finish);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/refused-second-keeps-first", test_upgrade_refused_second_keeps_first);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/window/same-context", test_upgrade_window_same_context);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/window/other-thread", test_upgrade_window_other_thread);
  g_test_add_func ("/Aio/RwLock/guard/upgrade/failed-keeps-mode", test_failed_upgrade_keeps_mode);

  return g_test_run ();
}
