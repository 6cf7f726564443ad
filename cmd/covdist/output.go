package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/internal/progress"
	"github.com/mattn/go-isatty"
)

// terminal writes human output, with one rewritable status line on a TTY,
// which ends with the run's elapsed time and is redrawn every half second,
// so that a long build or a long first test still shows the run is alive.
type terminal struct {
	mu     sync.Mutex
	out    io.Writer
	status func(string)
	tty    io.Writer // stderr when it is a terminal, else nil
	shown  bool
	last   string        // the status line, without the time
	extra  func() string // more for the status line at each redraw
	drawn  time.Time     // when it was last drawn
	start  time.Time
	stop   chan struct{}
}

func newTerminal(out, stderr io.Writer) *terminal {
	t := &terminal{out: out, start: time.Now(), stop: make(chan struct{})}
	if f, ok := stderr.(*os.File); ok && isTerminal(f) && os.Getenv("TERM") != "dumb" && !inCI() {
		t.tty = f
		go t.tick()
	}
	t.status = t.setStatus
	return t
}

func (t *terminal) tick() {
	tk := time.NewTicker(500 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			t.mu.Lock()
			if t.last != "" {
				t.draw()
			}
			t.mu.Unlock()
		}
	}
}

// close stops redrawing the status line and clears it.
func (t *terminal) close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.clear()
}

// inCI tells whether the run is a CI job's (CI set, as every CI service
// sets it): its log keeps every byte, so a status line redrawn with
// "\r\x1b[K" twice a second would fill it, even under a pseudo-terminal.
func inCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// setExtra sets what is added to the status line at each redraw.
func (t *terminal) setExtra(f func() string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.extra = f
}

// isTerminal tells whether f is a terminal: not merely a character device,
// which /dev/null is too.
func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd())
}

func (t *terminal) setStatus(s string) {
	if t.tty == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 90 {
		s = s[:90]
	}
	t.last = s
	// Drawn at most ten times a second: a run of many quick tests would
	// spend its time writing the terminal. The ticker draws the latest.
	if time.Since(t.drawn) >= 100*time.Millisecond {
		t.draw()
	}
}

// draw writes the status line; t.mu is held.
func (t *terminal) draw() {
	line := fmt.Sprintf("%s  %.0fs", t.last, time.Since(t.start).Seconds())
	if t.extra != nil {
		if x := t.extra(); x != "" {
			line += "  " + x
		}
	}
	if len(line) > 120 { // one line on most terminals: no wrap to redraw
		line = line[:117] + "..."
	}
	fmt.Fprintf(t.tty, "\r\x1b[K%s", line)
	t.shown, t.drawn = true, time.Now()
}

// clear erases the status line for good, until a new status comes.
func (t *terminal) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.erase()
	t.last = ""
}

// erase takes the status line off the screen; t.mu is held.
func (t *terminal) erase() {
	if t.tty != nil && t.shown {
		fmt.Fprint(t.tty, "\r\x1b[K")
		t.shown = false
	}
}

// eprintf writes to w (stderr) as printf writes human output.
func (t *terminal) eprintf(w io.Writer, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.erase()
	fmt.Fprintf(w, format, args...)
	if t.tty != nil && t.last != "" {
		t.draw()
	}
}

// printf writes human output under the status line, which it redraws after.
func (t *terminal) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.erase()
	fmt.Fprintf(t.out, format, args...)
	if t.tty != nil && t.last != "" {
		t.draw()
	}
}

// reporter turns a run's events into human output, go test -json events and
// JUnit records.
type reporter struct {
	o       *options
	term    *terminal
	human   io.Writer
	json    *json.Encoder
	total   *progress.Count // tests the run will report, counted from its start
	running progress.Running
	multi   bool
	start   time.Time
	done    int
	passed  int
	failed  int
	crashed int
	skipped int
	notRun  int
	// notBuiltPkgs counts the packages that did not build (once per platform).
	notBuiltPkgs int
	perPlat      map[string]*[4]int // passed, failed, skipped, not run
	order        []string           // the platforms, in the order of the specs
	notBuilt     map[string]string  // platforms that could not build: what failed
	// notRunWhy lists tests not run by reason (and platform, in each
	// mode), so that the summary says which and why without -v.
	notRunWhy map[string][]string
	pkgOut    map[string]string // a package's own output, by platform and package
	pkgFailed int               // packages that failed, with or without a failed test
	pkgBad    map[string]bool   // packages with a test failed, crashed or not run
	pkgAlone  int               // packages that failed with every test passed or skipped
	hinted    map[string]bool   // hints given, each once
	failures  []distribute.Result
	notPassed testSet // failed, crashed or not run: what -f runs again
	junit     []distribute.Result
	subtests  map[string][]subtest        // for JUnit, by subtestKey
	subOut    map[string]*strings.Builder // a subtest's output until its verdict
	// buildFailed holds, by platform and package, the packages that did
	// not build; buildShown the builds whose output was shown, each once.
	buildFailed map[string]distribute.BuildFailure
	buildShown  map[string]bool
	brokenJUnit []brokenPackage // for JUnit, in the order they failed
	stderr      io.Writer
	everUp      map[string]bool // workers that came up at least once
}

