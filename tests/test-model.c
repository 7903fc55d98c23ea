/* test-model.c: the tests' reference model, checked against DESIGN.md
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The stress test and the fuzzer trust aio-test-model.[ch]; these cases,
 * each straight from a sentence of DESIGN.md, check it in turn: first the
 * policy as a pure function of a described state, then the model lock.
 */

#include "aio-test-model.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

#define FAIR AIO_RW_LOCK_POLICY_FAIR
#define PREFER_WRITERS AIO_RW_LOCK_POLICY_PREFER_WRITERS
#define PREFER_READERS AIO_RW_LOCK_POLICY_PREFER_READERS

#define NEXT_NONE AIO_TEST_MODEL_NEXT_NONE
#define NEXT_UPGRADE AIO_TEST_MODEL_NEXT_UPGRADE

/* ---- The policy as a pure function ---- */

static AioTestModelState
state_new (AioRwLockPolicy      policy,
           guint                n_read,
           gboolean             upgradable,
           gboolean             writer,
           const AioRwLockMode *queue,
           guint                n_queued)
{
  AioTestModelState state = { 0 };

  state.policy = policy;
  state.n_read = n_read;
  state.upgradable = upgradable;
  state.writer = writer;
  state.queue = queue;
  state.n_queued = n_queued;
  return state;
}

/* "READ with READ and with one UPGRADABLE_READ; UPGRADABLE_READ with READ
 * only; WRITE with nothing": with nobody queued, every policy admits
 * exactly that. */
static void
test_policy_compatibility (void)
{
  for (AioRwLockPolicy policy = FAIR; policy <= PREFER_READERS; policy++)
    {
      AioTestModelState free_lock = state_new (policy, 0, FALSE, FALSE, NULL, 0);
      AioTestModelState read = state_new (policy, 2, FALSE, FALSE, NULL, 0);
      AioTestModelState upgradable = state_new (policy, 0, TRUE, FALSE, NULL, 0);
      AioTestModelState write = state_new (policy, 0, FALSE, TRUE, NULL, 0);

      g_assert_true (aio_test_model_admits (&free_lock, READ));
      g_assert_true (aio_test_model_admits (&free_lock, UPGRADABLE));
      g_assert_true (aio_test_model_admits (&free_lock, WRITE));

      g_assert_true (aio_test_model_admits (&read, READ));
      g_assert_true (aio_test_model_admits (&read, UPGRADABLE));
      g_assert_false (aio_test_model_admits (&read, WRITE));

      g_assert_true (aio_test_model_admits (&upgradable, READ));
      g_assert_false (aio_test_model_admits (&upgradable, UPGRADABLE));
      g_assert_false (aio_test_model_admits (&upgradable, WRITE));

      g_assert_false (aio_test_model_admits (&write, READ));
      g_assert_false (aio_test_model_admits (&write, UPGRADABLE));
      g_assert_false (aio_test_model_admits (&write, WRITE));

      /* Closed: nobody new. */
      free_lock.closed = TRUE;
      g_assert_false (aio_test_model_admits (&free_lock, READ));
      g_assert_cmpint (aio_test_model_next (&free_lock), ==, NEXT_NONE);
    }
}

/* FAIR: "granted at once only if it is compatible with the current holds
 * and nobody is queued"; "served from its head while the head is
 * compatible". */
static void
test_policy_fair (void)
{
  const AioRwLockMode writer_then_reader[] = { WRITE, READ };
  const AioRwLockMode readers_then_writer[] = { READ, READ, WRITE, READ };
  AioTestModelState s;

  /* A reader holds, a writer waits: a new reader does not barge. */
  s = state_new (FAIR, 1, FALSE, FALSE, writer_then_reader, 1);
  g_assert_false (aio_test_model_admits (&s, READ));
  g_assert_cmpint (aio_test_model_next (&s), ==, NEXT_NONE);

  /* The queued reader behind the writer does not pass it either. */
  s = state_new (FAIR, 1, FALSE, FALSE, writer_then_reader, 2);
  g_assert_cmpint (aio_test_model_next (&s), ==, NEXT_NONE);

  /* The reader leaves: the writer, at the head, enters. */
  s.n_read = 0;
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);

  /* A run of readers at the head enters together, up to the writer. */
  s = state_new (FAIR, 0, FALSE, FALSE, readers_then_writer, 4);
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);
  s = state_new (FAIR, 1, FALSE, FALSE, readers_then_writer + 1, 3);
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);
  s = state_new (FAIR, 2, FALSE, FALSE, readers_then_writer + 2, 2);
  g_assert_cmpint (aio_test_model_next (&s), ==, NEXT_NONE);
}

/* PREFER_WRITERS: "a reader waits while any writer holds or waits; when the
 * lock becomes free the first waiting writer enters, and only when no
 * writer waits do all waiting readers enter". */
