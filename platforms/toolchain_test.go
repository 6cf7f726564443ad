package platforms

import (
	"regexp"
	"testing"
)

func TestNewestPatch(t *testing.T) {
	list := "golang.org/toolchain v0.0.1-go1.24.0.linux-amd64 v0.0.1-go1.24.9.linux-amd64 v0.0.1-go1.24.10.linux-amd64 " +
		"v0.0.1-go1.24.11.darwin-arm64 v0.0.1-go1.24rc1.linux-amd64 v0.0.1-go1.25.0.linux-amd64 v0.0.1-go1.2.7.linux-amd64"
	for _, tt := range []struct{ minor, platform, want string }{
		{"24", "linux-amd64", "go1.24.10"},
		{"24", "darwin-arm64", "go1.24.11"},
		{"25", "linux-amd64", "go1.25.0"},
		{"2", "linux-amd64", "go1.2.7"},
		{"23", "linux-amd64", ""},
	} {
		if got := newestPatch(list, tt.minor, tt.platform); got != tt.want {
			t.Errorf("newestPatch(go1.%s, %s) = %q; want %q", tt.minor, tt.platform, got, tt.want)
		}
	}
}

// The module proxy is asked for real; nothing is downloaded but the list.
func TestResolveToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the module proxy")
	}
	got, err := resolveToolchain(t.Context(), t.TempDir(), "go1.24")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^go1\.24\.\d+$`).MatchString(got) {
		t.Errorf("go1.24 resolved to %q; want a go1.24.P release", got)
	}
	for _, v := range []string{"go1.24.0", "/usr/local/go/bin/go", ""} {
		if got, err := resolveToolchain(t.Context(), t.TempDir(), v); got != v || err != nil {
			t.Errorf("resolveToolchain(%q) = %q, %v; want it unchanged", v, got, err)
		}
	}
}
