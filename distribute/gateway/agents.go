package gateway

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

// AgentSource gives the path of a covdist executable built for goos/goarch,
// building it when needed. A remote of the coordinator's own platform gets
// the coordinator's executable; any other gets one from its gateway's
// AgentSource.
type AgentSource func(ctx context.Context, goos, goarch string) (string, error)

// Prober is a gateway that can tell its host's GOOS/GOARCH before any
// worker starts, so that the host's test binaries can be built for it.
type Prober interface {
	Platform(ctx context.Context) (goos, goarch string, err error)
}

var (
	_ Prober = (*SSH)(nil)
	_ Prober = (*Pipe)(nil)
)

// foreignAgent asks src for an agent of another platform than this one, or
// says what to do when there is no src.
func foreignAgent(ctx context.Context, src AgentSource, goos, goarch, where string) (string, error) {
	if src == nil {
		return "", fmt.Errorf("%s is %s/%s but this covdist is %s/%s, and no agent for %s/%s is at hand: "+
			"build one (GOOS=%s GOARCH=%s go build -o covdist ./cmd/covdist, the same version) and install it there",
			where, goos, goarch, runtime.GOOS, runtime.GOARCH, goos, goarch, goos, goarch)
	}
	bin, err := src(ctx, goos, goarch)
	if err != nil {
		return "", fmt.Errorf("%s is %s/%s: %w", where, goos, goarch, err)
	}
	return bin, nil
}

// goPlatform maps `uname -sm` to GOOS and GOARCH.
func goPlatform(uname string) (goos, goarch string, err error) {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return "", "", fmt.Errorf("got `uname -sm` output %q; want the OS and machine, such as \"Linux x86_64\"", uname)
	}
	goos = map[string]string{
		"Linux": "linux", "Darwin": "darwin", "FreeBSD": "freebsd", "OpenBSD": "openbsd",
		"NetBSD": "netbsd", "DragonFly": "dragonfly", "SunOS": "solaris", "AIX": "aix",
	}[f[0]]
	goarch = map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "i386": "386", "i486": "386", "i586": "386", "i686": "386",
		"aarch64": "arm64", "arm64": "arm64", "armv5l": "arm", "armv6l": "arm", "armv7l": "arm", "armv8l": "arm",
		"riscv64": "riscv64", "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x",
		"loongarch64": "loong64", "mips": "mips", "mipsel": "mipsle", "mips64": "mips64",
	}[f[1]]
	if goos == "" || goarch == "" {
		return "", "", fmt.Errorf("the remote runs %q, which covdist does not know how to map to GOOS/GOARCH", uname)
	}
	return goos, goarch, nil
}

// agentPresent is sh that prints "present" when file (a word for sh) is an
// executable of size bytes, and "absent" otherwise: a file of another size
// there is an upload that was cut short (an older covdist installed those)
// and is replaced.
func agentPresent(file string, size int64) string {
	return fmt.Sprintf(`if test -x %s && test "$(($(wc -c < %s)))" -eq %d; then echo present; else echo absent; fi`, file, file, size)
}

// agentUpload is sh that installs its stdin as dir/covdist (dir a word for
// sh) only when it is whole: size bytes that hash to sum, where sha256sum
// or shasum is there to tell. It writes a temporary name of its own and
// renames it, so another coordinator uploading at the same time never runs
// a partial file, and an upload cut short (the coordinator interrupted,
// the link gone) leaves nothing under the agent's name.
func agentUpload(dir string, size int64, sum string) string {
	return fmt.Sprintf(`d=%s; mkdir -p "$d" || exit 1; t="$d/covdist.tmp.$$"; `+
		`trap 'rm -f "$t"' EXIT; trap 'exit 1' HUP INT TERM; `+
		`cat > "$t" || exit 1; n=$(($(wc -c < "$t"))); `+
		`if test "$n" -ne %d; then echo "covdist: the agent arrived with $n of its %d bytes; not installing it" >&2; exit 1; fi; `+
		`if command -v sha256sum >/dev/null 2>&1; then s=$(sha256sum < "$t"); elif command -v shasum >/dev/null 2>&1; then s=$(shasum -a 256 < "$t"); else s=%s; fi; `+
		`s=${s%%%% *}; if test "$s" != %s; then echo "covdist: the agent arrived hashing to $s, not %s; not installing it" >&2; exit 1; fi; `+
		`chmod 755 "$t" && mv -f "$t" "$d/covdist"`,
		dir, size, size, sum, sum, sum)
}
