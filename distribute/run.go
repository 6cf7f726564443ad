package distribute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
	"github.com/covdist/covdist/internal/timeline"
)

// ErrNoWorker is returned when no worker of a platform could ever start.
var ErrNoWorker = errors.New("no worker could run")

// deathsToBlame is how many worker deaths a test may be running through
// before it, not the transport, is blamed and reported as crashed.
const deathsToBlame = 2

// blamelessCrashes is how many times a package's process may crash with no
// test running (init, TestMain) before its pending tests are reported as crashed.
const blamelessCrashes = 2

// reconnectBackoff is how long a worker that was up waits after each
// failed reconnect in a row before it tries again; one more failure and
// it is given up. A host that is gone fails every reconnect at once, and
// retrying without pause would only spin.
var reconnectBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

type testKey struct{ platform, pkg, name string }

type testState struct {
	final    bool
	status   Status
	events   []Event // buffered until the outcome is known
	started  bool
	deaths   int
	worker   string
	elapsed  float64
	output   strings.Builder
	coverDue bool // reported, but its coverage is still to be collected
	heldFail bool // printed its --- FAIL line; final once its process ends
	// coverTries counts coverage-only reruns lost to another test's crash.
	coverTries int
	held       int // bytes of output held in events and output
	dropped    int // bytes of output left out past maxHeldOutput
	// quiet: not run because its package did not build, it gets no
	// synthesised events (go test writes none for such a test).
	quiet bool
}

// maxHeldOutput bounds the output held for one test until its outcome is
// known: a test printing hundreds of megabytes would otherwise cost the
// coordinator that much memory, and a reader that much to scroll through.
const maxHeldOutput = 8 << 20

type unit struct {
	id        int64
	platform  *Platform
	pkg       string
	binary    Binary
	tests     []string
	coverOnly map[string]bool
	isolated  bool
	worker    *workerState
	started   time.Time
	// For the timeline: when each top-level test's run event came, and
	// the latest end of a test span recorded.
	runAt   map[string]time.Time
	lastEnd time.Time
}

type workerState struct {
	Worker
	platform *Platform
	assign   chan *unit
	alive    bool
	busy     *unit
	gone     bool // given up on: not to be restarted
	everUp   bool
	conn     *wire.Conn
	gen      int // which connection; messages of an older one are stale
	failed   int // reconnects failed in a row since it was last up
	// cover is the coverage stream of the current connection: its agent's
	// deltas refer to the blocks it announced on it before.
	cover *coverage.Stream
}

type msgKind int

const (
	msgUp msgKind = iota
	msgEvent
	msgDone
	msgDead
	msgUnsyncable // a unit's package cannot be synced; the worker is fine
	msgReconnect  // a worker's backoff is over: start it again
	msgRefused    // a sync went ahead without entries the agent cannot name
)

type msg struct {
	kind  msgKind
	gen   int
	w     *workerState
	hello *wire.Hello
	event *wire.Event
	done  *wire.Done
	err   error
	conn  *wire.Conn
	unit  int64          // msgUnsyncable's
	sync  filesync.Stats // msgRefused's
}

type coordinator struct {
	expect      map[string]int // packages each platform's build announced
	arrived     map[string]int // packages that arrived, per platform
	syncs       *manifests
	syncBytes   atomic.Int64 // file content sent to remote workers
	syncWire    atomic.Int64 // frame bytes those syncs took
	ctx         context.Context
	feed        <-chan Arrival
	plan        *Plan
	rep         Reporter
	msgs        chan msg
	pools       map[string]*pool
	tests       map[testKey]*testState
	units       map[int64]*unit
	workers     []*workerState
	nextID      int64
	out         Outcome
	failures    int
	stopping    string // why no more units are dispatched
	restarts    int
	pkgLeft     map[[2]string]int
	pkgFail     map[[2]string]bool
	pkgStart    map[[2]string]time.Time
	blameless   map[[2]string]int
	pkgBlamed   map[[2]string]bool   // a test of the package was reported crashed
	pkgReported map[[2]string]bool   // PackageDone was called
	pkgNote     map[[2]string]string // a crash no test was blamed for yet
	pkgNoteOut  map[[2]string]string // that crash's output
	noWorker    error                // a platform none of whose workers ever came up
	refusedSeen map[string]bool      // gateway and path of each entry a note named
	overheadSum float64
	overheadN   int

	// stoppedByFailures says stopping is -x/--maxfail's: the one reason
	// for tests not run that does not fail their package.
	stoppedByFailures bool
	// over closes when Run returns: from then on no one reads msgs.
	// (ctx ends earlier on Ctrl-C, while Run still waits for the agents.)
	over chan struct{}
}

