// Package distribute owns running a test plan over workers: opening
// gateways, starting agents, cutting tests into units, scheduling them
// (load, loadpkg, no, each), rescheduling around crashes and dead workers,
// accounting for every test exactly once, and merging the coverage that comes
// back into one profile per platform.
//
// It declares the small interfaces it needs (Gateway, Reporter, Estimator)
// and imports neither platforms nor the CLI.
package distribute

import (
	"context"
	"io"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/internal/timeline"
)

// Mode is a distribution mode.
type Mode string

// The distribution modes.
const (
	// No runs everything on one worker, a package per unit.
	No Mode = "no"
	// Load sends each test to one worker, batched, longest first.
	Load Mode = "load"
	// LoadPkg keeps a package's tests together in one unit.
	LoadPkg Mode = "loadpkg"
	// Each runs every test on every platform; within a platform, as Load.
	Each Mode = "each"
)

// Gateway opens a byte stream to a freshly started agent.
type Gateway interface {
	Open(ctx context.Context) (io.ReadWriteCloser, error)
	String() string
}

// Binary is a package's test binary as a worker sees it.
type Binary struct {
	Path string // on the worker
	Dir  string // the package directory on the worker: the test's working directory
}

// Worker is one agent slot.
type Worker struct {
	ID      string // gw0, gw1, ...
	Gateway Gateway
	// Remote says the worker does not share this machine's files: each
	// package's binary and directory, and Plan.Sync's extra directories,
	// are synchronised into its workspace before it runs them.
	Remote bool
}

// Sync says where local files live, so remote workers get them at the same
// places relative to their workspace: binaries under bin/, module files
// under src/.
type Sync struct {
	ModuleDir string   // the main module's root
	BinDir    string   // where the test binaries are built
	Dirs      []string // --rsyncdir directories, synchronised once per worker
	Ignore    []string // --rsyncignore globs
}

// Platform is one environment the plan runs tests in, with its own
// binaries, test list, workers and coverage.
type Platform struct {
	Name string // linux/amd64
	// GOOS and GOARCH are what the test binaries were built for. A remote
	// worker whose agent reports another platform is refused unless Exec
	// wraps the binaries; empty: not checked.
	GOOS, GOARCH string
	GoVersion    string            // the toolchain that built them (go1.26.8), for worker lines
	Header       string            // platform linux/amd64, go1.26.8
	Binaries     map[string]Binary // by package import path
	Tests        []Test
	Workers      []Worker
	Args         []string // extra test binary flags
	Env          []string // NAME=VALUE for the test processes
	Exec         []string // wrapper, as go test -exec
}

// Test names one top-level test of a package.
type Test struct {
	Package string
	Name    string
}

// Plan is everything a run needs.
type Plan struct {
	Mode        Mode
	Platforms   []*Platform
	CoverMode   string        // empty: no coverage
	Timeout     time.Duration // per test; 0: none
	MaxFail     int           // stop scheduling after this many failures; 0: never
	MaxRestarts int           // worker restarts allowed over the run
	Estimator   Estimator     // may be nil
	Version     string        // sent to agents in the hello
	Boxed       bool          // every test in its own process
	// Sync is needed when any worker is Remote.
	Sync *Sync
	// Feed, when not nil, brings packages whose test binaries became ready
	// after the run started (their builds overlap the first tests); the
	// run ends only after it is closed.
	Feed <-chan Arrival
	// Timeline, when not nil, records on each worker's track its start-up
	// (gateway, handshake, sync), every test process from its dispatch to
	// its end, and each top-level test within it.
	Timeline *timeline.Recorder
}

