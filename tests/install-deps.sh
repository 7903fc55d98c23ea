#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the given Debian packages with apt-get unless all are installed.
set -eu

installed=$(dpkg-query -W -f='${Status}\n' "$@" 2>/dev/null | grep -c 'install ok installed' || true)
[ "$installed" -lt "$#" ] || exit 0

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
