// Package gateway owns the ways covdist reaches an agent: each gateway
// starts a `covdist agent` somewhere and returns the byte stream to it.
// Gateways know nothing of tests or coverage.
package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Popen starts an agent as a local child process.
type Popen struct {
	// Path is the covdist executable; Args follow it (normally "agent").
	Path string
	Args []string
	Env  []string // added to the environment
	Dir  string
	// Name is how the gateway is shown ("popen").
	Name string
}

// Open starts the agent and returns a stream over its stdin and stdout.
// Closing the stream ends the agent and waits for it.
func (p *Popen) Open(ctx context.Context) (io.ReadWriteCloser, error) {
	if p.Dir != "" {
		// A missing directory would read as the executable missing:
		// fork/exec reports the failed chdir under the program's name.
		if fi, err := os.Stat(p.Dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("chdir=%s: not a directory here (%v)", p.Dir, err)
		}
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.Env...)
	return startStream(ctx, cmd)
}

// startStream starts cmd and returns a stream over its stdin and stdout;
// its stderr is kept for error messages. Closing the stream ends it.
func startStream(ctx context.Context, cmd *exec.Cmd) (io.ReadWriteCloser, error) {
	if err := budget.take(); err != nil {
		return nil, err
	}
	s, err := startPiped(cmd)
	if err != nil {
		budget.give()
		return nil, fmt.Errorf("starting agent %s: %w%s", cmd.Path, err, resourceHint(err))
	}
	go func() {
		s.waitErr = cmd.Wait()
		budget.give() // Wait closed the pipes
		close(s.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			// Closing stdin lets the agent end its test process group
			// itself; the agent is killed only if it does not exit.
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// startPiped starts cmd with its pipes, one start at a time (see agentBudget),
// and leaves no descriptor open when it fails.
func startPiped(cmd *exec.Cmd) (*proc, error) {
	budget.start.Lock()
	defer budget.start.Unlock()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	s := &proc{cmd: cmd, stdin: stdin, stdout: stdout, done: make(chan struct{})}
	cmd.Stderr = &s.stderr
	// Its own process group, so a Ctrl-C in the terminal reaches the
	// coordinator alone, which then ends each agent deliberately.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A failed Start closes the pipes' descriptors itself.
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Popen) String() string {
	if p.Name != "" {
		return p.Name
	}
	return "popen"
}

type proc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  lockedBuffer
	done    chan struct{}
	waitErr error
	once    sync.Once
}

func (s *proc) Read(b []byte) (int, error) {
	n, err := s.stdout.Read(b)
	if err == io.EOF {
		<-s.done
		if s.waitErr != nil {
			return n, fmt.Errorf("agent exited: %v%s", s.waitErr, s.stderr.tail())
		}
	}
	return n, err
}

func (s *proc) Write(b []byte) (int, error) { return s.stdin.Write(b) }

func (s *proc) kill() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Close ends the agent: its stdin closes, so an idle agent exits by itself;
// one that does not within two seconds is killed with its process group.
func (s *proc) Close() error {
	s.once.Do(func() {
		s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			s.kill()
			<-s.done
		}
	})
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	if s == "" {
		return ""
	}
	return "; its stderr: " + s
}
