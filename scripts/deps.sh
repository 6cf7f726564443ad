#!/usr/bin/env bash
# Installs what covdist's tests need when it is missing: Debian packages
# (as root) and Go tools through the module proxy. Under CI=true a part that
# cannot be had is a failure, never a silent skip.
set -euo pipefail

need_pkgs=()
command -v go >/dev/null || { echo "deps: go is not on PATH (install Go 1.26+)" >&2; exit 1; }
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v qemu-aarch64 >/dev/null || need_pkgs+=(qemu-user)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || need_pkgs+=(iproute2)
# windows/amd64 under Wine (windows.txtar), with mingw-w64 to build the
# stand-in bcryptprimitives.dll that Go 1.22+ binaries need under Wine 8.0.
# Without their recommends, which for Wine are fonts and desktop parts.
lean_pkgs=()
command -v wine >/dev/null && [ -x /usr/lib/wine/wine64 ] || lean_pkgs+=(wine wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || lean_pkgs+=(gcc-mingw-w64-x86-64-win32)

if [ $((${#need_pkgs[@]} + ${#lean_pkgs[@]})) -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing ${need_pkgs[*]} ${lean_pkgs[*]}" >&2
    apt-get update -qq >/dev/null
    if [ ${#need_pkgs[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
    fi
    if [ ${#lean_pkgs[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean_pkgs[@]}" >/dev/null
    fi
  elif [ "${CI:-}" = true ]; then
    echo "deps: missing ${need_pkgs[*]} ${lean_pkgs[*]} and cannot install them (not root or no apt-get)" >&2
    exit 1
  else
    echo "deps: warning: missing ${need_pkgs[*]} ${lean_pkgs[*]}; install them to run every test" >&2
  fi
fi
go mod download
