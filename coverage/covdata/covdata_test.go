package covdata

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covdist/covdist/coverage"
)

// A module whose test re-executes itself as a helper, as tests of commands
// often do, with a file of several functions and a function literal.
var module = map[string]string{
	"go.mod": "module example.com/m\n\ngo 1.22\n",
	"p/p.go": `package p

// Helper runs in the re-executed process only.
func Helper(n int) int {
	if n > 10 {
		return n * 2
	}
	return n + 1
}

// Loop has a block that runs many times, for count mode.
func Loop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			s += i
		}
	}
	return s
}

// Lit calls a function literal.
func Lit() int {
	f := func(x int) int {
		if x > 0 {
			return x
		}
		return -x
	}
	return f(-3)
}

// Never runs.
func Never() {
	for {
	}
}
`,
	"q/q.go": `package q

import "example.com/m/p"

// Q is covered through another package's test.
func Q(n int) int { return p.Loop(n) + 1 }

// Unused is never called.
func Unused() int { return 7 }
`,
	"p/p_test.go": `package p_test

import (
	"os"
	"os/exec"
	"testing"

	. "example.com/m/p"
	"example.com/m/q"
)

func TestHelperProcess(t *testing.T) {
	if os.Getenv("WANT_HELPER") != "1" {
		return
	}
	Helper(100)
	os.Exit(0)
}

func TestReexec(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "WANT_HELPER=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestLoop(t *testing.T) {
	Loop(10)
	Lit()
	q.Q(3)
}
`,
}

func writeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range module {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildTest builds p's test binary with coverage of the whole module.
func buildTest(t *testing.T, dir, mode string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a test binary with the go command")
	}
	bin := filepath.Join(t.TempDir(), "p.test")
	cmd := exec.Command("go", "test", "-c", "-cover", "-covermode="+mode, "-coverpkg=./...", "-o", bin, "./p")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	return bin
}

// runTest runs the binary as covdist's agent does, and asks it for a text
// profile of the same run too; it returns the coverage directory, the
// process's pid and the text profile.
func runTest(t *testing.T, bin, dir string) (string, int, *coverage.Profile) {
	t.Helper()
	covdir := t.TempDir()
	text := filepath.Join(t.TempDir(), "text.out")
	cmd := exec.Command(bin, "-test.gocoverdir="+covdir, "-test.coverprofile="+text)
	cmd.Dir = filepath.Join(dir, "p")
	cmd.Env = append(os.Environ(), "GOCOVERDIR="+covdir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running %s: %v\n%s", bin, err, out)
	}
	p, err := coverage.ParseFile(text)
	if err != nil {
		t.Fatal(err)
	}
	return covdir, cmd.Process.Pid, p
}

// whole is what a coverage directory says: every block of the binary, with
// the counts of its counter files.
func whole(t *testing.T, run *Run) *coverage.Profile {
	t.Helper()
	p := coverage.New(run.Meta.Mode)
	if err := p.Add("meta", run.Meta.Mode, run.Meta.Blocks()); err != nil {
		t.Fatal(err)
	}
	if err := p.Merge("hits", run.Hits); err != nil {
		t.Fatal(err)
	}
	return p
}

func profileText(t *testing.T, p *coverage.Profile) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Reading a coverage directory gives exactly the profile the test binary
// itself writes from it, in every mode, the re-executed helper's counts
// included.
func TestReadDirMatchesTextProfile(t *testing.T) {
	dir := writeModule(t)
	for _, mode := range []string{"set", "count", "atomic"} {
		t.Run(mode, func(t *testing.T) {
			bin := buildTest(t, dir, mode)
			covdir, pid, want := runTest(t, bin, dir)
			run, err := NewReader().ReadDir(covdir, pid)
			if err != nil {
				t.Fatal(err)
			}
			if run.Meta.Mode != mode {
				t.Errorf("mode %q; want %q", run.Meta.Mode, mode)
			}
			got := profileText(t, whole(t, run))
			if w := profileText(t, want); got != w {
				t.Errorf("got profile\n%s\nwant (the binary's own text profile)\n%s", got, w)
			}
			if !strings.Contains(got, "example.com/m/p/p.go:4.24,5.12 1 1") {
				t.Errorf("the helper process's coverage of Helper is missing:\n%s", got)
			}
			if mode != "set" && !strings.Contains(got, "example.com/m/p/p.go:14.25,15.15 1 13") {
				t.Errorf("Loop's inner block should count 10+3 runs:\n%s", got)
			}
			// The whole directory, every process's counters, says the same.
			all, err := ReadProfile(covdir)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := profileText(t, all), profileText(t, want); g != w {
				t.Errorf("ReadProfile: got profile\n%s\nwant\n%s", g, w)
			}
		})
	}
}

