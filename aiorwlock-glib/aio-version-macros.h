/* aio-version-macros.h: symbol visibility and availability macros
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (AIO_INSIDE) && !defined (AIO_COMPILATION)
# error "Only <aiorwlock-glib/aiorwlock.h> can be included directly."
#endif

#include <glib.h>

#include "aio-version.h"

/* The library is built with hidden visibility: only what carries one of
 * these macros is exported. */
#ifndef _AIO_EXTERN
# if defined (AIO_COMPILATION) && defined (__GNUC__)
#  define _AIO_EXTERN __attribute__((visibility("default"))) extern
# else
#  define _AIO_EXTERN extern
# endif
#endif

/**
 * AIO_DEPRECATED_FOR:
 * @f: the symbol to use instead
 *
 * Marks a declaration of the library's own headers as deprecated in favour
 * of @f. Define `AIO_DISABLE_DEPRECATION_WARNINGS` before including
 * `<aiorwlock-glib/aiorwlock.h>` to silence the warnings.
 *
 * Since: 1.0
 */
#ifdef AIO_DISABLE_DEPRECATION_WARNINGS
# define AIO_DEPRECATED _AIO_EXTERN
# define AIO_DEPRECATED_FOR(f) _AIO_EXTERN
#else
# define AIO_DEPRECATED G_DEPRECATED _AIO_EXTERN
# define AIO_DEPRECATED_FOR(f) G_DEPRECATED_FOR (f) _AIO_EXTERN
#endif

#define AIO_VERSION_1_0 (AIO_ENCODE_VERSION (1, 0, 0))
#define AIO_VERSION_1_1 (AIO_ENCODE_VERSION (1, 1, 0))

#define AIO_AVAILABLE_IN_ALL _AIO_EXTERN
#define AIO_AVAILABLE_IN_1_0 _AIO_EXTERN
#define AIO_AVAILABLE_IN_1_1 _AIO_EXTERN
