// Package sshtest starts a real OpenSSH sshd for tests: on loopback, or
// inside a network namespace of its own so that a test can cut its link.
// Each server has its own host key, user key, authorized_keys, client
// ssh_config and known_hosts, all under the test's temporary directory, and
// is stopped when the test ends.
//
// sshd comes from Debian's openssh-server. When it is missing, the harness
// installs it with apt-get if it runs as root; if it still cannot be had,
// the test fails under CI=true and is skipped otherwise.
//
// Package sshtest imports no covdist package; only tests import it.
package sshtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// SSHD is where Debian installs sshd, which must be started by absolute path.
const SSHD = "/usr/sbin/sshd"

// Alias is the Host name under which Server.Config reaches the server.
const Alias = "sshtest"

// Options adjust a server.
type Options struct {
	// MaxSessions is sshd's limit of sessions per connection; 0 keeps
	// sshd's default (10).
	MaxSessions int
	// Netns starts sshd in a network namespace of its own, reached over a
	// veth pair; Server.LinkDown then cuts the link.
	Netns bool
	// Behind, with Netns, links the namespace to Behind's namespace
	// instead of to this one: the server is then reachable only through
	// Behind (as a jump host), as a host on a private network is.
	Behind *Server
	// Arch makes the host one of another architecture (only "arm64" for
	// now): sshd runs in a user and mount namespace of its own where
	// `uname -m` names that machine and a binfmt_misc of the namespace's
	// own runs its ELF binaries under qemu-user, so nothing but this
	// server sees either. It needs Linux 6.7 or later, for binfmt_misc
	// in a user namespace.
	Arch string
}

// archs are the foreign architectures a Server can be: the qemu-user
// emulator, `uname -m`'s name, and the binfmt_misc magic and mask of the
// machine's ELF executables (as qemu's own binfmt configuration has them).
var archs = map[string]struct{ qemu, machine, magic, mask string }{
	"arm64": {"qemu-aarch64", "aarch64",
		`\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`,
		`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`},
}

// Server is a running sshd.
type Server struct {
	Host string // the address sshd listens on
	Port int
	User string // the local user, whom the server lets in with UserKey

	Dir        string // everything of this server lives here
	Home       string // HOME of the sessions (sshd's SetEnv), so remote caches stay in Dir
	HostKey    string // the host's private key; HostKey+".pub" is public
	UserKey    string // the client's private key, unencrypted, in authorized_keys
	KnownHosts string // a known_hosts file that vouches for HostKey
	Config     string // a client ssh_config: Host Alias with HostName, Port, User, IdentityFile, UserKnownHostsFile
	Log        string // sshd's log (LogLevel VERBOSE)

	cmd    *exec.Cmd
	netns  string // the namespace, when Options.Netns
	hostIf string // the host's end of the veth pair
	done   chan struct{}
	stop   sync.Once
}

// Require returns the path of sshd, installing openssh-server with apt-get
// when it is missing and the test runs as root. When sshd cannot be had, it
// fails the test under CI=true and skips it otherwise.
func Require(t testing.TB) string {
	t.Helper()
	installOnce.Do(func() {
		if _, err := os.Stat(SSHD); err == nil || os.Geteuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		cmd := exec.Command("apt-get", "install", "-y", "openssh-server")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Sprintf("apt-get install -y openssh-server: %v\n%s", err, tail(out))
		}
	})
	if _, err := os.Stat(SSHD); err != nil {
		msg := fmt.Sprintf("OpenSSH sshd is not installed at %s (install Debian's openssh-server)", SSHD)
		if installErr != "" {
			msg += "; " + installErr
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, tool := range []string{"ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (Debian's openssh-client)", tool)
			}
			t.Skipf("%s is not installed (Debian's openssh-client)", tool)
		}
	}
	return SSHD
}

var (
	installOnce sync.Once
	installErr  string
)

