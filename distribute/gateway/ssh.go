package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/covdist/covdist/distribute"
)

// SSH reaches an agent on an OpenSSH host. It reads the user's OpenSSH
// client config the way `ssh HOST` does (Host aliases, HostName, Port, User,
// IdentityFile, IdentitiesOnly, IdentityAgent, UserKnownHostsFile,
// GlobalKnownHostsFile, HostKeyAlias, ConnectTimeout, ProxyJump),
// authenticates with ssh-agent and unencrypted identity files, and refuses
// a host that known_hosts does not vouch for.
//
// Gateways to the same user, host, port and config share one SSH
// connection; each Open is a session on it. The first Open on a connection
// uploads the agent binary (zero-install) unless the remote already has it.
type SSH struct {
	// Host, User and Port come from the spec. An empty User and a zero
	// Port mean: from the ssh config, else the local user and 22.
	Host string
	User string
	Port int
	// ConfigFile is the OpenSSH client config (the ssh_config= key). When
	// empty, $HOME/.ssh/config and then /etc/ssh/ssh_config are read, as
	// ssh does; when set, only it is (as ssh -F).
	ConfigFile string
	// Chdir is the agent's working directory on the remote, created when
	// missing; "~/" means the remote home. Default ~/.cache/covdist/work.
	Chdir string
	// Run, when set, names the coordinator's run: the agent claims Chdir
	// as its workspace for that run, or Chdir.1, Chdir.2, ... while another
	// run holds Chdir (filesync.Claim), so two runs never share files.
	// Store, when set with Run, is a content store ("~/" the remote home)
	// that the workspace shares with others.
	Run   string
	Store string
	// AgentBinary is the local covdist executable uploaded to the remote;
	// default os.Executable(). AgentArgs follow it (normally "agent").
	AgentBinary string
	AgentArgs   []string
	// AgentFor, when set, gives a covdist executable built for a remote of
	// another GOOS/GOARCH than this one, to upload instead of AgentBinary.
	// When nil such a remote is refused with what to do.
	AgentFor AgentSource
	// Env (NAME=VALUE) is set for the agent and so for its tests; a
	// non-zero Nice runs the agent under nice -n Nice.
	Env  []string
	Nice int
	// KnownHosts lists known_hosts files. When empty: the config's
	// UserKnownHostsFile and GlobalKnownHostsFile, else ~/.ssh/known_hosts,
	// ~/.ssh/known_hosts2 and /etc/ssh/ssh_known_hosts.
	KnownHosts []string
	// Dial makes the TCP connection (to the first ProxyJump hop, if any);
	// default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Subsystem, when set, starts the agent by asking the server for this
	// SSH subsystem instead of uploading and running one: a covdist serve
	// (the socket= spec) decides itself what runs, and where.
	Subsystem string
	// Via, when set, is a proxy host (a --px ssh= spec) through which this
	// one is reached, as through a ProxyJump hop, resolved with the proxy's
	// own config: for hosts that only the proxy can reach.
	Via *SSH
	// Keepalive is the interval of keepalive@openssh.com requests; the
	// connection is closed after three go unanswered, so a dead host is
	// noticed within about 10 s by default. Default 3s; negative: none.
	Keepalive time.Duration
}

var _ distribute.Gateway = (*SSH)(nil)

// AgentCacheDir is where, under the remote home, uploaded agents are kept
// by the SHA-256 of their content.
const AgentCacheDir = ".cache/covdist/agents"

// DefaultChdir is the agent's working directory when SSH.Chdir is empty.
const DefaultChdir = "~/.cache/covdist/work"

func (g *SSH) String() string {
	var b strings.Builder
	if g.Subsystem != "" {
		return "socket=" + net.JoinHostPort(g.Host, strconv.Itoa(g.Port))
	}
	b.WriteString("ssh=")
	if g.User != "" {
		b.WriteString(g.User + "@")
	}
	host := g.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if g.Port != 0 {
		b.WriteString(":" + strconv.Itoa(g.Port))
	}
	return b.String()
}

// Open starts an agent on the host and returns a stream over its stdin and
// stdout. Closing the stream closes the agent's stdin (it then ends its
// tests and exits) and, with the last stream to the host, the connection.
// When the connection is lost, reads and writes fail with an error that
// says so.
func (g *SSH) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	t, err := g.resolve()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g, err)
	}
	var bin, sum string
	if g.Subsystem == "" {
		bin = g.AgentBinary
		if bin == "" {
			if bin, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("%s: finding the covdist executable to upload: %w", g, err)
			}
		}
		if sum, err = fileSHA256(bin); err != nil {
			return nil, fmt.Errorf("%s: hashing the agent binary: %w", g, err)
		}
	}
	for {
		c, fresh, err := acquire(ctx, g, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g, err)
		}
		var remoteBin string
		if g.Subsystem == "" {
			remoteBin, err = c.install(ctx, bin, sum, g.AgentFor)
		}
		if err != nil {
			release(c)
			return nil, fmt.Errorf("%s: %w", g, err)
		}
		s, err := g.start(ctx, c, remoteBin)
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) && !fresh {
			// sshd's MaxSessions (10 by default) is reached; it says
			// "open failed". The next workers get a connection of their
			// own; a session refused on a fresh one is an error.
			c.markFull()
			release(c)
			continue
		}
		if err != nil {
			release(c)
			return nil, fmt.Errorf("%s: %w", g, err)
		}
		return s, nil
	}
}

