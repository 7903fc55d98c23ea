/* fuzz-rw-lock.c: libFuzzer harness for AioRwLock, checked against a model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a program for one thread and one main context:
 *
 *   byte 0      the policy (value % 3: FAIR, PREFER_WRITERS, PREFER_READERS)
 *   then        operations: an opcode byte (value % 64, see op_table) and
 *               its argument bytes; a missing byte reads as 0
 *
 * Canonical opcodes (make-corpus.py writes these; the other values of the
 * opcode byte repeat them, so frequent operations get more of the space).
 * Opcode bytes below 32 mean what they meant before the 1.1 operations
 * (32..36) were added, so older inputs replay unchanged:
 *
 *    0 ACQUIRE    a, s  async acquire: mode a % 3; timeout (a / 3) % 3 is
 *                       -1, 0 or FUZZ_BIG_TIMEOUT_MSEC; if (a / 9) % 2 and
 *                       the timeout is -1, a READ or WRITE request uses
 *                       acquire_read_async / acquire_write_async; cancellable s
 *    1 TRY_READ         aio_rw_lock_try_acquire_read
 *    2 TRY_WRITE        aio_rw_lock_try_acquire_write
 *    3 TRY_BLOCKING a, s  aio_rw_lock_acquire (mode a % 3, timeout 0): never blocks
 *    4 RELEASE    g     aio_rw_lock_guard_release of guard g (skipped if released)
 *    5 DROP       g     drops the harness's reference of guard g (no release)
 *    6 REENTER    g, m  aio_rw_lock_guard_reenter (guard g, mode m % 3)
 *    7 DOWNGRADE  g     aio_rw_lock_guard_downgrade (skipped where it is a
 *                       programmer error: released, or an upgrade pending)
 *    8 UPGRADE    g, s  upgrade guard g: cancellable s % 5; started with
 *                       aio_rw_lock_upgrade_async if (s / 5) % 2, else
 *                       aio_rw_lock_guard_upgrade_async; finished with
 *                       aio_rw_lock_upgrade_finish if (s / 10) % 2, else
 *                       aio_rw_lock_guard_upgrade_finish
 *    9 CANCEL     c     g_cancellable_cancel of slot c % 4; if (c / 4) % 2,
 *                       the slot then gets a fresh cancellable
 *   10 DISPATCH         one g_main_context_iteration (ctx, FALSE)
 *   11 DISPATCH_ALL     iterate until nothing is left to dispatch
 *   12 CLOSE            aio_rw_lock_close
 *   32 TRY_ACQUIRE a    aio_rw_lock_try_acquire (mode a % 3): WOULD_BLOCK or
 *                       CLOSED when refused
 *   33 TRY_UPGRADE g    aio_rw_lock_guard_try_upgrade of guard g
 *   34 UPGRADE_FULL g, s, t  aio_rw_lock_guard_upgrade_full_async of guard g:
 *                       cancellable s % 5; timeout t % 3 as for ACQUIRE;
 *                       finished with aio_rw_lock_guard_upgrade_full_finish,
 *                       aio_rw_lock_guard_upgrade_finish or
 *                       aio_rw_lock_upgrade_finish as (s / 5) % 3 is 0, 1, 2
 *   35 DOWNGRADE_TO g, m  aio_rw_lock_guard_downgrade_to (guard g, mode m % 3),
 *                       refusals included (released, pending, not weaker)
 *   36 CLOSE_ASYNC s    aio_rw_lock_close_async, cancellable s % 5; its
 *                       callback must come once no hold is left
 *
 * A cancellable byte s is s % 5: 0 for none, else slot (s % 5) - 1. A guard
 * byte g picks g % n from the harness's guard table (in creation order;
 * guards leave it when dropped).
 *
 * Timeouts: a positive deadline would make the outcome depend on the wall
 * clock, so the only positive timeout used is an hour, which never fires
 * while one input runs; it still exercises the deadline's source being
 * attached and torn down.
 *
 * The reference model is tests/aio-test-model.[ch], the one the stress test
 * checks against too: the holds (a hold is shared by guards that re-entered
 * one another, its mode the strongest of its unreleased members), the queue
 * in arrival order, the pending upgrade, and every request with the outcome
 * it must report, by DESIGN.md's rules and independently of the library's
 * code; grants are counted when made. Each operation is made on the model
 * and on the lock side by side. After every operation the lock's getters
 * must equal the model's snapshot: readers (where a WRITE hold with live
 * re-entered READ or UPGRADABLE_READ guards counts as one read hold),
 * read-locked, write-locked, pending-readers and -writers, closed; and every
 * guard's mode and is_held. When a callback runs it must report exactly the
 * outcome the model expects.
 *
 * Delivery timing is made deterministic: GTask completes synchronously
 * inside the lock's completion source only if the iteration's time is later
 * than the task's creation time (microseconds). Before each iteration the
 * harness waits until the monotonic clock has moved past the last task it
 * created, so a granted request's callback always runs in the first
 * iteration after the grant, and no cancellation can fall between the
 * library's delivery and the callback.
 *
 * Violations abort(); so do g_critical() and g_warning() (made fatal), since
 * the harness never makes a call that is documented as a programmer error.
 *
 * Upgrades. An upgrade is pending on its guard from its submission (unless
 * refused at once) until its outcome is delivered: meanwhile another upgrade
 * of the guard fails with G_IO_ERROR_PENDING, downgrading it is a programmer
 * error, and the guard shows UPGRADABLE_READ (get_mode, reenter) even once
 * granted, while the lock already counts the hold as WRITE. The library
 * delivers (and so ends "pending") immediately before the callback, from
 * the callback GTask runs, whether GTask runs it in the completion source's
 * dispatch or from an idle of its own: so the harness always knows.
 *
 * Set FUZZ_TRACE=1 to print the operations and the model's decisions.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aiorwlock-glib/aiorwlock.h>

#include "aio-test-model.h"
#include "fuzz-rw-lock.h"

#define READ AIO_RW_LOCK_MODE_READ
#define WRITE AIO_RW_LOCK_MODE_WRITE
#define UPGRADABLE AIO_RW_LOCK_MODE_UPGRADABLE_READ

#define FUZZ_MAX_OPS 2048
#define FUZZ_N_SLOTS 4
#define FUZZ_BIG_TIMEOUT_MSEC (60 * 60 * 1000)
#define FUZZ_MAX_ITERATIONS 100000

static gboolean trace;

#define TRACE(...) \
  G_STMT_START { if (G_UNLIKELY (trace)) g_printerr (__VA_ARGS__); } G_STMT_END

G_GNUC_NORETURN static void
fuzz_fail (const char *file,
           int         line,
           const char *what)
{
  fprintf (stderr, "fuzz-rw-lock: %s:%d: violated: %s\n", file, line, what);
  fflush (stderr);
  abort ();
}

#define CHECK(expr) \
  G_STMT_START { if (G_UNLIKELY (!(expr))) fuzz_fail (__FILE__, __LINE__, #expr); } G_STMT_END

typedef enum
{
  OP_ACQUIRE,
  OP_TRY_READ,
  OP_TRY_WRITE,
  OP_TRY_BLOCKING,
  OP_RELEASE,
  OP_DROP,
  OP_REENTER,
  OP_DOWNGRADE,
  OP_UPGRADE,
  OP_CANCEL,
  OP_DISPATCH,
  OP_DISPATCH_ALL,
  OP_CLOSE,
  OP_TRY_ACQUIRE,
  OP_TRY_UPGRADE,
  OP_UPGRADE_FULL,
  OP_DOWNGRADE_TO,
  OP_CLOSE_ASYNC,
} Op;

/* byte % 64 -> operation: 0..12 and 32..36 are the canonical codes above;
 * 0..31 are the table of the 1.0 operations, unchanged. */