// Keygen writes a new ed25519 key pair at path and path+".pub", encrypted
// with passphrase unless it is empty, and returns the public key line.
func Keygen(t testing.TB, path, passphrase string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "sshtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -f %s: %v\n%s", path, err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

// Start starts sshd on 127.0.0.1 at a free port.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts sshd with opt.
func StartWith(t testing.TB, opt Options) *Server {
	t.Helper()
	sshd := Require(t)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatalf("creating sshd's privilege separation directory: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{
		Host:       "127.0.0.1",
		User:       u.Username,
		Dir:        dir,
		Home:       filepath.Join(dir, "home"),
		HostKey:    filepath.Join(dir, "ssh_host_ed25519_key"),
		UserKey:    filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Config:     filepath.Join(dir, "ssh_config"),
		Log:        filepath.Join(dir, "sshd.log"),
		done:       make(chan struct{}),
	}
	if err := os.MkdirAll(s.Home, 0o755); err != nil {
		t.Fatal(err)
	}
	hostPub := Keygen(t, s.HostKey, "")
	userPub := Keygen(t, s.UserKey, "")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(userPub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if opt.Netns {
		s.setupNetns(t, opt.Behind)
		s.Port = 22
	} else {
		s.Port = freePort(t)
	}

	cfg := fmt.Sprintf(`ListenAddress %s
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile %s
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
SetEnv HOME=%s
LogLevel VERBOSE
`, s.Host, s.Port, s.HostKey, filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"), s.Home)
	if opt.MaxSessions > 0 {
		cfg += fmt.Sprintf("MaxSessions %d\n", opt.MaxSessions)
	}
	sshdConfig := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(sshdConfig, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	hostport := s.Host
	if s.Port != 22 {
		hostport = fmt.Sprintf("[%s]:%d", s.Host, s.Port)
	}
	if err := os.WriteFile(s.KnownHosts, []byte(hostport+" "+hostPub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf(`Host %s
  HostName %s
  Port %d
  User %s
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
`, Alias, s.Host, s.Port, s.User, s.UserKey, s.KnownHosts)
	if err := os.WriteFile(s.Config, []byte(client), 0o644); err != nil {
		t.Fatal(err)
	}

	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{sshd, "-D", "-e", "-f", sshdConfig}
	if s.netns != "" {
		args = append([]string{"ip", "netns", "exec", s.netns}, args...)
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if opt.Arch != "" {
		args = s.foreignArch(t, opt, args, attr)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	s.cmd.SysProcAttr = attr
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting sshd: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("sshd log %s:\n%s", s.Log, s.LogText())
		}
	})
	s.waitReady(t)
	return s
}

// foreignArch wraps the sshd command line so that it runs as a host of
// opt.Arch, and sets up attr for the namespaces it needs.
func (s *Server) foreignArch(t testing.TB, opt Options, args []string, attr *syscall.SysProcAttr) []string {
	t.Helper()
	a, ok := archs[opt.Arch]
	if !ok {
		t.Fatalf("sshtest: no foreign architecture %q", opt.Arch)
	}
	if opt.Netns {
		t.Fatal("sshtest: Arch and Netns together are not supported")
	}
	qemu, err := exec.LookPath(a.qemu)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (apt-get install qemu-user; make test does): %v", a.qemu, err)
		}
		t.Skipf("needs %s (apt-get install qemu-user)", a.qemu)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("an sshd of another architecture needs root (for its user namespace's id mapping)")
		}
		t.Skip("an sshd of another architecture needs root")
	}
	reg := filepath.Join(s.Dir, "binfmt")
	uname := filepath.Join(s.Dir, "uname")
	// F: the kernel opens qemu now, so the namespace's view of the file
	// system does not matter when a binary runs.
	line := fmt.Sprintf(":sshtest-%s:M::%s:%s:%s:F", opt.Arch, a.magic, a.mask, qemu)
	fake := fmt.Sprintf("#!/bin/sh\n# uname of a %s host\ncase \"$1\" in\n-m) echo %s ;;\n-s|'') echo Linux ;;\n*) echo Linux %s ;;\nesac\n", opt.Arch, a.machine, a.machine)
	if err := os.WriteFile(reg, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(uname, []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := exec.LookPath("uname")
	if err != nil {
		t.Fatal(err)
	}
	if real, err = filepath.EvalSymlinks(real); err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount --make-rprivate /
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
cat "$1" > /proc/sys/fs/binfmt_misc/register
mount --bind "$2" "$3"
shift 3
exec "$@"`
	// Identity-mapped ids, so that sshd's users and files are what they
	// are outside; setgroups stays allowed for sshd's privilege separation.
	attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	attr.GidMappingsEnableSetgroups = true
	return append([]string{"/bin/sh", "-c", script, "sh", reg, uname, real}, args...)
}

// PID is sshd's process id: with Options.Arch, nsenter -t PID -U -m enters
// its namespaces as docker exec enters a container's.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// LogText returns sshd's log so far.
func (s *Server) LogText() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}

// Connections counts the TCP connections sshd accepted so far.
func (s *Server) Connections() int {
	return strings.Count(s.LogText(), "Connection from ")
}

func (s *Server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("sshd exited at start:\n%s", s.LogText())
		default:
		}
		if strings.Contains(s.LogText(), "Server listening on") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s within 15s:\n%s", s.Addr(), s.LogText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends sshd and every session process it started with SIGKILL, as a
// crashed host would; the TCP connections end with it.
func (s *Server) Kill() {
	s.stop.Do(func() {
		pids := append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// Freeze stops (SIGSTOP) sshd and its session processes: the TCP
// connections stay open but nothing answers, like a host that hangs or a
// link that drops packets. Kill still ends them.
func (s *Server) Freeze() {
	for _, pid := range append(descendants(s.cmd.Process.Pid), s.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
}

// LinkDown cuts the veth link to a server started with Options.Netns.
func (s *Server) LinkDown(t testing.TB) {
	t.Helper()
	if s.hostIf == "" {
		t.Fatal("LinkDown: the server has no network namespace")
	}
	run(t, "ip", "link", "set", s.hostIf, "down")
}

// Throttle limits what the host sends to a server started with
// Options.Netns (and no Behind) to rate, in tc's units ("20mbit"), so that
// a test can cut the link in the middle of a long transfer.
func (s *Server) Throttle(t testing.TB, rate string) {
	t.Helper()
	if s.hostIf == "" {
		t.Fatal("Throttle: the server has no network namespace")
	}
	run(t, "tc", "qdisc", "add", "dev", s.hostIf, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms")
}

var netnsSeq atomic.Int32

// setupNetns makes a namespace and a veth pair with a /30 of 10.200.0.0/16
// of its own, and points s.Host at the namespace's end.
func (s *Server) setupNetns(t testing.TB, behind *Server) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ip (Debian's iproute2) is not installed")
		}
		t.Skip("ip (Debian's iproute2) is not installed")
	}
	n := int(netnsSeq.Add(1))
	pid := os.Getpid()
	s.netns = fmt.Sprintf("covdist-sshtest-%d-%d", pid, n)
	s.hostIf = fmt.Sprintf("cvd%dh%d", pid%100000, n%100)
	nsIf := fmt.Sprintf("cvd%dn%d", pid%100000, n%100)
	// 10.200.0.0/16 holds 16384 /30s: a process gets eight of them.
	block := ((pid%2048)*8 + (n-1)%8) % 16384
	third, fourth := block/64, (block%64)*4
	hostIP := fmt.Sprintf("10.200.%d.%d", third, fourth+1)
	nsIP := fmt.Sprintf("10.200.%d.%d", third, fourth+2)
	run(t, "ip", "netns", "add", s.netns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", s.hostIf).Run()
		_ = exec.Command("ip", "netns", "del", s.netns).Run()
	})
	run(t, "ip", "link", "add", s.hostIf, "type", "veth", "peer", "name", nsIf)
	run(t, "ip", "link", "set", nsIf, "netns", s.netns)
	near := []string{"ip"} // the commands of the link's other end
	if behind != nil {
		if behind.netns == "" {
			t.Fatal("sshtest: Behind must be a server started with Netns")
		}
		run(t, "ip", "link", "set", s.hostIf, "netns", behind.netns)
		near = []string{"ip", "netns", "exec", behind.netns, "ip"}
	}
	run(t, near[0], append(near[1:], "addr", "add", hostIP+"/30", "dev", s.hostIf)...)
	run(t, near[0], append(near[1:], "link", "set", s.hostIf, "up")...)
	run(t, "ip", "netns", "exec", s.netns, "ip", "addr", "add", nsIP+"/30", "dev", nsIf)
	run(t, "ip", "netns", "exec", s.netns, "ip", "link", "set", nsIf, "up")
	run(t, "ip", "netns", "exec", s.netns, "ip", "link", "set", "lo", "up")
	s.Host = nsIP
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := make(map[int][]int)
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses; the fields
		// after the last ')' are state, then ppid.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
