// Package golden compares test output with expected files kept under
// golden/testdata and rewrites those files when the tests run with -update
// (make update-golden). It compares bytes exactly; callers normalise times,
// paths and host names first with Normalize.
//
// Package golden is for tests only and imports no covdist package. A test
// binary that imports it must not define its own -update flag.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under golden/testdata with the output the tests got")

// Dir is the directory that holds the golden files.
var Dir = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("golden: cannot find the source directory of package golden")
	}
	return filepath.Join(filepath.Dir(file), "testdata")
}()

// Assert fails t unless got equals the golden file golden/testdata/<name>.
// With -update it writes got to that file instead.
func Assert(t testing.TB, name string, got []byte) {
	t.Helper()
	file := filepath.Join(Dir, filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatalf("updating golden file: %v", err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatalf("updating golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading golden file: %v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("golden file %s differs (run the test with -update to accept, then review the diff):\n%s", name, diff(got, want))
	}
}

// Normalize returns b with each old string replaced by its new one, given as
// old, new pairs and applied in order, for output that holds times, paths or
// host names. It panics on an odd number of strings.
func Normalize(b []byte, replacements ...string) []byte {
	if len(replacements)%2 != 0 {
		panic("golden.Normalize: replacements must be old, new pairs")
	}
	for i := 0; i < len(replacements); i += 2 {
		b = bytes.ReplaceAll(b, []byte(replacements[i]), []byte(replacements[i+1]))
	}
	return b
}

// diff describes where got departs from want: the first differing line,
// then both texts in full.
func diff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	line := 0
	for line < len(g) && line < len(w) && g[line] == w[line] {
		line++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d:\n", line+1)
	if line < len(g) {
		fmt.Fprintf(&b, "  got:  %q\n", g[line])
	} else {
		b.WriteString("  got:  (end of output)\n")
	}
	if line < len(w) {
		fmt.Fprintf(&b, "  want: %q\n", w[line])
	} else {
		b.WriteString("  want: (end of file)\n")
	}
	fmt.Fprintf(&b, "--- got\n%s\n--- want\n%s", got, want)
	return b.String()
}
