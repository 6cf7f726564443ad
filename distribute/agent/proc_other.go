//go:build !linux

package agent

import "syscall"

// procAttr puts a test process in its own group, so its helpers can be
// ended with it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
