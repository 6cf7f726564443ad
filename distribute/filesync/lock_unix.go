//go:build unix

package filesync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockName = "lock"

// lockStore takes the content store's sync lock (r is the store), waiting
// while another agent holds it, until ctx ends.
func lockStore(ctx context.Context, r *os.Root) (func(), error) {
	f, err := r.OpenFile(lockName, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// claim holds the workspace ws for run when no agent holds it or when only
// agents of run do, and says whether it did. The claim file's lock makes
// the decision one claimer's at a time; the use file's shared lock is held
// by every agent using ws, for as long as it lives, so a crashed agent
// holds nothing.
func claim(ws, run string) (release func(), ok bool, err error) {
	if err := os.MkdirAll(ws, 0o755); err != nil {
		return nil, false, err
	}
	c, err := os.OpenFile(filepath.Join(ws, claimName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	defer c.Close() // and with it the claim lock
	if err := flock(c, syscall.LOCK_EX); err != nil {
		return nil, false, err
	}
	u, err := os.OpenFile(filepath.Join(ws, useName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	err = flock(u, syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		// Nobody uses ws: it is run's now. Going from the exclusive lock
		// to a shared one is not atomic, but every other claimer waits
		// for the claim lock first.
		if err = c.Truncate(0); err == nil {
			_, err = c.WriteAt([]byte(run), 0)
		}
	case errors.Is(err, syscall.EWOULDBLOCK):
		b, rerr := io.ReadAll(c)
		if rerr != nil {
			u.Close()
			return nil, false, rerr
		}
		if string(b) != run {
			u.Close()
			return nil, false, nil
		}
		err = nil
	}
	if err == nil {
		err = flock(u, syscall.LOCK_SH)
	}
	if err != nil {
		u.Close()
		return nil, false, err
	}
	return func() { u.Close() }, true, nil
}

// flock is syscall.Flock, tried again when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
