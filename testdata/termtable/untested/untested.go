// Package untested has no tests: it shows at 0%.
package untested

// Hello greets.
func Hello(name string) string {
	if name == "" {
		name = "world"
	}
	return "hello, " + name
}
