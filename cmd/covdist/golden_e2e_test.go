package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/covdist/covdist/golden"
)

// TestGoldenTermE2E runs covdist in-process on the termtable fixture module
// with two real agent processes and compares its whole human output, the
// term table above all, with golden/testdata/e2e/term.txt. Run with -update
// to rewrite the file, then review the diff.
func TestGoldenTermE2E(t *testing.T) {
	vars, err := hostGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	// Keep the build cache, but not the durations covdist remembers in the
	// user cache dir, which are per machine.
	t.Setenv("GOCACHE", vars["GOCACHE"])
	t.Setenv("GOMODCACHE", vars["GOMODCACHE"])
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOWORK", "off")
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "termtable"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	var stdout, stderr bytes.Buffer
	code := run([]string{"-n", "2", "./..."}, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("covdist -n 2 ./... exited %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: got %q; want nothing", stderr.String())
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	// A line per finished package comes first, in the order they finish:
	// counted here, and out of the golden file.
	pkgLine := regexp.MustCompile(`(?m)^ok  \t\S+\t[0-9.]+s\n`)
	if n := len(pkgLine.FindAll(stdout.Bytes(), -1)); n != 3 {
		t.Errorf("got %d package lines; want one per package with tests, 3\n%s", n, stdout.String())
	}
	got := pkgLine.ReplaceAll(stdout.Bytes(), nil)
	got = regexp.MustCompile(`\(in [0-9.]+s on `).ReplaceAll(got, []byte("(in X.XXs on "))
	got = golden.Normalize(got,
		"platform "+runtime.GOOS+"/"+runtime.GOARCH+", "+strings.TrimSpace(string(goVersion)), "platform GOOS/GOARCH, GOVERSION")
	golden.Assert(t, "e2e/term.txt", got)
}