static const Op op_table[64] = {
  OP_ACQUIRE, OP_TRY_READ, OP_TRY_WRITE, OP_TRY_BLOCKING, OP_RELEASE, OP_DROP,
  OP_REENTER, OP_DOWNGRADE, OP_UPGRADE, OP_CANCEL, OP_DISPATCH, OP_DISPATCH_ALL,
  OP_CLOSE,
  OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE,
  OP_RELEASE, OP_RELEASE, OP_RELEASE,
  OP_REENTER, OP_REENTER,
  OP_UPGRADE, OP_UPGRADE,
  OP_DISPATCH, OP_DISPATCH_ALL,
  OP_TRY_READ, OP_TRY_WRITE,
  OP_DROP, OP_CANCEL, OP_DOWNGRADE,
  /* 32: the 1.1 operations, then repeats. */
  OP_TRY_ACQUIRE, OP_TRY_UPGRADE, OP_UPGRADE_FULL, OP_DOWNGRADE_TO, OP_CLOSE_ASYNC,
  OP_TRY_ACQUIRE, OP_TRY_ACQUIRE, OP_TRY_ACQUIRE,
  OP_TRY_UPGRADE, OP_TRY_UPGRADE, OP_TRY_UPGRADE,
  OP_UPGRADE_FULL, OP_UPGRADE_FULL, OP_UPGRADE_FULL,
  OP_DOWNGRADE_TO, OP_DOWNGRADE_TO, OP_DOWNGRADE_TO,
  OP_CLOSE_ASYNC,
  OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE, OP_ACQUIRE,
  OP_RELEASE, OP_RELEASE, OP_RELEASE,
  OP_DISPATCH, OP_DISPATCH, OP_DISPATCH_ALL, OP_DISPATCH_ALL,
  OP_CANCEL, OP_CANCEL,
};

typedef struct _Fuzz Fuzz;
typedef struct _Request Request;

/* A guard the harness holds; the model's guard says what it must be. */
typedef struct
{
  guint              id;
  AioRwLockGuard    *object;    /* valid while refs > 0 */
  AioTestModelGuard *model;
  gboolean           in_table;
  guint              refs;      /* the harness's: table + undelivered upgrades */
} Guard;

typedef enum
{
  KIND_READ,          /* aio_rw_lock_acquire_read_async */
  KIND_WRITE,         /* aio_rw_lock_acquire_write_async */
  KIND_ACQUIRE,       /* aio_rw_lock_acquire_async */
  KIND_UPGRADE,       /* aio_rw_lock_guard_upgrade_async (or the lock's) */
  KIND_UPGRADE_FULL,  /* aio_rw_lock_guard_upgrade_full_async */
  KIND_CLOSE,         /* aio_rw_lock_close_async */
} Kind;

/* An async request; the model's request says what it must report. The
 * harness's requests and the model's are made together: the same index. */
struct _Request
{
  Fuzz                *fuzz;
  AioTestModelRequest *model;
  Kind                 kind;
  GCancellable        *cancellable;  /* owned, nullable */
  gboolean             connected;    /* the lock watches its cancellable */
  Guard               *guard;        /* an upgrade's guard */
  gboolean             lock_start;   /* aio_rw_lock_upgrade_async */
  gboolean             lock_finish;  /* aio_rw_lock_upgrade_finish */
  gboolean             guard_finish; /* KIND_UPGRADE_FULL: aio_rw_lock_guard_upgrade_finish */
  guint                n_callbacks;
};

