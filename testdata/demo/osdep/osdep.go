// Package osdep has a file per architecture, so each platform of a matrix
// compiles, and covers, different code.
package osdep

import "strconv"

// Describe says what machine the code was built for.
func Describe() string {
	return Arch() + ", " + wordSize()
}

func wordSize() string {
	if strconv.IntSize == 32 {
		return "32-bit"
	}
	return "64-bit"
}
