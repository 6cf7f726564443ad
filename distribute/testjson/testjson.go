// Package testjson owns turning the output of a Go test binary run with
// -test.v=test2json into test events and per-test outcomes.
//
// With -test.v=test2json the testing package starts every framing line with
// the byte 0x16 (SYN, shown here as ^V); every other line is output of the
// test most recently named by a framing line:
//
//	^V=== RUN   TestSub
//	^V=== RUN   TestSub/a_b
//	    p_test.go:23: deep failure
//	^V--- FAIL: TestSub/a_b (0.00s)
//	^V=== NAME  TestSub
//	^V--- FAIL: TestSub (0.00s)
//	^V=== NAME
//	^VFAIL
//	coverage: 75.0% of statements
//
// Parser follows cmd/internal/test2json, so its events are those of
// go test -json. Unlike test2json it requires the SYN byte on every framing
// line, so a test printing "--- FAIL: X" cannot fake a result, and because a
// test can print the SYN byte too, it believes a framing line only where
// the testing package could have written it (see Parser), so that each test
// ends once whatever it prints.
//
// Package testjson imports no covdist package.
package testjson

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Event is one test event in the vocabulary of go test -json.
type Event struct {
	// Action is run, pause, cont, output, pass, fail, skip or bench.
	Action string
	// Test is the full test name, such as "TestX/sub" for a subtest. It is
	// empty for output that belongs to no test.
	Test string
	// Elapsed is the test's duration in seconds, for pass, fail and skip.
	Elapsed float64
	// Output is a line of output with its "\n", without the SYN byte. A line
	// longer than the parser's line limit arrives in several events, only the
	// last of which ends in "\n".
	Output string
}

// The statuses of an Outcome.
const (
	StatusPass       = "pass"
	StatusFail       = "fail"
	StatusSkip       = "skip"
	StatusRunning    = "running"    // started and never finished: the process ended or is still running it
	StatusPaused     = "paused"     // called t.Parallel and never continued
	StatusNotStarted = "notstarted" // never mentioned by the test binary
)

// Outcome is what became of one top-level test.
type Outcome struct {
	Test string
	// Status is one of the Status constants. It comes from the test's own
	// "--- PASS/FAIL/SKIP" line, not from its subtests'.
	Status string
	// Elapsed is the duration in seconds the test reported.
	Elapsed float64
	// Output is the test's output including its subtests' and its framing
	// lines, as go test -v prints them. For a test still running when the
	// output ended it also holds the output that arrived while it ran and
	// belonged to no running test, such as a panic in one of its goroutines
	// printed after another test finished.
	Output string
}

const (
	syn = 0x16

	// defaultMaxLine bounds the line buffer; longer lines become several
	// output events so that a test writing without newlines cannot make the
	// parser buffer without limit. Framing lines are far shorter.
	defaultMaxLine = 64 << 10

	// defaultLogLimit bounds the output kept for one test (see textLog).
	defaultLogLimit = 2 << 20
)

// Parser consumes a test binary's combined stdout and stderr as it arrives.
// Write and Close may be called from one goroutine while the query methods
// (Outcomes, Running, RunningSince, Finished, Trailer, CrashTest) are called
// from others.
//
// A test's own output can hold SYN-framed lines, forged or by accident, in
// the same stream as the testing package's. Top-level tests start one at a
// time (a parallel one pauses first), so the parser takes a framing line as
// output of the current test where testing could not have written it: a
// top-level RUN while another top-level test runs, a CONT of a test not
// paused, a PAUSE, NAME or result of a test (or subtest of one) that is not
// running, the final PASS/FAIL while a test runs or is paused. A test can
// still print a result line of its own while it runs; testing's real one
// comes after it, so results are held until the test's turn is over (the
// next top-level RUN, the final line, or the end of the output) and only
// each test's last result is emitted.
type Parser struct {
	emit     func(Event)
	now      func() time.Time
	maxLine  int
	logLimit int

	// writeMu serialises Write and Close so that events reach emit in input
	// order; mu guards everything below and is not held while emit runs, so
	// emit may call the query methods.
	writeMu sync.Mutex

	mu       sync.Mutex
	buf      []byte          // unfinished line
	mid      bool            // buf continues a line whose start went out in chunks
	current  string          // full name of the test the next output belongs to
	held     []Event         // results not yet emitted: only a test's last one is, once its turn is over
	turn     string          // the top-level test that started or continued last
	repeats  bool            // tests may run more than once (-test.count)
	expected map[string]bool // the top-level tests -test.run selects; nil: any
	tests    map[string]*testState
	seq      int // activity counter ordering Running
	finished bool
	trailer  textLog
	crash    crashScan
	events   []Event // to emit once mu is released
}