struct _Fuzz
{
  GMainContext    *context;
  AioRwLock       *lock;
  AioTestModel    *model;
  GPtrArray       *guards;     /* of Guard, owned, creation order */
  GPtrArray       *table;      /* of Guard: the ones the ops pick from */
  GPtrArray       *requests;   /* of Request, owned, creation order */
  GCancellable    *slots[FUZZ_N_SLOTS];
  gboolean         in_call;    /* inside a library call: no callback may run */
  gint64           last_task_time;
  guint            n_callbacks;  /* callbacks run so far */
};

/* ---- Library calls ---- */

#define CALL(f, stmt) \
  G_STMT_START { (f)->in_call = TRUE; stmt; (f)->in_call = FALSE; } G_STMT_END

/* ---- Checks ---- */

static void
check_state (Fuzz     *f,
             gboolean  quiescent)
{
  guint readers = aio_rw_lock_get_readers (f->lock);
  gboolean read_locked = aio_rw_lock_is_read_locked (f->lock);
  gboolean write_locked = aio_rw_lock_is_write_locked (f->lock);
  guint pending_readers = aio_rw_lock_get_pending_readers (f->lock);
  guint pending_writers = aio_rw_lock_get_pending_writers (f->lock);
  gboolean closed = aio_rw_lock_is_closed (f->lock);
  AioTestModelSnapshot m;

  /* Safety, from the lock alone: a writer holds alone (its own re-entered
   * readers count as one read hold); a free lock has nobody waiting (a
   * request never stays queued while it could enter). */
  CHECK (!write_locked || readers <= 1);
  CHECK (read_locked == (readers > 0));
  CHECK (write_locked || readers > 0 || (pending_readers == 0 && pending_writers == 0));

  /* The model is sound... */
  aio_test_model_snapshot (f->model, &m);
  CHECK (m.write_holds <= 1 && m.upgradable_holds <= 1);
  CHECK (m.write_holds == 0 || (m.read_holds == 0 && m.upgradable_holds == 0));
  CHECK (!m.upgrade_pending || m.upgradable_holds == 1);
  CHECK (m.drains == 0 || (m.closed && m.read_holds + m.upgradable_holds + m.write_holds > 0));

  /* ...and the lock agrees with it (DESIGN.md: a WRITE hold with live
   * re-entered readers counts in readers and read-locked). */
  CHECK (readers == m.readers);
  CHECK (read_locked == m.read_locked);
  CHECK (write_locked == m.write_locked);
  CHECK (pending_readers == m.pending_readers);
  CHECK (pending_writers == m.pending_writers);
  CHECK (closed == m.closed);
  CHECK (aio_rw_lock_get_policy (f->lock) == aio_test_model_get_policy (f->model));

  /* Every guard the harness still references. */
  for (guint i = 0; i < f->guards->len; i++)
    {
      Guard *g = g_ptr_array_index (f->guards, i);

      if (g->refs == 0)
        continue;
      CHECK (aio_rw_lock_guard_is_held (g->object) == !g->model->released);
      CHECK (aio_rw_lock_guard_get_mode (g->object) == aio_test_model_guard_get_mode (g->model));
      CHECK (aio_rw_lock_guard_get_lock (g->object) == f->lock);
    }

  if (quiescent)
    {
      guint p_readers, p_pending_readers, p_pending_writers;
      gboolean p_read_locked, p_write_locked, p_closed;
      AioRwLockPolicy p_policy;

      /* The properties are the getters. */
      g_object_get (f->lock,
                    "policy", &p_policy,
                    "readers", &p_readers,
                    "read-locked", &p_read_locked,
                    "write-locked", &p_write_locked,
                    "pending-readers", &p_pending_readers,
                    "pending-writers", &p_pending_writers,
                    "closed", &p_closed,
                    NULL);
      CHECK (p_policy == aio_test_model_get_policy (f->model));
      CHECK (p_readers == readers && p_read_locked == read_locked);
      CHECK (p_write_locked == write_locked);
      CHECK (p_pending_readers == pending_readers && p_pending_writers == pending_writers);
      CHECK (p_closed == closed);

      /* Nothing is left to deliver: every settled request's callback ran. */
      for (guint i = 0; i < f->requests->len; i++)
        {
          Request *r = g_ptr_array_index (f->requests, i);

          CHECK (r->model->status == AIO_TEST_MODEL_QUEUED ||
                 r->model->status == AIO_TEST_MODEL_DELIVERED);
        }
    }
}

/* ---- The harness's guards ---- */

static Guard *
guard_add (Fuzz              *f,
           AioRwLockGuard    *object,
           AioTestModelGuard *model)
{
  Guard *g = g_new0 (Guard, 1);

  g->id = f->guards->len;
  g->object = object;
  g->model = model;
  g->in_table = TRUE;
  g->refs = 1;
  g_ptr_array_add (f->guards, g);
  g_ptr_array_add (f->table, g);

  CHECK (aio_rw_lock_guard_get_lock (object) == f->lock);
  CHECK (aio_rw_lock_guard_get_mode (object) == model->mode);
  CHECK (aio_rw_lock_guard_is_held (object));

  TRACE ("    new guard g%u %s\n", g->id, aio_test_model_mode_name (model->mode));
  return g;
}

