package osdep

// Arch names the architecture this file is built for.
func Arch() string { return "386" }

// Vector names the widest vector unit the code may use.
func Vector(sse bool) string {
	if sse {
		return "sse2"
	}
	if hasMMX() {
		return "mmx"
	}
	return "x87"
}

func hasMMX() bool { return false }