// testState is what the parser knows of one top-level test.
type testState struct {
	status     string
	failedOnce bool // an earlier run (with -test.count) failed
	elapsed    float64
	since      time.Time // when it last started or continued
	active     int       // seq of its last framing line
	log        textLog
	strays     textLog  // output while it ran that belonged to no running test
	unnamed    []string // output events of no test in its turn, since its last result
	unnamedN   int      // their bytes, bounded by the log limit
}

// NewParser returns a Parser that calls emit for each event as soon as the
// line producing it is complete. The report of a test's result is held back
// until the test's turn is over, so that output printed after a "--- FAIL"
// line (an example's got/want) precedes the fail event, as test2json does,
// and a result the test printed itself is replaced by testing's.
func NewParser(emit func(Event)) *Parser {
	if emit == nil {
		emit = func(Event) {}
	}
	return &Parser{
		emit:     emit,
		now:      time.Now,
		maxLine:  defaultMaxLine,
		logLimit: defaultLogLimit,
		tests:    make(map[string]*testState),
		trailer:  textLog{limit: defaultLogLimit},
	}
}

// AllowRepeats tells the parser that tests may run more than once
// (-test.count above 1), so a RUN of a test that ended is testing's.
func (p *Parser) AllowRepeats() {
	p.update(func() { p.repeats = true })
}

// Expect tells the parser which top-level tests the binary was asked to
// run (its -test.run), so that a RUN line of any other is a test's own
// output. Benchmarks, which -test.bench selects, are not checked.
func (p *Parser) Expect(tests []string) {
	p.update(func() {
		p.expected = make(map[string]bool, len(tests))
		for _, t := range tests {
			p.expected[t] = true
		}
	})
}

// Write feeds output of the test binary to the parser. Lines may be split
// across writes. It never fails.
func (p *Parser) Write(b []byte) (int, error) {
	p.update(func() {
		p.buf = append(p.buf, b...)
		p.scan()
	})
	return len(b), nil
}

// Close handles a trailing line without "\n" as output and emits the held
// back result, once the test binary has exited.
func (p *Parser) Close() {
	p.update(func() {
		if len(p.buf) > 0 {
			// An unterminated line is output even if it looks like framing:
			// a process killed mid-write must not invent a result.
			text := p.buf
			if !p.mid && text[0] == syn {
				text = text[1:]
			}
			p.output(string(text), true)
			p.buf = p.buf[:0]
		} else if p.mid {
			p.endLine()
		}
		p.mid = false
		p.settle(allTests)
	})
}

// update runs f with mu held, then emits the events f queued.
func (p *Parser) update(f func()) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	f()
	events := p.events
	p.events = nil
	p.mu.Unlock()
	for _, e := range events {
		p.emit(e)
	}
}

// scan handles every complete line in p.buf and splits off chunks of a line
// longer than p.maxLine. The split points depend only on the input, not on
// how it was divided into writes.
func (p *Parser) scan() {
	i := 0
	for i < len(p.buf) {
		rest := p.buf[i:]
		if p.mid && rest[0] == syn {
			p.endLine()
			p.mid = false
		}
		window := rest[:min(len(rest), p.maxLine)]
		j, w := indexEOL(window)
		switch {
		case j >= 0 && p.mid:
			p.output(string(rest[:j+w]), w == 0)
			p.mid = false
		case j >= 0:
			p.line(rest[:j+w], w == 0)
		case len(rest) >= p.maxLine:
			j = trimUTF8(window)
			if j == 0 {
				j = len(window)
			}
			text := rest[:j]
			if !p.mid && text[0] == syn {
				text = text[1:]
			}
			p.output(string(text), false)
			p.mid = true
		default:
			p.buf = p.buf[:copy(p.buf, rest)]
			return
		}
		i += j + w
	}
	p.buf = p.buf[:0]
}