// Run runs the plan and returns its outcome. The error is only for a run
// that could not happen (no worker of some platform ever came up, or ctx
// ended); failing tests are in the outcome.
func Run(ctx context.Context, plan *Plan, rep Reporter) (*Outcome, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &coordinator{
		ctx:       ctx,
		over:      make(chan struct{}),
		feed:      plan.Feed,
		expect:    make(map[string]int),
		arrived:   make(map[string]int),
		syncs:     &manifests{sync: plan.Sync},
		plan:      plan,
		rep:       rep,
		msgs:      make(chan msg, 256),
		pools:     make(map[string]*pool),
		tests:     make(map[testKey]*testState),
		units:     make(map[int64]*unit),
		pkgLeft:   make(map[[2]string]int),
		pkgFail:   make(map[[2]string]bool),
		pkgStart:  make(map[[2]string]time.Time),
		blameless: make(map[[2]string]int),
		pkgBlamed: make(map[[2]string]bool), pkgReported: make(map[[2]string]bool), pkgNote: make(map[[2]string]string), pkgNoteOut: make(map[[2]string]string),
		out: Outcome{
			Coverage: make(map[string]*coverage.Profile),
			Counts:   make(map[Status]int),
		},
	}
	defer close(c.over)
	overhead := 0.03
	for _, pl := range plan.Platforms {
		p := newPool(plan.Mode, overhead)
		p.boxed = plan.Boxed
		c.pools[pl.Name] = p
		c.out.Coverage[pl.Name] = coverage.New(plan.CoverMode)
		if pl.Binaries == nil {
			pl.Binaries = make(map[string]Binary)
		}
		for _, t := range pl.Tests {
			c.addTest(pl, t.Package, t.Name)
		}
		for _, w := range pl.Workers {
			ws := &workerState{Worker: w, platform: pl}
			c.workers = append(c.workers, ws)
		}
	}
	for _, w := range c.workers {
		c.start(ctx, w)
	}
	err := c.loop(ctx)
	// Ask every agent to exit and wait a little for each to go, so no agent
	// outlives the run.
	waiting := 0
	for _, w := range c.workers {
		if w.assign != nil {
			close(w.assign)
			w.assign = nil
			if w.alive {
				waiting++
			}
		}
	}
	deadline := time.After(5 * time.Second)
	for waiting > 0 {
		select {
		case m := <-c.msgs:
			if m.kind == msgDead && m.gen == m.w.gen {
				waiting--
				if m.w.conn != nil {
					in, _ := m.w.conn.Bytes()
					c.out.BytesIn += in
					m.w.conn = nil
				}
			}
		case <-deadline:
			waiting = 0
		}
	}
	if c.overheadN > 0 {
		c.out.Overhead = c.overheadSum / float64(c.overheadN)
	}
	c.out.Restarts = c.restarts
	c.out.SyncBytes, c.out.SyncWire = c.syncBytes.Load(), c.syncWire.Load()
	return &c.out, err
}

// addTest collects one test, once, and queues it.
func (c *coordinator) addTest(pl *Platform, pkg, name string) {
	if c.collect(pl, pkg, name) {
		c.enqueue(pl.Name, pkg, name)
	}
}

// collect makes a test one to report; false when it already is.
func (c *coordinator) collect(pl *Platform, pkg, name string) bool {
	k := testKey{pl.Name, pkg, name}
	if _, dup := c.tests[k]; dup {
		return false
	}
	c.tests[k] = &testState{}
	c.pkgLeft[[2]string{pl.Name, pkg}]++
	return true
}

// arrive adds a package whose binary became ready during the run.
func (c *coordinator) arrive(a Arrival) {
	for _, pl := range c.plan.Platforms {
		if pl.Name != a.Platform {
			continue
		}
		if a.Expect > 0 {
			c.expect[pl.Name] = a.Expect
			return
		}
		c.arrived[pl.Name]++
		if a.NotRun != "" {
			// Its package never built here: reported, never queued.
			c.pkgFail[[2]string{pl.Name, a.Package}] = true
			if a.Build != nil {
				c.rep.BuildFailed(pl.Name, a.Package, *a.Build)
			}
			var fresh []string
			for _, t := range a.Tests {
				if c.collect(pl, a.Package, t) {
					fresh = append(fresh, t)
					c.tests[testKey{pl.Name, a.Package, t}].quiet = a.Build != nil
				}
			}
			for _, t := range fresh {
				c.finalize(pl.Name, a.Package, t, NotRun, "", a.NotRun, "")
			}
			if len(a.Tests) == 0 {
				c.rep.PackageDone(pl.Name, a.Package, true, 0)
			}
			return
		}
		pl.Binaries[a.Package] = a.Binary
		for _, t := range a.Tests {
			c.addTest(pl, a.Package, t)
		}
		if c.stopping != "" {
			// Collected after the run stopped: reported, never dropped.
			for _, t := range c.pools[pl.Name].drain() {
				c.finalize(pl.Name, t.Package, t.Name, NotRun, "", c.stopping, "")
			}
		}
		if len(a.Tests) == 0 {
			c.rep.PackageDone(pl.Name, a.Package, false, 0)
		}
		return
	}
}

// enqueue queues a test on its platform's pool, longest first by the
// duration remembered from earlier runs, or by a guess.
func (c *coordinator) enqueue(platform, pkg, test string) {
	if c.plan.Estimator != nil {
		if s, ok := c.plan.Estimator.Estimate(platform, pkg, test); ok {
			c.pools[platform].add(pkg, test, s)
			return
		}
	}
	c.pools[platform].addGuess(pkg, test)
}

