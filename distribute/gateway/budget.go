package gateway

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Each agent process holds descriptors in the coordinator for its whole
// life: the parent ends of its three pipes and the pidfd its Wait uses.
// Starting one takes five more for a moment (the child's ends and exec's
// status pipe); starts are one at a time, so only one start's worth is
// ever taken at once.
const (
	fdsPerAgent = 4
	fdsPerStart = 5
)

// fdReserve is what the coordinator keeps for everything else while agents
// are running: its own files, the go commands that build the test
// binaries, reports. Without it a large -n takes every descriptor and the
// build, not a worker, is what fails.
const fdReserve = 32

// agentBudget bounds how many agent processes this process holds at once
// by its descriptor limit, so that a worker that does not fit is reported
// as not started and the run goes on with the others.
type agentBudget struct {
	start sync.Mutex // one start at a time

	mu    sync.Mutex
	limit int // descriptors in all; 0 when there is no limit to keep to
	max   int // agents that fit
	held  int
}

var budget = newAgentBudget(openFileLimit())

func newAgentBudget(limit int) *agentBudget {
	b := &agentBudget{limit: limit}
	if limit > 0 {
		b.max = max(0, (limit-fdReserve-fdsPerStart)/fdsPerAgent)
	}
	return b
}

// take claims room for one more agent, or says why there is none.
func (b *agentBudget) take() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.held >= b.max {
		return fmt.Errorf("not started: the limit of %d open files (ulimit -n) leaves room for %d agent processes here, each holding %d: raise it (ulimit -n 4096) or ask for fewer workers",
			b.limit, b.max, fdsPerAgent)
	}
	b.held++
	return nil
}

func (b *agentBudget) give() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held--
}

// resourceHint says what to do when starting a process ran out of
// something the system rations; it is empty for any other error.
func resourceHint(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ": out of file descriptors: raise ulimit -n or ask for fewer workers"
	case errors.Is(err, syscall.EAGAIN):
		return ": out of processes or threads: raise ulimit -u (or the pids limit) or ask for fewer workers"
	}
	return ""
}
