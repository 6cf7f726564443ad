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
# genhtml reads covdist's lcov reports in a test, as CI runs it.
command -v genhtml >/dev/null || need_pkgs+=(lcov)
# script (util-linux) gives the status-line tests a pseudo-terminal.
command -v script >/dev/null || need_pkgs+=(bsdutils)
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

# linux/386 test binaries run natively on an amd64 kernel with IA-32
# emulation; a kernel built without it (some VM kernels) says "exec format
# error". Then register qemu-i386 (qemu-user) for i386 ELF files with
# binfmt_misc, so that goarch=386 specs run their binaries for real.
if [ "$(go env GOHOSTARCH)" = amd64 ] && [ "$(uname -s)" = Linux ]; then
  probe=$(mktemp -d)
  printf 'package main\n\nfunc main() {}\n' >"$probe/main.go"
  if (cd "$probe" && GOARCH=386 GOFLAGS= go build -o probe386 main.go 2>/dev/null) && ! "$probe/probe386" 2>/dev/null; then
    binfmt=/proc/sys/fs/binfmt_misc
    # Debian 12's qemu-i386 (7.2) crashes Go's 386 runtime ("bad g in
    # signal handler"); its backports' (10.x) runs it. The backports suite
    # comes from the same mirror as the machine's own sources.
    if [ "$(id -u)" = 0 ] && command -v qemu-i386 >/dev/null && ! qemu-i386 "$probe/probe386" 2>/dev/null &&
      [ -f /etc/apt/sources.list.d/debian.sources ] && grep -q '^Suites: bookworm ' /etc/apt/sources.list.d/debian.sources; then
      echo "deps: this qemu-i386 cannot run Go's linux/386 binaries; installing qemu-user from bookworm-backports" >&2
      awk 'BEGIN{RS="";ORS="\n\n"} /Suites: bookworm bookworm-updates/' /etc/apt/sources.list.d/debian.sources |
        sed 's/^Suites: .*/Suites: bookworm-backports/' >/etc/apt/sources.list.d/covdist-backports.sources
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-user >/dev/null
    fi
    if [ "$(id -u)" = 0 ] && command -v qemu-i386 >/dev/null; then
      [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" || true
      if [ -e "$binfmt/register" ] && [ ! -e "$binfmt/covdist-i386" ]; then
        echo "deps: this kernel cannot run linux/386 binaries; registering qemu-i386 for them with binfmt_misc" >&2
        printf '%s' ':covdist-i386:M::\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00:\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$(command -v qemu-i386)"':' >"$binfmt/register" || true
      fi
    fi
    if ! "$probe/probe386" 2>/dev/null; then
      if [ "${CI:-}" = true ]; then
        echo "deps: linux/386 binaries cannot run here (no IA-32 emulation in the kernel, and qemu-i386 could not be registered with binfmt_misc)" >&2
        rm -rf "$probe"
        exit 1
      fi
      echo "deps: warning: linux/386 binaries cannot run here; the goarch=386 tests will fail" >&2
    fi
  fi
  rm -rf "$probe"
fi
