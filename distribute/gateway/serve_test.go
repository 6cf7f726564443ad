package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covdist/covdist/distribute/wire"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// userKey writes a fresh ed25519 private key and returns its path and public key.
func userKey(t *testing.T, dir, name string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, sp
}

// syncBuffer is a buffer that a server goroutine writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type served struct {
	addr     string
	work     string
	log      *syncBuffer
	hostKey  ssh.PublicKey
	userKey  string
	otherKey string
	dir      string
}

// startServe runs a real covdist serve on loopback whose agent is the
// stand-in agent of ssh_test.go.
func startServe(t *testing.T) *served { return startServeWith(t, nil) }

// startServeWith is startServe with the server adjusted by adjust first.
func startServeWith(t *testing.T, adjust func(*Server)) *served {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	s := &served{dir: dir, work: filepath.Join(dir, "work"), log: &syncBuffer{}}
	var pub ssh.PublicKey
	s.userKey, pub = userKey(t, dir, "user_key")
	s.otherKey, _ = userKey(t, dir, "other_key")
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, append([]byte("# the only key allowed\n"), ssh.MarshalAuthorizedKey(pub)...), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(s.work, 0o755)
	srv := &Server{
		HostKey: filepath.Join(dir, "host_key"), AuthorizedKeys: auth, WorkDir: s.work, Log: s.log,
		Agent: []string{"/usr/bin/env", stubEnv + "=1", os.Args[0]},
	}
	if adjust != nil {
		adjust(srv)
	}
	var err error
	if s.hostKey, err = srv.LoadHostKey(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// client is a socket= gateway to s using key, trusting the known_hosts lines given.
func (s *served) client(t *testing.T, key string, known ...string) *SSH {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(cfg, []byte("Host *\n  IdentityFile "+key+"\n  IdentitiesOnly yes\n"), 0o600)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(strings.Join(known, "\n")+"\n"), 0o600)
	return &SSH{Host: host, Port: p, Subsystem: AgentSubsystem, ConfigFile: cfg, KnownHosts: []string{kh}, Keepalive: -1}
}

func TestServeRunsAgentInOwnWorkspace(t *testing.T) {
	s := startServe(t)
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	if !strings.HasPrefix(g.String(), "socket=127.0.0.1:") {
		t.Errorf("got %q; want socket=127.0.0.1:PORT", g.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := g.Open(ctx)
	if err != nil {
		t.Fatalf("open: %v\nserver log:\n%s", err, s.log)
	}
	conn := wire.NewConn(stream, stream, stream)
	hello, err := wire.Handshake(conn, wire.Hello{Agent: "test"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if filepath.Dir(hello.Dir) != s.work || !strings.HasPrefix(filepath.Base(hello.Dir), "session-") {
		t.Errorf("got agent dir %q; want a fresh session- directory in %s", hello.Dir, s.work)
	}
	stream.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(hello.Dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workspace %s still there after the session ended", hello.Dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeRefuses(t *testing.T) {
	s := startServe(t)
	tests := []struct {
		name   string
		key    string
		known  []string
		want   []string
		notSSH string // advice for an sshd, wrong for a serve
	}{
		{"unauthorized key", s.otherKey, []string{KnownHostsLine(s.addr, s.hostKey)},
			[]string{"unable to authenticate", "the covdist serve at " + s.addr + " refused", "--authorized-keys"}, ".ssh/authorized_keys"},
		{"server not pinned", s.userKey, nil,
			[]string{"SHA256:", "covdist serve", "--host-key", "ssh-keyscan"}, "/etc/ssh/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := s.client(t, tt.key, tt.known...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stream, err := g.Open(ctx)
			if err == nil {
				stream.Close()
				t.Fatal("got a stream; want a refusal")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %v; want an error containing %q", err, want)
				}
			}
			if strings.Contains(err.Error(), tt.notSSH) {
				t.Errorf("got %v; want no advice about %s, which is an sshd's", err, tt.notSSH)
			}
			entries, _ := os.ReadDir(s.work)
			if len(entries) != 0 {
				t.Fatalf("got %d workspaces; want none: nothing may run for a refused client", len(entries))
			}
		})
	}
}

// Only the agent subsystem runs: a client asking for a command is refused.
func TestServeRefusesExec(t *testing.T) {
	s := startServe(t)
	signerBytes, _ := os.ReadFile(s.userKey)
	signer, err := ssh.ParsePrivateKey(signerBytes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.addr, &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Run("id"); err == nil {
		t.Fatal("got an exec run; want it refused")
	}
}

// nice= reaches a serve's agent; a serve lowers priority only.
func TestServeNice(t *testing.T) {
	s := startServe(t)
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	g.Nice = 5
	stream, err := g.Open(t.Context())
	if err != nil {
		t.Fatalf("open: %v\nserver log:\n%s", err, s.log)
	}
	defer stream.Close()
	if _, _, info := handshake(t, stream); info.Nice != 5 {
		t.Errorf("got niceness %d; want 5", info.Nice)
	}
	g = s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	g.Nice = -5
	if stream, err := g.Open(t.Context()); err == nil {
		stream.Close()
		t.Error("nice=-5: got an agent; want a refusal")
	} else if !strings.Contains(err.Error(), "refused nice=-5") {
		t.Errorf("nice=-5: got %v; want a refusal naming it", err)
	}
}

// An agent killed on the serve's host is reported as that, not as an SSH
// session error.
func TestServeAgentKilled(t *testing.T) {
	s := startServe(t)
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	stream, err := g.Open(t.Context())
	if err != nil {
		t.Fatalf("open: %v\nserver log:\n%s", err, s.log)
	}
	defer stream.Close()
	conn, hello, _ := handshake(t, stream)
	syscall.Kill(hello.PID, syscall.SIGKILL)
	errc := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Recv(); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		for _, want := range []string{"covdist serve at " + s.addr, "killed by signal KILL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("got %v; want it to say %q", err, want)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end within 10 s of the agent's death")
	}
}

// A serve listening on a wildcard address prints a known_hosts line that
// the names a client dials match, not [::]:PORT, which none dials.
func TestKnownHostsLine(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	tests := []struct {
		listen string
		dial   []string // addresses a client dials, which must match
		not    string   // a name that must not be in the line
	}{
		{"127.0.0.1:8888", []string{"127.0.0.1:8888"}, ""},
		{"[::]:8888", []string{"127.0.0.1:8888", "localhost:8888", "[::1]:8888", net.JoinHostPort(host, "8888")}, "[::]:8888"},
		{"0.0.0.0:8888", []string{"127.0.0.1:8888", "localhost:8888"}, "0.0.0.0"},
		{"127.0.0.1:22", []string{"127.0.0.1:22"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			line := KnownHostsLine(tt.listen, key)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			os.WriteFile(kh, []byte(line+"\n"), 0o600)
			check, err := knownhosts.New(kh)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tt.dial {
				if err := check(d, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, key); err != nil {
					t.Errorf("line %q: a client dialling %s: %v", line, d, err)
				}
			}
			if tt.not != "" && strings.Contains(line, tt.not) {
				t.Errorf("got %q; want no %s in it", line, tt.not)
			}
		})
	}
}

// Connections that idle in the handshake (more than there are slots for
// connections) do not lock out a client that authenticates.
func TestServeIdleConnectionsDoNotLockOut(t *testing.T) {
	s := startServe(t)
	for range 80 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(100 * time.Millisecond) // all of them accepted
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	stream, err := g.Open(ctx)
	if err != nil {
		t.Fatalf("an authorised client among 80 idle connections: %v\nserver log:\n%s", err, s.log)
	}
	defer stream.Close()
	handshake(t, stream)
}

// Authenticated connections have their own limit, and a client over it is
// told which.
func TestServeMaxConns(t *testing.T) {
	s := startServeWith(t, func(srv *Server) { srv.MaxConns = 1 })
	first, err := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey)).Open(t.Context())
	if err != nil {
		t.Fatalf("first client: %v", err)
	}
	defer first.Close()
	second, err := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey)).Open(t.Context())
	if err == nil {
		second.Close()
		t.Fatal("second client: got a session; want a refusal")
	}
	if !strings.Contains(err.Error(), "--max-conns") {
		t.Errorf("second client: got %v; want it to name --max-conns", err)
	}
}

