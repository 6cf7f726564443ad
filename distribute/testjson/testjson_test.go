package testjson

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// parse feeds input to a new parser in writes of at most split bytes (all at
// once if split is 0) and returns the parser and the events it emitted.
func parse(input string, split, maxLine int) (*Parser, []Event) {
	return parseRepeats(input, split, maxLine, false)
}

// parseRepeats is parse for a binary whose tests may run more than once
// when repeats is set.
func parseRepeats(input string, split, maxLine int, repeats bool) (*Parser, []Event) {
	var events []Event
	p := NewParser(func(e Event) { events = append(events, e) })
	if repeats {
		p.AllowRepeats()
	}
	if maxLine > 0 {
		p.maxLine = maxLine
	}
	b := []byte(input)
	for len(b) > 0 {
		n := len(b)
		if split > 0 {
			n = min(n, split)
		}
		p.Write(b[:n])
		b = b[n:]
	}
	p.Close()
	return p, events
}

func TestEvents(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		maxLine int
		want    []Event
	}{
		{
			name:  "pass",
			input: "\x16=== RUN   TestA\n    a_test.go:5: hi\n\x16--- PASS: TestA (0.25s)\n\x16=== NAME  \n\x16PASS\ncoverage: 50.0% of statements\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "    a_test.go:5: hi\n"},
				{Action: "output", Test: "TestA", Output: "--- PASS: TestA (0.25s)\n"},
				{Action: "output", Output: "PASS\n"},
				{Action: "output", Output: "coverage: 50.0% of statements\n"},
				// The last test's result waits for the end of the output:
				// the final line may be its own.
				{Action: "pass", Test: "TestA", Elapsed: 0.25},
			},
		},
		{
			name: "subtests keep full names",
			input: "\x16=== RUN   TestS\n\x16=== RUN   TestS/a_b\n    s_test.go:9: bad\n" +
				"\x16--- FAIL: TestS/a_b (0.00s)\n\x16=== NAME  TestS\n\x16--- FAIL: TestS (0.01s)\n",
			want: []Event{
				{Action: "run", Test: "TestS"},
				{Action: "output", Test: "TestS", Output: "=== RUN   TestS\n"},
				{Action: "run", Test: "TestS/a_b"},
				{Action: "output", Test: "TestS/a_b", Output: "=== RUN   TestS/a_b\n"},
				{Action: "output", Test: "TestS/a_b", Output: "    s_test.go:9: bad\n"},
				{Action: "output", Test: "TestS/a_b", Output: "--- FAIL: TestS/a_b (0.00s)\n"},
				{Action: "output", Test: "TestS", Output: "--- FAIL: TestS (0.01s)\n"},
				// Results wait for the top-level test's turn to end.
				{Action: "fail", Test: "TestS/a_b"},
				{Action: "fail", Test: "TestS", Elapsed: 0.01},
			},
		},
		{
			name:  "pause writes its line before the event",
			input: "\x16=== RUN   TestP\n\x16=== PAUSE TestP\n\x16=== CONT  TestP\n",
			want: []Event{
				{Action: "run", Test: "TestP"},
				{Action: "output", Test: "TestP", Output: "=== RUN   TestP\n"},
				{Action: "output", Test: "TestP", Output: "=== PAUSE TestP\n"},
				{Action: "pause", Test: "TestP"},
				{Action: "cont", Test: "TestP"},
				{Action: "output", Test: "TestP", Output: "=== CONT  TestP\n"},
			},
		},
		{
			name:  "output after a result line precedes the result event",
			input: "\x16=== RUN   Example_bad\n\x16--- FAIL: Example_bad (0.00s)\ngot:\nx\n\x16=== NAME   \n",
			want: []Event{
				{Action: "run", Test: "Example_bad"},
				{Action: "output", Test: "Example_bad", Output: "=== RUN   Example_bad\n"},
				{Action: "output", Test: "Example_bad", Output: "--- FAIL: Example_bad (0.00s)\n"},
				{Action: "output", Test: "Example_bad", Output: "got:\n"},
				{Action: "output", Test: "Example_bad", Output: "x\n"},
				{Action: "fail", Test: "Example_bad"},
			},
		},
		{
			name:  "framing without SYN is output",
			input: "\x16=== RUN   TestA\n--- FAIL: TestA (0.00s)\n=== RUN   TestB\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "--- FAIL: TestA (0.00s)\n"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestB\n"},
			},
		},
		{
			name:  "SYN ends an unterminated line",
			input: "\x16=== RUN   TestA\nno newline\x16--- PASS: TestA (0.00s)\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "no newline"},
				{Action: "output", Test: "TestA", Output: "--- PASS: TestA (0.00s)\n"},
				{Action: "pass", Test: "TestA"},
			},
		},
		{
			name:  "NAME without trailing spaces names no test",
			input: "\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n\x16=== NAME\nstray\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "--- PASS: TestA (0.00s)\n"},
				{Action: "output", Output: "stray\n"},
				{Action: "pass", Test: "TestA"},
			},
		},
		{
			name:  "CRLF framing",
			input: "\x16=== RUN   TestA\r\n\x16--- SKIP: TestA (0.00s)\r\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\r\n"},
				{Action: "output", Test: "TestA", Output: "--- SKIP: TestA (0.00s)\r\n"},
				{Action: "skip", Test: "TestA"},
			},
		},
		{
			name:    "long line in chunks",
			input:   "\x16=== RUN   T\n0123456789abcdef0123456789abcdefghij\n\x16=== NAME  T\n",
			maxLine: 16,
			want: []Event{
				{Action: "run", Test: "T"},
				{Action: "output", Test: "T", Output: "=== RUN   T\n"},
				{Action: "output", Test: "T", Output: "0123456789abcdef"},
				{Action: "output", Test: "T", Output: "0123456789abcdef"},
				{Action: "output", Test: "T", Output: "ghij\n"},
			},
		},
		{
			name:    "chunks keep UTF-8 sequences whole",
			input:   "\x16=== RUN   T\n0123456789abcde\u00e9\u00e9\n",
			maxLine: 16,
			want: []Event{
				{Action: "run", Test: "T"},
				{Action: "output", Test: "T", Output: "=== RUN   T\n"},
				{Action: "output", Test: "T", Output: "0123456789abcde"},
				{Action: "output", Test: "T", Output: "\u00e9\u00e9\n"},
			},
		},
		{
			name:    "too long framing line is output",
			input:   "\x16=== RUN   TestLongName\n",
			maxLine: 12,
			want: []Event{
				{Action: "output", Output: "=== RUN   T"},
				{Action: "output", Output: "estLongName\n"},
			},
		},
		{
			name:    "SYN ends a chunked line",
			input:   "\x16=== RUN   T\n0123456789abcdefgh\x16=== NAME  T\n",
			maxLine: 16,
			want: []Event{
				{Action: "run", Test: "T"},
				{Action: "output", Test: "T", Output: "=== RUN   T\n"},
				{Action: "output", Test: "T", Output: "0123456789abcdef"},
				{Action: "output", Test: "T", Output: "gh"},
			},
		},
		{
			name:  "unterminated framing line at the end is output",
			input: "\x16=== RUN   TestA\n\x16--- PASS: TestA (0.0",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "--- PASS: TestA (0.0"},
			},
		},
		{
			name:  "attr",
			input: "\x16=== RUN   TestA\n\x16=== ATTR  TestA key some value\n",
			want: []Event{
				{Action: "run", Test: "TestA"},
				{Action: "output", Test: "TestA", Output: "=== RUN   TestA\n"},
				{Action: "output", Test: "TestA", Output: "=== ATTR  TestA key some value\n"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{0, 1, 3} {
				_, got := parse(tt.input, split, tt.maxLine)
				if !slices.Equal(got, tt.want) {
					t.Errorf("writes of %d bytes: got events\n%s\nwant\n%s", split, formatEvents(got), formatEvents(tt.want))
				}
			}
		})
	}
}

