package main

// End-to-end tests of the covdist command line as testscript scripts: each
// script under testdata/script embeds a tiny stdlib-only module, runs covdist
// on it (in a separate process, with real agent processes), and checks the
// exit code, the output and the files covdist wrote, often against what
// go test and go tool cover say for the same module.
//
// Run them alone with: go test ./cmd/covdist -run Script
// Rewrite the scripts' cmp expectations with: go test ./cmd/covdist -run Script -update

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// Workers are started by re-executing os.Executable() with "agent". In
	// scripts that is testscript's copy named covdist, which the command map
	// below dispatches; a test that calls run() in-process (the golden term
	// table) re-executes the test binary itself, which must serve as the
	// agent rather than run the tests again.
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"covdist": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScript(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the end-to-end scripts need the go command: %v", err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		Setup:               scriptSetup,
		UpdateScripts:       updating(),
		RequireExplicitExec: true,
		Condition:           scriptCondition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitCode,
			"cmpcover":    negatable(cmdCmpCover),
			"covered":     cmdCovered,
			"oneterminal": negatable(cmdOneTerminal),
			"junit":       negatable(cmdJUnit),
			"cmptable":    cmdCmpTable,
			"summary":     cmdSummary,
			"coltotals":   cmdColTotals,
			"wineprefix":  cmdWinePrefix,
			"leftover":    negatable(cmdLeftover),
			"xmlroot":     cmdXMLRoot,
			"timeline":    negatable(cmdTimeline),
		},
	})
}

// updating reports whether the tests run with -update (the flag belongs to
// package golden, which this test binary imports; see golden_e2e_test.go).
func updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	b, _ := g.Get().(bool)
	return b
}

var goEnv struct {
	once sync.Once
	vars map[string]string
	err  error
}

// hostGoEnv returns the go command's settings that scripts inherit, so that
// builds inside scripts share the caches of the machine.
func hostGoEnv() (map[string]string, error) {
	goEnv.once.Do(func() {
		names := []string{"GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOPATH"}
		out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
		if err != nil {
			goEnv.err = fmt.Errorf("go env: %v", err)
			return
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) != len(names) {
			goEnv.err = fmt.Errorf("go env: got %d lines; want %d", len(lines), len(names))
			return
		}
		goEnv.vars = make(map[string]string)
		for i, n := range names {
			goEnv.vars[n] = lines[i]
		}
	})
	return goEnv.vars, goEnv.err
}

func scriptSetup(env *testscript.Env) error {
	vars, err := hostGoEnv()
	if err != nil {
		return err
	}
	for _, n := range []string{"GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOPATH"} {
		env.Setenv(n, vars[n])
	}
	// The fixtures use the standard library only; the toolchain is the one
	// running the tests.
	env.Setenv("GOTOOLCHAIN", "local")
	// A home of the script's own: covdist remembers test durations in the
	// user cache dir, and no script should read another run's (or leave its
	// own behind).
	home := filepath.Join(env.WorkDir, ".home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	env.Setenv("TERM", "dumb")
	if testing.CoverMode() != "" && os.Getenv("GOCOVERDIR") == "" {
		// This test binary is coverage-instrumented (covdist measuring
		// itself): the covdist processes the scripts start are too, and
		// without GOCOVERDIR each warns on stderr at exit. go test and
		// covdist's agents set it, and testscript passes it on, so that
		// those processes' coverage counts; a bare run of the binary
		// gets a directory of its own that nothing reads.
		dir := filepath.Join(env.WorkDir, ".gocoverdir")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		env.Setenv("GOCOVERDIR", dir)
	}
	// What a user gets: testscript asks for system tracebacks.
	env.Setenv("GOTRACEBACK", "single")
	// The matrix fixture is the README's, so it is used in place, not copied.
	matrix, err := filepath.Abs(filepath.Join("..", "..", "testdata", "matrix"))
	if err != nil {
		return err
	}
	env.Setenv("MATRIX", matrix)
	// So is the demo's module, and demo.txtar runs the README's first
	// command, scripts/demo.sh, as it is.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	env.Setenv("DEMO", filepath.Join(root, "testdata", "demo"))
	env.Setenv("DEMO_SCRIPT", filepath.Join(root, "scripts", "demo.sh"))
	return nil
}

// scriptCondition adds [absent:PROG] to testscript's conditions: true when
// PROG is not on PATH, for a script to skip; but under CI=true an absent
// program is an error that fails the script, as make test installs the real
// parts first (scripts/deps.sh).
func scriptCondition(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "absent:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err == nil {
		return false, nil
	}
	if os.Getenv("CI") == "true" {
		return false, fmt.Errorf("%s is not installed: under CI=true that fails the script (scripts/deps.sh installs it)", prog)
	}
	return true, nil
}

