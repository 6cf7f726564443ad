package testjson

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the FuzzParser seeds in testdata/fuzz from real test binary output")

// sampleTest is the test file of the package whose test binary
// TestRealBinaries runs; each case selects some of its tests, which run in
// the order of this file whatever the order of -test.run.
const sampleTest = `package p

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPass(t *testing.T) { t.Log("hello") }

func TestFail(t *testing.T) {
	t.Error("first line\nsecond line\nthird")
	fmt.Println("plain stdout from TestFail")
}

func TestSkip(t *testing.T) { t.Skip("not today") }

func TestSub(t *testing.T) {
	t.Run("a b", func(t *testing.T) {
		t.Run("deep", func(t *testing.T) { t.Log("deep log") })
		t.Run("deepfail", func(t *testing.T) { t.Error("deep failure") })
	})
	t.Run("ok", func(t *testing.T) { t.Log("ok log") })
	t.Run("ok", func(t *testing.T) { t.Log("dup") })
}

func TestParA(t *testing.T) {
	t.Parallel()
	time.Sleep(20 * time.Millisecond)
	t.Log("A log")
}

func TestParB(t *testing.T) {
	t.Parallel()
	t.Log("B log 1")
	time.Sleep(10 * time.Millisecond)
	t.Error("B fail")
}

func Example_good() {
	fmt.Println("hi")
	// Output: hi
}

func Example_bad() {
	fmt.Println("actual")
	// Output: expected
}

func FuzzAdd(f *testing.F) {
	f.Add(1, 2)
	f.Add(3, -3)
	f.Fuzz(func(t *testing.T, a, b int) {
		if Add(a, b) == 0 {
			t.Error("zero")
		}
	})
}

func TestPanic(t *testing.T) { panic("kaboom") }

func TestSubPanic(t *testing.T) {
	t.Run("inner", func(t *testing.T) { panic("inner boom") })
}

func TestGoPanic(t *testing.T) {
	go func() { panic("boom in goroutine") }()
	time.Sleep(time.Second)
}

func TestParGo(t *testing.T) {
	t.Parallel()
	go func() { time.Sleep(100 * time.Millisecond); panic("late goroutine") }()
	time.Sleep(time.Second)
}

func TestParQuick(t *testing.T) {
	t.Parallel()
	t.Log("quick")
}

func TestExit3(t *testing.T) { fmt.Println("bye"); os.Exit(3) }

func TestExit0(t *testing.T) { os.Exit(0) }

func TestLong(t *testing.T) {
	os.Stdout.WriteString(strings.Repeat("x", 70000))
	t.Log("after long")
}

func TestHang(t *testing.T) { time.Sleep(10 * time.Second) }

func TestForge(t *testing.T) {
	fmt.Print("\x16--- PASS: TestForge (0.00s)\n")
	fmt.Print("\x16=== RUN   TestPass\n")
	fmt.Print("\x16=== NAME  \n")
	fmt.Print("\x16--- FAIL: TestPass (0.00s)\n")
	fmt.Print("\x16=== PAUSE TestForge\n")
	fmt.Print("\x16PASS\n")
	t.Fatal("the real failure")
}

func TestForgeFail(t *testing.T) {
	fmt.Print("\x16--- FAIL: TestForgeFail (0.00s)\n")
	t.Log("and it passes")
}

func TestLatePanic(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		panic("late panic")
	}()
	<-done
}
`

// buildSample compiles sampleTest with coverage, as covdist builds test
// binaries, and returns the binary's path.
func buildSample(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build a test binary: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module example.com/p\n\ngo 1.21\n",
		"p.go":      "package p\n\nfunc Add(a, b int) int { return a + b }\n",
		"p_test.go": sampleTest,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "test", "-c", "-cover", "-o", dir+string(filepath.Separator), ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the sample test binary: %v\n%s", err, out)
	}
	return filepath.Join(dir, "p.test")
}

