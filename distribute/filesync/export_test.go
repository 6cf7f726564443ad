package filesync

import "time"

// SetCollectEvery sets how often a store is collected, for a test, and
// returns what puts it back.
func SetCollectEvery(d time.Duration) (restore func()) {
	old := collectEvery
	collectEvery = d
	return func() { collectEvery = old }
}
