//go:build go1.25

package calc

// Clamp limits x to [lo, hi].
func Clamp(x, lo, hi int) int { return max(lo, min(x, hi)) }
