//go:build unix

package gateway

import "syscall"

// openFileLimit returns this process's soft limit on open files (the Go
// runtime raises it to the hard limit at start), or 0 when it is unknown
// or too large to matter.
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<20 {
		return 0
	}
	return int(r.Cur)
}
