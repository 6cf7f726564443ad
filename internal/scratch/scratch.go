// Package scratch owns covdist's per-run scratch directories: the test
// binaries a coordinator builds and the profiles an agent collects. They
// live under one directory per user, $TMPDIR/covdist-$UID, so that a run
// killed with SIGKILL (which runs no deferred cleanup) leaves them where
// the next run finds them: each run holds a lock inside its own directory
// for its whole life, and a run starting removes every sibling whose lock
// is free. On systems without flock a sibling is stale once it is a day
// old.
//
// Package scratch imports no other covdist package.
package scratch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// lockName is the file inside each run's directory whose lock says the run
// is alive. It is created under tmpLockName and renamed once locked, so a
// lock file that exists is always one its owner has locked.
const (
	lockName    = ".covdist-lock"
	tmpLockName = ".covdist-lock-new"
)

// unlockedGrace is how old a directory with no lock file must be before it
// counts as stale: younger, its run may be between making it and locking.
const unlockedGrace = 10 * time.Minute

// Dir is one run's scratch directory, alive until Close.
type Dir struct {
	// Path is the directory; the caller may put anything in it except
	// a file named .covdist-lock.
	Path string
	lock *os.File
}

// New removes the stale scratch directories of runs that are gone, then
// makes this run's, named prefix-*, under Base and locks it.
func New(prefix string) (*Dir, error) {
	base, err := Base()
	if err != nil {
		return nil, err
	}
	Clean(base)
	path, err := os.MkdirTemp(base, prefix+"-")
	if err != nil {
		return nil, fmt.Errorf("making scratch directory: %w", err)
	}
	f, err := lock(path)
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("locking scratch directory %s: %w", path, err)
	}
	return &Dir{Path: path, lock: f}, nil
}

// Close removes the directory and then gives up its lock.
func (d *Dir) Close() error {
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	return err
}

// Base returns the user's scratch root, $TMPDIR/covdist-$UID, made 0700 if
// missing. One that is not a directory owned by this user is refused: it
// could be another user's trap in a shared /tmp.
func Base() (string, error) {
	name := "covdist"
	if uid := os.Getuid(); uid >= 0 {
		name += "-" + strconv.Itoa(uid)
	}
	base := filepath.Join(os.TempDir(), name)
	if err := os.Mkdir(base, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("making scratch root: %w", err)
	}
	fi, err := os.Lstat(base)
	if err != nil {
		return "", fmt.Errorf("scratch root: %w", err)
	}
	if !fi.IsDir() || !ownedByUs(fi) {
		return "", fmt.Errorf("scratch root %s is not a directory of yours: remove it, or set TMPDIR to another directory", base)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(base, 0o700); err != nil {
			return "", fmt.Errorf("scratch root: %w", err)
		}
	}
	return base, nil
}

// Clean removes the directories under base whose runs are gone. It says
// nothing of what it could not remove: the next run tries again.
func Clean(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		release, stale := claimStale(dir)
		if stale {
			os.RemoveAll(dir)
			release()
		}
	}
}

// unlockedStale reports whether dir, which has no lock file, is old
// enough that no run is about to lock it.
func unlockedStale(dir string, age time.Duration) bool {
	fi, err := os.Stat(dir)
	return err == nil && time.Since(fi.ModTime()) > age
}
