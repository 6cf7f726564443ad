package agent

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procAttr puts a test process in its own group (so its helpers can be ended
// with it) and has the kernel kill it if the agent dies first.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of linux/prctl.h.
const prSetChildSubreaper = 36

// becomeReaper makes this process the one its descendants are handed to
// when their parent ends (a child subreaper), rather than init: a process
// a test started in a session of its own (setsid), out of the reach of its
// process group's end, then still comes back to the agent. It reports
// whether the kernel agreed (Linux 3.4 and later).
func becomeReaper() bool {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0)
	return errno == 0
}

// endOrphans kills and reaps every child this process has left, and those
// handed to it as they die, for up to a second. Called between units, when
// the agent has no test process of its own, every child is a test's
// leftover.
func endOrphans() {
	self := os.Getpid()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		kids := children(self)
		if len(kids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, k := range kids {
			if k.pgrp == k.pid {
				// A group of its own (setsid): what it started in it goes too.
				_ = syscall.Kill(-k.pid, syscall.SIGKILL)
			}
			// A child cannot be another process meanwhile: until it is
			// reaped here its pid stays its own.
			_ = syscall.Kill(k.pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(k.pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

type proc struct{ pid, pgrp int }

// children lists the processes whose parent is pid, zombies included.
func children(pid int) []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []proc
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		if ppid == pid {
			kids = append(kids, proc{p, pgrp})
		}
	}
	return kids
}
