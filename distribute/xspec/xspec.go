// Package xspec owns the execution-spec grammar: the text given to --tx and
// --px (and to tx and px in covdist.toml) that says where tests run and how.
// It parses, prints, expands and cross-checks specs; it starts nothing.
//
// A spec is execnet's syntax with Go's keys:
//
//	[N*]TYPE[//key=value]...
//
// TYPE is one of:
//
//	popen                    a worker process on this machine
//	ssh=[user@]host[:port]   an OpenSSH host; IPv6 in brackets: ssh=[::1]:2222
//	socket=host:port         a `covdist serve` listening there
//	pipe=COMMAND             the agent over the stdin/stdout of COMMAND,
//	                         such as pipe=docker exec -i ci covdist agent
//
// N* (a positive decimal number, at most MaxCount) asks for N identical
// workers. A '*' counts only before the first '=', so pipe=sh -c 'ls *' keeps
// its star.
//
// The keys, each at most once:
//
//	id=ID             name the worker (letters, digits, '.', '_', '-')
//	via=ID            run on the host of the --px spec with that id
//	chdir=DIR         working directory on the worker (not socket: the
//	                  serve gives each session its own)
//	go=TOOLCHAIN      a release (go1.24, go1.24.0, go1.25rc1, go1.25beta1),
//	                  fetched through GOTOOLCHAIN, or a path to a go binary
//	                  (anything containing '/' or '\')
//	goos=, goarch=    a target known to `go tool dist list`
//	tags=a,b          build tags, comma-separated
//	exec=PROG         a wrapper, as go test -exec; it may contain spaces
//	env:NAME=VALUE    an environment variable; repeatable with distinct NAMEs
//	nice=N            scheduling priority, -20 to 19
//	ssh_config=FILE   another OpenSSH client config (ssh and socket specs)
//
// A "//" starts a new key only where a key name and '=' follow it: a run of
// letters, digits and '_', or "env:" and a name. Any other "//" belongs to the
// value before it, so pipe=docker -H tcp://build:2375 exec -i ci covdist agent
// and chdir=/srv//ci need no quoting. There is no escape: a value cannot
// contain "//" followed by a word and '=' (as in "//x=1"); put such a command
// in a script and give the script to pipe=.
//
// Package xspec imports no other covdist package.
package xspec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxCount is the largest N in N*TYPE. It guards against a typo such as
// 1000000*popen starting a million processes.
const MaxCount = 1024

// Spec is one parsed execution spec. The zero value of each optional field
// means "not given"; Nice has HasNice because 0 is a valid priority.
type Spec struct {
	Raw     string // the text as given; error messages quote it
	Count   int    // N in N*TYPE, 1 when absent
	Type    string // popen, ssh, socket or pipe
	User    string // ssh only; empty for the OpenSSH default
	Host    string // ssh and socket; IPv6 without brackets
	Port    int    // ssh (0 for the OpenSSH default) and socket
	Command string // pipe only

	ID, Via, Chdir, Go, GOOS, GOARCH, Exec, SSHConfig string

	Tags    []string // in the order given
	Env     []string // NAME=VALUE, in the order given
	Nice    int
	HasNice bool

	// Proxy is the --px spec that Via names, once the caller has resolved
	// it (an ssh or socket worker reached through an ssh proxy); the
	// parser leaves it nil.
	Proxy *Spec
}

// ChdirSocketMsg says why a socket= worker takes no chdir=.
const ChdirSocketMsg = `key "chdir" does not apply to socket specs: a covdist serve gives each session a workspace of its own (under its --workdir); leave chdir= out`

// Error is a spec that does not parse or does not fit with the others.
type Error struct {
	Spec string // the whole spec as given
	Key  string // the part at fault: a key ("goos", "env:HOME"), a type ("ssh"), "count" or "type"
	Msg  string // what is wrong, naming Key
}