// A session that sends more than --max-upload is ended, and says why: a
// client cannot fill the serve's disk.
func TestServeMaxUpload(t *testing.T) {
	s := startServeWith(t, func(srv *Server) { srv.MaxUpload = 1 << 20 })
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := g.Open(ctx)
	if err != nil {
		t.Fatalf("open: %v\nserver log:\n%s", err, s.log)
	}
	defer stream.Close()
	conn := wire.NewConn(stream, stream, stream)
	if _, err := wire.Handshake(conn, wire.Hello{Agent: "test"}); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	// Pings of 64 KiB each until the session ends: 2 MiB would be twice the limit.
	junk := strings.Repeat("x", 64<<10)
	var sendErr error
	for i := 0; i < 32 && sendErr == nil; i++ {
		sendErr = conn.Send(wire.KindLog, wire.Log{Text: junk})
	}
	for start := time.Now(); !strings.Contains(s.log.String(), "--max-upload"); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the session went on past its --max-upload; server log:\n%s", s.log)
		}
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Recv(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Errorf("the stream did not end with the session")
	}
}

// A flood of connections that never authenticate does not grow the log a
// line each: five of a kind per window are written, the rest counted.
func TestServeLogFlood(t *testing.T) {
	s := startServe(t)
	const n = 500
	for range n {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		c.(*net.TCPConn).CloseWrite() // the serve reads to its end, then drops it
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var buf [512]byte
		for { // until the serve hangs up, having logged the drop
			if _, err := c.Read(buf[:]); err != nil {
				break
			}
		}
		c.Close()
	}
	log := s.log.String()
	if got := strings.Count(log, "dropped before anything ran"); got != logBurst {
		t.Errorf("got %d lines of %d dropped connections; want the burst of %d\n%s", got, n, logBurst, log)
	}
	if len(log) > 2000 {
		t.Errorf("log of %d bad connections is %d bytes; want it bounded under 2000", n, len(log))
	}
	g := s.client(t, s.userKey, KnownHostsLine(s.addr, s.hostKey))
	stream, err := g.Open(t.Context())
	if err != nil {
		t.Fatalf("client after the flood: %v", err)
	}
	defer stream.Close()
	handshake(t, stream)
	if !strings.Contains(s.log.String(), "authenticated") {
		t.Errorf("an authenticated session after the flood is not in the log:\n%s", s.log)
	}
}

