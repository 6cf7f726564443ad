package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// progressModule writes a module of two packages: one with a test that
// runs for longer than the status line waits before naming it, and one
// of three quick tests.
func progressModule(t *testing.T, sleep string) string {
	t.Helper()
	return writeModule(t, map[string]string{
		"go.mod":      "module example.com/progress\n\ngo 1.24\n",
		"a/a.go":      "package a\n\nfunc A() int { return 1 }\n",
		"a/a_test.go": "package a\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestLong(t *testing.T) { time.Sleep(" + sleep + "); A() }\nfunc TestQuickA(t *testing.T) {}\n",
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestB1(t *testing.T) {}\nfunc TestB2(t *testing.T) {}\nfunc TestB3(t *testing.T) {}\n",
	})
}

// underTerminal runs covdist under a pseudo-terminal (util-linux's
// script) and returns all it wrote there, status line redraws included.
func underTerminal(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("this test needs util-linux's script for a pseudo-terminal: %v", err)
	}
	log := filepath.Join(t.TempDir(), "tty.log")
	cmdline := buildCovdist(t) + " " + strings.Join(args, " ")
	cmd := exec.Command("script", "-qfec", cmdline, log)
	cmd.Dir = dir
	vars, err := hostGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	// The durations covdist remembers are kept apart, the build cache not.
	cmd.Env = append(os.Environ(), append([]string{"XDG_CACHE_HOME=" + t.TempDir(), "GOCACHE=" + vars["GOCACHE"]}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s under a terminal: %v\n%s", cmdline, err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// On a terminal the status line counts every test from the start (the
// total is never the count of tests listed so far), and names a test that
// has run for more than a few seconds.
func TestStatusLineOnTerminal(t *testing.T) {
	dir := progressModule(t, "7*time.Second")
	out := underTerminal(t, dir, []string{"CI="}, "-n", "2", "./...")
	statuses := regexp.MustCompile(`\[(\d+)/(\d+)\] \d+%`).FindAllStringSubmatch(out, -1)
	if len(statuses) == 0 {
		t.Fatalf("no status line on the terminal:\n%q", out)
	}
	for _, m := range statuses {
		if m[2] != "5" {
			t.Errorf("status line [%s/%s]: want every status out of the 5 tests the run has, from its start\n%q", m[1], m[2], out)
			break
		}
	}
	if !regexp.MustCompile(`running TestLong [5-9]s`).MatchString(out) {
		t.Errorf("the status line never named TestLong, which runs for 7s:\n%q", out)
	}
	if !strings.Contains(out, "ok  \texample.com/progress/b\t") {
		t.Errorf("no line for the finished package b, as go test prints:\n%q", out)
	}
}

// A CI job's log keeps every byte: with CI set, even under a
// pseudo-terminal, no status line is redrawn; the packages' lines say the
// run is alive.
func TestNoStatusLineInCI(t *testing.T) {
	dir := progressModule(t, "0")
	out := underTerminal(t, dir, []string{"CI=true"}, "-n", "2", "./...")
	if strings.Contains(out, "\x1b[K") {
		t.Errorf("CI=true under a terminal: got status line redraws (\\r\\x1b[K); want none\n%q", out)
	}
	for _, pkg := range []string{"a", "b"} {
		if !strings.Contains(out, "ok  \texample.com/progress/"+pkg+"\t") {
			t.Errorf("no line for the finished package %s:\n%q", pkg, out)
		}
	}
}
