package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/covdist/covdist/coverage/gate"
	"github.com/covdist/covdist/distribute/xspec"
)

// options is every setting of a test run, from flags and covdist.toml.
type options struct {
	numProcesses     string
	distLoad         bool
	dist             string
	tx, px           []string
	rsyncDirs        []string
	rsyncIgnore      []string
	cov              []string
	noCov            bool
	coverMode        string
	covReports       []string
	covFailUnder     []string   // as given: PCT or PLATFORM:PCT
	covMins          []gate.Min // covFailUnder, parsed by validate
	covPrecision     int
	jsonOut          string
	junitXML         string
	exitFirst        bool
	maxFail          int
	maxWorkerRestart int
	timeout          time.Duration
	verbose          bool
	config           string
	looponfail       bool
	boxed            bool
	help             bool
	version          bool
	statsFile        string
	durations        string // --durations FILE
	timeline         string // --timeline FILE

	packages   []string
	testArgs   []string
	flags      *pflag.FlagSet
	thresholds map[string]float64
	// runRe and skipRe are -run and -skip given after --, applied to the
	// tests collected.
	runRe, skipRe *regexp.Regexp
	// gof is what go test's own flags asked for (see gotestflags.go).
	gof goFlags
}

const usageHead = `covdist runs a Go module's tests with coverage across worker processes,
merges every profile and prints one Stmts/Miss/Cover table.

Usage:
  covdist [flags] [packages] [-- flags for the test binaries]
  covdist merge  [report flags] PROFILE|GOCOVERDIR...   merge profiles made elsewhere
  covdist report [report flags] PROFILE|GOCOVERDIR      report on one
  covdist serve  [--listen ADDR] --authorized-keys FILE   workers for --tx socket=

Packages default to ./... (every package of the module below the current
directory). Coverage is measured over every package of the main module unless
--cov says otherwise, so packages without tests show up at 0%.

Examples:
  covdist -n auto ./...                 one worker per CPU, tests spread one by one
  covdist -n 4 --cov-report=term-missing --cov-fail-under=80 ./...
  covdist -n 2 --json ./... | gotestsum --raw-command -- cat
  covdist -n 4 --cov-report=out:cover.out ./... && go tool cover -html=cover.out
  covdist -n 4 ./... -- -short          pass -short to every test binary
  covdist -n 4 -race -tags=integration -run=TestAPI -count=1 ./...
                                        go test's flags, with go test's meaning
  covdist -x --timeout=30s ./pkg/...    stop at the first failure, 30s per test
  covdist -f -n 2 ./...                 on each save, rerun what failed until it passes
  covdist merge --cov-report=out:all.out unit.out covdir/
                                        add what a go build -cover binary wrote
                                        to GOCOVERDIR=covdir to a run's profile
  covdist --tx 4*ssh=build@arm1 --tx 2*popen ./...   remote and local workers together
  covdist --dist=each --tx 2*popen --tx popen//goarch=386 \
      --tx 'popen//goarch=arm64//exec=qemu-aarch64' --tx popen//go=go1.24.0 ./...
                                        every test on four platforms, one table

Flags:
`

