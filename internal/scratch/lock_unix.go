//go:build unix

package scratch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lock creates dir's lock file and holds an exclusive flock on it for as
// long as the returned file is open (the kernel drops it when the process
// dies, however it dies). The descriptor is close-on-exec, so no child
// keeps a run alive that is gone.
func lock(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, tmpLockName)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, lockName)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// claimStale reports whether dir belongs to a run that is gone; if so it
// holds dir's lock until release, so that a run that is cleaning too does
// not race it.
func claimStale(dir string) (release func(), stale bool) {
	f, err := os.Open(filepath.Join(dir, lockName))
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, unlockedStale(dir, unlockedGrace)
	}
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false // held: its run is alive
	}
	return func() { f.Close() }, true
}

func ownedByUs(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
