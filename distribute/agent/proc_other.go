//go:build !linux

package agent

import "syscall"

// procAttr puts a test process in its own group, so its helpers can be
// ended with it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// becomeReaper reports false: only Linux hands a process its orphaned
// descendants. What a test starts outside its process group outlives it
// here, though it cannot hold up the unit longer than outputGrace.
func becomeReaper() bool { return false }

func endOrphans() {}
