// Package deeper sits deep in the tree, so its row's name is long; its
// tests cover it in part.
package deeper

// Depth says how deep.
func Depth() int { return 3 }

// Deeper is never called.
func Deeper() int { return Depth() + 1 }