/* Drops one of the harness's references. The last one ends the hold if it
 * was not released: at once in the model; in the library when its own
 * references (an upgrade's task) go, before the next callback runs. */
static void
guard_unref (Fuzz  *f,
             Guard *g)
{
  AioRwLockGuard *object = g->object;

  CHECK (g->refs > 0);
  if (--g->refs == 0)
    {
      g->object = NULL;
      if (!g->model->released)
        aio_test_model_release (f->model, g->model);
    }
  CALL (f, aio_rw_lock_guard_unref (object));
}

static Guard *
pick_guard (Fuzz   *f,
            guint8  byte)
{
  if (f->table->len == 0)
    return NULL;
  return g_ptr_array_index (f->table, byte % f->table->len);
}

static GCancellable *
pick_cancellable (Fuzz   *f,
                  guint8  byte)
{
  guint s = byte % (FUZZ_N_SLOTS + 1);

  return s == 0 ? NULL : f->slots[s - 1];
}

static Request *
request_new (Fuzz                *f,
             Kind                 kind,
             GCancellable        *cancellable,
             AioTestModelRequest *model)
{
  Request *r = g_new0 (Request, 1);

  CHECK (model->id == f->requests->len);
  r->fuzz = f;
  r->model = model;
  r->kind = kind;
  r->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  r->connected = cancellable != NULL && !g_cancellable_is_cancelled (cancellable);
  g_ptr_array_add (f->requests, r);
  return r;
}

static void
request_free (gpointer data)
{
  Request *r = data;

  g_clear_object (&r->cancellable);
  g_free (r);
}

/* ---- Callbacks ---- */

static void
check_callback (Fuzz    *f,
                Request *r,
                GObject *source)
{
  GSource *current = g_main_current_source ();

  /* Never inside a library call or g_cancellable_cancel (); exactly once;
   * on the caller's thread-default context; only once settled. */
  CHECK (!f->in_call);
  CHECK (r->n_callbacks++ == 0);
  f->n_callbacks++;
  CHECK (source == (GObject *) f->lock);
  CHECK (g_main_context_get_thread_default () == f->context);
  CHECK (current != NULL && g_source_get_context (current) == f->context);
  CHECK (r->model->status == AIO_TEST_MODEL_GRANTED || r->model->status == AIO_TEST_MODEL_FAILED);
}

static void
on_acquired (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Request *r = user_data;
  Fuzz *f = r->fuzz;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = NULL;
  AioTestModelGuard *expected;

  check_callback (f, r, source);

  switch (r->kind)
    {
    case KIND_READ:
      CALL (f, guard = aio_rw_lock_acquire_read_finish (f->lock, result, &error));
      break;
    case KIND_WRITE:
      CALL (f, guard = aio_rw_lock_acquire_write_finish (f->lock, result, &error));
      break;
    case KIND_ACQUIRE:
      CALL (f, guard = aio_rw_lock_acquire_finish (f->lock, result, &error));
      break;
    case KIND_UPGRADE:
    case KIND_UPGRADE_FULL:
    case KIND_CLOSE:
    default:
      CHECK (!"an acquisition");
    }

  TRACE ("    callback #%u: %s\n", r->model->id,
         guard != NULL ? "guard" : error != NULL ? error->message : "no error");

  expected = aio_test_model_deliver (f->model, r->model);
  if (expected != NULL)
    {
      CHECK (guard != NULL && error == NULL);
      guard_add (f, guard, expected);
    }
  else
    {
      /* A failed (a cancelled) request never delivers a guard. */
      CHECK (guard == NULL);
      CHECK (g_error_matches (error, r->model->domain, r->model->code));
    }
}

static void
on_upgraded (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Request *r = user_data;
  Fuzz *f = r->fuzz;
  Guard *g = r->guard;
  g_autoptr(GError) error = NULL;
  gboolean upgraded;

  check_callback (f, r, source);
  CHECK ((r->kind == KIND_UPGRADE || r->kind == KIND_UPGRADE_FULL) && g->refs > 0);

  /* Either finish function takes the result of either start function;
   * upgrade_full_finish only upgrade_full_async's. */
  if (r->lock_finish)
    CALL (f, upgraded = aio_rw_lock_upgrade_finish (f->lock, result, &error));
  else if (r->kind == KIND_UPGRADE_FULL && !r->guard_finish)
    CALL (f, upgraded = aio_rw_lock_guard_upgrade_full_finish (g->object, result, &error));
  else
    CALL (f, upgraded = aio_rw_lock_guard_upgrade_finish (g->object, result, &error));

  TRACE ("    callback #%u: %s\n", r->model->id,
         upgraded ? "upgraded" : error != NULL ? error->message : "no error");

  /* Delivered: no longer pending. A grant whose guard was released before
   * delivery reports NOT_HELD. */
  if (aio_test_model_deliver (f->model, r->model) != NULL)
    {
      /* "On success @self is a WRITE guard." */
      CHECK (upgraded && error == NULL);
      CHECK (g->model->mode == WRITE);
    }
  else
    {
      CHECK (!upgraded);
      CHECK (g_error_matches (error, r->model->domain, r->model->code));
    }

  guard_unref (f, g);
}