func newReporter(o *options, term *terminal, jsonW io.Writer, human io.Writer, total *progress.Count, multi bool) *reporter {
	r := &reporter{o: o, term: term, human: human, total: total, multi: multi, start: time.Now(), perPlat: make(map[string]*[4]int),
		notPassed: make(testSet), notRunWhy: make(map[string][]string), pkgOut: make(map[string]string), pkgBad: make(map[string]bool), hinted: make(map[string]bool),
		buildFailed: make(map[string]distribute.BuildFailure), buildShown: make(map[string]bool), stderr: io.Discard}
	if jsonW != nil {
		r.json = json.NewEncoder(jsonW)
	}
	if o.junitXML != "" {
		r.junit = []distribute.Result{}
		r.subtests = make(map[string][]subtest)
		r.subOut = make(map[string]*strings.Builder)
	}
	term.setExtra(func() string {
		if slow := r.running.Slow(time.Now(), slowAfter, 2); slow != "" {
			return "running " + slow
		}
		return ""
	})
	return r
}

// slowAfter is how long a test runs before the status line names it.
const slowAfter = 5 * time.Second

// Started is told when a test starts: the status line names it if it runs
// for long.
func (r *reporter) Started(platform, pkg, test, worker string, at time.Time) {
	name := test
	if r.multi {
		name += " [" + platform + "]"
	}
	r.running.Start(platform+"\x00"+pkg+"\x00"+test, name, at)
}

// jsonEvent is go test -json's TestEvent plus where the test ran.
// The go command's build output events (build-output, build-fail) carry
// ImportPath, no Time and no Package; a package that did not build ends
// with a fail event whose FailedBuild names that ImportPath.
type jsonEvent struct {
	ImportPath  string    `json:"ImportPath,omitempty"`
	Time        time.Time `json:"Time,omitzero"`
	Action      string    `json:"Action"`
	Package     string    `json:"Package,omitempty"`
	Test        string    `json:"Test,omitempty"`
	Elapsed     *float64  `json:"Elapsed,omitempty"`
	Output      *string   `json:"Output,omitempty"`
	FailedBuild string    `json:"FailedBuild,omitempty"`
	Worker      string    `json:"Worker,omitempty"`
	Platform    string    `json:"Platform,omitempty"`
}

func (r *reporter) Event(e distribute.Event) {
	if r.subtests != nil {
		r.junitSubtest(e)
	}
	if e.Action == "output" && e.Test == "" && e.Package != "" {
		// A package's own output (a failing TestMain's), shown if it fails.
		r.pkgOut[e.Platform+"\x00"+e.Package] += e.Output
	}
	r.writeJSON(e)
}

