// Package platforms owns turning a module and a platform (GOOS, GOARCH, Go
// toolchain, build tags, environment) into coverage-instrumented test
// binaries and the list of tests in each: packages are found with go list,
// built in as few `go test -c -cover -coverpkg=... -o DIR/` invocations as
// their names allow, and listed with -test.list. Packages that are measured
// but linked into no test binary get their blocks from one extra go test
// run, so they count, at 0%, as go test -coverpkg counts them.
//
// It imports coverage, never distribute or the CLI.
package platforms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/covdist/covdist/coverage"
)

// Target is a platform to build for. The zero value is the host as the
// default go command sees it.
type Target struct {
	GOOS, GOARCH string
	Go           string   // go binary path, or release (go1.24.0) fetched through GOTOOLCHAIN
	Tags         []string // build tags
	Env          []string // NAME=VALUE for go and for the tests
	Exec         []string // wrapper to run test binaries, as go test -exec
}

// Options say what to build.
type Options struct {
	ModuleDir string   // where go commands run
	Patterns  []string // packages to test
	Cov       []string // packages to measure; empty means every package of the main module
	CoverMode string   // set, count or atomic
	BinDir    string   // where binaries go; created
	// Tags are build tags for every target, besides its own.
	Tags []string
	// BuildFlags are go build flags (-race, -gcflags=...) for every go
	// command that lists or builds, after covdist's own.
	BuildFlags []string
	// Progress, when set, receives one line per step.
	Progress func(string)
	// Ready, when set, is called (from any goroutine, once per package)
	// as soon as a package's test binary is linked and its tests listed,
	// while other packages may still be building.
	Ready func(*Package)
	// Expect, when set, is told how many packages Ready will be called
	// for, once the packages are known and before any is ready.
	Expect func(n int)
	// Estimate, when set, is called (from another goroutine, once per
	// package with test files) with the tests the package's source
	// declares, as soon as the packages are listed and while they build:
	// a count of the run's tests from its start. Ready's list is exact.
	Estimate func(pkg string, tests []string)
}

// Package is one package under test.
type Package struct {
	ImportPath string
	Name       string
	Dir        string
	Binary     string // empty when it has no test files
	Tests      []string

	testFiles []string // its _test.go files for the target, in Dir
}

// Built is a platform ready to run.
type Built struct {
	Target     Target
	Name       string // linux/amd64
	GOOS       string
	GOARCH     string
	Header     string // platform linux/amd64, go1.26.8 [exec=...]
	GoVersion  string
	ModulePath string
	ModuleDir  string
	Packages   []*Package
	// Failed holds the packages that did not build or load: the others
	// are built and ready all the same, as go test runs them.
	Failed  []*Failure
	CovPkgs []string
	// Zero holds, with zero counts, the blocks of measured packages that no
	// test binary links.
	Zero *coverage.Profile

	toolDir   string               // the toolchain's GOTOOLDIR, where its cover tool is
	workspace bool                 // a go.work is in effect
	sources   map[string]sourcePkg // measured packages' files, for Shape
	loadErr   map[string]string    // tested packages that do not load: go list's error
}

// Error is a failure of the go command, with its output.
type Error struct {
	Step   string
	Output string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s failed:\n%s", e.Step, strings.TrimRight(e.Output, "\n"))
}

type runner struct {
	t    Target
	dir  string
	json bool // the go command writes build output as -json events
}

func (r *runner) env() []string {
	env := os.Environ()
	if r.t.GOOS != "" {
		env = append(env, "GOOS="+r.t.GOOS)
	}
	if r.t.GOARCH != "" {
		env = append(env, "GOARCH="+r.t.GOARCH)
	}
	if r.t.Go != "" && !strings.Contains(r.t.Go, "/") {
		env = append(env, "GOTOOLCHAIN="+r.t.Go)
	}
	return append(env, r.t.Env...)
}

func (r *runner) goBin() string {
	if strings.Contains(r.t.Go, "/") {
		return r.t.Go
	}
	return "go"
}

// run runs the go command and returns its stdout; on failure an *Error with its stderr.
func (r *runner) run(ctx context.Context, step string, args ...string) ([]byte, []byte, error) {
	return r.runEnv(ctx, step, nil, args...)
}

