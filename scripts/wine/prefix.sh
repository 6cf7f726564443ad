#!/usr/bin/env bash
# Prepares a Wine prefix to run Go windows/amd64 test binaries (Go 1.22 and
# later), for covdist --tx 'popen//goos=windows//exec=wine': creates the
# prefix and installs a stand-in bcryptprimitives.dll (see
# bcryptprimitives.c), built with mingw-w64. Idempotent.
#
#   WINEPREFIX=$HOME/.wine scripts/wine/prefix.sh
#
# Needs Debian's wine, wine64 and gcc-mingw-w64-x86-64-win32.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${WINEPREFIX:-$HOME/.wine}
export WINEPREFIX=$prefix WINEDEBUG=${WINEDEBUG:--all}
dll=$prefix/drive_c/windows/system32/bcryptprimitives.dll
if [ -f "$dll" ] && [ "$dll" -nt "$here/bcryptprimitives.c" ]; then
  exit 0
fi
for prog in wine x86_64-w64-mingw32-gcc; do
  command -v "$prog" >/dev/null || { echo "wine/prefix.sh: $prog is missing (apt-get install wine wine64 gcc-mingw-w64-x86-64-win32)" >&2; exit 1; }
done
if [ ! -d "$prefix/drive_c/windows/system32" ]; then
  wineboot --init >/dev/null 2>&1 || wine wineboot --init >/dev/null 2>&1
  wineserver -w 2>/dev/null || true
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x86_64-w64-mingw32-gcc -shared -O2 -o "$tmp/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32
mkdir -p "$(dirname "$dll")"
cp "$tmp/bcryptprimitives.dll" "$dll"
