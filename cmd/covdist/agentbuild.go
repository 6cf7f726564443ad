package main

// Agents for remotes of another GOOS/GOARCH: covdist cross-compiles itself
// from its own source, once per platform and covdist executable, and keeps
// the result in the user cache dir. A remote of the coordinator's platform
// is sent the coordinator's own executable and never needs this.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/covdist/covdist/internal/timeline"
)

// selfModule is covdist's module path, as its go.mod says.
const selfModule = "github.com/covdist/covdist"

// agentBuilder builds and caches covdist agents for other platforms.
type agentBuilder struct {
	self     string       // this covdist executable
	cacheDir string       // where built agents are kept
	say      func(string) // tells the user about a build (it takes a while)
	getenv   func(string) string
	timeline *timeline.Recorder // shows the time a worker waits for its agent

	mu     sync.Mutex
	builds map[string]*agentBuild // by GOOS/GOARCH
}

type agentBuild struct {
	done chan struct{}
	path string
	err  error
}

func newAgentBuilder(self string, say func(string)) *agentBuilder {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return &agentBuilder{self: self, cacheDir: filepath.Join(dir, "covdist", "agents"), say: say,
		getenv: os.Getenv, builds: make(map[string]*agentBuild)}
}

// For returns a covdist executable for goos/goarch: one built before by this
// same covdist executable, else one built now. Concurrent callers for one
// platform share one build.
func (b *agentBuilder) For(ctx context.Context, goos, goarch string) (string, error) {
	key := goos + "/" + goarch
	b.mu.Lock()
	bd := b.builds[key]
	if bd == nil {
		bd = &agentBuild{done: make(chan struct{})}
		b.builds[key] = bd
		b.mu.Unlock()
		building := b.timeline.Begin("coordinator", "agent for "+key, "setup")
		bd.path, bd.err = b.build(ctx, goos, goarch)
		if bd.err != nil {
			building.End(map[string]any{"error": bd.err.Error()})
		} else {
			building.End(map[string]any{"path": bd.path})
		}
		close(bd.done)
	} else {
		b.mu.Unlock()
		select {
		case <-bd.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return bd.path, bd.err
}

func (b *agentBuilder) build(ctx context.Context, goos, goarch string) (string, error) {
	// Keyed by this executable's content: a rebuilt covdist builds its
	// agents anew, so an agent is always the coordinator's own code.
	selfSum, err := sha256File(b.self)
	if err != nil {
		return "", fmt.Errorf("hashing the covdist executable: %w", err)
	}
	out := filepath.Join(b.cacheDir, selfSum[:24], goos+"_"+goarch, "covdist")
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, nil
	}
	src, how, err := b.source(ctx)
	if err != nil {
		return "", fmt.Errorf("building a covdist agent for %s/%s: %w", goos, goarch, err)
	}
	b.say(fmt.Sprintf("building a covdist agent for %s/%s from %s (once; kept in %s)", goos, goarch, how, filepath.Dir(out)))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "covdist.tmp.*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", tmp.Name(), "./cmd/covdist")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building a covdist agent for %s/%s in %s: %v\n%s", goos, goarch, src, err, strings.TrimSpace(stderr.String()))
	}
	// A rename: a covdist running beside this one sees the whole agent or none.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// source finds covdist's source: the module directory this executable was
// built in when it is still there (a checkout, go build or go install from
// it), else the module cache's copy of the released version it was
// installed at (go install ...@vX, go tool). It says which.
func (b *agentBuilder) source(ctx context.Context) (dir, how string, err error) {
	if d := b.getenv("COVDIST_SOURCE"); d != "" {
		if !isSelfModule(d) {
			return "", "", fmt.Errorf("COVDIST_SOURCE=%s is not covdist's module (no go.mod of %s there)", d, selfModule)
		}
		return d, "COVDIST_SOURCE=" + d, nil
	}
	// Built without -trimpath, this file's name is where its module was.
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if isSelfModule(d) {
			return d, "its source in " + d, nil
		}
	}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Path == selfModule && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v := selfModule + "@" + bi.Main.Version
		cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", v)
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", "", fmt.Errorf("downloading %s: %v\n%s", v, err, strings.TrimSpace(stderr.String()))
		}
		var m struct{ Dir, Error string }
		if err := json.Unmarshal(stdout.Bytes(), &m); err != nil || m.Dir == "" {
			return "", "", fmt.Errorf("downloading %s: %s", v, m.Error)
		}
		return m.Dir, v, nil
	}
	return "", "", errors.New("covdist's source is not at hand (this executable was built with -trimpath, or its checkout moved): " +
		"set COVDIST_SOURCE to a covdist checkout of the same version, or install covdist with go install " + selfModule + "/cmd/covdist@VERSION")
}

// isSelfModule tells whether dir holds covdist's go.mod.
func isSelfModule(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == selfModule {
			return true
		}
	}
	return false
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