// The meta-data is decoded once per binary; a second run of it reads only
// its counters, and counts only its own.
func TestReadDirCachesMeta(t *testing.T) {
	dir := writeModule(t)
	bin := buildTest(t, dir, "count")
	r := NewReader()
	first, pid1, _ := runTest(t, bin, dir)
	run1, err := r.ReadDir(first, pid1)
	if err != nil {
		t.Fatal(err)
	}
	second, pid2, want := runTest(t, bin, dir)
	// Without its meta-data file, the second run must be read from the cache.
	ents, _ := os.ReadDir(second)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), metaPrefix) {
			os.Remove(filepath.Join(second, e.Name()))
		}
	}
	run2, err := r.ReadDir(second, pid2)
	if err != nil {
		t.Fatal(err)
	}
	if run1.Meta != run2.Meta {
		t.Errorf("the meta-data was decoded twice")
	}
	if got, w := profileText(t, whole(t, run2)), profileText(t, want); got != w {
		t.Errorf("second run: got\n%s\nwant\n%s", got, w)
	}
}

// Counters of another instrumented binary in the directory are not the
// test's coverage, as go test leaves them out.
func TestReadDirIgnoresOtherBinaries(t *testing.T) {
	dir := writeModule(t)
	bin := buildTest(t, dir, "set")
	covdir, pid, want := runTest(t, bin, dir)
	other := []byte("not even read")
	if err := os.WriteFile(filepath.Join(covdir, "covcounters.00112233445566778899aabbccddeeff.1.2"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := NewReader().ReadDir(covdir, pid)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := profileText(t, whole(t, run)), profileText(t, want); got != w {
		t.Errorf("got\n%s\nwant\n%s", got, w)
	}
}

func TestReadDirErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := NewReader().ReadDir(empty, 1); err == nil || !strings.Contains(err.Error(), "wrote no coverage data") {
		t.Errorf("empty directory: got %v; want an error saying nothing was written", err)
	}
	two := t.TempDir()
	for _, n := range []string{"covcounters.aa.5.1", "covcounters.bb.6.1"} {
		os.WriteFile(filepath.Join(two, n), nil, 0o644)
	}
	if _, err := NewReader().ReadDir(two, 1); err == nil || !strings.Contains(err.Error(), "cannot tell") {
		t.Errorf("two binaries, neither the process's: got %v; want an error", err)
	}
	nometa := t.TempDir()
	os.WriteFile(filepath.Join(nometa, "covcounters.aa.1.1"), nil, 0o644)
	if _, err := NewReader().ReadDir(nometa, 1); err == nil || !strings.Contains(err.Error(), "meta-data") {
		t.Errorf("no meta-data file: got %v; want an error naming the meta-data", err)
	}
}

// realFiles returns a real meta-data file and counter file.
func realFiles(t *testing.T) (meta, counters []byte) {
	t.Helper()
	dir := writeModule(t)
	bin := buildTest(t, dir, "count")
	covdir, pid, _ := runTest(t, bin, dir)
	ents, err := os.ReadDir(covdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(covdir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if cf, ok := splitCounterName(e.Name()); ok && cf.pid == pid {
			counters = b
		} else if strings.HasPrefix(e.Name(), metaPrefix) {
			meta = b
		}
	}
	if meta == nil || counters == nil {
		t.Fatalf("no meta-data or counter file in %s", covdir)
	}
	return meta, counters
}

// A truncated or corrupted file is an error, never a panic, and a newer
// format version is refused as such.
func TestCorruptFiles(t *testing.T) {
	meta, counters := realFiles(t)
	if _, err := ParseMeta(meta); err != nil {
		t.Fatalf("the real meta-data file: %v", err)
	}
	if _, err := ParseCounters(counters); err != nil {
		t.Fatalf("the real counter file: %v", err)
	}
	for n := 0; n < len(meta); n++ {
		if _, err := ParseMeta(meta[:n]); err == nil {
			t.Fatalf("meta-data truncated to %d of %d bytes parsed", n, len(meta))
		}
	}
	for n := 0; n < len(counters); n++ {
		if _, err := ParseCounters(counters[:n]); err == nil {
			t.Fatalf("counter file truncated to %d of %d bytes parsed", n, len(counters))
		}
	}
	tests := []struct {
		name  string
		parse func([]byte) error
		b     []byte
		at    int
		want  string
	}{
		{"meta version", func(b []byte) error { _, err := ParseMeta(b); return err }, meta, 4, "version 2"},
		{"meta magic", func(b []byte) error { _, err := ParseMeta(b); return err }, meta, 1, "not a coverage meta-data file"},
		{"counter version", func(b []byte) error { _, err := ParseCounters(b); return err }, counters, 4, "version 2"},
		{"counter magic", func(b []byte) error { _, err := ParseCounters(b); return err }, counters, 2, "not a coverage counter file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(tt.b)
			b[tt.at]++
			err := tt.parse(b)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an ErrFormat saying %q", err, tt.want)
			}
		})
	}
}