// cmdColTotals checks a multi-platform coverage table against go tool cover:
// coltotals OUTPUT DIR. For the Cover column and each platform's column, the
// TOTAL row must say what go tool cover -func says of DIR/combined.out and
// of that platform's DIR/<name>.out (its name with '/' as '-' and ' ' as
// '_'). The table must have been printed with --cov-precision=1, go tool
// cover's precision.
func cmdColTotals(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: coltotals OUTPUT DIR")
	}
	table := strings.Split(strings.TrimRight(tableOf(ts, args[0]), "\n"), "\n")
	// Columns are two or more spaces apart; a platform's name may hold one.
	cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(table[0]), -1)
	total := strings.Fields(table[len(table)-1])
	if len(cols) != len(total) || len(cols) < 6 {
		ts.Fatalf("want a table with two platform columns or more; got header %q and TOTAL %q", cols, total)
	}
	files := map[int]string{3: "combined.out"}
	for i := 4; i < len(cols) && cols[i] != "Missing"; i++ {
		files[i] = strings.NewReplacer("/", "-", " ", "_").Replace(cols[i]) + ".out"
	}
	for i, f := range files {
		name := filepath.Join(args[1], f)
		if err := ts.Exec("go", "tool", "cover", "-func="+name); err != nil {
			ts.Fatalf("go tool cover -func=%s: %v\n%s", name, err, ts.ReadFile("stderr"))
		}
		m := regexp.MustCompile(`(?m)^total:\s+\(statements\)\s+(\S+)$`).FindStringSubmatch(ts.ReadFile("stdout"))
		if m == nil {
			ts.Fatalf("go tool cover -func=%s printed no total line", name)
		}
		if m[1] != total[i] {
			ts.Fatalf("column %q: TOTAL says %s; go tool cover -func=%s says %s", cols[i], total[i], name, m[1])
		}
		ts.Logf("column %q: TOTAL %s, as go tool cover says of %s", cols[i], total[i], f)
	}
}

// cmdExitCode runs a command and fails unless it exits with the given code:
// exitcode CODE COMMAND [ARGS...]. The command's stdout and stderr are kept
// for the stdout and stderr commands that follow.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: running %s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d; want %d", args[1], got, want)
	}
}

// negatable turns a check into a script command that, with !, passes only
// when the check fails. Usage errors and unreadable files fail either way.
func negatable(check func(ts *testscript.TestScript, args []string) error) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		err := check(ts, args)
		switch {
		case err != nil && !neg:
			ts.Fatalf("%v", err)
		case err == nil && neg:
			ts.Fatalf("check passed; want it to fail")
		case err != nil:
			ts.Logf("check failed as wanted: %v", err)
		}
	}
}

// profile is a parsed Go coverprofile, blocks merged as go tool cover does.
type profile struct {
	mode   string
	blocks map[string]*profBlock // by "file:start,end"
}

type profBlock struct {
	file      string
	startLine int
	stmts     int
	count     int
}

var profLine = regexp.MustCompile(`^(.+):(\d+)\.(\d+),(\d+)\.(\d+) (\d+) (\d+)$`)

// readProfile parses a coverprofile independently of covdist's own parser,
// so that the scripts check covdist against the format, not against itself.
func readProfile(ts *testscript.TestScript, name string) *profile {
	f, err := os.Open(ts.MkAbs(name))
	ts.Check(err)
	defer f.Close()
	p := &profile{blocks: make(map[string]*profBlock)}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			mode, ok := strings.CutPrefix(line, "mode: ")
			if !ok {
				ts.Fatalf("%s: first line %q is not a mode line", name, line)
			}
			p.mode = mode
			continue
		}
		if line == "" {
			continue
		}
		m := profLine.FindStringSubmatch(line)
		if m == nil {
			ts.Fatalf("%s: bad profile line %q", name, line)
		}
		key := m[1] + ":" + m[2] + "." + m[3] + "," + m[4] + "." + m[5]
		start, _ := strconv.Atoi(m[2])
		stmts, _ := strconv.Atoi(m[6])
		count, _ := strconv.Atoi(m[7])
		b := p.blocks[key]
		if b == nil {
			p.blocks[key] = &profBlock{file: m[1], startLine: start, stmts: stmts, count: count}
			continue
		}
		if b.stmts != stmts {
			ts.Fatalf("%s: block %s has %d and %d statements", name, key, b.stmts, stmts)
		}
		if p.mode == "set" {
			if count > 0 {
				b.count = 1
			}
		} else {
			b.count += count
		}
	}
	ts.Check(sc.Err())
	if first {
		ts.Fatalf("%s: empty profile", name)
	}
	return p
}

