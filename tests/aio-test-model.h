/* aio-test-model.h: the tests' one reference model of DESIGN.md's rules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An executable model of the lock, written from DESIGN.md and independently
 * of the library's code: one queue in arrival order, scanned linearly (the
 * library keeps three queue heads). The fuzzer and the stress test check the
 * library against it; test-model.c checks the model itself against
 * hand-written cases from DESIGN.md. A new policy or mode changes the
 * library and this model.
 *
 * Two levels:
 *
 * - the policy, a pure function of a plain description of a state
 *   (AioTestModelState): whether a new request is admitted at once, and
 *   which waiting request may enter now. The stress test asks it about the
 *   library's own state;
 * - the lock (AioTestModel): holds (a hold is shared by guards that
 *   re-entered one another, its mode the strongest of its unreleased
 *   members), the queue, the pending upgrade, and requests with the outcome
 *   each must report; grants are counted when made. Operations mirror the
 *   lock's API; each says what the library must report, and the snapshot
 *   says what its properties must show.
 *
 * Misuse of the model (releasing twice, delivering a queued request, a
 * downgrade the library calls a programmer error) fails an assertion.
 */

#pragma once

#include <aiorwlock-glib/aiorwlock.h>

G_BEGIN_DECLS

/* ---- The policy, as a pure function ---- */

/* A lock's state as the policy sees it. A WRITE hold with re-entered
 * readers is only a writer here: "a writer excludes readers". */
typedef struct
{
  AioRwLockPolicy      policy;
  guint                n_read;           /* READ holds */
  gboolean             upgradable;       /* an UPGRADABLE_READ hold exists */
  gboolean             writer;           /* a WRITE hold exists */
  gboolean             upgrade_pending;  /* the UPGRADABLE_READ hold waits to become WRITE */
  gboolean             closed;
  const AioRwLockMode *queue;            /* the waiting requests' modes, in arrival order */
  guint                n_queued;
} AioTestModelState;

/* aio_test_model_next (): nobody may enter; the pending upgrade goes. */
#define AIO_TEST_MODEL_NEXT_NONE    (-1)
#define AIO_TEST_MODEL_NEXT_UPGRADE (-2)

gboolean aio_test_model_compatible (const AioTestModelState *state,
                                    AioRwLockMode            mode);
gboolean aio_test_model_admits     (const AioTestModelState *state,
                                    AioRwLockMode            mode);
int      aio_test_model_next       (const AioTestModelState *state);

/* ---- Holds ---- */

/* A hold's mode when it has no member left: it ended. */
#define AIO_TEST_MODEL_HOLD_NONE ((AioRwLockMode) -1)

/* One hold: its members by mode (unreleased guards, or the grant of a
 * request not delivered yet). */
typedef struct
{
  guint n[3];
} AioTestModelHold;

/* The strongest mode of its members; whether it counts in `readers`. */
AioRwLockMode aio_test_model_hold_mode              (const AioTestModelHold *hold);
gboolean      aio_test_model_hold_counts_in_readers (const AioTestModelHold *hold);

/* ---- The lock ---- */

typedef struct _AioTestModel        AioTestModel;
typedef struct _AioTestModelRequest AioTestModelRequest;

typedef struct
{
  guint                id;        /* creation order, from 0 */
  AioTestModelHold    *hold;
  AioRwLockMode        mode;      /* as the lock counts it: WRITE as soon as an upgrade is granted */
  gboolean             released;
  AioTestModelRequest *upgrade;   /* its upgrade, pending from submission to delivery */
} AioTestModelGuard;

typedef enum
{
  AIO_TEST_MODEL_QUEUED,     /* waiting (an upgrade: in the upgrade slot; a
                              * close_async wait: until no hold is left) */
  AIO_TEST_MODEL_GRANTED,    /* counted in the holds, not delivered yet */
  AIO_TEST_MODEL_FAILED,     /* domain and code: what it must report */
  AIO_TEST_MODEL_DELIVERED,  /* its callback ran */
} AioTestModelStatus;

/* An async request: an acquisition, an upgrade, or the wait of close_async
 * (a "drain": granted once no hold is left; it never holds anything). */
