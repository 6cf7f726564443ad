package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// runner runs the tools under measurement with one environment: a shared,
// warm Go build cache, no network, and covdist's duration history in a
// directory the benchmark owns, so that "cold history" means what it says.
type runner struct {
	covdist string
	work    string // the benchmark's directory, $W in printed commands
	env     []string
}

func newRunner(ctx context.Context, covdist, work string) (*runner, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("running go env GOCACHE: %v", err)
	}
	env := append(os.Environ(),
		"GOCACHE="+strings.TrimSpace(string(out)), // pinned: XDG_CACHE_HOME moves below
		"GOTOOLCHAIN=local", "GOPROXY=off", "TERM=dumb")
	return &runner{covdist: covdist, work: work, env: env}, nil
}

// show prints a command for the output, with the work directory as $W.
func (r *runner) show(argv ...string) string {
	return strings.ReplaceAll(strings.Join(argv, " "), r.work, "$W")
}

// run runs argv in dir and returns its wall time. history is the directory
// covdist keeps test durations in (as XDG_CACHE_HOME); empty leaves it alone.
func (r *runner) run(ctx context.Context, dir, history string, argv ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = r.env
	if history != "" {
		cmd.Env = append(append([]string{}, r.env...), "XDG_CACHE_HOME="+history)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		tail := out.String()
		if len(tail) > 3000 {
			tail = "..." + tail[len(tail)-3000:]
		}
		return wall, fmt.Errorf("%s in %s: %v\n%s", strings.Join(argv, " "), dir, err, tail)
	}
	return wall, nil
}

// stats is what covdist --stats-file writes.
type stats struct {
	WallSeconds     float64        `json:"wall_seconds"`
	Processes       int            `json:"processes"`
	Restarts        int            `json:"restarts"`
	BytesIn         int64          `json:"bytes_in"`
	BytesCoverage   int64          `json:"bytes_coverage"`
	MergeSeconds    float64        `json:"merge_seconds"`
	OverheadSeconds float64        `json:"overhead_seconds"`
	Blocks          int            `json:"blocks"`
	Counts          map[string]int `json:"counts"`
}

func readStats(name string) (stats, error) {
	var s stats
	b, err := os.ReadFile(name)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parsing %s: %w", name, err)
	}
	return s, nil
}

// phase is the test phase of one covdist run, from its --json events.
type phase struct {
	makespan float64 // first event to last
	total    float64 // sum of top-level tests' Elapsed
	longest  float64 // the longest top-level test
	tests    int
}

// bound is the makespan no schedule on n workers can beat.
func (p phase) bound(n int) float64 { return max(p.longest, p.total/float64(n)) }

func readPhase(name string) (phase, error) {
	var p phase
	f, err := os.Open(name)
	if err != nil {
		return p, err
	}
	defer f.Close()
	var first, last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct {
			Time    time.Time
			Action  string
			Test    string
			Elapsed float64
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return p, fmt.Errorf("parsing %s: %w", name, err)
		}
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
		if e.Test != "" && !strings.Contains(e.Test, "/") && (e.Action == "pass" || e.Action == "fail") {
			p.total += e.Elapsed
			p.longest = max(p.longest, e.Elapsed)
			p.tests++
		}
	}
	p.makespan = last.Sub(first).Seconds()
	return p, sc.Err()
}

// covered reads a coverprofile, merging repeated blocks (go test writes one
// copy per package with -coverpkg), and returns statements and covered ones.
func covered(name string) (stmts, hit int, err error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, 0, err
	}
	type block struct{ n, hit int }
	blocks := map[string]*block{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasPrefix(line, "mode:") {
			continue
		}
		n, err1 := strconv.Atoi(f[1])
		c, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("%s: bad line %q", name, line)
		}
		bl := blocks[f[0]]
		if bl == nil {
			bl = &block{n: n}
			blocks[f[0]] = bl
		}
		bl.hit += c
	}
	for _, bl := range blocks {
		stmts += bl.n
		if bl.hit > 0 {
			hit += bl.n
		}
	}
	return stmts, hit, nil
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	return n, err
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

func mb(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