// indexEOL returns the position and width of the first line ending in b:
// a "\n" (width 1), or a SYN not at the start (width 0), because framing
// lines always start a line even when the output before them did not end
// in a newline.
func indexEOL(b []byte) (pos, width int) {
	for i, c := range b {
		if c == '\n' {
			return i, 1
		}
		if c == syn && i > 0 {
			return i, 0
		}
	}
	return -1, 0
}

// trimUTF8 returns the length of the longest prefix of b that does not end
// inside a UTF-8 sequence, as cmd/internal/test2json does.
func trimUTF8(b []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c&0xc0 == 0x80 {
			continue
		}
		switch {
		case c&0xe0 == 0xc0 && i < 2,
			c&0xf0 == 0xe0 && i < 3,
			c&0xf8 == 0xf0 && i < 4:
			return len(b) - i
		}
		break
	}
	return len(b)
}

// line handles one whole line; cut means it was ended by the SYN of the next
// line rather than by "\n".
func (p *Parser) line(line []byte, cut bool) {
	if line[0] != syn {
		p.output(string(line), cut)
		return
	}
	text := string(line[1:])
	f, ok := parseFraming(strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r"))
	if !ok {
		p.output(text, cut)
		return
	}
	if !p.believable(f) {
		p.output(text, cut)
		return
	}
	if p.finished {
		p.finished = false // the final line before it was not testing's
	}
	switch f.action {
	case "final":
		// Not the test whose turn it is: the line may be its own.
		p.settle(p.turn)
		p.current = ""
		p.finished = true
		p.output(text, cut)
	case "name":
		// Only says whom the following output belongs to; test2json emits
		// nothing for it either.
		p.current = f.name
		p.touch(f.name)
	case "attr", "artifacts":
		p.current = f.name
		p.touch(f.name)
		p.output(text, cut)
	case "run", "cont":
		if f.name == topLevel(f.name) {
			if f.action == "run" {
				p.settle("")
			}
			if t := p.tests[p.turn]; t != nil {
				t.unnamed, t.unnamedN = nil, 0
			}
			p.turn = f.name
		}
		p.current = f.name
		p.start(f.name)
		p.events = append(p.events, Event{Action: f.action, Test: f.name})
		p.output(text, cut)
	case "pause":
		p.current = f.name
		p.pause(f.name)
		p.output(text, cut)
		p.events = append(p.events, Event{Action: f.action, Test: f.name})
	default: // pass, fail, skip, bench
		if st := p.tests[f.name]; st != nil && f.name == p.turn && p.current == "" {
			// What its turn printed while a forged line said that no test
			// was running: its own, as go test -v shows it.
			for _, u := range st.unnamed {
				st.log.write(u)
				p.events = append(p.events, Event{Action: "output", Test: f.name, Output: u})
			}
			st.unnamed, st.unnamedN = nil, 0
		}
		p.current = f.name
		p.output(text, cut)
		p.report(f)
		p.hold(Event{Action: f.action, Test: f.name, Elapsed: f.elapsed})
	}
}

// believable reports whether the testing package could have written the
// framing line f now (see Parser).
func (p *Parser) believable(f framing) bool {
	top := topLevel(f.name)
	st := p.tests[top]
	status := ""
	if st != nil {
		status = st.status
	}
	active := status == StatusRunning || status == StatusPaused
	switch {
	case f.action == "final":
		return !p.anyRunning("", true)
	case f.action == "name" && f.name == "":
		return !p.anyRunning("", false)
	case f.name != top:
		// A subtest's lines come while its top-level test runs.
		return status == StatusRunning
	case f.action == "run":
		if st != nil && (active || !p.repeats) {
			return false // started already, and runs once
		}
		if p.expected != nil && !p.expected[top] && !strings.HasPrefix(top, "Benchmark") {
			return false // not one -test.run selects
		}
		return !p.anyRunning(top, false)
	case f.action == "cont":
		return status == StatusPaused
	case f.action == "pause":
		return status == StatusRunning
	case f.action == "name" || f.action == "attr" || f.action == "artifacts":
		return status == StatusRunning
	default: // a result
		// Of a test never seen too, unless the parser knows what runs:
		// the output was cut off at its start.
		// Of the test whose turn it is, once more: its earlier result was
		// one it printed itself.
		if st == nil {
			return p.expected == nil
		}
		return active || top == p.turn
	}
}

// anyRunning reports whether a top-level test other than except is running
// (or, with paused, paused). A benchmark prints no result line when it
// passes, so it never holds up the next one.
func (p *Parser) anyRunning(except string, paused bool) bool {
	for name, st := range p.tests {
		if name == except || strings.HasPrefix(name, "Benchmark") {
			continue
		}
		if st.status == StatusRunning || paused && st.status == StatusPaused {
			return true
		}
	}
	return false
}

// hold keeps a result event until its test's turn is over, replacing an
// earlier result of the same test: the earlier one was the test's own
// output, printed while it ran.
func (p *Parser) hold(e Event) {
	p.held = slices.DeleteFunc(p.held, func(h Event) bool { return h.Test == e.Test })
	p.held = append(p.held, e)
}

// allTests, given to settle, settles every held result.
const allTests = "\x00all"

// settle emits the held results of the top-level tests that have ended,
// but those of except (all of them for allTests): no later line of the
// testing package can be theirs.
func (p *Parser) settle(except string) {
	keep := p.held[:0]
	for _, e := range p.held {
		top := topLevel(e.Test)
		st := p.tests[top]
		if except == allTests || top != except && (st == nil || st.status != StatusRunning && st.status != StatusPaused) {
			p.events = append(p.events, e)
		} else {
			keep = append(keep, e)
		}
	}
	p.held = keep
}

// framing is a parsed framing line.
type framing struct {
	action  string // run, pause, cont, name, attr, artifacts, pass, fail, skip, bench or final
	name    string
	elapsed float64
}

var framingPrefixes = []struct{ prefix, action string }{
	{"=== RUN   ", "run"},
	{"=== PAUSE ", "pause"},
	{"=== CONT  ", "cont"},
	{"=== NAME  ", "name"},
	{"=== ATTR  ", "attr"},
	{"=== ARTIFACTS ", "artifacts"},
	{"--- PASS: ", "pass"},
	{"--- FAIL: ", "fail"},
	{"--- SKIP: ", "skip"},
	{"--- BENCH: ", "bench"},
}

// parseFraming parses a line that followed a SYN, without its line ending.
func parseFraming(line string) (framing, bool) {
	switch line {
	case "PASS", "FAIL":
		return framing{action: "final"}, true
	case "=== NAME":
		// "=== NAME  " for no test, with its trailing spaces lost.
		return framing{action: "name"}, true
	}
	for _, fp := range framingPrefixes {
		rest, ok := strings.CutPrefix(line, fp.prefix)
		if !ok {
			continue
		}
		f := framing{action: fp.action, name: strings.TrimSpace(rest)}
		switch {
		case fp.action == "attr" || fp.action == "artifacts":
			f.name, _, _ = strings.Cut(f.name, " ")
		case strings.HasPrefix(fp.prefix, "---"):
			// "TestX (0.01s)"; subtest names never hold spaces, testing
			// rewrites them to underscores.
			if i := strings.Index(f.name, " ("); i >= 0 {
				if d, ok := strings.CutSuffix(f.name[i+2:], "s)"); ok {
					f.elapsed, _ = strconv.ParseFloat(d, 64)
				}
				f.name = f.name[:i]
			}
		}
		return f, true
	}
	return framing{}, false
}

// topLevel returns the top-level test of a full test name.
func topLevel(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

// test returns the state of the top-level test of name, creating it if the
// output never ran it (it was cut off at the start).
func (p *Parser) test(name string) *testState {
	top := topLevel(name)
	st := p.tests[top]
	if st == nil {
		st = &testState{
			status: StatusRunning,
			since:  p.now(),
			log:    textLog{limit: p.logLimit},
			strays: textLog{limit: p.logLimit},
		}
		p.tests[top] = st
	}
	return st
}

// touch records activity of the top-level test of name, for Running.
func (p *Parser) touch(name string) {
	if name == "" {
		return
	}
	p.seq++
	p.test(name).active = p.seq
}

// start handles a RUN or CONT line.
func (p *Parser) start(name string) {
	p.touch(name)
	st := p.test(name)
	if name == topLevel(name) {
		if st.status == StatusFail {
			st.failedOnce = true
		}
		st.status = StatusRunning
		st.since = p.now()
	}
}

// pause handles a PAUSE line.
func (p *Parser) pause(name string) {
	p.touch(name)
	if name == topLevel(name) {
		p.test(name).status = StatusPaused
	}
}

// report handles a "--- PASS/FAIL/SKIP" line.
func (p *Parser) report(f framing) {
	p.touch(f.name)
	st := p.test(f.name)
	if f.name != topLevel(f.name) || f.action == "bench" {
		return
	}
	st.status = f.action
	if st.failedOnce {
		st.status = StatusFail
	}
	st.elapsed += f.elapsed
	st.strays = textLog{limit: p.logLimit}
}

// output queues an output event for the current test and keeps the text;
// cut means the line ended without "\n", which the kept text gets anyway so
// that it reads as go test -v prints it.
func (p *Parser) output(text string, cut bool) {
	if text == "" {
		return
	}
	p.events = append(p.events, Event{Action: "output", Test: p.current, Output: text})
	if st := p.tests[p.turn]; p.current == "" && st != nil && st.unnamedN+len(text) <= p.logLimit {
		st.unnamed = append(st.unnamed, text)
		st.unnamedN += len(text)
	}
	p.crash.line(text)
	p.keep(text)
	if cut {
		p.endLine()
	}
}

// endLine ends, in the kept text, a line that did not end in "\n".
func (p *Parser) endLine() {
	p.keep("\n")
}

func (p *Parser) keep(text string) {
	var owner *testState
	if p.current != "" {
		owner = p.test(p.current)
		owner.log.write(text)
	} else {
		p.trailer.write(text)
	}
	if p.finished || owner != nil && (owner.status == StatusRunning || owner.status == StatusPaused) {
		return
	}
	// Output of no test, or of a test that already finished, while others
	// run is often theirs: testing prints no "=== NAME" line after a
	// parallel test ends, so a panic in another test's goroutine lands here.
	for _, st := range p.tests {
		if st.status == StatusRunning {
			st.strays.write(text)
		}
	}
}

// Outcomes returns one Outcome for each name in requested, in that order.
// The names are those of top-level tests.
func (p *Parser) Outcomes(requested []string) []Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Outcome, 0, len(requested))
	for _, name := range requested {
		st := p.tests[name]
		if st == nil {
			out = append(out, Outcome{Test: name, Status: StatusNotStarted})
			continue
		}
		o := Outcome{Test: name, Status: st.status, Elapsed: st.elapsed, Output: st.log.String()}
		if st.status == StatusRunning {
			o.Output += st.strays.String()
		}
		out = append(out, o)
	}
	return out
}

