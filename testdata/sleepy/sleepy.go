// Package covdistsleepy has a test that outlasts any patience, so that the
// interrupt test can press Ctrl-C while it runs. Its binary's name,
// covdistsleepy.test, is what that test looks for among the processes.
package covdistsleepy

// Nap returns how long a nap is, in seconds.
func Nap() int { return 60 }
