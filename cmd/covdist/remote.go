package main

// Remote workers on the command line: --tx specs turned into gateways, and
// --px proxies that run no tests themselves but host workers via=ID.

import (
	"fmt"
	"net"
	"strconv"

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
		if s.Type != "popen" {
			return nil, fmt.Errorf("--tx %q: only popen//via=ID is supported (a worker on the proxy's host); reaching a third host through a proxy is not available yet: use ProxyJump in your ssh config", s.Raw)
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
		return "ssh=" + h
	case "socket":
		return "socket=" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	case "pipe":
		return "pipe=" + s.Command
	}
	return ""
}

// gatewayFor makes the gateway of one worker, and says whether it is
// remote (needs files synchronised).
func gatewayFor(s xspec.Spec, self string) (distribute.Gateway, bool) {
	switch s.Type {
	case "ssh":
		return &gateway.SSH{Host: s.Host, User: s.User, Port: s.Port, ConfigFile: s.SSHConfig,
			Chdir: s.Chdir, AgentArgs: []string{"agent"}, Nice: s.Nice}, true
	case "socket":
		return &gateway.SSH{Host: s.Host, Port: s.Port, Subsystem: gateway.AgentSubsystem, ConfigFile: s.SSHConfig}, true
	case "pipe":
		return &gateway.Pipe{Command: s.Command, Chdir: s.Chdir, Nice: s.Nice}, true
	}
	if s.Nice != 0 {
		return &gateway.Popen{Path: "nice", Args: []string{"-n", strconv.Itoa(s.Nice), self, "agent"}, Dir: s.Chdir, Name: "popen"}, false
	}
	return &gateway.Popen{Path: self, Args: []string{"agent"}, Dir: s.Chdir, Name: "popen"}, false
}