// start runs the agent in a new session on c.
func (g *SSH) start(ctx context.Context, c *client, remoteBin string) (*sshStream, error) {
	var s *sshStream
	var err error
	if g.Subsystem != "" {
		s, err = g.startServe(c)
	} else {
		s, err = g.startExec(c, remoteBin)
	}
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// startExec runs the agent's command in a new session.
func (g *SSH) startExec(c *client, remoteBin string) (*sshStream, error) {
	sess, err := c.conn.NewSession()
	if err != nil {
		if c.dead() != nil {
			return nil, c.lostErr()
		}
		return nil, fmt.Errorf("opening an ssh session to %s: %w", c.name, err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	s := &sshStream{c: c, what: "agent on " + c.name, stdin: stdin, stdout: stdout, done: make(chan struct{}),
		kill:      func() { _ = sess.Signal(ssh.SIGKILL) },
		closeSess: func() { sess.Close() },
	}
	sess.Stderr = &s.stderr
	if err := sess.Start(g.agentCommand(remoteBin)); err != nil {
		sess.Close()
		return nil, fmt.Errorf("starting the agent on %s: %w", c.name, err)
	}
	go func() {
		s.waitErr = sess.Wait()
		close(s.done)
	}()
	return s, nil
}

// NiceEnv is the variable a socket= client sets in its session (an SSH env
// request) to ask a covdist serve for nice=.
const NiceEnv = "COVDIST_NICE"

// startServe asks a covdist serve for an agent. It speaks to the session
// channel itself: x/crypto's Session neither copies a subsystem's stderr
// nor reports its exit ("ssh: session not started"), and those are what say
// why a serve's agent went.
func (g *SSH) startServe(c *client) (*sshStream, error) {
	ch, reqs, err := c.conn.OpenChannel("session", nil)
	if err != nil {
		// A serve that refuses a session (at its --max-conns) says why and
		// hangs up at once: its answer, not the EOF that follows, is the
		// cause, however soon the connection is seen to end.
		var oce *ssh.OpenChannelError
		if c.dead() != nil && !errors.As(err, &oce) {
			return nil, c.lostErr()
		}
		return nil, fmt.Errorf("opening an ssh session to %s: %w", c.name, err)
	}
	serve := "the covdist serve at " + c.addr
	s := &sshStream{c: c, what: "the agent of " + serve, stdin: channelStdin{ch}, stdout: ch, done: make(chan struct{}),
		kill: func() {
			_, _ = ch.SendRequest("signal", false, ssh.Marshal(struct{ Signal string }{string(ssh.SIGKILL)}))
		},
		closeSess: func() { ch.Close() },
	}
	exit := make(chan error, 1)
	go func() { exit <- channelExit(reqs) }()
	go io.Copy(&s.stderr, ch.Stderr())
	if g.Nice != 0 {
		ok, err := ch.SendRequest("env", true, ssh.Marshal(struct{ Name, Value string }{NiceEnv, strconv.Itoa(g.Nice)}))
		if err == nil && !ok {
			err = fmt.Errorf("%s refused nice=%d: a serve lowers its agents' priority only (nice=0 to 19), and one older than this covdist not at all", serve, g.Nice)
		}
		if err != nil {
			ch.Close()
			return nil, err
		}
	}
	ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{g.Subsystem}))
	if err == nil && !ok {
		err = errors.New("ssh: subsystem request failed")
	}
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("asking %s for the %s subsystem (is it a covdist serve?): %w", c.addr, g.Subsystem, err)
	}
	go func() {
		s.waitErr = <-exit
		close(s.done)
	}()
	return s, nil
}

// channelStdin is a session channel's writing half; closing it sends EOF.
type channelStdin struct{ ch ssh.Channel }

func (w channelStdin) Write(b []byte) (int, error) { return w.ch.Write(b) }
func (w channelStdin) Close() error                { return w.ch.CloseWrite() }

// channelExit reads a session channel's requests until the channel closes
// and returns how its command ended: nil for status 0, an error naming the
// status or the signal, *ssh.ExitMissingError when it said neither.
func channelExit(reqs <-chan *ssh.Request) error {
	status, signal, msg := -1, "", ""
	for req := range reqs {
		switch req.Type {
		case "exit-status":
			var m struct{ Status uint32 }
			if ssh.Unmarshal(req.Payload, &m) == nil {
				status = int(m.Status)
			}
		case "exit-signal":
			var m struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}
			if ssh.Unmarshal(req.Payload, &m) == nil {
				signal, msg = m.Signal, m.Error
			}
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
	switch {
	case signal != "" && msg != "":
		return fmt.Errorf("killed by signal %s (%s)", signal, msg)
	case signal != "":
		return fmt.Errorf("killed by signal %s", signal)
	case status == 0:
		return nil
	case status > 0:
		return fmt.Errorf("exit status %d", status)
	}
	return &ssh.ExitMissingError{}
}

// agentCommand is the remote command line. It runs under sh whatever the
// user's login shell is.
func (g *SSH) agentCommand(remoteBin string) string {
	dir := g.Chdir
	if dir == "" {
		dir = DefaultChdir
	}
	dir = remotePath(dir)
	var b strings.Builder
	if g.Run == "" {
		fmt.Fprintf(&b, "mkdir -p %s && cd %s && ", dir, dir)
	}
	// else the agent claims dir itself (or a sibling) and works there; a
	// relative dir is from the login directory either way.
	b.WriteString("exec ")
	if g.Nice != 0 {
		fmt.Fprintf(&b, "nice -n %d ", g.Nice)
	}
	b.WriteString("env")
	for _, kv := range g.Env {
		b.WriteString(" " + shQuote(kv))
	}
	b.WriteString(" " + remoteBin)
	for _, a := range g.AgentArgs {
		b.WriteString(" " + shQuote(a))
	}
	if g.Run != "" {
		b.WriteString(" --workspace " + dir + " --run " + shQuote(g.Run))
		if g.Store != "" {
			b.WriteString(" --store " + remotePath(g.Store))
		}
	}
	return "exec sh -c " + shQuote(b.String())
}

// remotePath quotes p for sh, expanding a leading ~ to the remote $HOME.
func remotePath(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + shQuote(p[2:])
	}
	return shQuote(p)
}

