package coverage

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

func TestSummary(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		files   []FileSummary
		total   FileSummary
		missing []string // MissingString per file
	}{
		{
			name: "one file",
			in:   "mode: set\nm/a.go:3.1,5.2 2 0\nm/a.go:6.1,7.2 3 1\nm/a.go:9.1,9.9 1 0\n",
			files: []FileSummary{
				{File: "m/a.go", Stmts: 6, Miss: 3, Missing: []LineRange{{3, 5}, {9, 9}}},
			},
			total:   FileSummary{File: "TOTAL", Stmts: 6, Miss: 3},
			missing: []string{"3-5, 9"},
		},
		{
			name: "adjacent and overlapping missed blocks merge",
			in:   "mode: count\nm/a.go:3.1,4.2 1 0\nm/a.go:5.1,6.2 1 0\nm/a.go:6.3,8.1 1 0\nm/a.go:12.1,12.5 1 0\n",
			files: []FileSummary{
				{File: "m/a.go", Stmts: 4, Miss: 4, Missing: []LineRange{{3, 8}, {12, 12}}},
			},
			total:   FileSummary{File: "TOTAL", Stmts: 4, Miss: 4},
			missing: []string{"3-8, 12"},
		},
		{
			name: "blocks without statements never miss",
			in:   "mode: set\nm/a.go:3.1,4.2 0 0\nm/b.go:1.1,1.2 1 1\n",
			files: []FileSummary{
				{File: "m/a.go", Stmts: 0, Miss: 0},
				{File: "m/b.go", Stmts: 1, Miss: 0},
			},
			total:   FileSummary{File: "TOTAL", Stmts: 1, Miss: 0},
			missing: []string{"", ""},
		},
		{
			name:  "empty profile",
			in:    "mode: set\n",
			total: FileSummary{File: "TOTAL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, total := mustParse(t, "p", tt.in).Summary()
			if !reflect.DeepEqual(files, tt.files) {
				t.Errorf("got files %+v; want %+v", files, tt.files)
			}
			if !reflect.DeepEqual(total, tt.total) {
				t.Errorf("got total %+v; want %+v", total, tt.total)
			}
			for i, f := range files {
				if i < len(tt.missing) && f.MissingString() != tt.missing[i] {
					t.Errorf("%s: got missing %q; want %q", f.File, f.MissingString(), tt.missing[i])
				}
			}
		})
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		s    FileSummary
		want float64
	}{
		{FileSummary{Stmts: 0, Miss: 0}, 0}, // nothing measured is nothing covered, as go tool cover -func says
		{FileSummary{Stmts: 4, Miss: 1}, 75},
		{FileSummary{Stmts: 3, Miss: 3}, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%d", tt.s.Stmts, tt.s.Miss), func(t *testing.T) {
			if got := tt.s.Percent(); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// TestSummaryMatchesGoToolCover builds a real profile with go test and checks
// that our TOTAL is what go tool cover -func prints for it.
func TestSummaryMatchesGoToolCover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
		if _, err := os.Stat(goBin); err != nil {
			t.Skip("no go command")
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/tiny\n\ngo 1.22\n",
		"calc/calc.go": `package calc

// Sign returns -1, 0 or 1.
func Sign(x int) int {
	if x < 0 {
		return -1
	}
	if x == 0 {
		return 0
	}
	return 1
}

// Abs is never tested.
func Abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
`,
		"calc/calc_test.go": `package calc

import "testing"

func TestSign(t *testing.T) {
	if Sign(-3) != -1 || Sign(5) != 1 {
		t.Fatal("wrong sign")
	}
}
`,
		"util/util.go": `package util

// Double doubles x.
func Double(x int) int { return 2 * x }

// Half halves x.
func Half(x int) int {
	if x%2 != 0 {
		panic("odd")
	}
	return x / 2
}
`,
		"util/util_test.go": `package util

import "testing"

func TestDouble(t *testing.T) {
	if Double(2) != 4 {
		t.Fatal("wrong")
	}
}
`,
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	profile := filepath.Join(dir, "cover.out")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("test", "-covermode=set", "-coverprofile="+profile, "./...")
	funcOut := run("tool", "cover", "-func="+profile)

	m := regexp.MustCompile(`(?m)^total:\s+\(statements\)\s+([0-9.]+)%$`).FindStringSubmatch(funcOut)
	if m == nil {
		t.Fatalf("no total line in go tool cover -func output:\n%s", funcOut)
	}
	p, err := ParseFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	_, total := p.Summary()
	if total.Stmts == 0 || total.Miss == 0 {
		t.Fatalf("got total %+v; want a profile with both covered and missed statements", total)
	}
	if got := fmt.Sprintf("%.1f", total.Percent()); got != m[1] {
		t.Errorf("got total %s%% (%d stmts, %d miss); want %s%% as go tool cover -func says:\n%s", got, total.Stmts, total.Miss, m[1], funcOut)
	}
}
