package main

// Remote workers on the command line: --tx specs turned into gateways, and
// --px proxies that run no tests themselves but host workers via=ID.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/distribute/gateway"
	"github.com/covdist/covdist/distribute/xspec"
)

// parseSpecs parses --tx and --px and checks them together (ids unique,
// via names a proxy).
func parseSpecs(tx, px []string) ([]xspec.Spec, []xspec.Spec, error) {
	var txs, pxs []xspec.Spec
	for _, raw := range tx {
		s, err := xspec.Parse(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("--tx: %w", err)
		}
		txs = append(txs, s)
	}
	for _, raw := range px {
		s, err := xspec.Parse(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("--px: %w", err)
		}
		pxs = append(pxs, s)
	}
	if err := xspec.Validate(txs, pxs); err != nil {
		return nil, nil, err
	}
	return txs, pxs, nil
}

// resolveVia puts each popen//via=ID worker on its proxy's host: it becomes
// a worker of the proxy's kind (ssh, socket, pipe) with the tx's own keys.
func resolveVia(specs, proxies []xspec.Spec) ([]xspec.Spec, error) {
	byID := make(map[string]xspec.Spec)
	for _, p := range proxies {
		byID[p.ID] = p
	}
	out := make([]xspec.Spec, 0, len(specs))
	for _, s := range specs {
		if s.Via == "" {
			out = append(out, s)
			continue
		}
		p, ok := byID[s.Via]
		if !ok {
			return nil, fmt.Errorf("--tx %q: via=%s names no --px", s.Raw, s.Via)
		}
		if s.Type == "ssh" || s.Type == "socket" {
			// Another host, reached through the proxy's ssh connection.
			if p.Type != "ssh" {
				return nil, fmt.Errorf("--tx %q: via=%s names a %s proxy, but a host is reached only through an ssh= proxy (a jump host)", s.Raw, s.Via, p.Type)
			}
			s.Proxy = &p
			out = append(out, s)
			continue
		}
		if s.Type != "popen" {
			return nil, fmt.Errorf("--tx %q: a %s worker cannot go via a proxy: its command decides where it runs", s.Raw, s.Type)
		}
		if p.Type == "socket" && s.Chdir != "" {
			return nil, fmt.Errorf("--tx %q: via=%s names a socket proxy: %s", s.Raw, s.Via, xspec.ChdirSocketMsg)
		}
		s.Type, s.User, s.Host, s.Port, s.Command = p.Type, p.User, p.Host, p.Port, p.Command
		if s.SSHConfig == "" {
			s.SSHConfig = p.SSHConfig
		}
		if s.Chdir == "" {
			s.Chdir = p.Chdir
		}
		out = append(out, s)
	}
	return out, nil
}

// rsyncDirs returns the --rsyncdir directories made absolute, each once,
// or an error when two would land at one place on a remote worker. It
// follows distribute's mapping (dirTrees): a directory inside the module
// goes to the same place under src/, one outside it to ext/ by its base
// name, so two outside directories of one name cannot both be synced.
func rsyncDirs(moduleDir string, dirs []string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	ext := make(map[string]string) // base name -> the directory going there
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("--rsyncdir %s: %w", d, err)
		}
		if seen[abs] {
			continue // the config's and the command line's, say
		}
		seen[abs] = true
		if rel, err := filepath.Rel(moduleDir, abs); err != nil || !filepath.IsLocal(rel) && rel != "." {
			base := filepath.Base(abs)
			if other, ok := ext[base]; ok {
				return nil, fmt.Errorf("--rsyncdir %s and %s would both go to ext/%s on remote workers (a directory outside the module goes under ext/ by its base name): "+
					"sync their common parent instead, or reach one through a symbolic link of another name", other, abs, base)
			}
			ext[base] = abs
		}
		out = append(out, abs)
	}
	return out, nil
}

// location is where a spec's workers run, for telling platforms apart in
// each mode: empty for this machine.
func location(s xspec.Spec) string {
	switch s.Type {
	case "ssh":
		h := s.Host
		if s.User != "" {
			h = s.User + "@" + h
		}
		if s.Port != 0 {
			h = net.JoinHostPort(h, strconv.Itoa(s.Port))
		}
		return "ssh=" + h + viaSuffix(s)
	case "socket":
		return "socket=" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + viaSuffix(s)
	case "pipe":
		return "pipe=" + s.Command
	}
	return ""
}

// viaSuffix names the proxy a host is reached through: two hosts of one
// name behind two proxies are two hosts.
func viaSuffix(s xspec.Spec) string {
	if s.Proxy == nil {
		return ""
	}
	return " via " + location(*s.Proxy)
}

// workspaces says where the ssh= and pipe= workers of one run keep their
// files on their hosts.
type workspaces struct {
	key string // this coordinator host and checkout (workspaceKey)
	run string // this run: no other run at the same time shares its workspace
}

// newWorkspaces is the workspaces of a run in the checkout at moduleDir.
func newWorkspaces(moduleDir string) workspaces {
	var b [8]byte
	rand.Read(b[:])
	return workspaces{key: workspaceKey(moduleDir), run: hex.EncodeToString(b[:])}
}