static void
on_closed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Request *r = user_data;
  Fuzz *f = r->fuzz;
  g_autoptr(GError) error = NULL;
  gboolean expected = r->model->status == AIO_TEST_MODEL_GRANTED;
  gboolean closed;
  AioTestModelSnapshot m;

  check_callback (f, r, source);
  CHECK (r->kind == KIND_CLOSE);
  CALL (f, closed = aio_rw_lock_close_finish (f->lock, result, &error));

  TRACE ("    callback #%u: %s\n", r->model->id,
         closed ? "closed, nothing held" : error != NULL ? error->message : "no error");

  /* Closed in any case; granted only once no hold is left (nor can one
   * come back: acquisitions fail, and re-entry and upgrades need a hold). */
  CHECK (aio_rw_lock_is_closed (f->lock));
  aio_test_model_deliver (f->model, r->model);
  if (expected)
    {
      CHECK (closed && error == NULL);
      aio_test_model_snapshot (f->model, &m);
      CHECK (m.read_holds == 0 && m.upgradable_holds == 0 && m.write_holds == 0);
      CHECK (aio_rw_lock_get_readers (f->lock) == 0 && !aio_rw_lock_is_write_locked (f->lock));
    }
  else
    {
      CHECK (!closed);
      CHECK (g_error_matches (error, r->model->domain, r->model->code));
    }
}

/* ---- Operations ---- */

typedef struct
{
  const guint8 *data;
  size_t        size;
  size_t        pos;
} Reader;

static guint8
next_byte (Reader *reader)
{
  return reader->pos < reader->size ? reader->data[reader->pos++] : 0;
}

static void
note_task (Fuzz *f)
{
  f->last_task_time = g_get_monotonic_time ();
}

/* A timeout byte: -1, 0 or FUZZ_BIG_TIMEOUT_MSEC. */
static int
pick_timeout (guint choice)
{
  switch (choice % 3)
    {
    case 0:
      return -1;
    case 1:
      return 0;
    default:
      return FUZZ_BIG_TIMEOUT_MSEC;
    }
}

static void
op_acquire (Fuzz   *f,
            guint8  a,
            guint8  s)
{
  AioRwLockMode mode = a % 3;
  int timeout = pick_timeout (a / 3);
  gboolean short_form = (a / 9) % 2 && timeout == -1 && mode != UPGRADABLE;
  GCancellable *cancellable = pick_cancellable (f, s);
  Kind kind = !short_form ? KIND_ACQUIRE : mode == READ ? KIND_READ : KIND_WRITE;
  Request *r;

  TRACE ("acquire #%u %s timeout %d cancellable %p\n", f->requests->len,
         aio_test_model_mode_name (mode), timeout, (void *) cancellable);

  r = request_new (f, kind, cancellable,
                   aio_test_model_acquire (f->model, mode, timeout,
                                           g_cancellable_is_cancelled (cancellable)));

  switch (kind)
    {
    case KIND_READ:
      CALL (f, aio_rw_lock_acquire_read_async (f->lock, cancellable, on_acquired, r));
      break;
    case KIND_WRITE:
      CALL (f, aio_rw_lock_acquire_write_async (f->lock, cancellable, on_acquired, r));
      break;
    case KIND_ACQUIRE:
    case KIND_UPGRADE:
    case KIND_UPGRADE_FULL:
    case KIND_CLOSE:
    default:
      CALL (f, aio_rw_lock_acquire_async (f->lock, mode, timeout, cancellable, on_acquired, r));
      break;
    }
  note_task (f);
}

static void
op_try (Fuzz          *f,
        AioRwLockMode  mode)
{
  AioTestModelGuard *expected = aio_test_model_try_acquire (f->model, mode);
  AioRwLockGuard *guard = NULL;

  TRACE ("try %s: %s\n", aio_test_model_mode_name (mode), expected != NULL ? "granted" : "refused");

  if (mode == READ)
    CALL (f, guard = aio_rw_lock_try_acquire_read (f->lock));
  else
    CALL (f, guard = aio_rw_lock_try_acquire_write (f->lock));

  CHECK ((guard != NULL) == (expected != NULL));
  if (guard != NULL)
    guard_add (f, guard, expected);
}

static void
op_try_blocking (Fuzz   *f,
                 guint8  a,
                 guint8  s)
{
  AioRwLockMode mode = a % 3;
  GCancellable *cancellable = pick_cancellable (f, s);
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = NULL;
  AioTestModelGuard *expected;
  GQuark domain = 0;
  int code = 0;

  expected = aio_test_model_acquire_now (f->model, mode, g_cancellable_is_cancelled (cancellable),
                                         &domain, &code);

  TRACE ("acquire (blocking, timeout 0) %s: %s\n", aio_test_model_mode_name (mode),
         expected != NULL ? "granted" : "refused");

  CALL (f, guard = aio_rw_lock_acquire (f->lock, mode, 0, cancellable, &error));

  if (expected != NULL)
    {
      CHECK (guard != NULL && error == NULL);
      guard_add (f, guard, expected);
    }
  else
    {
      CHECK (guard == NULL);
      CHECK (g_error_matches (error, domain, code));
    }
}

static void
op_release (Fuzz   *f,
            guint8  byte)
{
  Guard *g = pick_guard (f, byte);

  /* Releasing twice is a programmer error (a critical): not done. */
  if (g == NULL || g->model->released)
    return;

  TRACE ("release g%u\n", g->id);
  aio_test_model_release (f->model, g->model);
  CALL (f, aio_rw_lock_guard_release (g->object));
}

static void
op_drop (Fuzz   *f,
         guint8  byte)
{
  Guard *g = pick_guard (f, byte);

  if (g == NULL)
    return;

  TRACE ("drop g%u (%u refs)\n", g->id, g->refs);
  g_ptr_array_remove (f->table, g);
  g->in_table = FALSE;
  guard_unref (f, g);
}

