#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A non-root install into a private prefix: configures a copy of the source
# with --prefix=<a temporary directory>, installs it as an unprivileged user
# (`nobody` when run as root), and checks that every installed file lies
# inside the prefix (and, for `--destdir`, inside DESTDIR), then that
# Python finds the installed typelib and override from there with the one
# PYTHONPATH entry the configure summary names.
#   $1  source root
set -eu

source_root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# Copy the source (tracked and new files, not build directories), so the
# unprivileged user can read it wherever the checkout lives.
mkdir "$work/src"
# A checkout's top (not a tarball unpacked inside another checkout, as
# `meson dist` does).
if [ "$(git -C "$source_root" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$source_root" && pwd -P)" ]; then
  (cd "$source_root" && git ls-files -z -c -o --exclude-standard | xargs -0 tar cf -) |
    tar xf - -C "$work/src"
else
  (cd "$source_root" && tar cf - --exclude='./_build*' --exclude='./build*' .) | tar xf - -C "$work/src"
fi

if [ "$(id -u)" = 0 ]; then
  chown -R nobody:nogroup "$work"
  as_user () { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$work" "$@"; }
else
  as_user () { env HOME="$work" "$@"; }
fi

prefix=$work/prefix
as_user meson setup "$work/build" "$work/src" --prefix="$prefix" -Dtests=false \
  -Ddocumentation=disabled -Dexamples=false -Dvapi=false >"$work/setup.log"
grep -q 'Add to PYTHONPATH' "$work/setup.log" || {
  cat "$work/setup.log"; echo "the configure summary does not say what to add to PYTHONPATH"; exit 1; }
site=$(sed -n 's/^ *Add to PYTHONPATH *: *//p' "$work/setup.log")
as_user ninja -C "$work/build" >/dev/null

# Installs into the prefix; an install outside it would fail (PermissionError)
# as this user, or, as root, show in the log.
as_user meson install -C "$work/build" --no-rebuild --quiet
outside=$(grep -v '^#' "$work/build/meson-logs/install-log.txt" | grep -v -e "^$prefix/" -e "^$prefix\$" || true)
test -z "$outside" || { echo "installed outside $prefix:"; echo "$outside"; exit 1; }
grep -q "^$site/gi/overrides/Aio.py\$" "$work/build/meson-logs/install-log.txt" || {
  echo "the override is not in $site/gi/overrides"; exit 1; }

# The same with a DESTDIR: nothing but what lies under it.
as_user meson install -C "$work/build" --no-rebuild --quiet --destdir "$work/stage"
as_user find "$work/stage" -type f > "$work/staged"
stray=$(grep -v "^$work/stage$prefix/" "$work/staged" || true)
test -z "$stray" || { echo "staged outside DESTDIR/prefix:"; echo "$stray"; exit 1; }
test -s "$work/staged"

# The override is found from the prefix with the PYTHONPATH entry, and only
# through it (not from the source tree or the system).
typelib=$(dirname "$(find "$prefix" -name Aio-1.typelib)")
libdir=$(dirname "$(find "$prefix" -name 'libaiorwlock-1.so.0')")
cd "$work"
as_user env PYTHONPATH="$site" GI_TYPELIB_PATH="$typelib" LD_LIBRARY_PATH="$libdir" \
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$prefix" <<'PY'
import sys
import gi
gi.require_version("Aio", "1")
from gi.repository import Aio
import gi.overrides.Aio as override

prefix = sys.argv[1]
assert override.__file__.startswith(prefix + "/"), override.__file__
lock = Aio.RwLock()
with lock.try_acquire_write() as guard:
    assert lock.props.write_locked and guard.is_held()
assert not lock.props.write_locked
print("override found at", override.__file__)
PY
echo "install into a private prefix: ok"
