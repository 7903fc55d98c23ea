/* aio-completion-source.h: one GSource per main context that runs queued
 * completions there
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private. Knows nothing of locks: a completion is a function pointer its
 * owner registered, run on the context it was queued for, never inside the
 * call that queued it.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _AioCompletion AioCompletion;

typedef void (*AioCompletionFunc) (AioCompletion *completion);

/* Embedded in whatever completes; the source links it into its queue. */
struct _AioCompletion
{
  AioCompletion     *next;
  AioCompletionFunc  func;
};

GSource *aio_completion_source_get  (GMainContext  *context);
void     aio_completion_source_push (GSource       *source,
                                     AioCompletion *completion);

G_END_DECLS