// junitSubtest keeps a subtest's output and verdict for the JUnit file.
func (r *reporter) junitSubtest(e distribute.Event) {
	top, _, ok := strings.Cut(e.Test, "/")
	if !ok {
		return
	}
	k := e.Platform + "\x00" + e.Package + "\x00" + e.Test
	switch e.Action {
	case "output":
		b := r.subOut[k]
		if b == nil {
			b = new(strings.Builder)
			r.subOut[k] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		out := ""
		if b := r.subOut[k]; b != nil {
			out = b.String()
			delete(r.subOut, k)
		}
		pk := subtestKey(e.Platform, e.Package, top)
		r.subtests[pk] = append(r.subtests[pk], subtest{name: e.Test, action: e.Action, output: out, elapsed: e.Elapsed})
	}
}

func (r *reporter) writeJSON(e distribute.Event) {
	if r.json == nil {
		return
	}
	je := jsonEvent{Time: e.Time, Action: e.Action, Package: e.Package, Test: e.Test, Worker: e.Worker, Platform: e.Platform}
	if r.multi && e.Package != "" && e.Platform != "" {
		// Each platform's run of a package is a package of its own to a
		// consumer that does not read Platform (gotestsum, go-junit-report):
		// named as go test names a package's variants, "pkg [variant]".
		je.Package += " [" + e.Platform + "]"
	}
	switch e.Action {
	case "output":
		s := e.Output
		je.Output = &s
	case "pass", "fail", "skip":
		el := e.Elapsed
		je.Elapsed = &el
	}
	_ = r.json.Encode(je)
}

func (r *reporter) where(res distribute.Result) string {
	parts := []string{}
	if res.Worker != "" {
		parts = append(parts, res.Worker)
	}
	if r.multi {
		parts = append(parts, res.Platform)
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}

func (r *reporter) Result(res distribute.Result) {
	r.running.Stop(res.Platform + "\x00" + res.Package + "\x00" + res.Test)
	r.done++
	c := r.perPlat[res.Platform]
	if c == nil {
		c = new([4]int)
		r.perPlat[res.Platform] = c
	}
	switch res.Status {
	case distribute.Passed:
		r.passed++
		c[0]++
	case distribute.Failed:
		r.failed++
		c[1]++
	case distribute.Crashed:
		r.crashed++
		c[1]++
	case distribute.Skipped:
		r.skipped++
		c[2]++
	case distribute.NotRun:
		r.notRun++
		c[3]++
		why := res.Reason
		if why == "" {
			why = "no reason given"
		}
		if r.multi && !strings.HasPrefix(why, res.Platform+" ") {
			why = res.Platform + ": " + why
		}
		r.notRunWhy[why] = append(r.notRunWhy[why], res.Package+" "+res.Test)
	}
	if res.Status == distribute.Failed || res.Status == distribute.Crashed || res.Status == distribute.NotRun {
		r.pkgBad[res.Platform+"\x00"+res.Package] = true
		r.notPassed.add(res.Package, res.Test)
	}
	_, broken := r.buildFailed[res.Platform+"\x00"+res.Package]
	if r.junit != nil && !broken {
		// A package that did not build is one failed case in JUnit, as
		// go test reports it once; its tests are counted not run.
		r.junit = append(r.junit, res)
	}
	switch res.Status {
	case distribute.Failed, distribute.Crashed:
		r.failures = append(r.failures, res)
		r.printResult(res, true)
	default:
		if r.o.verbose {
			r.printResult(res, false)
		}
	}
	total := max(r.total.Total(), r.done)
	pct := 100
	if total > 0 {
		pct = 100 * r.done / total
	}
	r.term.status(fmt.Sprintf("[%d/%d] %d%%  %d passed, %d failed", r.done, total, pct,
		r.passed, r.failed+r.crashed))
}

func (r *reporter) printResult(res distribute.Result, withOutput bool) {
	label := map[distribute.Status]string{
		distribute.Passed: "PASS", distribute.Failed: "FAIL", distribute.Crashed: "CRASH",
		distribute.Skipped: "SKIP", distribute.NotRun: "NOT RUN",
	}[res.Status]
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s: %s (%.2fs) %s%s\n", label, res.Test, res.Elapsed, res.Package, r.where(res))
	if withOutput || res.Status == distribute.NotRun {
		out := strings.TrimRight(res.Output, "\n")
		for _, l := range strings.Split(out, "\n") {
			if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- PASS: "+res.Test+" ") {
				continue
			}
			fmt.Fprintf(&b, "    %s\n", l)
		}
		if res.Reason != "" {
			fmt.Fprintf(&b, "    covdist: %s\n", res.Reason)
		}
		if h := hint(res.Output); h != "" && !r.hinted[h] {
			r.hinted[h] = true
			fmt.Fprintf(&b, "    covdist: hint: %s\n", h)
		}
	}
	r.term.printf("%s", b.String())
}

// BuildFailed shows a package that did not build as go test shows it: the
// go command's output on stderr, once for each build that failed (a
// dependency's failure stops several packages), and in the event stream
// its build-output events; PackageDone then writes its FAIL line.
func (r *reporter) BuildFailed(platform, pkg string, f distribute.BuildFailure) {
	r.buildFailed[platform+"\x00"+pkg] = f
	r.brokenJUnit = append(r.brokenJUnit, brokenPackage{platform: platform, pkg: pkg, f: f})
	shown := platform + "\x00" + f.FailedBuild
	if !r.buildShown[shown] {
		r.buildShown[shown] = true
		text := f.Output
		if r.multi {
			// Which platform: the compiler's output does not say.
			text = fmt.Sprintf("covdist: building test binaries (%s):\n%s", platform, text)
		}
		r.term.eprintf(r.stderr, "%s", text)
		if r.json != nil {
			ip := f.FailedBuild
			if r.multi {
				ip += " [" + platform + "]"
			}
			for _, line := range strings.SplitAfter(f.Output, "\n") {
				if line != "" {
					_ = r.json.Encode(jsonEvent{ImportPath: ip, Action: "build-output", Output: &line})
				}
			}
			_ = r.json.Encode(jsonEvent{ImportPath: ip, Action: "build-fail"})
		}
	}
	r.writeJSON(distribute.Event{Time: time.Now(), Action: "start", Package: pkg, Platform: platform})
}

// failedWord is go test's word for a package that did not build or load.
func failedWord(f distribute.BuildFailure) string {
	if f.Setup {
		return "[setup failed]"
	}
	return "[build failed]"
}

func (r *reporter) PackageDone(platform, pkg string, failed bool, elapsed float64) {
	suffix := ""
	if r.multi {
		suffix = " [" + platform + "]"
	}
	if f, ok := r.buildFailed[platform+"\x00"+pkg]; ok {
		r.pkgFailed++
		r.notBuiltPkgs++
		if r.json != nil {
			now := time.Now()
			out := fmt.Sprintf("FAIL\t%s %s\n", pkg, failedWord(f))
			fb := f.FailedBuild
			if r.multi {
				fb += suffix
			}
			r.writeJSON(distribute.Event{Time: now, Action: "output", Package: pkg, Output: out, Platform: platform})
			el := 0.0
			je := jsonEvent{Time: now, Action: "fail", Package: pkg, Elapsed: &el, FailedBuild: fb, Platform: platform}
			if r.multi {
				je.Package += suffix
			}
			_ = r.json.Encode(je)
		}
		r.term.printf("FAIL\t%s %s%s\n", pkg, failedWord(f), suffix)
		return
	}
	if r.json != nil {
		now := time.Now()
		action, word := "pass", "ok  "
		if failed {
			action, word = "fail", "FAIL"
		}
		out := fmt.Sprintf("%s\t%s\t%.3fs\n", word, pkg, elapsed)
		r.writeJSON(distribute.Event{Time: now, Action: "output", Package: pkg, Output: out, Platform: platform})
		r.writeJSON(distribute.Event{Time: now, Action: action, Package: pkg, Elapsed: elapsed, Platform: platform})
	}
	if failed {
		r.pkgFailed++
		if !r.pkgBad[platform+"\x00"+pkg] {
			r.pkgAlone++
		}
		if out := r.pkgOut[platform+"\x00"+pkg]; out != "" {
			r.term.printf("%s", out)
		}
	}
	delete(r.pkgOut, platform+"\x00"+pkg)
	// A line per package, always, as go test prints: a CI log is not
	// silent for the minutes a big module takes.
	word := "ok  "
	if failed {
		word = "FAIL"
	}
	r.term.printf("%s\t%s\t%.3fs%s\n", word, pkg, elapsed, suffix)
}

func (r *reporter) Worker(w distribute.WorkerEvent) {
	if w.Up {
		if r.everUp == nil {
			r.everUp = make(map[string]bool)
		}
		r.everUp[w.Worker] = true
	}
	switch {
	case w.Up && r.o.verbose:
		r.term.printf("[%s] %s %s\n", w.Worker, w.Gateway, w.Info)
	case !w.Up:
		r.term.printf("[%s] down: %s\n", w.Worker, w.Info)
	case strings.Contains(w.Info, "coverage"):
		// Coverage lost or refused misstates the table: always said.
		r.term.printf("[%s] %s\n", w.Worker, w.Info)
	case strings.Contains(w.Info, "crashed"):
		if r.o.verbose {
			r.term.printf("[%s] %s\n", w.Worker, w.Info)
		}
	}
}

// Note prints a line of the run's about no test in particular, as covdist's
// own notes are printed.
func (r *reporter) Note(text string) {
	r.term.printf("covdist: %s\n", text)
}

// finish is called when the run is over, before the coverage table.
func (r *reporter) finish() {
	r.term.clear()
	if len(r.failures) > 1 {
		var names []string
		for _, f := range r.failures {
			names = append(names, fmt.Sprintf("%s %s%s", f.Package, f.Test, r.where(f)))
		}
		sort.Strings(names)
		fmt.Fprintf(r.human, "\nFailed tests:\n")
		for _, n := range names {
			fmt.Fprintf(r.human, "  %s\n", n)
		}
	}
	if len(r.notRunWhy) > 0 {
		whys := make([]string, 0, len(r.notRunWhy))
		for w := range r.notRunWhy {
			whys = append(whys, w)
		}
		sort.Strings(whys)
		fmt.Fprintf(r.human, "\nNot run:\n")
		for _, w := range whys {
			tests := r.notRunWhy[w]
			n := len(tests)
			fmt.Fprintf(r.human, "  %d %s: %s\n", n, map[bool]string{true: "test", false: "tests"}[n == 1], w)
			if r.o.verbose {
				continue // each was named as it was reported
			}
			sort.Strings(tests)
			const show = 5
			for i, t := range tests {
				if i == show && n > show+1 {
					fmt.Fprintf(r.human, "    and %d more (-v names them all)\n", n-show)
					break
				}
				fmt.Fprintf(r.human, "    %s\n", t)
			}
		}
	}
	fmt.Fprintln(r.human)
}

// summary prints the closing line: N passed, N failed, N skipped.
func (r *reporter) summary(d time.Duration, workers int) {
	line := fmt.Sprintf("%d passed, %d failed, %d skipped", r.passed, r.failed+r.crashed, r.skipped)
	var extra []string
	if r.crashed > 0 {
		extra = append(extra, fmt.Sprintf("%d of the failed crashed", r.crashed))
	}
	if r.notBuiltPkgs > 0 {
		extra = append(extra, fmt.Sprintf("%d %s not build", r.notBuiltPkgs,
			map[bool]string{true: "package did", false: "packages did"}[r.notBuiltPkgs == 1]))
	}
	if r.notRun > 0 {
		extra = append(extra, fmt.Sprintf("%d not run", r.notRun))
	}
	if r.pkgAlone > 0 {
		extra = append(extra, fmt.Sprintf("%d %s failed outside %s tests", r.pkgAlone,
			map[bool]string{true: "package", false: "packages"}[r.pkgAlone == 1], map[bool]string{true: "its", false: "their"}[r.pkgAlone == 1]))
	}
	fmt.Fprintln(r.human, line)
	on := fmt.Sprintf("%d", workers)
	if len(r.everUp) < workers {
		// Some never started (out of descriptors, a host refused): the
		// run went on without them, and says so.
		on = fmt.Sprintf("%d of %d", len(r.everUp), workers)
	}
	noun := "workers"
	if workers == 1 {
		noun = "worker"
	}
	tail := fmt.Sprintf("in %.2fs on %s %s", d.Seconds(), on, noun)
	if len(extra) > 0 {
		tail = strings.Join(extra, ", ") + "; " + tail
	}
	if r.multi {
		// In the order of the header lines and the columns.
		plats := slices.Clone(r.order)
		for p := range r.perPlat {
			if !slices.Contains(plats, p) {
				plats = append(plats, p)
			}
		}
		for _, p := range plats {
			if r.perPlat[p] == nil {
				r.perPlat[p] = new([4]int) // nothing to list its tests from
			}
		}
		for _, p := range plats {
			c := r.perPlat[p]
			why := ""
			if step, ok := r.notBuilt[p]; ok {
				why = " (did not build: " + step + ")"
			}
			fmt.Fprintf(r.human, "  %s: %d passed, %d failed, %d skipped, %d not run%s\n", p, c[0], c[1], c[2], c[3], why)
		}
	}
	fmt.Fprintf(r.human, "(%s)\n", tail)
}

// lockedWriter serialises whole writes to w: the event stream is written
// by the reporter and, through eventText, by whatever prints human output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// eventText turns human output into go test -json output events, one per
// line, of the package pkg (the module's path): events of no package make
// gotestsum's JUnit write a suite with an empty name.
type eventText struct {
	mu  sync.Mutex
	enc *json.Encoder
	pkg string
	buf []byte
}

func (e *eventText) Write(b []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = append(e.buf, b...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(e.buf[:i+1])
		e.buf = e.buf[i+1:]
		if err := e.enc.Encode(jsonEvent{Time: time.Now(), Action: "output", Package: e.pkg, Output: &line}); err != nil {
			return 0, err
		}
	}
}

// hint says what to do about a failure whose output shows a known cause
// outside the tests, or nothing.
func hint(output string) string {
	switch {
	case strings.Contains(output, "bcryptprimitives.dll not found"):
		return "Wine has no bcryptprimitives.dll, which Go 1.22 and later need; covdist's scripts/wine/prefix.sh builds a stand-in into WINEPREFIX (see 'Windows under Wine' in its README)"
	}
	return ""
}