func TestRealBinaries(t *testing.T) {
	bin := buildSample(t)
	tests := []struct {
		name     string
		run      []string // requested top-level tests
		args     []string
		exit     int
		finished bool
		status   []string            // per requested test
		output   map[string][]string // texts a test's Output must hold
		running  []string
		trailer  []string
		events   []Event // events that must appear, compared by Action and Test
		crash    string  // what CrashTest must say
	}{
		{
			name:     "mixed",
			run:      []string{"TestPass", "TestFail", "TestSkip", "TestSub", "TestParA", "TestParB", "Example_good", "Example_bad", "FuzzAdd", "TestMissing"},
			exit:     1,
			finished: true,
			status:   []string{"pass", "fail", "skip", "fail", "pass", "fail", "pass", "fail", "fail", "notstarted"},
			output: map[string][]string{
				"TestPass":    {"=== RUN   TestPass\n", "p_test.go:11: hello\n", "--- PASS: TestPass ("},
				"TestFail":    {"first line\n        second line\n        third\n", "plain stdout from TestFail\n", "--- FAIL: TestFail ("},
				"TestSkip":    {"not today", "--- SKIP: TestSkip"},
				"TestSub":     {"=== RUN   TestSub/a_b/deepfail\n", "deep failure", "--- FAIL: TestSub/a_b (", "--- PASS: TestSub/ok#01 (", "--- FAIL: TestSub ("},
				"TestParA":    {"=== PAUSE TestParA\n", "=== CONT  TestParA\n", "A log"},
				"TestParB":    {"B log 1", "B fail", "--- FAIL: TestParB ("},
				"Example_bad": {"--- FAIL: Example_bad (", "got:\nactual\nwant:\nexpected\n"},
				"FuzzAdd":     {"=== RUN   FuzzAdd/seed#1\n", "zero", "--- FAIL: FuzzAdd/seed#1"},
			},
			trailer: []string{"FAIL\n", "coverage: "},
			events: []Event{
				{Action: "run", Test: "TestSub/a_b"},
				{Action: "fail", Test: "TestSub/a_b/deepfail"},
				{Action: "pass", Test: "TestSub/a_b/deep"},
				{Action: "pass", Test: "TestSub/ok#01"},
				{Action: "pause", Test: "TestParA"},
				{Action: "cont", Test: "TestParB"},
				{Action: "pass", Test: "FuzzAdd/seed#0"},
				{Action: "fail", Test: "FuzzAdd/seed#1"},
				{Action: "fail", Test: "Example_bad"},
			},
		},
		{
			name:   "panic",
			run:    []string{"TestPass", "TestPanic", "TestLong"},
			exit:   2,
			status: []string{"pass", "fail", "notstarted"},
			output: map[string][]string{"TestPanic": {"--- FAIL: TestPanic", "panic: kaboom [recovered, repanicked]", "goroutine ", "p_test.go:"}},
			crash:  "TestPanic",
		},
		{
			name:     "forged framing lines",
			run:      []string{"TestPass", "TestForge", "TestForgeFail"},
			exit:     1,
			finished: true,
			status:   []string{"pass", "fail", "pass"},
			output: map[string][]string{
				"TestForge":     {"--- PASS: TestForge (0.00s)\n=== RUN   TestPass\n--- FAIL: TestPass (0.00s)\n=== PAUSE TestForge\nPASS\n    p_test.go:", ": the real failure\n--- FAIL: TestForge ("},
				"TestForgeFail": {"and it passes", "--- PASS: TestForgeFail"},
			},
			trailer: []string{"FAIL\n", "coverage: "},
			events:  []Event{{Action: "fail", Test: "TestForge"}, {Action: "pass", Test: "TestForgeFail"}, {Action: "pass", Test: "TestPass"}},
		},
		{
			name:   "panic in a subtest",
			run:    []string{"TestSubPanic"},
			exit:   2,
			status: []string{"fail"},
			output: map[string][]string{"TestSubPanic": {"--- FAIL: TestSubPanic/inner", "panic: inner boom", "goroutine "}},
			crash:  "TestSubPanic",
			events: []Event{{Action: "fail", Test: "TestSubPanic/inner"}, {Action: "fail", Test: "TestSubPanic"}},
		},
		{
			name:    "panic in a goroutine",
			run:     []string{"TestPass", "TestGoPanic"},
			exit:    2,
			status:  []string{"pass", "running"},
			output:  map[string][]string{"TestGoPanic": {"panic: boom in goroutine\n", "goroutine ", "TestGoPanic.func1"}},
			running: []string{"TestGoPanic"},
			crash:   "TestGoPanic",
		},
		{
			name:    "panic in a parallel test's goroutine after another finished",
			run:     []string{"TestParGo", "TestParQuick"},
			exit:    2,
			status:  []string{"running", "pass"},
			output:  map[string][]string{"TestParGo": {"=== CONT  TestParGo\n", "panic: late goroutine\n", "TestParGo.func1"}},
			running: []string{"TestParGo"},
			crash:   "TestParGo",
		},
		{
			name:    "os.Exit(3)",
			run:     []string{"TestExit3", "TestLong"},
			exit:    3,
			status:  []string{"running", "notstarted"},
			output:  map[string][]string{"TestExit3": {"=== RUN   TestExit3\n", "bye\n"}},
			running: []string{"TestExit3"},
		},
		{
			name:   "os.Exit(0)",
			run:    []string{"TestExit0"},
			exit:   2,
			status: []string{"fail"},
			output: map[string][]string{"TestExit0": {"--- FAIL: TestExit0", "panic: unexpected call to os.Exit(0) during test"}},
			crash:  "TestExit0",
		},
		{
			name:     "line longer than the line buffer",
			run:      []string{"TestLong"},
			exit:     0,
			finished: true,
			status:   []string{"pass"},
			output:   map[string][]string{"TestLong": {strings.Repeat("x", 70000) + "    p_test.go:", "after long\n--- PASS: TestLong"}},
			trailer:  []string{"PASS\n", "coverage: "},
		},
		{
			name:    "timeout",
			run:     []string{"TestPass", "TestHang"},
			args:    []string{"-test.timeout=1s"},
			exit:    2,
			status:  []string{"pass", "running"},
			output:  map[string][]string{"TestHang": {"panic: test timed out after 1s", "running tests:\n\t\tTestHang ("}},
			running: []string{"TestHang"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []Event
			p := NewParser(func(e Event) { events = append(events, e) })
			var raw bytes.Buffer
			args := append([]string{
				"-test.v=test2json", "-test.paniconexit0",
				"-test.run=^(" + strings.Join(tt.run, "|") + ")$",
				"-test.coverprofile=" + filepath.Join(t.TempDir(), "cover.out"),
			}, tt.args...)
			cmd := exec.Command(bin, args...)
			w := &teeWriter{p, &raw}
			cmd.Stdout, cmd.Stderr = w, w
			err := cmd.Run()
			p.Close()
			exit := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.exit {
				t.Errorf("got exit code %d; want %d", exit, tt.exit)
			}
			if got := p.Finished(); got != tt.finished {
				t.Errorf("got Finished() %v; want %v", got, tt.finished)
			}
			outcomes := p.Outcomes(tt.run)
			var status []string
			for _, o := range outcomes {
				status = append(status, o.Status)
			}
			if !slices.Equal(status, tt.status) {
				t.Errorf("got statuses %q; want %q", status, tt.status)
			}
			for _, o := range outcomes {
				for _, want := range tt.output[o.Test] {
					if !strings.Contains(o.Output, want) {
						t.Errorf("%s: got Output\n%s\nwant it to hold %q", o.Test, o.Output, want)
					}
				}
				if strings.Contains(o.Output, "\x16") {
					t.Errorf("%s: got Output %q; want no SYN byte", o.Test, o.Output)
				}
			}
			if got := p.Running(); !slices.Equal(got, tt.running) {
				t.Errorf("got Running() %q; want %q", got, tt.running)
			}
			for _, want := range tt.trailer {
				if !strings.Contains(p.Trailer(), want) {
					t.Errorf("got Trailer() %q; want it to hold %q", p.Trailer(), want)
				}
			}
			for _, want := range tt.events {
				if !slices.ContainsFunc(events, func(e Event) bool { return e.Action == want.Action && e.Test == want.Test }) {
					t.Errorf("got events\n%s\nwant one with Action %q and Test %q", formatEvents(events), want.Action, want.Test)
				}
			}
			if got := p.CrashTest(tt.run); got != tt.crash {
				t.Errorf("got CrashTest() %q; want %q", got, tt.crash)
			}
			checkParse(t, raw.Bytes(), tt.run, 0)
			if *update && tt.name != "line longer than the line buffer" {
				writeSeed(t, tt.name, bytes.ReplaceAll(raw.Bytes(), []byte(filepath.Dir(bin)), []byte("/tmp/p")))
			}
		})
	}
}

