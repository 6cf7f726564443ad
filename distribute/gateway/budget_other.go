//go:build !unix

package gateway

// openFileLimit returns 0: this system has no per-process limit on open
// files to keep to.
func openFileLimit() int { return 0 }
