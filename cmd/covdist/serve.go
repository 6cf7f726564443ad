package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/covdist/covdist/distribute/gateway"
	"github.com/spf13/pflag"
)

const serveUsage = `Usage: covdist serve [flags]

Run workers for coordinators that reach this machine with --tx socket=HOST:PORT.

The server speaks the SSH protocol: connections are encrypted, clients pin
the server's host key in their known_hosts (the line to add is printed at
start), and only clients holding a key listed in --authorized-keys get in;
anyone else is dropped during the handshake, before anything runs. A
connection has 5 seconds to authenticate, and connections idling in the
handshake cannot crowd out a client that authenticates. Each session runs
one agent in a workspace of its own, removed when it ends.

Example:
  covdist serve --listen 127.0.0.1:8888 --authorized-keys ~/.ssh/covdist_clients
  # on the coordinator, after adding the printed line to ~/.ssh/known_hosts:
  covdist --tx 4*socket=127.0.0.1:8888 ./...

Flags:
`

var errNoAuthorizedKeys = errors.New("covdist serve needs --authorized-keys FILE: only the keys listed there may connect")

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("covdist serve", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8888", "`address` to listen on (loopback by default)")
	authorized := fs.String("authorized-keys", "", "OpenSSH authorized_keys `file`: the only keys let in (required)")
	hostKey := fs.String("host-key", "", "private host key `file`, created when missing (default: covdist/serve_host_ed25519 in the user config dir)")
	workDir := fs.String("workdir", "", "`dir` for the sessions' workspaces (default: a new temporary directory)")
	maxConns := fs.Int("max-conns", 64, "at most `N` authenticated connections at once")
	maxStartups := fs.Int("max-startups", 16, "at most `N` connections in the handshake at once; past that a random one is dropped for each new one")
	maxUpload := fs.Int64("max-upload", gateway.DefaultMaxUpload, "at most `bytes` one session may send (binaries and synced files); a session over it is ended")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *authorized == "" {
		fmt.Fprintf(stderr, "covdist serve: %v\n", errNoAuthorizedKeys)
		return exitUsage
	}
	if *hostKey == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			fmt.Fprintf(stderr, "covdist serve: %v (give --host-key)\n", err)
			return exitUsage
		}
		*hostKey = filepath.Join(dir, "covdist", "serve_host_ed25519")
	}
	if *workDir != "" {
		if err := gateway.CheckWorkDir(*workDir); err != nil {
			fmt.Fprintf(stderr, "covdist serve: %v\n", err)
			return exitUsage
		}
	}
	srv := &gateway.Server{HostKey: *hostKey, AuthorizedKeys: *authorized, WorkDir: *workDir, MaxConns: *maxConns, MaxStartups: *maxStartups, MaxUpload: *maxUpload, Log: stderr}
	pub, err := srv.LoadHostKey()
	if err != nil {
		fmt.Fprintf(stderr, "covdist serve: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "covdist serve: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "covdist serve: listening on %s\nclients trust this server with this line in their known_hosts:\n%s\n",
		ln.Addr(), gateway.KnownHostsLine(ln.Addr().String(), pub))
	if names := gateway.KnownHostsNames(ln.Addr().String()); len(names) > 1 {
		fmt.Fprintf(stdout, "(it names this host as %d clients may reach it; a client that uses another name or address must add it, comma-separated, as [NAME]:PORT)\n", len(names))
	}
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "covdist serve: %v\n", err)
		return exitUsage
	}
	return exitOK
}