func (r *runner) runEnv(ctx context.Context, step string, env []string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, r.goBin(), args...)
	// The go command's own children (compile, link, cover) are ended with
	// it: Ctrl-C during a build leaves none of them running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Dir = r.dir
	cmd.Env = append(r.env(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		out := stderr.String()
		if out == "" {
			out = err.Error()
		}
		return stdout.Bytes(), stderr.Bytes(), &Error{Step: step, Output: out}
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

// runBuild runs a go command that builds packages (go test -c, go build).
// When it fails, it returns with the *Error what the go command said of
// each build that failed.
func (r *runner) runBuild(ctx context.Context, step string, env []string, args ...string) (*buildOutput, error) {
	if r.json {
		args = append([]string{args[0], "-json"}, args[1:]...)
	}
	stdout, stderr, err := r.runEnv(ctx, step, env, args...)
	if err == nil || ctx.Err() != nil {
		return nil, err
	}
	if r.json {
		return parseBuildJSON(stdout), err
	}
	return parseBuildText(stderr), err
}

type goEnv struct {
	GOOS, GOARCH, GOVERSION, GOMOD, GOTOOLDIR, GOWORK string
}

type listPkg struct {
	ImportPath     string
	Name           string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	TestGoFiles    []string
	XTestGoFiles   []string
	InvalidGoFiles []string
	Error          *struct{ Err string }
	DepsErrors     []*struct{ Err string }
	Module         *struct {
		Path, Dir string
		Main      bool
	}
}

// moduleLine returns the module path a go.mod declares, when its module
// line is a plain one: module PATH or module "PATH", with or without a
// trailing comment.
func moduleLine(gomod string) (string, bool) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		rest, _, _ = strings.Cut(rest, "//")
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, `"`) {
			if rest, err = strconv.Unquote(rest); err != nil {
				return "", false
			}
		}
		if rest == "" || rest == "(" || strings.ContainsAny(rest, " \t\"") {
			return "", false
		}
		return rest, true
	}
	return "", false
}

// Build prepares one platform: Probe, then BuildTests.
func Build(ctx context.Context, opt Options, t Target) (*Built, error) {
	b, err := Probe(ctx, opt, t)
	if err != nil {
		return nil, err
	}
	if err := b.BuildTests(ctx, opt); err != nil {
		return nil, err
	}
	return b, nil
}

// Probe finds out what a target is (its name, Go version and module),
// quickly, before anything is built.
func Probe(ctx context.Context, opt Options, t Target) (*Built, error) {
	v, err := resolveToolchain(ctx, opt.ModuleDir, t.Go)
	if err != nil {
		return nil, err
	}
	t.Go = v
	r := &runner{t: t, dir: opt.ModuleDir}
	out, _, err := r.run(ctx, "setting up the toolchain (go env)", "env", "-json", "GOOS", "GOARCH", "GOVERSION", "GOMOD", "GOTOOLDIR", "GOWORK")
	if err != nil {
		return nil, err
	}
	var ge goEnv
	if err := json.Unmarshal(out, &ge); err != nil {
		return nil, fmt.Errorf("reading go env: %w", err)
	}
	if ge.GOMOD == "" || ge.GOMOD == os.DevNull {
		return nil, fmt.Errorf("%s is not inside a Go module (no go.mod found): run covdist in a module", opt.ModuleDir)
	}
	b := &Built{Target: t, GoVersion: ge.GOVERSION, Name: ge.GOOS + "/" + ge.GOARCH, GOOS: ge.GOOS, GOARCH: ge.GOARCH,
		ModuleDir: filepath.Dir(ge.GOMOD), toolDir: ge.GOTOOLDIR, workspace: ge.GOWORK != "" && ge.GOWORK != "off"}
	b.Header = header(b.Name, ge.GOVERSION, t)
	// The main module is the one whose go.mod go env found (in a go.work
	// workspace too): read from its module line, which saves a go command
	// on every run; go list -m where that line is not plain.
	if path, ok := moduleLine(ge.GOMOD); ok {
		b.ModulePath = path
		return b, nil
	}
	modOut, _, err := r.run(ctx, "go list -m", "list", "-m", "-f", "{{.Path}}\t{{.Dir}}")
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(modOut)), "\n") {
		path, dir, _ := strings.Cut(line, "\t")
		if i == 0 || dir == b.ModuleDir {
			b.ModulePath = path
		}
		if dir == b.ModuleDir {
			break
		}
	}
	return b, nil
}

