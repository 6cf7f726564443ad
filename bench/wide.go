package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Workload (d)'s shape: 50 packages of functions with 20 ifs (41 blocks)
// each, as many functions as -blocks asks for; 500 tests in 10 test binaries.
const (
	widePkgs     = 50
	wideIfs      = 20
	wideTests    = 500
	wideTestPkgs = 10
)

// runWide runs workload (d): 500 single-test processes over a module of
// about the given number of blocks, covdist --boxed against the GOCOVERDIR route.
func runWide(ctx context.Context, r *runner, blocks int, dir string, w io.Writer) error {
	mod := filepath.Join(dir, "mod")
	perFunc := widePkgs * (2*wideIfs + 1)
	funcs := max(1, (blocks+perFunc-1)/perFunc)
	desc, err := genWide(mod, widePkgs, funcs, wideIfs, wideTests, wideTestPkgs)
	if err != nil {
		return fmt.Errorf("generating: %w", err)
	}
	runs := wideTests
	f := func(s string) string { return filepath.Join(dir, s) }

	// The GOCOVERDIR route's build warms the build cache for covdist's.
	buildArgs := []string{"go", "test", "-c", "-cover", "-coverpkg=./...", "-o", f("bin") + "/", "./..."}
	buildWall, err := r.run(ctx, mod, "", buildArgs...)
	if err != nil {
		return err
	}
	covArgs := []string{r.covdist, "-n", fmt.Sprint(workers), "--boxed", "--cov-report=out:" + f("covdist.out"), "--stats-file=" + f("stats.json"), "./..."}
	wall, err := r.run(ctx, mod, f("history"), covArgs...)
	if err != nil {
		return err
	}
	st, err := readStats(f("stats.json"))
	if err != nil {
		return err
	}

	// The naive route moves one full text profile per run.
	if _, err := r.run(ctx, mod, "", "go", "test", "-count=1", "-cover", "-coverpkg=./...",
		"-coverprofile="+f("one.out"), "-run=^Test000$", "./w00"); err != nil {
		return err
	}
	one, err := os.Stat(f("one.out"))
	if err != nil {
		return err
	}

	cd, err := covdataRoute(ctx, r, mod, dir)
	if err != nil {
		return err
	}

	scale := ""
	if st.Blocks < 95_000 {
		scale = " (SCALED DOWN from the issue's 100k by -blocks)"
	}
	fmt.Fprintf(w, "\n(d) %d runs over a module of %d coverage blocks%s: %s\n", runs, st.Blocks, scale, desc)
	fmt.Fprintf(w, "  reproduce: go run ./bench -only=d -blocks=%d\n", blocks)
	fmt.Fprintf(w, "  covdist:   cd %s && %s\n", r.show(mod), r.show(covArgs...))
	fmt.Fprintf(w, "  covdata:   cd %s && %s\n", r.show(mod), r.show(buildArgs...))
	fmt.Fprintf(w, "             cd %s && %s   (and the other %d tests, %d at a time)\n", r.show(cd.example[0]), r.show(cd.example[1:]...), runs-1, workers)
	fmt.Fprintf(w, "             go tool covdata merge -i=%s,...,%s -o=%s\n", r.show(cd.dirs[0]), r.show(cd.dirs[len(cd.dirs)-1]), r.show(f("merged")))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tcovdist --boxed\tnaive text profiles\tGOCOVERDIR + covdata merge\ttarget\tresult")
	fmt.Fprintf(tw, "  test processes\t%d (%d restarts)\t%d\t%d\t\t\n", st.Processes, st.Restarts, runs, runs)
	fmt.Fprintf(tw, "  wall\t%.1fs (whole run)\t\t%.1fs runs + %.1fs build\t\t\n", wall.Seconds(), cd.runs.Seconds(), buildWall.Seconds())
	fmt.Fprintf(tw, "  coverage bytes moved / on disk\t%s\t%d x %s = %s\t%s\tcovdist smaller\t%s\n", mb(st.BytesCoverage), runs, mb(one.Size()),
		mb(int64(runs)*one.Size()), mb(cd.onDisk), verdict(st.BytesCoverage < cd.onDisk))
	fmt.Fprintf(tw, "  all bytes agents -> coordinator\t%s (%.1f KiB/run)\t\t\t\t\n", mb(st.BytesIn), float64(st.BytesIn)/float64(runs)/1024)
	fmt.Fprintf(tw, "  merge time\t%.2fs\t\t%.2fs (+ textfmt %.2fs)\tcovdist faster\t%s\n", st.MergeSeconds, cd.merge.Seconds(), cd.textfmt.Seconds(),
		verdict(st.MergeSeconds < cd.merge.Seconds()))
	fmt.Fprintf(tw, "  per process: overhead / wall x %d / runs\t%.0fms / %.0fms\t\t- / %.0fms\t\t\n", workers, st.OverheadSeconds*1000,
		wall.Seconds()*workers/float64(runs)*1000, cd.runs.Seconds()*workers/float64(runs)*1000)
	cov, goCov, same, err := compareCoverage(f("covdata.out"), f("covdist.out"))
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "  covered stmts\t%s\t\t%s\tequal\t%s\n", cov, goCov, sameWord(same))
	return tw.Flush()
}

// covdata is what the GOCOVERDIR route cost.
type covdata struct {
	dirs           []string // one per run
	example        []string // the first run: its directory, then argv
	runs           time.Duration
	onDisk         int64
	merge, textfmt time.Duration
}

// covdataRoute runs the same tests as go test binaries built into dir/bin,
// one process each with its own GOCOVERDIR, and merges those directories
// with go tool covdata, then turns the result into a text profile.
func covdataRoute(ctx context.Context, r *runner, mod, dir string) (*covdata, error) {
	f := func(s string) string { return filepath.Join(dir, s) }
	cd := &covdata{}
	var jobs [][]string // the directory to run in, then argv
	for t := 0; t < wideTests; t++ {
		pkg := fmt.Sprintf("w%02d", t/(wideTests/wideTestPkgs))
		d := f(fmt.Sprintf("covdata/%03d", t))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		cd.dirs = append(cd.dirs, d)
		jobs = append(jobs, []string{filepath.Join(mod, pkg), f("bin/" + pkg + ".test"),
			fmt.Sprintf("-test.run=^Test%03d$", t), "-test.gocoverdir=" + d})
	}
	cd.example = jobs[0]
	var err error
	if cd.runs, err = runParallel(ctx, r, workers, jobs); err != nil {
		return nil, err
	}
	if cd.onDisk, err = dirSize(f("covdata")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(f("merged"), 0o755); err != nil {
		return nil, err
	}
	if cd.merge, err = r.run(ctx, dir, "", "go", "tool", "covdata", "merge", "-i="+strings.Join(cd.dirs, ","), "-o="+f("merged")); err != nil {
		return nil, err
	}
	if cd.textfmt, err = r.run(ctx, dir, "", "go", "tool", "covdata", "textfmt", "-i="+f("merged"), "-o="+f("covdata.out")); err != nil {
		return nil, err
	}
	return cd, nil
}

// runParallel runs jobs (dir, argv...) n at a time and returns the wall time.
func runParallel(ctx context.Context, r *runner, n int, jobs [][]string) (time.Duration, error) {
	start := time.Now()
	ch := make(chan []string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if _, err := r.run(ctx, j[0], "", j[1:]...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case err := <-errs:
			close(ch)
			wg.Wait()
			return 0, err
		}
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return time.Since(start), nil
}
