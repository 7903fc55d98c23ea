#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the build and test dependencies (Debian 12), builds, and runs the
# whole test suite. Ends with a line "tests: N passed, M failed".
#   BUILD_DIR   build directory (default: _build)
#   MESON_ARGS  extra `meson setup` arguments (CI passes -Dwerror=true)
set -eu

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-_build}

sh tests/install-deps.sh gcc pkg-config meson ninja-build libglib2.0-dev \
  gobject-introspection libgirepository1.0-dev python3-gi python3-pytest gjs \
  valac gi-docgen spin libsysprof-4-dev libgtk-4-dev libxtst-dev xvfb xauth

if [ -d "$build_dir" ]; then
  # shellcheck disable=SC2086
  meson setup --reconfigure "$build_dir" ${MESON_ARGS:-} >/dev/null
else
  # shellcheck disable=SC2086
  meson setup "$build_dir" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$build_dir" >/dev/null

status=0
meson test -C "$build_dir" --print-errorlogs "$@" || status=$?

set -- $(/usr/bin/python3 tests/meson-summary.py "$build_dir/meson-logs/testlog.json")
echo "tests: $1 passed, $2 failed"
exit $status
