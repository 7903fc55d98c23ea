#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build dependencies (Debian 12), builds the library and runs
# the quickstart demo: 3 readers, a writer, 3 more readers on one main loop.
set -eu

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-_build}

sh tests/install-deps.sh gcc pkg-config meson ninja-build libglib2.0-dev

[ -d "$build_dir" ] || meson setup "$build_dir" >/dev/null
ninja -C "$build_dir" examples/quickstart >/dev/null
exec "$build_dir/examples/quickstart"