// Counters that do not fit the meta-data are refused.
func TestHitsMismatch(t *testing.T) {
	meta, counters := realFiles(t)
	m, err := ParseMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCounters(counters)
	if err != nil {
		t.Fatal(err)
	}
	bad := *c
	bad.Funcs = append([]FuncCounters{{Pkg: 99, Func: 0, Counts: []uint32{1}}}, c.Funcs...)
	if _, err := m.Hits(&bad); !errors.Is(err, ErrFormat) {
		t.Errorf("counters of a package the meta-data lacks: got %v; want ErrFormat", err)
	}
	bad.Funcs = []FuncCounters{{Pkg: c.Funcs[0].Pkg, Func: c.Funcs[0].Func, Counts: append(c.Funcs[0].Counts, 1)}}
	if _, err := m.Hits(&bad); !errors.Is(err, ErrFormat) {
		t.Errorf("one counter too many: got %v; want ErrFormat", err)
	}
	other := *c
	other.MetaHash = "00"
	if _, err := m.Hits(&other); err == nil {
		t.Errorf("counters of another binary: got no error")
	}
}

func TestReadProfileErrors(t *testing.T) {
	// A subdirectory named like a meta-data file is not one.
	sub := t.TempDir()
	os.Mkdir(filepath.Join(sub, "covmeta.00"), 0o755)
	if _, err := ReadProfile(sub); err == nil || !strings.Contains(err.Error(), "holds no Go coverage data") {
		t.Errorf("a directory named covmeta.00: got %v; want an error saying there is no coverage data", err)
	}
	// The directory's own names reach the error quoted where a terminal
	// would not print them as text.
	odd := t.TempDir()
	os.WriteFile(filepath.Join(odd, "covcounters.\x1b[2J.1.2"), nil, 0o644)
	_, err := ReadProfile(odd)
	if err == nil || !strings.Contains(err.Error(), `\x1b[2J`) || strings.ContainsRune(err.Error(), 0x1b) {
		t.Errorf("counters of an odd name without meta-data: got %q; want an error quoting the name", err)
	}
}

func TestIsDataFile(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"covmeta.00":  []byte("mode: set\n"),
		"cover.out":   []byte("mode: set\n"),
		"renamed.bin": append(counterMagic[:], 1, 0, 0, 0),
		"short":       {0},
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"covmeta.00", true},
		{"covcounters.00.1.2", true}, // by its name, even missing
		{"cover.out", false},
		{"renamed.bin", true},
		{"short", false},
		{"missing", false},
	}
	for _, tt := range tests {
		if got := IsDataFile(filepath.Join(dir, tt.name)); got != tt.want {
			t.Errorf("IsDataFile(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
}
