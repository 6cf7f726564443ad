package distribute

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/covdist/covdist/distribute/wire"
)

// A link is one connection to an agent, shared by the goroutines that
// serve it: the one that opens it and then writes units, a reader, a
// pinger and a watchdog.
//
// Nothing but the agent's own frames says it is still there: a cut link
// under a pipe= command, or an agent stopped with SIGSTOP, ends no stream.
// The agent pings every wire.PingEvery whatever it does, the reader notes
// every frame, and the watchdog gives up a link silent for
// wire.PingTimeout, as a worker death.
type link struct {
	stream io.ReadWriteCloser
	conn   *wire.Conn
	hear   *wire.Hearing
	send   func(msg) // to the coordinator's loop, with the link's generation
	gone   chan struct{}
	once   sync.Once
}

func newLink(stream io.ReadWriteCloser, send func(msg)) *link {
	l := &link{stream: stream, conn: wire.NewConn(stream, stream, stream), hear: wire.NewHearing(),
		send: send, gone: make(chan struct{})}
	// From the start: an agent that never says hello is as silent.
	go l.hear.Watch(l.gone, wire.PingTimeout, func(time.Duration) {
		l.fail(fmt.Errorf("no word from the agent for %s: giving it up (a cut link, or a stopped or hung agent)", wire.PingTimeout))
	})
	return l
}

// fail gives the link up, once: it tells the loop why the worker went
// down, then ends the agent by closing its stream (which may take a few
// seconds: a stopped agent is killed only once it does not exit).
func (l *link) fail(err error) {
	l.once.Do(func() {
		close(l.gone)
		l.send(msg{kind: msgDead, err: err})
		l.stream.Close()
	})
}

// ping tells the agent we are still here, until the link is given up.
// Pings may cross any frame, a sync's too: the agent's reader passes
// them over wherever they fall.
func (l *link) ping() {
	t := time.NewTicker(wire.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-l.gone:
			return
		case <-t.C:
			if l.conn.Send(wire.KindPing, wire.Ping{}) != nil {
				return
			}
		}
	}
}

// read takes every frame the agent sends until the stream ends: events
// and unit ends go to the loop, sync replies to rs (nil for a local
// worker), pings and log lines only show the agent is there.
func (l *link) read(rs *remoteState) {
	if rs != nil {
		defer close(rs.replies)
	}
	for {
		k, p, err := l.conn.Recv()
		if err != nil {
			l.fail(err)
			return
		}
		l.hear.Heard()
		switch k {
		case wire.KindPing, wire.KindLog:
			continue
		case wire.KindSyncNeed, wire.KindSyncDone:
			if rs != nil {
				release := l.hear.Hold()
				select {
				case rs.replies <- frame{k, p}:
				case <-l.gone:
				}
				release()
				continue
			}
		}
		m, err := wire.Decode(k, p)
		if err != nil {
			l.fail(err)
			return
		}
		var out msg
		switch m := m.(type) {
		case *wire.Event:
			out = msg{kind: msgEvent, event: m}
		case *wire.Done:
			out = msg{kind: msgDone, done: m}
		default:
			l.fail(fmt.Errorf("unexpected %s frame from agent", k))
			return
		}
		// A loop slow to take it (a terminal that blocks its output)
		// is no silence of the agent's.
		release := l.hear.Hold()
		l.send(out)
		release()
	}
}
