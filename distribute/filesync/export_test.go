package filesync

import (
	"context"
	"time"

	"github.com/covdist/covdist/distribute/wire"
)

// SetCollectEvery sets how often a store is collected, for a test, and
// returns what puts it back.
func SetCollectEvery(d time.Duration) (restore func()) {
	old := collectEvery
	collectEvery = d
	return func() { collectEvery = old }
}

// ApplyAs is Apply on an agent running goos, so a test on any machine sees
// what a Windows agent leaves out.
func ApplyAs(goos string) func(ctx context.Context, conn Conn, root string, m *wire.SyncManifest) (*wire.SyncDone, error) {
	return func(ctx context.Context, conn Conn, root string, m *wire.SyncManifest) (*wire.SyncDone, error) {
		return apply(ctx, conn, root, m, goos)
	}
}

// Writable is what a receiver running goos keeps of m, and what it refuses.
func Writable(m *wire.SyncManifest, goos string) (*wire.SyncManifest, []wire.SyncRefused, int) {
	return writable(m, goos)
}
