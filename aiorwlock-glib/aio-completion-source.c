/* aio-completion-source.c: one GSource per main context that runs queued
 * completions there
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "aio-completion-source.h"

/* At most one source per main context, shared by every lock, attached for
 * the context's whole life: attaching one per completion would cost as
 * much as the GTask idle it replaces. It holds no reference to its
 * context and goes when the context is finalized, so an idle context
 * costs one cheap prepare/check per iteration, however many locks used it.
 *
 * Lifetimes. A source is only found, and only pushed to, by a caller that
 * keeps its context alive (a queued completion's GTask holds a reference
 * to the context until the completion has run). Nothing here refs or
 * unrefs a source: in GLib 2.74 g_source_unref () locks the source's
 * context, which another thread may be finalizing. */

typedef struct
{
  GSource        source;
  GMainContext  *context;  /* not owned: the source dies with it */
  GMutex         mutex;    /* the queue */
  AioCompletion *head;
  AioCompletion *tail;
  gint           n_ready;  /* the queue's length; atomic, for prepare () */
} AioCompletionSource;

/* The attached sources, by context. Lock order: sources_mutex, then a
 * context's own lock (inside g_source_attach ()). */
static GMutex sources_mutex;
static GHashTable *sources;

/* Bumped whenever a source goes (its context is finalized): a thread's
 * cached (context, source) pair is good while this has not moved, even if
 * a new context now has the old one's address. */
static gint generation;

/* Each thread's last look-up: most requests are made on one context, and
 * the table's mutex is shared by every thread. Holds no reference. */
typedef struct
{
  GMainContext        *context;
  AioCompletionSource *source;
  gint                 generation;
} Cache;

static GPrivate cache_key = G_PRIVATE_INIT (g_free);

/* Readiness is polled in prepare/check rather than signalled with a ready
 * time: g_source_set_ready_time () writes to the context's wakeup fd on
 * every change, two system calls per completion. */
static gboolean
aio_completion_source_prepare (GSource *source,
                               gint    *timeout)
{
  AioCompletionSource *self = (AioCompletionSource *) source;

  *timeout = -1;
  return g_atomic_int_get (&self->n_ready) > 0;
}

static gboolean
aio_completion_source_check (GSource *source)
{
  AioCompletionSource *self = (AioCompletionSource *) source;

  return g_atomic_int_get (&self->n_ready) > 0;
}

static AioCompletion *
pop (AioCompletionSource *self)
{
  AioCompletion *completion;

  g_mutex_lock (&self->mutex);
  completion = self->head;
  if (completion != NULL)
    {
      self->head = completion->next;
      if (self->head == NULL)
        self->tail = NULL;
      g_atomic_int_add (&self->n_ready, -1);
    }
  g_mutex_unlock (&self->mutex);

  return completion;
}

/* Runs the completions that were due when it started, one at a time in
 * order, so that one running a nested main loop on this context (the
 * source may recurse) still lets the ones behind it run. Those queued
 * meanwhile wait for the next dispatch. */
static gboolean
aio_completion_source_dispatch (GSource     *source,
                                GSourceFunc  callback,
                                gpointer     user_data)
{
  AioCompletionSource *self = (AioCompletionSource *) source;
  AioCompletion *completion;
  gint n = g_atomic_int_get (&self->n_ready);

  while (n-- > 0 && (completion = pop (self)) != NULL)
    completion->func (completion);

  return G_SOURCE_CONTINUE;
}

static void
aio_completion_source_finalize (GSource *source)
{
  AioCompletionSource *self = (AioCompletionSource *) source;

  /* Queued completions keep their context alive: none can be left. */
  g_assert (self->head == NULL);
  g_mutex_clear (&self->mutex);
}

static GSourceFuncs source_funcs = {
  .prepare = aio_completion_source_prepare,
  .check = aio_completion_source_check,
  .dispatch = aio_completion_source_dispatch,
  .finalize = aio_completion_source_finalize,
};

/* The destroy notify of the (unused) callback data: the notice a source
 * gets when its context is finalized, called without the context's lock. */
static void
forget (gpointer data)
{
  AioCompletionSource *self = data;

  g_mutex_lock (&sources_mutex);
  if (g_hash_table_lookup (sources, self->context) == self)
    g_hash_table_remove (sources, self->context);
  /* Before the context's memory can be reused. */
  g_atomic_int_inc (&generation);
  g_mutex_unlock (&sources_mutex);
}

/* The source of @context, attached on first use. The caller keeps
 * @context alive; the source stays valid as long as @context does.
 * Returns: (transfer none) */
GSource *
aio_completion_source_get (GMainContext *context)
{
  Cache *cache = g_private_get (&cache_key);
  gint now = g_atomic_int_get (&generation);
  AioCompletionSource *self;

  if (cache != NULL && cache->context == context && cache->generation == now)
    return (GSource *) cache->source;

  g_mutex_lock (&sources_mutex);

  if (G_UNLIKELY (sources == NULL))
    sources = g_hash_table_new (NULL, NULL);

  self = g_hash_table_lookup (sources, context);
  if (self == NULL)
    {
      GSource *source = g_source_new (&source_funcs, sizeof (AioCompletionSource));

      self = (AioCompletionSource *) source;
      self->context = context;
      g_mutex_init (&self->mutex);
      g_source_set_static_name (source, "[aiorwlock] completions");
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_can_recurse (source, TRUE);
      g_source_set_callback (source, NULL, self, forget);
      g_source_attach (source, context);
      g_source_unref (source);  /* the context keeps it */
      g_hash_table_insert (sources, context, self);
    }

  g_mutex_unlock (&sources_mutex);

  if (cache == NULL)
    {
      cache = g_new (Cache, 1);
      g_private_set (&cache_key, cache);
    }
  /* With the generation read before the look-up: a source that went
   * meanwhile makes the next look-up miss. */
  cache->context = context;
  cache->source = self;
  cache->generation = now;

  return (GSource *) self;
}

/* Whether this thread owns the source's context. Most pushes come from a
 * dispatch on that context (a callback that releases or asks again): the
 * current source says so without g_main_context_is_owner (), which locks
 * the context. */
static gboolean
owned_here (AioCompletionSource *self)
{
  GSource *current = g_main_current_source ();

  if (current != NULL && g_source_get_context (current) == self->context)
    return TRUE;
  return g_main_context_is_owner (self->context);
}

/* Any thread. Queues @completion to run on the source's context. Never
 * runs it. */
void
aio_completion_source_push (GSource       *source,
                            AioCompletion *completion)
{
  AioCompletionSource *self = (AioCompletionSource *) source;
  gboolean was_empty;

  completion->next = NULL;

  g_mutex_lock (&self->mutex);
  was_empty = self->head == NULL;
  if (was_empty)
    self->head = completion;
  else
    self->tail->next = completion;
  self->tail = completion;
  g_atomic_int_add (&self->n_ready, 1);

  /* Only another thread than the context's owner needs to wake it (it may
   * be in poll ()); the owner runs prepare () before it next polls. Done
   * under the queue's mutex: until the completion is popped, it keeps the
   * context alive. */
  if (was_empty && !owned_here (self))
    g_main_context_wakeup (self->context);

  g_mutex_unlock (&self->mutex);
}