func formatEvents(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\t%+v\n", e)
	}
	return b.String()
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		requested []string
		want      []Outcome
		finished  bool
		trailer   string
		repeats   bool // -test.count above 1
	}{
		{
			name: "statuses",
			input: "\x16=== RUN   TestA\n\x16--- PASS: TestA (1.50s)\n\x16=== NAME  \n" +
				"\x16=== RUN   TestB\n\x16=== RUN   TestB/x\n\x16--- FAIL: TestB/x (0.00s)\n\x16=== NAME  TestB\n\x16--- PASS: TestB (0.00s)\n\x16=== NAME  \n" +
				"\x16=== RUN   TestC\n\x16=== PAUSE TestC\n\x16=== NAME  \n" +
				"\x16=== RUN   TestD\nworking\n",
			requested: []string{"TestA", "TestB", "TestC", "TestD", "TestE", "TestA"},
			want: []Outcome{
				{Test: "TestA", Status: StatusPass, Elapsed: 1.5, Output: "=== RUN   TestA\n--- PASS: TestA (1.50s)\n"},
				{Test: "TestB", Status: StatusPass, Output: "=== RUN   TestB\n=== RUN   TestB/x\n--- FAIL: TestB/x (0.00s)\n--- PASS: TestB (0.00s)\n"},
				{Test: "TestC", Status: StatusPaused, Output: "=== RUN   TestC\n=== PAUSE TestC\n"},
				{Test: "TestD", Status: StatusRunning, Output: "=== RUN   TestD\nworking\n"},
				{Test: "TestE", Status: StatusNotStarted},
				{Test: "TestA", Status: StatusPass, Elapsed: 1.5, Output: "=== RUN   TestA\n--- PASS: TestA (1.50s)\n"},
			},
		},
		{
			name:      "panic after the result line",
			input:     "\x16=== RUN   TestP\n\x16--- FAIL: TestP (0.00s)\npanic: kaboom [recovered, repanicked]\n\ngoroutine 7 [running]:\n",
			requested: []string{"TestP"},
			want: []Outcome{
				{Test: "TestP", Status: StatusFail, Output: "=== RUN   TestP\n--- FAIL: TestP (0.00s)\npanic: kaboom [recovered, repanicked]\n\ngoroutine 7 [running]:\n"},
			},
		},
		{
			name: "stray output goes to the tests running",
			input: "\x16=== RUN   TestG\n\x16=== PAUSE TestG\n\x16=== NAME  \n\x16=== RUN   TestQ\n\x16=== PAUSE TestQ\n\x16=== NAME  \n" +
				"\x16=== CONT  TestG\n\x16=== CONT  TestQ\n\x16--- PASS: TestQ (0.00s)\npanic: late\n",
			requested: []string{"TestG", "TestQ"},
			want: []Outcome{
				{Test: "TestG", Status: StatusRunning, Output: "=== RUN   TestG\n=== PAUSE TestG\n=== CONT  TestG\npanic: late\n"},
				{Test: "TestQ", Status: StatusPass, Output: "=== RUN   TestQ\n=== PAUSE TestQ\n=== CONT  TestQ\n--- PASS: TestQ (0.00s)\npanic: late\n"},
			},
		},
		{
			name:      "output of no test before a test ran",
			input:     "init says hi\n\x16=== RUN   TestA\nno newline",
			requested: []string{"TestA"},
			want: []Outcome{
				{Test: "TestA", Status: StatusRunning, Output: "=== RUN   TestA\nno newline\n"},
			},
			trailer: "init says hi\n",
		},
		{
			name:      "an earlier failure with -test.count sticks",
			input:     "\x16=== RUN   TestA\n\x16--- FAIL: TestA (0.25s)\n\x16=== RUN   TestA\n\x16--- PASS: TestA (0.50s)\n\x16FAIL\n",
			requested: []string{"TestA"},
			want: []Outcome{
				{Test: "TestA", Status: StatusFail, Elapsed: 0.75, Output: "=== RUN   TestA\n--- FAIL: TestA (0.25s)\n=== RUN   TestA\n--- PASS: TestA (0.50s)\n"},
			},
			finished: true,
			trailer:  "FAIL\n",
			repeats:  true,
		},
		{
			name:      "without -test.count a test runs once: the last result is testing's",
			input:     "\x16=== RUN   TestA\n\x16--- FAIL: TestA (0.25s)\n\x16=== RUN   TestA\n\x16--- PASS: TestA (0.50s)\n\x16PASS\n",
			requested: []string{"TestA"},
			want: []Outcome{
				{Test: "TestA", Status: StatusPass, Elapsed: 0.75, Output: "=== RUN   TestA\n--- FAIL: TestA (0.25s)\n=== RUN   TestA\n--- PASS: TestA (0.50s)\n"},
			},
			finished: true,
			trailer:  "PASS\n",
		},
		{
			name:      "SYN-ended lines read as lines",
			input:     "\x16=== RUN   TestA\nx\x16--- PASS: TestA (0.00s)\n\x16=== NAME  \n\x16PASS\ncoverage: 1.0% of statements\n",
			requested: []string{"TestA"},
			want: []Outcome{
				{Test: "TestA", Status: StatusPass, Output: "=== RUN   TestA\nx\n--- PASS: TestA (0.00s)\n"},
			},
			finished: true,
			trailer:  "PASS\ncoverage: 1.0% of statements\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{0, 1} {
				p, _ := parseRepeats(tt.input, split, 0, tt.repeats)
				if got := p.Outcomes(tt.requested); !slices.Equal(got, tt.want) {
					t.Errorf("writes of %d bytes: got %+v; want %+v", split, got, tt.want)
				}
				if got := p.Finished(); got != tt.finished {
					t.Errorf("got Finished() %v; want %v", got, tt.finished)
				}
				if got := p.Trailer(); got != tt.trailer {
					t.Errorf("got Trailer() %q; want %q", got, tt.trailer)
				}
			}
		})
	}
}

