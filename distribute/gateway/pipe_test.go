package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/covdist/covdist/internal/sshtest"
)

// pipeTo is a pipe= gateway whose far side is this machine with HOME at
// home, running the stub agent of ssh_test.go.
func pipeTo(t *testing.T, home string) *Pipe {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Pipe{Command: "env HOME=" + pipeQuote(home), AgentBinary: bin, Env: []string{stubEnv + "=1"}}
}

// chdir= is where the agent works: "~" is the far side's home, as for ssh=,
// and so is the start of a relative path.
func TestPipeChdir(t *testing.T) {
	home := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs")
	tests := []struct{ chdir, want string }{
		{"", filepath.Join(home, ".cache/covdist/work")},
		{"~", home},
		{"~/wk", filepath.Join(home, "wk")},
		{"~/a dir/$x", filepath.Join(home, "a dir", "$x")},
		{"rel/dir", filepath.Join(home, "rel/dir")},
		{"$HOME/viavar", filepath.Join(home, "viavar")},
		{abs, abs},
	}
	for _, tt := range tests {
		t.Run(tt.chdir, func(t *testing.T) {
			p := pipeTo(t, home)
			p.Chdir = tt.chdir
			rwc, err := p.Open(t.Context())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rwc.Close()
			if _, _, info := handshake(t, rwc); info.Dir != tt.want {
				t.Errorf("chdir=%s: got cwd %q; want %q", tt.chdir, info.Dir, tt.want)
			}
		})
	}
}

// An upload cut short (here: the command passes on only the first 100 kB
// of its stdin, as an interrupted one does) installs nothing: the next run
// uploads the agent again rather than running a truncated one forever.
func TestPipeUploadCutShortInstallsNothing(t *testing.T) {
	home := t.TempDir()
	cut := pipeTo(t, home)
	cut.Command = "head -c 100000 | " + cut.Command
	if rwc, err := cut.Open(t.Context()); err == nil {
		rwc.Close()
		t.Fatal("got an agent through a command that cut its upload short; want an error")
	}
	if m, _ := filepath.Glob(filepath.Join(home, ".cache/covdist/agents/*/covdist")); len(m) != 0 {
		t.Fatalf("got %q installed; want nothing under the agent's name", m)
	}
	rwc, err := pipeTo(t, home).Open(t.Context())
	if err != nil {
		t.Fatalf("Open after the cut upload: %v", err)
	}
	defer rwc.Close()
	handshake(t, rwc)
}

// A cached agent of the wrong size (cut short by an older covdist, which
// did not check) is replaced, not run.
func TestPipeReplacesTruncatedAgent(t *testing.T) {
	home := t.TempDir()
	p := pipeTo(t, home)
	data, err := os.ReadFile(p.AgentBinary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	cached := filepath.Join(home, ".cache/covdist/agents", hex.EncodeToString(sum[:12]), "covdist")
	os.MkdirAll(filepath.Dir(cached), 0o755)
	if err := os.WriteFile(cached, data[:len(data)/3], 0o755); err != nil {
		t.Fatal(err)
	}
	rwc, err := p.Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rwc.Close()
	handshake(t, rwc)
	if fi, err := os.Stat(cached); err != nil || fi.Size() != int64(len(data)) {
		t.Errorf("cached agent: got %v, %v; want %d bytes", fi, err, len(data))
	}
}

// pipe=ssh HOST works: ssh joins its arguments into one command line for
// the remote shell, so the script must reach it as one quoted word, with
// chdir= and env: values holding spaces and quotes intact.
func TestPipeThroughSSH(t *testing.T) {
	s := sshtest.Start(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	p := pipeTo(t, s.Home)
	p.Command = "ssh -F " + pipeQuote(s.Config) + " -o BatchMode=yes " + sshtest.Alias
	p.Chdir = "~/work dir/$x"
	p.Env = append(p.Env, `FOO=a b'c"$HOME`)
	goos, goarch, err := p.Platform(t.Context())
	if err != nil || goos != runtime.GOOS || goarch != runtime.GOARCH {
		t.Fatalf("Platform: got %s/%s, %v; want %s/%s", goos, goarch, err, runtime.GOOS, runtime.GOARCH)
	}
	rwc, err := p.Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rwc.Close()
	_, _, info := handshake(t, rwc)
	if want := filepath.Join(s.Home, "work dir", "$x"); info.Dir != want {
		t.Errorf("got cwd %q; want %q", info.Dir, want)
	}
	if want := `a b'c"$HOME`; info.Foo != want {
		t.Errorf("got FOO=%q; want %q", info.Foo, want)
	}
}

// A command that does not run its arguments as given is reported with what
// was run and all that came back.
func TestPipePlatformError(t *testing.T) {
	p := &Pipe{Command: "echo Linux; echo oops >&2; true"}
	_, _, err := p.Platform(t.Context())
	if err == nil {
		t.Fatal("got a platform; want an error")
	}
	for _, want := range []string{`echo Linux; echo oops >&2; true sh -c 'uname -sm'`, `"Linux\n`, `"oops\n"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %v; want it to hold %s", err, want)
		}
	}
}

func TestJoinsArgs(t *testing.T) {
	tests := []struct {
		command string
		want    bool
	}{
		{"ssh h1", true},
		{"ssh -F '/a dir/cfg' -o BatchMode=yes h1", true},
		{"/usr/bin/ssh h1", true},
		{"env FOO=1 ssh h1", true},
		{"env -u X ssh h1", true},
		{"LC_ALL=C autossh -M 0 h1", true},
		{`"ssh" h1`, true},
		{"kubectl exec -i pod --", false},
		{"docker exec -i ci", false},
		{"env HOME=/tmp/x", false},
		{"sshwrap.sh h1", false},
		{"cd /x; ssh h1", false},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			if got := joinsArgs(tt.command); got != tt.want {
				t.Errorf("joinsArgs(%q) = %v; want %v", tt.command, got, tt.want)
			}
		})
	}
}