const usageTail = `
Distribution modes (--dist):
  no       one worker runs every package in turn (the default without -n)
  load     each test goes to one worker: small tests are batched per process,
           the longest run first (durations are remembered between runs),
           and idle workers take the work busy ones have not started
  loadpkg  as load, but a package's tests stay together in one process
  each     every test runs on every platform: each distinct --tx platform
           (goos=, goarch=, go=, tags=, env:NAME=, exec=) is built once and
           its tests spread over its workers as in load; the table gets a
           header line and a Cover column per platform ('-' where a platform
           never compiled a file), and out:DIR/ writes one profile per
           platform beside DIR/combined.out; term-missing adds the lines
           only some platform missed, after its name, and skip-covered
           skips only files complete on every platform. Gates apply to
           the union. A platform that cannot build is
           reported with the go command's error and its tests as not run;
           the others go on. Load modes refuse several platforms.

Workers (--tx SPEC, repeatable; execnet's syntax [N*]TYPE[//key=value]...):
  popen                    a worker process here (-n N is N of these)
  ssh=[user@]host[:port]   an OpenSSH host, per your ~/.ssh/config, agent and
                           known_hosts; covdist uploads itself there as the agent
                           (cross-compiled for a host of another OS/arch, which
                           is probed when the spec names no goos=/goarch=)
  socket=host:port         a 'covdist serve' (see covdist serve --help)
  pipe=COMMAND             any command that gives a pipe: kubectl exec -i POD --
  keys: id= via= chdir= go= goos= goarch= tags= exec= env:NAME=VALUE nice=
        ssh_config=   (popen//via=ID runs on the host of --px ...//id=ID;
                      ssh=HOST//via=ID reaches HOST through that proxy)
  Remote workers get each package's test binary and directory, and every
  --rsyncdir, synchronised by content hash before their tests run there.

Nothing is lost: a test that crashes its process (panic, os.Exit, a signal,
or --timeout) is reported once as crashed, with its output and worker; the
tests queued behind it run again elsewhere, and tests that had passed in the
crashed process run once more for their coverage only (never reported twice).

go test's flags (one dash) are accepted with go test's meaning: build flags
(-race, -msan, -asan, -tags, -gcflags, -ldflags, -asmflags, -trimpath, -mod,
-modfile, -overlay, -pgo, -p, -a, ...) go to every go list and build, -tags
beside each --tx's tags=; -short, -run, -skip, -cpu=N, -parallel, -shuffle
and -fullpath go to the test binaries; -failfast is -x, -timeout is --timeout
(for each test, not each binary; 0: none), -json is --json, -covermode and
-coverpkg are --covermode and --cov, -coverprofile=FILE adds
--cov-report=out:FILE, -args is --, and -race makes coverage atomic. -count=1,
-vet=off and -cover change nothing (covdist never caches, runs no vet, always
measures). -count=N, several -cpu values, -vet=..., -bench, -fuzz, -list,
-o, -exec, -work and the profiles are refused. -n, -x, -v and -c are
covdist's own, as above. After --, go test's flags that test binaries do not
define (-race, -tags, ...) are refused: each would make every test fail.

Reports (--cov-report, repeatable): term (default), term-missing, skip-covered,
out:FILE (a Go coverprofile for go tool cover), json:FILE, xml:FILE
(Cobertura), lcov:FILE, html:DIR. covdist.toml at the module root sets
defaults (tx, dist, cov, cov_report, cov_fail_under, timeout, [thresholds]).

Exit codes:
  0  all tests passed and coverage gates were met
  1  tests failed or crashed, or a package did not build
  2  usage or configuration error, or nothing built
  3  a coverage gate was missed
  4  no worker could run
`

