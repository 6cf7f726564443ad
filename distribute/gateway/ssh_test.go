package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
	"github.com/covdist/covdist/internal/sshtest"
)

// stubEnv makes the test binary act as a stand-in agent (see TestMain): it
// does the agent's side of the handshake, sends one Log frame describing
// its cwd, environment and niceness, and exits when its stdin ends.
const stubEnv = "COVDIST_SSHTEST_STUB"

func TestMain(m *testing.M) {
	if os.Getenv(stubEnv) == "1" {
		os.Exit(stubAgent())
	}
	os.Exit(m.Run())
}

type stubInfo struct {
	Dir  string
	Foo  string
	Nice int
}

func stubAgent() int {
	// Claim the workspace as covdist agent --workspace DIR --run ID does.
	var ws, run, store string
	for i := 1; i+1 < len(os.Args); i++ {
		switch os.Args[i] {
		case "--workspace":
			ws = os.Args[i+1]
		case "--run":
			run = os.Args[i+1]
		case "--store":
			store = os.Args[i+1]
		}
	}
	if ws != "" {
		dir, release, err := filesync.Claim(ws, run, store)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stub:", err)
			return 1
		}
		defer release()
		os.Chdir(dir)
	}
	conn := wire.NewConn(os.Stdin, os.Stdout, nil)
	wd, _ := os.Getwd()
	if _, err := wire.Handshake(conn, wire.Hello{Agent: "stub", GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, PID: os.Getpid(), Dir: wd}); err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		return 1
	}
	info, _ := json.Marshal(stubInfo{Dir: wd, Foo: os.Getenv("FOO"), Nice: niceness()})
	if err := conn.Send(wire.KindLog, wire.Log{Text: string(info)}); err != nil {
		return 1
	}
	for {
		if _, _, err := conn.Recv(); err != nil {
			return 0
		}
	}
}

// niceness reads field 19 of /proc/self/stat.
func niceness() int {
	b, _ := os.ReadFile("/proc/self/stat")
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -100
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 17 {
		return -100
	}
	n, _ := strconv.Atoi(f[16])
	return n
}

// gw is a gateway to s through its client config, running the stub agent.
func gw(t *testing.T, s *sshtest.Server) *SSH {
	t.Helper()
	// Keep the developer's own ssh-agent out of the tests.
	t.Setenv("SSH_AUTH_SOCK", "")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &SSH{
		Host:        sshtest.Alias,
		ConfigFile:  s.Config,
		AgentBinary: bin,
		AgentArgs:   []string{"agent"},
		Env:         []string{stubEnv + "=1"},
	}
}