// start opens a worker's gateway in its own goroutines.
func (c *coordinator) start(ctx context.Context, w *workerState) {
	w.assign = make(chan *unit, 1)
	w.alive = false
	w.cover = nil // a new agent announces its blocks anew
	w.gen++
	gen := w.gen
	assign := w.assign
	send := func(m msg) {
		m.gen, m.w = gen, w
		select {
		case c.msgs <- m:
		case <-c.over:
		}
	}
	tl := c.plan.Timeline
	go func() {
		opening := tl.Begin(w.ID, "open "+w.Gateway.String(), "worker")
		stream, err := w.Gateway.Open(ctx)
		opening.End(errArgs(err))
		if err != nil {
			send(msg{kind: msgDead, err: err})
			return
		}
		l := newLink(stream, send)
		shaking := tl.Begin(w.ID, "handshake", "worker")
		hello, err := wire.Handshake(l.conn, wire.Hello{Agent: c.plan.Version})
		if err == nil {
			err = c.checkPlatform(w, hello)
		}
		shaking.End(errArgs(err))
		if err != nil {
			l.fail(err)
			return
		}
		l.hear.Heard()
		var rs *remoteState
		if w.Remote {
			rs = &remoteState{root: hello.Dir, synced: make(map[string]bool), replies: make(chan frame, 4), link: l, send: send}
		}
		go l.ping()
		go l.read(rs)
		if rs != nil {
			pushing := tl.Begin(w.ID, "sync --rsyncdir", "sync")
			err := c.pushDirs(ctx, rs)
			pushing.End(errArgs(err))
			if err != nil {
				l.fail(err)
				return
			}
		}
		send(msg{kind: msgUp, hello: hello, conn: l.conn})
		// Units to run (synchronising what they need first, on a remote
		// worker), then a shutdown when assign closes.
		for u := range assign {
			args := u.platform.Args
			if c.plan.MaxFail == 1 && len(u.coverOnly) == 0 {
				// -x: a process stops at its first failure too, as go
				// test -failfast's does; what it did not start is
				// reported not run.
				args = append(slices.Clone(args), "-test.failfast")
			}
			run := &wire.Run{
				ID: u.id, Package: u.pkg, Tests: u.tests,
				Binary: u.binary.Path, Dir: u.binary.Dir,
				Args: args, Env: u.platform.Env, Exec: u.platform.Exec,
				Timeout: c.plan.Timeout, CoverMode: c.plan.CoverMode,
				CoverDir: c.plan.CoverMode != "" && coverDirWorks(u.platform.GoVersion),
			}
			if rs != nil {
				syncing := tl.Begin(w.ID, "sync "+u.pkg, "sync")
				bin, dir, err := c.prepare(ctx, rs, u)
				syncing.End(errArgs(err))
				var ue *unsyncableError
				if errors.As(err, &ue) {
					// The local tree's fault: the worker and its
					// stream are fine, and go on to the next unit.
					send(msg{kind: msgUnsyncable, unit: u.id, err: err})
					continue
				}
				if err != nil {
					l.fail(err)
					return
				}
				run.Binary, run.Dir = bin, dir
			}
			if err := l.conn.Send(wire.KindRun, run); err != nil {
				// The reader says why the stream broke.
				stream.Close()
				return
			}
		}
		_ = l.conn.Send(wire.KindShutdown, wire.Shutdown{})
		// The agent exits after a shutdown; give it a moment, then close.
		time.AfterFunc(5*time.Second, func() { stream.Close() })
	}()
}

func (c *coordinator) loop(ctx context.Context) error {
	for {
		c.dispatch()
		// Liveness first: it may report a dead platform's queue as not run,
		// which can finish the run.
		if err := c.checkLiveness(); err != nil {
			return err
		}
		if c.finished() {
			return c.noWorker
		}
		select {
		case <-ctx.Done():
			c.abandon("the run was interrupted")
			return ctx.Err()
		case m := <-c.msgs:
			c.handle(m)
		case a, ok := <-c.feed:
			if !ok {
				c.feed = nil
				continue
			}
			c.arrive(a)
		}
	}
}

func (c *coordinator) handle(m msg) {
	w := m.w
	if m.gen != w.gen {
		return // from a connection already handled as dead
	}
	switch m.kind {
	case msgUp:
		w.alive, w.everUp, w.conn, w.failed = true, true, m.conn, 0
		goos, goarch := m.hello.GOOS, m.hello.GOARCH
		if w.platform.GOOS != "" {
			// What its tests run as: a linux/386 platform's agent on an
			// amd64 host runs 386 binaries.
			goos, goarch = w.platform.GOOS, w.platform.GOARCH
		}
		info := fmt.Sprintf("%s/%s", goos, goarch)
		if v := w.platform.GoVersion; v != "" {
			info += " " + v // the toolchain its tests were built with
		}
		info += fmt.Sprintf(" pid %d cwd: %s", m.hello.PID, m.hello.Dir)
		c.rep.Worker(WorkerEvent{Worker: w.ID, Platform: w.platform.Name, Gateway: w.Gateway.String(), Up: true, Info: info})
	case msgEvent:
		c.onEvent(w, m.event)
	case msgDone:
		c.onDone(w, m.done)
	case msgDead:
		c.onDead(w, m.err)
	case msgUnsyncable:
		c.onUnsyncable(w, m.unit, m.err)
	case msgRefused:
		c.onRefused(w, m.sync)
	case msgReconnect:
		if w.gone || w.assign != nil {
			return
		}
		if c.stopping != "" {
			w.gone = true
			return
		}
		c.start(c.ctx, w)
	}
}

// onUnsyncable reports the tests of a package that cannot be synced to
// remote workers as not run, once: those of the unit that found out and
// those still pending on its platform. The worker is free for other work.
func (c *coordinator) onUnsyncable(w *workerState, id int64, err error) {
	u := c.units[id]
	if u == nil {
		return
	}
	delete(c.units, id)
	defer c.packageDone(u.platform.Name, u.pkg)
	c.unitEnded(u, "could not sync: "+err.Error())
	w.busy = nil
	pl := u.platform.Name
	for _, t := range u.tests {
		if u.coverOnly[t] {
			// Reported already; its coverage is given up with the package.
			if st := c.tests[testKey{pl, u.pkg, t}]; st != nil {
				st.coverDue = false
			}
			continue
		}
		c.finalize(pl, u.pkg, t, NotRun, w.ID, err.Error(), "")
	}
	for _, t := range c.pools[pl].drainPackage(u.pkg) {
		c.finalize(pl, u.pkg, t, NotRun, "", err.Error(), "")
	}
}

