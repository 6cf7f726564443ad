package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdTimeline checks a --timeline file: it is trace-event JSON with a
// build track and a track per worker named; each named test is one span,
// on a worker's track, inside a test process's span there and at least as
// long as asked (TEST=DURATION), and no other test has a span; the test
// processes of a worker do not overlap; everything lies within the run.
//
//	timeline FILE WORKER,... TEST[=MIN]...
func cmdTimeline(ts *testscript.TestScript, args []string) error {
	if len(args) < 3 {
		ts.Fatalf("usage: timeline FILE WORKER,... TEST[=MIN]...")
	}
	var doc struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Cat  string         `json:"cat"`
			Ph   string         `json:"ph"`
			TS   *int64         `json:"ts"`
			Dur  *int64         `json:"dur"`
			PID  *int           `json:"pid"`
			TID  *int           `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		return fmt.Errorf("%s is not trace-event JSON: %v", args[0], err)
	}
	type span struct {
		name, cat, track string
		start, end       int64
	}
	tracks := make(map[int]string)
	var spans []span
	for i, e := range doc.TraceEvents {
		if e.PID == nil || e.TID == nil || e.Ph == "" || e.Name == "" {
			return fmt.Errorf("event %d (%q) lacks a name, ph, pid or tid", i, e.Name)
		}
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				name, _ := e.Args["name"].(string)
				tracks[*e.TID] = name
			}
		case "X":
			if e.TS == nil || e.Dur == nil || *e.Dur < 0 || *e.TS < 0 {
				return fmt.Errorf("span %q: ts %v dur %v; want both, not negative", e.Name, e.TS, e.Dur)
			}
			spans = append(spans, span{name: e.Name, cat: e.Cat, track: fmt.Sprint(*e.TID), start: *e.TS, end: *e.TS + *e.Dur})
		case "i":
			if e.TS == nil {
				return fmt.Errorf("instant %q has no ts", e.Name)
			}
		default:
			return fmt.Errorf("event %q: phase %q; want M, X or i", e.Name, e.Ph)
		}
	}
	for i := range spans {
		var tid int
		fmt.Sscan(spans[i].track, &tid)
		name, ok := tracks[tid]
		if !ok {
			return fmt.Errorf("span %q is on thread %d, which no thread_name names", spans[i].name, tid)
		}
		spans[i].track = name
	}
	names := make(map[string]bool)
	build := false
	for _, n := range tracks {
		names[n] = true
		build = build || strings.HasPrefix(n, "build ")
	}
	if !build {
		return fmt.Errorf("no build track among %v", tracks)
	}
	for _, w := range strings.Split(args[1], ",") {
		if !names[w] {
			return fmt.Errorf("no track %s among %v", w, tracks)
		}
	}

	var run *span
	for i, s := range spans {
		if s.cat == "run" && s.name == "covdist" && s.track == "coordinator" {
			if run != nil {
				return fmt.Errorf("two run spans on the coordinator's track")
			}
			run = &spans[i]
		}
	}
	if run == nil {
		return fmt.Errorf("no run span (covdist, on the coordinator's track)")
	}
	for _, s := range spans {
		if s.start < run.start || s.end > run.end {
			return fmt.Errorf("span %q on %s [%d,%d] lies outside the run [%d,%d]", s.name, s.track, s.start, s.end, run.start, run.end)
		}
	}

	worker := regexp.MustCompile(`^gw[0-9]+$`)
	units := make(map[string][]span)
	for _, s := range spans {
		if s.cat == "unit" {
			if !worker.MatchString(s.track) {
				return fmt.Errorf("test process %q on track %s, no worker's", s.name, s.track)
			}
			units[s.track] = append(units[s.track], s)
		}
	}
	for track, us := range units {
		sort.Slice(us, func(i, j int) bool { return us[i].start < us[j].start })
		for i := 1; i < len(us); i++ {
			if us[i].start < us[i-1].end {
				return fmt.Errorf("on %s, test process %q [%d,%d] overlaps %q [%d,%d]", track,
					us[i].name, us[i].start, us[i].end, us[i-1].name, us[i-1].start, us[i-1].end)
			}
		}
	}

	want := make(map[string]time.Duration)
	for _, a := range args[2:] {
		name, min, ok := strings.Cut(a, "=")
		var d time.Duration
		if ok {
			var err error
			if d, err = time.ParseDuration(min); err != nil {
				ts.Fatalf("timeline: %q: %v", a, err)
			}
		}
		want[name] = d
	}
	seen := make(map[string]int)
	for _, s := range spans {
		if s.cat != "test" {
			continue
		}
		seen[s.name]++
		min, ok := want[s.name]
		if !ok {
			return fmt.Errorf("a span for test %s, which the run should not have run", s.name)
		}
		if !worker.MatchString(s.track) {
			return fmt.Errorf("test %s on track %s, no worker's", s.name, s.track)
		}
		if got := time.Duration(s.end-s.start) * time.Microsecond; got < min {
			return fmt.Errorf("test %s lasts %v; want at least %v", s.name, got, min)
		}
		inside := false
		for _, u := range units[s.track] {
			inside = inside || (u.start <= s.start && s.end <= u.end)
		}
		if !inside {
			return fmt.Errorf("test %s [%d,%d] on %s lies in none of its test processes", s.name, s.start, s.end, s.track)
		}
	}
	for name := range want {
		if seen[name] != 1 {
			return fmt.Errorf("test %s has %d spans; want 1", name, seen[name])
		}
	}
	return nil
}
