// Package agent owns the worker side of covdist: the hidden `covdist agent`
// mode that reads units from the coordinator over the wire protocol, runs
// each as one test process, streams that process's test events back as they
// happen, and ends each unit with per-test outcomes and the sparse coverage
// the process wrote.
//
// The agent shares only the wire protocol with the coordinator, so the same
// code serves a local pipe, an SSH channel, a socket or kubectl exec.
// It imports coverage, distribute/wire, distribute/testjson and
// distribute/filesync, never the coordinator.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/coverage/covdata"
	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/testjson"
	"github.com/covdist/covdist/distribute/wire"
	"github.com/covdist/covdist/internal/scratch"
)

// Options configure an agent.
type Options struct {
	// Version names the covdist build, sent in the hello.
	Version string
	// Nice, when non-zero, lowers the test processes' priority.
	Nice int
	// Reap lets the agent adopt the processes its tests leave behind, where
	// the system allows it (Linux), and end them after each unit. Only an
	// agent that is a process of its own may: every other child of its
	// process is taken for a leftover.
	Reap bool
}

// Serve speaks the agent side of the protocol on r and w until the
// coordinator sends Shutdown, the stream ends, the coordinator is silent
// for wire.PingTimeout, or ctx is done. A running test process is ended
// (with its whole process group) when the stream ends, so no test outlives
// its coordinator.
//
// A sync manifest is applied to the working directory (the Hello's Dir)
// in its place among the units: after those sent before it end, before
// those sent after it start.
func Serve(ctx context.Context, r io.Reader, w io.Writer, opt Options) error {
	conn := wire.NewConn(r, w, nil)
	wd, _ := os.Getwd()
	if _, err := wire.Handshake(conn, wire.Hello{
		Agent: opt.Version, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, PID: os.Getpid(), Dir: wd,
	}); err != nil {
		return err
	}
	// Where the next agent on this host removes it if this one is
	// killed before its deferred cleanup runs.
	scr, err := scratch.New("agent")
	if err != nil {
		return err
	}
	defer scr.Close()
	tmp := scr.Path

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cut link never ends stdin: give the coordinator up after
	// wire.PingTimeout without a frame (it pings every wire.PingEvery),
	// which ends the running test with the agent. One goroutine reads
	// every frame, a sync's too, so the time of the last one is known
	// whatever the agent is doing.
	hear := wire.NewHearing()
	lost := make(chan struct{})
	go hear.Watch(ctx.Done(), wire.PingTimeout, func(time.Duration) {
		close(lost)
		cancel()
	})
	// And the coordinator hears from us as often, during silent tests
	// and syncs too, so it can tell us from a stopped agent or a cut link.
	go func() {
		t := time.NewTicker(wire.PingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if conn.Send(wire.KindPing, wire.Ping{}) != nil {
					return
				}
			}
		}
	}()

	jobs := make(chan job, 16)
	readErr := make(chan error, 1)
	go readFrames(ctx, cancel, conn, hear, jobs, readErr)

	a := &agent{conn: conn, tmp: tmp, tracker: coverage.NewTracker(), nice: opt.Nice,
		covdata: covdata.NewReader(), shapes: make(map[string]bool)}
	if opt.Reap {
		a.reaper = becomeReaper()
	}
	// end says why the agent stops: the coordinator's silence, the
	// stream's end (nil for a clean one, or after a shutdown), or else err.
	end := func(err error) error {
		select {
		case <-lost:
			return fmt.Errorf("no word from the coordinator for %s: giving it up", wire.PingTimeout)
		default:
		}
		select {
		case err = <-readErr:
		default:
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for {
		var j job
		ok := false
		select {
		case j, ok = <-jobs:
		case <-ctx.Done():
		}
		if !ok || ctx.Err() != nil {
			return end(ctx.Err())
		}
		if s := j.sync; s != nil {
			_, err := filesync.Apply(ctx, &syncConn{conn: conn, frames: s.frames, ctx: ctx}, wd, s.manifest)
			close(s.done)
			if err != nil {
				return end(err) // the stream is out of step
			}
			continue
		}
		done := a.run(ctx, j.run)
		if err := conn.Send(wire.KindDone, done); err != nil {
			return end(err)
		}
	}
}

// readFrames reads every frame from the coordinator and hands each on: a
// unit or a sync to the unit loop in jobs, the frames after a sync's
// manifest to that sync until it is done. It sends the reason reading
// ended to readErr (nil after a shutdown) and cancels ctx when the stream
// ends.
func readFrames(ctx context.Context, cancel func(), conn *wire.Conn, hear *wire.Hearing, jobs chan<- job, readErr chan<- error) {
	shutdown := false
	defer func() {
		if !shutdown {
			close(jobs)
		}
	}()
	// hand waits for the taker of a frame; meanwhile the coordinator,
	// whose next frames wait behind it, is not silent.
	hand := func(to func() bool) bool {
		release := hear.Hold()
		defer release()
		return to()
	}
	var sync *syncTurn // the sync under way
	for {
		k, p, err := conn.Recv()
		if err != nil {
			if !shutdown {
				readErr <- err
			}
			cancel() // the coordinator is gone: end the running test now
			return
		}
		hear.Heard()
		if shutdown || k == wire.KindPing {
			continue
		}
		if sync != nil {
			taken := hand(func() bool {
				select {
				case sync.frames <- frame{k, p}:
					return true
				case <-sync.done:
					return false // the sync ended before it: the frame is the next unit's
				case <-ctx.Done():
					return true // the agent is going; the frame does not matter
				}
			})
			if taken {
				continue
			}
			sync = nil
		}
		m, err := wire.Decode(k, p)
		if err != nil {
			readErr <- err
			cancel()
			return
		}
		var j job
		switch m := m.(type) {
		case *wire.Run:
			j.run = m
		case *wire.SyncManifest:
			// The sync reads the frames after its manifest once the units
			// before it are done: it owns the stream until it is.
			sync = &syncTurn{manifest: m, frames: make(chan frame), done: make(chan struct{})}
			j.sync = sync
		case *wire.Shutdown:
			// Finish the running unit, but keep reading: a stream
			// closed meanwhile still ends the running test.
			readErr <- nil
			shutdown = true
			close(jobs)
			continue
		default:
			readErr <- fmt.Errorf("agent: unexpected %s frame", k)
			cancel()
			return
		}
		if !hand(func() bool {
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}) {
			return
		}
	}
}

// job is a unit to run or a sync waiting for its turn.
type job struct {
	run  *wire.Run
	sync *syncTurn
}

// syncTurn is a sync the unit loop applies, with the frames that follow
// its manifest.
type syncTurn struct {
	manifest *wire.SyncManifest
	frames   chan frame
	done     chan struct{} // the sync is done: later frames are not its
}

type frame struct {
	kind    wire.Kind
	payload []byte
}

// syncConn is the agent's end of the stream for filesync.Apply: it sends
// on the stream and receives the frames the reader hands the sync.
type syncConn struct {
	conn   *wire.Conn
	frames <-chan frame
	ctx    context.Context
}

func (s *syncConn) Send(k wire.Kind, m any) error { return s.conn.Send(k, m) }
func (s *syncConn) Bytes() (int64, int64)         { return s.conn.Bytes() }
func (s *syncConn) Recv() (wire.Kind, []byte, error) {
	select {
	case f := <-s.frames:
		return f.kind, f.payload, nil
	case <-s.ctx.Done():
		return 0, nil, fmt.Errorf("waiting for the coordinator's sync frames: %w", s.ctx.Err())
	}
}

type agent struct {
	conn    *wire.Conn
	tmp     string
	tracker *coverage.Tracker
	nice    int
	covdata *covdata.Reader
	shapes  map[string]bool // meta-data hashes whose blocks were announced
	// reaper is set when orphaned descendants of the test processes are
	// handed to this process rather than to init, so that it can end them.
	reaper bool
	// textCover is set once coverage data could not be decoded (a Go
	// release of a newer format): later units fall back to text profiles.
	textCover bool
}

// testRegexp matches exactly the given top-level tests.
func testRegexp(tests []string) string {
	q := make([]string, len(tests))
	for i, t := range tests {
		q[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// lockedWriter serialises the output copier's writes into the parser with
// the unit loop's reads of it.
type lockedWriter struct {
	mu      sync.Mutex
	p       *testjson.Parser
	midLine bool // the last byte written was not a newline
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(b) > 0 {
		l.midLine = b[len(b)-1] != '\n'
	}
	return l.p.Write(b)
}

// note adds a line of covdist's own to the output, on a line of its own.
func (l *lockedWriter) note(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.midLine {
		text = "\n" + text
	}
	_, _ = l.p.Write([]byte(text + "\n"))
	l.midLine = false
}

// outputGrace is how long the output of a test process is read after the
// process ended (or was killed). Whatever it left holding the output after
// that, a helper in a session of its own (setsid) that its process group's
// end missed, say, would otherwise keep the unit, and the run, from ever
// ending: the rest is cut off.
const outputGrace = 3 * time.Second

func (a *agent) run(ctx context.Context, run *wire.Run) *wire.Done {
	done := &wire.Done{Unit: run.ID}
	start := time.Now()
	profile, coverDir := "", ""
	args := []string{"-test.v=test2json", "-test.paniconexit0", "-test.run=" + testRegexp(run.Tests)}
	var env []string
	switch {
	case run.CoverMode == "":
	case run.CoverDir && !a.textCover:
		// As go test runs a test binary: the directory by flag, and by
		// GOCOVERDIR for the processes the test starts, so that a test
		// re-executing itself as a helper counts that coverage too.
		coverDir = filepath.Join(a.tmp, fmt.Sprintf("unit-%d.covdata", run.ID))
		if err := os.Mkdir(coverDir, 0o700); err != nil {
			done.Err = fmt.Sprintf("making a coverage directory: %v", err)
			for _, t := range run.Tests {
				done.Results = append(done.Results, wire.Result{Test: t, Status: wire.NotRun})
			}
			return done
		}
		defer os.RemoveAll(coverDir)
		args = append(args, "-test.gocoverdir="+coverDir)
		env = append(env, "GOCOVERDIR="+coverDir)
	default:
		profile = filepath.Join(a.tmp, fmt.Sprintf("unit-%d.cov", run.ID))
		args = append(args, "-test.coverprofile="+profile)
	}
	if run.Timeout > 0 && !hasFlag(run.Args, "test.timeout") {
		// As go test gives every binary -test.timeout (10m by default), so
		// that t.Deadline tells a test how long it has; covdist's own
		// per-test --timeout ends a hung test well before this fires.
		args = append(args, fmt.Sprintf("-test.timeout=%s", run.Timeout*time.Duration(len(run.Tests))+time.Minute))
	}
	args = append(args, run.Args...)
	argv := append(append(append([]string{}, run.Exec...), run.Binary), args...)
	if a.nice != 0 {
		argv = append([]string{"nice", "-n", fmt.Sprint(a.nice)}, argv...)
	}

	parser := testjson.NewParser(func(e testjson.Event) {
		// A failed send means the coordinator is gone; the reader goroutine
		// notices too and cancels ctx, which ends the process.
		_ = a.conn.Send(wire.KindEvent, wire.Event{
			Unit: run.ID, Time: time.Now(), Action: e.Action, Test: e.Test, Elapsed: e.Elapsed, Output: e.Output,
		})
	})
	parser.Expect(run.Tests)
	if repeats(run.Args) {
		parser.AllowRepeats()
	}
	out := &lockedWriter{p: parser}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = run.Dir
	cmd.Env = append(append(os.Environ(), env...), run.Env...)
	cmd.SysProcAttr = procAttr()
	// The output pipe is ours, not exec's: Wait then returns when the
	// process ends, not when the last holder of the pipe (anything the test
	// started) closes it, and reading it stops within outputGrace however
	// the process ended. (exec's WaitDelay bounds the wait too, but says
	// ErrWaitDelay only for a process that exited 0, and ends the process
	// group only after the grace: a failed or timed-out test's leftover
	// would be cut without a word, and its group's helpers kept alive.)
	pr, pw, err := os.Pipe()
	if err == nil {
		cmd.Stdout, cmd.Stderr = pw, pw
		err = cmd.Start()
		pw.Close()
		if err != nil {
			pr.Close()
		}
	}
	if err != nil {
		// The binary's path is a temporary one: the cause is what helps.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		done.Err = fmt.Sprintf("the test binary %s could not start: %v", filepath.Base(run.Binary), err)
		for _, t := range run.Tests {
			done.Results = append(done.Results, wire.Result{Test: t, Status: wire.NotRun})
		}
		return done
	}
	pgid := cmd.Process.Pid
	defer pr.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var (
		waitErr  error
		timedOut string
		idleOut  bool // no test ran for longer than the timeout
		killed   string
	)
	tick := time.NewTicker(tickFor(run.Timeout))
	defer tick.Stop()
	quitAt := time.Time{}
	idleSince := start // no test is running since then
	ctxDone := ctx.Done()
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-ctxDone:
			ctxDone = nil
			killed = "the coordinator went away"
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case now := <-tick.C:
			if run.Timeout > 0 && timedOut == "" && !idleOut {
				out.mu.Lock()
				since := parser.RunningSince()
				out.mu.Unlock()
				for name, t := range since {
					if now.Sub(t) > run.Timeout {
						timedOut = name
						break
					}
				}
				// Between tests too: a TestMain, init or teardown that
				// hangs runs no test at all.
				switch {
				case len(since) > 0:
					idleSince = time.Time{}
				case idleSince.IsZero():
					idleSince = now
				case now.Sub(idleSince) > run.Timeout:
					idleOut = true
				}
				if timedOut != "" || idleOut {
					// SIGQUIT makes the Go runtime print every goroutine's
					// stack: the best clue to why the test hung.
					_ = syscall.Kill(-pgid, syscall.SIGQUIT)
					quitAt = now
				}
			}
			if !quitAt.IsZero() && now.Sub(quitAt) > 3*time.Second {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	}
	// Whatever the test started in its group (servers, helpers) ends with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	endedAt := time.Now()
	select {
	case <-copied:
	case <-time.After(outputGrace):
		pr.Close() // ends the copy
		<-copied
		out.note(fmt.Sprintf("covdist: output cut off: a process the test started (setsid?) still held the test's output %s after the test process ended",
			outputGrace))
	}
	if a.reaper {
		// Nothing of this unit outlives it: what escaped the process
		// group was handed to this agent when its parent ended.
		endOrphans()
	}
	out.mu.Lock()
	parser.Close()
	out.mu.Unlock()
	done.Wall = endedAt.Sub(start).Seconds()
	done.ExitCode = exitCode(waitErr)

	finished := parser.Finished()
	normal := finished && (done.ExitCode == 0 || done.ExitCode == 1) && timedOut == "" && !idleOut && killed == ""
	if normal && profile != "" {
		if _, err := os.Stat(profile); err != nil {
			normal = false // ended tests without writing coverage: os.Exit inside TestMain, say
		}
	}

	running := parser.Running()
	culprit := ""
	// The test whose goroutine crashed the process, by its stack: a test
	// can print PASS before a panic in its goroutine ends the process (a
	// deferred close lets it return), and the next test may have started
	// meanwhile, so what runs is no sure sign.
	stack := ""
	if !normal {
		stack = parser.CrashTest(run.Tests)
	}
	switch {
	case normal:
	case timedOut != "":
		culprit = timedOut
	case killed != "":
	case stack != "":
		switch parser.Outcomes([]string{stack})[0].Status {
		case testjson.StatusPass, testjson.StatusSkip:
			// Its verdict was given, and stands as go test's does; the
			// crash fails its package, and the tests running are innocent.
			done.Blame = stack
		default:
			culprit = stack
		}
	case len(running) == 1:
		culprit = running[0]
	case len(running) == 0:
		// Nothing was running: the process died in the test that just
		// finished (a panic prints "--- FAIL" first), if it failed.
		culprit = parser.LastActive()
	}
	done.Output = parser.Trailer()
	if report := parser.CrashReport(); !normal && culprit == "" && report != "" && !strings.Contains(done.Output, report) {
		// No test's output will show the panic (it went to a test that
		// had ended): the package's must.
		done.Output += report
	}
	out.mu.Lock()
	since := parser.RunningSince()
	out.mu.Unlock()
	for _, o := range parser.Outcomes(run.Tests) {
		r := wire.Result{Test: o.Test, Elapsed: o.Elapsed, Output: o.Output}
		if t, ok := since[o.Test]; ok && r.Elapsed == 0 {
			r.Elapsed = endedAt.Sub(t).Seconds() // still running when its process ended
		}
		switch o.Status {
		case testjson.StatusPass:
			r.Status = wire.Pass
		case testjson.StatusFail:
			r.Status = wire.Fail
			if o.Test == culprit {
				r.Status = wire.Crashed
			}
		case testjson.StatusSkip:
			r.Status = wire.Skip
		case testjson.StatusRunning, testjson.StatusPaused:
			r.Status = wire.Interrupted
			if o.Test == culprit {
				r.Status = wire.Crashed
			}
		default:
			r.Status = wire.NotRun
		}
		done.Results = append(done.Results, r)
	}
	if !normal {
		done.Crash = crashReason(done.ExitCode, waitErr, timedOut, idleOut, run.Timeout, killed, finished)
		done.Timeout = timedOut != "" || idleOut
		// Crashed after its tests had all ended (a TestMain that panics
		// in its teardown): testing wrote the coverage first, and it
		// belongs to those tests.
		if finished && coverDir != "" && killed == "" && !done.Timeout && covdata.Wrote(coverDir, pgid) {
			if p, err := a.readCoverDir(coverDir, pgid, run.CoverMode); err == nil {
				done.Cover = a.tracker.Delta(p)
			}
		}
		return done
	}
	switch {
	case coverDir != "":
		p, err := a.readCoverDir(coverDir, pgid, run.CoverMode)
		if err != nil {
			if errors.Is(err, covdata.ErrFormat) {
				a.textCover = true
				err = fmt.Errorf("%w; this agent reads text coverprofiles from now on", err)
			}
			done.Profile = err.Error()
			return done
		}
		done.Cover = a.tracker.Delta(p)
	case profile != "":
		p, err := coverage.ParseFile(profile)
		os.Remove(profile)
		if err != nil {
			done.Profile = err.Error()
			return done
		}
		done.Cover = a.tracker.Delta(p)
	}
	return done
}

// readCoverDir reads the coverage process pid left in dir. The first time
// a binary's coverage is read, every block of it is included with its
// count, so that the tracker announces the blocks no test reached.
//
// A binary that instrumented nothing (its measured packages hold no code)
// writes nothing, after tests that ended normally: that is no coverage,
// not lost coverage. (Killed between its last test and writing, it would
// not have ended normally.)
func (a *agent) readCoverDir(dir string, pid int, mode string) (*coverage.Profile, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) == 0 {
		return coverage.New(mode), nil
	}
	run, err := a.covdata.ReadDir(dir, pid)
	if err != nil {
		return nil, err
	}
	if a.shapes[run.Meta.Hash] {
		return run.Hits, nil
	}
	p := coverage.New(run.Meta.Mode)
	if err := p.Add("coverage meta-data", run.Meta.Mode, run.Meta.Blocks()); err != nil {
		return nil, err
	}
	if err := p.Merge("coverage counters", run.Hits); err != nil {
		return nil, err
	}
	a.shapes[run.Meta.Hash] = true
	return p, nil
}

// repeats reports whether args run each test more than once
// (-test.count=N above 1).
func repeats(args []string) bool {
	for i, a := range args {
		n, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if n != "test.count" {
			continue
		}
		if !ok && i+1 < len(args) {
			v = args[i+1]
		}
		if c, err := strconv.Atoi(v); err == nil && c > 1 {
			return true
		}
	}
	return false
}

// hasFlag reports whether args set the test binary flag name (-name or
// --name, with =value or not).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if n == name {
			return true
		}
	}
	return false
}

func tickFor(timeout time.Duration) time.Duration {
	if timeout > 0 && timeout < 2*time.Second {
		return timeout / 10
	}
	return 200 * time.Millisecond
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

func crashReason(code int, err error, timedOut string, idleOut bool, timeout time.Duration, killed string, finished bool) string {
	switch {
	case timedOut != "":
		return fmt.Sprintf("%s ran longer than --timeout %s; the test process was ended (stacks above)", timedOut, timeout)
	case idleOut:
		return fmt.Sprintf("the test process ran no test for longer than --timeout %s (a TestMain, init or teardown that hangs?); it was ended (stacks above)", timeout)
	case killed != "":
		return "test process ended because " + killed
	case code > 128:
		return fmt.Sprintf("test process killed by signal %d (%v)", code-128, err)
	case finished:
		return fmt.Sprintf("test process exited with status %d without writing its coverage profile", code)
	default:
		return fmt.Sprintf("test process exited with status %d before its tests finished", code)
	}
}