func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshStream is an agent's stdin and stdout over one SSH session.
type sshStream struct {
	c         *client
	what      string // the agent, for messages
	stdin     io.WriteCloser
	stdout    io.Reader
	kill      func() // asks the far side to SIGKILL the agent
	closeSess func()
	stderr    lockedBuffer
	done      chan struct{}
	waitErr   error
	once      sync.Once
}

func (s *sshStream) Read(b []byte) (int, error) {
	n, err := s.stdout.Read(b)
	if err == io.EOF {
		if lost := s.outcome(); lost != nil {
			return n, lost
		}
	}
	return n, err
}

func (s *sshStream) Write(b []byte) (int, error) {
	n, err := s.stdin.Write(b)
	if err != nil && s.c.dead() != nil {
		return n, s.c.lostErr()
	}
	return n, err
}

// outcome says why the agent's output ended: nil when it exited cleanly.
func (s *sshStream) outcome() error {
	select {
	case <-s.done:
	case <-s.c.closed:
		return s.c.lostErr()
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s closed its output but did not exit%s", s.what, s.stderr.tail())
	}
	if s.waitErr == nil {
		return nil
	}
	var missing *ssh.ExitMissingError
	if errors.As(s.waitErr, &missing) {
		// No exit status: the connection is going. Give the keepalive
		// or the connection's reader a moment to say why.
		select {
		case <-s.c.closed:
			return s.c.lostErr()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("%s exited: %v%s", s.what, s.waitErr, s.stderr.tail())
}

// Close closes the agent's stdin, so an idle agent exits by itself and a
// busy one ends its test process group; one that has not exited within two
// seconds is sent SIGKILL and its session closed.
func (s *sshStream) Close() error {
	s.once.Do(func() {
		s.stdin.Close()
		select {
		case <-s.done:
		case <-s.c.closed:
		case <-time.After(2 * time.Second):
			s.kill()
			s.closeSess()
			select {
			case <-s.done:
			case <-time.After(2 * time.Second):
			}
		}
		s.closeSess()
		release(s.c)
	})
	return nil
}

// target is a host as the ssh config resolves it.
type target struct {
	alias          string // as given
	host           string // HostName
	port           int
	user           string
	identities     []string
	explicitIDs    bool // identities came from the config, not the defaults
	identitiesOnly bool
	identityAgent  string // socket path; "" for none
	knownHosts     []string
	hostKeyAlias   string
	jumps          []string
	connectTimeout time.Duration
	config         string
	serve          bool // a covdist serve (socket=), not an sshd
}

func (t *target) addr() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// name is user@host:port for messages.
func (t *target) name() string { return t.user + "@" + t.addr() }

// knownHostsName is how known_hosts names the host.
func (t *target) knownHostsName() string {
	if t.hostKeyAlias != "" {
		return t.hostKeyAlias
	}
	return knownhosts.Normalize(t.addr())
}

// configSet is the OpenSSH client config files in the order ssh reads them;
// the first value found wins.
type configSet struct {
	files    []string
	cfgs     []*ssh_config.Config
	explicit bool // files is the one given (ssh -F), not the defaults
}

func loadConfig(file string) (*configSet, error) {
	cs := &configSet{}
	if file != "" {
		file = expandHome(file)
		c, err := decodeConfig(file)
		if err != nil {
			return nil, err
		}
		cs.files, cs.cfgs, cs.explicit = []string{file}, []*ssh_config.Config{c}, true
		return cs, nil
	}
	for _, f := range []string{filepath.Join(homeDir(), ".ssh", "config"), "/etc/ssh/ssh_config"} {
		c, err := decodeConfig(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		cs.files = append(cs.files, f)
		cs.cfgs = append(cs.cfgs, c)
	}
	return cs, nil
}

func decodeConfig(file string) (*ssh_config.Config, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading ssh config: %w", err)
	}
	defer f.Close()
	c, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("parsing ssh config %s: %w", file, err)
	}
	return c, nil
}

func (cs *configSet) get(alias, key string) string {
	for _, c := range cs.cfgs {
		if v, _ := c.Get(alias, key); v != "" {
			return v
		}
	}
	return ""
}

func (cs *configSet) getAll(alias, key string) []string {
	var all []string
	for _, c := range cs.cfgs {
		v, _ := c.GetAll(alias, key)
		all = append(all, v...)
	}
	return all
}

func (g *SSH) resolve() (*target, error) {
	if g.Host == "" {
		return nil, errors.New("no host given")
	}
	cs, err := loadConfig(g.ConfigFile)
	if err != nil {
		return nil, err
	}
	t, err := resolveHost(cs, g.Host, g.User, g.Port)
	if err != nil {
		return nil, err
	}
	t.serve = g.Subsystem != ""
	if len(g.KnownHosts) > 0 {
		t.knownHosts = nil
		for _, f := range g.KnownHosts {
			t.knownHosts = append(t.knownHosts, expandHome(f))
		}
	}
	return t, nil
}

// resolveHost applies the config to alias; a non-empty user and a
// non-zero port override it, as on ssh's command line.
func resolveHost(cs *configSet, alias, user string, port int) (*target, error) {
	t := &target{alias: alias, config: strings.Join(cs.files, ",")}
	t.host = alias
	if h := cs.get(alias, "HostName"); h != "" {
		t.host = strings.ReplaceAll(strings.ReplaceAll(h, "%h", alias), "%%", "%")
	}
	t.port = port
	if t.port == 0 {
		t.port = 22
		if p := cs.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh config: bad Port %q for host %q", p, alias)
			}
			t.port = n
		}
	}
	t.user = user
	if t.user == "" {
		t.user = cs.get(alias, "User")
	}
	if t.user == "" {
		t.user = localUser()
	}
	expand := func(s string) string { return t.expandTokens(s) }

	for _, f := range cs.getAll(alias, "IdentityFile") {
		t.identities = append(t.identities, expand(f))
		t.explicitIDs = true
	}
	if len(t.identities) == 0 {
		for _, n := range []string{"id_rsa", "id_ecdsa", "id_ed25519"} {
			t.identities = append(t.identities, filepath.Join(homeDir(), ".ssh", n))
		}
	}
	t.identitiesOnly = strings.EqualFold(cs.get(alias, "IdentitiesOnly"), "yes")
	t.identityAgent = os.Getenv("SSH_AUTH_SOCK")
	if a := cs.get(alias, "IdentityAgent"); a != "" {
		switch {
		case strings.EqualFold(a, "none"):
			t.identityAgent = ""
		case a == "SSH_AUTH_SOCK":
		case strings.HasPrefix(a, "$"):
			t.identityAgent = os.Getenv(strings.TrimPrefix(a, "$"))
		default:
			t.identityAgent = expand(a)
		}
	}

	for _, key := range []string{"UserKnownHostsFile", "GlobalKnownHostsFile"} {
		v := cs.get(alias, key)
		if v == "" {
			if key == "UserKnownHostsFile" {
				v = "~/.ssh/known_hosts ~/.ssh/known_hosts2"
			} else {
				v = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"
			}
		}
		if strings.EqualFold(v, "none") {
			continue
		}
		for _, f := range strings.Fields(v) {
			t.knownHosts = append(t.knownHosts, expand(f))
		}
	}
	t.hostKeyAlias = cs.get(alias, "HostKeyAlias")

	if p := cs.get(alias, "ProxyCommand"); p != "" && !strings.EqualFold(p, "none") {
		// OpenSSH's own client runs the ProxyCommand, and pipe= can run it:
		// covdist sends itself through it and starts the agent there.
		ssh := "ssh"
		if cs.explicit {
			ssh += " -F " + shQuote(cs.files[0])
		}
		return nil, fmt.Errorf("ssh config: host %q uses ProxyCommand, which covdist's ssh client does not run; use ProxyJump, or reach the host through OpenSSH's ssh with --tx %s",
			alias, shQuote("pipe="+ssh+" "+alias))
	}
	if j := cs.get(alias, "ProxyJump"); j != "" && !strings.EqualFold(j, "none") {
		t.jumps = strings.Split(j, ",")
	}
	if ct := cs.get(alias, "ConnectTimeout"); ct != "" {
		n, err := strconv.Atoi(ct)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ssh config: bad ConnectTimeout %q for host %q", ct, alias)
		}
		t.connectTimeout = time.Duration(n) * time.Second
	}
	return t, nil
}

