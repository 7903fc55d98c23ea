#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# ThreadSanitizer run of the C tests, against a GLib built with
# ThreadSanitizer too: Debian's GLib is not instrumented, and its GMutex
# (futex-based) is invisible to the sanitizer, which then reports a race on
# everything the lock's mutex protects. Takes ~8 minutes on 2 cores, most
# of it building GLib from Debian's source package.
#   $1  work directory (default: _build-tsan); GLib goes under it
set -eu

cd "$(dirname "$0")/.."
work=$(mkdir -p "${1:-_build-tsan}" && cd "${1:-_build-tsan}" && pwd)
prefix=$work/glib

sh tests/install-deps.sh dpkg-dev gcc meson ninja-build pkg-config libffi-dev \
  libpcre2-dev zlib1g-dev python3-packaging

if [ ! -e "$prefix/lib/x86_64-linux-gnu/pkgconfig/glib-2.0.pc" ]; then
  # Debian's source package needs a deb-src line matching the deb ones.
  if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $sudo tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
    $sudo apt-get update -qq
  fi
  mkdir -p "$work/src"
  (cd "$work/src" && apt-get source -qq glib2.0 >/dev/null 2>&1)
  src=$(find "$work/src" -maxdepth 1 -type d -name 'glib2.0-*' | head -n 1)
  meson setup "$work/glib-build" "$src" --prefix="$prefix" -Db_sanitize=thread \
    -Dbuildtype=debugoptimized -Dtests=false -Dinstalled_tests=false -Dgtk_doc=false \
    -Dman=false -Dlibmount=disabled -Dselinux=disabled -Dxattr=false -Dnls=disabled \
    -Dsysprof=disabled -Dwrap_mode=nofallback -Dglib_debug=disabled >/dev/null
  ninja -C "$work/glib-build" >/dev/null
  meson install -C "$work/glib-build" >/dev/null
fi

export PKG_CONFIG_PATH="$prefix/lib/x86_64-linux-gnu/pkgconfig"
if [ -d "$work/build" ]; then setup="meson setup --reconfigure"; else setup="meson setup"; fi
$setup "$work/build" -Db_sanitize=thread -Dintrospection=disabled -Ddocumentation=disabled >/dev/null
ninja -C "$work/build" >/dev/null

# GSlice's magazines race by design (a benign read of a threshold): use
# malloc. Any report fails the test (exit code 66); tests/tsan.supp lists
# the races inside GLib itself that are not ours to fix.
G_SLICE=always-malloc TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  meson test -C "$work/build" --suite c --suite slow --print-errorlogs
