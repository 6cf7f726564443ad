// Package wire owns the framed, versioned protocol that the coordinator and
// a covdist agent speak over any byte stream (a pipe to a local process, an
// SSH channel, a socket, the stdin/stdout of kubectl exec).
//
// A frame is a 4-byte big-endian payload length, one byte of message kind and
// a JSON payload of that length (sync-blob alone appends raw content after
// its JSON header and a newline, to spare base64's third). JSON keeps the protocol debuggable and
// independent of Go versions on either side; coverage crosses it sparsely
// (see coverage.Delta), so payloads stay small.
//
// The first frame in each direction is a Hello carrying Version; a peer that
// receives another version closes the stream with an error naming both.
//
// Package wire imports no other covdist package except coverage, whose Delta
// is part of the protocol.
package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/covdist/covdist/coverage"
)

// Version is the protocol version. Bump it on any incompatible change.
// Version 3: agents ping too, and coordinators ping during syncs.
// Version 4: Done says which finished test a crash's stack names (Blame).
const Version = 4

// MaxFrame bounds a frame's payload, so a corrupt or hostile length prefix
// cannot make a peer allocate without limit.
const MaxFrame = 64 << 20

// Kind says which message a frame carries.
type Kind byte

// The message kinds.
const (
	KindHello    Kind = 1 // both directions, first frame
	KindRun      Kind = 2 // coordinator -> agent: run a unit
	KindEvent    Kind = 3 // agent -> coordinator: one test event, streamed
	KindDone     Kind = 4 // agent -> coordinator: a unit finished (or crashed)
	KindShutdown Kind = 5 // coordinator -> agent: finish and exit
	KindLog      Kind = 6 // agent -> coordinator: a diagnostic line

	// File sync, strictly request/response between units: the coordinator
	// sends a manifest, the agent answers with the hashes it lacks (or a
	// SyncDone carrying its refusal), the coordinator streams those blobs,
	// and the agent answers SyncDone.
	KindSyncManifest Kind = 7  // coordinator -> agent: the trees to mirror
	KindSyncNeed     Kind = 8  // agent -> coordinator: content hashes it lacks
	KindSyncBlob     Kind = 9  // coordinator -> agent: one chunk of one blob
	KindSyncDone     Kind = 10 // agent -> coordinator: the sync's outcome
	KindPing         Kind = 11 // both directions, at any time: still here (see PingEvery)

	kindLast = KindPing
)

