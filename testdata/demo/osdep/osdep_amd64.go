package osdep

// Arch names the architecture this file is built for.
func Arch() string { return "amd64" }

// Vector names the widest vector unit the code may use.
func Vector(avx bool) string {
	if avx {
		return "avx2"
	}
	return "sse2"
}
