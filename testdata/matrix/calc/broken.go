//go:build broken

package calc

// With -tags=broken the package does not compile: the script's platform that
// cannot build.
func Broken() int { return nosuchthing }
