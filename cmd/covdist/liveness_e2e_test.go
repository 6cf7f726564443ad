package main

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covdist/covdist/internal/sshtest"
)

// Remote workers failing in ways no closed stream reports, or that must not
// pass for a worker's death: each run must end, say what failed, and report
// every test once.

// writeModule writes a module of the given files (a name ending in "@" is
// a symbolic link to the content) and returns its directory.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		var err error
		if link, ok := strings.CutSuffix(name, "@"); ok {
			err = os.Symlink(src, filepath.Join(dir, link))
		} else {
			err = os.WriteFile(p, []byte(src), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// napModule has a package of n tests that each sleep for nap, and one
// function they all cover.
func napModule(t *testing.T, n int, nap time.Duration, extra map[string]string) string {
	t.Helper()
	test := "package nap\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\n"
	for i := 1; i <= n; i++ {
		test += fmt.Sprintf("func TestNap%d(t *testing.T) { time.Sleep(%d * time.Millisecond); Nap() }\n", i, nap.Milliseconds())
	}
	files := map[string]string{
		"go.mod":          "module example.com/live\n\ngo 1.22\n",
		"nap/nap.go":      "package nap\n\nfunc Nap() int { return 1 }\n",
		"nap/nap_test.go": test,
	}
	for k, v := range extra {
		files[k] = v
	}
	return writeModule(t, files)
}

// passedOnce checks that each of names was reported passed, once.
func passedOnce(t *testing.T, out string, names ...string) {
	t.Helper()
	for _, n := range names {
		if got := len(regexp.MustCompile(`(?m)^--- PASS: `+n+` `).FindAllString(out, -1)); got != 1 {
			t.Errorf("%s: got %d PASS lines; want 1", n, got)
		}
	}
}

func napNames(n int) []string {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("TestNap%d", i))
	}
	return names
}

// pipeOverSSH writes a pipe= command that reaches srv with the OpenSSH
// client, which sends no keepalives by default: a cut link never ends it.
func pipeOverSSH(t *testing.T, srv *sshtest.Server) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "over-ssh")
	// ssh joins its arguments into one command line: quote them again.
	body := fmt.Sprintf("#!/bin/bash\nexec ssh -F %s -o BatchMode=yes %s \"$(printf '%%q ' \"$@\")\"\n", srv.Config, sshtest.Alias)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// A pipe= worker whose link is cut mid-test: nothing ends its stream, so
// the coordinator must notice the agent's silence itself, give the worker
// up after about wire.PingTimeout and run its test elsewhere.
func TestRemotePipeLinkCutE2E(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{Netns: true})
	mod := napModule(t, 4, 4*time.Second, nil)
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdistWithin(t, 120*time.Second, mod, "-v", "--boxed", "--tx=popen", "--tx=pipe="+pipeOverSSH(t, srv), "./...")
	}()
	var cutAt time.Time
	for start := time.Now(); cutAt.IsZero() && time.Since(start) < 60*time.Second; time.Sleep(100 * time.Millisecond) {
		if procsMatching(srv.Home, "nap.test", "TestNap") != nil {
			srv.LinkDown(t)
			cutAt = time.Now()
		}
	}
	r := <-done
	if cutAt.IsZero() {
		t.Fatalf("never saw a remote test running to cut its link\n%s", r.out)
	}
	t.Logf("the run ended %s after the cut", time.Since(cutAt).Round(100*time.Millisecond))
	if !strings.Contains(r.out, "down: ") || !strings.Contains(r.out, "no word from the agent") {
		t.Errorf("want the cut worker reported down for its silence:\n%s", r.out)
	}
	if r.code != 0 {
		t.Errorf("got exit %d; want 0 (the cut test runs again on popen)\n%s", r.code, r.out)
	}
	passedOnce(t, r.out, napNames(4)...)
}