// BuildTests builds and lists the test binaries of b's target.
func (b *Built) BuildTests(ctx context.Context, opt Options) error {
	t := b.Target
	r := &runner{t: t, dir: opt.ModuleDir, json: buildJSON(b.GoVersion)}
	progress := opt.Progress
	if progress == nil {
		progress = func(string) {}
	}
	cov := opt.Cov
	if len(cov) == 0 {
		cov = []string{b.ModulePath + "/..."}
	}
	if err := os.MkdirAll(opt.BinDir, 0o755); err != nil {
		return err
	}
	// The build starts now, beside the lists, as the single go test -c
	// that makes every binary unless two of them share a name: loading
	// the packages is a good part of a small module's run, and go test
	// itself does it once, not after two lists.
	early := b.startBuild(ctx, r, opt, cov, opt.Patterns)
	defer early.cancel()
	// Both lists at once: each go list costs a few hundred milliseconds.
	var tested, covPkgs []listPkg
	var testedErr, covErr error
	var lw sync.WaitGroup
	// From the module root, ./... is the module's every package, as the
	// default --cov is: one list, not two, the common way covdist runs.
	same := len(opt.Cov) == 0 && len(opt.Patterns) == 1 && opt.Patterns[0] == "./..." && !b.workspace
	if !same {
		lw.Add(1)
		go func() {
			defer lw.Done()
			covPkgs, covErr = list(ctx, r, cov, buildFlags(t, opt))
		}()
	}
	tested, testedErr = list(ctx, r, opt.Patterns, buildFlags(t, opt))
	lw.Wait()
	if same {
		covPkgs = tested
	}
	if testedErr != nil {
		return testedErr
	}
	if covErr != nil {
		return fmt.Errorf("resolving --cov: %w", covErr)
	}
	testedSet := make(map[string]bool)
	b.loadErr = make(map[string]string)
	for _, p := range tested {
		testedSet[p.ImportPath] = true
		pkg := &Package{ImportPath: p.ImportPath, Name: p.Name, Dir: p.Dir,
			testFiles: append(slices.Clone(p.TestGoFiles), p.XTestGoFiles...)}
		b.Packages = append(b.Packages, pkg)
		if p.Error != nil {
			b.loadErr[p.ImportPath] = p.Error.Err
		}
	}
	var zeroPkgs []string
	b.sources = make(map[string]sourcePkg)
	for _, p := range covPkgs {
		if p.Error != nil {
			// go test -coverpkg leaves out a package that does not load;
			// a tested one fails, and the table notes it.
			continue
		}
		b.CovPkgs = append(b.CovPkgs, p.ImportPath)
		b.sources[p.ImportPath] = sourcePkg{dir: p.Dir, files: append(slices.Clone(p.GoFiles), p.CgoFiles...)}
		if !testedSet[p.ImportPath] || len(p.TestGoFiles)+len(p.XTestGoFiles) == 0 {
			zeroPkgs = append(zeroPkgs, p.ImportPath)
		}
	}
	hasTests := make(map[string]bool)
	withTests := 0
	for _, p := range tested {
		hasTests[p.ImportPath] = len(p.TestGoFiles)+len(p.XTestGoFiles) > 0
		if hasTests[p.ImportPath] {
			withTests++
		} else if p.Error != nil {
			// Not built below: it fails from its go list error.
			b.Failed = append(b.Failed, &Failure{Package: p.ImportPath, FailedBuild: p.ImportPath, Setup: true,
				Output: "# " + p.ImportPath + "\n" + strings.TrimRight(p.Error.Err, "\n") + "\n"})
		}
	}
	if opt.Expect != nil {
		opt.Expect(withTests)
	}
	if opt.Estimate != nil {
		go func() {
			for _, p := range b.Packages {
				if ctx.Err() != nil {
					return
				}
				if tests, err := p.SourceTests(); err == nil && len(tests) > 0 {
					opt.Estimate(p.ImportPath, tests)
				}
			}
		}()
	}

	// The build and the zero-coverage step run side by side.
	var wg sync.WaitGroup
	var zeroErr error
	var zeroFailed []*Failure
	if len(zeroPkgs) > 0 && len(b.CovPkgs) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Compiled, as go test -cover compiles a package without
			// tests, so that its compile errors fail the run; its blocks
			// come from its source.
			var compile []string
			for _, p := range zeroPkgs {
				if len(b.sources[p].files) > 0 { // not a package of tests alone
					compile = append(compile, p)
				}
			}
			if len(compile) > 0 {
				args := append([]string{"build", "-o", os.DevNull}, buildFlags(b.Target, opt)...)
				out, err := r.runBuild(ctx, "building packages without tests", nil, append(args, compile...)...)
				if err != nil {
					// The packages the go command names fail, as go test
					// fails them; the others are measured.
					var failed []string
					if out != nil {
						for _, ip := range out.order {
							if p := variantOf(ip); slices.Contains(compile, p) && testedSet[p] && !slices.Contains(failed, p) {
								failed = append(failed, p)
							}
						}
					}
					if len(failed) == 0 {
						zeroErr = err
						return
					}
					zeroFailed = out.failures(failed, func(string) string { return err.Error() })
					zeroPkgs = slices.DeleteFunc(zeroPkgs, func(p string) bool { return slices.Contains(failed, p) })
				}
			}
			b.Zero, zeroErr = b.Shape(ctx, opt.CoverMode, zeroPkgs)
		}()
	}
	progress(fmt.Sprintf("building test binaries for %d packages (%s)", len(b.Packages), b.Name))
	failed, buildErr := buildRounds(ctx, r, opt, b, hasTests, early)
	wg.Wait()
	if buildErr != nil {
		return buildErr
	}
	b.Failed = append(append(b.Failed, failed...), zeroFailed...)
	return zeroErr
}