// dispatch gives every idle live worker a unit, if there is one.
func (c *coordinator) dispatch() {
	if c.stopping != "" {
		return
	}
	for _, w := range c.workers {
		if !w.alive || w.busy != nil {
			continue
		}
		p := c.pools[w.platform.Name]
		// More of this platform's work is on its way until as many
		// packages arrived as its build announced.
		exp, known := c.expect[w.platform.Name]
		p.arriving = c.feed != nil && (!known || c.arrived[w.platform.Name] < exp)
		b := p.next(c.live(w.platform))
		if b == nil {
			continue
		}
		c.nextID++
		u := &unit{id: c.nextID, platform: w.platform, pkg: b.pkg, binary: w.platform.Binaries[b.pkg], tests: b.tests,
			coverOnly: b.coverOnly, isolated: b.isolated, worker: w, started: time.Now()}
		c.units[u.id] = u
		w.busy = u
		c.out.Units++
		k := [2]string{w.platform.Name, b.pkg}
		if _, ok := c.pkgStart[k]; !ok {
			c.pkgStart[k] = time.Now()
			c.rep.Event(Event{Time: time.Now(), Action: "start", Package: b.pkg, Platform: w.platform.Name})
		}
		for _, t := range b.tests {
			if st := c.tests[testKey{w.platform.Name, b.pkg, t}]; st != nil && !b.coverOnly[t] {
				st.events, st.started, st.heldFail = nil, false, false
				st.output.Reset()
			}
		}
		w.assign <- u
	}
}

func (c *coordinator) live(p *Platform) int {
	n := 0
	for _, w := range c.workers {
		if w.platform == p && w.alive {
			n++
		}
	}
	return n
}

func (c *coordinator) finished() bool {
	if c.feed != nil {
		return false // more packages are on their way, to run or to report as not run
	}
	for _, w := range c.workers {
		if w.busy != nil {
			return false
		}
	}
	if c.stopping != "" {
		c.abandon(c.stopping)
		return true
	}
	for _, p := range c.pools {
		if !p.empty() {
			return false
		}
	}
	return true
}

// checkLiveness ends the run when pending work has no worker left to run it.
func (c *coordinator) checkLiveness() error {
	for _, pl := range c.plan.Platforms {
		if c.pools[pl.Name].empty() {
			continue
		}
		any, everUp := false, false
		for _, w := range c.workers {
			if w.platform != pl {
				continue
			}
			if !w.gone {
				any = true
			}
			everUp = everUp || w.everUp
		}
		if any {
			continue
		}
		reason := "no worker left to run it"
		for _, t := range c.pools[pl.Name].drain() {
			c.finalize(pl.Name, t.Package, t.Name, NotRun, "", reason, "")
		}
		if !everUp && c.noWorker == nil {
			// The run goes on: other platforms' tests still run, and this
			// one's packages still arriving are reported, not dropped.
			c.noWorker = fmt.Errorf("platform %s: %w", pl.Name, ErrNoWorker)
		}
	}
	return nil
}

// abandon reports every pending test of every platform as not run.
func (c *coordinator) abandon(reason string) {
	for _, pl := range c.plan.Platforms {
		for _, t := range c.pools[pl.Name].drain() {
			c.finalize(pl.Name, t.Package, t.Name, NotRun, "", reason, "")
		}
	}
	for _, u := range c.units {
		for _, t := range u.tests {
			if !u.coverOnly[t] {
				c.finalize(u.platform.Name, u.pkg, t, NotRun, "", reason, "")
			}
		}
	}
}

func (c *coordinator) onEvent(w *workerState, e *wire.Event) {
	u := c.units[e.Unit]
	if u == nil || e.Test == "" {
		return // process-level output: part of the unit's trailer
	}
	top, _, sub := strings.Cut(e.Test, "/")
	if u.coverOnly[top] || !slices.Contains(u.tests, top) {
		return // not one this process runs: a line the test printed itself
	}
	st := c.tests[testKey{u.platform.Name, u.pkg, top}]
	if st == nil || st.final {
		return
	}
	ev := Event{Time: e.Time, Action: e.Action, Package: u.pkg, Test: e.Test, Elapsed: e.Elapsed,
		Output: e.Output, Worker: w.ID, Platform: u.platform.Name}
	st.started = true
	if e.Action == "output" {
		if st.held+len(e.Output) > maxHeldOutput {
			st.dropped += len(e.Output)
		} else {
			st.held += len(e.Output)
			st.events = append(st.events, ev)
			st.output.WriteString(e.Output)
		}
	} else {
		st.events = append(st.events, ev)
	}
	if sub {
		return
	}
	switch e.Action {
	case "run":
		c.testStarted(u, top)
		if s, ok := c.rep.(Starter); ok {
			s.Started(u.platform.Name, u.pkg, top, w.ID, time.Now()) // the coordinator's clock, as the status line's
		}
	case "pass", "skip":
		// The test's own verdict is final, whatever happens to its process later.
		status := map[string]Status{"pass": Passed, "skip": Skipped}[e.Action]
		c.testEnded(u, top, e.Action, e.Elapsed)
		st.elapsed = e.Elapsed
		c.flush(st, false)
		c.finalize(u.platform.Name, u.pkg, top, status, w.ID, "", "")
		if c.plan.CoverMode != "" {
			st.coverDue = true
		}
	case "fail":
		// Held until the process ends: a panicking test prints its
		// "--- FAIL" line first and then crashes the process, and it must
		// be reported as crashed, with the panic.
		c.testEnded(u, top, e.Action, e.Elapsed)
		st.elapsed = e.Elapsed
		st.heldFail = true
	}
}