// Running returns the top-level tests that have started or continued and
// have neither finished nor paused, the most recently active last.
func (p *Parser) Running() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for name, st := range p.tests {
		if st.status == StatusRunning {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return p.tests[a].active - p.tests[b].active
	})
	return names
}

// RunningSince returns, for each test Running reports, when its last RUN or
// CONT line arrived, so that a caller can enforce a per-test timeout that
// does not count the time a parallel test spent paused.
func (p *Parser) RunningSince() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	since := make(map[string]time.Time)
	for name, st := range p.tests {
		if st.status == StatusRunning {
			since[name] = st.since
		}
	}
	return since
}

// Finished reports whether the final "PASS" or "FAIL" line of the test
// binary arrived, meaning it ended normally rather than crashing.
func (p *Parser) Finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finished
}

// Trailer returns the output that belongs to no test: the final PASS or
// FAIL line, "coverage: ..." lines, and output printed while testing named
// no test, such as a panic in a goroutine after a test finished.
func (p *Parser) Trailer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trailer.String()
}

// textLog keeps output, dropping the middle once it grows past its limit so
// that a test printing without end cannot exhaust the agent's memory. It
// keeps the first quarter of the limit, which shows what the test was doing,
// and at least the last three quarters, which show why it stopped.
type textLog struct {
	limit   int
	head    []byte
	tail    []byte
	omitted int
}

