package agent

import "syscall"

// procAttr puts a test process in its own group (so its helpers can be ended
// with it) and has the kernel kill it if the agent dies first.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
