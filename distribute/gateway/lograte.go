package gateway

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// A logRate keeps a flood of one kind of line out of the serve's log: a
// scan or a client retrying a wrong key makes a line per connection, and
// the log would grow without bound while saying nothing new. Of each kind
// (the line's format), the first burst lines of a window are written; the
// rest are counted, and one line at the window's end says how many were
// left out. Lines of sessions that authenticated are not rated: each is a
// run's worker, and a busy serve's log should show every one.
type logRate struct {
	window time.Duration
	burst  int
	now    func() time.Time

	mu    sync.Mutex
	kinds map[string]*rateKind
}

type rateKind struct {
	start   time.Time // the window's start
	written int
	left    int // lines left out in the window
	example string
}

func newLogRate(window time.Duration, burst int) *logRate {
	return &logRate{window: window, burst: burst, now: time.Now, kinds: map[string]*rateKind{}}
}

// allow says whether a line of kind may be written now. summaries are
// lines for windows that have ended with lines left out, to write first.
func (l *logRate) allow(kind, line string) (ok bool, summaries []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	summaries = l.expire(now)
	k := l.kinds[kind]
	if k == nil {
		k = &rateKind{start: now}
		l.kinds[kind] = k
	}
	if k.written < l.burst {
		k.written++
		return true, summaries
	}
	if k.left == 0 {
		k.example = line
	}
	k.left++
	return false, summaries
}

// flush returns the summaries of the windows that have ended by now.
func (l *logRate) flush() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expire(l.now())
}

func (l *logRate) expire(now time.Time) []string {
	var out []string
	for kind, k := range l.kinds {
		if now.Sub(k.start) < l.window {
			continue
		}
		if k.left > 0 {
			out = append(out, fmt.Sprintf("%d more lines like this one in %s, not shown: %s", k.left, l.window, k.example))
		}
		delete(l.kinds, kind)
	}
	sort.Strings(out)
	return out
}