// attach adds the output of a test's process that belongs to no test (a
// panic in TestMain, the runtime's report) to the test's events, for a
// test blamed for the crash: go test -json readers see it in the test's
// output as the terminal does.
func (c *coordinator) attach(platform, pkg, test, output, worker string) {
	st := c.tests[testKey{platform, pkg, test}]
	if st == nil || st.final || output == "" {
		return
	}
	st.events = append(st.events, Event{Time: time.Now(), Action: "output", Package: pkg, Test: test,
		Output: output, Worker: worker, Platform: platform})
}

// flush hands a test's buffered events to the reporter. Terminal events are
// held back when the caller is about to synthesise its own.
func (c *coordinator) flush(st *testState, dropTerminal bool) {
	if st.dropped > 0 && len(st.events) > 0 {
		// Said where it happened: before the verdict.
		note := st.events[0]
		note.Action, note.Elapsed = "output", 0
		note.Output = fmt.Sprintf("covdist: %d more bytes of output left out (over %d MiB)\n", st.dropped, maxHeldOutput>>20)
		for i := len(st.events) - 1; i >= 0; i-- {
			if st.events[i].Action == "output" {
				st.events = append(st.events[:i+1], append([]Event{note}, st.events[i+1:]...)...)
				break
			}
		}
		st.output.WriteString(note.Output)
		st.dropped = 0
	}
	for _, ev := range st.events {
		if dropTerminal && !strings.Contains(ev.Test, "/") && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip") {
			continue
		}
		c.rep.Event(ev)
	}
	st.events = nil
}

// noteRunTimes keeps, for the tests still running when their process
// ended (crashed, or killed after --timeout), how long they had run by
// then: they report no time of their own. A rerun's verdict replaces it.
func (c *coordinator) noteRunTimes(platform, pkg string, results []wire.Result) {
	for _, r := range results {
		st := c.tests[testKey{platform, pkg, r.Test}]
		if st == nil || st.final || r.Elapsed <= 0 {
			continue
		}
		switch r.Status {
		case wire.Crashed, wire.Interrupted:
			st.elapsed = r.Elapsed
		}
	}
}

// finalize makes a test's status final and reports it, once.
func (c *coordinator) finalize(platform, pkg, name string, status Status, worker, reason, output string) {
	st := c.tests[testKey{platform, pkg, name}]
	if st == nil || st.final {
		return
	}
	st.final, st.status, st.worker = true, status, worker
	if output == "" {
		output = st.output.String()
	}
	if (status == NotRun && !st.quiet) || status == Crashed || (status == Skipped && reason != "") {
		// Events for these never came from a test verdict: synthesise the
		// verdict so a go test -json reader sees the test end.
		c.flush(st, true)
		ev := Event{Time: time.Now(), Package: pkg, Test: name, Worker: worker, Platform: platform}
		if reason != "" {
			o := ev
			o.Action, o.Output = "output", "covdist: "+reason+"\n"
			c.rep.Event(o)
		}
		if status == Crashed {
			ev.Action, ev.Elapsed = "fail", st.elapsed
		} else {
			ev.Action = "skip"
		}
		c.rep.Event(ev)
	}
	c.out.Counts[status]++
	if status == Crashed {
		c.pkgBlamed[[2]string{platform, pkg}] = true
	}
	if status == Failed || status == Crashed {
		c.failures++
		c.pkgFail[[2]string{platform, pkg}] = true
		if c.plan.MaxFail > 0 && c.failures >= c.plan.MaxFail && c.stopping == "" {
			c.stopping = fmt.Sprintf("stopped after %d failure(s) (-x/--maxfail)", c.failures)
			c.stoppedByFailures = true
		}
	}
	if status == NotRun && !(c.stoppedByFailures && reason == c.stopping) {
		// A test that should have run and did not (no worker left, the
		// restarts used up, its binary would not start) is no pass, as go
		// test fails a package whose tests did not all run. Tests that
		// -x chose not to start are the exception: their package did
		// nothing wrong.
		c.pkgFail[[2]string{platform, pkg}] = true
	}
	if status == Passed || status == Failed {
		c.out.Durations = append(c.out.Durations, Duration{platform, pkg, name, st.elapsed})
		c.pools[platform].observe(pkg, st.elapsed)
	}
	c.rep.Result(Result{Platform: platform, Package: pkg, Test: name, Status: status,
		Elapsed: st.elapsed, Output: output, Worker: worker, Reason: reason})
	k := [2]string{platform, pkg}
	c.pkgLeft[k]--
	c.packageDone(platform, pkg)
}

// packageDone reports a package done once all its tests are final and no
// process running any of them is still going: a process can still fail
// the package after its last test passed (a TestMain's verdict).
func (c *coordinator) packageDone(platform, pkg string) {
	k := [2]string{platform, pkg}
	if c.pkgLeft[k] != 0 || c.pkgReported[k] {
		return
	}
	for _, u := range c.units {
		if u.platform.Name == platform && u.pkg == pkg && len(u.coverOnly) < len(u.tests) {
			return // onDone or onDead calls again
		}
	}
	c.pkgReported[k] = true
	if note := c.pkgNote[k]; note != "" && !c.pkgBlamed[k] {
		c.packageFailure(platform, pkg, note, c.pkgNoteOut[k])
	}
	var el float64
	if t, ok := c.pkgStart[k]; ok {
		el = time.Since(t).Seconds()
	}
	c.rep.PackageDone(platform, pkg, c.pkgFail[k], el)
}

