/* aio-rw-lock-state.c: holds, queue and policy of a lock ("who enters next")
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-rw-lock-state.h"

/* The waiting requests live in three FIFO queues, one per mode, each request
 * stamped with its arrival number. Only a queue's head can ever be the next
 * to enter (the policy never lets a request pass one of its own kind queued
 * before it, and a READ request's chance does not depend on its place), so
 * deciding who enters next looks at three heads: O(1) whatever the length. */

gboolean
aio_rw_lock_state_mode_is_valid (AioRwLockMode mode)
{
  return mode == AIO_RW_LOCK_MODE_READ ||
         mode == AIO_RW_LOCK_MODE_WRITE ||
         mode == AIO_RW_LOCK_MODE_UPGRADABLE_READ;
}

void
aio_rw_lock_state_init (AioRwLockState  *state,
                        AioRwLockPolicy  policy)
{
  memset (state, 0, sizeof *state);
  state->policy = policy;
  for (guint i = 0; i < G_N_ELEMENTS (state->queue); i++)
    g_queue_init (&state->queue[i]);
}

gboolean
aio_rw_lock_state_is_idle (const AioRwLockState *state)
{
  return state->n_read == 0 &&
         !state->upgradable &&
         !state->writer &&
         state->upgrade == NULL &&
         aio_rw_lock_state_pending_readers (state) == 0 &&
         aio_rw_lock_state_pending_writers (state) == 0;
}

/* For messages: the mode as the docs spell it. */
const char *
aio_rw_lock_state_mode_name (AioRwLockMode mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      return "READ";
    case AIO_RW_LOCK_MODE_WRITE:
      return "WRITE";
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      return "UPGRADABLE_READ";
    default:
      return "invalid";
    }
}

/* Whether any hold exists (a grant counts from the moment it is made). */
gboolean
aio_rw_lock_state_has_holds (const AioRwLockState *state)
{
  return state->n_read > 0 || state->upgradable || state->writer;
}

/* ---- The policy: who may enter next. Everything about it is here. ---- */

/* What is queued before a request (for a new request: everything queued). */
typedef struct
{
  gboolean anyone;
  gboolean writer;
  gboolean upgradable;
} Ahead;

static gboolean
queue_waits (const AioRwLockState *state,
             AioRwLockMode         mode)
{
  return state->queue[mode].length > 0;
}

/* READ goes with READ and one UPGRADABLE_READ; UPGRADABLE_READ with READ
 * only; WRITE with nothing. */