static void
op_reenter (Fuzz   *f,
            guint8  byte,
            guint8  m)
{
  Guard *g = pick_guard (f, byte);
  AioRwLockMode mode = m % 3;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = NULL;
  AioTestModelGuard *expected;
  GQuark domain = 0;
  int code = 0;

  if (g == NULL)
    return;

  TRACE ("reenter g%u (%s%s) as %s\n", g->id,
         aio_test_model_mode_name (aio_test_model_guard_get_mode (g->model)),
         g->model->released ? ", released" : "", aio_test_model_mode_name (mode));

  expected = aio_test_model_reenter (f->model, g->model, mode, &domain, &code);
  CALL (f, guard = aio_rw_lock_guard_reenter (g->object, mode, &error));

  if (expected != NULL)
    {
      CHECK (guard != NULL && error == NULL);
      guard_add (f, guard, expected);
    }
  else
    {
      CHECK (guard == NULL);
      CHECK (g_error_matches (error, domain, code));
    }
}

static void
op_downgrade (Fuzz   *f,
              guint8  byte)
{
  Guard *g = pick_guard (f, byte);

  /* Documented programmer errors (criticals): not done. */
  if (g == NULL || g->model->released || g->model->upgrade != NULL)
    return;

  TRACE ("downgrade g%u (%s)\n", g->id, aio_test_model_mode_name (g->model->mode));
  aio_test_model_downgrade (f->model, g->model, READ);
  CALL (f, aio_rw_lock_guard_downgrade (g->object));
}

/* An upgrade of @g: the request keeps a reference to the guard until its
 * callback. */
static Request *
upgrade_request_new (Fuzz                *f,
                     Kind                 kind,
                     Guard               *g,
                     GCancellable        *cancellable,
                     AioTestModelRequest *model)
{
  Request *r = request_new (f, kind, cancellable, model);

  r->guard = g;
  g->refs++;
  aio_rw_lock_guard_ref (g->object);
  return r;
}

static void
op_upgrade (Fuzz   *f,
            guint8  byte,
            guint8  s)
{
  Guard *g = pick_guard (f, byte);
  GCancellable *cancellable = pick_cancellable (f, s);
  Request *r;

  if (g == NULL)
    return;

  TRACE ("upgrade #%u of g%u (%s%s) cancellable %p\n", f->requests->len, g->id,
         aio_test_model_mode_name (aio_test_model_guard_get_mode (g->model)),
         g->model->released ? ", released" : "", (void *) cancellable);

  r = upgrade_request_new (f, KIND_UPGRADE, g, cancellable,
                           aio_test_model_upgrade (f->model, g->model,
                                                   g_cancellable_is_cancelled (cancellable)));
  r->lock_start = (s / (FUZZ_N_SLOTS + 1)) % 2;
  r->lock_finish = (s / (2 * (FUZZ_N_SLOTS + 1))) % 2;

  if (r->lock_start)
    CALL (f, aio_rw_lock_upgrade_async (f->lock, g->object, cancellable, on_upgraded, r));
  else
    CALL (f, aio_rw_lock_guard_upgrade_async (g->object, cancellable, on_upgraded, r));
  note_task (f);
}

static void
op_upgrade_full (Fuzz   *f,
                 guint8  byte,
                 guint8  s,
                 guint8  t)
{
  Guard *g = pick_guard (f, byte);
  GCancellable *cancellable = pick_cancellable (f, s);
  int timeout = pick_timeout (t);
  guint finish = (s / (FUZZ_N_SLOTS + 1)) % 3;
  Request *r;

  if (g == NULL)
    return;

  TRACE ("upgrade_full #%u of g%u (%s%s) timeout %d cancellable %p\n", f->requests->len, g->id,
         aio_test_model_mode_name (aio_test_model_guard_get_mode (g->model)),
         g->model->released ? ", released" : "", timeout, (void *) cancellable);

  r = upgrade_request_new (f, KIND_UPGRADE_FULL, g, cancellable,
                           aio_test_model_upgrade_full (f->model, g->model, timeout,
                                                        g_cancellable_is_cancelled (cancellable)));
  r->guard_finish = finish == 1;
  r->lock_finish = finish == 2;

  CALL (f, aio_rw_lock_guard_upgrade_full_async (g->object, timeout, cancellable, on_upgraded, r));
  note_task (f);
}

/* An immediate call's outcome against the model's: TRUE, or FALSE and the
 * error the model names. */
static void
check_immediate (gboolean      expected,
                 GQuark        domain,
                 int           code,
                 gboolean      done,
                 const GError *error)
{
  TRACE ("    %s\n", done ? "done" : error != NULL ? error->message : "no error");

  if (expected)
    {
      CHECK (done && error == NULL);
    }
  else
    {
      CHECK (!done);
      CHECK (g_error_matches (error, domain, code));
    }
}

static void
op_try_acquire (Fuzz   *f,
                guint8  a)
{
  AioRwLockMode mode = a % 3;
  g_autoptr(GError) error = NULL;
  AioRwLockGuard *guard = NULL;
  AioTestModelGuard *expected;
  GQuark domain = 0;
  int code = 0;

  expected = aio_test_model_try_acquire_full (f->model, mode, &domain, &code);

  TRACE ("try_acquire %s: %s\n", aio_test_model_mode_name (mode),
         expected != NULL ? "granted" : "refused");

  CALL (f, guard = aio_rw_lock_try_acquire (f->lock, mode, &error));

  check_immediate (expected != NULL, domain, code, guard != NULL, error);
  if (guard != NULL)
    guard_add (f, guard, expected);
}

