package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// consumerTool installs pkg@version (a command of a Go module, through the
// module proxy) once per machine and returns its path. A consumer test
// never skips: where the tool cannot be had, it fails, saying why.
func consumerTool(t *testing.T, pkg, version string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(cache, "covdist-test-tools", filepath.Base(pkg)+"-"+version)
	path := filepath.Join(bin, filepath.Base(pkg))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	cmd := exec.Command("go", "install", pkg+"@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installing %s@%s through the module proxy, which this test needs: %v\n%s", pkg, version, err, out)
	}
	return path
}

// gotestsum, reading covdist's --json, writes a JUnit file whose every
// suite is named: the term table's output events carry the module's path.
func TestGotestsumReadsJSON(t *testing.T) {
	gotestsum := consumerTool(t, "gotest.tools/gotestsum", "v1.13.0")
	covdist := buildCovdist(t)
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "termtable"))
	if err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	cmd := exec.Command(gotestsum, "--format=standard-quiet", "--junitfile", junit, "--raw-command", "--", covdist, "-n", "2", "--json", "./...")
	cmd.Dir = dir
	vars, err := hostGoEnv()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir(), "GOCACHE="+vars["GOCACHE"], "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("gotestsum --raw-command -- covdist --json: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "\nTOTAL ") {
		t.Errorf("gotestsum's output has no TOTAL row from covdist's table:\n%s", out.String())
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("gotestsum's JUnit: %v\n%s", err, b)
	}
	tests := 0
	for _, s := range doc.Suites {
		if s.Name == "" {
			t.Errorf("gotestsum wrote a suite with no name: an event of covdist's --json had no Package\n%s", b)
		}
		tests += s.Tests
	}
	t.Logf("gotestsum's JUnit:\n%s", b)
	if tests == 0 {
		t.Errorf("gotestsum's JUnit counts no tests:\n%s", b)
	}
}

// In a monorepo the module is not at the repository's root, where CI runs
// genhtml and where Codecov and Coveralls resolve paths: lcov names files
// from the root, and genhtml, run there, finds every one.
func TestGenhtmlFromMonorepoRoot(t *testing.T) {
	genhtml, err := exec.LookPath("genhtml")
	if err != nil {
		t.Fatalf("this test needs genhtml (Debian's lcov; make deps installs it): %v", err)
	}
	root := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", root).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	mod := filepath.Join(root, "services", "api")
	if err := os.MkdirAll(filepath.Dir(mod), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(writeModule(t, map[string]string{
		"go.mod":            "module example.com/api\n\ngo 1.24\n",
		"calc/calc.go":      "package calc\n\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n",
		"calc/calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAbs(t *testing.T) { Abs(1) }\n",
	}), mod); err != nil {
		t.Fatal(err)
	}
	r := runCovdist(t, mod, "--cov-report=lcov:coverage.lcov", "--cov-report=xml:coverage.xml", "./...")
	if r.code != 0 {
		t.Fatalf("covdist: exit %d\n%s", r.code, r.out)
	}
	b, err := os.ReadFile(filepath.Join(mod, "coverage.lcov"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "SF:services/api/calc/calc.go\n") {
		t.Errorf("lcov names its file from the module, not the repository root:\n%s", b)
	}
	x, err := os.ReadFile(filepath.Join(mod, "coverage.xml"))
	if err != nil {
		t.Fatal(err)
	}
	realRoot, _ := filepath.EvalSymlinks(root)
	if !strings.Contains(string(x), `filename="services/api/calc/calc.go"`) ||
		!(strings.Contains(string(x), "<source>"+root+"</source>") || strings.Contains(string(x), "<source>"+realRoot+"</source>")) {
		t.Errorf("Cobertura: want the repository root as the source and file names from it:\n%s", x)
	}
	cmd := exec.Command(genhtml, "-q", "-o", filepath.Join(t.TempDir(), "html"), "services/api/coverage.lcov")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genhtml from the repository root: %v\n%s\nlcov:\n%s", err, out, b)
	}
}
