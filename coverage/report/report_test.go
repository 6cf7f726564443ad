package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/covdist/covdist/coverage"
)

func parse(t *testing.T, text string) *coverage.Profile {
	t.Helper()
	p, err := coverage.Parse(strings.NewReader(text), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPercent(t *testing.T) {
	tests := []struct {
		stmts, miss, precision int
		want                   string
	}{
		{0, 0, 0, "0"}, // no statements: 0%, never 100%
		{4, 0, 0, "100"},
		{4, 4, 0, "0"},
		{4, 1, 0, "75"},
		{300, 1, 0, "99"},    // 99.67 never shows 100
		{1000, 1, 1, "99.9"}, // 99.9 exactly
		{10000, 1, 1, "99.9"},
		{1000, 998, 0, "1"}, // 0.2 never shows 0
		{10000, 9999, 1, "0.1"},
		{8, 1, 0, "88"}, // 87.5 rounds half to even, as Python's round does
		{8, 3, 0, "62"}, // 62.5
		{3, 1, 2, "66.67"},
		{3, 1, -1, "67"}, // a negative precision counts as 0
	}
	for _, tt := range tests {
		s := coverage.FileSummary{Stmts: tt.stmts, Miss: tt.miss}
		if got := percent(s, tt.precision); got != tt.want {
			t.Errorf("percent(%d stmts, %d miss, precision %d): got %q; want %q", tt.stmts, tt.miss, tt.precision, got, tt.want)
		}
	}
}

func TestRelName(t *testing.T) {
	tests := []struct {
		module, file, want string
	}{
		{"example.com/m", "example.com/m/calc/calc.go", "calc/calc.go"},
		{"example.com/m", "example.com/mod/x.go", "example.com/mod/x.go"},
		{"example.com/m", "other.org/x/y.go", "other.org/x/y.go"},
		{"", "example.com/m/calc/calc.go", "example.com/m/calc/calc.go"},
	}
	for _, tt := range tests {
		if got := (Options{ModulePath: tt.module}).relName(tt.file); got != tt.want {
			t.Errorf("relName(%q, %q): got %q; want %q", tt.module, tt.file, got, tt.want)
		}
	}
}

func TestTermShape(t *testing.T) {
	amd := parse(t, "mode: set\nm/a.go:1.1,2.2 2 1\nm/b.go:1.1,1.2 1 0\n")
	arm := parse(t, "mode: set\nm/a.go:1.1,2.2 2 0\n")
	tests := []struct {
		name      string
		combined  *coverage.Profile
		platforms []Platform
		opt       Options
		want      string
	}{
		{
			name:     "no platforms",
			combined: amd,
			opt:      Options{ModulePath: "m"},
			want: "Name   Stmts  Miss  Cover\n" +
				"a.go       2     0   100%\n" +
				"b.go       1     1     0%\n" +
				"TOTAL      3     1    67%\n" +
				"coverage: 66.7% of statements\n",
		},
		{
			name:      "one platform shows its header but no column",
			combined:  amd,
			platforms: []Platform{{Name: "linux/amd64", Header: "platform linux/amd64, go1.26.8", Profile: amd}},
			opt:       Options{ModulePath: "m"},
			want: "platform linux/amd64, go1.26.8\n" +
				"Name   Stmts  Miss  Cover\n" +
				"a.go       2     0   100%\n" +
				"b.go       1     1     0%\n" +
				"TOTAL      3     1    67%\n" +
				"coverage: 66.7% of statements\n",
		},
		{
			name:     "headers in order; empty header and empty profile",
			combined: amd,
			platforms: []Platform{
				{Name: "b", Header: "platform b", Profile: amd},
				{Name: "a", Header: "", Profile: arm},
				{Name: "c", Header: "platform c", Profile: nil},
			},
			opt: Options{ModulePath: "m"},
			want: "platform b\nplatform c\n" +
				"Name   Stmts  Miss  Cover     b   a  c\n" +
				"a.go       2     0   100%  100%  0%  -\n" +
				"b.go       1     1     0%    0%   -  -\n" +
				"TOTAL      3     1    67%   67%  0%  -\n" +
				"coverage: 66.7% of statements (union of 3 platforms)\n",
		},
		{
			name:     "one skipped file is singular",
			combined: amd,
			opt:      Options{ModulePath: "m", SkipCovered: true},
			want: "Name   Stmts  Miss  Cover\n" +
				"b.go       1     1     0%\n" +
				"TOTAL      3     1    67%\n" +
				"\n1 file skipped due to complete coverage.\n" +
				"coverage: 66.7% of statements\n",
		},
		{
			name:     "empty profile",
			combined: coverage.New(""),
			want:     "Name   Stmts  Miss  Cover\nTOTAL      0     0     0%\ncoverage: 0.0% of statements\n", // nothing measured is 0%, as go tool cover -func says
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Term(&buf, tt.combined, tt.platforms, tt.opt); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got\n%s; want\n%s", got, tt.want)
			}
		})
	}
}