func header(name, version string, t Target) string {
	h := "platform " + name + ", " + version
	var extra []string
	if len(t.Exec) > 0 {
		extra = append(extra, "exec="+strings.Join(t.Exec, " "))
	}
	if len(t.Tags) > 0 {
		extra = append(extra, "tags="+strings.Join(t.Tags, ","))
	}
	for _, e := range t.Env {
		extra = append(extra, "env:"+e)
	}
	if len(extra) > 0 {
		h += " [" + strings.Join(extra, " ") + "]"
	}
	return h
}

// buildFlags are the go command's build flags for a target: its tags and
// opt's in one -tags (go keeps only the last), then opt's other flags. Every
// go list and build gets them: tags change which files a package has, and
// -race which packages are linked.
func buildFlags(t Target, opt Options) []string {
	var tags []string
	for _, tag := range append(slices.Clone(t.Tags), opt.Tags...) {
		if !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	var args []string
	if len(tags) > 0 {
		args = append(args, "-tags="+strings.Join(tags, ","))
	}
	return append(args, opt.BuildFlags...)
}

// list resolves package patterns, failing on patterns that match nothing
// and on packages that do not load.
func list(ctx context.Context, r *runner, patterns []string, flags []string) ([]listPkg, error) {
	args := append([]string{"list", "-e", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,InvalidGoFiles,Error,DepsErrors,Module"}, flags...)
	args = append(args, patterns...)
	out, stderr, err := r.run(ctx, "go list "+strings.Join(patterns, " "), args...)
	if err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`(?m)^go: warning: "(.*)" matched no packages$`).FindSubmatch(stderr); m != nil {
		return nil, fmt.Errorf("package pattern %q matched no packages", m[1])
	}
	var pkgs []listPkg
	var problems []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listPkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		if p.Error != nil && len(p.GoFiles)+len(p.CgoFiles)+len(p.TestGoFiles)+len(p.XTestGoFiles)+len(p.InvalidGoFiles) == 0 {
			// No package at all (a directory with no Go files, a
			// pattern's typo): the command line is wrong. A package with
			// files that does not load fails by itself, as go test fails
			// it "[setup failed]".
			problems = append(problems, p.Error.Err)
			continue
		}
		pkgs = append(pkgs, p)
	}
	if len(problems) > 0 {
		return nil, &Error{Step: "loading packages", Output: strings.Join(problems, "\n")}
	}
	return pkgs, nil
}

// binaryName is the file go test -c -o DIR/ writes for a package: the last
// element of its import path, without a major-version suffix.
func binaryName(importPath string) string {
	elem := path.Base(importPath)
	if regexp.MustCompile(`^v[2-9][0-9]*$`).MatchString(elem) && strings.Contains(importPath, "/") {
		elem = path.Base(path.Dir(importPath))
	}
	return elem + ".test"
}

// buildRounds builds every package with tests, in rounds whose binaries'
// names do not clash (go test -c -o DIR/ refuses two calc.test in one call).
// Each binary is listed, and handed to opt.Ready, as soon as go has moved it
// into place: go renames a finished binary from its work directory, which
// GOTMPDIR keeps on the same file system, so a binary that exists is whole.
// The packages that did not build are returned as failures, with what the
// go command said of them; the error is for a build that failed otherwise.
func buildRounds(ctx context.Context, r *runner, opt Options, b *Built, hasTests map[string]bool, early *build) ([]*Failure, error) {
	var rounds [][]*Package
	for _, p := range b.Packages {
		if !hasTests[p.ImportPath] {
			continue
		}
		name := binaryName(p.ImportPath)
		placed := false
		for i := range rounds {
			clash := false
			for _, q := range rounds[i] {
				if binaryName(q.ImportPath) == name {
					clash = true
					break
				}
			}
			if !clash {
				rounds[i] = append(rounds[i], p)
				placed = true
				break
			}
		}
		if !placed {
			rounds = append(rounds, []*Package{p})
		}
	}
	gotmp := filepath.Join(opt.BinDir, "gotmp")
	if err := os.MkdirAll(gotmp, 0o755); err != nil {
		return nil, err
	}
	l := &lister{b: b, opt: opt, sem: make(chan struct{}, runtime.NumCPU()), done: make(map[*Package]bool)}
	coverpkg := strings.Join(b.CovPkgs, ",")
	// go test -c refuses two matched packages of one binary name, with
	// tests or not: then the early build failed, and the rounds name each
	// package with tests.
	names := make(map[string]bool)
	clash := false
	for _, p := range b.Packages {
		clash = clash || names[binaryName(p.ImportPath)]
		names[binaryName(p.ImportPath)] = true
	}
	useEarly := len(rounds) == 1 && !clash
	errs := make([]error, len(rounds))
	failed := make([][]*Failure, len(rounds))
	if !useEarly {
		early.cancel()
		<-early.done
	}
	var wg sync.WaitGroup
	for i, round := range rounds {
		dir := filepath.Join(opt.BinDir, fmt.Sprintf("r%d", i))
		if useEarly {
			dir = early.dir
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		for _, p := range round {
			p.Binary = filepath.Join(dir, binaryName(p.ImportPath))
			if b.GOOS == "windows" {
				p.Binary += ".exe" // as go test -c names a windows executable
			}
		}
		// -s -w as go test itself links the binaries it runs: no DWARF or
		// symbol table (tracebacks use the pclntab), which halves the link.
		args := []string{"test", "-c", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
		if opt.CoverMode != "" {
			args = append(args, "-cover", "-covermode="+opt.CoverMode)
			if coverpkg != "" {
				args = append(args, "-coverpkg="+coverpkg)
			}
		}
		args = append(args, buildFlags(b.Target, opt)...)
		for _, p := range round {
			args = append(args, p.ImportPath)
		}
		wg.Add(1)
		go func(i int, round []*Package) {
			defer wg.Done()
			built := make(chan struct{})
			var pw sync.WaitGroup
			pw.Add(1)
			go func() {
				defer pw.Done()
				l.watch(ctx, round, built)
			}()
			var err error
			var out *buildOutput
			if useEarly {
				<-early.done
				err, out = early.err, early.out
			} else {
				out, err = r.runBuild(ctx, "building test binaries", []string{"GOTMPDIR=" + gotmp}, args...)
			}
			close(built)
			pw.Wait()
			var missing []string
			for _, p := range round {
				if _, serr := os.Stat(p.Binary); serr != nil {
					missing = append(missing, p.ImportPath)
				}
			}
			var e *Error
			switch {
			case err != nil && len(missing) > 0 && out != nil && errors.As(err, &e):
				// The packages that did not build fail, as go test fails
				// them "[build failed]"; the others are ready.
				failed[i] = out.failures(missing, func(pkg string) string {
					if why, ok := b.loadErr[pkg]; ok {
						return why
					}
					return filterWarnings(e.Output)
				})
			case err != nil && len(missing) == 0 && out != nil && len(out.order) > 0:
				// Every binary was written: what failed is a package
				// without tests, which the build of those reports.
			case err != nil:
				errs[i] = err
			case len(missing) > 0:
				errs[i] = fmt.Errorf("go test -c wrote no %s for %s", binaryName(missing[0]), missing[0])
			}
		}(i, round)
	}
	wg.Wait()
	// Listers started before a failure still finish: Ready is never called
	// after BuildTests returns.
	l.wg.Wait()
	var msgs []string
	for _, err := range errs {
		var e *Error
		if errors.As(err, &e) {
			msgs = append(msgs, e.Output)
		} else if err != nil {
			return nil, err
		}
	}
	if len(msgs) > 0 {
		return nil, &Error{Step: "building test binaries", Output: filterWarnings(strings.Join(msgs, "\n"))}
	}
	var all []*Failure
	for _, f := range failed {
		all = append(all, f...)
	}
	for _, f := range all {
		// go test's "[setup failed]": a package that does not load.
		if _, ok := b.loadErr[f.Package]; ok {
			f.Setup = true
		}
	}
	return all, errors.Join(l.errs...)
}

// build is a go test -c started before the packages are listed.
type build struct {
	dir    string
	done   chan struct{}
	err    error
	out    *buildOutput // what a failed build said of its packages
	cancel context.CancelFunc
}

// startBuild starts go test -c of every package patterns match, measuring
// the cov patterns, into one directory.
func (b *Built) startBuild(ctx context.Context, r *runner, opt Options, cov, patterns []string) *build {
	ctx, cancel := context.WithCancel(ctx)
	bd := &build{dir: filepath.Join(opt.BinDir, "all"), done: make(chan struct{}), cancel: cancel}
	gotmp := filepath.Join(opt.BinDir, "gotmp")
	go func() {
		defer close(bd.done)
		if bd.err = os.MkdirAll(bd.dir, 0o755); bd.err != nil {
			return
		}
		if bd.err = os.MkdirAll(gotmp, 0o755); bd.err != nil {
			return
		}
		// -s -w as go test itself links the binaries it runs: no DWARF or
		// symbol table (tracebacks use the pclntab), which halves the link.
		args := []string{"test", "-c", "-ldflags=-s -w", "-o", bd.dir + string(filepath.Separator)}
		if opt.CoverMode != "" {
			args = append(args, "-cover", "-covermode="+opt.CoverMode, "-coverpkg="+strings.Join(cov, ","))
		}
		args = append(args, buildFlags(b.Target, opt)...)
		args = append(args, patterns...)
		bd.out, bd.err = r.runBuild(ctx, "building test binaries", []string{"GOTMPDIR=" + gotmp}, args...)
	}()
	return bd
}

// lister lists each built binary's tests once and reports it ready.
type lister struct {
	b    *Built
	opt  Options
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	done map[*Package]bool
	errs []error
}

// watch polls for a round's binaries while go builds them, and takes the
// rest when go is done (built closed).
func (l *lister) watch(ctx context.Context, round []*Package, built <-chan struct{}) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		final := false
		select {
		case <-ctx.Done():
			return
		case <-built:
			final = true
		case <-tick.C:
		}
		left := 0
		for _, p := range round {
			l.mu.Lock()
			seen := l.done[p]
			l.mu.Unlock()
			if seen {
				continue
			}
			if _, err := os.Stat(p.Binary); err != nil {
				left++
				continue
			}
			l.mu.Lock()
			l.done[p] = true
			l.mu.Unlock()
			l.wg.Add(1)
			go l.list(ctx, p)
		}
		if final || left == 0 {
			return
		}
	}
}

func (l *lister) list(ctx context.Context, p *Package) {
	defer l.wg.Done()
	l.sem <- struct{}{}
	defer func() { <-l.sem }()
	if ctx.Err() != nil {
		return
	}
	// From the test files, as go test's generated main finds the tests,
	// rather than by running the binary with -test.list: that costs a
	// process start (a qemu start for an emulated platform), runs the
	// package's init and TestMain just to list, and cannot be done at all
	// for a binary built for a remote of another architecture.
	tests, err := sourceTests(p.Dir, p.testFiles)
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, &Error{Step: "listing tests of " + p.ImportPath, Output: err.Error()})
		l.mu.Unlock()
		return
	}
	p.Tests = tests
	if l.opt.Ready != nil {
		l.opt.Ready(p)
	}
}

// filterWarnings drops go's note that some -coverpkg package is imported by
// no tested package: covdist measures those separately.
func filterWarnings(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "warning: no packages being tested depend on matches for pattern") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
