package osdep

// Arch names the architecture this file is built for.
func Arch() string { return "arm64" }

// Vector names the widest vector unit the code may use.
func Vector(sve bool) string {
	if sve {
		return "sve"
	}
	return "neon"
}
