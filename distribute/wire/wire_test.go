package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/covdist/covdist/coverage"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		msg  any
	}{
		{"hello", KindHello, &Hello{Version: Version, Agent: "x", GOOS: "linux", GOARCH: "arm64", PID: 7, Dir: "/w"}},
		{"run", KindRun, &Run{ID: 3, Package: "p", Binary: "/b/p.test", Dir: "/src/p", Tests: []string{"TestA", "ExampleB"},
			Args: []string{"-test.short"}, Env: []string{"A=1"}, Exec: []string{"qemu-aarch64"}, Timeout: time.Second, CoverMode: "set"}},
		{"event", KindEvent, &Event{Unit: 3, Time: time.Unix(5, 0).UTC(), Action: "output", Test: "TestA/sub", Output: "hi\n"}},
		{"done", KindDone, &Done{Unit: 3, Results: []Result{{Test: "TestA", Status: Pass, Elapsed: 0.5}},
			Cover: &coverage.Delta{Mode: "set", Files: []string{"m/a.go"}, Blocks: []int64{0, 1, 2, 3, 4, 1, 1}}}},
		{"shutdown", KindShutdown, &Shutdown{}},
		{"log", KindLog, &Log{Text: "x"}},
		{"sync-manifest", KindSyncManifest, &SyncManifest{Trees: []string{"src/p"}, Files: []SyncFile{
			{Path: "src/p/x", Size: 3, Exec: true, Hash: "ab"}, {Path: "src/p/l", Link: "x"}, {Path: "src/p/d", Dir: true}}}},
		{"sync-need", KindSyncNeed, &SyncNeed{Hashes: []string{"ab", "cd"}}},
		{"sync-blob", KindSyncBlob, &SyncBlob{Hash: "ab", Off: 7, Data: []byte("raw\n\x00bytes\n"), Flate: true}},
		{"sync-done", KindSyncDone, &SyncDone{Files: 2, Removed: 1, Bytes: 9, Err: "x"}},
		{"sync-done refusing a file", KindSyncDone, &SyncDone{Files: 2, Bytes: 9,
			Refused: []SyncRefused{{Path: "src/p/testdata/a:b.txt", Why: `a Windows file name cannot hold ":"`}}, RefusedMore: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := NewConn(&buf, &buf, nil)
			if err := c.Send(tt.kind, tt.msg); err != nil {
				t.Fatal(err)
			}
			k, p, err := c.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if k != tt.kind {
				t.Fatalf("got kind %s; want %s", k, tt.kind)
			}
			got, err := Decode(k, p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Fatalf("got %#v; want %#v", got, tt.msg)
			}
			in, out := c.Bytes()
			if in != out || in == 0 {
				t.Fatalf("got bytes in %d, out %d; want equal and non-zero", in, out)
			}
		})
	}
}

func frame(n uint32, k byte, payload string) []byte {
	b := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(b, n)
	b[4] = k
	return append(b, payload...)
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string // substring of the error; "" means io.EOF
	}{
		{"empty stream", nil, ""},
		{"short header", []byte{0, 0}, "inside a frame header"},
		{"unknown kind", frame(2, 99, "{}"), "unknown kind 99"},
		{"kind zero", frame(2, 0, "{}"), "unknown kind 0"},
		{"oversized", frame(MaxFrame+1, byte(KindRun), ""), "over the"},
		{"truncated payload", frame(10, byte(KindRun), "{}"), "inside a run frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadFrame(bytes.NewReader(tt.in))
			if tt.want == "" {
				if err != io.EOF {
					t.Fatalf("got %v; want io.EOF", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrFrame) {
				t.Fatalf("got %v; want an ErrFrame containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeRejectsBadJSON(t *testing.T) {
	if _, err := Decode(KindRun, []byte(`{"id":"x"}`)); err == nil || !errors.Is(err, ErrFrame) {
		t.Fatalf("got %v; want an ErrFrame", err)
	}
}

func TestHandshakeVersionMismatch(t *testing.T) {
	var peer bytes.Buffer
	pc := NewConn(nil, &peer, nil)
	if err := pc.Send(KindHello, Hello{Version: Version + 1}); err != nil {
		t.Fatal(err)
	}
	c := NewConn(&peer, io.Discard, nil)
	_, err := Handshake(c, Hello{})
	if err == nil || !strings.Contains(err.Error(), "version mismatch") {
		t.Fatalf("got %v; want a version mismatch", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(2, byte(KindHello), "{}"))
	f.Add(frame(13, byte(KindRun), `{"id":1,"x":}`))
	f.Add(frame(40, byte(KindDone), `{"unit":1,"results":[{"test":"T","status":"pass"}]}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 2})
	f.Add(frame(17, byte(KindSyncBlob), "{\"hash\":\"ab\"}\nxyz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			k, p, err := ReadFrame(r)
			if err != nil {
				return
			}
			if len(p) > MaxFrame {
				t.Fatalf("payload of %d bytes passed the limit", len(p))
			}
			m, err := Decode(k, p)
			if err == nil && m == nil {
				t.Fatal("nil message without error")
			}
		}
	})
}

func TestHearingWatch(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		peer func(h *Hearing) // the reader's side, for 3*timeout
		lost bool
	}{
		{"silent", func(*Hearing) { time.Sleep(3 * timeout) }, true},
		{"heard", func(h *Hearing) {
			for i := 0; i < 12; i++ {
				time.Sleep(timeout / 4)
				h.Heard()
			}
		}, false},
		{"held", func(h *Hearing) {
			release := h.Hold()
			time.Sleep(3 * timeout)
			release()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHearing()
			stop := make(chan struct{})
			defer close(stop)
			lost := make(chan time.Duration, 1)
			go h.Watch(stop, timeout, func(d time.Duration) { lost <- d })
			tt.peer(h)
			select {
			case d := <-lost:
				if !tt.lost {
					t.Fatalf("got the peer given up after %s of silence; want it heard", d)
				}
				if d <= timeout {
					t.Fatalf("got the peer given up after %s; want over %s", d, timeout)
				}
			default:
				if tt.lost {
					t.Fatalf("got the peer still heard after %s of silence; want it given up", h.Silence())
				}
			}
		})
	}
}

// SyncDone's refused entries are additive: an older agent's answer, which
// has none, decodes as a sync that left nothing out, and a newer agent's
// answer decodes into an older coordinator's SyncDone, which lacks the
// fields, as the same counts.
func TestSyncDoneRefusedIsAdditive(t *testing.T) {
	msg, err := Decode(KindSyncDone, []byte(`{"files":3,"bytes":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := msg.(*SyncDone); d.Files != 3 || d.Refused != nil || d.RefusedMore != 0 {
		t.Fatalf("an older agent's answer: got %+v", d)
	}
	p, err := json.Marshal(SyncDone{Files: 3, Bytes: 7, Refused: []SyncRefused{{Path: "t/a:b", Why: "x"}}, RefusedMore: 1})
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Files   int    `json:"files"`
		Removed int    `json:"removed,omitempty"`
		Bytes   int64  `json:"bytes"`
		Err     string `json:"err,omitempty"`
	}
	if err := json.Unmarshal(p, &old); err != nil || old.Files != 3 || old.Bytes != 7 || old.Err != "" {
		t.Fatalf("a newer agent's answer to an older coordinator: got %+v, %v", old, err)
	}
}
