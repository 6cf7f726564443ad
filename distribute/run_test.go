package distribute_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/distribute/agent"
	"github.com/covdist/covdist/distribute/wire"
)

// fixture builds a real coverage-instrumented test binary once.
var fixture struct {
	once sync.Once
	bin  string
	dir  string
	err  error
}

const fixtureSrc = `package fx

import "time"

func Fast(i int) int { return i + 1 }

// OnlySlow is called by TestSlow alone: its coverage proves a rerun counted.
func OnlySlow() int {
	time.Sleep(1500 * time.Millisecond)
	return 42
}
`

const fixtureTest = `package fx

import "testing"

func TestA(t *testing.T)    { Fast(1) }
func TestB(t *testing.T)    { Fast(2) }
func TestC(t *testing.T)    { Fast(3) }
func TestSlow(t *testing.T) { if OnlySlow() != 42 { t.Fatal("bad") } }
func TestD(t *testing.T)    { Fast(4) }
`

func buildFixture(t *testing.T) (bin, dir string) {
	t.Helper()
	fixture.once.Do(func() {
		root, err := os.MkdirTemp("", "covdist-runtest-")
		if err != nil {
			fixture.err = err
			return
		}
		fixture.dir = filepath.Join(root, "fx")
		files := map[string]string{"go.mod": "module example.com/fx\n\ngo 1.22\n", "fx.go": fixtureSrc, "fx_test.go": fixtureTest}
		os.MkdirAll(fixture.dir, 0o755)
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(fixture.dir, name), []byte(src), 0o644); err != nil {
				fixture.err = err
				return
			}
		}
		fixture.bin = filepath.Join(root, "fx.test")
		cmd := exec.Command("go", "test", "-c", "-cover", "-covermode=set", "-o", fixture.bin, ".")
		cmd.Dir = fixture.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fixture.err = fmt.Errorf("building fixture: %v\n%s", err, out)
		}
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.bin, fixture.dir
}

// pipeGateway runs the real agent in-process over pipes. Its first cut
// streams are closed after cutAfter, like a worker dying mid-run (or,
// with silent, go quiet both ways cutAfter after the first unit is sent,
// as a cut link does, and close nothing); after deadAfter opens, Open
// fails, like a host that is gone.
type pipeGateway struct {
	mu        sync.Mutex
	opens     int
	cuts      int
	cutAfter  time.Duration
	silent    bool
	deadAfter int // 0: never
}

type duplex struct {
	io.Reader
	io.Writer
	closers []io.Closer
}

func (d *duplex) Close() error {
	for _, c := range d.closers {
		c.Close()
	}
	return nil
}

func (g *pipeGateway) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	g.mu.Lock()
	g.opens++
	n := g.opens
	cut := g.cuts > 0
	if cut {
		g.cuts--
	}
	g.mu.Unlock()
	if g.deadAfter != 0 && n > g.deadAfter {
		return nil, fmt.Errorf("host unreachable (open %d)", n)
	}
	toAgentR, toAgentW := io.Pipe()
	fromAgentR, fromAgentW := io.Pipe()
	go func() {
		agent.Serve(ctx, toAgentR, fromAgentW, agent.Options{Version: "test"})
		fromAgentW.Close()
	}()
	s := &duplex{Reader: fromAgentR, Writer: toAgentW, closers: []io.Closer{toAgentW, fromAgentR, toAgentR, fromAgentW}}
	switch {
	case cut && g.silent:
		return &cutLink{duplex: s, after: g.cutAfter, cut: make(chan struct{}), closed: make(chan struct{})}, nil
	case cut:
		time.AfterFunc(g.cutAfter, func() { s.Close() })
	}
	return s, nil
}

