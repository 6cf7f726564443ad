// Command bench measures covdist against go test on generated workloads, as
// the "Performance" section of issue 2 asks. Run it from the module root:
//
//	go run ./bench                    every workload, 3 alternating runs each (about 8 min on 2 cores)
//	go run ./bench -k 1 -only=a,c     one run of workloads (a) and (c)
//	go run ./bench -covdist=bin/covdist -keep
//
// Flags:
//
//	-k N        measured runs of each tool per workload; the median is reported (default 3)
//	-only LIST  workloads to run, from a,b,c,d (default all)
//	-covdist F  the covdist binary to measure (default: build ./cmd/covdist)
//	-keep       keep the generated modules and outputs (they are under $TMPDIR)
//	-blocks N   coverage blocks of workload (d)'s module (default 100000)
//
// For workloads (a) to (c) it generates a stdlib-only module, warms the build
// cache by running each tool once unmeasured, then runs
//
//	covdist -n 2 --cov-report=out:F --json=F --stats-file=F ./...
//	go test -count=1 -p 2 -cover -coverpkg=./... -coverprofile=F ./...
//
// K times each, alternating which goes first so that noise from other load
// on the machine falls on both. covdist remembers test durations between
// runs (XDG_CACHE_HOME points at a directory of the benchmark's own), so its
// first run after the warm-up, with no history, is reported apart as "cold
// history". From covdist's --json events it computes the test phase's
// makespan (first event to last) and its lower bound max(longest test, total
// test time / 2).
//
//	(a) one package of 12 sequential tests of 0.5-2 s: covdist at least 1.7x faster
//	(b) 40 packages of uneven durations: covdist no slower than 1.05x go test
//	(c) 2,000 tiny tests in 10 packages: covdist no slower than 1.15x go test,
//	    with the per-test overhead (covdist wall - go test wall) / 2000
//	and for each, makespan within 10% of its lower bound.
//
// The tests of (a) and (b) sleep, so their durations are the same on a busy
// machine; note that go test links later packages while earlier ones sleep,
// an overlap that CPU-bound tests would not leave it.
//
// Workload (d) generates a module of many coverage blocks in 50 packages
// and runs 500 tests each in its own process (covdist --boxed), reporting
// the bytes agents sent and the merge time, against the naive alternatives:
// 500 full text profiles, and 500 GOCOVERDIR directories from the same tests
// run as go test binaries, merged by go tool covdata merge. It takes about
// 2.5 minutes on 2 quiet cores at the 100k blocks, most of it
// covdist's 500 processes; -blocks scales it down (the output says so).
//
// The exit status is 0 when every workload ran, whatever the verdicts, and
// 1 when one could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	k       int
	only    map[string]bool
	covdist string
	keep    bool
	blocks  int
	args    []string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	only := fs.String("only", "a,b,c,d", "workloads to run, from a,b,c,d")
	fs.IntVar(&o.k, "k", 3, "measured runs of each tool per workload (the median is reported)")
	fs.StringVar(&o.covdist, "covdist", "", "covdist binary to measure (default: build ./cmd/covdist)")
	fs.BoolVar(&o.keep, "keep", false, "keep the generated workloads")
	fs.IntVar(&o.blocks, "blocks", 100_000, "coverage blocks of workload (d)'s module")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.k < 1 {
		return nil, fmt.Errorf("-k %d: want at least 1", o.k)
	}
	o.only = map[string]bool{}
	for _, w := range strings.Split(*only, ",") {
		w = strings.TrimSpace(w)
		if !strings.Contains("abcd", w) || len(w) != 1 {
			return nil, fmt.Errorf("-only: unknown workload %q (want a, b, c or d)", w)
		}
		o.only[w] = true
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	work, err := os.MkdirTemp("", "covdist-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	if o.covdist == "" {
		o.covdist = filepath.Join(work, "covdist")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", o.covdist, "./cmd/covdist").CombinedOutput()
		if err != nil {
			fmt.Fprintf(stderr, "bench: building covdist (run bench from the module root): %v\n%s", err, out)
			return 1
		}
	} else if o.covdist, err = filepath.Abs(o.covdist); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	r, err := newRunner(ctx, o.covdist, work)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}

	fmt.Fprintf(stdout, "covdist benchmark: %s\n", strings.Join(append([]string{"go", "run", "./bench"}, args...), " "))
	fmt.Fprintf(stdout, "%s, %s/%s, %d CPUs, %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), time.Now().Format("2006-01-02 15:04"))
	fmt.Fprintf(stdout, "workloads in W=%s%s; covdist is %s\n", work,
		map[bool]string{true: " (kept)", false: " (removed at exit, -keep keeps it)"}[o.keep], r.show(o.covdist))
	code := 0
	for _, c := range comparisons {
		if !o.only[c.name] {
			continue
		}
		if err := c.run(ctx, r, o.k, filepath.Join(work, c.name), stdout); err != nil {
			fmt.Fprintf(stderr, "bench: workload (%s): %v\n", c.name, err)
			code = 1
		}
	}
	if o.only["d"] {
		if err := runWide(ctx, r, o.blocks, filepath.Join(work, "d"), stdout); err != nil {
			fmt.Fprintf(stderr, "bench: workload (d): %v\n", err)
			code = 1
		}
	}
	return code
}
