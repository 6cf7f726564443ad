package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/distribute/xspec"
	"github.com/covdist/covdist/internal/progress"
	"github.com/covdist/covdist/internal/scratch"
	"github.com/covdist/covdist/internal/timeline"
	"github.com/covdist/covdist/platforms"
	"github.com/spf13/pflag"
)

func runTests(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if errors.Is(err, pflag.ErrHelp) || (err == nil && o.help) {
		printUsage(stdout, o.flags)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "covdist: %v\nRun 'covdist --help' for usage.\n", err)
		return exitUsage
	}
	if o.version {
		fmt.Fprintln(stdout, "covdist", version)
		return exitOK
	}
	moduleDir, err := findModuleDir(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage
	}
	// The go commands run at the module root; the user's relative
	// patterns are relative to where covdist was started.
	if wd, err := os.Getwd(); err == nil {
		if len(o.packages) == 0 {
			o.packages = []string{"./..."} // the module below the current directory
		}
		o.packages = fromModuleRoot(wd, moduleDir, o.packages)
		o.cov = fromModuleRoot(wd, moduleDir, o.cov)
	}
	if err := applyConfig(o, moduleDir); err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage
	}
	if o.rsyncDirs, err = rsyncDirs(moduleDir, o.rsyncDirs); err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage
	}
	// A --durations file that does not parse is refused before anything
	// builds (each run reads it again: -f runs learn from the last).
	if _, err := loadHistory(moduleDir, o.durations); err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage
	}
	if o.looponfail {
		return loopOnFail(ctx, o, moduleDir, stdout, stderr)
	}
	code, _ := runOnce(ctx, o, moduleDir, nil, stdout, stderr)
	return code
}

