// Package calc is plain code that every platform compiles alike, with two
// bugs for the demo to find: Mean of nothing divides by zero (a crash) and
// Percent divides before it multiplies (a failing test).
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

// Mean is the integer mean of its arguments.
func Mean(xs ...int) int {
	return Sum(xs...) / len(xs)
}

// Percent says what percentage of whole part is.
func Percent(part, whole int) int {
	return part / whole * 100
}