func TestHTML(t *testing.T) {
	moduleDir := t.TempDir()
	src := "package calc\n\nfunc Sign(x int) int {\n\tif x < 0 { return -1 }\n\treturn 1\n}\n"
	if err := os.MkdirAll(filepath.Join(moduleDir, "calc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moduleDir, "calc", "calc.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := parse(t, "mode: set\n"+
		"example.com/m/calc/calc.go:3.22,4.11 1 1\n"+
		"example.com/m/calc/calc.go:4.11,4.24 1 0\n"+
		"example.com/m/calc/calc.go:5.2,5.10 1 1\n"+
		"example.com/m/gone/gone.go:1.1,2.2 1 0\n"+
		"example.com/m/calc_calc.go:1.1,2.2 1 1\n")
	dir := filepath.Join(t.TempDir(), "htmlcov")
	if err := HTML(dir, p, nil, Options{ModulePath: "example.com/m"}, moduleDir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want []string
	}{
		{"index.html", []string{`<a href="calc_calc_go.html">calc/calc.go</a>`, `<a href="calc_calc_go_2.html">calc_calc.go</a>`, `<a href="gone_gone_go.html">gone/gone.go</a>`, `<td>TOTAL</td>`}},
		{"calc_calc_go.html", []string{
			`<tr class="run"><td class="ln">3</td><td class="hits">1</td><td class="code">func Sign(x int) int {</td></tr>`,
			`<tr class="par"><td class="ln">4</td><td class="hits">1</td><td class="code">	if x &lt; 0 { return -1 }</td></tr>`,
			`<tr class="run"><td class="ln">5</td>`,
			`<tr><td class="ln">1</td><td class="hits"></td><td class="code">package calc</td></tr>`,
		}},
		{"gone_gone_go.html", []string{"The source of gone/gone.go could not be read", "(lines 1-2)"}},
		{"calc_calc_go_2.html", []string{"The source of calc_calc.go could not be read"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("got a page without %q; want it in\n%s", w, b)
				}
			}
		})
	}
}

func TestLinesBoundsDamagedBlocks(t *testing.T) {
	p := parse(t, "mode: set\nm/a.go:1.1,2000000000.2 1 1\nm/a.go:9.1,3.2 1 0\n")
	lh := lines(p)["m/a.go"]
	if got := len(lh.hits); got != maxBlockLines {
		t.Errorf("got %d lines; want %d", got, maxBlockLines)
	}
}