// expandTokens expands ~ and the ssh_config tokens %d %h %n %p %r %u %%.
func (t *target) expandTokens(s string) string {
	s = expandHome(s)
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'd':
			b.WriteString(homeDir())
		case 'h':
			b.WriteString(t.host)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.user)
		case 'u':
			b.WriteString(localUser())
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func homeDir() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return "/"
	}
	return h
}

func expandHome(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

func localUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// HostKeyError is a host key that known_hosts does not vouch for. The
// connection is refused either way; Changed tells a key that differs from
// the recorded one (which may be an attack) from a host never seen.
type HostKeyError struct {
	Host        string   // as known_hosts names it: host, or [host]:port
	KeyType     string   // of the key offered, such as ssh-ed25519
	Fingerprint string   // of the key offered: SHA256:...
	Changed     bool     // a different key is recorded for Host
	Recorded    []string // when Changed: file:line and fingerprint of each recorded key
	Files       []string // the known_hosts files searched
	Revoked     string   // file:line marking the key @revoked, if it is
	Serve       bool     // the host is a covdist serve, whose key is its --host-key
	scan        string   // the ssh-keyscan command that fetches the key
	addTo       string   // the file to add it to
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked != "":
		return fmt.Sprintf("host key verification failed for %s: its %s key %s is marked @revoked at %s; refusing to connect",
			e.Host, e.KeyType, e.Fingerprint, e.Revoked)
	case e.Changed:
		why := "or the host was reinstalled"
		if e.Serve {
			why = "or the covdist serve was started with another --host-key"
		}
		return fmt.Sprintf("host key for %s has CHANGED, refusing to connect: the host offered %s key %s, but known_hosts records %s; "+
			"someone may be intercepting the connection (man-in-the-middle), %s; "+
			"only after verifying the new fingerprint with the host's administrator, remove the old key with `ssh-keygen -R %s -f %s` and add the new one with `%s >> %s`",
			e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Recorded, ", "), why,
			shQuote(e.Host), e.addTo, e.scan, e.addTo)
	}
	verify := fmt.Sprintf("verify that fingerprint with the host's administrator (on the host: `ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`)", scanType(e.KeyType))
	if e.Serve {
		// A serve's key is no sshd's: it is the --host-key file, and the
		// serve prints its known_hosts line when it starts.
		verify = "verify that fingerprint with whoever runs the covdist serve (it prints its known_hosts line when it starts; " +
			"on its host `ssh-keygen -lf FILE` shows it for its --host-key FILE, by default covdist/serve_host_ed25519 in the user config dir)"
	}
	return fmt.Sprintf("host key verification failed: %s is not a known host (searched %s); it offered %s key %s; %s, then add it with `%s >> %s`",
		e.Host, strings.Join(e.Files, ", "), e.KeyType, e.Fingerprint, verify, e.scan, e.addTo)
}

