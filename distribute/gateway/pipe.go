package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
)

// Pipe reaches an agent through any command that runs its arguments
// somewhere else and connects their stdin and stdout: `kubectl exec -i POD --`,
// `docker exec -i CONTAINER`, `nomad alloc exec -i ID`. Nothing needs to be
// installed there but a POSIX shell: the agent is uploaded through the same
// command, once, into a cache named by its content hash.
type Pipe struct {
	// Command is the prefix, as a shell command line; covdist appends
	// `sh -c SCRIPT` to it.
	Command string
	// Chdir is the agent's working directory there (its workspace);
	// default ~/.cache/covdist/work.
	Chdir string
	// AgentBinary is the covdist executable to upload; default os.Executable().
	AgentBinary string
	Env         []string
	Nice        int
}

// pipeInstalls remembers, per pipe command, where its agent is, so workers
// behind one command upload it once, one at a time.
var pipeInstalls struct {
	sync.Mutex
	path map[string]string
}

func (p *Pipe) String() string { return "pipe=" + p.Command }

// pipeQuote quotes s for a POSIX shell.
func pipeQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// through runs script on the far side of the pipe command.
func (p *Pipe) through(ctx context.Context, script string) *exec.Cmd {
	line := p.Command + " sh -c " + pipeQuote(script)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	return cmd
}

func (p *Pipe) agentBinary() (string, error) {
	if p.AgentBinary != "" {
		return p.AgentBinary, nil
	}
	return os.Executable()
}

// install makes sure the agent is there, uploading it when it is not, and
// returns its path there.
func (p *Pipe) install(ctx context.Context) (string, error) {
	pipeInstalls.Lock()
	defer pipeInstalls.Unlock()
	if path, ok := pipeInstalls.path[p.Command]; ok {
		return path, nil
	}
	local, err := p.agentBinary()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return "", fmt.Errorf("reading the agent to upload: %w", err)
	}
	sum := sha256.Sum256(data)
	dir := "$HOME/.cache/covdist/agents/" + hex.EncodeToString(sum[:12])
	probe := p.through(ctx, `uname -sm; test -x "`+dir+`/covdist" && echo have; true`)
	var out, stderr bytes.Buffer
	probe.Stdout, probe.Stderr = &out, &stderr
	if err := probe.Run(); err != nil {
		return "", fmt.Errorf("%s: running the pipe command: %v; %s", p, err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	goos, goarch := unameToGo(lines[0])
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		return "", fmt.Errorf("%s: the far side is %s/%s (uname %q) but this covdist is %s/%s: install a covdist agent built for it there", p, goos, goarch, lines[0], runtime.GOOS, runtime.GOARCH)
	}
	if len(lines) < 2 || lines[len(lines)-1] != "have" {
		// A temporary name of its own and a rename: another coordinator
		// uploading at the same time never sees, nor runs, a partial file.
		up := p.through(ctx, `set -e; mkdir -p "`+dir+`"; t="`+dir+`/covdist.tmp.$$"; cat > "$t"; chmod 755 "$t"; mv -f "$t" "`+dir+`/covdist"`)
		up.Stdin = bytes.NewReader(data)
		stderr.Reset()
		up.Stderr = &stderr
		if err := up.Run(); err != nil {
			return "", fmt.Errorf("%s: uploading the agent: %v; %s", p, err, strings.TrimSpace(stderr.String()))
		}
	}
	if pipeInstalls.path == nil {
		pipeInstalls.path = make(map[string]string)
	}
	pipeInstalls.path[p.Command] = dir + "/covdist"
	return dir + "/covdist", nil
}

// Open starts an agent on the far side and returns the stream to it.
func (p *Pipe) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	agent, err := p.install(ctx)
	if err != nil {
		return nil, err
	}
	chdir := p.Chdir
	if chdir == "" {
		chdir = "$HOME/.cache/covdist/work"
	} else if !strings.HasPrefix(chdir, "/") && !strings.HasPrefix(chdir, "$") {
		chdir = "$HOME/" + chdir
	}
	script := `set -e; mkdir -p "` + chdir + `"; cd "` + chdir + `"; exec `
	if p.Nice != 0 {
		script += fmt.Sprintf("nice -n %d ", p.Nice)
	}
	if len(p.Env) > 0 {
		script += "env"
		for _, e := range p.Env {
			script += " " + pipeQuote(e)
		}
		script += " "
	}
	script += `"` + agent + `" agent`
	cmd := p.through(context.Background(), script)
	return startStream(ctx, cmd)
}

// unameToGo maps `uname -sm` output to GOOS/GOARCH.
func unameToGo(uname string) (goos, goarch string) {
	f := strings.Fields(uname)
	if len(f) < 2 {
		return "unknown", "unknown"
	}
	goos = strings.ToLower(f[0])
	switch f[1] {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64":
		goarch = "arm64"
	case "i386", "i486", "i586", "i686":
		goarch = "386"
	case "armv7l", "armv6l":
		goarch = "arm"
	case "riscv64":
		goarch = "riscv64"
	case "ppc64le":
		goarch = "ppc64le"
	case "s390x":
		goarch = "s390x"
	default:
		goarch = f[1]
	}
	return goos, goarch
}
