//go:build !unix

package scratch

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// staleAge is how old a run's directory must be before another run removes
// it, where there is no flock to tell a live run from a dead one.
const staleAge = 24 * time.Hour

// lock only marks dir as a run's: there is no lock to hold here.
func lock(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
}

// claimStale reports whether dir is older than staleAge.
func claimStale(dir string) (release func(), stale bool) {
	return func() {}, unlockedStale(dir, staleAge)
}

// ownedByUs is true: ownership is not a uid here.
func ownedByUs(fs.FileInfo) bool { return true }