// runOnce is one run: build, run, report. With only set it runs just those
// tests (of -f's failing set) and reports no coverage, which a part of the
// suite would misstate. It returns the exit code and the tests that did not
// pass.
func runOnce(ctx context.Context, o *options, moduleDir string, only testSet, stdout, stderr io.Writer) (int, testSet) {
	start := time.Now()
	var failing testSet
	var tl *timeline.Recorder
	if o.timeline != "" {
		tl = timeline.NewAt(start)
		tl.Track("coordinator")
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "covdist: finding its own executable to start workers: %v\n", err)
		return exitUsage, failing
	}
	probeFailed := make(map[string]error)
	groups, mode, err := workerGroups(o, func(specs []xspec.Spec) []xspec.Spec {
		defer tl.Begin("coordinator", "probe remote workers", "setup").End(nil)
		return probeRemotes(ctx, specs, self, probeFailed)
	})
	if err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage, failing
	}

	// Human output goes to stdout unless test events do. Then it goes to
	// stderr when that is a terminal, and otherwise into the event stream,
	// as output events of the module's path: a program reading the stream
	// (gotestsum --raw-command) counts every stderr line as an error, and
	// its JUnit names a suite by the events' package.
	human := stdout
	var jsonW io.Writer
	if o.jsonOut == "-" {
		lw := &lockedWriter{w: stdout}
		jsonW, human = lw, stderr
		if f, ok := stderr.(*os.File); !ok || !isTerminal(f) {
			human = &eventText{enc: json.NewEncoder(lw), pkg: modulePathFromGoMod(filepath.Join(moduleDir, "go.mod"))}
		}
	} else if o.jsonOut != "" {
		f, err := os.Create(o.jsonOut)
		if err != nil {
			fmt.Fprintf(stderr, "covdist: --json: %v\n", err)
			return exitUsage, failing
		}
		defer f.Close()
		jsonW = f
	}
	term := newTerminal(human, stderr)
	defer term.close()
	// writeTimeline ends the run's span and writes --timeline's file; false
	// when it could not be written, which fails the run as a report would.
	writeTimeline := func() bool {
		if tl == nil {
			return true
		}
		tl.Add(timeline.Span{Track: "coordinator", Name: "covdist", Category: "run", Start: start, End: time.Now()})
		if err := writeFile(o.timeline, tl.Write); err != nil {
			fmt.Fprintf(stderr, "covdist: --timeline: %v\n", err)
			return false
		}
		fmt.Fprintf(human, "Timeline written to %s (open in ui.perfetto.dev or chrome://tracing)\n", o.timeline)
		return true
	}

	coverMode := o.coverMode
	if coverMode == "" {
		coverMode = "set"
	}
	if o.noCov {
		coverMode = ""
	}
	packages := o.packages
	if len(packages) == 0 {
		packages = []string{"./..."}
	}
	if only != nil {
		packages = only.packages()
	}
	// The test binaries go where the next run removes them if this one
	// is killed before its deferred cleanup runs.
	scr, err := scratch.New("bin")
	if err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage, failing
	}
	defer scr.Close()
	binDir := scr.Path

	// Probe every distinct platform (quick), then start the workers and
	// build side by side: each package's tests are scheduled as soon as its
	// binary is linked, as go test overlaps building and running.
	// A platform that cannot build is reported, with its tests as not run,
	// while the others go on; a run of one platform ends with its error.
	probing := tl.Begin("coordinator", "probe platforms", "setup")
	groups, built, buildErrs := probeGroups(ctx, moduleDir, groups)
	probing.End(nil)
	if err := checkMode(mode, groups, true); err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage, failing
	}
	if mode == distribute.No {
		groups[0].specs = groups[0].specs[:1] // merged groups brought more
	}
	modulePath := ""
	for i, b := range built {
		if buildErrs[i] == nil {
			modulePath = b.ModulePath
			break
		}
	}
	if modulePath == "" {
		for i, err := range buildErrs {
			reportBuildError(stderr, groups[i], err)
		}
		return exitUsage, failing
	}

	hist, err := loadHistory(moduleDir, o.durations)
	if err != nil {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
		return exitUsage, failing
	}
	feed := make(chan distribute.Arrival)
	plan := &distribute.Plan{
		Mode: mode, CoverMode: coverMode, Timeout: o.timeout, Version: version,
		MaxFail: o.maxFail, Estimator: hist, Boxed: o.boxed, Feed: feed, Timeline: tl,
	}
	if plan.Timeout == 0 && !o.gof.noTimeout {
		plan.Timeout = 10 * time.Minute
	}
	if o.exitFirst {
		plan.MaxFail = 1
	}
	agents := newAgentBuilder(self, func(s string) { term.printf("covdist: %s\n", s) })
	agents.timeline = tl
	ws := newWorkspaces(moduleDir)
	nWorkers := 0
	for i, b := range built {
		pl := &distribute.Platform{Name: b.Name, GOOS: b.GOOS, GOARCH: b.GOARCH, GoVersion: b.GoVersion, Header: b.Header, Binaries: make(map[string]distribute.Binary),
			Args: o.testArgs, Env: groups[i].target.Env, Exec: groups[i].target.Exec}
		for _, spec := range groups[i].specs {
			if buildErrs[i] != nil {
				break
			}
			gw, remote := gatewayFor(spec, self, agents.For, ws)
			if err := probeFailed[probeKey(spec)]; err != nil {
				gw = &failedFirst{Gateway: gw, err: err}
			}
			pl.Workers = append(pl.Workers, distribute.Worker{ID: fmt.Sprintf("gw%d", nWorkers), Gateway: gw, Remote: remote})
			if remote && plan.Sync == nil {
				plan.Sync = &distribute.Sync{ModuleDir: moduleDir, BinDir: binDir, Dirs: o.rsyncDirs, Ignore: o.rsyncIgnore}
			}
			nWorkers++
		}
		plan.Platforms = append(plan.Platforms, pl)
	}
	for _, b := range built {
		tl.Track(buildTrack(b))
	}
	for _, pl := range plan.Platforms {
		for _, w := range pl.Workers {
			tl.Track(w.ID)
		}
	}
	plan.MaxRestarts = o.maxWorkerRestart
	if plan.MaxRestarts < 0 {
		plan.MaxRestarts = 4 * nWorkers
	}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var count progress.Count // tests the run will report, from its start
	var arrived arrivals
	var wg sync.WaitGroup
	for i, b := range built {
		if buildErrs[i] != nil {
			continue
		}
		wg.Add(1)
		go func(i int, b *platforms.Built) {
			defer wg.Done()
			track := buildTrack(b)
			building := tl.Begin(track, "build "+b.Name, "build")
			listing := tl.Begin(track, "list packages", "build")
			buildErrs[i] = b.BuildTests(runCtx, platforms.Options{
				ModuleDir: moduleDir, Patterns: packages, Cov: o.cov, CoverMode: coverMode,
				Tags: o.gof.tags, BuildFlags: o.gof.build,
				BinDir: filepath.Join(binDir, fmt.Sprint(i)), Progress: term.status,
				Expect: func(n int) {
					listing.End(map[string]any{"packages with tests": n})
					if n == 0 {
						return
					}
					select {
					case feed <- distribute.Arrival{Platform: b.Name, Expect: n}:
					case <-runCtx.Done():
					}
				},
				Estimate: func(pkg string, tests []string) {
					if only != nil {
						tests = only.filter(pkg, tests)
					}
					n := 0
					for _, t := range tests {
						if o.selected(t) {
							n++
						}
					}
					count.Estimate(b.Name, pkg, n)
				},
				Ready: func(p *platforms.Package) {
					if only != nil {
						p.Tests = only.filter(p.ImportPath, p.Tests)
					}
					if o.runRe != nil || o.skipRe != nil {
						p.Tests = slices.DeleteFunc(p.Tests, func(t string) bool { return !o.selected(t) })
					}
					arrived.add(i, p.ImportPath)
					count.Exact(b.Name, p.ImportPath, len(p.Tests))
					tl.Mark(timeline.Event{Track: track, Name: "ready " + p.ImportPath, Category: "build", At: time.Now(),
						Args: map[string]any{"package": p.ImportPath, "tests": len(p.Tests)}})
					select {
					case feed <- distribute.Arrival{Platform: b.Name, Package: p.ImportPath,
						Binary: distribute.Binary{Path: p.Binary, Dir: p.Dir}, Tests: p.Tests}:
					case <-runCtx.Done():
					}
				},
			})
			var buildArgs map[string]any
			if buildErrs[i] != nil || len(b.Failed) > 0 {
				buildArgs = map[string]any{"error": fmt.Sprint(buildErrs[i]), "packages failed": len(b.Failed)}
			}
			building.End(buildArgs)
			// Packages that did not build fail, as go test fails them,
			// with their tests not run; the others run.
			for _, f := range b.Failed {
				var tests []string
				for _, p := range b.Packages {
					if p.ImportPath != f.Package {
						continue
					}
					names, _ := p.SourceTests() // a test file that does not parse lists none
					for _, t := range names {
						if (only == nil || only[p.ImportPath][t]) && o.selected(t) {
							tests = append(tests, t)
						}
					}
				}
				count.Exact(b.Name, f.Package, len(tests))
				select {
				case feed <- distribute.Arrival{Platform: b.Name, Package: f.Package, Tests: tests,
					NotRun: "package " + f.Package + " did not build",
					Build:  &distribute.BuildFailure{FailedBuild: f.FailedBuild, Output: f.Output, Setup: f.Setup}}:
				case <-runCtx.Done():
				}
			}
			if buildErrs[i] != nil && len(built) == 1 {
				cancelRun() // a build failure ends the run: exit 2 with the compiler's errors
			}
		}(i, b)
	}
	var buildMS atomic.Int64
	go func() {
		wg.Wait()
		buildMS.Store(time.Since(start).Milliseconds())
		notBuilt(runCtx, feed, built, buildErrs, &arrived, func(pkg, test string) bool {
			return (only == nil || only[pkg][test]) && o.selected(test)
		})
		close(feed)
	}()

	rep := newReporter(o, term, jsonW, human, &count, len(plan.Platforms) > 1)
	rep.stderr = stderr
	rep.notBuilt = make(map[string]string)
	for _, pl := range plan.Platforms {
		rep.order = append(rep.order, pl.Name)
	}
	if o.verbose {
		for _, b := range built {
			fmt.Fprintln(human, b.Header)
		}
	}
	running := tl.Begin("coordinator", "run tests", "run")
	outcome, runErr := distribute.Run(runCtx, plan, rep)
	running.End(nil)
	cancelRun()
	wg.Wait()
	term.clear()
	// A build ended by our own cancellation (-x stopped the run) is not an
	// error of its own. With every platform failed, it is a build error
	// (exit 2); with some built, the others' tests were reported not run
	// (exit 1).
	failedBuild := make(map[string]bool)
	for i, err := range buildErrs {
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			failedBuild[built[i].Name] = true
		}
	}
	// Platforms where packages did not build are partly built: their
	// packages' output was shown as they failed.
	brokenPkgs := 0
	for _, b := range built {
		brokenPkgs += len(b.Failed)
		if len(b.Failed) > 0 && !failedBuild[b.Name] {
			rep.notBuilt[b.Name] = "building test binaries failed"
		}
	}
	if len(failedBuild) > 0 || brokenPkgs > 0 {
		for i, err := range buildErrs {
			if failedBuild[built[i].Name] {
				reportBuildError(stderr, groups[i], err)
				rep.notBuilt[built[i].Name] = stepOf(err)
			}
		}
		// A build failure of the only platform, or builds that left no
		// package to run on any platform, is a build error (exit 2);
		// platforms that built some packages report what those ran.
		if (len(failedBuild) == 1 && len(built) == 1) || arrived.total() == 0 {
			if rep.junit != nil && o.junitXML != "" && len(rep.brokenJUnit) > 0 {
				if err := writeJUnit(o.junitXML, rep.junit, rep.brokenJUnit, newJUnitRun(built, start, rep)); err != nil {
					fmt.Fprintf(stderr, "covdist: --junitxml: %v\n", err)
				}
			}
			writeTimeline()
			return exitUsage, failing
		}
	}
	if outcome != nil {
		hist.record(outcome)
		if err := hist.save(); err != nil && (o.verbose || o.durations != "") {
			fmt.Fprintf(stderr, "covdist: remembering test durations: %v\n", err)
		}
	}

	code := exitOK
	if runErr != nil {
		if errors.Is(runErr, distribute.ErrNoWorker) {
			fmt.Fprintf(stderr, "covdist: %v\n", runErr)
			code = exitNoWorker
		} else if ctx.Err() != nil {
			// What ran is reported, and what did not; no coverage, which
			// a part of the run would misstate.
			rep.finish()
			writeTimeline()
			rep.summary(time.Since(start), nWorkers)
			fmt.Fprintln(stderr, "covdist: interrupted")
			return exitFailed, rep.notPassed
		} else {
			fmt.Fprintf(stderr, "covdist: %v\n", runErr)
			code = exitNoWorker
		}
	}
	rep.finish()
	failing = rep.notPassed

	// Coverage: each platform's profile, plus the blocks no binary linked.
	var cols []platformCoverage
	shapeErr := false
	merging := tl.Begin("coordinator", "coverage of packages no test covered", "coverage")
	if coverMode != "" && outcome != nil {
		for i, b := range built {
			if failedBuild[b.Name] && arrived.count(i) == 0 {
				cols = append(cols, platformCoverage{name: b.Name, header: notBuiltHeader(b, buildErrs[i]), headerOnly: true})
				continue
			}
			header := b.Header
			if failedBuild[b.Name] {
				// What did build ran; the packages that did not count at 0%.
				header += " (partly built: " + stepOf(buildErrs[i]) + ")"
			} else if len(b.Failed) > 0 && len(built) > 1 {
				header += " (partly built: building test binaries failed)"
			}
			p := outcome.Coverage[b.Name]
			if b.Zero != nil {
				if err := p.Merge("packages without tests", b.Zero); err != nil {
					fmt.Fprintf(stderr, "covdist: %v\n", err)
					return exitUsage, failing
				}
			}
			// Packages no test process delivered coverage for (each one
			// crashed, or could not start) still count, at nothing covered.
			missing := b.Missing(p)
			if failedBuild[b.Name] {
				// Of a platform whose build failed, only the packages that
				// built: the others were never compiled ('-').
				missing = slices.DeleteFunc(missing, func(pkg string) bool { return !arrived.has(i, pkg) })
			}
			// A package that did not build has no statements anyone
			// knows of: left out (and noted under the table) unless a
			// package that did build linked it and brought its blocks.
			missing = slices.DeleteFunc(missing, func(pkg string) bool {
				return slices.ContainsFunc(b.Failed, func(f *platforms.Failure) bool { return f.Package == pkg })
			})
			if len(missing) > 0 {
				shape, err := b.Shape(ctx, coverMode, missing)
				if err == nil {
					err = p.Merge("the source of packages whose tests delivered no coverage", shape)
				}
				if err != nil {
					// Without those packages TOTAL would overstate the
					// coverage, and a gate judge it on that.
					fmt.Fprintf(stderr, "covdist: %s: the blocks of packages whose tests delivered no coverage: %v\n", b.Name, err)
					shapeErr = true
				}
			}
			cols = append(cols, platformCoverage{name: b.Name, header: header, profile: p})
		}
	}
	merging.End(nil)
	reportErr := shapeErr
	reporting := tl.Begin("coordinator", "write reports", "report")
	if rep.junit != nil && o.junitXML != "" {
		if err := writeJUnit(o.junitXML, rep.junit, rep.brokenJUnit, newJUnitRun(built, start, rep)); err != nil {
			fmt.Fprintf(stderr, "covdist: --junitxml: %v\n", err)
			reportErr = true
		}
	}
	gateCode := exitOK
	if only != nil && coverMode != "" {
		fmt.Fprintln(human, "(-f: coverage and its gates are reported on runs of every test)")
	} else if coverMode != "" && outcome != nil {
		var err error
		gateCode, err = writeReports(human, o, cols, modulePath, moduleDir)
		if err != nil {
			fmt.Fprintf(stderr, "covdist: %v\n", strings.ReplaceAll(err.Error(), "\n", "\ncovdist: "))
			reportErr = true
		}
		for _, pkg := range notInTable(built, cols) {
			fmt.Fprintf(human, "(%s did not build: its statements are not in the coverage)\n", pkg)
		}
	}
	reporting.End(nil)
	if !writeTimeline() {
		reportErr = true
	}
	rep.summary(time.Since(start), nWorkers)
	if reportErr {
		return exitUsage, failing
	}
	if o.statsFile != "" && outcome != nil {
		if err := writeStats(o.statsFile, outcome, cols, time.Since(start), buildMS.Load()); err != nil {
			fmt.Fprintf(stderr, "covdist: --stats-file: %v\n", err)
		}
	}
	if code != exitOK {
		return code, failing
	}
	if rep.failed > 0 || rep.crashed > 0 || rep.pkgFailed > 0 {
		return exitFailed, failing
	}
	if rep.notRun > 0 || len(failedBuild) > 0 {
		return exitFailed, failing
	}
	return gateCode, failing
}

