package platforms

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// languageVersion matches a Go language version (go1.24), which names no
// release GOTOOLCHAIN could fetch.
var languageVersion = regexp.MustCompile(`^go1\.(\d+)$`)

// resolveToolchain turns go=go1.N into the newest go1.N.P release that the
// module proxy serves for this machine (as golang.org/toolchain versions),
// and leaves any other go= as it is.
func resolveToolchain(ctx context.Context, dir, goVersion string) (string, error) {
	m := languageVersion.FindStringSubmatch(goVersion)
	if m == nil {
		return goVersion, nil
	}
	r := &runner{dir: dir}
	out, _, err := r.run(ctx, "finding the newest "+goVersion+" release (go list -m -versions golang.org/toolchain)",
		"list", "-m", "-versions", "golang.org/toolchain")
	if err != nil {
		return "", err
	}
	if v := newestPatch(string(out), m[1], runtime.GOOS+"-"+runtime.GOARCH); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("go=%s: the module proxy serves no %s.P release for %s/%s: name a release such as %s.0",
		goVersion, goVersion, runtime.GOOS, runtime.GOARCH, goVersion)
}

// newestPatch picks, from `go list -m -versions golang.org/toolchain`
// output, the newest go1.<minor>.P for platform (linux-amd64).
func newestPatch(versions, minor, platform string) string {
	re := regexp.MustCompile(`^v0\.0\.1-go1\.` + regexp.QuoteMeta(minor) + `\.(\d+)\.` + regexp.QuoteMeta(platform) + `$`)
	best := -1
	for _, f := range strings.Fields(versions) {
		if m := re.FindStringSubmatch(f); m != nil {
			if p, err := strconv.Atoi(m[1]); err == nil && p > best {
				best = p
			}
		}
	}
	if best < 0 {
		return ""
	}
	return fmt.Sprintf("go1.%s.%d", minor, best)
}
