package scratch

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A child run of this test binary: make a scratch directory, say where,
// and wait to be killed.
func TestMain(m *testing.M) {
	if os.Getenv("SCRATCH_TEST_CHILD") == "1" {
		d, err := New("child")
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(d.Path, "binary"), make([]byte, 1<<20), 0o600)
		os.Stdout.WriteString(d.Path + "\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestNewClose(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	d, err := New("bin")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := Base()
	if filepath.Dir(d.Path) != base || !strings.HasPrefix(filepath.Base(d.Path), "bin-") {
		t.Errorf("New made %s; want bin-* under %s", d.Path, base)
	}
	if fi, err := os.Stat(base); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("base %s: %v, mode %v; want 0700", base, err, fi.Mode())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(t, d.Path) {
		t.Errorf("%s still there after Close", d.Path)
	}
}

// A live run's directory survives another run's cleaning; a dead run's
// (its lock dropped without the directory removed, as when SIGKILL ends
// it) does not.
func TestCleanLiveAndDead(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock: stale by age alone, see TestCleanUnlocked")
	}
	t.Setenv("TMPDIR", t.TempDir())
	live, err := New("bin")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dead, err := New("agent")
	if err != nil {
		t.Fatal(err)
	}
	dead.lock.Close() // what the kernel does for a killed process

	other, err := New("bin") // cleans first
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if !exists(t, live.Path) {
		t.Errorf("a live run's %s was removed", live.Path)
	}
	if exists(t, dead.Path) {
		t.Errorf("a dead run's %s was kept", dead.Path)
	}
}

// A directory with no lock file is some run's between making and locking
// it, unless it is old.
func TestCleanUnlocked(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	base, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	young := filepath.Join(base, "bin-young")
	old := filepath.Join(base, "bin-old")
	for _, d := range []string{young, old} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	Clean(base)
	if !exists(t, young) {
		t.Error("a young unlocked directory was removed")
	}
	if exists(t, old) {
		t.Error("an old unlocked directory was kept")
	}
}

// Not a directory of ours: refused with what to do, never used.
func TestBaseNotOurs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	base, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(base)
	if err := os.Symlink(tmp, base); err != nil {
		t.Fatal(err)
	}
	_, err = New("bin")
	if err == nil || !strings.Contains(err.Error(), "is not a directory of yours") || !strings.Contains(err.Error(), "TMPDIR") {
		t.Fatalf("New over a symlinked base: %v; want it refused, saying what to do", err)
	}
}

// The real thing: a process killed with SIGKILL leaves its scratch
// behind, and the next New removes it.
func TestKilledRunCleanedNext(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	t.Setenv("TMPDIR", t.TempDir())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCRATCH_TEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error: ") {
		cmd.Process.Kill()
		t.Fatalf("child: %q, %v", line, err)
	}
	path := strings.TrimSpace(line)

	// Alive, it keeps its directory.
	d, err := New("bin")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if !exists(t, filepath.Join(path, "binary")) {
		t.Fatalf("a live child's %s was removed", path)
	}

	cmd.Process.Kill()
	cmd.Wait()
	if !exists(t, path) {
		t.Fatalf("the killed child's %s is gone already: nothing tested", path)
	}
	d, err = New("bin")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if exists(t, path) {
		t.Errorf("the killed child's %s is still there after the next run started", path)
	}
}