// setupFlags returns the flag set of a test run and the options it fills.
func setupFlags(name string) (*pflag.FlagSet, *options) {
	o := &options{}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVarP(&o.numProcesses, "numprocesses", "n", "", "run `N` local workers (or \"auto\": one per CPU); implies --dist=load")
	fs.BoolVarP(&o.distLoad, "distload", "d", false, "shortcut for --dist=load")
	fs.StringVar(&o.dist, "dist", "", "distribution `mode`: no, load, loadpkg, each (see below)")
	fs.StringArrayVar(&o.tx, "tx", nil, "add workers by execution `spec`, e.g. 4*popen (repeatable)")
	fs.StringArrayVar(&o.px, "px", nil, "a proxy gateway `spec` that runs no tests itself (repeatable)")
	fs.StringArrayVar(&o.rsyncDirs, "rsyncdir", nil, "a `dir` to synchronise to remote workers (repeatable)")
	fs.StringArrayVar(&o.rsyncIgnore, "rsyncignore", nil, "a `glob` left out of synchronisation (repeatable)")
	fs.StringArrayVar(&o.cov, "cov", nil, "measure coverage of packages matching `pattern` (repeatable; default: the main module)")
	fs.BoolVar(&o.noCov, "no-cov", false, "run the tests without coverage")
	fs.StringVar(&o.coverMode, "covermode", "", "coverage `mode`: set, count or atomic (default set)")
	fs.StringArrayVar(&o.covReports, "cov-report", nil, "report `type[:dest]`: term, term-missing, skip-covered, out:FILE, json:FILE, xml:FILE, lcov:FILE, html:DIR")
	fs.StringArrayVar(&o.covFailUnder, "cov-fail-under", nil, "exit 3 when total coverage is under `pct` (in each mode, the union over platforms); PLATFORM:PCT gates one platform, e.g. linux/386:70 (repeatable)")
	fs.IntVar(&o.covPrecision, "cov-precision", 0, "`digits` after the decimal point in coverage percentages")
	fs.StringVar(&o.jsonOut, "json", "", "write test events as go test -json, with Worker and Platform, to `file` (or stdout: the report then goes to stderr on a terminal, else into the stream as output events of no package)")
	fs.Lookup("json").NoOptDefVal = "-"
	fs.StringVar(&o.junitXML, "junitxml", "", "write a JUnit XML report to `file`")
	fs.BoolVarP(&o.exitFirst, "exitfirst", "x", false, "stop at the first failing test")
	fs.IntVar(&o.maxFail, "maxfail", 0, "stop after `N` failing tests")
	fs.IntVar(&o.maxWorkerRestart, "max-worker-restart", -1, "restart crashed workers at most `N` times in all (default 4 per worker)")
	// -1 means "4 per worker", which the usage says: pflag would add
	// "(default -1)" for a default that is not the type's zero.
	fs.Lookup("max-worker-restart").DefValue = "0"
	fs.DurationVar(&o.timeout, "timeout", 0, "end any single test running longer than `d` and report it crashed (default 10m)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print every test's result and worker start-up")
	fs.StringVarP(&o.config, "config", "c", "", "read defaults from `file` (default: covdist.toml at the module root)")
	fs.BoolVarP(&o.looponfail, "looponfail", "f", false, "loop: while tests fail, rerun them when a Go file, go.mod or testdata changes; then everything")
	fs.BoolVar(&o.boxed, "boxed", false, "run each test in its own process")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help")
	fs.BoolVar(&o.version, "version", false, "print the covdist version")
	fs.StringVar(&o.durations, "durations", "", "read and write the tests' remembered durations in `file` (JSON), which CI can keep between runs, instead of the user cache dir")
	fs.StringVar(&o.timeline, "timeline", "", "write a timeline of the run (builds, workers, each test process and test) to `file` as Chrome trace-event JSON, which chrome://tracing and ui.perfetto.dev open")
	fs.StringVar(&o.statsFile, "stats-file", "", "write run statistics (processes, bytes moved, merge time) as JSON to `file`")
	_ = fs.MarkHidden("stats-file")
	o.flags = fs
	return fs, o
}

func printUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprint(w, usageHead)
	fmt.Fprint(w, fs.FlagUsagesWrapped(100))
	fmt.Fprint(w, usageTail)
}

// parseArgs parses a test run's command line: flags, packages, then the test
// binaries' flags after "--".
func parseArgs(args []string) (*options, error) {
	fs, o := setupFlags("covdist")
	fs.Usage = func() {}
	args, err := takeGoFlags(fs, args, &o.gof)
	if err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil {
		return o, goFlagHint(err)
	}
	rest := fs.Args()
	o.testArgs = o.gof.testArgs
	if dash := fs.ArgsLenAtDash(); dash >= 0 {
		if err := checkAfterDash(rest[dash:]); err != nil {
			return o, err
		}
		o.packages = rest[:dash]
		o.testArgs = append(o.testArgs, testFlags(rest[dash:])...)
	} else {
		o.packages = rest
	}
	return o, nil
}

// testingFlags are the testing package's flags a user may give without the
// "test." prefix, as go test accepts them.
var testingFlags = map[string]bool{
	"short": true, "v": true, "count": true, "cpu": true, "parallel": true, "failfast": true,
	"shuffle": true, "benchtime": true, "bench": true, "benchmem": true, "skip": true,
	"timeout": true, "fullpath": true, "race": false, "run": true, "list": true,
	"coverprofile": true, "outputdir": true, "paniconexit0": true,
}

func testFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "-test.") && !strings.HasPrefix(a, "--") {
			name := strings.TrimPrefix(a, "-")
			name, _, _ = strings.Cut(name, "=")
			if testingFlags[name] {
				a = "-test." + strings.TrimPrefix(a, "-")
			}
		}
		out = append(out, a)
	}
	return out
}

// validate checks the options after the config file was applied.
func (o *options) validate() error {
	switch o.dist {
	case "", "no", "load", "loadpkg", "each":
	default:
		return fmt.Errorf("--dist %q: want no, load, loadpkg or each", o.dist)
	}
	if o.numProcesses != "" && o.dist == "no" {
		return fmt.Errorf("-n %s asks for parallel workers but --dist=no runs one: drop one of them", o.numProcesses)
	}
	if o.numProcesses != "" && o.numProcesses != "auto" {
		n, err := strconv.Atoi(o.numProcesses)
		if err != nil && !isDigits(o.numProcesses) || n < 0 {
			return fmt.Errorf("-n %q: want a number of workers or \"auto\"", o.numProcesses)
		}
		// The bound of --tx N*popen: a typo must not fork thousands of
		// agents until the machine runs out of processes.
		if err != nil || n > xspec.MaxCount {
			return fmt.Errorf("-n %s is more than %d, the most workers covdist starts: ask for fewer (-n auto is one per CPU)", o.numProcesses, xspec.MaxCount)
		}
	}
	switch o.coverMode {
	case "", "set", "count", "atomic":
	default:
		return fmt.Errorf("--covermode %q: want set, count or atomic", o.coverMode)
	}
	if o.gof.race && !o.noCov {
		// As go test: the race detector's binaries count atomically, and
		// go refuses another mode with -race.
		if o.coverMode == "" {
			o.coverMode = "atomic"
		} else if o.coverMode != "atomic" {
			return fmt.Errorf("--covermode %s with -race: the race detector needs --covermode=atomic (the default with -race)", o.coverMode)
		}
	}
	if o.gof.coverOut != "" {
		if o.noCov {
			return fmt.Errorf("--no-cov runs the tests without coverage, but -coverprofile is about coverage: drop one of them")
		}
		// go test -coverprofile writes the profile and still prints
		// the coverage: the term report stays unless others were asked for.
		if len(o.covReports) == 0 {
			o.covReports = []string{"term"}
		}
		o.covReports = append(o.covReports, "out:"+o.gof.coverOut)
	}
	mins, err := parseMins(o.covFailUnder)
	if err != nil {
		return err
	}
	o.covMins = mins
	if o.maxFail < 0 {
		return fmt.Errorf("--maxfail %d: want 0 (no limit) or more", o.maxFail)
	}
	if o.timeout < 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", o.timeout)
	}
	if err := o.testSelection(); err != nil {
		return err
	}
	for i, a := range o.testArgs {
		name := strings.TrimLeft(a, "-")
		name, v, hasValue := strings.Cut(name, "=")
		if !hasValue && i+1 < len(o.testArgs) {
			v = o.testArgs[i+1]
		}
		switch name {
		case "test.coverprofile", "test.v", "test.list", "test.outputdir", "test.paniconexit0", "test.gocoverdir":
			return fmt.Errorf("test binary flag %q clashes with covdist, which sets it itself (select packages with arguments, and tests with -- -run or -skip)", a)
		case "test.count", "test.cpu":
			// A second run of a test in one process reuses its name: the
			// runs after the first are not reported apart. (-count=0
			// runs none, which is reported.)
			if strings.Contains(v, ",") || (name == "test.count" && v != "1" && v != "0") {
				return fmt.Errorf("test binary flag -%s=%s is not supported: covdist runs and reports each test once", name, v)
			}
		}
	}
	if err := o.clashes(); err != nil {
		return err
	}
	for _, r := range o.covReports {
		if err := checkReport(r); err != nil {
			return err
		}
	}
	// A destination that cannot be written would fail only after the whole
	// run: refuse it now.
	files := map[string]string{"--junitxml": o.junitXML, "--timeline": o.timeline}
	if o.jsonOut != "-" {
		files["--json"] = o.jsonOut
	}
	for _, r := range o.covReports {
		kind, dest, _ := strings.Cut(r, ":")
		if dest == "" {
			dest = defaultDest[kind]
		}
		if kind == "html" || (kind == "out" && strings.HasSuffix(dest, "/")) {
			continue // directories
		}
		files["--cov-report "+r] = dest
	}
	for flag, name := range files {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			hint := "name a file"
			if strings.HasPrefix(flag, "--cov-report out:") {
				hint = "name a file, or write out:" + name + "/ for the combined profile and one per platform in it"
			}
			return fmt.Errorf("%s: %s is a directory: %s", flag, name, hint)
		}
	}
	return nil
}

