// Package calc is plain code that every platform compiles alike, but for
// Clamp, whose file depends on the Go release that builds it.
package calc

// Sum adds its arguments.
func Sum(xs ...int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// Div divides a by b, reporting false for a zero b.
func Div(a, b int) (int, bool) {
	if b == 0 {
		return 0, false
	}
	return a / b, true
}
