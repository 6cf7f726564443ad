package gateway

import (
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