func (l *textLog) write(s string) {
	if n := min(l.limit/4-len(l.head), len(s)); n > 0 {
		l.head = append(l.head, s[:n]...)
		s = s[n:]
	}
	l.tail = append(l.tail, s...)
	keep := l.limit - l.limit/4
	if len(l.tail) <= 2*keep {
		return
	}
	cut := len(l.tail) - keep
	if i := bytes.IndexByte(l.tail[cut:], '\n'); i >= 0 {
		cut += i + 1
	}
	l.omitted += cut
	l.tail = append(l.tail[:0], l.tail[cut:]...)
}

func (l *textLog) String() string {
	if l.omitted == 0 {
		return string(l.head) + string(l.tail)
	}
	head := string(l.head)
	if !strings.HasSuffix(head, "\n") {
		head += "\n"
	}
	return fmt.Sprintf("%s[... %d bytes of output omitted ...]\n%s", head, l.omitted, l.tail)
}

// LastActive returns the top-level test named by the most recent framing
// line, finished or not, or "" before any. When a process dies with no test
// running, this is the test it died in: a panicking test prints its
// "--- FAIL" line before the panic ends the process.
func (p *Parser) LastActive() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	best, seq := "", -1
	for name, st := range p.tests {
		if st.active > seq {
			best, seq = name, st.active
		}
	}
	return best
}

