package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/internal/sshtest"
)

// Remote workers end to end: the real covdist binary reaches a real sshd
// (or a covdist serve, or a pipe), uploads its agent, syncs the binaries and
// package directories, runs the tests there and brings every result and all
// coverage back.

var covdistBin struct {
	once sync.Once
	path string
	err  error
}

func buildCovdist(t testing.TB) string {
	t.Helper()
	covdistBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "covdist-e2e-bin-")
		if err != nil {
			covdistBin.err = err
			return
		}
		covdistBin.path = filepath.Join(dir, "covdist")
		out, err := exec.Command("go", "build", "-o", covdistBin.path, ".").CombinedOutput()
		if err != nil {
			covdistBin.err = fmt.Errorf("building covdist: %v\n%s", err, out)
		}
	})
	if covdistBin.err != nil {
		t.Fatal(covdistBin.err)
	}
	return covdistBin.path
}

// remoteModule writes a module whose tests read files relative to their
// package directory (so a remote run needs the sync) and one slow test.
func remoteModule(t *testing.T, slow time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/remote\n\ngo 1.22\n",
		"data/data.go": `package data

import "os"

// Load reads a file relative to the working directory.
func Load(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func Unused() int { return 1 }
`,
		"data/testdata/input.txt": "hello from testdata\n",
		"data/data_test.go": `package data

import "testing"

func TestLoad(t *testing.T) {
	s, err := Load("testdata/input.txt")
	if err != nil || s != "hello from testdata\n" {
		t.Fatalf("got %q, %v", s, err)
	}
}
`,
		"calc/calc.go": "package calc\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Slow() int { return 42 }\n",
		"calc/calc_test.go": fmt.Sprintf(`package calc

import (
	"testing"
	"time"
)

func TestAdd(t *testing.T) { if Add(1, 2) != 3 { t.Fatal("bad") } }
func TestSlow(t *testing.T) { time.Sleep(%d * time.Millisecond); Slow() }
func TestOther(t *testing.T) { Add(2, 2) }
`, slow.Milliseconds()),
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type runResult struct {
	code    int
	out     string
	stats   map[string]any
	profile *coverage.Profile
}

// runCovdist runs the covdist binary in dir with a private HOME and cache.
func runCovdist(t testing.TB, dir string, args ...string) runResult {
	t.Helper()
	return runCovdistWithin(t, 0, dir, args...)
}

// runCovdistWithin is runCovdist for a run that must end within limit (0:
// no limit): one still running then is killed, and the test fails, rather
// than hanging until go test's own timeout.
func runCovdistWithin(t testing.TB, limit time.Duration, dir string, args ...string) runResult {
	t.Helper()
	bin := buildCovdist(t)
	stats := filepath.Join(t.TempDir(), "stats.json")
	prof := filepath.Join(t.TempDir(), "cover.out")
	args = append([]string{"--stats-file=" + stats, "--cov-report=term", "--cov-report=out:" + prof}, args...)
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second // a killed run's agents may hold its output open
	cmd.Dir = dir
	// Remembered durations per module directory, kept out of the module
	// (which may be the repository's own testdata).
	sum := sha256.Sum256([]byte(dir))
	xdg := filepath.Join(os.TempDir(), fmt.Sprintf("covdist-e2e-cache-%x", sum[:6]))
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=", "XDG_CACHE_HOME="+xdg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("covdist %s: still running after %s; killed\n%s", strings.Join(args, " "), limit, out.String())
	}
	r := runResult{out: out.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(stats); err == nil {
		json.Unmarshal(b, &r.stats)
	}
	if p, err := coverage.ParseFile(prof); err == nil {
		r.profile = p
	}
	return r
}

func totals(p *coverage.Profile) string {
	if p == nil {
		return "no profile"
	}
	_, total := p.Summary()
	return fmt.Sprintf("%d stmts, %d missed", total.Stmts, total.Miss)
}

func mustSummary(t *testing.T, out string, passed int) {
	t.Helper()
	want := fmt.Sprintf("%d passed, 0 failed, 0 skipped", passed)
	if !strings.Contains(out, want) {
		t.Fatalf("want %q in the output:\n%s", want, out)
	}
}

func TestRemoteSSHE2E(t *testing.T) {
	srv := sshtest.Start(t)
	mod := remoteModule(t, 100*time.Millisecond)
	local := runCovdist(t, mod, "-n", "2", "./...")
	if local.code != 0 {
		t.Fatalf("local run: exit %d\n%s", local.code, local.out)
	}
	spec := "--tx=2*ssh=sshtest//ssh_config=" + srv.Config
	first := runCovdist(t, mod, "-v", spec, "./...")
	if first.code != 0 {
		t.Fatalf("ssh run: exit %d\n%s\nsshd log:\n%s", first.code, first.out, srv.LogText())
	}
	mustSummary(t, first.out, 4)
	if !strings.Contains(first.out, "ssh=sshtest") {
		t.Errorf("want the workers' ssh gateway named in -v output:\n%s", first.out)
	}
	if got, want := totals(first.profile), totals(local.profile); got != want {
		t.Errorf("ssh run coverage: got %s; want %s as locally", got, want)
	}
	if b, _ := first.stats["sync_bytes"].(float64); b == 0 {
		t.Errorf("first run synced no content: %v", first.stats)
	}
	// The agent was uploaded once, into the remote cache.
	agents, _ := filepath.Glob(filepath.Join(srv.Home, ".cache/covdist/agents/*/covdist"))
	if len(agents) != 1 {
		t.Errorf("got agents %v on the remote; want one", agents)
	}
	second := runCovdist(t, mod, spec, "./...")
	if second.code != 0 {
		t.Fatalf("second ssh run: exit %d\n%s", second.code, second.out)
	}
	if b, _ := second.stats["sync_bytes"].(float64); b != 0 {
		t.Errorf("second run over an unchanged tree sent %v bytes of content; want 0", b)
	}
	// One changed file is about all a third run sends.
	os.WriteFile(filepath.Join(mod, "data/testdata/input.txt"), []byte("hello from testdata\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "data/testdata/extra.txt"), bytes.Repeat([]byte("x"), 10000), 0o644)
	third := runCovdist(t, mod, spec, "./...")
	t.Logf("sync_bytes: first run %v, unchanged rerun %v, one new 10000-byte file %v",
		first.stats["sync_bytes"], second.stats["sync_bytes"], third.stats["sync_bytes"])
	if b, _ := third.stats["sync_bytes"].(float64); b < 10000 || b > 10000+200 {
		t.Errorf("third run sent %v bytes of content; want the 10000-byte new file (the unchanged binaries need nothing)", b)
	}
}

func TestRemoteUnknownHostRefused(t *testing.T) {
	srv := sshtest.Start(t)
	mod := remoteModule(t, 0)
	cfg := filepath.Join(t.TempDir(), "config")
	text, _ := os.ReadFile(srv.Config)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(cfg, []byte(regexp.MustCompile(`(?m)^\s*UserKnownHostsFile .*$`).ReplaceAllString(string(text), "  UserKnownHostsFile "+empty)), 0o600)
	r := runCovdist(t, mod, "--tx=ssh=sshtest//ssh_config="+cfg, "./...")
	if r.code != exitNoWorker {
		t.Fatalf("got exit %d; want %d (no worker could run)\n%s", r.code, exitNoWorker, r.out)
	}
	if !strings.Contains(r.out, "SHA256:") || !strings.Contains(r.out, "ssh-keyscan") {
		t.Errorf("want the host key's fingerprint and the fix in:\n%s", r.out)
	}
}

// serveE2E is a covdist serve on loopback for one test.
type serveE2E struct {
	addr   string // host:port it listens on
	dir    string // its keys, known_hosts and workspaces
	key    string // a client key it authorizes
	known  string // the known_hosts file that vouches for it
	config string // a client ssh_config with key and known
	log    *syncBuffer
}

// syncBuffer is a buffer that a process writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs covdist serve with extra flags until the test ends.
func startServe(t *testing.T, extra ...string) *serveE2E {
	t.Helper()
	bin := buildCovdist(t)
	dir := t.TempDir()
	s := &serveE2E{dir: dir, key: filepath.Join(dir, "client_key"), log: &syncBuffer{}}
	pub := sshtest.Keygen(t, s.key, "")
	auth := filepath.Join(dir, "authorized_keys")
	os.WriteFile(auth, []byte(pub+"\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"serve", "--listen=127.0.0.1:0", "--authorized-keys=" + auth,
		"--host-key=" + filepath.Join(dir, "host_key"), "--workdir=" + filepath.Join(dir, "work")}, extra...)
	serve := exec.CommandContext(ctx, bin, args...)
	os.MkdirAll(filepath.Join(dir, "work"), 0o755)
	stdout, _ := serve.StdoutPipe()
	serve.Stderr = s.log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		serve.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var known string
	for (s.addr == "" || known == "") && sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "covdist serve: listening on "); ok {
			s.addr = a
		} else if strings.HasPrefix(line, "[127.0.0.1]:") {
			known = line
		}
	}
	if s.addr == "" || known == "" {
		t.Fatalf("serve printed no address and known_hosts line; log:\n%s", s.log.String())
	}
	s.known = filepath.Join(dir, "known_hosts")
	os.WriteFile(s.known, []byte(known+"\n"), 0o600)
	s.config = filepath.Join(dir, "ssh_config")
	os.WriteFile(s.config, []byte("Host *\n  IdentityFile "+s.key+"\n  IdentitiesOnly yes\n  UserKnownHostsFile "+s.known+"\n"), 0o600)
	return s
}

func TestRemoteSocketServeE2E(t *testing.T) {
	mod := remoteModule(t, 0)
	s := startServe(t)
	addr, dir, kh, cfg, serveLog := s.addr, s.dir, s.known, s.config, s.log
	r := runCovdist(t, mod, "--tx=2*socket="+addr+"//ssh_config="+cfg, "./...")
	if r.code != 0 {
		t.Fatalf("socket run: exit %d\n%s\nserve log:\n%s", r.code, r.out, serveLog.String())
	}
	mustSummary(t, r.out, 4)
	// The sessions' workspaces are gone once they end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(dir, "work"))
		if len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workspaces left behind: %v", entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A client whose key is not authorized gets nothing to run.
	other := filepath.Join(dir, "other_key")
	sshtest.Keygen(t, other, "")
	cfg2 := filepath.Join(dir, "ssh_config2")
	os.WriteFile(cfg2, []byte("Host *\n  IdentityFile "+other+"\n  IdentitiesOnly yes\n  UserKnownHostsFile "+kh+"\n"), 0o600)
	r = runCovdist(t, mod, "--tx=socket="+addr+"//ssh_config="+cfg2, "./...")
	if r.code != exitNoWorker || !strings.Contains(r.out, "unable to authenticate") {
		t.Fatalf("unauthorized client: exit %d; want %d with an authentication error\n%s", r.code, exitNoWorker, r.out)
	}
}

func TestRemotePipeE2E(t *testing.T) {
	mod := remoteModule(t, 0)
	home := t.TempDir()
	r := runCovdist(t, mod, "--tx=2*pipe=env HOME="+home, "./...")
	if r.code != 0 {
		t.Fatalf("pipe run: exit %d\n%s", r.code, r.out)
	}
	mustSummary(t, r.out, 4)
	// The checkout's own workspace, under the default work root.
	if m, _ := filepath.Glob(filepath.Join(home, ".cache/covdist/work/*/src/data/testdata/input.txt")); len(m) != 1 {
		t.Errorf("got %q; want the package's testdata synced into one workspace of the pipe worker", m)
	}
}

// A package whose testdata holds names with a colon and a backslash runs
// on a Linux remote worker like any other: those files are synced with the
// rest (they once made the whole sync fail), at their own names.
func TestRemoteOddNamesE2E(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                      "module example.com/odd\n\ngo 1.22\n",
		"odd/odd.go":                  "package odd\n\nfunc O() int { return 9 }\n",
		"odd/testdata/a:b.txt":        "colon\n",
		`odd/testdata/back\slash.txt`: "backslash\n",
		`odd/testdata/..\..\x.txt`:    "one name\n",
		"odd/testdata/plain.txt":      "plain\n",
		"odd/odd_test.go": `package odd

import (
	"os"
	"testing"
)

func TestOddNames(t *testing.T) {
	for name, want := range map[string]string{
		"testdata/a:b.txt": "colon\n", "testdata/back\\slash.txt": "backslash\n",
		"testdata/..\\..\\x.txt": "one name\n", "testdata/plain.txt": "plain\n",
	} {
		if b, err := os.ReadFile(name); err != nil || string(b) != want {
			t.Errorf("%s: got %q, %v; want %q", name, b, err, want)
		}
	}
	O()
}
`,
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	r := runCovdist(t, dir, "--tx=pipe=env HOME="+home, "./...")
	if r.code != 0 {
		t.Fatalf("pipe run: exit %d\n%s", r.code, r.out)
	}
	mustSummary(t, r.out, 1)
	if strings.Contains(r.out, "not synced") {
		t.Errorf("a Linux worker left files out:\n%s", r.out)
	}
	if m, _ := filepath.Glob(filepath.Join(home, ".cache/covdist/work/*/src/odd/testdata/a:b.txt")); len(m) != 1 {
		t.Errorf("got %q; want testdata/a:b.txt synced into the pipe worker's workspace", m)
	}
}

// Two packages with identical testdata files (both empty) on two workers
// of one host: a test appending to its own file does not change the other
// package's, as it would if the two were one file on the host.
func TestRemoteTwinTestdataE2E(t *testing.T) {
	srv := sshtest.Start(t)
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                  "module example.com/twin\n\ngo 1.22\n",
		"twin/twin.go":            "package twin\n\nfunc T() int { return 7 }\n",
		"twin/testdata/empty.txt": "",
		"twin/twin_test.go": `package twin

import (
	"os"
	"testing"
	"time"
)

func TestStillEmpty(t *testing.T) {
	time.Sleep(2 * time.Second)
	b, err := os.ReadFile("testdata/empty.txt")
	if err != nil || len(b) != 0 {
		t.Fatalf("testdata/empty.txt: got %q, %v; nothing in this package wrote it", b, err)
	}
	T()
}
`,
		"writer/writer.go":          "package writer\n\nfunc W() int { return 8 }\n",
		"writer/testdata/empty.log": "",
		"writer/writer_test.go": `package writer

import (
	"os"
	"testing"
)

func TestAppend(t *testing.T) {
	f, err := os.OpenFile("testdata/empty.log", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("written by package writer\n")
	f.Close()
	W()
}
`,
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCovdist(t, dir, "--tx=2*ssh=sshtest//ssh_config="+srv.Config, "./...")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	mustSummary(t, r.out, 2)
}

// pipe=ssh HOST: OpenSSH's own client as the pipe, which joins its
// arguments into one remote command line.
func TestRemotePipeSSHE2E(t *testing.T) {
	srv := sshtest.Start(t)
	mod := remoteModule(t, 0)
	r := runCovdist(t, mod, "--tx=2*pipe=ssh -F "+srv.Config+" -o BatchMode=yes "+sshtest.Alias, "./...")
	if r.code != 0 {
		t.Fatalf("pipe=ssh run: exit %d\n%s", r.code, r.out)
	}
	mustSummary(t, r.out, 4)
}

// Killing a remote agent mid-test: the worker is reported down, its test
// runs again elsewhere (a first death is blamed on the link, not the test),
// and every test is reported exactly once.
func TestRemoteAgentKilledE2E(t *testing.T) {
	srv := sshtest.Start(t)
	mod := remoteModule(t, 4*time.Second)
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdist(t, mod, "--tx=popen", "--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	}()
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for !killed && time.Now().Before(deadline) {
		// The remote agent runs from the uploaded cache under the server's HOME.
		for _, pid := range procsMatching(srv.Home, "covdist agent") {
			if procsMatching("calc.test") != nil {
				syscall.Kill(pid, syscall.SIGKILL)
				killed = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := <-done
	if !killed {
		t.Fatalf("never saw the remote agent run a test to kill it\n%s", r.out)
	}
	if !strings.Contains(r.out, "down:") {
		t.Errorf("want the dead worker reported down:\n%s", r.out)
	}
	if r.code != 0 {
		t.Fatalf("got exit %d; want 0 (the killed test runs again elsewhere)\n%s", r.code, r.out)
	}
	mustSummary(t, r.out, 4)
}

// A host whose network link is cut mid-test (sshd in a namespace of its
// own): the run notices within seconds, the other worker finishes the
// tests, and every test is reported once.
func TestRemoteLinkCutE2E(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{Netns: true})
	mod := remoteModule(t, 6*time.Second)
	start := time.Now()
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdist(t, mod, "--dist=loadpkg", "--tx=popen", "--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	}()
	cut := false
	for !cut && time.Since(start) < 60*time.Second {
		if procsMatching(srv.Home, "covdist agent") != nil && procsMatching("calc.test") != nil {
			srv.LinkDown(t)
			cut = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := <-done
	if !cut {
		t.Fatalf("never saw a remote test running to cut its link\n%s", r.out)
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the run took %s after a link cut; want it to notice within seconds", d)
	}
	if !strings.Contains(r.out, "down:") {
		t.Errorf("want the cut worker reported down:\n%s", r.out)
	}
	if !strings.Contains(r.out, "4 passed, 0 failed, 0 skipped") {
		t.Fatalf("want every test passed once despite the cut (exit %d):\n%s", r.code, r.out)
	}
}

// Each mode over two SSH hosts, each in a network namespace of its own:
// every test runs on both, one host's binaries cross-compiled for
// linux/386, and the table gets a column per host. A test that fails only
// on 386 names that platform.
func TestRemoteEachOverHostsE2E(t *testing.T) {
	a := sshtest.StartWith(t, sshtest.Options{Netns: true})
	b := sshtest.StartWith(t, sshtest.Options{Netns: true})
	cfg := twoHostsConfig(t, a, b)
	mod := remoteModule(t, 0)
	os.WriteFile(filepath.Join(mod, "calc/size_test.go"), []byte(`package calc

import (
	"strconv"
	"testing"
)

func TestWordSize(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Fatalf("strconv.IntSize = %d; want 64", strconv.IntSize)
	}
}
`), 0o644)
	r := runCovdist(t, mod, "--dist=each", "--tx=ssh=hosta//ssh_config="+cfg, "--tx=ssh=hostb//goarch=386//ssh_config="+cfg, "./...")
	if r.code != 1 {
		t.Fatalf("got exit %d; want 1 (TestWordSize fails on 386)\n%s", r.code, r.out)
	}
	for _, want := range []string{
		"platform linux/amd64, go1", "on ssh=hosta",
		"platform linux/386, go1", "on ssh=hostb",
		"TestWordSize", "linux/386 ssh=hostb]",
		"9 passed, 1 failed, 0 skipped",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("want %q in the output:\n%s", want, r.out)
		}
	}
	header := regexp.MustCompile(`(?m)^Name .*linux/amd64 ssh=hosta\s+linux/386 ssh=hostb$`)
	if !header.MatchString(r.out) {
		t.Errorf("want a Cover column per host in the table:\n%s", r.out)
	}
}

// A cut link never closes the remote agent's stdin: the agent must notice
// the silence (no pings) and end its test, rather than run it to the end.
func TestRemoteLinkCutEndsRemoteTests(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{Netns: true})
	mod := remoteModule(t, 120*time.Second)
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdist(t, mod, "--tx=ssh=sshtest//ssh_config="+srv.Config, "./calc")
	}()
	var cutAt time.Time
	for start := time.Now(); cutAt.IsZero() && time.Since(start) < 60*time.Second; time.Sleep(100 * time.Millisecond) {
		if procsMatching(srv.Home, "calc.test", "TestSlow") != nil {
			srv.LinkDown(t)
			cutAt = time.Now()
		}
	}
	if cutAt.IsZero() {
		r := <-done
		t.Fatalf("never saw the remote test running\n%s", r.out)
	}
	for procsMatching(srv.Home, "calc.test") != nil {
		if time.Since(cutAt) > 30*time.Second {
			t.Fatalf("the remote test still runs %s after its link was cut", time.Since(cutAt).Round(time.Second))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("remote test ended %s after the cut", time.Since(cutAt).Round(100*time.Millisecond))
	r := <-done
	if !strings.Contains(r.out, "down:") {
		t.Errorf("want the cut worker reported down:\n%s", r.out)
	}
}

// A host of another architecture (arm64, emulated by qemu-user in sshd's
// own namespaces) gets test binaries cross-compiled for it without any
// goarch= in the spec, and an agent covdist builds for it from its own
// source: nothing is installed there but sshd and a shell.
func TestRemoteForeignArchSSH(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{Arch: "arm64"})
	mod := remoteModule(t, 10*time.Millisecond)
	local := runCovdist(t, mod, "./...")
	if local.code != 0 {
		t.Fatalf("local run: exit %d\n%s", local.code, local.out)
	}
	spec := "--tx=2*ssh=sshtest//ssh_config=" + srv.Config
	start := time.Now()
	first := runCovdist(t, mod, "-v", spec, "./...")
	if first.code != 0 {
		t.Fatalf("ssh run: exit %d\n%s\nsshd log:\n%s", first.code, first.out, srv.LogText())
	}
	t.Logf("first run %v:\n%s", time.Since(start), first.out)
	mustSummary(t, first.out, 4)
	for _, want := range []string{"building a covdist agent for linux/arm64", "linux/arm64 go1."} {
		if !strings.Contains(first.out, want) {
			t.Errorf("want %q in the output:\n%s", want, first.out)
		}
	}
	if got, want := totals(first.profile), totals(local.profile); got != want {
		t.Errorf("arm64 run coverage: got %s; want %s as locally", got, want)
	}
	agents, _ := filepath.Glob(filepath.Join(srv.Home, ".cache/covdist/agents/*/covdist"))
	if len(agents) != 1 {
		t.Fatalf("got agents %v on the remote; want one", agents)
	}
	if m := elfMachine(t, agents[0]); m != elf.EM_AARCH64 {
		t.Errorf("the uploaded agent is for %v; want EM_AARCH64", m)
	}
	// The test binaries that ran there were arm64 ones.
	bins, _ := filepath.Glob(filepath.Join(srv.Home, ".cache/covdist/work/*/bin/*/*/*.test"))
	bins2, _ := filepath.Glob(filepath.Join(srv.Home, ".cache/covdist/*/*/*.test"))
	bins = append(bins, bins2...)
	for _, b := range bins {
		if m := elfMachine(t, b); m != elf.EM_AARCH64 {
			t.Errorf("test binary %s on the remote is for %v; want EM_AARCH64", b, m)
		}
	}

	// The second run finds both the local build and the remote copy.
	start = time.Now()
	second := runCovdist(t, mod, spec, "./...")
	if second.code != 0 {
		t.Fatalf("second ssh run: exit %d\n%s", second.code, second.out)
	}
	t.Logf("second run %v", time.Since(start))
	if strings.Contains(second.out, "building a covdist agent") {
		t.Errorf("second run built the agent again:\n%s", second.out)
	}
	if again, _ := filepath.Glob(filepath.Join(srv.Home, ".cache/covdist/agents/*/covdist")); len(again) != 1 {
		t.Errorf("got agents %v after the second run; want the same one", again)
	}

	// A pipe into the same host's namespaces (as docker exec enters a
	// container's) is probed and served the same way.
	enter := fmt.Sprintf("nsenter -t %d -U -m --preserve-credentials env HOME=%s", srv.PID(), srv.Home)
	pipe := runCovdist(t, mod, "-v", "--tx=pipe="+enter, "./...")
	if pipe.code != 0 {
		t.Fatalf("pipe run: exit %d\n%s", pipe.code, pipe.out)
	}
	mustSummary(t, pipe.out, 4)
	if !strings.Contains(pipe.out, "platform linux/arm64") || !strings.Contains(pipe.out, "linux/arm64 go1.") {
		t.Errorf("want the pipe's host run as linux/arm64:\n%s", pipe.out)
	}
}

func elfMachine(t *testing.T, path string) elf.Machine {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	return f.Machine
}

// A host on a network that only a proxy reaches (sshd in a namespace linked
// to the proxy's namespace alone) runs tests through --px ssh=...//id= and
// --tx ssh=...//via=: the workers run on the inner host, and the proxy runs
// nothing.
func TestRemoteViaJumpHostE2E(t *testing.T) {
	gate := sshtest.StartWith(t, sshtest.Options{Netns: true})
	inner := sshtest.StartWith(t, sshtest.Options{Netns: true, Behind: gate})
	mod := remoteModule(t, 10*time.Millisecond)
	local := runCovdist(t, mod, "./...")
	if local.code != 0 {
		t.Fatalf("local run: exit %d\n%s", local.code, local.out)
	}
	r := runCovdist(t, mod, "-v", "--px=ssh="+sshtest.Alias+"//id=gate//ssh_config="+gate.Config,
		"--tx=2*ssh="+sshtest.Alias+"//via=gate//ssh_config="+inner.Config, "./...")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\ninner sshd log:\n%s", r.code, r.out, inner.LogText())
	}
	mustSummary(t, r.out, 4)
	if got, want := totals(r.profile), totals(local.profile); got != want {
		t.Errorf("coverage: got %s; want %s as locally", got, want)
	}
	if a, _ := filepath.Glob(filepath.Join(inner.Home, ".cache/covdist/agents/*/covdist")); len(a) != 1 {
		t.Errorf("got agents %v on the inner host; want one", a)
	}
	if a, _ := filepath.Glob(filepath.Join(gate.Home, ".cache/covdist/agents/*/covdist")); len(a) != 0 {
		t.Errorf("the proxy got agents %v; it runs nothing", a)
	}
	// The inner host saw its one connection come from the proxy's side of
	// their link, not from this machine.
	if n := inner.Connections(); n != 1 {
		t.Errorf("the inner sshd accepted %d connections; want 1 shared by both workers (and the probe)", n)
	}
	if !strings.Contains(gate.LogText(), "Accepted publickey") {
		t.Errorf("the proxy's sshd never let covdist in:\n%s", gate.LogText())
	}
}

// checkout writes one checkout of a module whose test says, from its
// testdata, which checkout it is; it waits (up to 30 s) until the tests of
// every checkout named in $BARRIER_WANT have synced and started, so all
// their files are on the host before any reads them.
func checkout(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":              "module example.com/race\n\ngo 1.22\n",
		"race/race.go":        "package race\n\nconst Want = \"" + name + "\"\n",
		"race/testdata/v.txt": name + "\n",
		"race/race_test.go": `package race

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRace(t *testing.T) {
	barrier := os.Getenv("BARRIER")
	os.WriteFile(filepath.Join(barrier, Want+"-"+time.Now().Format("150405.000000000")), nil, 0o644)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		all := true
		for _, w := range strings.Fields(os.Getenv("BARRIER_WANT")) {
			if m, _ := filepath.Glob(filepath.Join(barrier, w+"-*")); len(m) == 0 {
				all = false
			}
		}
		if all {
			break
		}
	}
	b, err := os.ReadFile("testdata/v.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != Want {
		t.Fatalf("testdata says %q; this checkout is %q", got, Want)
	}
}
`,
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var cwdRE = regexp.MustCompile(`\] ssh=\S+ \S+ \S+ pid \d+ cwd: (\S+)`)

// Two checkouts of one module, and one checkout twice, run at once against
// one host: no run sees another's files, and a later run of a checkout
// finds its files where it left them.
func TestRemoteTwoCheckoutsE2E(t *testing.T) {
	srv := sshtest.Start(t)
	a, b := checkout(t, "A"), checkout(t, "B")
	barrier := t.TempDir()
	spec := "--tx=ssh=sshtest//ssh_config=" + srv.Config + "//env:BARRIER=" + barrier + "//env:BARRIER_WANT=A B"
	dirs := []string{a, b, a}
	results := make([]runResult, len(dirs))
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCovdist(t, dir, "-v", spec, "./race")
		}()
	}
	wg.Wait()
	cwds := make([]string, len(dirs))
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d (checkout %s): exit %d\n%s", i, filepath.Base(dirs[i]), r.code, r.out)
		}
		if m := cwdRE.FindStringSubmatch(r.out); m != nil {
			cwds[i] = m[1]
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if cwds[0] == "" || cwds[0] == cwds[1] || cwds[0] == cwds[2] || cwds[1] == cwds[2] {
		t.Fatalf("got workspaces %q; want three distinct ones", cwds)
	}
	again := runCovdist(t, a, "-v", spec, "./race")
	if again.code != 0 {
		t.Fatalf("rerun of checkout A: exit %d\n%s", again.code, again.out)
	}
	if b, _ := again.stats["sync_bytes"].(float64); b != 0 {
		t.Errorf("rerun of checkout A sent %v bytes of content; want 0 (its files are still there)", b)
	}
}

// Two --rsyncdir outside the module with one base name would both land at
// ext/NAME: that is a usage error naming both, before anything runs.
func TestRemoteRsyncDirsOfOneName(t *testing.T) {
	mod := remoteModule(t, 0)
	a, b := filepath.Join(t.TempDir(), "shared"), filepath.Join(t.TempDir(), "shared")
	os.MkdirAll(a, 0o755)
	os.MkdirAll(b, 0o755)
	r := runCovdist(t, mod, "--tx=pipe=env HOME="+t.TempDir(), "--rsyncdir="+a, "--rsyncdir="+b, "./...")
	if r.code != exitUsage {
		t.Fatalf("got exit %d; want %d (usage)\n%s", r.code, exitUsage, r.out)
	}
	for _, want := range []string{a, b, "ext/shared"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("want %q in:\n%s", want, r.out)
		}
	}
}

// twoHostsConfig writes one ssh_config that reaches a as hosta and b as
// hostb, each with its own keys and known_hosts.
func twoHostsConfig(t *testing.T, a, b *sshtest.Server) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	var both []byte
	for _, h := range []struct {
		alias string
		srv   *sshtest.Server
	}{{"hosta", a}, {"hostb", b}} {
		text, err := os.ReadFile(h.srv.Config)
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, regexp.MustCompile(`(?m)^Host sshtest\b`).ReplaceAll(text, []byte("Host "+h.alias))...)
		both = append(both, '\n')
	}
	if err := os.WriteFile(cfg, both, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
