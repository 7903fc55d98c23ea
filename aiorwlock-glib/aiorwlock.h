/* aiorwlock.h: the one header users include
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#define AIO_INSIDE
# include "aio-version.h"
# include "aio-version-macros.h"
# include "aio-rw-lock.h"
# include "aio-rw-lock-guard.h"
# include "aio-rw-lock-table.h"
# include "aio-rw-lock-monitor.h"
#undef AIO_INSIDE