static void
op_try_upgrade (Fuzz   *f,
                guint8  byte)
{
  Guard *g = pick_guard (f, byte);
  g_autoptr(GError) error = NULL;
  gboolean expected, upgraded = FALSE;
  GQuark domain = 0;
  int code = 0;

  if (g == NULL)
    return;

  TRACE ("try_upgrade g%u (%s%s)\n", g->id,
         aio_test_model_mode_name (aio_test_model_guard_get_mode (g->model)),
         g->model->released ? ", released" : "");

  expected = aio_test_model_try_upgrade (f->model, g->model, &domain, &code);
  CALL (f, upgraded = aio_rw_lock_guard_try_upgrade (g->object, &error));

  check_immediate (expected, domain, code, upgraded, error);
}

static void
op_downgrade_to (Fuzz   *f,
                 guint8  byte,
                 guint8  m)
{
  Guard *g = pick_guard (f, byte);
  AioRwLockMode mode = m % 3;
  g_autoptr(GError) error = NULL;
  gboolean expected, downgraded = FALSE;
  GQuark domain = 0;
  int code = 0;

  if (g == NULL)
    return;

  TRACE ("downgrade_to g%u (%s%s%s) to %s\n", g->id,
         aio_test_model_mode_name (aio_test_model_guard_get_mode (g->model)),
         g->model->released ? ", released" : "", g->model->upgrade != NULL ? ", upgrading" : "",
         aio_test_model_mode_name (mode));

  expected = aio_test_model_downgrade_to (f->model, g->model, mode, &domain, &code);
  CALL (f, downgraded = aio_rw_lock_guard_downgrade_to (g->object, mode, &error));

  check_immediate (expected, domain, code, downgraded, error);
}

static void
op_close_async (Fuzz   *f,
                guint8  s)
{
  GCancellable *cancellable = pick_cancellable (f, s);
  Request *r;

  TRACE ("close_async #%u cancellable %p\n", f->requests->len, (void *) cancellable);

  r = request_new (f, KIND_CLOSE, cancellable,
                   aio_test_model_close_async (f->model, g_cancellable_is_cancelled (cancellable)));
  CALL (f, aio_rw_lock_close_async (f->lock, cancellable, on_closed, r));
  note_task (f);
}

static void
op_cancel (Fuzz   *f,
           guint8  c)
{
  guint slot = c % FUZZ_N_SLOTS;
  gboolean renew = (c / FUZZ_N_SLOTS) % 2;
  GCancellable *cancellable = f->slots[slot];

  TRACE ("cancel slot %u (%p)%s\n", slot, (void *) cancellable, renew ? ", renew" : "");

  /* The lock's handlers run in the order they were connected: the order
   * the requests were made. */
  if (!g_cancellable_is_cancelled (cancellable))
    {
      for (guint i = 0; i < f->requests->len; i++)
        {
          Request *r = g_ptr_array_index (f->requests, i);

          if (r->cancellable == cancellable && r->connected)
            aio_test_model_cancel (f->model, r->model);
        }
    }

  CALL (f, g_cancellable_cancel (cancellable));

  if (renew)
    {
      g_object_unref (f->slots[slot]);
      f->slots[slot] = g_cancellable_new ();
    }
}

static gboolean
dispatch_once (Fuzz *f)
{
  /* GTask completes in the lock's completion source, synchronously, only
   * in an iteration whose time is later than the task's creation: make
   * sure it is, so delivery never depends on the clock's resolution. */
  while (g_get_monotonic_time () <= f->last_task_time)
    ;

  return g_main_context_iteration (f->context, FALSE);
}

static void
dispatch_all (Fuzz *f)
{
  guint n = 0;

  while (dispatch_once (f))
    CHECK (++n < FUZZ_MAX_ITERATIONS);  /* a livelock */
}

static void
op_close (Fuzz *f)
{
  TRACE ("close\n");
  aio_test_model_close (f->model);
  CALL (f, aio_rw_lock_close (f->lock));
}

static void
run_op (Fuzz   *f,
        Reader *reader)
{
  Op op = op_table[next_byte (reader) % G_N_ELEMENTS (op_table)];
  guint8 a, b;

  switch (op)
    {
    case OP_ACQUIRE:
      a = next_byte (reader);
      b = next_byte (reader);
      op_acquire (f, a, b);
      break;
    case OP_TRY_READ:
      op_try (f, READ);
      break;
    case OP_TRY_WRITE:
      op_try (f, WRITE);
      break;
    case OP_TRY_BLOCKING:
      a = next_byte (reader);
      b = next_byte (reader);
      op_try_blocking (f, a, b);
      break;
    case OP_RELEASE:
      op_release (f, next_byte (reader));
      break;
    case OP_DROP:
      op_drop (f, next_byte (reader));
      break;
    case OP_REENTER:
      a = next_byte (reader);
      b = next_byte (reader);
      op_reenter (f, a, b);
      break;
    case OP_DOWNGRADE:
      op_downgrade (f, next_byte (reader));
      break;
    case OP_UPGRADE:
      a = next_byte (reader);
      b = next_byte (reader);
      op_upgrade (f, a, b);
      break;
    case OP_CANCEL:
      op_cancel (f, next_byte (reader));
      break;
    case OP_DISPATCH:
      TRACE ("dispatch\n");
      dispatch_once (f);
      break;
    case OP_DISPATCH_ALL:
      TRACE ("dispatch all\n");
      dispatch_all (f);
      break;
    case OP_CLOSE:
      op_close (f);
      break;
    case OP_TRY_ACQUIRE:
      op_try_acquire (f, next_byte (reader));
      break;
    case OP_TRY_UPGRADE:
      op_try_upgrade (f, next_byte (reader));
      break;
    case OP_UPGRADE_FULL:
      a = next_byte (reader);
      b = next_byte (reader);
      op_upgrade_full (f, a, b, next_byte (reader));
      break;
    case OP_DOWNGRADE_TO:
      a = next_byte (reader);
      b = next_byte (reader);
      op_downgrade_to (f, a, b);
      break;
    case OP_CLOSE_ASYNC:
      op_close_async (f, next_byte (reader));
      break;
    default:
      CHECK (!"a valid operation");
    }

  check_state (f, op == OP_DISPATCH_ALL);
}