// notInTable returns the packages that did not build and of which no
// platform's coverage holds a block: the coverage reports leave them out.
func notInTable(built []*platforms.Built, cols []platformCoverage) []string {
	have := make(map[string]bool)
	for _, c := range cols {
		if c.profile == nil {
			continue
		}
		for _, f := range c.profile.Files() {
			have[path.Dir(f)] = true
		}
	}
	var out []string
	for _, b := range built {
		for _, f := range b.Failed {
			if !have[f.Package] && (f.Setup || slices.Contains(b.CovPkgs, f.Package)) && !slices.Contains(out, f.Package) {
				out = append(out, f.Package)
			}
		}
	}
	sort.Strings(out)
	return out
}

// fromModuleRoot rewrites relative package patterns (./x/..., ../y, .)
// given in directory wd as relative to the module root, where covdist runs
// the go command. Import paths and absolute patterns are kept.
func fromModuleRoot(wd, moduleDir string, patterns []string) []string {
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = p
		if p != "." && p != ".." && !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
			continue
		}
		rel, err := filepath.Rel(moduleDir, filepath.Join(wd, p))
		if err != nil {
			continue
		}
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			out[i] = "."
		case rel == ".." || strings.HasPrefix(rel, "../"):
			out[i] = rel
		default:
			out[i] = "./" + rel
		}
	}
	return out
}