func scanType(keyType string) string {
	switch {
	case keyType == ssh.KeyAlgoRSA:
		return "rsa"
	case keyType == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(keyType, "ecdsa-"):
		return "ecdsa"
	}
	return keyType
}

// hostKeyCheck returns the host key callback for t and the host key
// algorithms to ask for: those of the keys known_hosts holds for the host,
// so a host with several keys is checked against the one that is recorded.
func hostKeyCheck(t *target) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range t.knownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	addTo := "~/.ssh/known_hosts"
	if len(t.knownHosts) > 0 {
		addTo = t.knownHosts[0]
	}
	scanCmd := func(keyType string) string {
		c := "ssh-keyscan"
		if t.port != 22 {
			c += " -p " + strconv.Itoa(t.port)
		}
		return c + " -t " + scanType(keyType) + " " + shQuote(t.host)
	}
	var db ssh.HostKeyCallback
	if len(files) > 0 {
		var err error
		if db, err = knownhosts.New(files...); err != nil {
			return nil, nil, fmt.Errorf("reading known_hosts: %w", err)
		}
	}
	name := t.knownHostsName()
	lookup := name
	if _, _, err := net.SplitHostPort(lookup); err != nil {
		lookup = net.JoinHostPort(lookup, "22")
	}
	cb := func(_ string, remote net.Addr, key ssh.PublicKey) error {
		e := &HostKeyError{
			Host: name, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), Serve: t.serve,
			Files: t.knownHosts, scan: scanCmd(key.Type()), addTo: addTo,
		}
		if db == nil {
			return e
		}
		err := db(lookup, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			e.Revoked = fmt.Sprintf("%s:%d", re.Revoked.Filename, re.Revoked.Line)
			return e
		case errors.As(err, &ke):
			for _, k := range ke.Want {
				e.Changed = true
				e.Recorded = append(e.Recorded, fmt.Sprintf("%s %s at %s:%d", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
			}
			return e
		}
		return fmt.Errorf("checking the host key of %s: %w", name, err)
	}

	var algos []string
	if db != nil {
		err := db(lookup, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: t.port}, probeKey)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			for _, k := range ke.Want {
				for _, a := range hostKeyAlgos(k.Key.Type()) {
					if !contains(algos, a) {
						algos = append(algos, a)
					}
				}
			}
		}
	}
	return cb, algos, nil
}

// probeKey is a key no host has: checking it against known_hosts lists the
// keys recorded for a host.
var probeKey = func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
}()

func hostKeyAlgos(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// authState is what authentication had to work with, for error messages.
type authState struct {
	methods   []ssh.AuthMethod
	files     []string // identity files loaded
	encrypted []string // passphrase-protected files ssh-agent does not hold
	problems  []string // files that could not be read or parsed
	agentKeys int
	agentNote string // why ssh-agent was not used, if it was not
	closer    io.Closer
}

// auth gathers the keys for t: ssh-agent's (all of them, or with
// IdentitiesOnly those of the identity files), then the identity files'.
func auth(t *target) *authState {
	st := &authState{}
	var agentSigners []ssh.Signer
	if t.identityAgent == "" {
		st.agentNote = "no ssh-agent (SSH_AUTH_SOCK is not set)"
	} else if conn, err := net.Dial("unix", t.identityAgent); err != nil {
		st.agentNote = fmt.Sprintf("ssh-agent at %s unreachable: %v", t.identityAgent, err)
	} else {
		st.closer = conn
		if agentSigners, err = agent.NewClient(conn).Signers(); err != nil {
			st.agentNote = fmt.Sprintf("ssh-agent at %s: %v", t.identityAgent, err)
		}
	}
	fromAgent := func(pub ssh.PublicKey) ssh.Signer {
		for _, s := range agentSigners {
			if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
				return s
			}
		}
		return nil
	}

	var fileSigners, agentOnly []ssh.Signer
	for _, f := range t.identities {
		pem, err := os.ReadFile(f)
		if err != nil {
			if t.explicitIDs && !errors.Is(err, os.ErrNotExist) {
				st.problems = append(st.problems, fmt.Sprintf("%s: %v", f, err))
			} else if t.explicitIDs {
				st.problems = append(st.problems, f+": no such file")
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var pme *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pme):
			pub := pme.PublicKey
			if pub == nil {
				pub = readPublicKey(f + ".pub")
			}
			if pub != nil {
				if s := fromAgent(pub); s != nil {
					agentOnly = append(agentOnly, s)
					st.files = append(st.files, f+" (via ssh-agent)")
					continue
				}
			}
			st.encrypted = append(st.encrypted, f)
		case err != nil:
			st.problems = append(st.problems, fmt.Sprintf("%s: %v", f, err))
		default:
			fileSigners = append(fileSigners, signer)
			st.files = append(st.files, f)
		}
	}

	var signers []ssh.Signer
	if t.identitiesOnly {
		signers = agentOnly
		for _, s := range fileSigners {
			if as := fromAgent(s.PublicKey()); as != nil {
				signers = append(signers, as)
			} else {
				signers = append(signers, s)
			}
		}
	} else {
		signers = append(agentSigners, fileSigners...)
		st.agentKeys = len(agentSigners)
	}
	signers = dedupe(signers)
	if len(signers) > 0 {
		st.methods = []ssh.AuthMethod{ssh.PublicKeys(signers...)}
	}
	return st
}

