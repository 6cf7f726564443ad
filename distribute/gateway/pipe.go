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
	"path"
	"runtime"
	"strings"
	"sync"
)

// Pipe reaches an agent through any command that runs its arguments
// somewhere else and connects their stdin and stdout: `kubectl exec -i POD --`,
// `docker exec -i CONTAINER`, `nomad alloc exec -i ID`, or `ssh HOST` (for
// what only OpenSSH's own client does, such as a ProxyCommand). Nothing
// needs to be installed there but a POSIX shell: the agent is uploaded
// through the same command, once, into a cache named by its content hash.
type Pipe struct {
	// Command is the prefix, as a shell command line; covdist appends
	// `sh -c SCRIPT` to it.
	Command string
	// Chdir is the agent's working directory there (its workspace): "~"
	// and a relative path start at the far side's home, as for ssh=;
	// default ~/.cache/covdist/work.
	Chdir string
	// Run and Store are as SSH's: the run the agent claims Chdir for, and
	// a content store shared with other workspaces.
	Run   string
	Store string
	// AgentBinary is the covdist executable to upload; default os.Executable().
	AgentBinary string
	// AgentFor gives the agent for a far side of another GOOS/GOARCH (see
	// SSH.AgentFor).
	AgentFor AgentSource
	Env      []string
	Nice     int
}

// pipeInstalls remembers, per pipe command, where its agent is, so workers
// behind one command upload it once, one at a time.
var pipeInstalls struct {
	sync.Mutex
	path     map[string]string
	platform map[string]string // GOOS/GOARCH, once probed
}

func (p *Pipe) String() string { return "pipe=" + p.Command }

// pipeQuote quotes s for a POSIX shell.
func pipeQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pipePath quotes p, a path on the far side, for sh there: "~" and a
// relative path are the far side's home, which need not be where the
// command starts.
func pipePath(p string) string {
	switch {
	case p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + pipeQuote(p[2:])
	case strings.HasPrefix(p, "/"):
		return pipeQuote(p)
	}
	return `"$HOME"/` + pipeQuote(p)
}

// pipeDir is the agent's working directory as a word for sh on the far
// side: chdir as pipePath has it, or, when it starts with "$", as written
// (chdir=$TMPDIR/ci), or by default ~/.cache/covdist/work.
func pipeDir(chdir string) string {
	switch {
	case chdir == "":
		return pipePath(DefaultChdir)
	case strings.HasPrefix(chdir, "$"):
		return `"` + chdir + `"`
	}
	return pipePath(chdir)
}

// through runs script on the far side of the pipe command, appending
// `sh -c SCRIPT` to it. Most such commands (kubectl exec, docker exec) run
// their arguments as an argv; ssh instead joins them into one command line
// for the remote shell, which would split the script anew, so for ssh the
// whole goes as one word quoted for that shell.
func (p *Pipe) through(ctx context.Context, script string) *exec.Cmd {
	remote := "sh -c " + pipeQuote(script)
	if joinsArgs(p.Command) {
		remote = pipeQuote(remote)
	}
	return exec.CommandContext(ctx, "/bin/sh", "-c", p.Command+" "+remote)
}

// joinsArgs reports whether the command line's program is one that joins
// its arguments into a remote shell's command line: ssh (or autossh), once
// leading NAME=VALUE words and env with its options and NAME=VALUE words
// are passed over.
func joinsArgs(command string) bool {
	words := shellWords(command)
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "=") {
		words = words[1:]
	}
	if len(words) > 0 && path.Base(words[0]) == "env" {
		words = words[1:]
		for len(words) > 0 && (strings.HasPrefix(words[0], "-") || strings.Contains(words[0], "=")) {
			if (words[0] == "-u" || words[0] == "-C") && len(words) > 1 {
				words = words[1:] // the option's argument
			}
			words = words[1:]
		}
	}
	if len(words) == 0 {
		return false
	}
	switch path.Base(words[0]) {
	case "ssh", "autossh":
		return true
	}
	return false
}