// handshake speaks the coordinator's side of the protocol and returns the
// stub's hello and report.
func handshake(t *testing.T, rwc io.ReadWriteCloser) (*wire.Conn, *wire.Hello, stubInfo) {
	t.Helper()
	conn := wire.NewConn(rwc, rwc, rwc)
	hello, err := wire.Handshake(conn, wire.Hello{Agent: "test"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	k, p, err := conn.Recv()
	if err != nil || k != wire.KindLog {
		t.Fatalf("reading the stub's report: kind %v, err %v", k, err)
	}
	m, err := wire.Decode(k, p)
	if err != nil {
		t.Fatal(err)
	}
	var info stubInfo
	if err := json.Unmarshal([]byte(m.(*wire.Log).Text), &info); err != nil {
		t.Fatal(err)
	}
	return conn, hello, info
}

func open(t *testing.T, g *SSH) io.ReadWriteCloser {
	t.Helper()
	// The stream lives as long as the context given to Open.
	rwc, err := g.Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { rwc.Close() })
	return rwc
}

func uploadCount() int {
	uploads.Lock()
	defer uploads.Unlock()
	return uploads.n
}

func remoteAgent(t *testing.T, s *sshtest.Server, g *SSH) string {
	t.Helper()
	sum, err := fileSHA256(g.AgentBinary)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(s.Home, AgentCacheDir, sum, "covdist")
}

// Open uploads the agent, starts it in a session, and the stream carries a
// real protocol handshake.
func TestSSHOpenHandshake(t *testing.T) {
	s := sshtest.Start(t)
	g := gw(t, s)
	rwc := open(t, g)
	_, hello, info := handshake(t, rwc)
	if hello.Agent != "stub" || hello.GOOS != runtime.GOOS || hello.GOARCH != runtime.GOARCH {
		t.Errorf("got hello %+v; want the stub's, %s/%s", hello, runtime.GOOS, runtime.GOARCH)
	}
	if want := filepath.Join(s.Home, ".cache/covdist/work"); info.Dir != want {
		t.Errorf("got agent cwd %q; want the default %q", info.Dir, want)
	}
	if fi, err := os.Stat(remoteAgent(t, s, g)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("uploaded agent: %v, %v; want an executable file", fi, err)
	}
	if err := rwc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A cached agent of the wrong size (an upload cut short, by an older
// covdist that did not check) is replaced, not run.
func TestSSHReplacesTruncatedAgent(t *testing.T) {
	s := sshtest.Start(t)
	g := gw(t, s)
	data, err := os.ReadFile(g.AgentBinary)
	if err != nil {
		t.Fatal(err)
	}
	cached := remoteAgent(t, s, g)
	os.MkdirAll(filepath.Dir(cached), 0o755)
	if err := os.WriteFile(cached, data[:len(data)/3], 0o755); err != nil {
		t.Fatal(err)
	}
	handshake(t, open(t, g))
	if fi, err := os.Stat(cached); err != nil || fi.Size() != int64(len(data)) {
		t.Errorf("cached agent: got %v, %v; want %d bytes", fi, err, len(data))
	}
}

// Streams to one host share one TCP connection, and the agent is uploaded
// once: neither a second stream nor a later connection uploads it again.
func TestSSHSharesConnection(t *testing.T) {
	s := sshtest.Start(t)
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	g1, g2 := gw(t, s), gw(t, s)
	g1.Dial, g2.Dial = dial, dial
	before := uploadCount()

	a := open(t, g1)
	b := open(t, g2)
	_, ha, _ := handshake(t, a)
	_, hb, _ := handshake(t, b)
	if ha.PID == hb.PID {
		t.Errorf("both streams reached agent pid %d; want two agents", ha.PID)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("got %d dials for two streams; want 1", n)
	}
	if n := s.Connections(); n != 1 {
		t.Errorf("sshd logged %d connections; want 1", n)
	}
	if n := uploadCount() - before; n != 1 {
		t.Errorf("got %d uploads; want 1", n)
	}
	fi1, err := os.Stat(remoteAgent(t, s, g1))
	if err != nil {
		t.Fatal(err)
	}

	// With every stream closed the connection goes; the next one finds
	// the agent already there.
	a.Close()
	b.Close()
	c := open(t, g1)
	handshake(t, c)
	if n := dials.Load(); n != 2 {
		t.Errorf("got %d dials after all streams closed and one reopened; want 2", n)
	}
	if n := uploadCount() - before; n != 1 {
		t.Errorf("got %d uploads after reconnecting; want still 1", n)
	}
	fi2, err := os.Stat(remoteAgent(t, s, g1))
	if err != nil {
		t.Fatal(err)
	}
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Errorf("remote agent rewritten: mtime %v then %v", fi1.ModTime(), fi2.ModTime())
	}
}

// sshd refuses a third session on a connection when MaxSessions is 2; the
// third stream then gets a connection of its own.
func TestSSHMaxSessionsOverflow(t *testing.T) {
	s := sshtest.StartWith(t, sshtest.Options{MaxSessions: 2})
	g := gw(t, s)
	var pids []int
	for range 3 {
		_, h, _ := handshake(t, open(t, g))
		pids = append(pids, h.PID)
	}
	if n := s.Connections(); n != 2 {
		t.Errorf("sshd logged %d connections for 3 streams at MaxSessions 2; want 2", n)
	}
	if pids[0] == pids[1] || pids[1] == pids[2] || pids[0] == pids[2] {
		t.Errorf("got agent pids %v; want three agents", pids)
	}
}

func fingerprint(t *testing.T, pubFile string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-lf", pubFile).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[1]
}

// An unknown host is refused before authentication, with its fingerprint
// and the command that adds it; so is one whose key changed, with a
// message of its own.
func TestSSHHostKeyRefused(t *testing.T) {
	s := sshtest.Start(t)
	fp := fingerprint(t, s.HostKey+".pub")
	other := filepath.Join(t.TempDir(), "other")
	otherPub := sshtest.Keygen(t, other, "")
	hostport := fmt.Sprintf("[127.0.0.1]:%d", s.Port)

	tests := []struct {
		name       string
		knownHosts string // content
		changed    bool
		want       []string
	}{
		{
			name:       "unknown",
			knownHosts: "# nothing\n",
			want: []string{
				"not a known host", hostport, "ssh-ed25519", fp,
				fmt.Sprintf("ssh-keyscan -p %d -t ed25519 127.0.0.1 >> ", s.Port),
			},
		},
		{
			name:       "other host known",
			knownHosts: "[127.0.0.1]:1 " + otherPub + "\n",
			want:       []string{"not a known host", fp},
		},
		{
			name:       "changed",
			knownHosts: hostport + " " + otherPub + "\n",
			changed:    true,
			want: []string{
				"CHANGED", "refusing to connect", hostport, fp, fingerprint(t, other+".pub"),
				"man-in-the-middle", "ssh-keygen -R '" + hostport + "'",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tt.knownHosts), 0o644); err != nil {
				t.Fatal(err)
			}
			g := gw(t, s)
			g.KnownHosts = []string{kh}
			_, err := g.Open(context.Background())
			var he *HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("got error %v; want a *HostKeyError", err)
			}
			if he.Changed != tt.changed || he.Fingerprint != fp {
				t.Errorf("got Changed %v, Fingerprint %s; want %v, %s", he.Changed, he.Fingerprint, tt.changed, fp)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), kh) {
				t.Errorf("error does not name the known_hosts file %s:\n%v", kh, err)
			}
		})
	}
	if strings.Contains(s.LogText(), "Accepted publickey") {
		t.Errorf("sshd accepted a login despite the refused host key:\n%s", s.LogText())
	}
}

