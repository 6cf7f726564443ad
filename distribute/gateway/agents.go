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
		return "", "", fmt.Errorf("probing the remote platform: unexpected `uname -sm` output %q", uname)
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
