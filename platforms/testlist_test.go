package platforms

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tests read from the source are the ones the built binary lists.
func TestSourceTestsMatchTestList(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a test binary with the go command")
	}
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"p/p.go": "package p\n\nfunc F() int { return 1 }\n",
		"p/a_test.go": `package p

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(m.Run()) }
func TestA(t *testing.T)      {}
func Test_b(t *testing.T)     {}
func Test(t *testing.T)       {}
func Testify()                {}
func TestÄrger(t *testing.T)  {}
func Testäpfel()              {}
func FuzzX(f *testing.F)      { f.Fuzz(func(t *testing.T, b []byte) {}) }
func BenchmarkY(b *testing.B) {}
func helper(t *testing.T)     {}

type s struct{}

func (s) TestMethod(t *testing.T) {}

func ExampleF() {
	fmt.Println(F())
	// Output: 1
}

func ExampleF_unordered() {
	fmt.Println(F())
	// Unordered output: 1
}

func ExampleF_quiet() {
	F()
}

func ExampleF_empty() {
	F()
	// Output:
}
`,
		"p/x_test.go": `package p_test

import (
	. "testing"
)

func TestX(t *T) {}
`,
		"p/other_linux_test.go":   "package p\n\nimport \"testing\"\n\nfunc TestLinux(t *testing.T) {}\n",
		"p/other_windows_test.go": "package p\n\nimport \"testing\"\n\nfunc TestWindows(t *testing.T) {}\n",
	})
	bin := filepath.Join(t.TempDir(), "p.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./p")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-test.list=.")
	cmd.Dir = filepath.Join(dir, "p")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Fields(string(out)) {
		if !strings.HasPrefix(l, "Benchmark") {
			want = append(want, l)
		}
	}
	slices.Sort(want)
	pkgs, err := list(t.Context(), &runner{dir: dir}, []string{"./p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := append(pkgs[0].TestGoFiles, pkgs[0].XTestGoFiles...)
	got, err := sourceTests(pkgs[0].Dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("from the source: %q\nthe binary lists: %q", got, want)
	}
	if !slices.Contains(got, "TestLinux") || slices.Contains(got, "TestWindows") {
		t.Errorf("build constraints not applied: %q", got)
	}
}
