package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultMaxUpload is what a session may send its agent unless
// Server.MaxUpload says otherwise.
const DefaultMaxUpload = 32 << 30

// AgentSubsystem is the SSH subsystem a covdist serve offers: an agent in
// a fresh workspace of its own.
const AgentSubsystem = "covdist-agent"

// Server is `covdist serve`: a socket server for workers that a coordinator
// reaches with --tx socket=host:port. Unlike execnet's socketserver, which
// evaluates whatever arrives, it speaks the SSH protocol: every connection is
// encrypted, the server proves itself with a host key that clients pin in
// known_hosts, and a client is let in only with a key listed in the
// authorized keys file. A client that is not is dropped during the
// handshake, before anything runs. Each session runs one agent process in a
// workspace of its own, removed when the session ends.
type Server struct {
	// HostKey is the server's private key file; created (ed25519) when missing.
	HostKey string
	// AuthorizedKeys is an OpenSSH authorized_keys file; required.
	AuthorizedKeys string
	// WorkDir holds the sessions' workspaces; default a new temporary directory.
	WorkDir string
	// Agent is the command that runs an agent on stdin/stdout; default
	// this executable with the argument "agent".
	Agent []string
	// MaxConns bounds authenticated connections at once; default 64. A
	// client over it is told so when it asks for a session.
	MaxConns int
	// MaxStartups bounds connections still in the handshake, not yet
	// authenticated; default 16. When it is reached a new connection takes
	// the place of a random one of them (random early drop, as OpenSSH's
	// MaxStartups), so connections that idle in the handshake cannot lock
	// out a client that authenticates promptly.
	MaxStartups int
	// LoginGrace is how long a connection may take to authenticate;
	// default 5s.
	LoginGrace time.Duration
	// MaxUpload bounds the bytes one session may send its agent (test
	// binaries and synced files, mostly), so that a client cannot fill the
	// serve's disk; default 32 GiB. A session over it is ended, saying so.
	MaxUpload int64
	// Log receives one line per connection event; default os.Stderr.
	Log io.Writer

	signer     ssh.Signer
	authorized map[string]bool
	logMu      sync.Mutex // connections log at once; Log need not be safe for that
	rate       *logRate   // lines of connections that did not authenticate
}

// Rated lines: at most logBurst of one kind per logWindow.
const (
	logWindow = 10 * time.Second
	logBurst  = 5
)

// LoadHostKey reads the host key, creating it first when missing, and
// returns its public half.
func (s *Server) LoadHostKey() (ssh.PublicKey, error) {
	b, err := os.ReadFile(s.HostKey)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		block, merr := ssh.MarshalPrivateKey(priv, "covdist serve")
		if merr != nil {
			return nil, merr
		}
		if err := os.MkdirAll(filepath.Dir(s.HostKey), 0o700); err != nil {
			return nil, err
		}
		b = pem.EncodeToMemory(block)
		if err := os.WriteFile(s.HostKey, b, 0o600); err != nil {
			return nil, fmt.Errorf("writing the new host key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading the host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", s.HostKey, err)
	}
	s.signer = signer
	return signer.PublicKey(), nil
}

// KnownHostsLine is the line a client adds to its known_hosts to trust this
// server listening at addr: it names addr's host, or, for a wildcard
// address (0.0.0.0, ::) that no client dials, the names a client would use
// (KnownHostsNames).
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return strings.Join(KnownHostsNames(addr), ",") + " " + string(trimNewline(ssh.MarshalAuthorizedKey(key)))
}

// KnownHostsNames is how known_hosts names a server listening at addr. A
// wildcard address is reached as 127.0.0.1 and localhost (and ::1 for ::),
// as this host's name and as each of its other addresses; a client that
// uses yet another name must add it.
func KnownHostsNames(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	hosts := []string{host}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		v6 := host == "" || ip.To4() == nil
		hosts = []string{"127.0.0.1", "localhost"}
		if v6 {
			hosts = append(hosts, "::1")
		}
		if name, err := os.Hostname(); err == nil && name != "" && name != "localhost" {
			hosts = append(hosts, name)
		}
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.To4() == nil && !v6 {
				continue
			}
			hosts = append(hosts, n.IP.String())
		}
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = knownhosts.Normalize(net.JoinHostPort(h, port))
	}
	return names
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (s *Server) loadAuthorized() error {
	if s.AuthorizedKeys == "" {
		return errors.New("an authorized keys file is required: only its keys may connect")
	}
	b, err := os.ReadFile(s.AuthorizedKeys)
	if err != nil {
		return fmt.Errorf("reading authorized keys: %w", err)
	}
	s.authorized = make(map[string]bool)
	for len(b) > 0 {
		key, _, _, rest, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			break // no more keys (ParseAuthorizedKey skips comments and blanks)
		}
		s.authorized[string(key.Marshal())] = true
		b = rest
	}
	if len(s.authorized) == 0 {
		return fmt.Errorf("%s holds no keys: nobody could connect", s.AuthorizedKeys)
	}
	return nil
}

