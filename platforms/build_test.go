package platforms

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/covdist/covdist/coverage"
)

func TestBinaryName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com/m/calc", "calc.test"},
		{"example.com/m", "m.test"},
		{"example.com/m/v2", "m.test"},
		{"example.com/m/v2/sub", "sub.test"},
		{"example.com/m/v1", "v1.test"},
	}
	for _, tt := range tests {
		if got := binaryName(tt.in); got != tt.want {
			t.Errorf("binaryName(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"plain", Target{}, "platform linux/arm64, go1.26.8"},
		{"exec", Target{Exec: []string{"qemu-aarch64"}}, "platform linux/arm64, go1.26.8 [exec=qemu-aarch64]"},
		{"tags and env", Target{Tags: []string{"a", "b"}, Env: []string{"CGO_ENABLED=0"}}, "platform linux/arm64, go1.26.8 [tags=a,b env:CGO_ENABLED=0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := header("linux/arm64", "go1.26.8", tt.t); got != tt.want {
				t.Fatalf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Two packages named calc need two go invocations; every package with tests
// is reported ready exactly once, with its tests (examples with output and
// fuzz targets included, benchmarks not); an untested package's blocks come
// back with zero counts.
func TestBuildRoundsAndReady(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod":               "module example.com/m\n\ngo 1.22\n",
		"calc/calc.go":         "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
		"calc/calc_test.go":    "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) { Add(1, 2) }\nfunc BenchmarkAdd(b *testing.B) {}\nfunc FuzzAdd(f *testing.F) { f.Fuzz(func(t *testing.T, a int) {}) }\n",
		"calc/example_test.go": "package calc_test\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/calc\"\n)\n\nfunc ExampleAdd() {\n\tfmt.Println(calc.Add(0, 1))\n\t// Output: 1\n}\n",
		"sub/calc/c.go":        "package calc\n\nfunc Mul(a, b int) int { return a * b }\n",
		"sub/calc/c_test.go":   "package calc\n\nimport \"testing\"\n\nfunc TestMul(t *testing.T) { Mul(2, 3) }\n",
		"notest/n.go":          "package notest\n\nfunc F(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 2\n}\n",
	})
	var mu sync.Mutex
	ready := map[string][]string{}
	calls := map[string]int{}
	b, err := Build(context.Background(), Options{
		ModuleDir: dir, Patterns: []string{"./..."}, CoverMode: "set", BinDir: t.TempDir(),
		Ready: func(p *Package) {
			mu.Lock()
			defer mu.Unlock()
			calls[p.ImportPath]++
			ready[p.ImportPath] = p.Tests
			if _, err := os.Stat(p.Binary); err != nil {
				t.Errorf("%s ready but its binary is missing: %v", p.ImportPath, err)
			}
		},
	}, Target{})
	if err != nil {
		t.Fatal(err)
	}
	if b.ModulePath != "example.com/m" {
		t.Errorf("got module path %q; want example.com/m", b.ModulePath)
	}
	want := map[string]string{
		"example.com/m/calc":     "ExampleAdd FuzzAdd TestAdd",
		"example.com/m/sub/calc": "TestMul",
	}
	for pkg, tests := range want {
		if calls[pkg] != 1 {
			t.Errorf("%s: Ready called %d times; want once", pkg, calls[pkg])
		}
		got := append([]string{}, ready[pkg]...)
		sort.Strings(got)
		if strings.Join(got, " ") != tests {
			t.Errorf("%s: got tests %v; want %s", pkg, got, tests)
		}
	}
	if len(calls) != len(want) {
		t.Errorf("got Ready for %v; want only the packages with tests", calls)
	}
	if b.Zero == nil {
		t.Fatal("got no zero profile for the untested package")
	}
	files, total := b.Zero.Summary()
	if len(files) != 1 || !strings.HasSuffix(files[0].File, "notest/n.go") || total.Stmts != 3 || total.Miss != 3 {
		t.Errorf("got zero profile %+v (total %+v); want notest/n.go with 3 missed statements", files, total)
	}
}

func TestBuildErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	tests := []struct {
		name     string
		files    map[string]string
		patterns []string
		want     string
	}{
		{"no match", map[string]string{"go.mod": "module example.com/e\n", "a/a.go": "package a\n"}, []string{"./nope/..."}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModule(t, tt.files)
			_, err := Build(context.Background(), Options{ModuleDir: dir, Patterns: tt.patterns, CoverMode: "set", BinDir: t.TempDir()}, Target{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// A windows build names its binaries as go test -c does, with .exe, and
// lists their tests from the source, since this machine cannot run them.
func TestBuildWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod":            "module example.com/w\n\ngo 1.22\n",
		"calc/calc.go":      "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
		"calc/calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) { Add(1, 2) }\n",
	})
	var got *Package
	_, err := Build(context.Background(), Options{
		ModuleDir: dir, Patterns: []string{"./..."}, CoverMode: "set", BinDir: t.TempDir(),
		Ready: func(p *Package) { got = p },
	}, Target{GOOS: "windows", GOARCH: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("the package was never ready")
	}
	if !strings.HasSuffix(got.Binary, "calc.test.exe") {
		t.Errorf("got binary %s; want calc.test.exe", got.Binary)
	}
	if _, err := os.Stat(got.Binary); err != nil {
		t.Errorf("binary missing: %v", err)
	}
	if strings.Join(got.Tests, " ") != "TestAdd" {
		t.Errorf("got tests %v; want TestAdd", got.Tests)
	}
}

// The shape read from the source is block for block what the compiled
// instrumentation reports, on code with the constructs that cut blocks:
// closures, switch and select, labels and goto, generics, defer.
func TestShapeMatchesCompiledBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/s\n\ngo 1.22\n",
		"a/a.go": `package a

import "errors"

type Num interface{ ~int | ~float64 }

func Sum[T Num](xs ...T) (s T) {
	for _, x := range xs {
		if x < 0 {
			continue
		}
		s += x
	}
	return
}

func Pick(c chan int, d chan string) (string, error) {
	defer func() {
		if r := recover(); r != nil {
			_ = r
		}
	}()
	select {
	case v := <-c:
		switch {
		case v > 10:
			return "big", nil
		case v < 0:
			goto bad
		default:
		}
		return "small", nil
	case s, ok := <-d:
		if !ok {
			return "", errors.New("closed")
		}
		return s, nil
	}
bad:
	return "", errors.New("negative")
}

func Apply(f func(int) int, n int) int { return f(n) }

var Double = func(n int) int {
	if n == 0 {
		return 0
	}
	return n * 2
}
`,
		"a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestSum(t *testing.T) { Sum(1, -2, 3) }\n",
		"b/b.go":      "package b\n\nfunc B(x int) int {\n\tswitch x {\n\tcase 1:\n\t\treturn 1\n\t}\n\treturn 0\n}\n",
	})
	b, err := Build(context.Background(), Options{ModuleDir: dir, Patterns: []string{"./..."}, CoverMode: "count", BinDir: t.TempDir()}, Target{})
	if err != nil {
		t.Fatal(err)
	}
	shape, err := b.Shape(context.Background(), "count", []string{"example.com/s/a", "example.com/s/b"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "go.out")
	cmd := exec.Command("go", "test", "-covermode=count", "-coverpkg=./...", "-coverprofile="+out, "./...")
	cmd.Dir = dir
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test: %v\n%s", err, o)
	}
	ref, err := coverage.ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	shapeOf := func(p *coverage.Profile) string {
		var lines []string
		for _, bl := range p.Blocks() {
			lines = append(lines, fmt.Sprintf("%s:%d.%d,%d.%d %d", bl.File, bl.StartLine, bl.StartCol, bl.EndLine, bl.EndCol, bl.NumStmt))
		}
		return strings.Join(lines, "\n")
	}
	if got, want := shapeOf(shape), shapeOf(ref); got != want {
		t.Errorf("shape from the source:\n%s\nwant (go test's blocks):\n%s", got, want)
	}
	if _, total := shape.Summary(); total.Miss != total.Stmts || total.Stmts == 0 {
		t.Errorf("a shape has every statement missed; got %+v", total)
	}
}

// Measuring packages the run does not test runs nothing of theirs: on a
// platform this machine cannot run (a remote's), the run of a single
// package still knows the blocks of the others.
func TestZeroPackagesOfAForeignPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod":            "module example.com/f\n\ngo 1.22\n",
		"calc/calc.go":      "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
		"calc/calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) { Add(1, 2) }\n",
		"other/o.go":        "package other\n\nfunc O(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 2\n}\n",
		"other/o_test.go":   "package other\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestMain(m *testing.M) { panic(\"TestMain of an untested package ran\"); os.Exit(m.Run()) }\n\nfunc TestO(t *testing.T) { O(1) }\n",
	})
	b, err := Build(context.Background(), Options{ModuleDir: dir, Patterns: []string{"./calc"}, CoverMode: "set", BinDir: t.TempDir()},
		Target{GOOS: "linux", GOARCH: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Zero == nil {
		t.Fatal("no blocks for the untested package")
	}
	files, total := b.Zero.Summary()
	if len(files) != 1 || files[0].File != "example.com/f/other/o.go" || total.Stmts != 3 || total.Miss != 3 {
		t.Errorf("got %+v (total %+v); want other/o.go with 3 statements missed", files, total)
	}
}

func TestModuleLine(t *testing.T) {
	tests := []struct {
		gomod  string
		want   string
		wantOK bool
	}{
		{"module example.com/m\n\ngo 1.22\n", "example.com/m", true},
		{"// a comment\nmodule \"example.com/q\" // quoted\n", "example.com/q", true},
		{"module\texample.com/t\n", "example.com/t", true},
		{"go 1.22\nmodulex foo\n", "", false},
		{"module (\n\texample.com/b\n)\n", "", false},
	}
	for _, tt := range tests {
		f := filepath.Join(t.TempDir(), "go.mod")
		os.WriteFile(f, []byte(tt.gomod), 0o644)
		got, ok := moduleLine(f)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.gomod, got, ok, tt.want, tt.wantOK)
		}
	}
}

