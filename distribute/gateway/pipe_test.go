package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
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