static gboolean
compatible (const AioRwLockState *state,
            AioRwLockMode         mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      return !state->writer;
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      return !state->writer && !state->upgradable;
    case AIO_RW_LOCK_MODE_WRITE:
      return !state->writer && !state->upgradable && state->n_read == 0;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
may_enter (const AioRwLockState *state,
           AioRwLockMode         mode,
           const Ahead          *ahead)
{
  if (!compatible (state, mode))
    return FALSE;

  /* A pending upgrade is a writer that already holds the lock: nobody may
   * enter before it, except readers under PREFER_READERS, where writers
   * (upgrades included) knowingly wait for every reader. */
  if (state->upgrade != NULL && state->policy != AIO_RW_LOCK_POLICY_PREFER_READERS)
    return FALSE;

  switch (state->policy)
    {
    case AIO_RW_LOCK_POLICY_FAIR:
      /* No barging: only the first in line enters. */
      return !ahead->anyone;

    case AIO_RW_LOCK_POLICY_PREFER_WRITERS:
      /* Writers in arrival order; a reader waits while any writer waits. */
      if (mode == AIO_RW_LOCK_MODE_WRITE)
        return !ahead->writer;
      if (queue_waits (state, AIO_RW_LOCK_MODE_WRITE))
        return FALSE;
      return mode == AIO_RW_LOCK_MODE_READ || !ahead->upgradable;

    case AIO_RW_LOCK_POLICY_PREFER_READERS:
      /* A reader enters whenever it is compatible (no writer holds). */
      if (mode == AIO_RW_LOCK_MODE_READ)
        return TRUE;
      if (mode == AIO_RW_LOCK_MODE_UPGRADABLE_READ)
        return !ahead->upgradable;
      /* A writer lets every waiting reader go first, wherever it is queued. */
      return !ahead->writer &&
             !queue_waits (state, AIO_RW_LOCK_MODE_READ) &&
             !queue_waits (state, AIO_RW_LOCK_MODE_UPGRADABLE_READ);

    default:
      g_assert_not_reached ();
    }
}

static AioRwLockRequest *
queue_head (const AioRwLockState *state,
            AioRwLockMode         mode)
{
  GList *link = state->queue[mode].head;

  return link != NULL ? link->data : NULL;
}

static gboolean
queued_before (const AioRwLockRequest *request,
               guint64                 seq)
{
  return request != NULL && request->seq < seq;
}

/**
 * aio_rw_lock_state_admits:
 *
 * Whether a new request for @mode may enter at once, before queueing. It is
 * the same rule as for a queued request, with everything queued ahead of it.
 */
gboolean
aio_rw_lock_state_admits (const AioRwLockState *state,
                          AioRwLockMode         mode)
{
  Ahead ahead;

  if (state->closed)
    return FALSE;

  ahead.writer = queue_waits (state, AIO_RW_LOCK_MODE_WRITE);
  ahead.upgradable = queue_waits (state, AIO_RW_LOCK_MODE_UPGRADABLE_READ);
  ahead.anyone = ahead.writer || ahead.upgradable ||
                 queue_waits (state, AIO_RW_LOCK_MODE_READ);

  return may_enter (state, mode, &ahead);
}

/**
 * aio_rw_lock_state_peek_next:
 *
 * The waiting request that may enter now, or %NULL. A pending upgrade goes
 * first, as soon as the other readers have left; then the queue heads are
 * tried in arrival order.
 */
AioRwLockRequest *
aio_rw_lock_state_peek_next (const AioRwLockState *state)
{
  AioRwLockRequest *heads[3];
  guint n = 0;

  if (state->upgrade != NULL && state->n_read == 0)
    return state->upgrade;

  /* Nobody waits: the common case after a release. */
  if (state->queue[0].length + state->queue[1].length + state->queue[2].length == 0)
    return NULL;

  for (guint mode = 0; mode < G_N_ELEMENTS (state->queue); mode++)
    {
      AioRwLockRequest *head = queue_head (state, mode);
      guint i;

      if (head == NULL)
        continue;

      /* Insertion sort by arrival: at most three entries. */
      for (i = n; i > 0 && heads[i - 1]->seq > head->seq; i--)
        heads[i] = heads[i - 1];
      heads[i] = head;
      n++;
    }

  for (guint i = 0; i < n; i++)
    {
      AioRwLockRequest *candidate = heads[i];
      Ahead ahead = { FALSE, FALSE, FALSE };  /* the first in line */

      if (i > 0)
        {
          /* FAIR lets nobody pass the first in line: may_enter () would
           * refuse every later one. Ends the serve loop's last call early. */
          if (state->policy == AIO_RW_LOCK_POLICY_FAIR)
            break;
          ahead.anyone = TRUE;
          ahead.writer = queued_before (queue_head (state, AIO_RW_LOCK_MODE_WRITE), candidate->seq);
          ahead.upgradable = queued_before (queue_head (state, AIO_RW_LOCK_MODE_UPGRADABLE_READ),
                                            candidate->seq);
        }

      if (may_enter (state, candidate->mode, &ahead))
        return candidate;
    }

  return NULL;
}

/* ---- Changes to the holds and the queue ---- */

static void
enter (AioRwLockState *state,
       AioRwLockMode   mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      state->n_read++;
      break;
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      g_assert (!state->upgradable && !state->writer);
      state->upgradable = TRUE;
      break;
    case AIO_RW_LOCK_MODE_WRITE:
      g_assert (!state->writer && !state->upgradable && state->n_read == 0);
      state->writer = TRUE;
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
leave (AioRwLockState *state,
       AioRwLockMode   mode)
{
  switch (mode)
    {
    case AIO_RW_LOCK_MODE_READ:
      g_assert (state->n_read > 0);
      state->n_read--;
      break;
    case AIO_RW_LOCK_MODE_UPGRADABLE_READ:
      g_assert (state->upgradable);
      state->upgradable = FALSE;
      break;
    case AIO_RW_LOCK_MODE_WRITE:
      g_assert (state->writer);
      state->writer = FALSE;
      break;
    default:
      g_assert_not_reached ();
    }
}

gboolean
aio_rw_lock_state_try_enter (AioRwLockState *state,
                             AioRwLockMode   mode)
{
  if (!aio_rw_lock_state_admits (state, mode))
    return FALSE;

  enter (state, mode);
  return TRUE;
}

void
aio_rw_lock_state_enqueue (AioRwLockState   *state,
                           AioRwLockRequest *request)
{
  g_assert (!request->queued && !request->is_upgrade);

  request->seq = state->next_seq++;
  request->link.data = request;
  request->queued = TRUE;
  g_queue_push_tail_link (&state->queue[request->mode], &request->link);
}

/* The UPGRADABLE_READ hold becomes WRITE at once if no other reader holds. */
gboolean
aio_rw_lock_state_try_upgrade (AioRwLockState *state)
{
  g_assert (state->upgradable && state->upgrade == NULL);

  if (state->n_read > 0)
    return FALSE;

  state->upgradable = FALSE;
  state->writer = TRUE;
  return TRUE;
}

void
aio_rw_lock_state_enqueue_upgrade (AioRwLockState   *state,
                                   AioRwLockRequest *request)
{
  g_assert (state->upgradable && state->upgrade == NULL && !request->queued);

  request->is_upgrade = TRUE;
  request->mode = AIO_RW_LOCK_MODE_WRITE;
  request->queued = TRUE;
  state->upgrade = request;
}

/* A cancelled or expired request leaves its place in O(1). */
void
aio_rw_lock_state_remove (AioRwLockState   *state,
                          AioRwLockRequest *request)
{
  g_assert (request->queued);

  if (request->is_upgrade)
    {
      g_assert (state->upgrade == request);
      state->upgrade = NULL;
    }
  else
    {
      g_queue_unlink (&state->queue[request->mode], &request->link);
    }

  request->queued = FALSE;
}

/* Takes the next request that may enter out of the queue and counts its
 * hold; the caller loops until it returns %NULL. */
AioRwLockRequest *
aio_rw_lock_state_grant_next (AioRwLockState *state)
{
  AioRwLockRequest *request = aio_rw_lock_state_peek_next (state);

  if (request == NULL)
    return NULL;

  if (request->is_upgrade)
    {
      state->upgrade = NULL;
      request->queued = FALSE;
      state->upgradable = FALSE;
      state->writer = TRUE;
    }
  else
    {
      aio_rw_lock_state_remove (state, request);
      enter (state, request->mode);
    }

  return request;
}

/* A hold changes its mode: released (to NONE), downgraded, or an upgrade
 * handed back (WRITE to UPGRADABLE_READ). */
void
aio_rw_lock_state_convert (AioRwLockState *state,
                           AioRwLockMode   from,
                           AioRwLockMode   to)
{
  if (from == to)
    return;
  if (from != AIO_RW_LOCK_HOLD_NONE)
    leave (state, from);
  if (to != AIO_RW_LOCK_HOLD_NONE)
    enter (state, to);
}

/* After this nothing new is admitted; the owner fails what is queued. */
void
aio_rw_lock_state_close (AioRwLockState *state)
{
  state->closed = TRUE;
}

/* Takes the waiting requests out in arrival order, the pending upgrade
 * first; used when the lock is closed. */
AioRwLockRequest *
aio_rw_lock_state_pop_any (AioRwLockState *state)
{
  AioRwLockRequest *first = state->upgrade;

  if (first == NULL)
    {
      for (guint mode = 0; mode < G_N_ELEMENTS (state->queue); mode++)
        {
          AioRwLockRequest *head = queue_head (state, mode);

          if (head != NULL && (first == NULL || head->seq < first->seq))
            first = head;
        }
    }

  if (first != NULL)
    aio_rw_lock_state_remove (state, first);

  return first;
}

guint
aio_rw_lock_state_readers (const AioRwLockState *state)
{
  return state->n_read + (state->upgradable ? 1 : 0);
}

guint
aio_rw_lock_state_pending_readers (const AioRwLockState *state)
{
  return state->queue[AIO_RW_LOCK_MODE_READ].length +
         state->queue[AIO_RW_LOCK_MODE_UPGRADABLE_READ].length;
}

guint
aio_rw_lock_state_pending_writers (const AioRwLockState *state)
{
  return state->queue[AIO_RW_LOCK_MODE_WRITE].length +
         (state->upgrade != NULL ? 1 : 0);
}