func readPublicKey(path string) ssh.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return k
}

func dedupe(signers []ssh.Signer) []ssh.Signer {
	seen := make(map[string]bool)
	var out []ssh.Signer
	for _, s := range signers {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

// authError explains a failed login and what to do.
func (st *authState) authError(t *target, err error) error {
	var b strings.Builder
	if t.serve {
		fmt.Fprintf(&b, "the covdist serve at %s refused authentication (host %q in %s): ", t.addr(), t.alias, configName(t.config))
	} else {
		fmt.Fprintf(&b, "%s refused authentication as %q (host %q in %s): ", t.addr(), t.user, t.alias, configName(t.config))
	}
	var tried []string
	if len(st.files) > 0 {
		tried = append(tried, "identity files "+strings.Join(st.files, ", "))
	}
	if st.agentKeys > 0 {
		tried = append(tried, fmt.Sprintf("%d ssh-agent keys", st.agentKeys))
	}
	if len(tried) == 0 {
		b.WriteString("no usable key to offer")
	} else {
		b.WriteString("tried " + strings.Join(tried, " and "))
	}
	if !t.explicitIDs {
		fmt.Fprintf(&b, " (no IdentityFile configured; looked for %s)", strings.Join(t.identities, ", "))
	}
	if st.agentNote != "" {
		b.WriteString("; " + st.agentNote)
	}
	for _, p := range st.problems {
		b.WriteString("; " + p)
	}
	for _, f := range st.encrypted {
		fmt.Fprintf(&b, "; %s is passphrase-protected and covdist cannot prompt: add it to ssh-agent with `ssh-add %s` (with SSH_AUTH_SOCK set)", f, f)
	}
	switch {
	case len(tried) == 0 && len(st.encrypted) > 0:
	case t.serve:
		b.WriteString("; add the public key to the serve's --authorized-keys file and restart the serve, or set IdentityFile for the key it has in the ssh config")
	default:
		fmt.Fprintf(&b, "; add the public key to ~%s/.ssh/authorized_keys on the host, or set IdentityFile for it in the ssh config", t.user)
	}
	fmt.Fprintf(&b, " (%v)", err)
	return errors.New(b.String())
}

func configName(s string) string {
	if s == "" {
		return "no ssh config"
	}
	return s
}

// client is one SSH connection, shared by every stream to its host.
type client struct {
	key  string
	name string // user@host:port
	addr string // host:port
	conn *ssh.Client
	hops []*ssh.Client // ProxyJump connections, first to last

	refs  int  // guarded by cacheMu
	full  bool // guarded by cacheMu: sshd refuses more sessions
	ready chan struct{}
	err   error // set before ready closes

	closed    chan struct{}
	closeOnce sync.Once
	reason    error // set before closed closes

	mu       sync.Mutex
	platform string // remote GOOS/GOARCH, once probed
	installs map[string]*install
}

type install struct {
	done chan struct{}
	path string
	err  error
}

var (
	cacheMu sync.Mutex
	cache   = make(map[string][]*client)
)

// acquire returns a shared connection for t, dialling one when there is
// none with room for another session; fresh tells which.
func acquire(ctx context.Context, g *SSH, t *target) (c *client, fresh bool, err error) {
	key := fmt.Sprintf("%s|%s|%s|%s", t.name(), t.config, strings.Join(t.jumps, ","), strings.Join(t.knownHosts, ","))
	if g.Via != nil {
		key += "|via " + g.Via.String() + " " + g.Via.ConfigFile
	}
	cacheMu.Lock()
	for _, cand := range cache[key] {
		if !cand.full && cand.dead() == nil {
			c = cand
			break
		}
	}
	if c != nil {
		c.refs++
		cacheMu.Unlock()
		select {
		case <-c.ready:
		case <-ctx.Done():
			release(c)
			return nil, false, ctx.Err()
		}
		if c.err != nil {
			release(c)
			return nil, false, c.err
		}
		return c, false, nil
	}
	c = &client{key: key, name: t.name(), addr: t.addr(), refs: 1, ready: make(chan struct{}), closed: make(chan struct{}), installs: make(map[string]*install)}
	cache[key] = append(cache[key], c)
	cacheMu.Unlock()

	c.err = c.dial(ctx, g, t)
	if c.err != nil {
		c.close(c.err)
	} else {
		go c.watch(g.Keepalive)
	}
	close(c.ready)
	if c.err != nil {
		release(c)
		return nil, false, c.err
	}
	return c, true, nil
}

// release drops a reference; the last one closes the connection.
func release(c *client) {
	cacheMu.Lock()
	c.refs--
	last := c.refs == 0
	if last {
		drop(c)
	}
	cacheMu.Unlock()
	if last {
		c.close(errors.New("closed"))
	}
}

// drop removes c from the cache; cacheMu must be held.
func drop(c *client) {
	list := cache[c.key]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(cache, c.key)
	} else {
		cache[c.key] = list
	}
}

func (c *client) markFull() {
	cacheMu.Lock()
	c.full = true
	cacheMu.Unlock()
}

// close ends the connection once, recording why.
func (c *client) close(reason error) {
	c.closeOnce.Do(func() {
		c.reason = reason
		close(c.closed)
		cacheMu.Lock()
		drop(c)
		cacheMu.Unlock()
		if c.conn != nil {
			c.conn.Close()
		}
		for i := len(c.hops) - 1; i >= 0; i-- {
			c.hops[i].Close()
		}
	})
}

// dead returns why the connection ended, or nil while it is up.
func (c *client) dead() error {
	select {
	case <-c.closed:
		return c.reason
	default:
		return nil
	}
}

func (c *client) lostErr() error {
	return fmt.Errorf("ssh connection to %s lost: %v", c.name, c.dead())
}

// watch sends keepalives and closes the connection when three in a row go
// unanswered, or when it ends by itself; every session's stream then
// fails.
func (c *client) watch(every time.Duration) {
	ended := make(chan error, 1)
	go func() { ended <- c.conn.Wait() }()
	if every == 0 {
		every = 3 * time.Second
	}
	var tick <-chan time.Time
	if every > 0 {
		tk := time.NewTicker(every)
		defer tk.Stop()
		tick = tk.C
	}
	replies := make(chan error, 1)
	inflight, missed := false, 0
	for {
		select {
		case err := <-ended:
			if err == nil {
				err = errors.New("the server closed the connection")
			}
			c.close(err)
			return
		case <-c.closed:
			return
		case err := <-replies:
			inflight = false
			if err != nil {
				c.close(fmt.Errorf("keepalive: %v", err))
				return
			}
			missed = 0
		case <-tick:
			if inflight {
				missed++
				if missed >= 3 {
					c.close(fmt.Errorf("no answer to %d keepalives %v apart: the host or the network is down", missed, every))
					return
				}
				continue
			}
			inflight = true
			go func() {
				_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

// dial connects to t, through its ProxyJump hops if any, and logs in.
func (c *client) dial(ctx context.Context, g *SSH, t *target) error {
	timeout := t.connectTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := g.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}

	var hops []*target
	if g.Via != nil {
		vt, err := g.Via.resolve()
		if err != nil {
			return fmt.Errorf("via %s: %w", g.Via, err)
		}
		vh, err := g.Via.jumpHops(vt)
		if err != nil {
			return fmt.Errorf("via %s: %w", g.Via, err)
		}
		hops = append(vh, vt)
	}
	jh, err := g.jumpHops(t)
	if err != nil {
		return err
	}
	hops = append(append(hops, jh...), t)

	for i, h := range hops {
		var conn net.Conn
		var err error
		if i == 0 {
			conn, err = dial(ctx, "tcp", h.addr())
		} else {
			conn, err = c.hops[i-1].DialContext(ctx, "tcp", h.addr())
		}
		if err != nil {
			via := ""
			if i > 0 {
				via = " via " + hops[i-1].name()
			}
			return fmt.Errorf("connecting to %s%s: %w", h.addr(), via, err)
		}
		cl, err := c.login(ctx, conn, h)
		if err != nil {
			conn.Close()
			if i < len(hops)-1 {
				return fmt.Errorf("jump host %s: %w", h.alias, err)
			}
			return err
		}
		if i < len(hops)-1 {
			c.hops = append(c.hops, cl)
		} else {
			c.conn = cl
		}
	}
	return nil
}

// jumpHops resolves t's ProxyJump hops with g's config.
func (g *SSH) jumpHops(t *target) ([]*target, error) {
	if len(t.jumps) == 0 {
		return nil, nil
	}
	cs, err := loadConfig(g.ConfigFile)
	if err != nil {
		return nil, err
	}
	var hops []*target
	for _, j := range t.jumps {
		h, err := resolveJump(cs, strings.TrimSpace(j))
		if err != nil {
			return nil, err
		}
		if len(g.KnownHosts) > 0 {
			h.knownHosts = t.knownHosts
		}
		hops = append(hops, h)
	}
	return hops, nil
}

// resolveJump resolves one ProxyJump hop, [user@]host[:port] or an ssh://
// URL, through the config; the hop's own ProxyJump is not followed.
func resolveJump(cs *configSet, spec string) (*target, error) {
	spec = strings.TrimPrefix(spec, "ssh://")
	user, hostport := "", spec
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		user, hostport = spec[:i], spec[i+1:]
	}
	host, port := hostport, 0
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("ssh config: bad ProxyJump %q", spec)
		}
		host, port = h, n
	}
	t, err := resolveHost(cs, host, user, port)
	if err != nil {
		return nil, err
	}
	t.jumps = nil
	return t, nil
}

// login runs the SSH handshake on conn: host key check, then
// authentication.
func (c *client) login(ctx context.Context, conn net.Conn, t *target) (*ssh.Client, error) {
	check, algos, err := hostKeyCheck(t)
	if err != nil {
		return nil, err
	}
	var hostKeyErr error
	st := auth(t)
	if st.closer != nil {
		// Keys are needed only during the handshake.
		defer st.closer.Close()
	}
	cfg := &ssh.ClientConfig{
		User: t.user,
		Auth: st.methods,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
			hostKeyErr = check(h, r, k)
			return hostKeyErr
		},
		HostKeyAlgorithms: algos,
		ClientVersion:     "SSH-2.0-covdist",
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), cfg)
	interrupted := !stop()
	if err != nil {
		switch {
		case hostKeyErr != nil:
			return nil, hostKeyErr
		case interrupted && ctx.Err() != nil:
			return nil, fmt.Errorf("ssh handshake with %s: %w", t.addr(), ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, st.authError(t, err)
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fmt.Errorf("ssh handshake with %s: the host offers none of the host key types that known_hosts records for %s (%s): its host key may have changed; verify it and update known_hosts (%v)",
				t.addr(), t.knownHostsName(), strings.Join(algos, ", "), err)
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", t.addr(), err)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// install makes sure the agent binary with the given sum is on the remote
// and returns its remote path (for sh). The probe and any upload happen
// once per connection and binary, however many streams ask at once.
func (c *client) install(ctx context.Context, bin, sum string, agentFor AgentSource) (string, error) {
	c.mu.Lock()
	in := c.installs[sum]
	if in == nil {
		in = &install{done: make(chan struct{})}
		c.installs[sum] = in
		c.mu.Unlock()
		in.path, in.err = c.doInstall(ctx, bin, sum, agentFor)
		if in.err != nil {
			c.mu.Lock()
			delete(c.installs, sum) // let a later Open try again
			c.mu.Unlock()
		}
		close(in.done)
	} else {
		c.mu.Unlock()
		select {
		case <-in.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return in.path, in.err
}

// uploads counts agent uploads, for tests.
var uploads struct {
	sync.Mutex
	n int
}

func (c *client) doInstall(ctx context.Context, bin, sum string, agentFor AgentSource) (string, error) {
	path := agentPath(sum)
	fi, err := os.Stat(bin)
	if err != nil {
		return "", err
	}
	out, err := c.run(ctx, "uname -sm; "+agentPresent(path, fi.Size()), nil)
	if err != nil {
		return "", fmt.Errorf("probing the remote platform: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return "", fmt.Errorf("probing the remote platform: unexpected output %q", out)
	}
	goos, goarch, err := goPlatform(lines[0])
	if err != nil {
		return "", fmt.Errorf("probing the remote platform: ran `uname -sm`: %w; all it printed was %q", err, out)
	}
	c.mu.Lock()
	c.platform = goos + "/" + goarch
	c.mu.Unlock()
	present := strings.TrimSpace(lines[len(lines)-1]) == "present"
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		// Another platform: an agent built for it, under its own hash.
		if bin, err = foreignAgent(ctx, agentFor, goos, goarch, c.name); err != nil {
			return "", err
		}
		if sum, err = fileSHA256(bin); err != nil {
			return "", fmt.Errorf("hashing the %s/%s agent: %w", goos, goarch, err)
		}
		path = agentPath(sum)
		if fi, err = os.Stat(bin); err != nil {
			return "", err
		}
		out, err := c.run(ctx, agentPresent(path, fi.Size()), nil)
		if err != nil {
			return "", fmt.Errorf("looking for the %s/%s agent on the remote: %w", goos, goarch, err)
		}
		present = strings.TrimSpace(string(out)) == "present"
	}
	if present {
		return path, nil
	}
	f, err := os.Open(bin)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := c.run(ctx, agentUpload(agentDir(sum), fi.Size(), sum), bufio.NewReaderSize(f, 1<<20)); err != nil {
		return "", fmt.Errorf("uploading the agent (%s) to ~/%s/%s: %w", bin, AgentCacheDir, sum, err)
	}
	uploads.Lock()
	uploads.n++
	uploads.Unlock()
	return path, nil
}

// probeLinger is how long a probe's connection waits for workers to use it.
var probeLinger = 30 * time.Second

// agentDir and agentPath are where, for sh on the remote, the agent with
// content hash sum lives.
func agentDir(sum string) string  { return `"$HOME"/` + AgentCacheDir + "/" + sum }
func agentPath(sum string) string { return agentDir(sum) + "/covdist" }

// Platform probes the host's GOOS/GOARCH (`uname -sm`), so that its test
// binaries can be built for it before any worker starts.
func (g *SSH) Platform(ctx context.Context) (goos, goarch string, err error) {
	if g.Subsystem != "" {
		return "", "", fmt.Errorf("%s: a covdist serve is not probed", g)
	}
	t, err := g.resolve()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", g, err)
	}
	c, _, err := acquire(ctx, g, t)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", g, err)
	}
	// The connection stays a while for the workers that follow the probe,
	// rather than closing and dialling again.
	defer time.AfterFunc(probeLinger, func() { release(c) })
	c.mu.Lock()
	known := c.platform
	c.mu.Unlock()
	if known != "" {
		goos, goarch, _ = strings.Cut(known, "/")
		return goos, goarch, nil
	}
	out, err := c.run(ctx, "uname -sm", nil)
	if err != nil {
		return "", "", fmt.Errorf("%s: probing the platform: %w", g, err)
	}
	if goos, goarch, err = goPlatform(strings.TrimSpace(string(out))); err != nil {
		return "", "", fmt.Errorf("%s: probing the platform: ran `uname -sm`: %w; all it printed was %q", g, err, out)
	}
	c.mu.Lock()
	c.platform = goos + "/" + goarch
	c.mu.Unlock()
	return goos, goarch, nil
}

// run runs a short sh script in its own session and returns its stdout.
func (c *client) run(ctx context.Context, script string, stdin io.Reader) ([]byte, error) {
	sess, err := c.conn.NewSession()
	if err != nil {
		if c.dead() != nil {
			return nil, c.lostErr()
		}
		return nil, fmt.Errorf("opening an ssh session to %s: %w", c.name, err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &stdout, &stderr, stdin
	if err := sess.Start("exec sh -c " + shQuote(script)); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		return nil, ctx.Err()
	case <-c.closed:
		return nil, c.lostErr()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("%v: %s", err, msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// fileSHA256 hashes a file, remembering the result while its size and
// modification time stay the same.
func fileSHA256(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	sumsMu.Lock()
	if s, ok := sums[path]; ok && s.size == fi.Size() && s.mtime.Equal(fi.ModTime()) {
		sumsMu.Unlock()
		return s.sum, nil
	}
	sumsMu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	sumsMu.Lock()
	sums[path] = fileSum{fi.Size(), fi.ModTime(), sum}
	sumsMu.Unlock()
	return sum, nil
}

type fileSum struct {
	size  int64
	mtime time.Time
	sum   string
}

var (
	sumsMu sync.Mutex
	sums   = make(map[string]fileSum)
)
