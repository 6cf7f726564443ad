package filesync

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/covdist/covdist/distribute/wire"
)

// Stats says what a Push cost.
type Stats struct {
	Files   int   // manifest entries
	Sent    int   // distinct blobs whose content was sent
	Skipped int   // regular files whose content the agent already had
	Bytes   int64 // file content sent, before compression
	Wire    int64 // frame bytes Push wrote, manifest included
	Written int   // entries the agent (re)wrote
	Removed int   // stale entries the agent removed
	// Refused names the entries the agent left out, since its file system
	// cannot hold their names (see Unwritable); RefusedMore counts those
	// beyond the named ones. The rest of the sync went ahead.
	Refused     []wire.SyncRefused
	RefusedMore int
}

// Conn is one end of a stream between a coordinator and an agent;
// *wire.Conn is one, and so is an adapter that hands a sync the frames
// another goroutine reads.
type Conn interface {
	Send(wire.Kind, any) error
	Recv() (wire.Kind, []byte, error)
	Bytes() (in, out int64)
}

// Push mirrors m into the agent's workspace over conn: it sends the
// manifest, streams the blobs the agent asks for and waits for the agent's
// answer. It must run while no unit is in flight on conn (right after the
// handshake, say), since it reads the agent's frames itself.
//
// An error means the workspace is not in sync. A refusal or a local failure
// on the agent's side leaves conn usable; a transport error does not, and
// ctx ending stops the upload between chunks and leaves conn mid-sync, to be
// closed.
func Push(ctx context.Context, conn Conn, m *Manifest) (st Stats, err error) {
	st.Files = len(m.Files)
	wm := m.Wire()
	if err := Validate(wm); err != nil {
		return st, fmt.Errorf("refusing to send the sync manifest: %w", err)
	}
	_, out0 := conn.Bytes()
	defer func() {
		_, out := conn.Bytes()
		st.Wire = out - out0
	}()
	if err := conn.Send(wire.KindSyncManifest, wm); err != nil {
		return st, fmt.Errorf("sending the sync manifest of %d entries: %w", len(wm.Files), err)
	}
	reply, err := recvSync(conn)
	if err != nil {
		return st, err
	}
	var need *wire.SyncNeed
	switch r := reply.(type) {
	case *wire.SyncDone:
		st.Refused, st.RefusedMore = r.Refused, r.RefusedMore
		return st, fmt.Errorf("the agent refused the sync: %s", r.Err)
	case *wire.SyncNeed:
		need = r
	}
	sizes := make(map[string]int64, len(m.src))
	for _, f := range m.Files {
		if f.Hash != "" {
			sizes[f.Hash] = f.Size
		}
	}
	asked := make(map[string]bool, len(need.Hashes))
	for _, h := range need.Hashes {
		if _, ok := m.src[h]; !ok || asked[h] {
			return st, fmt.Errorf("the agent asked for content %q, which the manifest does not hold or it asked for already", h)
		}
		asked[h] = true
	}
	for _, f := range m.Files {
		if f.Hash != "" && !asked[f.Hash] {
			st.Skipped++
		}
	}
	enc := newChunker()
	for _, h := range need.Hashes {
		n, err := sendBlob(ctx, conn, enc, h, m.src[h], sizes[h])
		st.Bytes += n
		if err != nil {
			return st, err
		}
		st.Sent++
	}
	reply, err = recvSync(conn)
	if err != nil {
		return st, err
	}
	done, ok := reply.(*wire.SyncDone)
	if !ok {
		return st, fmt.Errorf("%w: expected sync-done, got sync-need", wire.ErrFrame)
	}
	st.Written, st.Removed = done.Files, done.Removed
	st.Refused, st.RefusedMore = done.Refused, done.RefusedMore
	if done.Err != "" {
		return st, fmt.Errorf("the agent could not apply the sync: %s", done.Err)
	}
	return st, nil
}

// recvSync reads the agent's next sync frame, passing over log lines.
func recvSync(conn Conn) (any, error) {
	for {
		k, p, err := conn.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("waiting for the agent's sync reply: %w", err)
		}
		switch k {
		case wire.KindLog, wire.KindPing:
			continue
		case wire.KindSyncNeed, wire.KindSyncDone:
			return wire.Decode(k, p)
		}
		return nil, fmt.Errorf("%w: expected a sync reply, got %s", wire.ErrFrame, k)
	}
}

// sendBlob streams one file's content as chunks and returns the content
// bytes sent.
func sendBlob(ctx context.Context, conn Conn, enc *chunker, hash, local string, size int64) (int64, error) {
	f, err := os.Open(local)
	if err != nil {
		return 0, fmt.Errorf("syncing %s: %w", local, err)
	}
	defer f.Close()
	buf := make([]byte, wire.SyncChunk)
	var off int64
	compress := true
	for off < size {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return off, fmt.Errorf("syncing %s: it changed during the sync (%d bytes expected): %w", local, size, err)
		}
		blob := wire.SyncBlob{Hash: hash, Off: off, Data: buf[:n]}
		if compress {
			// Test binaries shrink to about a third; a blob whose first
			// chunk does not shrink is sent as it is from then on.
			if z := enc.compress(buf[:n]); z != nil {
				blob.Data, blob.Flate = z, true
			} else {
				compress = false
			}
		}
		if err := conn.Send(wire.KindSyncBlob, blob); err != nil {
			return off, fmt.Errorf("sending %s: %w", local, err)
		}
		off += n
	}
	return off, nil
}

// chunker compresses chunks, reusing one flate writer.
type chunker struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newChunker() *chunker {
	c := &chunker{}
	c.w, _ = flate.NewWriter(&c.buf, flate.BestSpeed)
	return c
}

// compress returns p compressed, or nil when that saves less than an eighth.
func (c *chunker) compress(p []byte) []byte {
	c.buf.Reset()
	c.w.Reset(&c.buf)
	if _, err := c.w.Write(p); err != nil {
		return nil
	}
	if err := c.w.Close(); err != nil {
		return nil
	}
	if c.buf.Len() > len(p)-len(p)/8 {
		return nil
	}
	return c.buf.Bytes()
}