func TestRunning(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		input []string // one write per tick of the clock
		want  []string
		since map[string]time.Time
	}{
		{
			name:  "none",
			input: []string{"\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n"},
			since: map[string]time.Time{},
		},
		{
			name:  "sequential",
			input: []string{"\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n", "\x16=== RUN   TestB\n", "\x16=== RUN   TestB/sub\n"},
			want:  []string{"TestB"},
			since: map[string]time.Time{"TestB": base.Add(time.Second)},
		},
		{
			name: "parallel, paused time not counted, most recently active last",
			input: []string{
				"\x16=== RUN   TestA\n\x16=== PAUSE TestA\n\x16=== NAME  \n",
				"\x16=== RUN   TestB\n\x16=== PAUSE TestB\n\x16=== NAME  \n",
				"\x16=== RUN   TestC\n\x16=== PAUSE TestC\n\x16=== NAME  \n",
				"\x16=== CONT  TestA\n",
				"\x16=== CONT  TestB\n",
				"\x16=== NAME  TestA\nlog\n",
			},
			want:  []string{"TestB", "TestA"},
			since: map[string]time.Time{"TestA": base.Add(3 * time.Second), "TestB": base.Add(4 * time.Second)},
		},
		{
			name:  "after the end",
			input: []string{"\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n\x16=== NAME  \n\x16PASS\n"},
			since: map[string]time.Time{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(nil)
			clock := base
			p.now = func() time.Time { return clock }
			for _, in := range tt.input {
				p.Write([]byte(in))
				clock = clock.Add(time.Second)
			}
			if got := p.Running(); !slices.Equal(got, tt.want) {
				t.Errorf("got Running() %q; want %q", got, tt.want)
			}
			got := p.RunningSince()
			if fmt.Sprint(got) != fmt.Sprint(tt.since) {
				t.Errorf("got RunningSince() %v; want %v", got, tt.since)
			}
		})
	}
}