static void
test_policy_prefer_writers (void)
{
  const AioRwLockMode writer[] = { WRITE };
  const AioRwLockMode reader_then_writers[] = { READ, WRITE, WRITE };
  const AioRwLockMode readers[] = { READ, UPGRADABLE, READ };
  AioTestModelState s;

  /* A reader holds and a writer waits: a new reader waits. */
  s = state_new (PREFER_WRITERS, 1, FALSE, FALSE, writer, 1);
  g_assert_false (aio_test_model_admits (&s, READ));

  /* Free: the first waiting writer goes, before the reader queued first. */
  s = state_new (PREFER_WRITERS, 0, FALSE, FALSE, reader_then_writers, 3);
  g_assert_cmpint (aio_test_model_next (&s), ==, 1);

  /* A writer holds, another waits: the reader still waits. */
  s = state_new (PREFER_WRITERS, 0, FALSE, TRUE, reader_then_writers, 3);
  g_assert_cmpint (aio_test_model_next (&s), ==, NEXT_NONE);

  /* No writer waits: the readers enter. */
  s = state_new (PREFER_WRITERS, 0, FALSE, FALSE, readers, 3);
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);
  s = state_new (PREFER_WRITERS, 1, FALSE, FALSE, readers + 1, 2);
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);
}

/* PREFER_READERS: "a reader enters whenever no writer holds; a writer waits
 * until no reader holds". */
static void
test_policy_prefer_readers (void)
{
  const AioRwLockMode writer_then_reader[] = { WRITE, READ };
  AioTestModelState s;

  /* A reader holds, a writer waits: a new reader enters anyway. */
  s = state_new (PREFER_READERS, 1, FALSE, FALSE, writer_then_reader, 1);
  g_assert_true (aio_test_model_admits (&s, READ));
  g_assert_false (aio_test_model_admits (&s, WRITE));

  /* Free, a writer queued before a reader: the reader goes first. */
  s = state_new (PREFER_READERS, 0, FALSE, FALSE, writer_then_reader, 2);
  g_assert_cmpint (aio_test_model_next (&s), ==, 1);

  /* Only the writer left, nobody holds: it enters. */
  s = state_new (PREFER_READERS, 0, FALSE, FALSE, writer_then_reader, 1);
  g_assert_cmpint (aio_test_model_next (&s), ==, 0);

  /* A writer holds: no reader enters. */
  s = state_new (PREFER_READERS, 0, FALSE, TRUE, NULL, 0);
  g_assert_false (aio_test_model_admits (&s, READ));
}

/* Upgrade: "it waits until the other readers leave, ahead of new writers";
 * under PREFER_READERS readers still enter while it waits. */
static void
test_policy_upgrade_first (void)
{
  const AioRwLockMode writer_then_reader[] = { WRITE, READ };

  for (AioRwLockPolicy policy = FAIR; policy <= PREFER_READERS; policy++)
    {
      AioTestModelState s = state_new (policy, 1, TRUE, FALSE, writer_then_reader, 2);

      s.upgrade_pending = TRUE;
      g_assert_cmpint (aio_test_model_next (&s), ==, policy == PREFER_READERS ? 1 : NEXT_NONE);
      g_assert_cmpint (aio_test_model_admits (&s, READ), ==, policy == PREFER_READERS);
      g_assert_false (aio_test_model_admits (&s, WRITE));

      s.n_read = 0;
      g_assert_cmpint (aio_test_model_next (&s), ==, NEXT_UPGRADE);
    }
}

/* ---- The model lock ---- */

static void
assert_snapshot (AioTestModel *model,
                 guint         readers,
                 gboolean      write_locked,
                 guint         pending_readers,
                 guint         pending_writers)
{
  AioTestModelSnapshot s;

  aio_test_model_snapshot (model, &s);
  g_assert_cmpuint (s.readers, ==, readers);
  g_assert_cmpint (s.read_locked, ==, readers > 0);
  g_assert_cmpint (s.write_locked, ==, write_locked);
  g_assert_cmpuint (s.pending_readers, ==, pending_readers);
  g_assert_cmpuint (s.pending_writers, ==, pending_writers);
}

static void
assert_failed (AioTestModelRequest *r,
               GQuark               domain,
               int                  code)
{
  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_FAILED);
  g_assert_cmpuint (r->domain, ==, domain);
  g_assert_cmpint (r->code, ==, code);
}

/* An immediate call's error. */
static void
assert_error_code (GQuark domain,
                   int    code,
                   GQuark want_domain,
                   int    want_code)
{
  g_assert_cmpuint (domain, ==, want_domain);
  g_assert_cmpint (code, ==, want_code);
}