// shellWords splits the start of a shell command line into words, with
// quotes and backslashes taken as sh takes them, stopping at the first
// operator (; | & < > and the like): enough to tell its program.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	in, have := byte(0), false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case in == '\'':
			if c == '\'' {
				in = 0
			} else {
				w.WriteByte(c)
			}
		case in == '"':
			switch {
			case c == '"':
				in = 0
			case c == '\\' && i+1 < len(line) && strings.IndexByte("$`\"\\\n", line[i+1]) >= 0:
				i++
				w.WriteByte(line[i])
			default:
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			in, have = c, true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			have = true
		case c == ' ' || c == '\t' || c == '\n':
			if have {
				words = append(words, w.String())
				w.Reset()
				have = false
			}
		case strings.IndexByte(";|&<>()", c) >= 0:
			if have {
				words = append(words, w.String())
			}
			return words
		default:
			w.WriteByte(c)
			have = true
		}
	}
	if have {
		words = append(words, w.String())
	}
	return words
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
	goos, goarch, err := p.platform(ctx)
	if err != nil {
		return "", err
	}
	local, err := p.agentBinary()
	if err != nil {
		return "", err
	}
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		if local, err = foreignAgent(ctx, p.AgentFor, goos, goarch, p.String()); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return "", fmt.Errorf("reading the agent to upload: %w", err)
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	dir := "$HOME/.cache/covdist/agents/" + hexSum[:24]
	probe := p.through(ctx, agentPresent(`"`+dir+`/covdist"`, int64(len(data))))
	var out, stderr bytes.Buffer
	probe.Stdout, probe.Stderr = &out, &stderr
	if err := probe.Run(); err != nil {
		return "", fmt.Errorf("%s: running the pipe command: %v; %s", p, err, strings.TrimSpace(stderr.String()))
	}
	if strings.TrimSpace(out.String()) != "present" {
		up := p.through(ctx, agentUpload(`"`+dir+`"`, int64(len(data)), hexSum))
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

// Platform probes the far side's GOOS/GOARCH (`uname -sm`), once per pipe
// command.
func (p *Pipe) Platform(ctx context.Context) (goos, goarch string, err error) {
	pipeInstalls.Lock()
	defer pipeInstalls.Unlock()
	return p.platform(ctx)
}

// platform is Platform with pipeInstalls held.
func (p *Pipe) platform(ctx context.Context) (goos, goarch string, err error) {
	if pl, ok := pipeInstalls.platform[p.Command]; ok {
		goos, goarch, _ = strings.Cut(pl, "/")
		return goos, goarch, nil
	}
	probe := p.through(ctx, `uname -sm`)
	var out, stderr bytes.Buffer
	probe.Stdout, probe.Stderr = &out, &stderr
	if err := probe.Run(); err != nil {
		return "", "", fmt.Errorf("%s: running the pipe command: %v; %s", p, err, strings.TrimSpace(stderr.String()))
	}
	if goos, goarch, err = goPlatform(strings.TrimSpace(out.String())); err != nil {
		return "", "", fmt.Errorf("%s: probing the platform: ran `%s`: %w; all it printed was %q on stdout and %q on stderr "+
			"(a pipe command must run the words after it, here `sh -c 'uname -sm'`, on the far side)",
			p, probe.Args[2], err, out.String(), stderr.String())
	}
	if pipeInstalls.platform == nil {
		pipeInstalls.platform = make(map[string]string)
	}
	pipeInstalls.platform[p.Command] = goos + "/" + goarch
	return goos, goarch, nil
}

// Open starts an agent on the far side and returns the stream to it.
func (p *Pipe) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	agent, err := p.install(ctx)
	if err != nil {
		return nil, err
	}
	dir := pipeDir(p.Chdir)
	script := `set -e; mkdir -p ` + dir + `; cd ` + dir + `; exec `
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
	if p.Run != "" {
		script += " --workspace " + dir + " --run " + pipeQuote(p.Run)
		if p.Store != "" {
			script += " --store " + pipePath(p.Store)
		}
	}
	cmd := p.through(context.Background(), script)
	return startStream(ctx, cmd)
}
