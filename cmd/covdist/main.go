// Command covdist runs a Go module's tests with coverage across local worker
// processes (and, through execution specs, other environments), merges every
// coverage profile that comes back, and prints one Stmts/Miss/Cover table.
//
// cmd/covdist imports every covdist package; nothing imports it. It is the
// only package that imports pflag.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is the covdist release; agents of another version are not used.
var version = "0.1.0-dev"

// Exit codes: one place decides them.
const (
	exitOK       = 0 // tests passed and gates met
	exitFailed   = 1 // tests failed or crashed, or a package did not build
	exitUsage    = 2 // usage or configuration error, or nothing built
	exitGate     = 3 // a coverage gate was missed
	exitNoWorker = 4 // no worker could run
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		switch args[0] {
		case "agent":
			// Hidden: the worker side, spoken to over stdin/stdout.
			return runAgent(ctx, args[1:], stdin, stdout, stderr)
		case "merge":
			return runMerge(ctx, args[1:], stdout, stderr, true)
		case "report":
			return runMerge(ctx, args[1:], stdout, stderr, false)
		case "serve":
			return runServe(ctx, args[1:], stdout, stderr)
		case "version":
			fmt.Fprintln(stdout, "covdist", version)
			return 0
		case "help":
			args = []string{"--help"}
		}
	}
	return runTests(ctx, args, stdout, stderr)
}