/* Delivers a granted acquisition: its guard. */
static AioTestModelGuard *
deliver_granted (AioTestModel        *model,
                 AioTestModelRequest *r)
{
  AioTestModelGuard *guard;

  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_GRANTED);
  guard = aio_test_model_deliver (model, r);
  g_assert_nonnull (guard);
  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_DELIVERED);
  return guard;
}

/* FAIR: a compatible reader queues behind a queued writer; the writer
 * enters alone on release, the reader after it. */
static void
test_lock_fair_no_barging (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *r1 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *w, *r2;

  g_assert_nonnull (r1);
  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  r2 = aio_test_model_acquire (model, READ, -1, FALSE);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_QUEUED);
  g_assert_cmpint (r2->status, ==, AIO_TEST_MODEL_QUEUED);
  g_assert_null (aio_test_model_try_acquire (model, READ));
  assert_snapshot (model, 1, FALSE, 1, 1);

  aio_test_model_release (model, r1);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (r2->status, ==, AIO_TEST_MODEL_QUEUED);
  aio_test_model_release (model, deliver_granted (model, w));
  aio_test_model_release (model, deliver_granted (model, r2));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* "A grant is counted at the moment it is made": a releaser that asks
 * again at once queues behind the waiter it just woke. */
static void
test_lock_hand_off (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_WRITERS);
  AioTestModelGuard *w1 = aio_test_model_try_acquire (model, WRITE);
  AioTestModelRequest *w2 = aio_test_model_acquire (model, WRITE, -1, FALSE);
  AioTestModelRequest *w3;

  aio_test_model_release (model, w1);
  g_assert_cmpint (w2->status, ==, AIO_TEST_MODEL_GRANTED);
  assert_snapshot (model, 0, TRUE, 0, 0);
  g_assert_null (aio_test_model_try_acquire (model, WRITE));
  w3 = aio_test_model_acquire (model, WRITE, -1, FALSE);
  g_assert_cmpint (w3->status, ==, AIO_TEST_MODEL_QUEUED);

  aio_test_model_release (model, deliver_granted (model, w2));
  aio_test_model_release (model, deliver_granted (model, w3));
}

/* PREFER_WRITERS: "a cancelled writer that was the last one waiting lets
 * the readers queued behind it in at once". */
static void
test_lock_prefer_writers_cancel (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_WRITERS);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *w, *r1, *r2;

  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  r1 = aio_test_model_acquire (model, READ, -1, FALSE);
  r2 = aio_test_model_acquire (model, READ, -1, FALSE);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 1, FALSE, 2, 1);

  g_assert_true (aio_test_model_cancel (model, w));
  assert_failed (w, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (r2->status, ==, AIO_TEST_MODEL_GRANTED);
  assert_snapshot (model, 3, FALSE, 0, 0);
  g_assert_null (aio_test_model_deliver (model, w));

  aio_test_model_release (model, r0);
  aio_test_model_release (model, deliver_granted (model, r1));
  aio_test_model_release (model, deliver_granted (model, r2));
}

/* PREFER_READERS: readers pass a waiting writer; it enters once no reader
 * holds or waits. */
static void
test_lock_prefer_readers (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_READERS);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelGuard *r1;
  AioTestModelRequest *w;

  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  r1 = aio_test_model_try_acquire (model, READ);
  g_assert_nonnull (r1);
  aio_test_model_release (model, r0);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_QUEUED);
  aio_test_model_release (model, r1);
  aio_test_model_release (model, deliver_granted (model, w));
}

/* The three ways to cancel: before the call (state untouched), while
 * queued, and after the grant before delivery (handed back to the next
 * waiters at once; never reports success). */