/* Releases (or drops) every guard and delivers everything until nothing
 * is held, queued or undelivered. */
static void
drain (Fuzz *f)
{
  AioTestModelSnapshot m;

  for (guint round = 0; ; round++)
    {
      guint n_callbacks = f->n_callbacks;
      gboolean released_any = f->table->len > 0;
      gboolean busy = FALSE;

      TRACE ("drain round %u\n", round);
      while (f->table->len > 0)
        {
          Guard *g = g_ptr_array_index (f->table, f->table->len - 1);

          /* Half by release, half by dropping the last reference. */
          if (!g->model->released && g->id % 2 == 0)
            {
              aio_test_model_release (f->model, g->model);
              CALL (f, aio_rw_lock_guard_release (g->object));
            }
          g_ptr_array_remove_index (f->table, f->table->len - 1);
          g->in_table = FALSE;
          guard_unref (f, g);
        }

      dispatch_all (f);
      check_state (f, TRUE);

      for (guint i = 0; i < f->requests->len; i++)
        {
          Request *r = g_ptr_array_index (f->requests, i);

          busy = busy || r->model->status != AIO_TEST_MODEL_DELIVERED;
        }
      if (!busy && f->table->len == 0)
        break;

      /* Each round ends holds or completes requests; a round that did
       * neither leaves a waiter stuck forever. */
      CHECK (released_any || f->n_callbacks > n_callbacks);
    }

  /* Free: no hold leaked, no waiter forgotten. */
  CHECK (aio_rw_lock_get_readers (f->lock) == 0);
  CHECK (!aio_rw_lock_is_write_locked (f->lock));
  CHECK (aio_rw_lock_get_pending_readers (f->lock) == 0);
  CHECK (aio_rw_lock_get_pending_writers (f->lock) == 0);
  aio_test_model_snapshot (f->model, &m);
  CHECK (m.read_holds == 0 && m.upgradable_holds == 0 && m.write_holds == 0);
  CHECK (m.pending_readers == 0 && m.pending_writers == 0);
  for (guint i = 0; i < f->guards->len; i++)
    CHECK (((Guard *) g_ptr_array_index (f->guards, i))->refs == 0);
  for (guint i = 0; i < f->requests->len; i++)
    CHECK (((Request *) g_ptr_array_index (f->requests, i))->n_callbacks == 1);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  /* GSlice (GLib < 2.76) caches memory: let LeakSanitizer see malloc. */
  g_setenv ("G_SLICE", "always-malloc", FALSE);

  trace = g_strcmp0 (g_getenv ("FUZZ_TRACE"), "1") == 0;

  /* The harness makes no call that is a programmer error: any critical
   * or warning is a finding. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  /* Register the types once, outside any input. */
  g_type_ensure (AIO_TYPE_RW_LOCK);
  g_type_ensure (AIO_TYPE_RW_LOCK_GUARD);
  g_type_ensure (G_TYPE_TASK);
  g_type_ensure (G_TYPE_CANCELLABLE);
  (void) G_IO_ERROR;
  (void) AIO_RW_LOCK_ERROR;

  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  Reader reader = { data, size, 0 };
  AioRwLockPolicy policy;
  gpointer weak_lock;
  Fuzz f = { 0 };

  if (size == 0)
    return 0;

  policy = next_byte (&reader) % 3;
  f.model = aio_test_model_new (policy);
  aio_test_model_set_trace (f.model, trace);
  f.context = g_main_context_new ();
  g_main_context_push_thread_default (f.context);
  f.lock = aio_rw_lock_new_with_policy (policy);
  weak_lock = f.lock;
  g_object_add_weak_pointer (G_OBJECT (f.lock), &weak_lock);
  f.guards = g_ptr_array_new_with_free_func (g_free);
  f.table = g_ptr_array_new ();
  f.requests = g_ptr_array_new_with_free_func (request_free);
  for (guint i = 0; i < FUZZ_N_SLOTS; i++)
    f.slots[i] = g_cancellable_new ();

  TRACE ("policy %u\n", policy);
  check_state (&f, TRUE);

  for (guint n = 0; reader.pos < reader.size && n < FUZZ_MAX_OPS; n++)
    run_op (&f, &reader);

  drain (&f);

  /* Nothing keeps the lock alive any more: no guard, no waiter, no task. */
  g_object_unref (f.lock);
  CHECK (weak_lock == NULL);
  CHECK (!g_main_context_pending (f.context));

  for (guint i = 0; i < FUZZ_N_SLOTS; i++)
    g_object_unref (f.slots[i]);
  g_ptr_array_unref (f.requests);
  g_ptr_array_unref (f.table);
  g_ptr_array_unref (f.guards);
  aio_test_model_free (f.model);
  g_main_context_pop_thread_default (f.context);
  g_main_context_unref (f.context);

  return 0;
}
