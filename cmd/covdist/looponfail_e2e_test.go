package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// -f end to end: the failing test alone runs again when its package's
// source changes; once it passes, every test runs; an edit to a file that
// is not watched (a report) starts nothing; Ctrl-C ends the loop with the
// last run's exit code.
func TestLoopOnFailE2E(t *testing.T) {
	bin := buildCovdist(t)
	mod := writeFiles(t, map[string]string{
		"go.mod":      "module example.com/lof\n\ngo 1.22\n",
		"a/a.go":      "package a\n\nfunc Two() int { return 3 }\n",
		"a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) { if Two() != 2 { t.Fatal(\"Two() != 2\") } }\nfunc TestOK(t *testing.T) {}\n",
		"b/b.go":      "package b\n\nfunc B() int { return 1 }\n",
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) { B() }\n",
	})
	cmd := exec.Command(bin, "-f", "-n", "2", "--cov-report=out:"+filepath.Join(mod, "cover.out"), "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	// until reads lines up to one containing want and returns those.
	until := func(want string) []string {
		t.Helper()
		var got []string
		deadline := time.After(90 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("covdist ended before %q:\n%s", want, strings.Join(append(seen, got...), "\n"))
				}
				got = append(got, l)
				if strings.Contains(l, want) {
					seen = append(seen, got...)
					return got
				}
			case <-deadline:
				t.Fatalf("no %q within 90s:\n%s", want, strings.Join(append(seen, got...), "\n"))
			}
		}
	}
	first := until("waiting for a change to run them again")
	if !contains(first, "2 passed, 1 failed, 0 skipped") || !contains(first, "1 not passed (example.com/lof/a)") {
		t.Fatalf("first run:\n%s", strings.Join(first, "\n"))
	}

	// A report written into the module is no change to the code.
	os.WriteFile(filepath.Join(mod, "cover.out"), []byte("mode: set\n"), 0o644)
	time.Sleep(time.Second)
	os.WriteFile(filepath.Join(mod, "a/a.go"), []byte("package a\n\nfunc Two() int { return 2 }\n"), 0o644)
	again := until("they pass now; running every test")
	if !contains(again, "a/a.go changed") || contains(again, "cover.out changed") {
		t.Errorf("want the run started by a/a.go alone:\n%s", strings.Join(again, "\n"))
	}
	if !contains(again, "1 passed, 0 failed, 0 skipped") {
		t.Errorf("want only the failing test run again:\n%s", strings.Join(again, "\n"))
	}
	full := until("all passed; waiting for a change to run every test again")
	if !contains(full, "3 passed, 0 failed, 0 skipped") || !contains(full, "Coverage profile written") {
		t.Errorf("want every test and the coverage profile:\n%s", strings.Join(full, "\n"))
	}

	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after Ctrl-C with the last run passed: %v; want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("covdist -f did not end within 10s of SIGINT")
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func writeFiles(t *testing.T, files map[string]string) string {
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
