package osdep

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestArch(t *testing.T) {
	if Arch() != runtime.GOARCH {
		t.Fatalf("Arch() = %q; want %q", Arch(), runtime.GOARCH)
	}
	if !strings.HasPrefix(Describe(), runtime.GOARCH+", ") {
		t.Fatalf("Describe() = %q", Describe())
	}
}

func TestVector(t *testing.T) {
	if Vector(true) == "" {
		t.Fatal("no vector unit")
	}
}

// The package promises 64-bit ints: linux/386 breaks the promise, and this
// test fails there alone.
func TestWordSize(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Fatalf("strconv.IntSize = %d; want 64", strconv.IntSize)
	}
}