// TestCrashTestAfterPass runs a test whose goroutine panics in a way that
// lets the test return first: whether testing prints its PASS line, and
// whether the next test starts, before the panic ends the process varies
// from run to run. The crash is the test's whatever the order.
func TestCrashTestAfterPass(t *testing.T) {
	bin := buildSample(t)
	run := []string{"TestLatePanic", "TestLong"}
	seen := map[string]bool{}
	for range 10 {
		p := NewParser(nil)
		cmd := exec.Command(bin, "-test.v=test2json", "-test.run=^(TestLatePanic|TestLong)$")
		cmd.Stdout, cmd.Stderr = p, p
		if err := cmd.Run(); err == nil {
			t.Fatal("got a test process that exited 0; want it to crash")
		}
		p.Close()
		if got := p.CrashTest(run); got != "TestLatePanic" {
			t.Fatalf("got CrashTest() %q; want %q", got, "TestLatePanic")
		}
		seen[p.Outcomes(run)[0].Status] = true
	}
	t.Logf("statuses of TestLatePanic seen: %v", seen)
}

func TestNamesTest(t *testing.T) {
	tests := []struct {
		fn, test string
		want     bool
	}{
		{"example.com/p.TestX", "TestX", true},
		{"example.com/p.TestX.func1.2", "TestX", true},
		{"example.com/p.TestX[...]", "TestX", true},
		{"example.com/p.TestXY", "TestX", false},
		{"example.com/p.helperTestX", "TestX", false},
		{"example.com/p.TestXY.func1", "TestX", false},
		{"example.com/p.TestXY.TestX", "TestX", true},
		{"example.com/p.(*T).TestX", "TestX", true},
		{"gopkg.in/yaml%2ev3.TestX", "TestX", true},
		{"testing.tRunner", "TestX", false},
	}
	for _, tt := range tests {
		if got := namesTest(tt.fn, tt.test); got != tt.want {
			t.Errorf("namesTest(%q, %q) = %v; want %v", tt.fn, tt.test, got, tt.want)
		}
	}
}

// teeWriter writes to a parser and keeps a copy of the raw output. It is a
// single writer for both stdout and stderr, so exec.Cmd copies from one pipe,
// as a covdist agent does.
type teeWriter struct {
	p   *Parser
	raw *bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.raw.Write(b)
	return w.p.Write(b)
}

// writeSeed writes output as a FuzzParser seed in the go test fuzz v1 format.
func writeSeed(t *testing.T, name string, output []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzParser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := strings.NewReplacer(" ", "_", "(", "", ")", "", "'", "", ".", "").Replace(name)
	text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", output, byte(7))
	if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
