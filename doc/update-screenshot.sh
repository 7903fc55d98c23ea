#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Remakes doc/cache-viewer.png: builds the GTK 4 cache viewer and runs its
# self-test under Xvfb, the same code the test 'example-cache-viewer-gtk'
# runs. The picture is replaced only when every check of the self-test
# passed (it is taken two thirds into a two-second write hold, with the
# readers waiting behind the writer).
#   BUILD_DIR   build directory (default: _build)
set -eu

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-_build}

sh tests/install-deps.sh gcc pkg-config meson ninja-build libglib2.0-dev \
  libgtk-4-dev libxtst-dev xvfb xauth

[ -d "$build_dir" ] || meson setup "$build_dir" >/dev/null
ninja -C "$build_dir" examples/cache-viewer >/dev/null

tmp=$(mktemp --suffix=.png)
trap 'rm -f "$tmp"' EXIT
GSK_RENDERER=cairo GDK_BACKEND=x11 GTK_A11Y=none NO_AT_BRIDGE=1 \
  xvfb-run -a "$build_dir/examples/cache-viewer" --self-test "$tmp"
cat "$tmp" > doc/cache-viewer.png
echo "doc/cache-viewer.png updated"
