/* fuzz-rw-lock.h: the entry points of the AioRwLock fuzz harness
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer calls these itself; fuzz-replay.c calls them to run a corpus as
 * a regular test, without libFuzzer.
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);