func (s *Server) logf(format string, args ...any) {
	w := s.Log
	if w == nil {
		w = os.Stderr
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(w, "covdist serve: "+format+"\n", args...)
}

// logRated logs a line of a kind that a flood of connections can repeat
// without end (those that never authenticate): at most logBurst of its
// format per logWindow, then one line that counts the rest.
func (s *Server) logRated(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	ok, summaries := s.rate.allow(format, line)
	for _, sum := range summaries {
		s.logf("%s", sum)
	}
	if ok {
		s.logf("%s", line)
	}
}

// CheckWorkDir says what is wrong with dir as a serve's --workdir: it must
// be a directory the serve can make workspaces in. A serve checks it at
// start, so that a typo fails once, there, and not every session.
func CheckWorkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--workdir %s: no such directory (create it, or leave --workdir out for a temporary one)", dir)
		}
		return fmt.Errorf("--workdir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--workdir %s: not a directory", dir)
	}
	probe, err := os.MkdirTemp(dir, "session-")
	if err != nil {
		return fmt.Errorf("--workdir %s: cannot make a workspace in it: %w", dir, err)
	}
	return os.Remove(probe)
}

// Serve accepts connections on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.signer == nil {
		if _, err := s.LoadHostKey(); err != nil {
			return err
		}
	}
	if err := s.loadAuthorized(); err != nil {
		return err
	}
	if s.WorkDir != "" {
		if err := CheckWorkDir(s.WorkDir); err != nil {
			return err
		}
	}
	if s.WorkDir == "" {
		dir, err := os.MkdirTemp("", "covdist-serve-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.WorkDir = dir
	}
	if len(s.Agent) == 0 {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		s.Agent = []string{self, "agent"}
	}
	maxConns, maxStartups, grace := s.MaxConns, s.MaxStartups, s.LoginGrace
	if maxConns <= 0 {
		maxConns = 64
	}
	if maxStartups <= 0 {
		maxStartups = 16
	}
	if grace <= 0 {
		grace = 5 * time.Second
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if s.authorized[string(key.Marshal())] {
				return &ssh.Permissions{Extensions: map[string]string{"key": ssh.FingerprintSHA256(key)}}, nil
			}
			return nil, fmt.Errorf("key %s is not authorized", ssh.FingerprintSHA256(key))
		},
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-covdist-serve",
	}
	cfg.AddHostKey(s.signer)

	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	s.rate = newLogRate(logWindow, logBurst)
	stopFlush := make(chan struct{})
	defer close(stopFlush)
	go func() {
		t := time.NewTicker(logWindow)
		defer t.Stop()
		for {
			select {
			case <-stopFlush:
				return
			case <-t.C:
				for _, sum := range s.rate.flush() {
					s.logf("%s", sum)
				}
			}
		}
	}()
	st := &startups{max: maxStartups}
	sessions := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if victim := st.admit(conn); victim != nil {
			s.logRated("%s: dropped to make room: %d connections were in the handshake, the most there may be (random early drop)", victim.RemoteAddr(), maxStartups)
			victim.Close()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, conn, cfg, st, grace, sessions)
		}()
	}
}

// startups are the connections in the handshake. The accept loop adds
// each; a handshake that ends, however, removes its own; a new connection
// over max pushes out a random one.
type startups struct {
	mu    sync.Mutex
	max   int
	conns []net.Conn
}

// admit adds c and returns the connection it displaced, if any.
func (p *startups) admit(c net.Conn) (victim net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) >= p.max {
		i := mrand.IntN(len(p.conns))
		victim = p.conns[i]
		p.conns[i] = p.conns[len(p.conns)-1]
		p.conns = p.conns[:len(p.conns)-1]
	}
	p.conns = append(p.conns, c)
	return victim
}

// done removes c, and says whether it was there (not displaced).
func (p *startups) done(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.conns {
		if x == c {
			p.conns[i] = p.conns[len(p.conns)-1]
			p.conns = p.conns[:len(p.conns)-1]
			return true
		}
	}
	return false
}

func (s *Server) handle(ctx context.Context, conn net.Conn, cfg *ssh.ServerConfig, st *startups, grace time.Duration, sessions chan struct{}) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(grace))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if mine := st.done(conn); err != nil {
		if mine {
			s.logRated("%s: dropped before anything ran: %v", conn.RemoteAddr(), err)
		}
		return
	}
	conn.SetDeadline(time.Time{})
	defer sconn.Close()
	who := fmt.Sprintf("%s (%s)", sconn.RemoteAddr(), sconn.Permissions.Extensions["key"])
	go ssh.DiscardRequests(reqs) // keepalives get their (negative) answer
	go func() {
		<-ctx.Done()
		sconn.Close()
	}()
	select {
	case sessions <- struct{}{}:
		defer func() { <-sessions }()
	default:
		// Say why to the client's first session, then hang up.
		s.logRated("%s: refused: %d connections already (--max-conns)", who, cap(sessions))
		t := time.AfterFunc(grace, func() { sconn.Close() })
		defer t.Stop()
		if nc, ok := <-chans; ok {
			nc.Reject(ssh.ResourceShortage, fmt.Sprintf("covdist serve: %d connections already, its --max-conns; try again later", cap(sessions)))
		}
		return
	}
	s.logf("%s: authenticated", who)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(who, ch, creqs)
	}
}