// findModuleDir returns the directory of the main module's go.mod, found
// as the go command finds it: in the current directory or the nearest
// parent. (Asking go env costs a process start on every run.)
func findModuleDir(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("the go command is not on PATH: covdist builds with it: %v", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%s is not inside a Go module (no go.mod found): run covdist in a module", wd)
		}
	}
}

// applyConfig fills options the command line left unset from covdist.toml.
func applyConfig(o *options, moduleDir string) error {
	path := o.config
	if path == "" {
		path = findConfig(moduleDir)
		if path == "" {
			return nil
		}
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	set := func(name string) bool { return o.flags.Changed(name) }
	// Command-line --tx adds to the file's.
	o.tx = append(append([]string{}, cfg.Tx...), o.tx...)
	o.px = append(append([]string{}, cfg.Px...), o.px...)
	if !set("dist") && cfg.Dist != "" {
		o.dist = cfg.Dist
	}
	o.rsyncDirs = append(append([]string{}, cfg.RsyncDirs...), o.rsyncDirs...)
	o.rsyncIgnore = append(append([]string{}, cfg.RsyncIgnore...), o.rsyncIgnore...)
	if !set("numprocesses") && cfg.NumProcesses != "" {
		o.numProcesses = cfg.NumProcesses
	}
	if !set("cov") && len(cfg.Cov) > 0 {
		o.cov = cfg.Cov
	}
	if !set("covermode") && cfg.CoverMode != "" {
		o.coverMode = cfg.CoverMode
	}
	if !set("cov-fail-under") && cfg.CovFailUnder != nil {
		o.covFailUnder = []string{strconv.FormatFloat(*cfg.CovFailUnder, 'g', -1, 64)}
	}
	if !set("cov-report") && len(cfg.CovReport) > 0 {
		o.covReports = cfg.CovReport
	}
	if !set("timeout") && cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil {
			return fmt.Errorf("%s: timeout %q: %v", path, cfg.Timeout, err)
		}
		o.timeout = d
	}
	o.thresholds = cfg.Thresholds
	return nil
}