// A --workdir the serve cannot use fails at start, not every session.
func TestServeChecksWorkDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	tests := []struct{ dir, want string }{
		{filepath.Join(dir, "missing"), "no such directory (create it, or leave --workdir out"},
		{file, "not a directory"},
	}
	if os.Geteuid() != 0 { // root may write anywhere
		tests = append(tests, struct{ dir, want string }{ro, "cannot make a workspace in it"})
	}
	for _, tt := range tests {
		err := CheckWorkDir(tt.dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.dir) {
			t.Errorf("CheckWorkDir(%s) = %v; want an error naming it and %q", tt.dir, err, tt.want)
		}
	}
	if err := CheckWorkDir(dir); err != nil {
		t.Errorf("CheckWorkDir of a usable directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the check left %d entries in the directory; want its probe removed", len(entries))
	}
	srv := &Server{HostKey: filepath.Join(dir, "hk"), AuthorizedKeys: filepath.Join(dir, "ak"), WorkDir: filepath.Join(dir, "missing")}
	_, pub := userKey(t, t.TempDir(), "k")
	os.WriteFile(srv.AuthorizedKeys, ssh.MarshalAuthorizedKey(pub), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := srv.Serve(t.Context(), ln); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Serve with a missing --workdir: %v; want it refused at start", err)
	}
}