// A file page over two platforms has a hits column per platform: the
// platform's count, or "-" where it does not compile the line.
func TestHTMLPlatformLines(t *testing.T) {
	moduleDir := t.TempDir()
	src := "package calc\n\nfunc A() {}\n\nfunc B() {}\n"
	if err := os.MkdirAll(filepath.Join(moduleDir, "calc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moduleDir, "calc", "calc.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	amd := parse(t, "mode: count\nexample.com/m/calc/calc.go:3.10,3.12 1 2\nexample.com/m/calc/calc.go:5.10,5.12 1 0\n")
	arm := parse(t, "mode: count\nexample.com/m/calc/calc.go:3.10,3.12 1 0\n")
	combined := coverage.New("")
	for name, p := range map[string]*coverage.Profile{"linux/amd64": amd, "linux/arm64": arm} {
		if err := combined.Merge(name, p); err != nil {
			t.Fatal(err)
		}
	}
	plats := []Platform{{Name: "linux/amd64", Profile: amd}, {Name: "linux/arm64", Profile: arm}}
	dir := t.TempDir()
	if err := HTML(dir, combined, plats, Options{ModulePath: "example.com/m"}, moduleDir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "calc_calc_go.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`<th class="num">linux/amd64</th><th class="num">linux/arm64</th>`,
		`<tr class="run"><td class="ln">3</td><td class="hits">2</td><td class="hits">2</td><td class="hits">0</td><td class="code">func A() {}</td></tr>`,
		`<tr class="mis"><td class="ln">5</td><td class="hits">0</td><td class="hits">0</td><td class="hits">-</td><td class="code">func B() {}</td></tr>`,
		`<tr><td class="ln">1</td><td class="hits"></td><td class="hits"></td><td class="hits"></td><td class="code">package calc</td></tr>`,
		`linux/amd64 50%, linux/arm64 0%`,
	} {
		if !bytes.Contains(page, []byte(w)) {
			t.Errorf("the file page has no %q:\n%s", w, page)
		}
	}
	for _, sub := range []string{"linux-amd64", "linux-arm64"} {
		if _, err := os.Stat(filepath.Join(dir, sub, "calc_calc_go.html")); err != nil {
			t.Errorf("no page of %s's own: %v", sub, err)
		}
	}
}

// CI reads the figure with a regex over the log. GitLab's documented one
// for Go ("coverage: \d+.\d+% of statements"; GitLab takes the last match,
// with RE2, which Go's regexp is) reads the union's figure in every mode,
// while pytest-cov's ("TOTAL.*\s(\d+%)$") reads the last platform's column
// in each mode: the reason for the line.
func TestCoverageLineForCIRegex(t *testing.T) {
	gitlab := regexp.MustCompile(`coverage: (\d+.\d+)% of statements`)
	totalRow := regexp.MustCompile(`(?m)TOTAL.*\s(\d+%)$`)
	// The union covers 3 of 4 statements; linux/arm64 alone covers 1.
	union := parse(t, "mode: set\nm/a.go:1.1,2.2 2 1\nm/b.go:1.1,1.2 1 1\nm/c.go:1.1,1.2 1 0\n")
	amd := parse(t, "mode: set\nm/a.go:1.1,2.2 2 1\nm/b.go:1.1,1.2 1 1\nm/c.go:1.1,1.2 1 0\n")
	arm := parse(t, "mode: set\nm/a.go:1.1,2.2 2 0\nm/b.go:1.1,1.2 1 1\nm/c.go:1.1,1.2 1 0\n")
	for _, tt := range []struct {
		name      string
		platforms []Platform
	}{
		{"load mode", nil},
		{"each mode", []Platform{{Name: "linux/amd64", Profile: amd}, {Name: "linux/arm64", Profile: arm}}},
	} {
		var buf strings.Builder
		if err := Term(&buf, union, tt.platforms, Options{ModulePath: "m"}); err != nil {
			t.Fatal(err)
		}
		all := gitlab.FindAllStringSubmatch(buf.String(), -1)
		if len(all) == 0 {
			t.Fatalf("%s: GitLab's regex finds nothing in\n%s", tt.name, buf.String())
		}
		if got := all[len(all)-1][1]; got != "75.0" {
			t.Errorf("%s: GitLab's regex reads %s%%; want the union's 75.0%%\n%s", tt.name, got, buf.String())
		}
		if tt.platforms != nil {
			if m := totalRow.FindStringSubmatch(buf.String()); m == nil || m[1] != "25%" {
				t.Errorf("%s: the TOTAL row's last figure is %v; this test assumes it is the last platform's 25%%\n%s", tt.name, m, buf.String())
			}
		}
	}
}

// The index says what made it and when, and its file rows sit in a tbody
// that the sort script reorders, TOTAL apart in the tfoot.
func TestHTMLFooterAndSort(t *testing.T) {
	p := parse(t, "mode: set\nexample.com/m/a.go:1.1,2.2 2 1\nexample.com/m/b.go:1.1,2.2 1 0\n")
	dir := t.TempDir()
	at := time.Date(2026, 12, 8, 1, 2, 3, 0, time.FixedZone("CET", 3600))
	if err := HTML(dir, p, nil, Options{ModulePath: "example.com/m", Generator: "covdist v9.9.9", Generated: at}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`<p class="meta">Created by covdist v9.9.9 at 2026-12-08 00:02:03 UTC.</p>`,
		"<table class=\"index\">\n<thead><tr><th>Name</th>",
		"</thead>\n<tbody>\n<tr><td><a href=",
		"</tbody>\n<tfoot><tr class=\"total\"><td>TOTAL</td>",
		`document.querySelectorAll("table.index thead th")`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q:\n%s", want, page)
		}
	}
	if strings.Count(page, "<tr><td><a href=") != 2 {
		t.Errorf("want the two file rows in the tbody:\n%s", page)
	}
}
