package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covdist/covdist/internal/sshtest"
)

// lateCrashModule is a package whose TestBoom lets its goroutine panic in a
// way that lets the test return first: the deferred close runs while the
// goroutine panics, TestBoom returns and testing may print its PASS line,
// and the next test may start, before the panic ends the process. go test
// fails the package every time; so must covdist, whatever the order.
//
// Its TestMain waits before it exits: without that, Go's own runtime lets
// os.Exit(0) win over the panicking goroutine now and then (4 runs in 900
// of the bare test binary, six at once on two cores: exit 0, PASS, no
// panic text), where go test reports a pass as well and no tool could
// tell. With it the panic always ends the process, after the tests' PASS
// lines or while a later test runs, which is the race covdist must win.
func lateCrashModule(t *testing.T) string {
	return writeModule(t, map[string]string{
		"go.mod":       "module example.com/late\n\ngo 1.26\n",
		"late/late.go": "package late\n\nfunc F(n int) int {\n\tif n > 0 {\n\t\treturn n\n\t}\n\treturn -n\n}\n",
		"late/late_test.go": `package late

import (
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	time.Sleep(time.Second)
	os.Exit(code)
}

func TestA(t *testing.T) { F(1) }

func TestBoom(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		panic("boom in a goroutine")
	}()
	<-done
}

func TestC(t *testing.T) { F(-1) }
func TestD(t *testing.T) { F(2) }
`,
	})
}

// checkLateCrash checks one run of lateCrashModule: exit 1, the package
// failed with the panic shown, and every test reported exactly once.
func checkLateCrash(t *testing.T, r runResult, events string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("got exit %d; want 1 (the package's process crashed)\n%s", r.code, r.out)
	}
	for _, want := range []string{"panic: boom in a goroutine", "late.TestBoom.func1", "FAIL\texample.com/late/late"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("want %q in the output:\n%s", want, r.out)
		}
	}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Action, Test, Package string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		if e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip") {
			ends[e.Test]++
		}
	}
	for _, name := range []string{"TestA", "TestBoom", "TestC", "TestD"} {
		if ends[name] != 1 {
			t.Fatalf("got %d final events for %s in --json; want 1 (%v)\n%s", ends[name], name, ends, r.out)
		}
	}
}

func TestCrashAfterPassE2E(t *testing.T) {
	mod := lateCrashModule(t)
	for i := range 20 {
		events := filepath.Join(t.TempDir(), "events.json")
		r := runCovdistWithin(t, 2*time.Minute, mod, "-n", "2", "--json="+events, "./...")
		checkLateCrash(t, r, events)
		if t.Failed() {
			t.Fatalf("run %d of 20", i+1)
		}
	}
}

func TestRemoteCrashAfterPassE2E(t *testing.T) {
	srv := sshtest.Start(t)
	mod := lateCrashModule(t)
	spec := "--tx=2*ssh=sshtest//ssh_config=" + srv.Config
	for i := range 6 {
		events := filepath.Join(t.TempDir(), "events.json")
		r := runCovdistWithin(t, 2*time.Minute, mod, spec, "--json="+events, "./...")
		checkLateCrash(t, r, events)
		if t.Failed() {
			t.Fatalf("run %d of 6\nsshd log:\n%s", i+1, srv.LogText())
		}
	}
}
