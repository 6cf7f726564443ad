// Package timeline owns the record of where a run's time went: spans with
// a start and an end, and instant events, each on a named track
// (the coordinator, a platform's build, a worker), written as Chrome
// trace-event JSON, which chrome://tracing and ui.perfetto.dev open.
//
// A nil *Recorder records nothing, so callers need not check whether a
// timeline was asked for. It imports no covdist package.
//
// The file written looks like this (times in microseconds from the
// recorder's start):
//
//	{"displayTimeUnit":"ms","traceEvents":[
//	 {"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"covdist"}},
//	 {"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"coordinator"}},
//	 {"name":"run","cat":"run","ph":"X","ts":0,"dur":1520000,"pid":1,"tid":1},
//	 {"name":"ready example.com/m/p","cat":"build","ph":"i","s":"t","ts":810000,"pid":1,"tid":2}]}
package timeline

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Span is something that took time on a track.
type Span struct {
	Track    string // the track's name: coordinator, build linux/amd64, gw0
	Name     string
	Category string // a word to filter by: build, unit, test, worker
	Start    time.Time
	End      time.Time
	Args     map[string]any // shown beside the span; JSON-encodable values
}

// Event is an instant on a track: a package's binary became ready.
type Event struct {
	Track    string
	Name     string
	Category string
	At       time.Time
	Args     map[string]any
}

// Recorder collects spans and events from any goroutine.
type Recorder struct {
	start time.Time

	mu     sync.Mutex
	tracks map[string]int // track name to its thread id, in order of first use
	names  []string       // by thread id - 1
	out    []traceEvent
}

// New returns a recorder whose time zero is now.
func New() *Recorder {
	return NewAt(time.Now())
}

// NewAt returns a recorder whose time zero is start: nothing before it is
// expected.
func NewAt(start time.Time) *Recorder {
	return &Recorder{start: start, tracks: make(map[string]int)}
}

// Enabled reports whether r records: callers skip building arguments when
// it does not.
func (r *Recorder) Enabled() bool { return r != nil }

// Track declares a track, so that tracks are listed in the order declared
// rather than of first use.
func (r *Recorder) Track(name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tid(name)
}

// tid returns a track's thread id, giving it one if it has none. r.mu is held.
func (r *Recorder) tid(track string) int {
	if id, ok := r.tracks[track]; ok {
		return id
	}
	r.names = append(r.names, track)
	id := len(r.names) // 0 is the process's own
	r.tracks[track] = id
	return id
}

// Add records a span. One that ends before it starts is recorded as an
// instant at its start.
func (r *Recorder) Add(s Span) {
	if r == nil {
		return
	}
	ts := r.micros(s.Start)
	dur := r.micros(s.End) - ts
	if dur < 0 {
		dur = 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, traceEvent{Name: s.Name, Cat: s.Category, Ph: "X", TS: ts, Dur: &dur, PID: 1, TID: r.tid(s.Track), Args: s.Args})
}

// Mark records an instant event.
func (r *Recorder) Mark(e Event) {
	if r == nil {
		return
	}
	ts := r.micros(e.At)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, traceEvent{Name: e.Name, Cat: e.Category, Ph: "i", Scope: "t", TS: ts, PID: 1, TID: r.tid(e.Track), Args: e.Args})
}

// Begin starts a span that ends when its End is called.
func (r *Recorder) Begin(track, name, category string) *Pending {
	if r == nil {
		return nil
	}
	return &Pending{r: r, s: Span{Track: track, Name: name, Category: category, Start: time.Now()}}
}

// Pending is a span begun and not yet ended.
type Pending struct {
	r *Recorder
	s Span
}

// End records the span as ending now, with args (which may be nil).
func (p *Pending) End(args map[string]any) {
	if p == nil {
		return
	}
	p.s.End, p.s.Args = time.Now(), args
	p.r.Add(p.s)
}

// micros is t in whole microseconds from the recorder's start. Computing
// a span's end the same way as its start keeps a span that lies within
// another within it after rounding.
func (r *Recorder) micros(t time.Time) int64 {
	return t.Sub(r.start).Microseconds()
}

// traceEvent is one entry of the trace-event format's traceEvents.
type traceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Scope string         `json:"s,omitempty"`
	TS    int64          `json:"ts"`
	Dur   *int64         `json:"dur,omitempty"`
	PID   int            `json:"pid"`
	TID   int            `json:"tid"`
	Args  map[string]any `json:"args,omitempty"`
}

// Write writes what was recorded so far as Chrome trace-event JSON.
func (r *Recorder) Write(w io.Writer) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	events := make([]traceEvent, 0, 2+2*len(r.names)+len(r.out))
	events = append(events, traceEvent{Name: "process_name", Ph: "M", PID: 1, Args: map[string]any{"name": "covdist"}})
	for i, name := range r.names {
		events = append(events,
			traceEvent{Name: "thread_name", Ph: "M", PID: 1, TID: i + 1, Args: map[string]any{"name": name}},
			traceEvent{Name: "thread_sort_index", Ph: "M", PID: 1, TID: i + 1, Args: map[string]any{"sort_index": i + 1}})
	}
	recorded := append([]traceEvent(nil), r.out...)
	r.mu.Unlock()
	// In time order, and of spans starting together the longer first:
	// viewers then nest them without guessing.
	sort.SliceStable(recorded, func(i, j int) bool {
		a, b := recorded[i], recorded[j]
		if a.TS != b.TS {
			return a.TS < b.TS
		}
		return length(a) > length(b)
	})
	events = append(events, recorded...)
	return json.NewEncoder(w).Encode(struct {
		DisplayTimeUnit string       `json:"displayTimeUnit"`
		TraceEvents     []traceEvent `json:"traceEvents"`
	}{"ms", events})
}

func length(e traceEvent) int64 {
	if e.Dur == nil {
		return 0
	}
	return *e.Dur
}

// WriteFile writes the timeline to the named file.
func (r *Recorder) WriteFile(name string) error {
	if r == nil {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := r.Write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