func (p *profile) totals() (stmts, covered int) {
	for _, b := range p.blocks {
		stmts += b.stmts
		if b.count > 0 {
			covered += b.stmts
		}
	}
	return stmts, covered
}

// cmdCmpCover compares two coverprofiles: cmpcover [-counts] A B.
// Without -counts it checks that both have the same blocks, the same total
// statements and the same covered statements (what go tool cover -func's
// total line is made of); with -counts, also that each block's count is the
// same in both.
func cmdCmpCover(ts *testscript.TestScript, args []string) error {
	counts := false
	if len(args) > 0 && args[0] == "-counts" {
		counts, args = true, args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: cmpcover [-counts] A B")
	}
	a, b := readProfile(ts, args[0]), readProfile(ts, args[1])
	if a.mode != b.mode {
		ts.Fatalf("mode: %s has %q, %s has %q", args[0], a.mode, args[1], b.mode)
	}
	var problems []string
	for k, ba := range a.blocks {
		bb := b.blocks[k]
		switch {
		case bb == nil:
			problems = append(problems, fmt.Sprintf("block %s only in %s", k, args[0]))
		case ba.stmts != bb.stmts:
			problems = append(problems, fmt.Sprintf("block %s: %d statements in %s, %d in %s", k, ba.stmts, args[0], bb.stmts, args[1]))
		case counts && ba.count != bb.count:
			problems = append(problems, fmt.Sprintf("block %s: count %d in %s, %d in %s", k, ba.count, args[0], bb.count, args[1]))
		case (ba.count > 0) != (bb.count > 0):
			problems = append(problems, fmt.Sprintf("block %s: count %d in %s, %d in %s", k, ba.count, args[0], bb.count, args[1]))
		}
	}
	for k := range b.blocks {
		if a.blocks[k] == nil {
			problems = append(problems, fmt.Sprintf("block %s only in %s", k, args[1]))
		}
	}
	sa, ca := a.totals()
	sb, cb := b.totals()
	if sa != sb || ca != cb {
		problems = append(problems, fmt.Sprintf("totals: %s has %d statements, %d covered; %s has %d statements, %d covered", args[0], sa, ca, args[1], sb, cb))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("profiles differ:\n%s", strings.Join(problems, "\n"))
	}
	ts.Logf("%s and %s agree: %d statements, %d covered", args[0], args[1], sa, ca)
	return nil
}

// cmdCovered checks the blocks that start on a line of a file:
// [!] covered PROFILE FILE:LINE [COUNT]. FILE is matched as a suffix of the
// profile's file names. Without COUNT it checks that some block starting on
// that line has a non-zero count (with !: that all have count 0); with
// COUNT, that their counts add up to COUNT.
func cmdCovered(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: covered PROFILE FILE:LINE [COUNT]")
	}
	p := readProfile(ts, args[0])
	file, lineStr, ok := strings.Cut(args[1], ":")
	line, err := strconv.Atoi(lineStr)
	if !ok || err != nil {
		ts.Fatalf("covered: want FILE:LINE, got %q", args[1])
	}
	found, sum := 0, 0
	for _, b := range p.blocks {
		if (b.file == file || strings.HasSuffix(b.file, "/"+file)) && b.startLine == line {
			found++
			sum += b.count
		}
	}
	if found == 0 {
		ts.Fatalf("%s: no block starts at %s", args[0], args[1])
	}
	if len(args) == 3 {
		want, err := strconv.Atoi(args[2])
		if err != nil {
			ts.Fatalf("covered: bad count %q", args[2])
		}
		if (sum == want) == neg {
			ts.Fatalf("%s: count at %s is %d; want %s%d", args[0], args[1], sum, map[bool]string{true: "not ", false: ""}[neg], want)
		}
		return
	}
	if neg && sum > 0 {
		ts.Fatalf("%s: %s is covered (count %d); want it not covered", args[0], args[1], sum)
	}
	if !neg && sum == 0 {
		ts.Fatalf("%s: %s is not covered; want it covered", args[0], args[1])
	}
}

type testEvent struct {
	Action   string
	Package  string
	Test     string
	Output   *string
	Worker   string
	Platform string
}

