package distribute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/internal/timeline"
)

// The timeline of a run shows each worker's start-up, and each test
// process on its worker's track, from its dispatch to its end, with its
// top-level test inside it, once; a worker's processes never overlap.
func TestTimeline(t *testing.T) {
	bin, dir := buildFixture(t)
	p := plan(bin, dir, &pipeGateway{}, &pipeGateway{})
	before := time.Now()
	tl := timeline.NewAt(before)
	p.Timeline = tl
	if _, err := distribute.Run(context.Background(), p, &recorder{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tl.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Cat  string         `json:"cat"`
			Ph   string         `json:"ph"`
			TS   int64          `json:"ts"`
			Dur  int64          `json:"dur"`
			TID  int            `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("the timeline does not decode: %v", err)
	}
	type span struct {
		name       string
		start, end int64
		args       map[string]any
	}
	track := make(map[int]string)
	byCat := make(map[string]map[string][]span) // category, track
	for _, e := range doc.TraceEvents {
		if e.Ph == "M" && e.Name == "thread_name" {
			track[e.TID] = e.Args["name"].(string)
		}
	}
	for _, e := range doc.TraceEvents {
		if e.Ph != "X" {
			continue
		}
		if byCat[e.Cat] == nil {
			byCat[e.Cat] = make(map[string][]span)
		}
		tr := track[e.TID]
		byCat[e.Cat][tr] = append(byCat[e.Cat][tr], span{e.Name, e.TS, e.TS + e.Dur, e.Args})
	}
	for _, w := range []string{"gw0", "gw1"} {
		var names []string
		for _, s := range byCat["worker"][w] {
			names = append(names, s.name)
		}
		sort.Strings(names)
		if got, want := fmt.Sprint(names), "[handshake open pipe-test]"; got != want {
			t.Errorf("%s's start-up spans: got %s; want %s", w, got, want)
		}
	}
	units := 0
	for w, us := range byCat["unit"] {
		if w != "gw0" && w != "gw1" {
			t.Errorf("a test process on track %q; want a worker's", w)
		}
		units += len(us)
		sort.Slice(us, func(i, j int) bool { return us[i].start < us[j].start })
		for i := 1; i < len(us); i++ {
			if us[i].start < us[i-1].end {
				t.Errorf("on %s, process %v overlaps %v", w, us[i], us[i-1])
			}
		}
		for _, u := range us {
			if u.args["end"] != "exited 0" || u.args["package"] != "example.com/fx" {
				t.Errorf("process %v: want end exited 0, package example.com/fx", u)
			}
		}
	}
	if units != 5 {
		t.Errorf("got %d test processes; want 5 (boxed)", units)
	}
	seen := make(map[string]int)
	for w, ts := range byCat["test"] {
		for _, s := range ts {
			seen[s.name]++
			if s.args["status"] != "pass" {
				t.Errorf("%s: status %v; want pass", s.name, s.args["status"])
			}
			inside := false
			for _, u := range byCat["unit"][w] {
				inside = inside || (u.start <= s.start && s.end <= u.end && u.args["tests"].([]any)[0] == s.name)
			}
			if !inside {
				t.Errorf("%s on %s lies in no process of its own there", s.name, w)
			}
			if s.name == "TestSlow" && s.end-s.start < 1500000 {
				t.Errorf("TestSlow lasts %dµs; want at least its 1.5s sleep", s.end-s.start)
			}
		}
	}
	for _, name := range []string{"TestA", "TestB", "TestC", "TestSlow", "TestD"} {
		if seen[name] != 1 {
			t.Errorf("%s: %d spans; want 1", name, seen[name])
		}
	}
	max := time.Since(before).Microseconds()
	for _, e := range doc.TraceEvents {
		if e.Ph == "X" && (e.TS < 0 || e.TS+e.Dur > max) {
			t.Errorf("%s [%d,%d] lies outside the run (0 to %d)", e.Name, e.TS, e.TS+e.Dur, max)
		}
	}
}