func TestTextLog(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{
			name:   "under the limit",
			limit:  40,
			writes: []string{"a\n", "b\n"},
			want:   "a\nb\n",
		},
		{
			name:   "middle dropped at a line break",
			limit:  16,
			writes: []string{"head\n", "1111\n", "2222\n", "3333\n", "4444\n", "5555\n", "6666\n"},
			want:   "head\n[... 16 bytes of output omitted ...]\n4444\n5555\n6666\n",
		},
		{
			name:   "one long write",
			limit:  8,
			writes: []string{strings.Repeat("x", 30)},
			want:   "xx\n[... 22 bytes of output omitted ...]\nxxxxxx",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := textLog{limit: tt.limit}
			for _, w := range tt.writes {
				l.write(w)
			}
			if got := l.String(); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// TestEmitMayQuery checks that emit runs without the parser's lock held,
// so that a caller can look at Running from its event handler.
func TestEmitMayQuery(t *testing.T) {
	var p *Parser
	var running [][]string
	p = NewParser(func(e Event) {
		if e.Action == "run" {
			running = append(running, p.Running())
		}
	})
	p.Write([]byte("\x16=== RUN   TestA\n"))
	p.Close()
	if want := [][]string{{"TestA"}}; fmt.Sprint(running) != fmt.Sprint(want) {
		t.Errorf("got %q; want %q", running, want)
	}
}

// TestQueryWhileWriting checks, under -race, that the query methods may be
// called while another goroutine writes, as a timeout watcher does.
func TestQueryWhileWriting(t *testing.T) {
	p := NewParser(func(Event) {})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			fmt.Fprintf(p, "\x16=== RUN   Test%d\nlog\n\x16--- PASS: Test%d (0.00s)\n\x16=== NAME  \n", i, i)
		}
		p.Close()
	}()
	for {
		p.Running()
		p.RunningSince()
		p.Outcomes([]string{"Test1"})
		p.Trailer()
		p.Finished()
		select {
		case <-done:
			if got := p.Outcomes([]string{"Test199"})[0].Status; got != StatusPass {
				t.Errorf("got status %q; want %q", got, StatusPass)
			}
			return
		default:
		}
	}
}