func (c *coordinator) onDone(w *workerState, d *wire.Done) {
	u := c.units[d.Unit]
	if u == nil {
		return
	}
	delete(c.units, d.Unit)
	defer c.packageDone(u.platform.Name, u.pkg)
	c.unitEnded(u, unitEnd(d))
	w.busy = nil
	pl := u.platform
	pool := c.pools[pl.Name]
	c.noteRunTimes(pl.Name, u.pkg, d.Results)

	// Coverage first: it belongs to the tests whose verdicts the process gave.
	covered := false
	if d.Cover != nil {
		t0 := time.Now()
		if w.cover == nil {
			w.cover = c.out.Coverage[pl.Name].NewStream()
		}
		err := w.cover.Add(fmt.Sprintf("%s (%s)", w.ID, u.pkg), d.Cover)
		c.out.MergeSeconds += time.Since(t0).Seconds()
		c.plan.Timeline.Add(timeline.Span{Track: "coordinator", Name: "merge coverage", Category: "coverage", Start: t0, End: time.Now(),
			Args: map[string]any{"package": u.pkg, "worker": w.ID, "platform": pl.Name}})
		if err != nil {
			c.rep.Worker(WorkerEvent{Worker: w.ID, Platform: pl.Name, Up: true, Info: "coverage rejected: " + err.Error()})
		} else {
			covered = true
		}
		c.out.BytesCover += coverBytes(d.Cover)
	}
	if d.Profile != "" {
		c.rep.Worker(WorkerEvent{Worker: w.ID, Platform: pl.Name, Up: true, Info: "coverage profile unreadable: " + d.Profile})
	}
	if d.Crash == "" && d.Err == "" {
		var testTime float64
		for _, r := range d.Results {
			testTime += r.Elapsed
		}
		if o := d.Wall - testTime; o > 0 {
			c.overheadSum += o
			c.overheadN++
		}
	}

	// A process can fail its package with no test to blame: a TestMain
	// that exits 1 after its tests passed (a leak checker), or crashes in
	// its teardown. Said before the tests' verdicts, which may end the
	// package.
	k := [2]string{pl.Name, u.pkg}
	failed := processFailure(d)
	if failed != "" {
		c.packageFailure(pl.Name, u.pkg, failed, d.Output)
	}

	crashedSomeone := false
	var notRun, isolated []string
	for _, r := range d.Results {
		st := c.tests[testKey{pl.Name, u.pkg, r.Test}]
		if st == nil {
			continue
		}
		if u.coverOnly[r.Test] {
			switch {
			case covered:
				st.coverDue = false
			case d.Err != "" || d.Crash == "":
				// The binary would not start, or ended normally without
				// coverage for it: a rerun would end the same way.
				st.coverDue = false
			case r.Status != wire.Crashed && r.Test != d.Blame && st.coverTries < 3:
				// Another test crashed the process it rode in: try again.
				st.coverTries++
				pool.addCover(u.pkg, r.Test)
			default:
				// It crashed or lost coverage again on a rerun; its coverage
				// is given up rather than retried without end.
				st.coverDue = false
			}
			continue
		}
		switch r.Status {
		case wire.Pass, wire.Fail, wire.Skip:
			if !st.final {
				// The verdict came only in the summary (an event was lost).
				st.elapsed = r.Elapsed
				status := map[wire.Status]Status{wire.Pass: Passed, wire.Fail: Failed, wire.Skip: Skipped}[r.Status]
				c.flush(st, false)
				c.finalize(pl.Name, u.pkg, r.Test, status, w.ID, "", r.Output)
			}
			if covered || c.plan.CoverMode == "" {
				st.coverDue = false
			} else {
				// Its process died before writing coverage: run it again,
				// for coverage only; it is not reported twice.
				pool.addCover(u.pkg, r.Test)
			}
		case wire.Crashed:
			crashedSomeone = true
			st.coverDue = false
			c.attach(pl.Name, u.pkg, r.Test, d.Output, w.ID)
			c.finalize(pl.Name, u.pkg, r.Test, Crashed, w.ID, d.Crash, r.Output+d.Output)
		case wire.Interrupted:
			if st.final {
				continue
			}
			if u.isolated {
				// Alone in its process and still interrupted: it is the culprit.
				crashedSomeone = true
				c.attach(pl.Name, u.pkg, r.Test, d.Output, w.ID)
				c.finalize(pl.Name, u.pkg, r.Test, Crashed, w.ID, d.Crash, r.Output+d.Output)
				continue
			}
			pool.addIsolated(u.pkg, r.Test)
			isolated = append(isolated, r.Test)
		case wire.NotRun:
			if st.final {
				continue
			}
			notRun = append(notRun, r.Test)
		}
	}
	if d.Err != "" {
		// The binary could not start at all: no point retrying elsewhere,
		// and its package failed, as go test fails a package whose test
		// binary does not run.
		c.pkgFail[[2]string{pl.Name, u.pkg}] = true
		reason := d.Err + startHint(d.Err, pl)
		for _, t := range notRun {
			c.finalize(pl.Name, u.pkg, t, NotRun, w.ID, reason, "")
		}
		return
	}
	if len(isolated) > 1 && !crashedSomeone {
		// Several tests ran together when the process crashed: each is run
		// again alone to find the culprit. If none crashes alone, the crash
		// is the package's still.
		c.pkgNote[k] = fmt.Sprintf("the test process crashed while %s ran together, none of which crashes alone: %s",
			strings.Join(isolated, ", "), d.Crash)
		c.pkgNoteOut[k] = d.Output
	}
	switch {
	case d.Crash == "" || crashedSomeone || failed != "" || len(isolated) > 1:
	case d.Blame != "":
		// The crash's stack names a test that had passed: its verdict
		// stands, as go test's does, and its package fails now. The
		// tests it cut short run again elsewhere.
		c.packageFailure(pl.Name, u.pkg, fmt.Sprintf("the test process crashed in a goroutine of %s after %s had passed: %s",
			d.Blame, d.Blame, d.Crash), d.Output)
	case c.pkgNote[k] == "":
		// No test to blame yet: its package fails, unless a test it cut
		// short crashes when run again, which says it.
		c.pkgNote[k] = "the test process crashed with no test to blame: " + d.Crash
		c.pkgNoteOut[k] = d.Output
	}
	if d.Crash == "" && len(notRun) > 0 {
		// The binary ended normally without starting them: its flags
		// (-count=0, a -skip) or its TestMain chose so. Running them again
		// would end the same way.
		for _, t := range notRun {
			if c.stopping != "" {
				c.finalize(pl.Name, u.pkg, t, NotRun, w.ID, c.stopping, "")
			} else {
				c.finalize(pl.Name, u.pkg, t, Skipped, w.ID, "the test binary ended without running it (a -count=0 or -skip in its flags, or a TestMain that chose not to?)", "")
			}
		}
		notRun = nil
	}
	if d.Crash != "" && !crashedSomeone && len(notRun) > 0 {
		c.blameless[k]++
		if c.blameless[k] >= blamelessCrashes {
			for _, t := range notRun {
				c.attach(pl.Name, u.pkg, t, d.Output, w.ID)
				c.finalize(pl.Name, u.pkg, t, Crashed, w.ID, "the test process crashed before this test started, "+
					fmt.Sprint(c.blameless[k])+" times: "+d.Crash, d.Output)
			}
			notRun = nil
		}
	}
	for _, t := range notRun {
		c.enqueue(pl.Name, u.pkg, t)
	}
	if d.Crash != "" {
		c.restarts++
		c.rep.Worker(WorkerEvent{Worker: w.ID, Platform: pl.Name, Up: true,
			Info: fmt.Sprintf("test process of %s crashed: %s; restarted (%d/%d)", u.pkg, d.Crash, c.restarts, c.plan.MaxRestarts)})
		if c.restarts > c.plan.MaxRestarts && c.stopping == "" {
			c.stopping = fmt.Sprintf("not run: --max-worker-restart %d reached", c.plan.MaxRestarts)
		}
	}
}