static void
test_lock_cancel (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *w0 = aio_test_model_try_acquire (model, WRITE);
  AioTestModelRequest *before, *queued, *granted, *next;

  before = aio_test_model_acquire (model, READ, -1, TRUE);
  assert_failed (before, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_snapshot (model, 0, TRUE, 0, 0);

  queued = aio_test_model_acquire (model, READ, -1, FALSE);
  granted = aio_test_model_acquire (model, WRITE, -1, FALSE);
  next = aio_test_model_acquire (model, READ, -1, FALSE);
  g_assert_true (aio_test_model_cancel (model, queued));
  assert_failed (queued, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_snapshot (model, 0, TRUE, 1, 1);

  aio_test_model_release (model, w0);
  g_assert_cmpint (granted->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_true (aio_test_model_cancel (model, granted));
  assert_failed (granted, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (next->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_null (aio_test_model_deliver (model, granted));
  g_assert_false (aio_test_model_cancel (model, granted));  /* too late: no effect */

  aio_test_model_release (model, deliver_granted (model, next));
  g_assert_null (aio_test_model_deliver (model, before));
  g_assert_null (aio_test_model_deliver (model, queued));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* Deadlines: 0 only if granted at once; a deadline that passes while
 * queued lets whoever it blocked in; "a deadline never revokes a grant". */
static void
test_lock_timeout (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *now, *w, *r1;
  GQuark domain = 0;
  int code = 0;

  now = aio_test_model_acquire (model, WRITE, 0, FALSE);
  assert_failed (now, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_null (aio_test_model_acquire_now (model, WRITE, FALSE, &domain, &code));
  g_assert_cmpuint (domain, ==, G_IO_ERROR);
  g_assert_cmpint (code, ==, G_IO_ERROR_TIMED_OUT);

  w = aio_test_model_acquire (model, WRITE, 1000, FALSE);
  r1 = aio_test_model_acquire (model, READ, 1000, FALSE);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_QUEUED);
  g_assert_true (aio_test_model_expire (model, w));
  assert_failed (w, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_false (aio_test_model_expire (model, r1));
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);

  aio_test_model_release (model, r0);
  aio_test_model_release (model, deliver_granted (model, r1));
  g_assert_null (aio_test_model_deliver (model, now));
  g_assert_null (aio_test_model_deliver (model, w));
}

/* close: "every waiting and every later acquisition fails with
 * AIO_RW_LOCK_ERROR_CLOSED; holders keep their guards". */
static void
test_lock_close (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *u = aio_test_model_try_acquire (model, UPGRADABLE);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *w, *upgrade, *later;
  AioTestModelSnapshot s;

  g_assert_nonnull (u);
  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  upgrade = aio_test_model_upgrade (model, u, FALSE);
  g_assert_cmpint (upgrade->status, ==, AIO_TEST_MODEL_QUEUED);

  aio_test_model_close (model);
  assert_failed (w, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  assert_failed (upgrade, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  later = aio_test_model_acquire (model, READ, -1, FALSE);
  assert_failed (later, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_null (aio_test_model_try_acquire (model, READ));
  aio_test_model_snapshot (model, &s);
  g_assert_true (s.closed);
  assert_snapshot (model, 2, FALSE, 0, 0);

  g_assert_null (aio_test_model_deliver (model, upgrade));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  aio_test_model_release (model, r0);
  aio_test_model_release (model, u);
  g_assert_null (aio_test_model_deliver (model, w));
  g_assert_null (aio_test_model_deliver (model, later));
}

/* Upgrade: only an UPGRADABLE_READ guard; it waits for the other readers,
 * ahead of writers queued before it; new readers wait behind it; a
 * cancelled upgrade leaves the guard as it was. */
static void
test_lock_upgrade (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *u = aio_test_model_try_acquire (model, UPGRADABLE);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *refused, *w, *upgrade, *again, *cancelled;

  refused = aio_test_model_upgrade (model, r0, FALSE);
  assert_failed (refused, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
  g_assert_null (aio_test_model_deliver (model, refused));

  /* Cancelled while it waits: the guard is as it was. */
  cancelled = aio_test_model_upgrade (model, u, FALSE);
  assert_snapshot (model, 2, FALSE, 0, 1);
  g_assert_true (aio_test_model_cancel (model, cancelled));
  g_assert_null (aio_test_model_deliver (model, cancelled));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  assert_snapshot (model, 2, FALSE, 0, 0);

  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  upgrade = aio_test_model_upgrade (model, u, FALSE);
  again = aio_test_model_upgrade (model, u, FALSE);
  assert_failed (again, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_null (aio_test_model_try_acquire (model, READ));
  assert_snapshot (model, 2, FALSE, 0, 2);

  aio_test_model_release (model, r0);
  g_assert_cmpint (upgrade->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_QUEUED);
  /* Counted as WRITE at once; the guard shows it once delivered. */
  assert_snapshot (model, 0, TRUE, 0, 1);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  g_assert_true (aio_test_model_deliver (model, upgrade) == u);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, WRITE);
  g_assert_null (aio_test_model_deliver (model, again));

  aio_test_model_release (model, u);
  aio_test_model_release (model, deliver_granted (model, w));
}

/* Re-entry: granted at once even while writers are queued, when the
 * guard's mode covers the requested one; WOULD_DEADLOCK otherwise;
 * NOT_HELD from a released guard. */
static void
test_lock_reenter (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *r = aio_test_model_try_acquire (model, READ);
  AioTestModelGuard *again;
  AioTestModelRequest *w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  GQuark domain = 0;
  int code = 0;

  again = aio_test_model_reenter (model, r, READ, &domain, &code);
  g_assert_nonnull (again);
  g_assert_true (again->hold == r->hold);
  assert_snapshot (model, 1, FALSE, 0, 1);  /* one hold */

  g_assert_null (aio_test_model_reenter (model, r, WRITE, &domain, &code));
  g_assert_cmpuint (domain, ==, AIO_RW_LOCK_ERROR);
  g_assert_cmpint (code, ==, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);
  g_assert_null (aio_test_model_reenter (model, r, UPGRADABLE, &domain, &code));
  g_assert_cmpint (code, ==, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);

  aio_test_model_release (model, r);
  g_assert_null (aio_test_model_reenter (model, r, READ, &domain, &code));
  g_assert_cmpint (code, ==, AIO_RW_LOCK_ERROR_NOT_HELD);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_QUEUED);  /* the hold lives on */
  aio_test_model_release (model, again);
  aio_test_model_release (model, deliver_granted (model, w));
}

/* The readers rule: a WRITE hold with at least one live READ or
 * UPGRADABLE_READ guard re-entered from it counts as one read hold, next to
 * write-locked; releasing its WRITE guard leaves it read-held, and readers
 * the policy allows enter at once. */
static void
test_lock_reenter_readers (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *w = aio_test_model_try_acquire (model, WRITE);
  AioTestModelGuard *r, *u, *r2;
  AioTestModelRequest *queued;
  AioTestModelState state;
  GQuark domain = 0;
  int code = 0;

  assert_snapshot (model, 0, TRUE, 0, 0);
  queued = aio_test_model_acquire (model, READ, -1, FALSE);

  r = aio_test_model_reenter (model, w, READ, &domain, &code);
  assert_snapshot (model, 1, TRUE, 1, 0);
  u = aio_test_model_reenter (model, w, UPGRADABLE, &domain, &code);
  r2 = aio_test_model_reenter (model, w, READ, &domain, &code);
  assert_snapshot (model, 1, TRUE, 1, 0);  /* one hold counts once */

  /* The policy still sees a writer alone. */
  aio_test_model_get_state (model, &state);
  g_assert_true (state.writer);
  g_assert_cmpuint (state.n_read, ==, 0);
  g_assert_false (state.upgradable);

  aio_test_model_release (model, r);
  aio_test_model_release (model, u);
  assert_snapshot (model, 1, TRUE, 1, 0);
  aio_test_model_release (model, r2);
  assert_snapshot (model, 0, TRUE, 1, 0);

  /* Again, then the WRITE guard goes first: read-held, the reader enters. */
  r = aio_test_model_reenter (model, w, READ, &domain, &code);
  aio_test_model_release (model, w);
  g_assert_cmpint (aio_test_model_hold_mode (r->hold), ==, READ);
  g_assert_cmpint (queued->status, ==, AIO_TEST_MODEL_GRANTED);
  assert_snapshot (model, 2, FALSE, 0, 0);

  aio_test_model_release (model, r);
  aio_test_model_release (model, deliver_granted (model, queued));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* Downgrade is atomic and lets the queued readers in at once. */
static void
test_lock_downgrade (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *w = aio_test_model_try_acquire (model, WRITE);
  AioTestModelRequest *r1 = aio_test_model_acquire (model, READ, -1, FALSE);
  AioTestModelRequest *u = aio_test_model_acquire (model, UPGRADABLE, -1, FALSE);

  aio_test_model_downgrade (model, w, UPGRADABLE);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (u->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 2, FALSE, 1, 0);

  aio_test_model_downgrade (model, w, READ);
  g_assert_cmpint (u->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (aio_test_model_guard_get_mode (w), ==, READ);
  assert_snapshot (model, 3, FALSE, 0, 0);

  aio_test_model_release (model, w);
  aio_test_model_release (model, deliver_granted (model, r1));
  aio_test_model_release (model, deliver_granted (model, u));
}

/* ---- Added in 1.1 ---- */

/* try_acquire: any mode; NULL and G_IO_ERROR_WOULD_BLOCK if it would wait
 * (under FAIR also behind a queue it is compatible with), nothing queued
 * by the attempt; AIO_RW_LOCK_ERROR_CLOSED on a closed lock, held or not. */
static void
test_lock_try_acquire_errors (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *r0, *u;
  AioTestModelRequest *w;
  GQuark domain = 0;
  int code = 0;

  r0 = aio_test_model_try_acquire_full (model, READ, &domain, &code);
  u = aio_test_model_try_acquire_full (model, UPGRADABLE, &domain, &code);
  g_assert_nonnull (r0);
  g_assert_nonnull (u);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  assert_snapshot (model, 2, FALSE, 0, 0);

  g_assert_null (aio_test_model_try_acquire_full (model, WRITE, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_null (aio_test_model_try_acquire_full (model, UPGRADABLE, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);

  /* Compatible, but a writer is queued: no barging. */
  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  g_assert_null (aio_test_model_try_acquire_full (model, READ, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  assert_snapshot (model, 2, FALSE, 0, 1);

  aio_test_model_close (model);
  g_assert_null (aio_test_model_try_acquire_full (model, READ, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  aio_test_model_release (model, r0);
  aio_test_model_release (model, u);
  g_assert_null (aio_test_model_try_acquire_full (model, WRITE, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_null (aio_test_model_deliver (model, w));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* try_upgrade: "of a READ guard gives WOULD_DEADLOCK, of a WRITE guard
 * succeeds, ... G_IO_ERROR_WOULD_BLOCK when it would have to wait"; PENDING
 * while an upgrade of the hold waits; NOT_HELD once released. It goes ahead
 * of queued writers, and a failure leaves the guard as it was. */
static void
test_lock_try_upgrade (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *u = aio_test_model_try_acquire (model, UPGRADABLE);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelGuard *u2, *r1;
  AioTestModelRequest *upgrade, *w;
  GQuark domain = 0;
  int code = 0;

  g_assert_false (aio_test_model_try_upgrade (model, r0, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_WOULD_DEADLOCK);

  g_assert_false (aio_test_model_try_upgrade (model, u, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  assert_snapshot (model, 2, FALSE, 0, 0);

  /* Its own upgrade waits, or another guard's of the same hold. */
  upgrade = aio_test_model_upgrade (model, u, FALSE);
  u2 = aio_test_model_reenter (model, u, UPGRADABLE, &domain, &code);
  g_assert_nonnull (u2);
  g_assert_false (aio_test_model_try_upgrade (model, u, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_false (aio_test_model_try_upgrade (model, u2, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_true (aio_test_model_cancel (model, upgrade));
  g_assert_null (aio_test_model_deliver (model, upgrade));
  aio_test_model_release (model, u2);

  /* No other reader, a writer queued: at once, ahead of it. A reader
   * re-entered from the guard is no other reader. */
  w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  aio_test_model_release (model, r0);
  r1 = aio_test_model_reenter (model, u, READ, &domain, &code);
  g_assert_true (aio_test_model_try_upgrade (model, u, &domain, &code));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, WRITE);
  g_assert_cmpint (w->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 1, TRUE, 0, 1);

  /* A WRITE guard succeeds, unchanged. */
  g_assert_true (aio_test_model_try_upgrade (model, u, &domain, &code));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, WRITE);

  aio_test_model_release (model, r1);
  aio_test_model_release (model, u);
  g_assert_false (aio_test_model_try_upgrade (model, u, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  aio_test_model_release (model, deliver_granted (model, w));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* On a closed lock: CLOSED, unless the hold is exclusive already (an
 * UPGRADABLE_READ guard re-entered from a WRITE one), which upgrades. */
static void
test_lock_try_upgrade_closed (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_WRITERS);
  g_autoptr(AioTestModel) exclusive = aio_test_model_new (PREFER_WRITERS);
  AioTestModelGuard *u = aio_test_model_try_acquire (model, UPGRADABLE);
  AioTestModelGuard *w = aio_test_model_try_acquire (exclusive, WRITE);
  AioTestModelGuard *e;
  GQuark domain = 0;
  int code = 0;

  aio_test_model_close (model);
  g_assert_false (aio_test_model_try_upgrade (model, u, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  aio_test_model_release (model, u);

  e = aio_test_model_reenter (exclusive, w, UPGRADABLE, &domain, &code);
  aio_test_model_close (exclusive);
  g_assert_true (aio_test_model_try_upgrade (exclusive, e, &domain, &code));
  g_assert_cmpint (aio_test_model_guard_get_mode (e), ==, WRITE);
  aio_test_model_release (exclusive, w);
  assert_snapshot (exclusive, 0, TRUE, 0, 0);
  aio_test_model_release (exclusive, e);
  assert_snapshot (exclusive, 0, FALSE, 0, 0);
}

/* upgrade_full: a timeout of 0 fails with TIMED_OUT unless granted at
 * once; a positive one waits until it passes; either way "a timed-out
 * upgrade leaves the guard as it was" (and pending until delivered), and
 * whoever it held back enters; a deadline never takes a grant back. */
static void
test_lock_upgrade_deadline (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *u = aio_test_model_try_acquire (model, UPGRADABLE);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *now, *again, *waits, *r1, *granted;
  GQuark domain = 0;
  int code = 0;

  now = aio_test_model_upgrade_full (model, u, 0, FALSE);
  assert_failed (now, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  again = aio_test_model_upgrade (model, u, FALSE);
  assert_failed (again, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_false (aio_test_model_downgrade_to (model, u, READ, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_null (aio_test_model_deliver (model, now));
  g_assert_null (aio_test_model_deliver (model, again));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  assert_snapshot (model, 2, FALSE, 0, 0);

  waits = aio_test_model_upgrade_full (model, u, 1000, FALSE);
  g_assert_cmpint (waits->status, ==, AIO_TEST_MODEL_QUEUED);
  r1 = aio_test_model_acquire (model, READ, -1, FALSE);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 2, FALSE, 1, 1);
  g_assert_true (aio_test_model_expire (model, waits));
  assert_failed (waits, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_null (aio_test_model_deliver (model, waits));
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, UPGRADABLE);
  assert_snapshot (model, 3, FALSE, 0, 0);

  aio_test_model_release (model, r0);
  aio_test_model_release (model, deliver_granted (model, r1));
  granted = aio_test_model_upgrade_full (model, u, 0, FALSE);
  g_assert_cmpint (granted->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_false (aio_test_model_expire (model, granted));
  g_assert_true (aio_test_model_deliver (model, granted) == u);
  g_assert_cmpint (aio_test_model_guard_get_mode (u), ==, WRITE);
  aio_test_model_release (model, u);
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* downgrade_to: WRITE -> UPGRADABLE_READ lets readers in but not another
 * UPGRADABLE_READ, UPGRADABLE_READ -> READ lets that in; a queued writer
 * stays queued (nobody enters in between); the refusals change nothing. */
static void
test_lock_downgrade_to (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_READERS);
  AioTestModelGuard *w = aio_test_model_try_acquire (model, WRITE);
  AioTestModelRequest *r1 = aio_test_model_acquire (model, READ, -1, FALSE);
  AioTestModelRequest *u1 = aio_test_model_acquire (model, UPGRADABLE, -1, FALSE);
  AioTestModelRequest *w1 = aio_test_model_acquire (model, WRITE, -1, FALSE);
  AioTestModelRequest *upgrade;
  AioTestModelGuard *ug;
  GQuark domain = 0;
  int code = 0;

  g_assert_false (aio_test_model_downgrade_to (model, w, WRITE, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  assert_snapshot (model, 0, TRUE, 2, 1);

  g_assert_true (aio_test_model_downgrade_to (model, w, UPGRADABLE, &domain, &code));
  g_assert_cmpint (aio_test_model_guard_get_mode (w), ==, UPGRADABLE);
  g_assert_cmpint (r1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (u1->status, ==, AIO_TEST_MODEL_QUEUED);
  g_assert_cmpint (w1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 2, FALSE, 1, 1);
  g_assert_false (aio_test_model_downgrade_to (model, w, UPGRADABLE, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (aio_test_model_downgrade_to (model, w, WRITE, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

  g_assert_true (aio_test_model_downgrade_to (model, w, READ, &domain, &code));
  g_assert_cmpint (u1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_cmpint (w1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 3, FALSE, 0, 1);
  g_assert_false (aio_test_model_downgrade_to (model, w, READ, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

  /* While the guard's upgrade is pending. */
  ug = deliver_granted (model, u1);
  upgrade = aio_test_model_upgrade (model, ug, FALSE);
  g_assert_false (aio_test_model_downgrade_to (model, ug, READ, &domain, &code));
  assert_error_code (domain, code, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_cmpint (aio_test_model_guard_get_mode (ug), ==, UPGRADABLE);

  aio_test_model_release (model, w);
  g_assert_false (aio_test_model_downgrade_to (model, w, READ, &domain, &code));
  assert_error_code (domain, code, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_NOT_HELD);
  aio_test_model_release (model, deliver_granted (model, r1));
  g_assert_true (aio_test_model_deliver (model, upgrade) == ug);

  /* WRITE -> READ in one step. */
  g_assert_true (aio_test_model_downgrade_to (model, ug, READ, &domain, &code));
  g_assert_cmpint (w1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 1, FALSE, 0, 1);
  aio_test_model_release (model, ug);
  aio_test_model_release (model, deliver_granted (model, w1));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

/* close_async: closes, then "completes when the last hold has ended"
 * (a re-entered guard keeps the hold); at once when nothing is held;
 * "cancelling close_async cancels the wait, not the close"; any number of
 * callers wait; a wait is in no pending-* count. */
static void
test_lock_close_async (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (FAIR);
  AioTestModelGuard *r0 = aio_test_model_try_acquire (model, READ);
  AioTestModelRequest *w = aio_test_model_acquire (model, WRITE, -1, FALSE);
  AioTestModelRequest *d1, *d2, *d3, *d4;
  AioTestModelGuard *r1;
  AioTestModelSnapshot s;
  GQuark domain = 0;
  int code = 0;

  d1 = aio_test_model_close_async (model, FALSE);
  g_assert_cmpint (d1->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_failed (w, AIO_RW_LOCK_ERROR, AIO_RW_LOCK_ERROR_CLOSED);
  aio_test_model_snapshot (model, &s);
  g_assert_true (s.closed);
  g_assert_cmpuint (s.drains, ==, 1);
  assert_snapshot (model, 1, FALSE, 0, 0);

  d2 = aio_test_model_close_async (model, TRUE);
  assert_failed (d2, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  d3 = aio_test_model_close_async (model, FALSE);

  r1 = aio_test_model_reenter (model, r0, READ, &domain, &code);
  aio_test_model_release (model, r0);
  g_assert_cmpint (d1->status, ==, AIO_TEST_MODEL_QUEUED);
  g_assert_true (aio_test_model_cancel (model, d3));
  assert_failed (d3, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (d1->status, ==, AIO_TEST_MODEL_QUEUED);
  aio_test_model_snapshot (model, &s);
  g_assert_true (s.closed);
  g_assert_cmpuint (s.drains, ==, 1);

  aio_test_model_release (model, r1);
  g_assert_cmpint (d1->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_null (aio_test_model_deliver (model, d1));
  g_assert_cmpint (d1->status, ==, AIO_TEST_MODEL_DELIVERED);
  g_assert_false (aio_test_model_cancel (model, d1));  /* too late */

  d4 = aio_test_model_close_async (model, FALSE);
  g_assert_cmpint (d4->status, ==, AIO_TEST_MODEL_GRANTED);
  aio_test_model_snapshot (model, &s);
  g_assert_cmpuint (s.drains, ==, 0);
  g_assert_null (aio_test_model_deliver (model, w));
  g_assert_null (aio_test_model_deliver (model, d2));
  g_assert_null (aio_test_model_deliver (model, d3));
  g_assert_null (aio_test_model_deliver (model, d4));
}

/* A grant not delivered yet is a hold: close_async waits for it; handed
 * back by a cancel, it lets the wait complete; a wait granted and then
 * cancelled before its callback reports CANCELLED. */
static void
test_lock_close_async_grant_in_flight (void)
{
  g_autoptr(AioTestModel) model = aio_test_model_new (PREFER_WRITERS);
  AioTestModelGuard *w0 = aio_test_model_try_acquire (model, WRITE);
  AioTestModelRequest *r = aio_test_model_acquire (model, READ, -1, FALSE);
  AioTestModelRequest *d;

  aio_test_model_release (model, w0);
  g_assert_cmpint (r->status, ==, AIO_TEST_MODEL_GRANTED);
  d = aio_test_model_close_async (model, FALSE);
  g_assert_cmpint (d->status, ==, AIO_TEST_MODEL_QUEUED);
  assert_snapshot (model, 1, FALSE, 0, 0);

  g_assert_true (aio_test_model_cancel (model, r));
  g_assert_cmpint (d->status, ==, AIO_TEST_MODEL_GRANTED);
  g_assert_true (aio_test_model_cancel (model, d));
  assert_failed (d, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (aio_test_model_deliver (model, d));
  g_assert_null (aio_test_model_deliver (model, r));
  assert_snapshot (model, 0, FALSE, 0, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Aio/Model/policy/compatibility", test_policy_compatibility);
  g_test_add_func ("/Aio/Model/policy/fair", test_policy_fair);
  g_test_add_func ("/Aio/Model/policy/prefer-writers", test_policy_prefer_writers);
  g_test_add_func ("/Aio/Model/policy/prefer-readers", test_policy_prefer_readers);
  g_test_add_func ("/Aio/Model/policy/upgrade-first", test_policy_upgrade_first);
  g_test_add_func ("/Aio/Model/lock/fair-no-barging", test_lock_fair_no_barging);
  g_test_add_func ("/Aio/Model/lock/hand-off", test_lock_hand_off);
  g_test_add_func ("/Aio/Model/lock/prefer-writers-cancel", test_lock_prefer_writers_cancel);
  g_test_add_func ("/Aio/Model/lock/prefer-readers", test_lock_prefer_readers);
  g_test_add_func ("/Aio/Model/lock/cancel", test_lock_cancel);
  g_test_add_func ("/Aio/Model/lock/timeout", test_lock_timeout);
  g_test_add_func ("/Aio/Model/lock/close", test_lock_close);
  g_test_add_func ("/Aio/Model/lock/upgrade", test_lock_upgrade);
  g_test_add_func ("/Aio/Model/lock/reenter", test_lock_reenter);
  g_test_add_func ("/Aio/Model/lock/reenter-readers", test_lock_reenter_readers);
  g_test_add_func ("/Aio/Model/lock/downgrade", test_lock_downgrade);
  g_test_add_func ("/Aio/Model/lock/try-acquire-errors", test_lock_try_acquire_errors);
  g_test_add_func ("/Aio/Model/lock/try-upgrade", test_lock_try_upgrade);
  g_test_add_func ("/Aio/Model/lock/try-upgrade-closed", test_lock_try_upgrade_closed);
  g_test_add_func ("/Aio/Model/lock/upgrade-deadline", test_lock_upgrade_deadline);
  g_test_add_func ("/Aio/Model/lock/downgrade-to", test_lock_downgrade_to);
  g_test_add_func ("/Aio/Model/lock/close-async", test_lock_close_async);
  g_test_add_func ("/Aio/Model/lock/close-async-grant-in-flight", test_lock_close_async_grant_in_flight);

  return g_test_run ();
}
