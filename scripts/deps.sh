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

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing ${need_pkgs[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  elif [ "${CI:-}" = true ]; then
    echo "deps: missing ${need_pkgs[*]} and cannot install them (not root or no apt-get)" >&2
    exit 1
  else
    echo "deps: warning: missing ${need_pkgs[*]}; install them to run every test" >&2
  fi
fi
go mod download
