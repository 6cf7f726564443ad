package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/covdist/covdist/coverage"
)

// covdist merge reads the GOCOVERDIR directories that binaries built with
// go build -cover write (integration tests of a command, say), alone or
// together with text profiles, and says the same as go tool covdata.

// progModule is a main program whose branches depend on its arguments, and
// a package with a function nothing calls.
var progModule = map[string]string{
	"go.mod": "module example.com/prog\n\ngo 1.22\n",
	"main.go": `package main

import (
	"fmt"
	"os"

	"example.com/prog/lib"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "big" {
		fmt.Println(lib.Classify(100))
		return
	}
	for i := 0; i < 3; i++ {
		fmt.Println(lib.Classify(i))
	}
}
`,
	"lib/lib.go": `package lib

// Classify names n.
func Classify(n int) string {
	switch {
	case n > 10:
		return "big"
	case n%2 == 0:
		return "even"
	}
	return "odd"
}

// Unused is never called.
func Unused() int { return 1 }
`,
}

// goCmd runs the go command (or a program) in dir and returns its output.
func goCmd(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=mod"}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// coverDirs builds progModule with go build -cover in mode, runs it twice
// into d1 and once, another way, into d2, and returns the module's
// directory (the working directory from then on).
func coverDirs(t *testing.T, mode string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a program with the go command")
	}
	dir := writeModule(t, progModule)
	goCmd(t, dir, nil, "go", "build", "-cover", "-covermode="+mode, "-o", "prog", ".")
	for _, d := range []string{"d1", "d2"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prog := filepath.Join(dir, "prog")
	goCmd(t, dir, []string{"GOCOVERDIR=d1"}, prog)
	goCmd(t, dir, []string{"GOCOVERDIR=d1"}, prog)
	goCmd(t, dir, []string{"GOCOVERDIR=d2"}, prog, "big")
	t.Chdir(dir)
	return dir
}

// covdist runs covdist in-process and returns its exit code and outputs.
func covdist(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func parseProfile(t *testing.T, name string) *coverage.Profile {
	t.Helper()
	p, err := coverage.ParseFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sameBlocks fails t unless got and want hold the same blocks, with the
// same counts, in the same mode.
func sameBlocks(t *testing.T, what string, got, want *coverage.Profile) {
	t.Helper()
	if got.Mode() != want.Mode() {
		t.Errorf("%s: mode %q; want %q", what, got.Mode(), want.Mode())
	}
	g, w := got.Blocks(), want.Blocks()
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got blocks\n%v\nwant (go tool covdata textfmt)\n%v", what, g, w)
	}
}

// termTotal returns the Cover of the TOTAL row of a term table.
func termTotal(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "TOTAL" {
			return f[3]
		}
	}
	t.Fatalf("no TOTAL row in\n%s", out)
	return ""
}

// funcTotal returns the total of go tool cover -func.
func funcTotal(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "total:" {
			return f[2]
		}
	}
	t.Fatalf("no total line in\n%s", out)
	return ""
}

