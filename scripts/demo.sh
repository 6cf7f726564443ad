#!/usr/bin/env bash
# The README's first command (make demo): covdist on a small example module,
# testdata/demo, which has a test that crashes its process (TestMeanEmpty
# divides by zero) and a test that fails (TestPercent). It builds covdist
# once, then runs it twice:
#
#   1. load mode, -n 2: the module's tests spread over two local workers;
#   2. each mode, --dist=each: every test on every platform this machine can
#      run: the host always; linux/386 when the kernel runs it natively;
#      linux/arm64 under qemu-aarch64; windows/amd64 under Wine. A platform
#      that cannot be had here is skipped with the reason, never a failure
#      of the demo.
#
# The demo's own bugs make covdist exit 1, so a run that exits 0 (or 2, 3, 4)
# is covdist misbehaving: the script checks that each run exited 1,
# reported the crash exactly once per platform and counted every test, says
# so, and exits 0 only then (1 otherwise, 2 when covdist did not build).
#
#   scripts/demo.sh                    # from anywhere in the checkout
#   COVDIST=/path/to/covdist scripts/demo.sh   # use that binary, build nothing
#   DEMO_OUT=DIR scripts/demo.sh       # reports under DIR (default bin/demo)
set -uo pipefail

# A COVDIST path is the caller's; the runs happen in testdata/demo.
covdist=${COVDIST:-}
case $covdist in
  */*) covdist=$(cd "$(dirname "$covdist")" && pwd)/$(basename "$covdist") || exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
out=${DEMO_OUT:-bin/demo}
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
# What the summary shows: the path as a reader in the checkout would type it.
show=${out#"$root"/}

step() { printf '\n==> %s\n' "$*"; }

if [ -z "$covdist" ]; then
  step "go build -o bin/covdist ./cmd/covdist"
  go build -o bin/covdist ./cmd/covdist || { echo "demo: covdist did not build" >&2; exit 2; }
  covdist=$root/bin/covdist
fi

# Which platforms this machine can run, and why the others are skipped.
txs=(--tx popen)
platforms=("$(go env GOOS)/$(go env GOARCH)")
skipped=()
host=${platforms[0]}

if [ "$host" = linux/amd64 ]; then
  # Most amd64 kernels run 386 binaries natively (IA32 emulation); some
  # (containers, hardened kernels) do not, and then only binfmt_misc with a
  # recent qemu-i386 runs them (scripts/deps.sh sets that up; Debian 12's
  # qemu 7.2 crashes Go's 386 runtime). Whichever it is, try one.
  probe=$(mktemp -d)
  printf 'package main\n\nfunc main() {}\n' >"$probe/main.go"
  if ! (cd "$probe" && GOOS=linux GOARCH=386 GOFLAGS= go build -o p386 main.go) >/dev/null 2>&1; then
    skipped+=("linux/386: go cannot build for it here")
  elif "$probe/p386" 2>/dev/null; then
    txs+=(--tx popen//goarch=386)
    platforms+=(linux/386)
  else
    skipped+=("linux/386: this kernel cannot run 386 binaries (no IA32 emulation)")
  fi
  rm -rf "$probe"
else
  skipped+=("linux/386: the host is $host, not linux/amd64")
fi

case $host in
  linux/arm64) ;;
  linux/*)
    if command -v qemu-aarch64 >/dev/null; then
      txs+=(--tx 'popen//goarch=arm64//exec=qemu-aarch64')
      platforms+=(linux/arm64)
    else
      skipped+=("linux/arm64: qemu-aarch64 is not installed (apt-get install qemu-user)")
    fi
    ;;
  *) skipped+=("linux/arm64: qemu-user runs it on a linux host only, and the host is $host") ;;
esac

if ! command -v wine >/dev/null; then
  skipped+=("windows/amd64: wine is not installed (apt-get install wine wine64 gcc-mingw-w64-x86-64-win32)")
elif [ "$host" != linux/amd64 ]; then
  skipped+=("windows/amd64: the demo runs it under Wine on linux/amd64 only, and the host is $host")
else
  # A prefix of the demo's own, so that the stand-in DLL Go needs
  # (scripts/wine/prefix.sh) is not put into the user's ~/.wine.
  export WINEPREFIX=${DEMO_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/covdist/wine}
  # Quiet: Wine's start-up chatter (no display, no wine32) would show in
  # every crashed test's output.
  export WINEDEBUG=-all
  if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
    step "preparing a Wine prefix in $WINEPREFIX (once)"
  fi
  if err=$(scripts/wine/prefix.sh 2>&1); then
    txs+=(--tx popen//goos=windows//exec=wine)
    platforms+=(windows/amd64)
  else
    skipped+=("windows/amd64: preparing the Wine prefix failed: ${err:-no output}")
  fi
fi

# expect LOG RUN COUNT REGEX WHAT: the run's output holds COUNT lines

ok=true
# expect LOG RUN COUNT REGEX WHAT: the run's output holds COUNT lines
# matching the extended REGEX, or the demo says what is wrong.
expect() {
  local n
  n=$(grep -cE "$4" "$1")
  if [ "$n" -ne "$3" ]; then
    echo "demo: $2: want $5; found $n lines matching '$4', want $3"
    runok=false
  fi
}

# check RUN LOG CODE PLATFORM...: what covdist must say of the demo module
# on those platforms. Every platform has one crash (TestMeanEmpty) and one
# failure (TestPercent), linux/386 one more (TestWordSize), so covdist
# exits 1.
check() {
  local run=$1 log=$2 code=$3 p want
  shift 3
  runok=true
  if [ "$code" -ne 1 ]; then
    echo "demo: $run: covdist exited $code; want 1 (TestPercent fails, TestMeanEmpty crashes)"
    runok=false
  fi
  expect "$log" "$run" "$#" '^--- CRASH: ' "one crash reported per platform, no other"
  for p in "$@"; do
    want="6 passed, 2 failed"
    [ "$p" = linux/386 ] && want="5 passed, 3 failed"
    if [ "$#" -eq 1 ]; then
      # Over one platform the lines name the worker alone and the summary
      # has no per-platform lines.
      expect "$log" "$run" 1 "^--- CRASH: TestMeanEmpty .*\[gw[0-9]+( $p)?\]\$" "TestMeanEmpty's crash reported once"
      expect "$log" "$run" 1 "^$want, 0 skipped\$" "$want"
    else
      expect "$log" "$run" 1 "^--- CRASH: TestMeanEmpty .*\[gw[0-9]+ $p\]\$" "TestMeanEmpty's crash reported once on $p"
      expect "$log" "$run" 1 "^  $p: $want, 0 skipped, 0 not run\$" "$p: $want"
    fi
  done
  expect "$log" "$run" 1 "^\($# of the failed crashed; " "$# of the failed crashed"
  if $runok; then
    echo "demo: $run: as expected: exit 1, every test counted, TestMeanEmpty's crash reported once per platform ($*)"
  else
    ok=false
  fi
}

cd testdata/demo || exit 2

step "covdist -n 2 --cov-report=html:$show/load-html ./...   (load mode: the tests spread over 2 workers)"
"$covdist" -n 2 --cov-report=term --cov-report=html:"$out/load-html" ./... 2>&1 | tee "$out/load.txt"
code=${PIPESTATUS[0]}
check "load mode" "$out/load.txt" "$code" "$host"

echo
echo "demo: platforms this machine runs: ${platforms[*]}"
for s in ${skipped[@]+"${skipped[@]}"}; do
  echo "demo: skipped $s"
done
step "covdist --dist=each ${txs[*]} --cov-report=html:$show/each-html ./...   (each mode: every test on every platform)"
"$covdist" --dist=each "${txs[@]}" --cov-report=term --cov-report=html:"$out/each-html" ./... 2>&1 | tee "$out/each.txt"
code=${PIPESTATUS[0]}
check "each mode" "$out/each.txt" "$code" "${platforms[@]}"

echo
echo "demo: HTML reports: $show/load-html/index.html, $show/each-html/index.html"
for s in ${skipped[@]+"${skipped[@]}"}; do
  echo "demo: skipped $s"
done
if $ok; then
  echo "demo: covdist behaved as expected"
  exit 0
fi
echo "demo: covdist did NOT behave as expected (see above)"
exit 1
