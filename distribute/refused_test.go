package distribute

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
)

type namedGateway string

func (g namedGateway) Open(context.Context) (io.ReadWriteCloser, error) { return nil, io.EOF }
func (g namedGateway) String() string                                   { return string(g) }

// noteRecorder is a Reporter that keeps the notes.
type noteRecorder struct{ notes []string }

func (r *noteRecorder) Event(Event)                               {}
func (r *noteRecorder) Result(Result)                             {}
func (r *noteRecorder) PackageDone(string, string, bool, float64) {}
func (r *noteRecorder) BuildFailed(string, string, BuildFailure)  {}
func (r *noteRecorder) Worker(WorkerEvent)                        {}
func (r *noteRecorder) Note(text string)                          { r.notes = append(r.notes, text) }

// A sync that left files out is said once per host, naming the files by
// their module paths and why; the coordinator's loop says it, from what a
// worker's goroutine passed on.
func TestRefusedNote(t *testing.T) {
	rec := &noteRecorder{}
	c := &coordinator{rep: rec}
	pl := &Platform{Name: "linux/amd64"}
	worker := func(id, host string) (*workerState, *remoteState) {
		w := &workerState{Worker: Worker{ID: id, Gateway: namedGateway(host), Remote: true}, platform: pl, gen: 1}
		rs := &remoteState{send: func(m msg) {
			m.w, m.gen = w, w.gen
			c.handle(m)
		}}
		return w, rs
	}
	_, win0 := worker("gw0", "ssh=winhost")
	_, win1 := worker("gw1", "ssh=winhost")
	_, other := worker("gw2", "ssh=otherhost")
	colon := wire.SyncRefused{Path: "src/p/testdata/a:b.txt", Why: `a Windows file name cannot hold ":"`}
	back := wire.SyncRefused{Path: `src/p/testdata/back\slash.txt`, Why: `a Windows file name cannot hold "\\"`}

	c.synced(win0, filesync.Stats{Bytes: 5})
	if len(rec.notes) != 0 {
		t.Fatalf("a sync that left nothing out: got notes %q", rec.notes)
	}
	c.synced(win0, filesync.Stats{Refused: []wire.SyncRefused{colon, back}})
	want := `linux/amd64 -> ssh=winhost: not synced: p/testdata/a:b.txt (a Windows file name cannot hold ":"), ` +
		`p/testdata/back\slash.txt (a Windows file name cannot hold "\\")`
	if len(rec.notes) != 1 || rec.notes[0] != want {
		t.Fatalf("got notes %q; want one: %q", rec.notes, want)
	}
	// Another worker of the same host syncing the same package: said already.
	c.synced(win1, filesync.Stats{Refused: []wire.SyncRefused{colon, back}})
	if len(rec.notes) != 1 {
		t.Fatalf("the same files on the same host: got notes %q; want the first only", rec.notes)
	}
	// Another host is another note.
	c.synced(other, filesync.Stats{Refused: []wire.SyncRefused{colon}})
	if len(rec.notes) != 2 || !strings.HasPrefix(rec.notes[1], "linux/amd64 -> ssh=otherhost: not synced: p/testdata/a:b.txt (") {
		t.Fatalf("another host: got notes %q", rec.notes)
	}
	if got := int(c.syncBytes.Load()); got != 5 {
		t.Errorf("got %d sync bytes counted; want 5", got)
	}
}

// A long list is cut, a count said for the rest, and a name a terminal
// would not print as it is arrives quoted.
func TestRefusedNoteShape(t *testing.T) {
	rec := &noteRecorder{}
	c := &coordinator{rep: rec}
	w := &workerState{Worker: Worker{ID: "gw0", Gateway: namedGateway("ssh=winhost"), Remote: true}, platform: &Platform{Name: "windows/amd64"}}
	var refused []wire.SyncRefused
	for i := range 12 {
		refused = append(refused, wire.SyncRefused{Path: fmt.Sprintf("src/p/f%02d:x", i), Why: "w"})
	}
	c.onRefused(w, filesync.Stats{Refused: refused, RefusedMore: 3})
	if len(rec.notes) != 1 || !strings.HasSuffix(rec.notes[0], "p/f09:x (w), and 5 more") || strings.Contains(rec.notes[0], "f10") {
		t.Fatalf("got %q; want ten named and 5 more", rec.notes)
	}
	c.onRefused(w, filesync.Stats{Refused: []wire.SyncRefused{{Path: "src/p/esc\x1b[2J:x", Why: "why\n"}}})
	if len(rec.notes) != 2 || strings.ContainsAny(rec.notes[1], "\x1b\n") || !strings.Contains(rec.notes[1], `"p/esc\x1b[2J:x" ("why\n")`) {
		t.Fatalf("got %q; want the name and reason quoted", rec.notes)
	}
}
