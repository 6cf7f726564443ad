// Package untested has no tests: it counts at 0% on every platform.
package untested

// Answer is never called.
func Answer() int { return 42 }
