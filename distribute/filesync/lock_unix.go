//go:build unix

package filesync

import (
	"context"
	"errors"
	"os"
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