// clashes refuses flags that ask for opposite things, rather than silently
// honouring one of them.
func (o *options) clashes() error {
	if o.noCov {
		for _, f := range []string{"cov", "covermode", "cov-report", "cov-fail-under"} {
			if o.flags.Changed(f) {
				return fmt.Errorf("--no-cov runs the tests without coverage, but --%s is about coverage: drop one of them", f)
			}
		}
	}
	if o.dist == "no" {
		if o.distLoad {
			return fmt.Errorf("-d means --dist=load, which contradicts --dist=no: drop one of them")
		}
		if o.flags.Changed("tx") {
			return fmt.Errorf("--dist=no runs one worker, but --tx asks for workers: drop --dist=no to spread the tests over them")
		}
	}
	if o.boxed && o.dist == "loadpkg" {
		return fmt.Errorf("--boxed runs each test in its own process, but --dist=loadpkg keeps a package's tests together: drop one of them")
	}
	return nil
}

// testSelection takes -test.run and -test.skip out of the test binaries'
// flags and keeps them as filters on the tests collected: covdist gives
// each process its own -test.run, naming the tests it runs. Only top-level
// patterns can be applied that way; a -skip with a subtest part is passed
// on to the binaries as it is.
func (o *options) testSelection() error {
	var keep []string
	for i := 0; i < len(o.testArgs); i++ {
		a := o.testArgs[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "test.run" && name != "test.skip" {
			keep = append(keep, a)
			continue
		}
		if !hasValue {
			if i+1 == len(o.testArgs) {
				return fmt.Errorf("test binary flag %s needs a pattern", a)
			}
			i++
			value = o.testArgs[i]
		}
		short := strings.TrimPrefix(name, "test.")
		if strings.Contains(value, "/") {
			if short == "run" {
				return fmt.Errorf("-run %q: covdist selects top-level tests itself, so a -run pattern with a subtest part (after /) is not supported: use -run for top-level tests and -skip for subtests", value)
			}
			keep = append(keep, "-test.skip="+value)
			continue
		}
		re, err := regexp.Compile(value)
		if err != nil {
			return fmt.Errorf("-%s %q: %v", short, value, err)
		}
		if short == "run" {
			o.runRe = re
		} else {
			o.skipRe = re
		}
	}
	o.testArgs = keep
	return nil
}

// selected reports whether a collected top-level test is one -run and
// -skip select, as the testing package matches them (unanchored).
func (o *options) selected(test string) bool {
	if o.runRe != nil && !o.runRe.MatchString(test) {
		return false
	}
	return o.skipRe == nil || !o.skipRe.MatchString(test)
}

// parseMins parses every --cov-fail-under.
func parseMins(vals []string) ([]gate.Min, error) {
	var mins []gate.Min
	for _, v := range vals {
		m, err := gate.ParseMin(v)
		if err != nil {
			return nil, fmt.Errorf("--cov-fail-under %w", err)
		}
		mins = append(mins, m)
	}
	return mins, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// workers returns how many local workers -n asks for (0 when not given).
func (o *options) workers() int {
	switch o.numProcesses {
	case "":
		return 0
	case "auto":
		return min(runtime.NumCPU(), xspec.MaxCount)
	}
	n, _ := strconv.Atoi(o.numProcesses)
	return n
}
