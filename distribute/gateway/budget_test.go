package gateway

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestAgentBudget(t *testing.T) {
	tests := []struct {
		limit, fit int
	}{
		{0, -1}, // no limit: every take succeeds
		{36, 0},
		{48, 2},
		{64, 6},
		{1024, 246},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			b := newAgentBudget(tt.limit)
			n := 0
			for ; n < 2000; n++ {
				if err := b.take(); err != nil {
					if !strings.Contains(err.Error(), fmt.Sprintf("limit of %d open files", tt.limit)) {
						t.Errorf("got %q; want it to name the limit", err)
					}
					break
				}
			}
			if tt.fit < 0 && n != 2000 || tt.fit >= 0 && n != tt.fit {
				t.Fatalf("limit %d: %d agents fit; want %d", tt.limit, n, tt.fit)
			}
			if n > 0 {
				b.give()
				if err := b.take(); err != nil {
					t.Errorf("after one gave its room back: %v", err)
				}
			}
		})
	}
}

func TestResourceHint(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&os.SyscallError{Syscall: "pipe2", Err: syscall.EMFILE}, "raise ulimit -n"},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.ENFILE}, "raise ulimit -n"},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.EAGAIN}, "raise ulimit -u"},
		{&os.PathError{Op: "fork/exec", Path: "/bin/x", Err: syscall.ENOENT}, ""},
	}
	for _, tt := range tests {
		got := resourceHint(tt.err)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("resourceHint(%v) = %q; want it to say %q", tt.err, got, tt.want)
		}
	}
}