func TestExpect(t *testing.T) {
	var events []Event
	p := NewParser(func(e Event) { events = append(events, e) })
	p.Expect([]string{"TestA", "TestB"})
	p.Write([]byte("\x16=== RUN   TestA\n\x16--- PASS: TestA (0.00s)\n\x16=== RUN   TestOther\n    a_test.go:3: real\n" +
		"\x16--- FAIL: TestA (0.00s)\n\x16=== RUN   TestB\n\x16--- PASS: TestB (0.00s)\n\x16=== RUN   BenchmarkX\n\x16FAIL\n"))
	p.Close()
	got := p.Outcomes([]string{"TestA", "TestB", "TestOther"})
	if got[0].Status != StatusFail || !strings.Contains(got[0].Output, "=== RUN   TestOther\n    a_test.go:3: real\n") {
		t.Errorf("got TestA %+v; want it failed, with the forged RUN line and its message in its output", got[0])
	}
	if got[1].Status != StatusPass || got[2].Status != StatusNotStarted {
		t.Errorf("got TestB %q and TestOther %q; want pass and notstarted", got[1].Status, got[2].Status)
	}
	if !slices.ContainsFunc(events, func(e Event) bool { return e.Action == "run" && e.Test == "BenchmarkX" }) {
		t.Errorf("got events\n%s\nwant the benchmark's run: -test.bench selects benchmarks", formatEvents(events))
	}
}
