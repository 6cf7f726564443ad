package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptE2E presses Ctrl-C (SIGINT to covdist alone, as a terminal's
// process group signal reaches covdist but not the agents, which have their
// own groups) while a test sleeps, and checks that covdist exits quickly
// and leaves no agent or test process behind.
func TestInterruptE2E(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("looks for processes in /proc")
	}
	vars, err := hostGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "covdist")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fixture, err := filepath.Abs(filepath.Join("..", "..", "testdata", "sleepy"))
	if err != nil {
		t.Fatal(err)
	}
	// covdist's binaries go under a TMPDIR of this test's own, so that the
	// processes found below are this run's and no one else's.
	tmpDir := filepath.Join(tmp, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "2", "./...")
	cmd.Dir = fixture
	cmd.Env = append(os.Environ(),
		"TMPDIR="+tmpDir,
		"GOCACHE="+vars["GOCACHE"],
		"GOMODCACHE="+vars["GOMODCACHE"],
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The -test.run argument tells the run from the -test.list before it.
	testProc := func() []int { return procsMatching(tmpDir, "covdistsleepy.test", "TestSleep") }
	agentProc := func() []int { return procsMatching(bin + " agent") }
	var seen []int
	t.Cleanup(func() {
		// Whatever the outcome, end what this test started.
		_ = cmd.Process.Kill()
		for _, pid := range append(seen, append(testProc(), agentProc()...)...) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		if ps := testProc(); len(ps) > 0 {
			seen = append(seen, ps...)
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("covdist exited (%v) before the sleeping test started\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sleeping test did not start within a minute\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}
	agents := agentProc()
	if len(agents) == 0 {
		var all []string
		for _, p := range procsMatching("agent") {
			all = append(all, cmdline(p))
		}
		t.Fatalf("no agent process (%s agent) while a test runs; agents: %q", bin, all)
	}
	seen = append(seen, agents...)
	// Let the test get into its sleep.
	time.Sleep(200 * time.Millisecond)

	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Logf("covdist exited %.2fs after SIGINT: %v", time.Since(sent).Seconds(), err)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("covdist exit after SIGINT: got %v; want a non-zero exit status", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("covdist still running 5s after SIGINT\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: got %q; want it to say the run was interrupted", stderr.String())
	}
	if strings.Contains(stdout.String(), "TOTAL") {
		t.Errorf("stdout holds a coverage table after an interrupted run:\n%s", stdout.String())
	}

	// Killed processes may take a moment to be reaped.
	var left []string
	for wait := time.Now().Add(time.Second); ; {
		left = nil
		for _, pid := range seen {
			if alive(pid) {
				left = append(left, strconv.Itoa(pid)+" ("+cmdline(pid)+")")
			}
		}
		for _, pid := range append(testProc(), agentProc()...) {
			left = append(left, strconv.Itoa(pid)+" ("+cmdline(pid)+")")
		}
		if len(left) == 0 || time.Now().After(wait) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes left after covdist exited:\n%s", strings.Join(left, "\n"))
	}
	if ms, _ := filepath.Glob(filepath.Join(tmpDir, "covdist-bin-*")); len(ms) > 0 {
		t.Errorf("covdist left its test binaries behind: %v", ms)
	}
	if ms, _ := filepath.Glob(filepath.Join(tmpDir, "covdist-agent-*")); len(ms) > 0 {
		t.Errorf("the agents left their work directories behind: %v", ms)
	}
}

// procsMatching returns the processes whose command line (arguments joined
// by spaces) contains every one of the strings.
func procsMatching(subs ...string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cl := cmdline(pid)
		match := cl != ""
		for _, s := range subs {
			match = match && strings.Contains(cl, s)
		}
		if match {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// alive reports whether pid is a live process: a zombie (ended, not yet
// reaped) does not count.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
