package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/covdist/covdist/distribute/agent"
	"github.com/covdist/covdist/distribute/filesync"
	"github.com/spf13/pflag"
)

// runAgent is the hidden `covdist agent`: the worker side, spoken to over
// stdin/stdout. A remote gateway names the workspace it wants and its run;
// the agent claims that workspace for the run (another run's gets a
// sibling, filesync.Claim) and works there.
func runAgent(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("covdist agent", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	workspace := fs.String("workspace", "", "claim this `dir` (or a sibling dir.N while another run holds it) and work there")
	run := fs.String("run", "", "the coordinator's run `id` the workspace is claimed for")
	store := fs.String("store", "", "a content store `dir` shared with other workspaces")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "covdist agent: %v (the coordinator and this agent are of different covdist versions?)\n", err)
		return exitUsage
	}
	if *workspace != "" {
		ws, release, err := filesync.Claim(*workspace, *run, *store)
		if err != nil {
			fmt.Fprintf(stderr, "covdist agent: %v\n", err)
			return 1
		}
		defer release()
		if err := os.Chdir(ws); err != nil {
			fmt.Fprintf(stderr, "covdist agent: %v\n", err)
			return 1
		}
	}
	// A process of its own, whose only children are its test processes:
	// it may adopt and end what they leave behind.
	if err := agent.Serve(ctx, stdin, stdout, agent.Options{Version: version, Reap: true}); err != nil {
		fmt.Fprintf(stderr, "covdist agent: %v\n", err)
		return 1
	}
	return 0
}