// session runs one agent when asked for the covdist-agent subsystem, and
// refuses everything else (exec, shell, pty). An env request for NiceEnv
// before it lowers the agent's priority, as nice= does for ssh=; nothing
// raises it.
func (s *Server) session(who string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	nice := 0
	for req := range reqs {
		switch {
		case req.Type == "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) != nil || kv.Name != NiceEnv {
				req.Reply(false, nil)
				continue
			}
			n, err := strconv.Atoi(kv.Value)
			if err != nil || n < 0 || n > 19 {
				s.logf("%s: refused nice=%s: a serve only lowers priority (0 to 19)", who, kv.Value)
				req.Reply(false, nil)
				continue
			}
			nice = n
			req.Reply(true, nil)
		case req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == AgentSubsystem:
			req.Reply(true, nil)
			s.runAgent(who, ch, reqs, nice)
			return
		default:
			s.logf("%s: refused a %q request", who, req.Type)
			req.Reply(false, nil)
		}
	}
}

// runAgent runs one agent in a fresh workspace on ch and tells the client
// how it ended. A client's signal request (its Close, when the agent does
// not exit) is passed on to the agent's process group.
func (s *Server) runAgent(who string, ch ssh.Channel, reqs <-chan *ssh.Request, nice int) {
	dir, err := os.MkdirTemp(s.WorkDir, "session-")
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "covdist serve: making a workspace: %v\n", err)
		exitStatus(ch, 1)
		return
	}
	defer os.RemoveAll(dir)
	argv := s.Agent
	if nice > 0 {
		argv = append([]string{"nice", "-n", strconv.Itoa(nice)}, argv...)
	}
	// The agent's stdin is a pipe we fill, not the channel itself: exec
	// would wait for its copy of the channel to end, which only the client
	// ends, and so would not notice an agent that died.
	stdin, feed, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "covdist serve: %v\n", err)
		exitStatus(ch, 1)
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, ch, ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	stdin.Close()
	if err != nil {
		feed.Close()
		fmt.Fprintf(ch.Stderr(), "covdist serve: starting the agent: %v\n", err)
		s.logf("%s: starting the agent: %v", who, err)
		exitStatus(ch, 1)
		return
	}
	go func() {
		max := s.MaxUpload
		if max <= 0 {
			max = DefaultMaxUpload
		}
		n, _ := io.Copy(feed, io.LimitReader(ch, max))
		feed.Close()
		if n == max {
			// More may have been on its way: the limit was reached.
			fmt.Fprintf(ch.Stderr(), "covdist serve: the session sent %d bytes, its --max-upload: ended\n", max)
			s.logf("%s: ended at its --max-upload of %d bytes", who, max)
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	go func() {
		for req := range reqs {
			var m struct{ Signal string }
			if req.Type == "signal" && ssh.Unmarshal(req.Payload, &m) == nil {
				if sig, ok := sshSignals[ssh.Signal(m.Signal)]; ok {
					_ = syscall.Kill(-cmd.Process.Pid, sig)
				}
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}()
	s.logf("%s: agent started in %s", who, dir)
	err = cmd.Wait()
	s.logf("%s: agent ended (%v); workspace removed", who, err)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		name := signalName(ws.Signal())
		fmt.Fprintf(ch.Stderr(), "covdist serve: the agent (pid %d) was killed by signal %s on the serve's host\n", cmd.Process.Pid, name)
		ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{name, ws.CoreDump(), "", ""}))
		return
	}
	exitStatus(ch, cmd.ProcessState.ExitCode())
}

func exitStatus(ch ssh.Channel, code int) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
}

// sshSignals maps the signal names of RFC 4254 to signals.
var sshSignals = map[ssh.Signal]syscall.Signal{
	ssh.SIGABRT: syscall.SIGABRT, ssh.SIGALRM: syscall.SIGALRM, ssh.SIGFPE: syscall.SIGFPE, ssh.SIGHUP: syscall.SIGHUP,
	ssh.SIGILL: syscall.SIGILL, ssh.SIGINT: syscall.SIGINT, ssh.SIGKILL: syscall.SIGKILL, ssh.SIGPIPE: syscall.SIGPIPE,
	ssh.SIGQUIT: syscall.SIGQUIT, ssh.SIGSEGV: syscall.SIGSEGV, ssh.SIGTERM: syscall.SIGTERM,
	ssh.SIGUSR1: syscall.SIGUSR1, ssh.SIGUSR2: syscall.SIGUSR2,
}

// signalName is sig's RFC 4254 name, or its number for one without.
func signalName(sig syscall.Signal) string {
	for name, s := range sshSignals {
		if s == sig {
			return string(name)
		}
	}
	return strconv.Itoa(int(sig))
}