// Two packages of one binary name, only one of them with tests: go test -c
// of both refuses them, so the build must name the tested one alone.
func TestBuildSameNameOneTested(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod":           "module example.com/dup\n\ngo 1.22\n",
		"a/util/u.go":      "package util\n\nfunc U() int { return 1 }\n",
		"a/util/u_test.go": "package util\n\nimport \"testing\"\n\nfunc TestU(t *testing.T) { U() }\n",
		"b/util/u.go":      "package util\n\nfunc V() int { return 2 }\n",
	})
	var ready []string
	_, err := Build(context.Background(), Options{
		ModuleDir: dir, Patterns: []string{"./..."}, CoverMode: "set", BinDir: t.TempDir(),
		Ready: func(p *Package) { ready = append(ready, p.ImportPath) },
	}, Target{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ready, " ") != "example.com/dup/a/util" {
		t.Errorf("got ready %v; want example.com/dup/a/util", ready)
	}
}

// A package that does not build or load fails by itself, with the go
// command's output and its name for the failed build, as go test -json
// reports them; the package that builds is ready all the same.
func TestBuildFailedPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	good := map[string]string{
		"go.mod":        "module example.com/e\n\ngo 1.24\n",
		"ok/ok.go":      "package ok\n\nfunc OK() int { return 1 }\n",
		"ok/ok_test.go": "package ok\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) { OK() }\n",
	}
	testFile := "package a\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) {}\n"
	tests := []struct {
		name        string
		files       map[string]string
		failedBuild string // of example.com/e/a
		setup       bool
		output      string
	}{
		{"test file", map[string]string{"a/a.go": "package a\n", "a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { var s string = 1; _ = s }\n"},
			"example.com/e/a [example.com/e/a.test]", false, "cannot use 1"},
		{"package source", map[string]string{"a/a.go": "package a\n\nfunc F() int { return \"x\" }\n", "a/a_test.go": testFile},
			"example.com/e/a [example.com/e/a.test]", false, "cannot use \"x\""},
		{"no tests", map[string]string{"a/a.go": "package a\n\nfunc F() int { return \"x\" }\n"},
			"example.com/e/a", false, "cannot use \"x\""},
		{"import cycle", map[string]string{"a/a.go": "package a\n\nimport _ \"example.com/e/b\"\n", "a/a_test.go": testFile,
			"b/b.go": "package b\n\nimport _ \"example.com/e/a\"\n"},
			"example.com/e/a", true, "import cycle not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := maps.Clone(good)
			maps.Copy(files, tt.files)
			dir := writeModule(t, files)
			var mu sync.Mutex
			var ready []string
			b, err := Build(context.Background(), Options{ModuleDir: dir, Patterns: []string{"./..."}, CoverMode: "set", BinDir: t.TempDir(),
				Ready: func(p *Package) {
					mu.Lock()
					defer mu.Unlock()
					ready = append(ready, p.ImportPath)
				}}, Target{})
			if err != nil {
				t.Fatalf("got %v; want the failure in Failed", err)
			}
			if !slices.Contains(ready, "example.com/e/ok") {
				t.Errorf("got ready %v; want example.com/e/ok among them", ready)
			}
			var f *Failure
			for _, x := range b.Failed {
				if x.Package == "example.com/e/a" {
					f = x
				}
			}
			if f == nil {
				t.Fatalf("got failed %v; want example.com/e/a", b.Failed)
			}
			if f.FailedBuild != tt.failedBuild || f.Setup != tt.setup {
				t.Errorf("got FailedBuild %q, Setup %v; want %q, %v", f.FailedBuild, f.Setup, tt.failedBuild, tt.setup)
			}
			if !strings.HasPrefix(f.Output, "# ") || !strings.Contains(f.Output, tt.output) {
				t.Errorf("got output %q; want a # line and %q", f.Output, tt.output)
			}
		})
	}
}