// CrashTest returns the test among tests whose code the goroutine that
// crashed the process was running, or started it, as the last panic or
// fatal error in the output shows its stack; "" when the stack names none
// of them or there was none. It names a test whose goroutine panicked after
// the test had ended too: testing printed that test's result, and the next
// test may have started, before the panic ended the process.
func (p *Parser) CrashTest(tests []string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fn := range p.crash.frames {
		for _, t := range tests {
			if namesTest(fn, t) {
				return t
			}
		}
	}
	return ""
}

// CrashReport returns the text of the last panic or fatal error in the
// output, from its first line on (at most 64 KiB), or "".
func (p *Parser) CrashReport() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.crash.report)
}

// namesTest reports whether a traceback's function, such as
// "example.com/p.TestX.func1.2" or "example.com/p.TestX[...]", is the
// test function test or a closure in it.
func namesTest(fn, test string) bool {
	for i := strings.Index(fn, "."+test); i >= 0; {
		rest := fn[i+1+len(test):]
		if rest == "" || strings.ContainsAny(rest[:1], ".([") {
			return true
		}
		j := strings.Index(fn[i+1:], "."+test)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// crashScan follows the output for the Go runtime's report of a panic or
// fatal error and keeps the functions of the first goroutine it prints:
// the one that crashed, innermost first, then the function that started
// it ("created by").
type crashScan struct {
	state  int // 0 outside a report, 1 after its first line, 2 in the stack
	frames []string
	report []byte // the report's text, from its first line on
}

const (
	maxCrashFrames = 200
	maxCrashReport = 64 << 10
)

func (c *crashScan) line(text string) {
	if c.report != nil && len(c.report)+len(text) <= maxCrashReport {
		c.report = append(c.report, text...)
	}
	text = strings.TrimRight(text, "\r\n")
	switch {
	case strings.HasPrefix(text, "panic: ") || strings.HasPrefix(text, "fatal error: "):
		// The last report is the one that ended the process.
		c.state, c.frames = 1, nil
		c.report = append(make([]byte, 0, 4096), text...)
		c.report = append(c.report, '\n')
	case c.state == 1:
		if strings.HasPrefix(text, "goroutine ") && strings.HasSuffix(text, ":") {
			c.state = 2
		}
	case c.state == 2:
		switch {
		case text == "":
			c.state = 0
		case strings.HasPrefix(text, "\t"):
			// The frame's file and line.
		case len(c.frames) >= maxCrashFrames:
		default:
			fn, _, _ := strings.Cut(strings.TrimPrefix(text, "created by "), " in goroutine ")
			if i := strings.LastIndexByte(fn, '('); i > 0 && strings.HasSuffix(fn, ")") {
				fn = fn[:i] // the arguments
			}
			c.frames = append(c.frames, fn)
		}
	}
}