// group is the workers of one platform.
type group struct {
	target platforms.Target
	specs  []xspec.Spec
	label  string // the platform's name in reports, once probed
	where  string // in each mode, the remote location that makes it a platform of its own
}

func (g *group) name() string {
	if g.label != "" {
		return g.label
	}
	t := g.target
	n := qualifiedName(defaultStr(t.GOOS, hostGOOS())+"/"+defaultStr(t.GOARCH, hostGOARCH()), "", t)
	if len(t.Exec) > 0 {
		n += " exec=" + strings.Join(t.Exec, " ")
	}
	if g.where != "" {
		n += " " + g.where
	}
	return n
}

// workerGroups turns -n and --tx into workers grouped by platform, and
// decides the distribution mode.
// probe, when set, may fill in each spec's platform from its host.
func workerGroups(o *options, probe func([]xspec.Spec) []xspec.Spec) ([]*group, distribute.Mode, error) {
	var specs []xspec.Spec
	if n := o.workers(); n > 0 {
		for i := 0; i < n; i++ {
			specs = append(specs, xspec.Spec{Raw: "popen", Count: 1, Type: "popen"})
		}
	}
	txSpecs, pxSpecs, err := parseSpecs(o.tx, o.px)
	if err != nil {
		return nil, "", err
	}
	for _, s := range txSpecs {
		specs = append(specs, s.Expand()...)
	}
	if len(specs) > xspec.MaxCount {
		return nil, "", fmt.Errorf("-n and --tx ask for %d workers in all, more than %d, the most covdist starts: ask for fewer", len(specs), xspec.MaxCount)
	}
	if specs, err = resolveVia(specs, pxSpecs); err != nil {
		return nil, "", err
	}
	if probe != nil {
		specs = probe(specs)
	}
	mode := distribute.Mode(o.dist)
	if mode == "" {
		switch {
		case o.distLoad || o.numProcesses != "" || len(o.tx) > 0:
			mode = distribute.Load
		default:
			mode = distribute.No
		}
	}
	if len(specs) == 0 {
		specs = []xspec.Spec{{Raw: "popen", Count: 1, Type: "popen"}}
	}
	// One platform per distinct (goos, goarch, go, tags, env, exec): built
	// once, its tests spread over its workers. Only each mode runs a test
	// on more than one.
	groups := groupSpecs(specs, mode == distribute.Each)
	if err := checkMode(mode, groups, false); err != nil {
		return nil, "", err
	}
	if mode == distribute.No {
		groups[0].specs = groups[0].specs[:1]
	}
	return groups, mode, nil
}