func TestBuildJSON(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"go1.26.8", true}, {"go1.24.0", true}, {"go1.24rc1", true}, {"go1.23.4", false}, {"go1.9", false}, {"devel go1.27-abc", true}, {"", false},
	}
	for _, tt := range tests {
		if got := buildJSON(tt.version); got != tt.want {
			t.Errorf("buildJSON(%q) = %v; want %v", tt.version, got, tt.want)
		}
	}
}

// An older go command's text output is cut into its builds, a tool's
// command line kept with its build, and each failed package gets its own
// build's output, or else a dependency's.
func TestParseBuildText(t *testing.T) {
	stderr := "# example.com/e/a [example.com/e/a.test]\na/a_test.go:1:1: bad\n# example.com/e/dep\n# [cover -mode set dep.go]\ndep.go:3:1: worse\n"
	o := parseBuildText([]byte(stderr))
	fs := o.failures([]string{"example.com/e/a", "example.com/e/c"}, func(string) string { return "unexplained" })
	got := []string{fs[0].FailedBuild, fs[0].Output, fs[1].FailedBuild, fs[1].Output}
	want := []string{"example.com/e/a [example.com/e/a.test]", "# example.com/e/a [example.com/e/a.test]\na/a_test.go:1:1: bad\n",
		"example.com/e/dep", "# example.com/e/dep\n# [cover -mode set dep.go]\ndep.go:3:1: worse\n"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
	if fs := (&buildOutput{}).failures([]string{"example.com/e/a"}, func(string) string { return "why\n" }); fs[0].Output != "# example.com/e/a\nwhy\n" {
		t.Errorf("got %q; want the fallback text under a # line", fs[0].Output)
	}
}