func (c *coordinator) onDead(w *workerState, err error) {
	if w.conn != nil {
		in, _ := w.conn.Bytes()
		c.out.BytesIn += in
		w.conn = nil
	}
	wasAlive := w.alive
	w.alive = false
	w.gen++ // anything more from this connection is stale
	if w.assign != nil {
		close(w.assign) // ends the old writer goroutine
		w.assign = nil
	}
	if err == io.EOF {
		// Only a stream that ended cleanly between frames says no more
		// than this; a wrapped EOF (an SSH handshake cut short, a server
		// that refused the connection) keeps its own words.
		err = errors.New("agent closed the connection")
	}
	reason := fmt.Sprintf("worker %s (%s) went down: %v", w.ID, w.Gateway, err)
	down := func(info string) {
		c.rep.Worker(WorkerEvent{Worker: w.ID, Platform: w.platform.Name, Gateway: w.Gateway.String(), Up: false, Info: info})
	}
	if wasAlive || !w.everUp {
		down(reason)
	}
	if u := w.busy; u != nil {
		w.busy = nil
		delete(c.units, u.id)
		defer c.packageDone(u.platform.Name, u.pkg)
		c.unitEnded(u, fmt.Sprint("worker died: ", err))
		pool := c.pools[u.platform.Name]
		for _, t := range u.tests {
			st := c.tests[testKey{u.platform.Name, u.pkg, t}]
			if st == nil {
				continue
			}
			if u.coverOnly[t] {
				pool.addCover(u.pkg, t)
				continue
			}
			if st.final {
				if st.coverDue {
					pool.addCover(u.pkg, t)
				}
				continue
			}
			if st.heldFail {
				c.flush(st, false)
				c.finalize(u.platform.Name, u.pkg, t, Failed, w.ID, "", "")
				if c.plan.CoverMode != "" {
					pool.addCover(u.pkg, t)
				}
				continue
			}
			if st.started {
				// The link or the agent failed, not (yet provably) the test:
				// run it again elsewhere, and blame it once it has been
				// running through deathsToBlame worker deaths.
				st.deaths++
				if st.deaths >= deathsToBlame {
					c.finalize(u.platform.Name, u.pkg, t, Crashed, w.ID,
						fmt.Sprintf("its worker died %d times while it ran; last: %s", st.deaths, reason), "")
					continue
				}
			}
			c.enqueue(u.platform.Name, u.pkg, t)
		}
	}
	if w.gone {
		return
	}
	switch {
	case wasAlive:
		// A worker that was up died: that is what the restarts are for.
		c.restarts++
		if c.restarts > c.plan.MaxRestarts || c.stopping != "" {
			w.gone = true
			return
		}
		c.start(c.ctx, w)
	case !w.everUp:
		// It never came up: restarting the same gateway will fail the same way.
		w.gone = true
	default:
		// A reconnect failed (the host is gone, or not back yet). It is
		// not a restart, or one dead host would use up the restarts a
		// crash elsewhere is allowed: try again later, a few times.
		w.failed++
		if c.stopping != "" {
			w.gone = true
			return
		}
		if w.failed > len(reconnectBackoff) {
			w.gone = true
			down(fmt.Sprintf("worker %s (%s) given up after %d failed reconnects; the last: %v", w.ID, w.Gateway, w.failed, err))
			return
		}
		// The timer only asks: the loop owns the worker's state.
		m := msg{kind: msgReconnect, w: w, gen: w.gen}
		time.AfterFunc(reconnectBackoff[w.failed-1], func() {
			select {
			case c.msgs <- m:
			case <-c.over:
			}
		})
	}
}

