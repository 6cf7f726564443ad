package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type traceFile struct {
	DisplayTimeUnit string `json:"displayTimeUnit"`
	TraceEvents     []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		S    string         `json:"s"`
		TS   *int64         `json:"ts"`
		Dur  *int64         `json:"dur"`
		PID  int            `json:"pid"`
		TID  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func decode(t *testing.T, r *Recorder) traceFile {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatalf("Write: %v", err)
	}
	var f traceFile
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("the trace does not decode: %v\n%s", err, buf.String())
	}
	return f
}

func TestWrite(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := NewAt(t0)
	r.Track("coordinator")
	r.Add(Span{Track: "gw0", Name: "TestA", Category: "test", Start: t0.Add(1500 * time.Microsecond), End: t0.Add(301500 * time.Microsecond),
		Args: map[string]any{"package": "example.com/p"}})
	r.Add(Span{Track: "coordinator", Name: "run", Category: "run", Start: t0, End: t0.Add(2 * time.Second)})
	r.Mark(Event{Track: "build linux/amd64", Name: "ready example.com/p", Category: "build", At: t0.Add(time.Second)})
	r.Add(Span{Track: "gw0", Name: "backwards", Start: t0.Add(time.Second), End: t0})

	f := decode(t, r)
	if f.DisplayTimeUnit != "ms" {
		t.Errorf("displayTimeUnit = %q; want ms", f.DisplayTimeUnit)
	}
	threads := make(map[int]string)
	sortIndex := make(map[int]float64)
	process := ""
	type got struct {
		ph, track, cat string
		ts, dur        int64
	}
	byName := make(map[string]got)
	for _, e := range f.TraceEvents {
		if e.PID != 1 {
			t.Errorf("%s: pid %d; want 1", e.Name, e.PID)
		}
		switch e.Ph {
		case "M":
			switch e.Name {
			case "process_name":
				process, _ = e.Args["name"].(string)
			case "thread_name":
				threads[e.TID], _ = e.Args["name"].(string)
			case "thread_sort_index":
				sortIndex[e.TID], _ = e.Args["sort_index"].(float64)
			}
		case "X", "i":
			if e.TS == nil {
				t.Fatalf("%s has no ts", e.Name)
			}
			g := got{ph: e.Ph, cat: e.Cat, ts: *e.TS}
			if e.Dur != nil {
				g.dur = *e.Dur
			}
			g.track = fmt.Sprint(e.TID) // resolved below, once every name is read
			byName[e.Name] = g
			if e.Ph == "i" && e.S != "t" {
				t.Errorf("%s: scope %q; want t (thread)", e.Name, e.S)
			}
		default:
			t.Errorf("%s: unexpected phase %q", e.Name, e.Ph)
		}
	}
	if process != "covdist" {
		t.Errorf("process name %q; want covdist", process)
	}
	wantTracks := map[int]string{1: "coordinator", 2: "gw0", 3: "build linux/amd64"}
	for tid, name := range wantTracks {
		if threads[tid] != name {
			t.Errorf("thread %d is named %q; want %q (tracks in the order declared, then of first use)", tid, threads[tid], name)
		}
		if sortIndex[tid] != float64(tid) {
			t.Errorf("thread %d sort index %v; want %d", tid, sortIndex[tid], tid)
		}
	}
	for name, g := range byName {
		var tid int
		fmt.Sscan(g.track, &tid)
		g.track = threads[tid]
		byName[name] = g
	}
	tests := []struct {
		name string
		want got
	}{
		{"TestA", got{"X", "gw0", "test", 1500, 300000}},
		{"run", got{"X", "coordinator", "run", 0, 2000000}},
		{"ready example.com/p", got{"i", "build linux/amd64", "build", 1000000, 0}},
		{"backwards", got{"X", "gw0", "", 1000000, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if g, ok := byName[tt.name]; !ok || g != tt.want {
				t.Errorf("got %+v (found %v); want %+v", g, ok, tt.want)
			}
		})
	}
	// The run starts first: in time order.
	var last int64 = -1
	for _, e := range f.TraceEvents {
		if e.Ph == "M" {
			continue
		}
		if *e.TS < last {
			t.Errorf("%s at %d after an event at %d: not in time order", e.Name, *e.TS, last)
		}
		last = *e.TS
	}
}

// TestNested checks that rounding to microseconds keeps a span that lies
// within another inside it.
func TestNested(t *testing.T) {
	t0 := time.Now()
	r := NewAt(t0)
	outer := Span{Track: "gw0", Name: "outer", Start: t0.Add(999 * time.Nanosecond), End: t0.Add(5*time.Millisecond + 1)}
	inner := Span{Track: "gw0", Name: "inner", Start: outer.Start.Add(1), End: outer.End}
	r.Add(inner)
	r.Add(outer)
	f := decode(t, r)
	var spans [][2]int64
	for _, e := range f.TraceEvents {
		if e.Ph == "X" {
			spans = append(spans, [2]int64{*e.TS, *e.TS + *e.Dur})
		}
	}
	if len(spans) != 2 {
		t.Fatalf("got %d spans; want 2", len(spans))
	}
	if o, i := spans[0], spans[1]; i[0] < o[0] || i[1] > o[1] {
		t.Errorf("inner %v not within outer %v", i, o)
	}
}

func TestNil(t *testing.T) {
	var r *Recorder
	if r.Enabled() {
		t.Error("a nil recorder says it is enabled")
	}
	r.Track("x")
	r.Add(Span{Name: "x"})
	r.Mark(Event{Name: "x"})
	r.Begin("x", "y", "z").End(nil)
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil || buf.Len() != 0 {
		t.Errorf("nil Write: %q, %v; want nothing", buf.String(), err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		r.Add(Span{Track: "gw0", Name: "TestA"})
		r.Begin("gw0", "TestA", "test").End(nil)
	})
	if allocs != 0 {
		t.Errorf("a nil recorder allocates %v times per span; want 0", allocs)
	}
}

func TestConcurrent(t *testing.T) {
	r := New()
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			track := fmt.Sprintf("gw%d", g%3)
			for i := 0; i < each; i++ {
				p := r.Begin(track, "unit", "unit")
				r.Mark(Event{Track: track, Name: "mark", At: time.Now()})
				p.End(map[string]any{"i": i})
			}
		}()
	}
	// Writing while others record sees a consistent snapshot.
	for i := 0; i < 5; i++ {
		decode(t, r)
	}
	wg.Wait()
	f := decode(t, r)
	n := 0
	tracks := make(map[int]bool)
	for _, e := range f.TraceEvents {
		if e.Ph == "X" || e.Ph == "i" {
			n++
			tracks[e.TID] = true
		}
	}
	if want := 2 * goroutines * each; n != want {
		t.Errorf("got %d spans and events; want %d", n, want)
	}
	if len(tracks) != 3 {
		t.Errorf("got %d tracks; want 3", len(tracks))
	}
}

func TestWriteFile(t *testing.T) {
	r := New()
	r.Add(Span{Track: "coordinator", Name: "run", Start: time.Now(), End: time.Now()})
	if err := r.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir", "t.json")); err == nil {
		t.Error("WriteFile into a missing directory: no error")
	}
	name := filepath.Join(t.TempDir(), "t.json")
	if err := r.WriteFile(name); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
}