// An agent stopped with SIGSTOP (its host and sshd fine, its connection
// open): the coordinator gives it up for its silence, reruns its test, and
// the worker comes back with a new agent.
func TestRemoteAgentStoppedE2E(t *testing.T) {
	srv := sshtest.Start(t)
	mod := napModule(t, 4, 4*time.Second, nil)
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdistWithin(t, 120*time.Second, mod, "-v", "--boxed", "--timeout=10s", "--tx=popen",
			"--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	}()
	var stopped []int
	t.Cleanup(func() {
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	for start := time.Now(); stopped == nil && time.Since(start) < 60*time.Second; time.Sleep(100 * time.Millisecond) {
		if procsMatching(srv.Home, "nap.test", "TestNap") != nil {
			for _, pid := range procsMatching(srv.Home, "covdist agent") {
				syscall.Kill(pid, syscall.SIGSTOP)
				stopped = append(stopped, pid)
			}
		}
	}
	r := <-done
	if stopped == nil {
		t.Fatalf("never saw the remote agent run a test to stop it\n%s", r.out)
	}
	if !strings.Contains(r.out, "no word from the agent") {
		t.Errorf("want the stopped agent's worker reported down for its silence:\n%s", r.out)
	}
	if r.code != 0 {
		t.Errorf("got exit %d; want 0 (the stopped agent's test runs again)\n%s", r.code, r.out)
	}
	passedOnce(t, r.out, napNames(4)...)
}

// A link cut while a big file is synced: the agent, which reads the sync's
// frames itself, must still give its silent coordinator up, and with it the
// workspace's lock, rather than wait for the rest of the file for ever.
func TestRemoteLinkCutDuringSyncE2E(t *testing.T) {
	srv := sshtest.StartWith(t, sshtest.Options{Netns: true})
	big := make([]byte, 24<<20) // about ten seconds at 20 Mbit/s
	rand.Read(big)
	mod := napModule(t, 1, 0, map[string]string{"nap/testdata/big.bin": string(big)})
	// The agent gets uploaded at full speed; the sync of the big file goes
	// slowly enough to be cut in its middle.
	up := runCovdist(t, napModule(t, 1, 0, nil), "--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	if up.code != 0 {
		t.Fatalf("first run: exit %d\n%s", up.code, up.out)
	}
	srv.Throttle(t, "20mbit")
	done := make(chan runResult, 1)
	go func() {
		done <- runCovdistWithin(t, 120*time.Second, mod, "-v", "--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	}()
	// The blob is received into a temporary file of the content store the
	// workspaces share.
	tmp := filepath.Join(srv.Home, ".cache/covdist/objects/.covdist-tmp-*")
	var cutAt time.Time
	for start := time.Now(); cutAt.IsZero() && time.Since(start) < 60*time.Second; time.Sleep(50 * time.Millisecond) {
		if m, _ := filepath.Glob(tmp); m != nil {
			time.Sleep(time.Second) // well inside the file
			srv.LinkDown(t)
			cutAt = time.Now()
		}
	}
	if cutAt.IsZero() {
		r := <-done
		t.Fatalf("never saw the big file being received\n%s", r.out)
	}
	for procsMatching(srv.Home, "covdist agent") != nil {
		if time.Since(cutAt) > 40*time.Second {
			t.Errorf("the remote agent still runs %s after its link was cut mid-sync", time.Since(cutAt).Round(time.Second))
			for _, pid := range procsMatching(srv.Home, "covdist agent") {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("remote agent ended %s after the cut", time.Since(cutAt).Round(100*time.Millisecond))
	r := <-done
	if !strings.Contains(r.out, "down: ") {
		t.Errorf("want the cut worker reported down:\n%s", r.out)
	}
	if !strings.Contains(r.out, "--- NOT RUN: TestNap1 ") {
		t.Errorf("want the test that no worker could run reported not run:\n%s", r.out)
	}
}

// A host that is gone for good while its workers ran: its workers'
// reconnects back off and stop after a few, with one line each, and do not
// use up the restarts the other host's crash is allowed.
func TestRemoteDeadHostKeepsRestartBudgetE2E(t *testing.T) {
	a, b := sshtest.Start(t), sshtest.Start(t)
	cfg := twoHostsConfig(t, a, b)
	mod := napModule(t, 6, 2*time.Second, map[string]string{
		"crashy/crashy.go": "package crashy\n\nfunc Crash() int { return 1 }\n",
		// Long enough to crash after the host is gone, wherever it started.
		"crashy/crashy_test.go": "package crashy\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\n" +
			"func TestCrash(t *testing.T) { time.Sleep(5 * time.Second); Crash(); panic(\"crash\") }\n",
	})
	done := make(chan runResult, 1)
	start := time.Now()
	go func() {
		done <- runCovdistWithin(t, 150*time.Second, mod, "-v", "--boxed", "--max-worker-restart=2",
			"--tx=ssh=hosta//ssh_config="+cfg, "--tx=ssh=hostb//ssh_config="+cfg, "./...")
	}()
	killed := false
	for !killed && time.Since(start) < 60*time.Second {
		if procsMatching(a.Home, ".test", "-test.run") != nil {
			a.Kill()
			killed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := <-done
	if !killed {
		t.Fatalf("never saw host a run a test to kill it\n%s", r.out)
	}
	if strings.Contains(r.out, "reached") {
		t.Errorf("the dead host's reconnects used up --max-worker-restart:\n%s", r.out)
	}
	if n := strings.Count(r.out, "[gw0] down: "); n < 1 || n > 2 {
		t.Errorf("got %d down lines for the dead host's worker; want it reported down, then given up once:\n%s", n, r.out)
	}
	if !strings.Contains(r.out, "--- CRASH: TestCrash ") {
		t.Errorf("want TestCrash reported crashed:\n%s", r.out)
	}
	if r.code != 1 {
		t.Errorf("got exit %d; want 1 (TestCrash crashed)\n%s", r.code, r.out)
	}
	passedOnce(t, r.out, napNames(6)...)
}

// A package whose directory holds a symbolic link out of it cannot be
// synced: its tests are reported not run, with the refusal, its package
// fails, and the workers go on with the other packages.
func TestRemoteUnsyncablePackageE2E(t *testing.T) {
	mod := napModule(t, 2, 0, map[string]string{
		"shared/data.txt": "shared\n",
		"evil/evil.go":    "package evil\n\nfunc Evil() int { return 1 }\n",
		"evil/evil_test.go": "package evil\n\nimport \"testing\"\n\n" +
			"func TestEvil1(t *testing.T) { Evil() }\nfunc TestEvil2(t *testing.T) { Evil() }\n",
		"evil/testdata/shared@": "../../shared",
	})
	home := t.TempDir()
	r := runCovdistWithin(t, 120*time.Second, mod, "-v", "--tx=2*pipe=env HOME="+home, "./...")
	if strings.Contains(r.out, "down: ") {
		t.Errorf("got workers reported down; want a package that cannot be synced to leave them alone:\n%s", r.out)
	}
	for _, name := range []string{"TestEvil1", "TestEvil2"} {
		if got := strings.Count(r.out, "--- NOT RUN: "+name+" "); got != 1 {
			t.Errorf("%s: got %d NOT RUN lines; want 1", name, got)
		}
	}
	if !strings.Contains(r.out, "leaves its tree") {
		t.Errorf("want the refusal named as the reason:\n%s", r.out)
	}
	if !regexp.MustCompile(`(?m)^FAIL\s+example.com/live/evil\s`).MatchString(r.out) {
		t.Errorf("want package evil reported failed:\n%s", r.out)
	}
	passedOnce(t, r.out, napNames(2)...)
	if r.code != 1 {
		t.Errorf("got exit %d; want 1\n%s", r.code, r.out)
	}
}

// A connection dropped during the SSH handshake (a covdist serve at its
// --max-conns limit, a port that hangs up after the client's greeting)
// ends the stream with an EOF deep inside the handshake's error: the
// worker's down line must say what happened, not that an agent (none was
// started) closed the connection.
func TestRemoteHandshakeEOFNamedE2E(t *testing.T) {
	s := startServe(t, "--max-conns=1")
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the address to connect to
	}{
		{"serve-full", func(t *testing.T) string {
			// An OpenSSH client takes the one slot and keeps it.
			host, port, _ := net.SplitHostPort(s.addr)
			hold := exec.Command("ssh", "-F", s.config, "-o", "BatchMode=yes", "-N", "-p", port, host)
			if err := hold.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				hold.Process.Kill()
				hold.Wait()
			})
			for start := time.Now(); !strings.Contains(s.log.String(), "authenticated"); time.Sleep(50 * time.Millisecond) {
				if time.Since(start) > 20*time.Second {
					t.Fatalf("the holding client did not get in; serve log:\n%s", s.log.String())
				}
			}
			return s.addr
		}},
		{"hang-up", func(t *testing.T) string {
			// Reading the greeting first makes the close a clean EOF, never
			// a reset, for the client.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					bufio.NewReader(c).ReadString('\n')
					c.Close()
				}
			}()
			return ln.Addr().String()
		}},
	}
	mod := napModule(t, 1, 0, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.setup(t)
			r := runCovdistWithin(t, 60*time.Second, mod, "--tx=socket="+addr+"//ssh_config="+s.config, "./...")
			for _, l := range strings.Split(r.out, "\n") {
				if strings.Contains(l, "down: ") {
					t.Log(l)
				}
			}
			if r.code != exitNoWorker {
				t.Errorf("got exit %d; want %d (no worker could run)\n%s", r.code, exitNoWorker, r.out)
			}
			if strings.Contains(r.out, "agent closed the connection") {
				t.Errorf("the down line blames an agent:\n%s", r.out)
			}
			// A full serve now says why it refuses; a peer that hangs up
			// leaves a handshake cut short. Either way the cause is named.
			if !strings.Contains(r.out, "handshake") && !strings.Contains(r.out, "its --max-conns") {
				t.Errorf("want the real cause named in the down line:\n%s", r.out)
			}
		})
	}
}

// A host that accepts connections but never answers (its sshd frozen) costs
// the run its probe's wait once: its workers report the probe's failure at
// once instead of dialling it again for as long, and the others' tests run.
// Timed against the same run without that host, on this same machine.
func TestRemoteHungHostFailsFastE2E(t *testing.T) {
	srv := sshtest.Start(t)
	srv.Freeze()
	mod := napModule(t, 2, 0, nil)
	buildCovdist(t) // not timed
	start := time.Now()
	if base := runCovdistWithin(t, 90*time.Second, mod, "--tx=popen", "./..."); base.code != 0 {
		t.Fatalf("without the frozen host: exit %d\n%s", base.code, base.out)
	}
	base := time.Since(start)
	start = time.Now()
	r := runCovdistWithin(t, 120*time.Second, mod, "-v", "--tx=popen", "--tx=ssh=sshtest//ssh_config="+srv.Config, "./...")
	took := time.Since(start)
	if r.code != 0 {
		t.Errorf("got exit %d; want 0 (the local worker runs every test)\n%s", r.code, r.out)
	}
	if !strings.Contains(r.out, "did not answer covdist's probe") {
		t.Errorf("want the frozen host's worker down for its probe:\n%s", r.out)
	}
	if extra := took - base; extra > probeTimeout+10*time.Second {
		t.Errorf("the frozen host cost the run %s over the %s of a run without it; want about the probe's %s, not another dial's wait on top",
			extra.Round(time.Second), base.Round(time.Second), probeTimeout)
	}
	passedOnce(t, r.out, napNames(2)...)
}