// runsNatively names the architecture whose binaries a host's processor
// runs besides its own.
var runsNatively = map[string]string{"amd64": "386", "arm64": "arm"}

// checkPlatform refuses a remote worker that could not run its platform's
// binaries: a host of another GOOS/GOARCH than they were built for (a
// covdist serve is not probed before the build), unless a wrapper runs them.
func (c *coordinator) checkPlatform(w *workerState, hello *wire.Hello) error {
	pl := w.platform
	if !w.Remote || len(pl.Exec) > 0 || pl.GOOS == "" || hello.GOOS == "" {
		return nil
	}
	if hello.GOOS == pl.GOOS && (hello.GOARCH == pl.GOARCH || runsNatively[hello.GOARCH] == pl.GOARCH) {
		return nil
	}
	return fmt.Errorf("the host is %s/%s but this platform's test binaries are %s/%s: add //goos=%s//goarch=%s to its --tx spec (covdist then builds them for it)",
		hello.GOOS, hello.GOARCH, pl.GOOS, pl.GOARCH, hello.GOOS, hello.GOARCH)
}

// qemuNames are qemu-user's names for Go's architectures, where they differ.
var qemuNames = map[string]string{"amd64": "x86_64", "386": "i386", "arm64": "aarch64", "ppc64": "ppc64", "ppc64le": "ppc64le",
	"loong64": "loongarch64", "mips64le": "mips64el", "mipsle": "mipsel"}

// startHint says what to do about a test binary that a worker could not
// start because it is built for another machine.
func startHint(err string, pl *Platform) string {
	if !strings.Contains(err, "exec format error") || len(pl.Exec) > 0 {
		return ""
	}
	target := pl.GOOS + "/" + pl.GOARCH
	if pl.GOOS == "linux" {
		emu := qemuNames[pl.GOARCH]
		if emu == "" {
			emu = pl.GOARCH
		}
		return fmt.Sprintf(" (this worker cannot run %s binaries: add //exec=qemu-%s to the --tx spec to run them under qemu-user, or run them on a %s host)", target, emu, target)
	}
	if pl.GOOS == "windows" {
		return fmt.Sprintf(" (this worker cannot run %s binaries: add //exec=wine64 to the --tx spec, or run them on a %s host)", target, target)
	}
	return fmt.Sprintf(" (this worker cannot run %s binaries: run them on a %s host, or through a wrapper with //exec=)", target, target)
}

// coverDirWorks reports whether test binaries built by Go release version
// write coverage to -test.gocoverdir: Go 1.20 and later (and development
// builds, whose version does not parse).
func coverDirWorks(version string) bool {
	rest, ok := strings.CutPrefix(version, "go1.")
	if !ok {
		return true
	}
	minor := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = rest[:i]
	}
	n, err := strconv.Atoi(minor)
	return err != nil || n >= 20
}

// processFailure says how a process failed its package when no test is to
// blame: it exited 1 after every test it ran had passed or been skipped, or
// it crashed after all of them had ended.
func processFailure(d *wire.Done) string {
	if d.Err != "" || len(d.Results) == 0 {
		return ""
	}
	for _, r := range d.Results {
		switch r.Status {
		case wire.Fail, wire.Crashed, wire.Interrupted, wire.NotRun:
			return ""
		}
	}
	switch {
	case d.Crash != "":
		return "the test process crashed after its tests had ended: " + d.Crash
	case d.ExitCode != 0:
		return fmt.Sprintf("the test binary exited with status %d after its tests had passed (a TestMain that checks something after m.Run?)", d.ExitCode)
	}
	return ""
}

// packageFailure fails a package for a reason no test's verdict gives, and
// says it, with the process's own output, as go test prints a failing
// package's output.
func (c *coordinator) packageFailure(platform, pkg, why, output string) {
	c.pkgFail[[2]string{platform, pkg}] = true
	text := "covdist: " + why + "\n"
	if output != "" {
		text = output + text
	}
	c.rep.Event(Event{Time: time.Now(), Action: "output", Package: pkg, Output: text, Platform: platform})
}

// SortResults orders results by platform, package and test, for stable output.
func SortResults(rs []Result) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Platform != b.Platform {
			return a.Platform < b.Platform
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Test < b.Test
	})
}

// coverBytes estimates the bytes a delta took on the wire, as JSON.
func coverBytes(d *coverage.Delta) int64 {
	n := int64(16)
	for _, f := range d.Files {
		n += int64(len(f) + 3)
	}
	for _, v := range d.Blocks {
		n += digits(v) + 1
	}
	for _, v := range d.Hits {
		n += digits(v) + 1
	}
	return n
}

// digits is how many characters v takes in decimal.
func digits(v int64) int64 {
	n := int64(1)
	if v < 0 {
		n, v = 2, -v
	}
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}
