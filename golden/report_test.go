package golden_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/coverage/report"
	"github.com/covdist/covdist/golden"
)

const modulePath = "example.com/shop"

// The fixture: one module tested on three platforms. osdep/arch_arm64.go
// exists only on linux/arm64 and osdep/arch_amd64.go only on the amd64
// platforms (build tags); legacy/legacy.go is not built on windows.
// engine.go is 299 of 300 (shows 99%, not 100%) and legacy.go 1 of 151
// (shows 1%, not 0%).
var profiles = map[string]string{
	"linux/amd64": `mode: count
example.com/shop/calc/calc.go:3.24,5.12 2 4
example.com/shop/calc/calc.go:5.12,7.3 1 0
example.com/shop/calc/calc.go:8.2,8.10 1 4
example.com/shop/calc/calc.go:11.30,14.2 3 0
example.com/shop/calc/round.go:3.20,5.2 2 6
example.com/shop/engine/engine.go:5.1,6.2 299 9
example.com/shop/engine/engine.go:7.1,7.20 1 0
example.com/shop/legacy/legacy.go:3.1,4.2 150 0
example.com/shop/legacy/legacy.go:5.1,5.9 1 2
example.com/shop/osdep/arch_amd64.go:3.20,5.2 2 1
`,
	"linux/arm64": `mode: count
example.com/shop/calc/calc.go:3.24,5.12 2 3
example.com/shop/calc/calc.go:5.12,7.3 1 2
example.com/shop/calc/calc.go:8.2,8.10 1 1
example.com/shop/calc/calc.go:11.30,14.2 3 0
example.com/shop/calc/round.go:3.20,5.2 2 6
example.com/shop/engine/engine.go:5.1,6.2 299 9
example.com/shop/engine/engine.go:7.1,7.20 1 0
example.com/shop/legacy/legacy.go:3.1,4.2 150 0
example.com/shop/legacy/legacy.go:5.1,5.9 1 2
example.com/shop/osdep/arch_arm64.go:3.20,5.2 2 3
`,
	"windows/amd64": `mode: count
example.com/shop/calc/calc.go:3.24,5.12 2 1
example.com/shop/calc/calc.go:5.12,7.3 1 0
example.com/shop/calc/calc.go:8.2,8.10 1 0
example.com/shop/calc/calc.go:11.30,14.2 3 0
example.com/shop/calc/round.go:3.20,5.2 2 0
example.com/shop/engine/engine.go:5.1,6.2 299 1
example.com/shop/engine/engine.go:7.1,7.20 1 0
example.com/shop/osdep/arch_amd64.go:3.20,5.2 2 0
`,
}

var headers = map[string]string{
	"linux/amd64":   "platform linux/amd64, go1.26.8",
	"linux/arm64":   "platform linux/arm64, go1.26.8 [exec=qemu-aarch64]",
	"windows/amd64": "platform windows/amd64, go1.26.8 [exec=wine64]",
}

// fixture returns the combined profile of the named platforms and the platforms.
func fixture(t *testing.T, names ...string) (*coverage.Profile, []report.Platform) {
	t.Helper()
	combined := coverage.New("")
	var platforms []report.Platform
	for _, name := range names {
		p, err := coverage.Parse(strings.NewReader(profiles[name]), name)
		if err != nil {
			t.Fatal(err)
		}
		if err := combined.Merge(name, p); err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, report.Platform{Name: name, Header: headers[name], Profile: p})
	}
	return combined, platforms
}

var all = []string{"linux/amd64", "linux/arm64", "windows/amd64"}

func TestTerm(t *testing.T) {
	tests := []struct {
		name      string
		golden    string
		platforms []string
		opt       report.Options
	}{
		{"single platform", "term_single.txt", []string{"linux/amd64"}, report.Options{ModulePath: modulePath}},
		{"term-missing", "term_missing.txt", []string{"linux/amd64"}, report.Options{ModulePath: modulePath, Missing: true}},
		{"skip-covered", "term_skip_covered.txt", []string{"linux/amd64"}, report.Options{ModulePath: modulePath, SkipCovered: true}},
		{"three platforms", "term_platforms.txt", all, report.Options{ModulePath: modulePath}},
		{"three platforms, missing, skip-covered, precision 1", "term_platforms_missing.txt", all,
			report.Options{ModulePath: modulePath, Missing: true, SkipCovered: true, Precision: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			combined, platforms := fixture(t, tt.platforms...)
			var buf bytes.Buffer
			if err := report.Term(&buf, combined, platforms, tt.opt); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, tt.golden, buf.Bytes())
		})
	}
}

func TestCobertura(t *testing.T) {
	combined, _ := fixture(t, all...)
	var buf bytes.Buffer
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := report.Cobertura(&buf, combined, report.Options{ModulePath: modulePath}, "/src/shop", ts); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "cobertura.xml", buf.Bytes())
}

func TestLCOV(t *testing.T) {
	combined, _ := fixture(t, all...)
	var buf bytes.Buffer
	if err := report.LCOV(&buf, combined, report.Options{ModulePath: modulePath}); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "lcov.info", buf.Bytes())
}

func TestJSON(t *testing.T) {
	combined, platforms := fixture(t, all...)
	var buf bytes.Buffer
	if err := report.JSON(&buf, combined, platforms, report.Options{ModulePath: modulePath}); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "report.json", buf.Bytes())
}

func TestGoProfile(t *testing.T) {
	combined, _ := fixture(t, all...)
	var buf bytes.Buffer
	if err := report.GoProfile(&buf, combined); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "merged.out", buf.Bytes())
}

func TestHTMLIndex(t *testing.T) {
	combined, _ := fixture(t, all...)
	dir := t.TempDir()
	if err := report.HTML(dir, combined, nil, report.Options{ModulePath: modulePath, Missing: true}, filepath.Join(dir, "no-sources")); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "html_index.html", index)
}

// Each mode: the union's index has a column and a selector link per
// platform, and every platform has a report of its own in its subdirectory.
func TestHTMLPlatforms(t *testing.T) {
	combined, platforms := fixture(t, all...)
	dir := t.TempDir()
	if err := report.HTML(dir, combined, platforms, report.Options{ModulePath: modulePath}, filepath.Join(dir, "no-sources")); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "html_index_platforms.html", index)
	for _, pl := range platforms {
		sub, err := os.ReadFile(filepath.Join(dir, report.Slug(pl.Name), "index.html"))
		if err != nil {
			t.Fatalf("%s has no report of its own: %v", pl.Name, err)
		}
		golden.Assert(t, "html_index_"+report.Slug(pl.Name)+".html", sub)
	}
}