// workspaceKey names a checkout on this coordinator host: its directory's
// base name, for a human looking at the remote, and a hash of the host name
// and the directory. Two checkouts (or two users' runs of a copy at the
// same path on two machines) get two workspaces on a host, so neither
// overwrites the other's files, and reruns of one checkout find theirs.
func workspaceKey(moduleDir string) string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + moduleDir))
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, filepath.Base(moduleDir))
	base = strings.TrimLeft(base, ".")
	if len(base) > 40 {
		base = base[:40]
	}
	if base == "" {
		base = "module"
	}
	return base + "-" + hex.EncodeToString(sum[:6])
}

// Where ssh= and pipe= workers keep their files when the spec names no
// chdir=: a workspace per checkout, and one content store for them all.
const (
	remoteWorkRoot = "~/.cache/covdist/work/"
	remoteStore    = "~/.cache/covdist/objects"
)

// gatewayFor makes the gateway of one worker, and says whether it is
// remote (needs files synchronised).
// agents gives the agent for a remote of another GOOS/GOARCH; nil refuses
// such remotes.
// probeTimeout bounds probing the remote hosts, all at once, before the
// build: an SSH login and uname take a second or two even far away.
const probeTimeout = 15 * time.Second

// probeKey names what a probe asked: a host as a spec reaches it.
func probeKey(s xspec.Spec) string { return location(s) + "\x00" + s.SSHConfig }

// failedFirst is a gateway whose host did not answer its probe: its first
// Open says so at once, rather than dialling a host that just did not
// answer for as long again; later ones (reconnects) dial as usual.
type failedFirst struct {
	distribute.Gateway
	err  error
	once sync.Once
}

func (f *failedFirst) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	var err error
	f.once.Do(func() { err = fmt.Errorf("the host did not answer covdist's probe: %w", f.err) })
	if err != nil {
		return nil, err
	}
	return f.Gateway.Open(ctx)
}

func gatewayFor(s xspec.Spec, self string, agents gateway.AgentSource, ws workspaces) (distribute.Gateway, bool) {
	var via *gateway.SSH
	if p := s.Proxy; p != nil {
		via = &gateway.SSH{Host: p.Host, User: p.User, Port: p.Port, ConfigFile: p.SSHConfig}
	}
	// A chdir= is the user's: used as it is, with no shared store.
	chdir, store := s.Chdir, ""
	if chdir == "" && ws.key != "" {
		chdir, store = remoteWorkRoot+ws.key, remoteStore
	}
	switch s.Type {
	case "ssh":
		return &gateway.SSH{Host: s.Host, User: s.User, Port: s.Port, ConfigFile: s.SSHConfig, Via: via,
			Chdir: chdir, Run: ws.run, Store: store, AgentArgs: []string{"agent"}, AgentFor: agents, Nice: s.Nice}, true
	case "socket":
		// No chdir: the serve decides where sessions work (xspec refuses one).
		return &gateway.SSH{Host: s.Host, Port: s.Port, Subsystem: gateway.AgentSubsystem, ConfigFile: s.SSHConfig, Via: via, Nice: s.Nice}, true
	case "pipe":
		return &gateway.Pipe{Command: s.Command, Chdir: chdir, Run: ws.run, Store: store, AgentFor: agents, Nice: s.Nice}, true
	}
	if s.Nice != 0 {
		return &gateway.Popen{Path: "nice", Args: []string{"-n", strconv.Itoa(s.Nice), self, "agent"}, Dir: s.Chdir, Name: "popen"}, false
	}
	return &gateway.Popen{Path: self, Args: []string{"agent"}, Dir: s.Chdir, Name: "popen"}, false
}

// probeRemotes fills in goos= and goarch= of the ssh and pipe specs that
// name neither, from their hosts (`uname -sm`), so that their test binaries
// are cross-compiled for what the host is. Each host is probed once, all
// side by side. A host that cannot be probed keeps the spec as it is: its
// worker then reports why it could not start.
func probeRemotes(ctx context.Context, specs []xspec.Spec, self string, failed map[string]error) []xspec.Spec {
	type result struct{ goos, goarch string }
	results := make(map[string]*result)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	for _, s := range specs {
		if s.GOOS != "" || s.GOARCH != "" || (s.Type != "ssh" && s.Type != "pipe") {
			continue
		}
		key := probeKey(s)
		if _, ok := results[key]; ok {
			continue
		}
		results[key] = nil
		gw, _ := gatewayFor(s, self, nil, workspaces{})
		p, ok := gw.(gateway.Prober)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			goos, goarch, err := p.Platform(ctx)
			if err != nil {
				mu.Lock()
				failed[key] = err
				mu.Unlock()
				return
			}
			mu.Lock()
			results[key] = &result{goos, goarch}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out := make([]xspec.Spec, len(specs))
	for i, s := range specs {
		if s.GOOS == "" && s.GOARCH == "" {
			if r := results[probeKey(s)]; r != nil && (r.goos != hostGOOS() || r.goarch != hostGOARCH()) {
				s.GOOS, s.GOARCH = r.goos, r.goarch
			}
		}
		out[i] = s
	}
	return out
}
