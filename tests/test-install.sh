#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build into a staging directory, then builds and runs a C
# program outside the tree with only `pkg-config aiorwlock-1`, and loads the
# installed typelib from Python.
set -eu

build_root=$1
source_root=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build_root" --no-rebuild --quiet --destdir "$stage" >/dev/null

pc=$(find "$stage" -name aiorwlock-1.pc)
test -n "$pc" || { echo "aiorwlock-1.pc was not installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
# Point a copy of the .pc at the staging directory.
mkdir "$stage/pc"
sed "s|^prefix=.*|prefix=$stage$prefix|" "$pc" > "$stage/pc/aiorwlock-1.pc"
export PKG_CONFIG_PATH="$stage/pc"

pkg-config --validate aiorwlock-1
echo "cflags/libs: $(pkg-config --cflags --libs aiorwlock-1)"
libdir=$(pkg-config --variable=libdir aiorwlock-1)
test -e "$libdir/libaiorwlock-1.so.0" || { echo "no libaiorwlock-1.so.0 in $libdir"; exit 1; }
test -e "$(pkg-config --variable=includedir aiorwlock-1)/aiorwlock-1/aiorwlock-glib/aio-version.h"

cat > "$stage/consumer.c" <<'C'
#include <aiorwlock-glib/aiorwlock.h>

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(AioRwLockGuard) guard = aio_rw_lock_acquire_read_finish (AIO_RW_LOCK (source), result, NULL);

  g_print ("consumer: %s, readers=%u\n", AIO_VERSION_S, aio_rw_lock_get_readers (AIO_RW_LOCK (source)));
  g_main_loop_quit (user_data);
}

int
main (void)
{
  g_autoptr(AioRwLock) lock = aio_rw_lock_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  aio_rw_lock_acquire_read_async (lock, NULL, on_read, loop);
  g_main_loop_run (loop);
  return aio_rw_lock_get_readers (lock) == 0 && AIO_CHECK_VERSION (1, 0, 0) ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -Wall -Werror -o "$stage/consumer" "$stage/consumer.c" $(pkg-config --cflags --libs aiorwlock-1)
LD_LIBRARY_PATH="$libdir" "$stage/consumer"

# Including a header other than the umbrella one is refused.
printf '#include <aiorwlock-glib/aio-rw-lock.h>\n' > "$stage/direct.c"
# shellcheck disable=SC2046
if cc -c -o "$stage/direct.o" "$stage/direct.c" $(pkg-config --cflags aiorwlock-1) 2>/dev/null; then
  echo "a direct include of aio-rw-lock.h compiled"; exit 1
fi

typelib=$(find "$stage" -name Aio-1.typelib)
if [ -n "$typelib" ] && [ -x /usr/bin/python3 ]; then
  GI_TYPELIB_PATH=$(dirname "$typelib") LD_LIBRARY_PATH="$libdir" /usr/bin/python3 -c '
import gi
gi.require_version("Aio", "1")
from gi.repository import Aio
guard = Aio.RwLock().try_acquire_write()
assert guard.get_mode() == Aio.RwLockMode.WRITE
print("installed typelib:", Aio.VERSION_S)
'
fi
echo "install test: ok"