func TestMergeGoCoverDirE2E(t *testing.T) {
	for _, mode := range []string{"set", "count"} {
		t.Run(mode, func(t *testing.T) {
			dir := coverDirs(t, mode)
			goCmd(t, dir, nil, "go", "tool", "covdata", "textfmt", "-i=d1,d2", "-o=g.out")
			want := parseProfile(t, "g.out")
			if want.Len() == 0 {
				t.Fatalf("go tool covdata textfmt wrote no blocks")
			}

			code, stdout, stderr := covdist("merge", "--cov-report=term", "--cov-report=out:m.out", "--cov-precision=1", "d1", "d2")
			if code != exitOK || stderr != "" {
				t.Fatalf("covdist merge d1 d2: exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			got := parseProfile(t, "m.out")
			sameBlocks(t, "covdist merge d1 d2", got, want)
			funcOut := goCmd(t, dir, nil, "go", "tool", "cover", "-func=g.out")
			if g, w := termTotal(t, stdout), funcTotal(t, funcOut); g != w {
				t.Errorf("TOTAL %s; want %s (go tool cover -func)\n%s", g, w, stdout)
			}
			if mode == "count" {
				// The loop's block ran three times in each of d1's two runs.
				var loop coverage.Block
				for _, b := range got.Blocks() {
					if b.File == "example.com/prog/main.go" && b.StartLine == 15 && b.EndLine == 17 {
						loop = b
					}
				}
				if loop.Count != 6 {
					t.Errorf("main.go's loop body counts %d; want 6, the sum of d1's two runs", loop.Count)
				}
			}

			// One directory, by covdist report, is what go tool covdata says of it.
			goCmd(t, dir, nil, "go", "tool", "covdata", "textfmt", "-i=d2", "-o=g2.out")
			code, stdout, stderr = covdist("report", "--cov-report=out:r2.out", "d2")
			if code != exitOK {
				t.Fatalf("covdist report d2: exit %d; want 0\n%s%s", code, stdout, stderr)
			}
			sameBlocks(t, "covdist report d2", parseProfile(t, "r2.out"), parseProfile(t, "g2.out"))

			// A directory and a text profile merge in one command.
			code, stdout, stderr = covdist("merge", "--cov-report=out:mixed.out", "d1", "g2.out")
			if code != exitOK {
				t.Fatalf("covdist merge d1 g2.out: exit %d; want 0\n%s%s", code, stdout, stderr)
			}
			sameBlocks(t, "covdist merge d1 g2.out", parseProfile(t, "mixed.out"), want)
		})
	}
}

// noControl fails t if msg holds a control byte (other than its newlines)
// or invalid UTF-8: bytes of a binary file that reached the message.
func noControl(t *testing.T, msg string) {
	t.Helper()
	if !utf8.ValidString(msg) {
		t.Errorf("message is not valid UTF-8: %q", msg)
	}
	for _, r := range msg {
		if r != '\n' && unicode.IsControl(r) {
			t.Errorf("message holds control character %U: %q", r, msg)
			return
		}
	}
	if strings.Contains(msg, `\x00`) {
		t.Errorf("message quotes the file's bytes: %q", msg)
	}
}

// copyDir copies the files of src into a new directory dst.
func copyDir(t *testing.T, src, dst string, keep func(name string) bool) {
	t.Helper()
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !keep(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fileIn returns the path of d's one file whose name starts with prefix.
func fileIn(t *testing.T, d, prefix string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d, prefix+"*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s* file in %s", prefix, d)
	}
	return m[0]
}

func truncate(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
}

// Bad GOCOVERDIR input is exit 2 with an error that names it and says
// what to do, without a byte of the binary files in it.
func TestMergeGoCoverDirErrorsE2E(t *testing.T) {
	coverDirs(t, "set")
	keepAll := func(string) bool { return true }

	if err := os.Mkdir("empty", 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join("empty", "notes.txt"), []byte("no coverage here\n"), 0o644)

	copyDir(t, "d1", "nometa", func(n string) bool { return strings.HasPrefix(n, "covcounters.") })
	orphan := fileIn(t, "nometa", "covcounters.")

	copyDir(t, "d1", "badmeta", keepAll)
	badMeta := fileIn(t, "badmeta", "covmeta.")
	truncate(t, badMeta)

	copyDir(t, "d2", "badcounters", keepAll)
	badCounters := fileIn(t, "badcounters", "covcounters.")
	truncate(t, badCounters)

	// A counter file renamed is still known by its first bytes.
	b, err := os.ReadFile(fileIn(t, "d2", "covcounters."))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("renamed.bin", b, 0o644)

	os.WriteFile("count.out", []byte("mode: count\nexample.com/prog/lib/lib.go:15.19,15.31 1 4\n"), 0o644)

	tests := []struct {
		name  string
		args  []string
		names string   // the input the error must name
		want  []string // what else it must say
	}{
		{"no covmeta files", []string{"merge", "d1", "empty"}, "empty", []string{"holds no Go coverage data (covmeta.* files): is it a GOCOVERDIR?"}},
		{"counters without meta", []string{"merge", "nometa"}, orphan, []string{"covmeta."}},
		{"truncated meta", []string{"merge", "d2", "badmeta"}, badMeta, nil},
		{"truncated counters", []string{"merge", "d1", "badcounters"}, badCounters, nil},
		{"covcounters file alone", []string{"merge", "d1", fileIn(t, "d2", "covcounters.")}, fileIn(t, "d2", "covcounters."), []string{"pass its directory", "d2"}},
		{"covmeta file alone", []string{"report", fileIn(t, "d1", "covmeta.")}, fileIn(t, "d1", "covmeta."), []string{"pass its directory", "d1"}},
		{"renamed counter file", []string{"merge", "renamed.bin"}, "renamed.bin", []string{"pass its directory"}},
		{"mode clash with a text profile", []string{"merge", "d1", "count.out"}, "count.out", []string{"d1", "mode clash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := covdist(tt.args...)
			if code != exitUsage {
				t.Errorf("covdist %s: exit %d; want %d\nstderr:\n%s", strings.Join(tt.args, " "), code, exitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout: got %q; want nothing", stdout)
			}
			for _, w := range append([]string{tt.names}, tt.want...) {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			noControl(t, stderr)
		})
	}
}