// cmdOneTerminal checks a --json event file: oneterminal FILE [N].
// Every top-level test has exactly one terminal event (pass, fail or skip)
// on each platform, every test event names its platform, and every test that
// ran names its worker; with N, the file holds exactly N top-level tests
// (counted once per platform).
func cmdOneTerminal(ts *testscript.TestScript, args []string) error {
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: oneterminal FILE [N]")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	type key struct{ platform, pkg, test string }
	terminal := map[key][]string{}
	ran := map[key]bool{}
	var problems []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			ts.Fatalf("%s:%d: %v", args[0], n, err)
		}
		if e.Test == "" {
			continue
		}
		if e.Platform == "" {
			problems = append(problems, fmt.Sprintf("line %d: %s event of %s has no Platform", n, e.Action, e.Test))
		}
		top, _, sub := strings.Cut(e.Test, "/")
		k := key{e.Platform, e.Package, top}
		if _, ok := terminal[k]; !ok {
			terminal[k] = nil
		}
		if e.Action == "run" && !sub {
			ran[k] = true
			if e.Worker == "" {
				problems = append(problems, fmt.Sprintf("line %d: run event of %s has no Worker", n, e.Test))
			}
		}
		if !sub && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip") {
			terminal[k] = append(terminal[k], e.Action)
			if ran[k] && e.Worker == "" {
				problems = append(problems, fmt.Sprintf("line %d: %s event of %s, which ran, has no Worker", n, e.Action, e.Test))
			}
		}
	}
	ts.Check(sc.Err())
	for k, acts := range terminal {
		if len(acts) != 1 {
			problems = append(problems, fmt.Sprintf("%s %s (%s): terminal events %v; want exactly one", k.pkg, k.test, k.platform, acts))
		}
	}
	if len(args) == 2 {
		want, err := strconv.Atoi(args[1])
		if err != nil {
			ts.Fatalf("oneterminal: bad count %q", args[1])
		}
		if len(terminal) != want {
			problems = append(problems, fmt.Sprintf("%d top-level tests in the events; want %d", len(terminal), want))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s:\n%s", args[0], strings.Join(problems, "\n"))
	}
	return nil
}

// cmdJUnit checks a JUnit XML report: junit FILE TESTS FAILURES SKIPPED.
// The totals on <testsuites> and the <testcase> elements must both agree
// with the numbers given.
func cmdJUnit(ts *testscript.TestScript, args []string) error {
	if len(args) != 4 {
		ts.Fatalf("usage: junit FILE TESTS FAILURES SKIPPED")
	}
	var want [3]int
	for i := range want {
		n, err := strconv.Atoi(args[i+1])
		if err != nil {
			ts.Fatalf("junit: bad number %q", args[i+1])
		}
		want[i] = n
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		return fmt.Errorf("%s does not parse as JUnit XML: %v", args[0], err)
	}
	if got := [3]int{doc.Tests, doc.Failures, doc.Skipped}; got != want {
		return fmt.Errorf("%s: testsuites tests/failures/skipped = %v; want %v", args[0], got, want)
	}
	var cases [3]int
	for _, s := range doc.Suites {
		var sc [3]int
		for _, c := range s.Cases {
			sc[0]++
			if c.Failure != nil {
				sc[1]++
			}
			if c.Skipped != nil {
				sc[2]++
			}
		}
		if got := [3]int{s.Tests, s.Failures, s.Skipped}; got != sc {
			return fmt.Errorf("%s: suite %s says tests/failures/skipped = %v; its testcases make %v", args[0], s.Name, got, sc)
		}
		for i := range cases {
			cases[i] += sc[i]
		}
	}
	if cases != want {
		return fmt.Errorf("%s: testcases make tests/failures/skipped = %v; want %v", args[0], cases, want)
	}
	return nil
}

// tableOf returns the coverage table in covdist's human output: from the
// line starting with "Name" through the TOTAL line.
func tableOf(ts *testscript.TestScript, name string) string {
	var out []string
	in := false
	for _, l := range strings.Split(ts.ReadFile(name), "\n") {
		if strings.HasPrefix(l, "Name ") {
			in = true
		}
		if in {
			out = append(out, l)
			if strings.HasPrefix(l, "TOTAL ") {
				return strings.Join(out, "\n") + "\n"
			}
		}
	}
	ts.Fatalf("%s holds no coverage table (Name ... TOTAL)", name)
	return ""
}

