package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestLogRate(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLogRate(10*time.Second, 3)
	l.now = func() time.Time { return now }
	written := 0
	for i := range 100 {
		ok, sum := l.allow("dropped %v", "a: dropped "+string(rune('0'+i%10)))
		if len(sum) != 0 {
			t.Fatalf("line %d: got summaries %q inside the window", i, sum)
		}
		if ok {
			written++
		}
	}
	if written != 3 {
		t.Errorf("wrote %d of 100 lines of one kind in a window; want the burst of 3", written)
	}
	if ok, _ := l.allow("authenticated %v", "b: authenticated"); !ok {
		t.Errorf("a line of another kind was held back by the flood of the first")
	}
	if got := l.flush(); len(got) != 0 {
		t.Errorf("flush inside the window gave %q; want nothing yet", got)
	}
	now = now.Add(10 * time.Second)
	got := l.flush()
	if len(got) != 1 || !strings.HasPrefix(got[0], "97 more lines like this one in 10s, not shown: a: dropped ") {
		t.Fatalf("flush after the window gave %q; want one line counting the 97 left out", got)
	}
	if ok, sum := l.allow("dropped %v", "a: dropped again"); !ok || len(sum) != 0 {
		t.Errorf("first line of a new window: ok=%v summaries=%q; want it written, nothing more to say", ok, sum)
	}
}