// cutLink is a stream whose link is cut once cut closes: what each side
// sends from then on is lost (a kernel's buffers take it), nothing
// arrives, and neither side's stream ends until it is closed.
type cutLink struct {
	*duplex
	after   time.Duration // from the first unit sent to the cut
	running sync.Once
	cut     chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (l *cutLink) Read(b []byte) (int, error) {
	select {
	case <-l.cut:
	default:
		n, err := l.duplex.Read(b)
		select {
		case <-l.cut:
		default:
			return n, err
		}
	}
	// Whatever the agent sends is lost; its writes must not block.
	go io.Copy(io.Discard, l.duplex.Reader)
	<-l.closed
	return 0, io.ErrClosedPipe
}

func (l *cutLink) Write(b []byte) (int, error) {
	select {
	case <-l.cut:
		return len(b), nil
	default:
	}
	n, err := l.duplex.Write(b)
	// wire.Conn writes a frame at a time: its fifth byte is its kind.
	if len(b) > 4 && wire.Kind(b[4]) == wire.KindRun {
		l.running.Do(func() { time.AfterFunc(l.after, func() { close(l.cut) }) })
	}
	return n, err
}

func (l *cutLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.duplex.Close()
}

func (g *pipeGateway) String() string { return "pipe-test" }

type recorder struct {
	results []distribute.Result
	events  []distribute.Event
	down    int
	downs   []string        // the down events' reasons
	failed  map[string]bool // by package, as PackageDone said
	notes   []string
	// buildFailed holds the packages BuildFailed was called for.
	buildFailed map[string]bool
}

func (r *recorder) Event(e distribute.Event)     { r.events = append(r.events, e) }
func (r *recorder) Result(res distribute.Result) { r.results = append(r.results, res) }
func (r *recorder) PackageDone(_, pkg string, failed bool, _ float64) {
	if r.failed == nil {
		r.failed = make(map[string]bool)
	}
	r.failed[pkg] = failed
}
func (r *recorder) Note(text string) { r.notes = append(r.notes, text) }
func (r *recorder) BuildFailed(_, pkg string, _ distribute.BuildFailure) {
	if r.buildFailed == nil {
		r.buildFailed = make(map[string]bool)
	}
	r.buildFailed[pkg] = true
}
func (r *recorder) Worker(w distribute.WorkerEvent) {
	if !w.Up {
		r.down++
		r.downs = append(r.downs, w.Info)
	}
}

func plan(bin, dir string, gws ...distribute.Gateway) *distribute.Plan {
	pl := &distribute.Platform{Name: "linux/amd64", Binaries: map[string]distribute.Binary{"example.com/fx": {Path: bin, Dir: dir}}}
	for _, n := range []string{"TestA", "TestB", "TestC", "TestSlow", "TestD"} {
		pl.Tests = append(pl.Tests, distribute.Test{Package: "example.com/fx", Name: n})
	}
	for i, g := range gws {
		pl.Workers = append(pl.Workers, distribute.Worker{ID: fmt.Sprintf("gw%d", i), Gateway: g})
	}
	return &distribute.Plan{Mode: distribute.Load, Platforms: []*distribute.Platform{pl}, CoverMode: "set",
		MaxRestarts: 4, Timeout: time.Minute, Boxed: true}
}

func statuses(rs []distribute.Result) map[string][]distribute.Status {
	m := make(map[string][]distribute.Status)
	for _, r := range rs {
		m[r.Test] = append(m[r.Test], r.Status)
	}
	return m
}

// A worker whose stream dies mid-test: the test runs again elsewhere (the
// link, not the test, failed once), every test is reported exactly once, and
// the rerun's coverage counts.
func TestWorkerDeathReschedules(t *testing.T) {
	bin, dir := buildFixture(t)
	dying := &pipeGateway{cuts: 1, cutAfter: 300 * time.Millisecond}
	healthy := &pipeGateway{}
	rec := &recorder{}
	out, err := distribute.Run(context.Background(), plan(bin, dir, dying, healthy), rec)
	if err != nil {
		t.Fatal(err)
	}
	got := statuses(rec.results)
	if len(got) != 5 {
		t.Fatalf("got results for %d tests; want 5: %v", len(got), got)
	}
	for name, ss := range got {
		if len(ss) != 1 || ss[0] != distribute.Passed {
			t.Errorf("%s: got statuses %v; want exactly one pass", name, ss)
		}
	}
	if rec.down < 1 || out.Restarts < 1 {
		t.Errorf("got %d down events, %d restarts; want the cut worker reported down and restarted", rec.down, out.Restarts)
	}
	terminal := map[string]int{}
	for _, e := range rec.events {
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			terminal[e.Test]++
		}
	}
	for name, n := range terminal {
		if n != 1 {
			t.Errorf("%s: got %d terminal events; want 1", name, n)
		}
	}
	files, _ := out.Coverage["linux/amd64"].Summary()
	var missing string
	for _, f := range files {
		missing += f.MissingString()
	}
	if missing != "" {
		t.Errorf("got missed lines %q; want everything covered, OnlySlow by the rerun", missing)
	}
}