// cmdCmpTable compares the coverage tables in two captured outputs:
// cmptable A B.
func cmdCmpTable(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! cmptable")
	}
	if len(args) != 2 {
		ts.Fatalf("usage: cmptable A B")
	}
	a, b := tableOf(ts, args[0]), tableOf(ts, args[1])
	if a != b {
		ts.Fatalf("coverage tables differ:\n--- %s\n%s--- %s\n%s", args[0], a, args[1], b)
	}
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed, (\d+) skipped$`)

// notRunPart reads the closing line, not the per-platform lines above it.
var notRunPart = regexp.MustCompile(`(?m)^\((?:.*, )?(\d+) not run;`)

// cmdSummary checks the summary of covdist's human output in a file:
// summary FILE PASSED FAILED SKIPPED NOTRUN, or summary FILE -total N when
// only the sum is certain (every collected test reported: passed, failed,
// skipped or not run).
func cmdSummary(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! summary")
	}
	if len(args) != 5 && !(len(args) == 3 && args[1] == "-total") {
		ts.Fatalf("usage: summary FILE PASSED FAILED SKIPPED NOTRUN | summary FILE -total N")
	}
	text := ts.ReadFile(args[0])
	m := summaryLine.FindStringSubmatch(text)
	if m == nil {
		ts.Fatalf("%s has no summary line (N passed, N failed, N skipped)", args[0])
	}
	notRun := "0"
	if nr := notRunPart.FindStringSubmatch(text); nr != nil {
		notRun = nr[1]
	}
	got := []string{m[1], m[2], m[3], notRun}
	if args[1] == "-total" {
		sum := 0
		for _, g := range got {
			n, _ := strconv.Atoi(g)
			sum += n
		}
		if strconv.Itoa(sum) != args[2] {
			ts.Fatalf("%s: passed, failed, skipped, not run = %v, %d in all; want %s", args[0], got, sum, args[2])
		}
		return
	}
	if strings.Join(got, " ") != strings.Join(args[1:], " ") {
		ts.Fatalf("%s: passed, failed, skipped, not run = %v; want %v", args[0], got, args[1:])
	}
}

// cmdLeftover checks that some of the processes a fixture's tests started
// outlived the run: leftover DIR, where each started process left an empty
// file named by its pid. There must be one at least, or the check would
// pass for a test that started nothing. Whatever is alive is killed after
// the check, so a failing script leaves nothing behind either.
func cmdLeftover(ts *testscript.TestScript, args []string) error {
	if len(args) != 1 {
		ts.Fatalf("usage: leftover DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	if err != nil || len(ents) == 0 {
		ts.Fatalf("leftover: no pid files in %s (%v): the fixture started no process", args[0], err)
	}
	var left []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			ts.Fatalf("leftover: %q in %s is no pid", e.Name(), args[0])
		}
		if alive(pid) {
			left = append(left, fmt.Sprintf("%d (%s)", pid, cmdline(pid)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if len(left) == 0 {
		return fmt.Errorf("none of the %d processes in %s is alive", len(ents), args[0])
	}
	return nil
}

var (
	winePrefixOnce sync.Once
	winePrefixDir  string
	winePrefixErr  error
)

// cmdWinePrefix prepares, once per test binary, a Wine prefix that runs Go
// windows/amd64 binaries (scripts/wine/prefix.sh) and points the script's
// WINEPREFIX at it: wineprefix.
func cmdWinePrefix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: wineprefix")
	}
	winePrefixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "covdist-wine-")
		if err != nil {
			winePrefixErr = err
			return
		}
		winePrefixDir = filepath.Join(dir, "prefix")
		script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "wine", "prefix.sh"))
		if err != nil {
			winePrefixErr = err
			return
		}
		cmd := exec.Command(script)
		cmd.Env = append(os.Environ(), "WINEPREFIX="+winePrefixDir, "WINEDEBUG=-all")
		if out, err := cmd.CombinedOutput(); err != nil {
			winePrefixErr = fmt.Errorf("%s: %v\n%s", script, err, out)
		}
	})
	if winePrefixErr != nil {
		ts.Fatalf("preparing a Wine prefix: %v", winePrefixErr)
	}
	ts.Setenv("WINEPREFIX", winePrefixDir)
	ts.Setenv("WINEDEBUG", "-all")
}

// cmdXMLRoot checks that a file is well-formed XML whose root element has
// the given name: xmlroot FILE NAME.
func cmdXMLRoot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: xmlroot FILE NAME")
	}
	dec := xml.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			ts.Fatalf("%s is not well-formed XML: %v", args[0], err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != args[1] {
		ts.Fatalf("%s: root element %q; want %q", args[0], root, args[1])
	}
}
