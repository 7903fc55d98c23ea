/* aio-rw-lock-fast.h: the lock's atomic word, for holds taken without the mutex
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. While nothing is queued, pending, closed or watched, READ and
 * WRITE holds are counted in one word, each taken or ended by one
 * compare-and-swap, and the lock's mutex is not taken. The core stops
 * that when it takes the mutex: one exchange sets SLOW and hands the
 * word's holds to the state, where every hold is counted from then on; a
 * fast operation that finds SLOW takes the mutex instead. When the core
 * lets go of the mutex with nothing queued or pending (nobody for a
 * newcomer to barge past), it hands the holds back with one store.
 *
 * So at any time each hold is counted in exactly one of the two places,
 * and the word changes under no mutex only while SLOW is clear. Modelled
 * in tests/model/aiorwlock.pml (WITH_FAST).
 */

#pragma once

#include <glib.h>

#include "aio-rw-lock.h"

G_BEGIN_DECLS

#define AIO_RW_LOCK_FAST_SLOW    1u  /* the state counts every hold */
#define AIO_RW_LOCK_FAST_WRITER  2u  /* a WRITE hold */
#define AIO_RW_LOCK_FAST_READER  4u  /* one READ hold */

/* Any thread: takes a READ or WRITE hold if the word alone may grant it
 * (SLOW clear: nobody waits, so no policy makes a newcomer wait either). */
static inline gboolean
aio_rw_lock_fast_enter (guint         *word,
                        AioRwLockMode  mode)
{
  guint w = __atomic_load_n (word, __ATOMIC_RELAXED);

  if (mode == AIO_RW_LOCK_MODE_READ)
    {
      while ((w & (AIO_RW_LOCK_FAST_SLOW | AIO_RW_LOCK_FAST_WRITER)) == 0)
        if (__atomic_compare_exchange_n (word, &w, w + AIO_RW_LOCK_FAST_READER, TRUE,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
          return TRUE;
      return FALSE;
    }

  if (mode == AIO_RW_LOCK_MODE_WRITE && w == 0)
    return __atomic_compare_exchange_n (word, &w, AIO_RW_LOCK_FAST_WRITER, FALSE,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
  return FALSE;
}

/* Any thread: ends a READ or WRITE hold counted in the word; FALSE (and
 * nothing changed) if SLOW is set: the state counts it, under the mutex. */
static inline gboolean
aio_rw_lock_fast_leave (guint         *word,
                        AioRwLockMode  mode)
{
  guint w = __atomic_load_n (word, __ATOMIC_RELAXED);

  while ((w & AIO_RW_LOCK_FAST_SLOW) == 0)
    {
      guint to = mode == AIO_RW_LOCK_MODE_READ ? w - AIO_RW_LOCK_FAST_READER
                                               : w & ~AIO_RW_LOCK_FAST_WRITER;

      g_assert (mode == AIO_RW_LOCK_MODE_READ ? w >= AIO_RW_LOCK_FAST_READER
                                              : w == AIO_RW_LOCK_FAST_WRITER);
      if (__atomic_compare_exchange_n (word, &w, to, TRUE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        return TRUE;
    }
  return FALSE;
}

/* Under the lock's mutex: sets SLOW and returns the holds the word
 * counted (0 if it was SLOW already), which the caller counts from now. */
static inline guint
aio_rw_lock_fast_stop (guint *word)
{
  /* Only the mutex's holder sets or clears SLOW: seen set, it stays. */
  if (__atomic_load_n (word, __ATOMIC_RELAXED) & AIO_RW_LOCK_FAST_SLOW)
    return 0;
  return __atomic_exchange_n (word, AIO_RW_LOCK_FAST_SLOW, __ATOMIC_ACQ_REL);
}

/* Under the lock's mutex, with SLOW set: the word counts these holds
 * from now, and fast operations may go on. */
static inline void
aio_rw_lock_fast_start (guint    *word,
                        guint     n_read,
                        gboolean  writer)
{
  __atomic_store_n (word,
                    n_read * AIO_RW_LOCK_FAST_READER | (writer ? AIO_RW_LOCK_FAST_WRITER : 0),
                    __ATOMIC_RELEASE);
}

G_END_DECLS