struct _AioTestModelRequest
{
  guint               id;            /* creation order, from 0 */
  AioRwLockMode       mode;          /* WRITE for an upgrade; READ for a drain */
  gboolean            drain;         /* a close_async wait */
  AioTestModelGuard  *guard;         /* an upgrade's guard; NULL otherwise */
  AioTestModelStatus  status;
  GQuark              domain;
  int                 code;
  AioTestModelHold   *hold;          /* a granted acquisition's hold, until delivered */
  gboolean            changed_mode;  /* a granted upgrade made its guard WRITE */
};

/* What the lock's properties must show. */
typedef struct
{
  guint    readers;          /* read holds, plus one per WRITE hold with re-entered readers */
  gboolean read_locked;
  gboolean write_locked;
  guint    pending_readers;  /* waiting READ and UPGRADABLE_READ requests */
  guint    pending_writers;  /* waiting WRITE requests and the waiting upgrade */
  gboolean closed;
  /* The holds by mode, for soundness checks. */
  guint    read_holds;
  guint    upgradable_holds;
  guint    write_holds;
  gboolean upgrade_pending;
  guint    drains;           /* close_async waits still waiting */
} AioTestModelSnapshot;

AioTestModel        *aio_test_model_new            (AioRwLockPolicy       policy);
void                 aio_test_model_free           (AioTestModel         *model);
void                 aio_test_model_set_trace      (AioTestModel         *model,
                                                    gboolean              trace);
AioRwLockPolicy      aio_test_model_get_policy     (AioTestModel         *model);

/* Async requests. @cancelled: the cancellable was cancelled at the call. */
AioTestModelRequest *aio_test_model_acquire        (AioTestModel         *model,
                                                    AioRwLockMode         mode,
                                                    int                   timeout_msec,
                                                    gboolean              cancelled);
AioTestModelRequest *aio_test_model_upgrade        (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    gboolean              cancelled);
AioTestModelRequest *aio_test_model_upgrade_full   (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    int                   timeout_msec,
                                                    gboolean              cancelled);
AioTestModelRequest *aio_test_model_close_async    (AioTestModel         *model,
                                                    gboolean              cancelled);
AioTestModelGuard   *aio_test_model_deliver        (AioTestModel         *model,
                                                    AioTestModelRequest  *request);
gboolean             aio_test_model_cancel         (AioTestModel         *model,
                                                    AioTestModelRequest  *request);
gboolean             aio_test_model_expire         (AioTestModel         *model,
                                                    AioTestModelRequest  *request);

/* Calls that answer at once: aio_rw_lock_acquire () with a timeout of 0,
 * try_acquire_read/_write (the error is then dropped), try_acquire,
 * reenter, try_upgrade, downgrade_to. NULL (FALSE) and the error the
 * library must report, or the new guard (TRUE). */
AioTestModelGuard   *aio_test_model_acquire_now    (AioTestModel         *model,
                                                    AioRwLockMode         mode,
                                                    gboolean              cancelled,
                                                    GQuark               *domain,
                                                    int                  *code);
AioTestModelGuard   *aio_test_model_try_acquire    (AioTestModel         *model,
                                                    AioRwLockMode         mode);
AioTestModelGuard   *aio_test_model_try_acquire_full (AioTestModel       *model,
                                                    AioRwLockMode         mode,
                                                    GQuark               *domain,
                                                    int                  *code);
gboolean             aio_test_model_try_upgrade    (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    GQuark               *domain,
                                                    int                  *code);
gboolean             aio_test_model_downgrade_to   (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    AioRwLockMode         mode,
                                                    GQuark               *domain,
                                                    int                  *code);
AioTestModelGuard   *aio_test_model_reenter        (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    AioRwLockMode         mode,
                                                    GQuark               *domain,
                                                    int                  *code);

void                 aio_test_model_release        (AioTestModel         *model,
                                                    AioTestModelGuard    *guard);
void                 aio_test_model_downgrade      (AioTestModel         *model,
                                                    AioTestModelGuard    *guard,
                                                    AioRwLockMode         mode);
void                 aio_test_model_close          (AioTestModel         *model);

AioRwLockMode        aio_test_model_guard_get_mode (const AioTestModelGuard *guard);
const char          *aio_test_model_mode_name      (AioRwLockMode         mode);
void                 aio_test_model_get_state      (AioTestModel         *model,
                                                    AioTestModelState    *state);
void                 aio_test_model_snapshot       (AioTestModel         *model,
                                                    AioTestModelSnapshot *snapshot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AioTestModel, aio_test_model_free)

G_END_DECLS
