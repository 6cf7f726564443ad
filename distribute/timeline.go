package distribute

import (
	"fmt"
	"math"
	"time"

	"github.com/covdist/covdist/distribute/wire"
	"github.com/covdist/covdist/internal/timeline"
)

// The timeline's view of a run: each worker's track holds its start-up
// and its test processes, each with its top-level tests inside. Times are
// the coordinator's (the agent's clock may be another machine's), taken
// as messages arrive.

// errArgs is a span's arguments for a step that may have failed.
func errArgs(err error) map[string]any {
	if err == nil {
		return nil
	}
	return map[string]any{"error": err.Error()}
}

// testStarted notes when a top-level test of u began.
func (c *coordinator) testStarted(u *unit, test string) {
	if !c.plan.Timeline.Enabled() {
		return
	}
	if u.runAt == nil {
		u.runAt = make(map[string]time.Time)
	}
	u.runAt[test] = time.Now()
}

// testEnded records a top-level test of u as a span, from its run event
// to its verdict's. The span is at least as long as the test said it
// took: its run event may have come late, never its verdict early.
func (c *coordinator) testEnded(u *unit, test, action string, elapsed float64) {
	tl := c.plan.Timeline
	if !tl.Enabled() {
		return
	}
	start, ok := u.runAt[test]
	if !ok {
		return // its run event was lost: no start to draw from
	}
	delete(u.runAt, test)
	end := time.Now()
	if took := start.Add(time.Duration(math.Round(elapsed * 1e9))); took.After(end) {
		end = took
	}
	if end.After(u.lastEnd) {
		u.lastEnd = end
	}
	tl.Add(timeline.Span{Track: u.worker.ID, Name: test, Category: "test", Start: start, End: end,
		Args: map[string]any{"package": u.pkg, "platform": u.platform.Name, "status": action, "elapsed": elapsed}})
}

// unitEnded records u, one test process, from its dispatch to its end,
// how it ended, and the tests that were running when it did.
func (c *coordinator) unitEnded(u *unit, how string) {
	tl := c.plan.Timeline
	if !tl.Enabled() {
		return
	}
	end := time.Now()
	for test, start := range u.runAt {
		// Still running when its process ended: crashed, or cut short.
		tl.Add(timeline.Span{Track: u.worker.ID, Name: test, Category: "test", Start: start, End: end,
			Args: map[string]any{"package": u.pkg, "platform": u.platform.Name, "status": "unfinished: " + how}})
	}
	if u.lastEnd.After(end) {
		end = u.lastEnd
	}
	name := u.pkg
	args := map[string]any{"package": u.pkg, "platform": u.platform.Name, "tests": u.tests, "end": how, "unit": u.id}
	if len(u.coverOnly) > 0 {
		var cover []string
		for t := range u.coverOnly {
			cover = append(cover, t)
		}
		args["coverage_only"] = cover
	}
	if u.isolated {
		args["isolated"] = true
	}
	tl.Add(timeline.Span{Track: u.worker.ID, Name: name, Category: "unit", Start: u.started, End: end, Args: args})
}

// unitEnd says how a test process ended, for its span.
func unitEnd(d *wire.Done) string {
	switch {
	case d.Err != "":
		return "did not start: " + d.Err
	case d.Crash != "":
		return "crashed: " + d.Crash
	case d.ExitCode != 0:
		return fmt.Sprintf("exited %d", d.ExitCode)
	}
	return "exited 0"
}