// A key the server does not accept fails with the host, the user and the
// identity files tried; a passphrase-protected key without ssh-agent says
// to ssh-add it.
func TestSSHAuthRefused(t *testing.T) {
	s := sshtest.Start(t)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong_ed25519")
	sshtest.Keygen(t, wrong, "")
	locked := filepath.Join(dir, "locked_ed25519")
	sshtest.Keygen(t, locked, "secret")

	tests := []struct {
		name     string
		identity string
		want     []string
	}{
		{"wrong key", wrong, []string{"refused authentication", s.Addr(), `as "` + s.User + `"`, wrong, "authorized_keys"}},
		{"encrypted key without agent", locked, []string{"no usable key", locked, "passphrase-protected", "ssh-add " + locked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config")
			writeConfig(t, cfg, s, "box", "IdentityFile "+tt.identity)
			g := gw(t, s)
			g.Host, g.ConfigFile = "box", cfg
			_, err := g.Open(context.Background())
			if err == nil {
				t.Fatal("Open succeeded; want an authentication error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A passphrase-protected identity file works when ssh-agent holds it.
func TestSSHAgentHoldsEncryptedKey(t *testing.T) {
	s := sshtest.Start(t)
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked_ed25519")
	pub := sshtest.Keygen(t, locked, "secret")
	ak := filepath.Join(s.Dir, "authorized_keys")
	old, _ := os.ReadFile(ak)
	if err := os.WriteFile(ak, append(old, []byte(pub+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	keyring := agent.NewKeyring()
	pem, _ := os.ReadFile(locked)
	key, err := ssh.ParseRawPrivateKeyWithPassphrase(pem, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()

	cfg := filepath.Join(dir, "config")
	writeConfig(t, cfg, s, "box", "IdentityFile "+locked, "IdentitiesOnly yes")
	g := gw(t, s)
	g.Host, g.ConfigFile = "box", cfg
	t.Setenv("SSH_AUTH_SOCK", sock)
	handshake(t, open(t, g))
}

// writeConfig writes a client config with one Host alias for s, plus extra
// lines; the User and IdentityFile of s are not included.
func writeConfig(t *testing.T, path string, s *sshtest.Server, alias string, extra ...string) {
	t.Helper()
	text := fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  User %s\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile none\n",
		alias, s.Host, s.Port, s.User, s.KnownHosts)
	for _, e := range extra {
		text += "  " + e + "\n"
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An alias in the ssh config supplies HostName, Port, User, IdentityFile
// (with ~) and UserKnownHostsFile; a Host * block later supplies nothing
// that the alias already set.
func TestSSHConfigAlias(t *testing.T) {
	s := sshtest.Start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(s.UserKey)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "ci_key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	kh, _ := os.ReadFile(s.KnownHosts)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "hosts"), kh, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, ".ssh", "config")
	text := fmt.Sprintf(`Host build-box bb
  HostName %s
  Port %d
  User %s
  IdentityFile ~/.ssh/missing_key
  IdentityFile ~/.ssh/ci_key
  UserKnownHostsFile ~/.ssh/hosts

Host *
  Port 1
  User nobody
  IdentityFile ~/.ssh/id_nothing
`, s.Host, s.Port, s.User)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	g := gw(t, s)
	g.Host, g.ConfigFile = "bb", "" // $HOME/.ssh/config, as ssh reads it
	if got, want := g.String(), "ssh=bb"; got != want {
		t.Errorf("got String() %q; want %q", got, want)
	}
	handshake(t, open(t, g))
}

// ProxyJump reaches the host through another: here the same sshd, which
// forwards to itself.
func TestSSHProxyJump(t *testing.T) {
	s := sshtest.Start(t)
	cfg := filepath.Join(t.TempDir(), "config")
	base, _ := os.ReadFile(s.Config)
	text := string(base) + fmt.Sprintf(`
Host inner
  HostName %s
  Port %d
  User %s
  IdentityFile %s
  UserKnownHostsFile %s
  ProxyJump %s
`, s.Host, s.Port, s.User, s.UserKey, s.KnownHosts, sshtest.Alias)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var dialed []string
	g := gw(t, s)
	g.Host, g.ConfigFile = "inner", cfg
	g.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	handshake(t, open(t, g))
	if len(dialed) != 1 {
		t.Errorf("dialled %v; want only the jump host", dialed)
	}
	if n := s.Connections(); n != 2 {
		t.Errorf("sshd logged %d connections; want 2 (the jump and, through it, the target)", n)
	}
	if !strings.Contains(s.LogText(), "direct-tcpip") && !strings.Contains(s.LogText(), "port forward") {
		t.Logf("sshd log does not mention the forward:\n%s", s.LogText())
	}
}

// chdir=, env: and nice= reach the agent, with a space and shell
// metacharacters quoted on the way.
func TestSSHChdirEnvNice(t *testing.T) {
	s := sshtest.Start(t)
	g := gw(t, s)
	g.Chdir = "~/work dir/$x"
	g.Env = append(g.Env, `FOO=a b'c"$HOME`)
	g.Nice = 5
	_, _, info := handshake(t, open(t, g))
	if want := filepath.Join(s.Home, "work dir", "$x"); info.Dir != want {
		t.Errorf("got cwd %q; want %q", info.Dir, want)
	}
	if want := `a b'c"$HOME`; info.Foo != want {
		t.Errorf("got FOO=%q; want %q", info.Foo, want)
	}
	if info.Nice != 5 {
		t.Errorf("got niceness %d; want 5", info.Nice)
	}

	abs := filepath.Join(t.TempDir(), "abs")
	g2 := gw(t, s)
	g2.Chdir = abs
	if _, _, info := handshake(t, open(t, g2)); info.Dir != abs {
		t.Errorf("got cwd %q; want %q", info.Dir, abs)
	}
}

// With a run named, the agent claims its workspace: chdir= for the first
// run, a sibling for a second run at the same time, with the shared store
// written down in it; a relative chdir= is from the login directory, as
// without a run.
func TestSSHRunClaimsWorkspace(t *testing.T) {
	s := sshtest.Start(t)
	open := func(chdir, run string) stubInfo {
		g := gw(t, s)
		g.Chdir, g.Run, g.Store = chdir, run, "~/objects"
		rwc, err := g.Open(t.Context())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { rwc.Close() })
		_, _, info := handshake(t, rwc)
		return info
	}
	base := filepath.Join(s.Home, "work/mod-1")
	if info := open("~/work/mod-1", "run-a"); info.Dir != base {
		t.Errorf("run-a: got cwd %q; want %q", info.Dir, base)
	}
	if info := open("~/work/mod-1", "run-a"); info.Dir != base {
		t.Errorf("run-a's second agent: got cwd %q; want %q", info.Dir, base)
	}
	if info := open("~/work/mod-1", "run-b"); info.Dir != base+".1" {
		t.Errorf("run-b at the same time: got cwd %q; want %q", info.Dir, base+".1")
	}
	if b, err := os.ReadFile(filepath.Join(base, ".covdist-store")); err != nil || strings.TrimSpace(string(b)) != filepath.Join(s.Home, "objects") {
		t.Errorf("store marker: got %q, %v; want %s", b, err, filepath.Join(s.Home, "objects"))
	}

	login := open(".", "").Dir
	want := filepath.Join(t.TempDir(), "rel")
	rel, err := filepath.Rel(login, want)
	if err != nil {
		t.Fatal(err)
	}
	if info := open(rel, "run-c"); info.Dir != want {
		t.Errorf("chdir=%s from %s: got cwd %q; want %q", rel, login, info.Dir, want)
	}
}

// waitLost reads from conn until it fails and checks that it fails with a
// lost-connection error within limit.
func waitLost(t *testing.T, conn *wire.Conn, limit time.Duration) {
	t.Helper()
	start := time.Now()
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
		t.Logf("stream failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "lost") {
			t.Errorf("got %v; want an error saying the connection was lost", err)
		}
	case <-time.After(limit):
		t.Fatalf("stream still open %v after the host went away", limit)
	}
}

// A host that crashes (sshd and its sessions killed) fails the stream at
// once; one that hangs (stopped, TCP still open) fails it through the
// keepalives within about 10 s.
func TestSSHHostGoesAway(t *testing.T) {
	tests := []struct {
		name  string
		kill  func(*sshtest.Server)
		limit time.Duration
	}{
		{"killed", (*sshtest.Server).Kill, 3 * time.Second},
		{"frozen", (*sshtest.Server).Freeze, 14 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sshtest.Start(t)
			conn, _, _ := handshake(t, open(t, gw(t, s)))
			tt.kill(s)
			waitLost(t, conn, tt.limit)
		})
	}
}

// A host behind a link that is cut mid-run (sshd in a network namespace,
// its veth taken down) is detected by the keepalives within about 10 s.
func TestSSHLinkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: takes about 10 s")
	}
	s := sshtest.StartWith(t, sshtest.Options{Netns: true})
	conn, _, _ := handshake(t, open(t, gw(t, s)))
	s.LinkDown(t)
	waitLost(t, conn, 14*time.Second)
}

// Cancelling the context given to Open ends the agent.
func TestSSHContextCancel(t *testing.T) {
	s := sshtest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	rwc, err := gw(t, s).Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, hello, _ := handshake(t, rwc)
	cancel()
	errc := make(chan error, 1)
	go func() {
		_, _, err := conn.Recv()
		errc <- err
	}()
	select {
	case <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5s after its context was cancelled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for processExists(hello.PID) {
		if time.Now().After(deadline) {
			t.Fatalf("agent pid %d still running after cancel", hello.PID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// The config is read the way ssh reads it.
func TestResolveHost(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "/agent.sock")
	cfg := filepath.Join(home, "config")
	text := `Host web
  HostName web.example.com
  User deploy
  IdentityFile ~/.ssh/%h_%r
  ProxyJump bastion,jump@gw2:2200
  IdentityAgent none

Host *.internal
  HostName %h.corp
  Port 2222
  HostKeyAlias internal-key

Host proxied
  ProxyCommand nc %h %p

Host *
  User fallback
  UserKnownHostsFile ~/kh1 /etc/kh2
`
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		alias      string
		user       string
		port       int
		wantName   string
		wantIDs    []string
		wantJumps  []string
		wantKH     string
		wantAgent  string
		wantErr    string
		knownHosts []string
	}{
		{name: "alias", alias: "web", wantName: "deploy@web.example.com:22",
			wantIDs: []string{home + "/.ssh/web.example.com_deploy"}, wantJumps: []string{"bastion", "jump@gw2:2200"},
			wantKH: "web.example.com", wantAgent: ""},
		{name: "spec overrides", alias: "web", user: "me", port: 2200, wantName: "me@web.example.com:2200",
			wantIDs: []string{home + "/.ssh/web.example.com_me"}, wantKH: "[web.example.com]:2200"},
		{name: "pattern", alias: "db.internal", wantName: "fallback@db.internal.corp:2222", wantKH: "internal-key",
			wantIDs: []string{home + "/.ssh/id_rsa", home + "/.ssh/id_ecdsa", home + "/.ssh/id_ed25519"}, wantAgent: "/agent.sock"},
		{name: "proxycommand", alias: "proxied", wantErr: "ProxyCommand, which covdist's ssh client does not run; use ProxyJump, or reach the host through OpenSSH's ssh with --tx 'pipe=ssh -F " + cfg + " proxied'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &SSH{Host: tt.alias, User: tt.user, Port: tt.port, ConfigFile: cfg}
			tg, err := g.resolve()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.name(); got != tt.wantName {
				t.Errorf("got %s; want %s", got, tt.wantName)
			}
			if got := strings.Join(tg.identities, " "); got != strings.Join(tt.wantIDs, " ") {
				t.Errorf("got identities %s; want %s", got, strings.Join(tt.wantIDs, " "))
			}
			if tt.wantJumps != nil && strings.Join(tg.jumps, ",") != strings.Join(tt.wantJumps, ",") {
				t.Errorf("got jumps %v; want %v", tg.jumps, tt.wantJumps)
			}
			if got := tg.knownHostsName(); got != tt.wantKH {
				t.Errorf("got known_hosts name %s; want %s", got, tt.wantKH)
			}
			if got, want := strings.Join(tg.knownHosts, " "), home+"/kh1 /etc/kh2 /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"; got != want {
				t.Errorf("got known_hosts files %s; want %s", got, want)
			}
			if tt.wantAgent != "" || tt.alias == "web" {
				if tg.identityAgent != tt.wantAgent {
					t.Errorf("got agent %q; want %q", tg.identityAgent, tt.wantAgent)
				}
			}
		})
	}
}

func TestGoPlatform(t *testing.T) {
	tests := []struct{ uname, want string }{
		{"Linux x86_64", "linux/amd64"},
		{"Linux aarch64", "linux/arm64"},
		{"Darwin arm64", "darwin/arm64"},
		{"Linux armv7l", "linux/arm"},
		{"FreeBSD amd64", "freebsd/amd64"},
		{"Plan9 x", ""},
	}
	for _, tt := range tests {
		goos, goarch, err := goPlatform(tt.uname)
		got := ""
		if err == nil {
			got = goos + "/" + goarch
		}
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("goPlatform(%q) = %q, %v; want %q", tt.uname, got, err, tt.want)
		}
	}
}

func TestSSHString(t *testing.T) {
	tests := []struct {
		g    SSH
		want string
	}{
		{SSH{Host: "h"}, "ssh=h"},
		{SSH{Host: "h", User: "u", Port: 2222}, "ssh=u@h:2222"},
		{SSH{Host: "::1", Port: 22}, "ssh=[::1]:22"},
	}
	for _, tt := range tests {
		if got := tt.g.String(); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
}