func (k Kind) String() string {
	switch k {
	case KindHello:
		return "hello"
	case KindRun:
		return "run"
	case KindEvent:
		return "event"
	case KindDone:
		return "done"
	case KindShutdown:
		return "shutdown"
	case KindLog:
		return "log"
	case KindSyncManifest:
		return "sync-manifest"
	case KindSyncNeed:
		return "sync-need"
	case KindSyncBlob:
		return "sync-blob"
	case KindSyncDone:
		return "sync-done"
	case KindPing:
		return "ping"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Hello opens a stream in each direction.
type Hello struct {
	Version int    `json:"version"`
	Agent   string `json:"agent,omitempty"` // covdist build of the sender
	GOOS    string `json:"goos,omitempty"`
	GOARCH  string `json:"goarch,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Dir     string `json:"dir,omitempty"` // the agent's working directory
}

// Run asks an agent to run some top-level tests of one test binary in one
// process.
type Run struct {
	ID      int64    `json:"id"`
	Package string   `json:"pkg"`
	Binary  string   `json:"bin"`            // path of the test binary on the agent's side
	Dir     string   `json:"dir"`            // working directory of the test process
	Tests   []string `json:"tests"`          // exact top-level names (Test*, Fuzz*, Example*)
	Args    []string `json:"args,omitempty"` // extra -test.* and custom flags
	Env     []string `json:"env,omitempty"`  // NAME=VALUE added to the agent's environment
	Exec    []string `json:"exec,omitempty"` // wrapper program and its args, as go test -exec
	// Timeout bounds each single test; 0 means none. The agent ends the
	// process (SIGQUIT for a stack dump, then SIGKILL) when one runs longer.
	Timeout   time.Duration `json:"timeout,omitempty"`
	CoverMode string        `json:"covermode,omitempty"` // empty: no coverage
	// CoverDir asks for coverage through -test.gocoverdir (Go 1.20 and
	// later) rather than a text coverprofile, which a test process of a
	// large module spends most of its exit writing.
	CoverDir bool `json:"coverdir,omitempty"`
}

// Event is one test event, in go test -json's vocabulary.
type Event struct {
	Unit    int64     `json:"unit"`
	Time    time.Time `json:"time"`
	Action  string    `json:"action"` // run, pause, cont, output, pass, fail, skip
	Test    string    `json:"test,omitempty"`
	Elapsed float64   `json:"elapsed,omitempty"` // seconds, on pass/fail/skip
	Output  string    `json:"output,omitempty"`
}

// Status is a top-level test's final state within one unit.
type Status string

// Test statuses. Crashed means the test was running when its process ended
// abnormally; Interrupted means the test was running next to the one that
// ended the process (parallel tests), so the process end cannot be pinned on
// it; NotRun means the process ended before the test started.
const (
	Pass        Status = "pass"
	Fail        Status = "fail"
	Skip        Status = "skip"
	Crashed     Status = "crashed"
	Interrupted Status = "interrupted"
	NotRun      Status = "notrun"
)

// Result is a top-level test's outcome within one unit.
type Result struct {
	Test    string  `json:"test"`
	Status  Status  `json:"status"`
	Elapsed float64 `json:"elapsed,omitempty"`
	Output  string  `json:"output,omitempty"` // the test's own output, subtests included
}

// Done reports a unit's end. Results has one entry per requested test.
// Cover is nil when the process wrote no profile (it crashed, or coverage
// was off); when present it is the sparse delta of this unit's counts.
type Done struct {
	Unit     int64           `json:"unit"`
	Results  []Result        `json:"results"`
	Crash    string          `json:"crash,omitempty"` // why the process ended abnormally, with its last output
	Timeout  bool            `json:"timeout,omitempty"`
	ExitCode int             `json:"exit"`
	Wall     float64         `json:"wall"`              // seconds, process start to end
	Output   string          `json:"output,omitempty"`  // process output outside any test
	Cover    *coverage.Delta `json:"cover,omitempty"`   // sparse coverage of this run
	Err      string          `json:"err,omitempty"`     // the process could not be started at all
	Profile  string          `json:"profile,omitempty"` // a profile that did not parse, named in errors
	// Blame names the test whose goroutine crashed the process, by the
	// crash's stack, when that test had already given its verdict.
	Blame string `json:"blame,omitempty"`
}

// Log is a diagnostic line from the agent.
type Log struct {
	Text string `json:"text"`
}

// Shutdown asks the agent to exit once its current unit is done.
type Shutdown struct{}

// Ping tells the peer its sender is still there. A link that is cut (not
// closed) ends neither side's stream, and an agent that is stopped, or
// hangs, closes nothing: each side hears the other at least every
// PingEvery, whatever else it is doing (a test that prints nothing, a sync
// that one side's frames fill), and gives up a peer silent for
// PingTimeout. An agent then ends its tests and exits, so no test outlives
// a lost coordinator by more than that; a coordinator reports the worker
// down and runs its test elsewhere.
//
// A ping may come between any two frames, inside a sync too; the reader
// of a stream passes pings over, and only notes that its peer spoke.
type Ping struct{}

// PingEvery is how often each side pings; PingTimeout how long either
// waits for any frame before it gives its peer up.
const (
	PingEvery   = 2 * time.Second
	PingTimeout = 15 * time.Second
)

// Hearing tells a silent peer from a reader that is busy: the goroutine
// that reads a stream calls Heard after each frame, and holds (Hold) while
// it waits to hand a frame on, since its own side's delay is not the
// peer's silence. Watch gives the peer up once it has been silent too long.
type Hearing struct {
	last atomic.Int64 // Unix nanoseconds: the last frame, or the end of the last hold
	held atomic.Int32
}

// NewHearing returns a Hearing whose peer was heard just now.
func NewHearing() *Hearing {
	h := &Hearing{}
	h.Heard()
	return h
}

// Heard notes a frame from the peer.
func (h *Hearing) Heard() { h.last.Store(time.Now().UnixNano()) }

// Hold counts the peer as heard until release is called.
func (h *Hearing) Hold() (release func()) {
	h.held.Add(1)
	return func() {
		h.Heard() // before the hold ends, so no watchdog sees a stale time
		h.held.Add(-1)
	}
}

// Silence is how long the peer has said nothing; zero while held.
func (h *Hearing) Silence() time.Duration {
	if h.held.Load() > 0 {
		return 0
	}
	return time.Since(time.Unix(0, h.last.Load()))
}

// Watch calls lost once the peer has been silent for longer than timeout,
// unless stop is closed first, and then returns.
func (h *Hearing) Watch(stop <-chan struct{}, timeout time.Duration, lost func(silence time.Duration)) {
	t := time.NewTicker(min(time.Second, timeout/8))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if d := h.Silence(); d > timeout {
				lost(d)
				return
			}
		}
	}
}

// SyncManifest lists every entry of the trees the agent must mirror under
// its workspace root (Hello.Dir). Paths are slash-separated and relative to
// that root. Entries under a tree that the manifest does not list are
// removed; nothing outside the trees is touched. Files are sorted by Path.
type SyncManifest struct {
	Trees []string   `json:"trees"`
	Files []SyncFile `json:"files"`
}

// SyncFile is one manifest entry: a regular file (Hash and Size), a
// symbolic link (Link, relative and inside its tree) or an empty
// directory (Dir).
type SyncFile struct {
	Path string `json:"path"`
	Size int64  `json:"size,omitempty"`
	Exec bool   `json:"x,omitempty"`    // the file is executable; the only mode bit carried
	Hash string `json:"hash,omitempty"` // lowercase hex SHA-256 of the content
	Link string `json:"link,omitempty"`
	Dir  bool   `json:"dir,omitempty"`
}

// SyncNeed lists the content hashes the agent lacks, in the order it
// expects their blobs.
type SyncNeed struct {
	Hashes []string `json:"hashes"`
}

// SyncBlob carries one chunk of a blob's content, at offset Off. A blob
// arrives as consecutive chunks of at most SyncChunk bytes (before
// compression); Flate marks a chunk compressed with compress/flate.
//
// Its payload is the JSON of the other fields, a newline, then Data raw:
// content is most of a sync's bytes, and JSON would grow it by a third.
type SyncBlob struct {
	Hash  string `json:"hash"`
	Off   int64  `json:"off"`
	Data  []byte `json:"-"`
	Flate bool   `json:"flate,omitempty"`
}

func (b *SyncBlob) marshal() ([]byte, error) {
	hdr, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	p := make([]byte, 0, len(hdr)+1+len(b.Data))
	p = append(append(append(p, hdr...), '\n'), b.Data...)
	return p, nil
}

func (b *SyncBlob) unmarshal(p []byte) error {
	hdr, data, ok := bytes.Cut(p, []byte{'\n'})
	if !ok {
		return errors.New("no newline after the header")
	}
	if err := json.Unmarshal(hdr, b); err != nil {
		return err
	}
	b.Data = data
	return nil
}

// SyncChunk bounds a SyncBlob's content, so a blob frame stays far below
// MaxFrame even after base64.
const SyncChunk = 1 << 20

// SyncDone ends a sync: how many entries were written (unchanged ones are
// not counted), how many stale ones removed, the content bytes received,
// or why the agent refused or failed.
//
// Refused lists manifest entries the agent left out, though the rest of the
// sync went ahead, because its file system cannot hold their names (a ":"
// or "\" on Windows); RefusedMore counts those left out beyond the first
// MaxRefused. Both are absent from an older agent's answer, which refused
// the whole sync instead.
type SyncDone struct {
	Files       int           `json:"files"`
	Removed     int           `json:"removed,omitempty"`
	Bytes       int64         `json:"bytes"`
	Err         string        `json:"err,omitempty"`
	Refused     []SyncRefused `json:"refused,omitempty"`
	RefusedMore int           `json:"refused_more,omitempty"`
}

// SyncRefused is one manifest entry an agent did not write, and why.
type SyncRefused struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

// MaxRefused bounds SyncDone.Refused, so the answer to a manifest of many
// unnameable entries stays small.
const MaxRefused = 100

// Conn reads and writes frames on one stream. Send is safe for concurrent
// use; Recv must be called from one goroutine.
type Conn struct {
	r  *bufio.Reader
	wm sync.Mutex
	w  io.Writer
	c  io.Closer

	// BytesIn and BytesOut count frame bytes, for benchmarks and -v.
	bytesMu           sync.Mutex
	bytesIn, bytesOut int64
}

// NewConn wraps a stream. c may be nil.
func NewConn(r io.Reader, w io.Writer, c io.Closer) *Conn {
	return &Conn{r: bufio.NewReaderSize(r, 64<<10), w: w, c: c}
}

// Close closes the underlying stream, if any.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}

// Bytes returns the frame bytes received and sent so far.
func (c *Conn) Bytes() (in, out int64) {
	c.bytesMu.Lock()
	defer c.bytesMu.Unlock()
	return c.bytesIn, c.bytesOut
}

// Send writes one message as a frame.
func (c *Conn) Send(k Kind, msg any) error {
	var payload []byte
	var err error
	switch b := msg.(type) {
	case SyncBlob:
		payload, err = b.marshal()
	case *SyncBlob:
		payload, err = b.marshal()
	default:
		payload, err = json.Marshal(msg)
	}
	if err != nil {
		return fmt.Errorf("encoding %s frame: %w", k, err)
	}
	if len(payload) > MaxFrame {
		return fmt.Errorf("%s frame of %d bytes exceeds the %d-byte limit", k, len(payload), MaxFrame)
	}
	buf := make([]byte, 5+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	buf[4] = byte(k)
	copy(buf[5:], payload)
	c.wm.Lock()
	_, err = c.w.Write(buf)
	c.wm.Unlock()
	if err != nil {
		return fmt.Errorf("sending %s frame: %w", k, err)
	}
	c.bytesMu.Lock()
	c.bytesOut += int64(len(buf))
	c.bytesMu.Unlock()
	return nil
}

// Recv reads one frame and returns its kind and raw payload. It returns
// io.EOF only when the stream ends cleanly between frames.
func (c *Conn) Recv() (Kind, []byte, error) {
	k, p, err := ReadFrame(c.r)
	if err == nil {
		c.bytesMu.Lock()
		c.bytesIn += int64(5 + len(p))
		c.bytesMu.Unlock()
	}
	return k, p, err
}

// ErrFrame marks a malformed frame.
var ErrFrame = errors.New("malformed frame")

// ReadFrame reads one frame from r.
func ReadFrame(r io.Reader) (Kind, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: stream ended inside a frame header", ErrFrame)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	k := Kind(hdr[4])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: %s frame claims %d bytes, over the %d-byte limit", ErrFrame, k, n, MaxFrame)
	}
	if k < KindHello || k > kindLast {
		return 0, nil, fmt.Errorf("%w: unknown kind %d", ErrFrame, byte(k))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("%w: stream ended inside a %s frame of %d bytes", ErrFrame, k, n)
	}
	return k, p, nil
}

// Decode unmarshals a payload of kind k into the matching message type.
func Decode(k Kind, p []byte) (any, error) {
	var msg any
	switch k {
	case KindHello:
		msg = new(Hello)
	case KindRun:
		msg = new(Run)
	case KindEvent:
		msg = new(Event)
	case KindDone:
		msg = new(Done)
	case KindShutdown:
		msg = new(Shutdown)
	case KindLog:
		msg = new(Log)
	case KindSyncManifest:
		msg = new(SyncManifest)
	case KindSyncNeed:
		msg = new(SyncNeed)
	case KindSyncBlob:
		b := new(SyncBlob)
		if err := b.unmarshal(p); err != nil {
			return nil, fmt.Errorf("%w: decoding %s payload: %v", ErrFrame, k, err)
		}
		return b, nil
	case KindSyncDone:
		msg = new(SyncDone)
	case KindPing:
		msg = new(Ping)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrFrame, byte(k))
	}
	if err := json.Unmarshal(p, msg); err != nil {
		return nil, fmt.Errorf("%w: decoding %s payload: %v", ErrFrame, k, err)
	}
	return msg, nil
}

// Handshake sends our Hello and checks the peer's. It returns the peer's Hello.
func Handshake(c *Conn, mine Hello) (*Hello, error) {
	mine.Version = Version
	errc := make(chan error, 1)
	go func() { errc <- c.Send(KindHello, mine) }()
	k, p, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("waiting for the peer's hello: %w", err)
	}
	if k != KindHello {
		return nil, fmt.Errorf("%w: expected hello, got %s", ErrFrame, k)
	}
	m, err := Decode(k, p)
	if err != nil {
		return nil, err
	}
	h := m.(*Hello)
	if err := <-errc; err != nil {
		return nil, err
	}
	if h.Version != Version {
		return nil, fmt.Errorf("protocol version mismatch: peer speaks %d, we speak %d (use the same covdist release on both sides)", h.Version, Version)
	}
	return h, nil
}