func (e *Error) Error() string { return fmt.Sprintf("xspec %q: %s", e.Spec, e.Msg) }

func newError(spec, key, format string, args ...any) *Error {
	return &Error{Spec: spec, Key: key, Msg: fmt.Sprintf(format, args...)}
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tagRE     = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	releaseRE = regexp.MustCompile(`^go1\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)|(rc|beta)[1-9][0-9]*)?$`)
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9._%-]+$`)
	ipv6RE    = regexp.MustCompile(`^[A-Za-z0-9._%:-]+$`)
)

var knownKeys = []string{"id", "via", "chdir", "go", "goos", "goarch", "tags", "exec", "nice", "ssh_config"}

// Parse reads one spec. Errors are *Error values.
func Parse(s string) (Spec, error) {
	sp := Spec{Raw: s, Count: 1}
	segs := split(s)

	head := segs[0]
	if star := strings.IndexByte(head, '*'); star >= 0 {
		if eq := strings.IndexByte(head, '='); eq < 0 || star < eq {
			n, err := parseCount(head[:star])
			if err != "" {
				return Spec{}, newError(s, "count", "%s", err)
			}
			sp.Count = n
			head = head[star+1:]
		}
	}
	if err := sp.parseType(head); err != "" {
		key := sp.Type
		if key == "" {
			key = "type"
		}
		return Spec{}, newError(s, key, "%s", err)
	}

	seen := make(map[string]bool)
	for _, seg := range segs[1:] {
		key, val, _ := strings.Cut(seg, "=") // split only cuts before "key="
		if seen[key] {
			return Spec{}, newError(s, key, "duplicate key %q", key)
		}
		seen[key] = true
		if err := sp.setKey(key, val); err != "" {
			return Spec{}, newError(s, key, "%s", err)
		}
	}

	if sp.GOOS != "" && sp.GOARCH != "" && !slices.Contains(platforms, sp.GOOS+"/"+sp.GOARCH) {
		return Spec{}, newError(s, "goarch", "goos=%s does not support goarch=%s (see go tool dist list)", sp.GOOS, sp.GOARCH)
	}
	if sp.SSHConfig != "" && sp.Type != "ssh" && sp.Type != "socket" {
		// socket= is an SSH client too: its identity and known_hosts come
		// from the same config.
		return Spec{}, newError(s, "ssh_config", "key \"ssh_config\" applies only to ssh and socket specs, not %s", sp.Type)
	}
	if sp.Chdir != "" && sp.Type == "socket" {
		return Spec{}, newError(s, "chdir", "%s", ChdirSocketMsg)
	}
	return sp, nil
}

// split cuts s before each "//" that starts a key (see the package comment).
// Every part after the first begins with "key=".
func split(s string) []string {
	var segs []string
	start := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '/' && s[i+1] == '/' && startsKey(s[i+2:]) {
			segs = append(segs, s[start:i])
			start = i + 2
			i++
		}
	}
	return append(segs, s[start:])
}

// startsKey reports whether r begins with a key name and '='. A name after
// "env:" may hold any character but '=', '/' and space so that a bad name is
// reported as such instead of being glued to the previous value.
func startsKey(r string) bool {
	if rest, ok := strings.CutPrefix(r, "env:"); ok {
		for i := 0; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '=':
				return true
			case c == '/' || c <= ' ' || c == 0x7f:
				return false
			}
		}
		return false
	}
	i := 0
	for i < len(r) && isKeyByte(r[i]) {
		i++
	}
	return i > 0 && i < len(r) && r[i] == '='
}

func isKeyByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func parseCount(s string) (int, string) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Sprintf("bad count %q: want a positive number, as in 4*popen", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxCount {
		return 0, fmt.Sprintf("count %s is more than %d, the most workers covdist starts: ask for fewer", s, MaxCount)
	}
	if n < 1 {
		return 0, fmt.Sprintf("bad count %q: want a positive number, as in 4*popen", s)
	}
	return n, ""
}

// parseType fills the type fields from TYPE[=VALUE]. It sets sp.Type as soon
// as the type is known so that the caller can name it in the error.
func (sp *Spec) parseType(head string) string {
	name, val, hasVal := strings.Cut(head, "=")
	switch name {
	case "popen":
		sp.Type = name
		if hasVal {
			return fmt.Sprintf("popen takes no value, got %q", val)
		}
	case "ssh":
		sp.Type = name
		if val == "" {
			return "ssh needs a host: ssh=[user@]host[:port]"
		}
		if at := strings.LastIndexByte(val, '@'); at >= 0 {
			sp.User, val = val[:at], val[at+1:]
			if sp.User == "" || strings.ContainsFunc(sp.User, badUserRune) {
				return fmt.Sprintf("ssh has a bad user %q", sp.User)
			}
		}
		host, port, err := parseHostPort(name, val, false)
		if err != "" {
			return err
		}
		sp.Host, sp.Port = host, port
	case "socket":
		sp.Type = name
		if val == "" {
			return "socket needs a host and port: socket=host:port"
		}
		host, port, err := parseHostPort(name, val, true)
		if err != "" {
			return err
		}
		sp.Host, sp.Port = host, port
	case "pipe":
		sp.Type = name
		if strings.TrimSpace(val) == "" {
			return "pipe needs a command: pipe=COMMAND"
		}
		sp.Command = val
	case "":
		if head == "" {
			return "empty type: want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND"
		}
		return fmt.Sprintf("missing type before %q", head)
	default:
		msg := fmt.Sprintf("unknown type %q: want popen, ssh=HOST, socket=HOST:PORT or pipe=COMMAND", name)
		if strings.Contains(name, "//") {
			msg += " (a key is written //key=value)"
		}
		return msg
	}
	return ""
}

func badUserRune(r rune) bool {
	return r <= ' ' || r == 0x7f || r == '@' || r == '/' || r == ':'
}

// parseHostPort reads host[:port] or [ipv6][:port] for the type typ.
func parseHostPort(typ, s string, needPort bool) (host string, port int, err string) {
	var portStr string
	hasPort := false
	if rest, ok := strings.CutPrefix(s, "["); ok {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", 0, fmt.Sprintf("%s host %q lacks a closing ']'", typ, s)
		}
		host, rest = rest[:end], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, fmt.Sprintf("%s has %q after the bracketed host; want [host]:port", typ, rest)
			}
			portStr, hasPort = rest[1:], true
		}
		if host == "" || !ipv6RE.MatchString(host) {
			return "", 0, fmt.Sprintf("%s has a bad host %q", typ, host)
		}
	} else {
		switch strings.Count(s, ":") {
		case 0:
			host = s
		case 1:
			host, portStr, _ = strings.Cut(s, ":")
			hasPort = true
		default:
			return "", 0, fmt.Sprintf("%s host %q needs brackets around an IPv6 address, as in [::1]:22", typ, s)
		}
		if host == "" {
			return "", 0, fmt.Sprintf("%s is missing the host in %q", typ, s)
		}
		if !hostRE.MatchString(host) {
			return "", 0, fmt.Sprintf("%s has a bad host %q", typ, host)
		}
	}
	if hasPort {
		n, convErr := strconv.Atoi(portStr)
		if convErr != nil || strings.Trim(portStr, "0123456789") != "" || n < 1 || n > 65535 {
			return "", 0, fmt.Sprintf("%s has a bad port %q: want 1 to 65535", typ, portStr)
		}
		port = n
	} else if needPort {
		return "", 0, fmt.Sprintf("%s needs a port: %s=host:port", typ, typ)
	}
	return host, port, ""
}

// setKey stores one key=value; the error names key.
func (sp *Spec) setKey(key, val string) string {
	if name, ok := strings.CutPrefix(key, "env:"); ok {
		if !envNameRE.MatchString(name) {
			return fmt.Sprintf("key %q has a bad variable name %q", key, name)
		}
		sp.Env = append(sp.Env, name+"="+val)
		return ""
	}
	if !slices.Contains(knownKeys, key) {
		msg := fmt.Sprintf("unknown key %q", key)
		if lower := strings.ToLower(key); lower != key && slices.Contains(knownKeys, lower) {
			msg += fmt.Sprintf(" (keys are lowercase: %q)", lower)
		}
		return msg
	}
	if val == "" {
		return fmt.Sprintf("key %q needs a value", key)
	}
	switch key {
	case "id", "via":
		if !idRE.MatchString(val) {
			return fmt.Sprintf("bad %s %q: use letters, digits, '.', '_' and '-'", key, val)
		}
		if key == "id" {
			sp.ID = val
		} else {
			sp.Via = val
		}
	case "chdir":
		sp.Chdir = val
	case "go":
		if !releaseRE.MatchString(val) && !strings.ContainsAny(val, `/\`) {
			return fmt.Sprintf("bad go %q: want a release such as go1.24.0 or a path to a go binary", val)
		}
		sp.Go = val
	case "goos":
		if !knownPart(0, val) {
			return fmt.Sprintf("unknown goos %q (see go tool dist list)", val)
		}
		sp.GOOS = val
	case "goarch":
		if !knownPart(1, val) {
			return fmt.Sprintf("unknown goarch %q (see go tool dist list)", val)
		}
		sp.GOARCH = val
	case "tags":
		tags := strings.Split(val, ",")
		for _, t := range tags {
			if !tagRE.MatchString(t) {
				return fmt.Sprintf("bad tags %q: want comma-separated build tags such as integration,netgo", val)
			}
		}
		sp.Tags = tags
	case "exec":
		sp.Exec = val
	case "nice":
		n, err := strconv.Atoi(val)
		if err != nil || n < -20 || n > 19 {
			return fmt.Sprintf("bad nice %q: want an integer from -20 to 19", val)
		}
		sp.Nice, sp.HasNice = n, true
	case "ssh_config":
		sp.SSHConfig = val
	}
	return ""
}

// knownPart reports whether v is the GOOS (part 0) or GOARCH (part 1) of a
// known platform.
func knownPart(part int, v string) bool {
	for _, p := range platforms {
		if strings.Split(p, "/")[part] == v {
			return true
		}
	}
	return false
}

// String returns the canonical form of s: N* only when N > 1, then the type,
// then the keys in a fixed order (id, via, chdir, go, goos, goarch, tags,
// exec, env:..., nice, ssh_config). Parse reads it back to a Spec equal to s
// in every field but Raw.
func (s Spec) String() string {
	var b strings.Builder
	if s.Count > 1 {
		fmt.Fprintf(&b, "%d*", s.Count)
	}
	b.WriteString(s.Type)
	switch s.Type {
	case "ssh", "socket":
		b.WriteByte('=')
		if s.User != "" {
			b.WriteString(s.User + "@")
		}
		if strings.Contains(s.Host, ":") {
			b.WriteString("[" + s.Host + "]")
		} else {
			b.WriteString(s.Host)
		}
		if s.Port != 0 {
			fmt.Fprintf(&b, ":%d", s.Port)
		}
	case "pipe":
		b.WriteString("=" + s.Command)
	}
	key := func(k, v string) {
		if v != "" {
			b.WriteString("//" + k + "=" + v)
		}
	}
	key("id", s.ID)
	key("via", s.Via)
	key("chdir", s.Chdir)
	key("go", s.Go)
	key("goos", s.GOOS)
	key("goarch", s.GOARCH)
	key("tags", strings.Join(s.Tags, ","))
	key("exec", s.Exec)
	for _, e := range s.Env {
		b.WriteString("//env:" + e)
	}
	if s.HasNice {
		key("nice", strconv.Itoa(s.Nice))
	}
	key("ssh_config", s.SSHConfig)
	return b.String()
}

// Expand returns Count copies of s, each with Count 1 and its own Tags and
// Env slices. When s has an ID and Count > 1 the copies are named ID-1 to
// ID-N, so 2*popen//id=w gives w-1 and w-2; with Count 1 the ID is kept as
// is. An empty ID stays empty: the caller names unnamed workers. Raw is kept
// so that errors still quote what the user wrote.
func (s Spec) Expand() []Spec {
	n := max(s.Count, 1)
	out := make([]Spec, n)
	for i := range out {
		c := s
		c.Count = 1
		c.Tags = slices.Clone(s.Tags)
		c.Env = slices.Clone(s.Env)
		if s.ID != "" && n > 1 {
			c.ID = fmt.Sprintf("%s-%d", s.ID, i+1)
		}
		out[i] = c
	}
	return out
}

// testKeys are the keys that shape a test run; a proxy runs no tests, so a
// px spec must not carry them.
var testKeys = []struct {
	name string
	set  func(Spec) bool
}{
	{"go", func(s Spec) bool { return s.Go != "" }},
	{"goos", func(s Spec) bool { return s.GOOS != "" }},
	{"goarch", func(s Spec) bool { return s.GOARCH != "" }},
	{"tags", func(s Spec) bool { return len(s.Tags) > 0 }},
	{"exec", func(s Spec) bool { return s.Exec != "" }},
	{"env", func(s Spec) bool { return len(s.Env) > 0 }},
	{"nice", func(s Spec) bool { return s.HasNice }},
}

// Validate checks the specs of one run against each other: every px spec has
// an id, a count of 1, no via (proxies do not chain) and none of the keys
// that shape a test run (go, goos, goarch, tags, exec, env:, nice), since a
// proxy runs no tests; every via names a px id; and ids are unique across tx
// and px after Expand. It reports every problem, one per line, as *Error
// values joined with errors.Join.
func Validate(tx, px []Spec) error {
	var errs []error
	owner := make(map[string]string) // id → the spec that claimed it
	claim := func(id, spec string) {
		if id == "" {
			return
		}
		if prev, ok := owner[id]; ok {
			errs = append(errs, newError(spec, "id", "id %q is already used by %q", id, prev))
			return
		}
		owner[id] = spec
	}

	proxies := make(map[string]bool)
	for _, p := range px {
		name := p.name()
		if p.ID == "" {
			errs = append(errs, newError(name, "id", "a --px spec needs an id: add //id=NAME and use //via=NAME in --tx"))
		}
		if p.Count > 1 {
			errs = append(errs, newError(name, "count", "a --px spec cannot have a count (%d*): a proxy runs no tests", p.Count))
		}
		if p.Via != "" {
			errs = append(errs, newError(name, "via", "a --px spec cannot have a via: proxies do not chain"))
		}
		for _, k := range testKeys {
			if k.set(p) {
				errs = append(errs, newError(name, k.name, "a --px spec cannot have key %q: a proxy runs no tests; put it on the --tx spec", k.name))
			}
		}
		claim(p.ID, name)
		if p.ID != "" {
			proxies[p.ID] = true
		}
	}

	for _, t := range tx {
		name := t.name()
		for _, c := range t.Expand() {
			claim(c.ID, name)
		}
		if t.Via != "" && !proxies[t.Via] {
			errs = append(errs, newError(name, "via", "via %q names no --px spec%s", t.Via, pxList(proxies)))
		}
	}
	return errors.Join(errs...)
}

func (s Spec) name() string {
	if s.Raw != "" {
		return s.Raw
	}
	return s.String()
}

func pxList(proxies map[string]bool) string {
	if len(proxies) == 0 {
		return " (there are none)"
	}
	ids := make([]string, 0, len(proxies))
	for id := range proxies {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return " (px ids: " + strings.Join(ids, ", ") + ")"
}