// A platform whose only worker dies and cannot come back: every test is
// still reported once, the unfinished ones as not run, with the reason.
// The reconnects back off and are no restarts; the worker is given up
// after a few, with one line.
func TestDeadHostReportsNotRun(t *testing.T) {
	bin, dir := buildFixture(t)
	gone := &pipeGateway{cuts: 1, cutAfter: 300 * time.Millisecond, deadAfter: 1}
	rec := &recorder{}
	start := time.Now()
	out, err := distribute.Run(context.Background(), plan(bin, dir, gone), rec)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 5*time.Second || d > 20*time.Second {
		t.Errorf("the run took %s; want the reconnects spaced out over about 7s, then the worker given up", d.Round(100*time.Millisecond))
	}
	if out.Restarts != 1 {
		t.Errorf("got %d restarts; want 1, for the death: failed reconnects are none", out.Restarts)
	}
	if len(rec.downs) != 2 || !strings.Contains(rec.downs[1], "given up after 4 failed reconnects") {
		t.Errorf("got down events %q; want the death, then one line giving the worker up", rec.downs)
	}
	got := statuses(rec.results)
	if len(got) != 5 {
		t.Fatalf("got results for %d tests; want 5: %v", len(got), got)
	}
	notRun := 0
	for name, ss := range got {
		if len(ss) != 1 {
			t.Errorf("%s: got statuses %v; want exactly one", name, ss)
		}
		if ss[0] == distribute.NotRun {
			notRun++
		}
	}
	if notRun == 0 {
		t.Fatalf("got no test reported not run; want the ones the dead worker never finished: %v", got)
	}
	for _, r := range rec.results {
		if r.Status == distribute.NotRun && !strings.Contains(r.Reason, "no worker left") {
			t.Errorf("%s: got reason %q; want it to say no worker is left", r.Test, r.Reason)
		}
	}
	// Tests not run for want of a worker are no pass: go test would have
	// failed the package.
	if failed, done := rec.failed["example.com/fx"]; !done || !failed {
		t.Errorf("package done %v, failed %v; want it reported done and failed", done, failed)
	}
}

// A gateway that never opens is a run that could not happen.
func TestNoWorker(t *testing.T) {
	bin, dir := buildFixture(t)
	_, err := distribute.Run(context.Background(), plan(bin, dir, &pipeGateway{deadAfter: -1}), &recorder{})
	if err == nil || !strings.Contains(err.Error(), "no worker could run") {
		t.Fatalf("got %v; want ErrNoWorker", err)
	}
}

// A worker whose link goes quiet mid-run (a cut link, a stopped agent)
// ends no stream: the coordinator gives it up for its silence after about
// wire.PingTimeout, its test runs elsewhere, and the run ends.
func TestSilentWorkerGivenUp(t *testing.T) {
	bin, dir := buildFixture(t)
	quiet := &pipeGateway{cuts: 1, silent: true} // its first unit never reports back
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := &recorder{}
	start := time.Now()
	_, err := distribute.Run(ctx, plan(bin, dir, quiet, &pipeGateway{}), rec)
	if err != nil {
		t.Fatalf("got %v after %s; want the run to end by itself", err, time.Since(start).Round(time.Second))
	}
	got := statuses(rec.results)
	if len(got) != 5 {
		t.Fatalf("got results for %d tests; want 5: %v", len(got), got)
	}
	for name, ss := range got {
		if len(ss) != 1 || ss[0] != distribute.Passed {
			t.Errorf("%s: got statuses %v; want exactly one pass", name, ss)
		}
	}
	if len(rec.downs) == 0 || !strings.Contains(rec.downs[0], "no word from the agent") {
		t.Errorf("got down events %q; want the quiet worker given up for its silence", rec.downs)
	}
}