// Arrival is a package whose test binary is ready on a platform.
type Arrival struct {
	Platform string // a Platform's Name
	Package  string
	Binary   Binary
	Tests    []string
	// NotRun, when set, reports every one of Tests as not run, with this
	// reason, instead of running them: the platform could not build them.
	NotRun string
	// Build, with NotRun, says the package itself did not build: it
	// fails with the go command's output, as go test fails a package
	// "[build failed]", and its tests are reported not run with no test
	// events, as go test writes none for them.
	Build *BuildFailure
	// Expect, when positive, carries no package: it says how many packages
	// will arrive for the platform, so the scheduler knows when it holds
	// all of the platform's work.
	Expect int
}

// BuildFailure is a package that did not build on a platform.
type BuildFailure struct {
	// FailedBuild is the go command's name of the build that failed, as
	// in go test -json's events ("pkg [pkg.test]", or a dependency).
	FailedBuild string
	Output      string // that build's output, its "# pkg" line first
	Setup       bool   // the package did not load: go test's "[setup failed]"
}

// Estimator predicts a test's duration from earlier runs.
type Estimator interface {
	// Estimate returns the expected seconds and whether the test was seen before.
	Estimate(platform, pkg, test string) (float64, bool)
}

// Event is a test event in go test -json form, plus where it ran.
type Event struct {
	Time     time.Time
	Action   string // start, run, pause, cont, output, pass, fail, skip
	Package  string
	Test     string
	Elapsed  float64
	Output   string
	Worker   string
	Platform string
}

// Status is a test's final status.
type Status string

// Final statuses.
const (
	Passed  Status = "pass"
	Failed  Status = "fail"
	Skipped Status = "skip"
	Crashed Status = "crashed" // counted as failed
	NotRun  Status = "notrun"
)

// Result is the final outcome of one test on one platform, reported once.
type Result struct {
	Platform string
	Package  string
	Test     string
	Status   Status
	Elapsed  float64
	Output   string
	Worker   string
	Reason   string // for crashed and not run: why
}

// WorkerEvent tells of a worker coming up or going down.
type WorkerEvent struct {
	Worker   string
	Platform string
	Gateway  string
	Up       bool
	Info     string // platform and working directory on up; the reason on down
}

// Reporter receives a run's progress. Its methods are called from one
// goroutine, in order.
type Reporter interface {
	// Event is called for each test event, once the test's outcome is
	// known, so a test's events arrive together and exactly once.
	Event(Event)
	// Result is called exactly once per collected test.
	Result(Result)
	// BuildFailed is called, before the package's tests are reported not
	// run and it is done, for a package that did not build.
	BuildFailed(platform, pkg string, f BuildFailure)
	// PackageDone is called when the last test of a package on a platform is final.
	PackageDone(platform, pkg string, failed bool, elapsed float64)
	// Worker is called when a worker comes up or goes down.
	Worker(WorkerEvent)
	// Note is called with a line the run's user should read that is
	// about no test in particular: files a host could not be given.
	Note(text string)
}

// A Starter is a Reporter that is also told when each top-level test
// starts running, as it happens (Event waits for the test's outcome): a
// status line can then name the tests that have run for long.
type Starter interface {
	Started(platform, pkg, test, worker string, at time.Time)
}

// Outcome is what a run produced.
type Outcome struct {
	// Coverage holds one merged profile per platform name.
	Coverage map[string]*coverage.Profile
	// Durations holds the seconds each finished test took, per platform, package and test.
	Durations []Duration
	// Counts by final status, over all platforms.
	Counts map[Status]int
	// BytesIn is the bytes received from agents; BytesCover the part that was coverage.
	BytesIn, BytesCover int64
	// Units is the number of test processes run; Restarts the worker restarts.
	Units, Restarts int
	// Overhead is the mean seconds a test process spent outside its tests.
	Overhead float64
	// MergeSeconds is the time spent merging coverage deltas.
	MergeSeconds float64
	// SyncBytes is the file content sent to remote workers; SyncWire the
	// frame bytes those syncs took (manifests included).
	SyncBytes, SyncWire int64
}

// Duration is one measured test duration.
type Duration struct {
	Platform, Package, Test string
	Seconds                 float64
}
