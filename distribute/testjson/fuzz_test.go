package testjson

import (
	"slices"
	"strings"
	"testing"
)

// fuzzRequested names the tests of the seeds in testdata/fuzz/FuzzParser,
// one twice, one never run and one empty.
var fuzzRequested = []string{
	"TestPass", "TestFail", "TestSkip", "TestSub", "TestParA", "TestParB", "Example_good", "Example_bad",
	"FuzzAdd", "TestPanic", "TestSubPanic", "TestGoPanic", "TestParGo", "TestParQuick", "TestExit3",
	"TestExit0", "TestHang", "TestA", "TestA", "TestMissing", "",
}

// FuzzParser checks that no output makes the parser panic, that every
// requested test gets exactly one Outcome, and that how the output is
// divided into writes changes nothing. The seeds under testdata/fuzz are
// real test binary output; TestRealBinaries -update rewrites them.
func FuzzParser(f *testing.F) {
	f.Add([]byte("\x16=== RUN   TestA\nx\x16--- PASS: TestA (0.00s)\n\x16=== NAME\n\x16PASS\n"), byte(0))
	f.Add([]byte("\x16=== RUN   TestA\n"+strings.Repeat("\u00e9", 20)+"\x16=== NAME  TestA/\n\x16--- FAIL: TestA (x)\n"), byte(2))
	// A test printing framing lines of its own, as TestForge does.
	f.Add([]byte("\x16=== RUN   TestA\n\x16--- FAIL: TestA (0.00s)\n\x16=== RUN   TestB\n\x16=== NAME  \n\x16PASS\n    a_test.go:3: real\n"+
		"\x16--- PASS: TestA (0.00s)\n\x16=== NAME  \n\x16=== RUN   TestB\n\x16=== RUN   TestB/x\n\x16--- PASS: TestB/x (0.00s)\n\x16--- FAIL: TestB/x (0.00s)\n\x16--- PASS: TestB (0.00s)\n\x16PASS\n"), byte(5))
	f.Fuzz(func(t *testing.T, output []byte, split byte) {
		checkParse(t, output, fuzzRequested, int(split))
	})
}

var actions = []string{"run", "pause", "cont", "output", "pass", "fail", "skip", "bench"}

var statuses = []string{StatusPass, StatusFail, StatusSkip, StatusRunning, StatusPaused, StatusNotStarted}

// checkParse parses output whole and in writes of split+1 bytes, with the
// default line limit and a small one, and checks what must hold for any
// output.
func checkParse(t *testing.T, output []byte, requested []string, split int) {
	t.Helper()
	for _, maxLine := range []int{defaultMaxLine, 24} {
		p, events := parse(string(output), 0, maxLine)
		pieces, pieceEvents := parse(string(output), split+1, maxLine)
		if !slices.Equal(events, pieceEvents) {
			t.Fatalf("line limit %d: got events\n%s\nin writes of %d bytes; want\n%s", maxLine, formatEvents(pieceEvents), split+1, formatEvents(events))
		}
		for _, e := range events {
			if !slices.Contains(actions, e.Action) {
				t.Errorf("got event action %q; want one of %q", e.Action, actions)
			}
			if e.Action != "output" {
				continue
			}
			if e.Output == "" || strings.Contains(e.Output, "\x16") || len(e.Output) > maxLine {
				t.Errorf("line limit %d: got output event %q; want 1 to %d bytes without SYN", maxLine, e.Output, maxLine)
			}
		}
		// Each test ends once each time it runs, whatever it printed:
		// no two results of one test without a RUN of it between them.
		ended := map[string]bool{}
		for _, e := range events {
			switch e.Action {
			case "run":
				ended[e.Test] = false
			case "pass", "fail", "skip":
				if ended[e.Test] {
					t.Errorf("line limit %d: got a second %s event for %s with no run between; events:\n%s", maxLine, e.Action, e.Test, formatEvents(events))
				}
				ended[e.Test] = true
			}
		}
		outcomes := p.Outcomes(requested)
		if got := pieces.Outcomes(requested); !slices.Equal(got, outcomes) {
			t.Errorf("line limit %d: got outcomes %+v in writes of %d bytes; want %+v", maxLine, got, split+1, outcomes)
		}
		if len(outcomes) != len(requested) {
			t.Fatalf("got %d outcomes; want %d", len(outcomes), len(requested))
		}
		for i, o := range outcomes {
			if o.Test != requested[i] || !slices.Contains(statuses, o.Status) || strings.Contains(o.Output, "\x16") {
				t.Errorf("got outcome %+v for %q; want its name, a known status and no SYN", o, requested[i])
			}
		}
		running := p.Running()
		if got := pieces.Running(); !slices.Equal(got, running) {
			t.Errorf("got Running() %q in writes of %d bytes; want %q", got, split+1, running)
		}
		for _, o := range p.Outcomes(running) {
			if o.Status != StatusRunning {
				t.Errorf("got %s in Running() with status %q", o.Test, o.Status)
			}
		}
		if len(p.RunningSince()) != len(running) {
			t.Errorf("got RunningSince() %v; want an entry for each of %q", p.RunningSince(), running)
		}
	}
}