// platformCoverage is one platform's merged coverage.
type platformCoverage struct {
	name, header string
	profile      *coverage.Profile
	headerOnly   bool // built nothing: a header line, no column
}

// writeStats records what a run cost, for benchmarks.
func writeStats(name string, out *distribute.Outcome, cols []platformCoverage, wall time.Duration, buildMS int64) error {
	blocks := 0
	for _, c := range cols {
		blocks += c.profile.Len()
	}
	b, err := json.MarshalIndent(map[string]any{
		"wall_seconds":     wall.Seconds(),
		"build_ms":         buildMS, // start to the last binary built (tests overlap it)
		"processes":        out.Units,
		"restarts":         out.Restarts,
		"bytes_in":         out.BytesIn,
		"bytes_coverage":   out.BytesCover,
		"merge_seconds":    out.MergeSeconds,
		"overhead_seconds": out.Overhead,
		"blocks":           blocks,
		"sync_bytes":       out.SyncBytes,
		"sync_wire_bytes":  out.SyncWire,
		"counts":           out.Counts,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
}

// reportBuildError prints a failed build or go list step with the go
// command's own output and returns the usage exit code.
func reportBuildError(stderr io.Writer, g *group, err error) int {
	var be *platforms.Error
	if errors.As(err, &be) {
		fmt.Fprintf(stderr, "covdist: %s (%s):\n%s\n", be.Step, g.name(), strings.TrimRight(be.Output, "\n"))
	} else {
		fmt.Fprintf(stderr, "covdist: %v\n", err)
	}
	return exitUsage
}

// buildTrack names a platform's build track on the timeline.
func buildTrack(b *platforms.Built) string {
	return "build " + b.Name
}
