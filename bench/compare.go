package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
)

// workers is the -n of covdist and the -p of go test.
const workers = 2

// comparison is a workload run side by side under covdist and go test.
type comparison struct {
	name, title string
	gen         func(dir string) (string, error)
	minSpeedup  float64 // go test wall / covdist wall must reach this
	target      string  // minSpeedup as the issue words it
	perTest     int     // when > 0, print the overhead per test over this many
}

var comparisons = []comparison{
	{name: "a", title: "one package, 12 sequential tests of 0.5-2 s", gen: genSequential,
		minSpeedup: 1.7, target: "covdist >= 1.70x faster"},
	{name: "b", title: "40 packages of uneven durations", gen: genUneven,
		minSpeedup: 1 / 1.05, target: "covdist <= 1.05x go test"},
	{name: "c", title: "2,000 tiny tests in 10 packages", gen: genTiny,
		minSpeedup: 1 / 1.15, target: "covdist <= 1.15x go test", perTest: 2000},
}

// makespanTarget is how far over its lower bound covdist's test phase may run.
const makespanTarget = 1.10

// covdistRun is one measured covdist run.
type covdistRun struct {
	wall  float64
	phase phase
	stats stats
}

// sideBySide is what one comparison measured.
type sideBySide struct {
	desc    string // the generated workload
	goWalls []float64
	cold    covdistRun // the first run, with no remembered durations
	runs    []covdistRun
}

func goTestArgs(dir string) []string {
	return []string{"go", "test", "-count=1", fmt.Sprintf("-p=%d", workers), "-cover", "-coverpkg=./...",
		"-coverprofile=" + filepath.Join(dir, "go.out"), "./..."}
}

// covdistArgs runs covdist with its outputs named after tag.
func covdistArgs(covdist, dir, tag string) []string {
	f := func(s string) string { return filepath.Join(dir, tag+s) }
	return []string{covdist, "-n", fmt.Sprint(workers), "--cov-report=out:" + f(".out"),
		"--json=" + f(".json"), "--stats-file=" + f(".stats"), "./..."}
}

func (c comparison) run(ctx context.Context, r *runner, k int, dir string, w io.Writer) error {
	m, err := c.measure(ctx, r, k, dir)
	if err != nil {
		return err
	}
	return c.report(w, r, k, dir, m)
}

// measure warms the build cache with each tool once, unmeasured, then runs
// covdist once with no history and k times more, alternating with go test.
func (c comparison) measure(ctx context.Context, r *runner, k int, dir string) (*sideBySide, error) {
	mod := filepath.Join(dir, "mod")
	desc, err := c.gen(mod)
	if err != nil {
		return nil, fmt.Errorf("generating: %w", err)
	}
	m := &sideBySide{desc: desc}
	goTest := func() error {
		wall, err := r.run(ctx, mod, "", goTestArgs(dir)...)
		if err == nil {
			m.goWalls = append(m.goWalls, wall.Seconds())
		}
		return err
	}
	covdist := func(tag, history string) (covdistRun, error) {
		wall, err := r.run(ctx, mod, history, covdistArgs(r.covdist, dir, tag)...)
		if err != nil {
			return covdistRun{}, err
		}
		cr := covdistRun{wall: wall.Seconds()}
		if cr.phase, err = readPhase(filepath.Join(dir, tag+".json")); err != nil {
			return cr, err
		}
		cr.stats, err = readStats(filepath.Join(dir, tag+".stats"))
		return cr, err
	}

	if _, err := r.run(ctx, mod, "", goTestArgs(dir)...); err != nil {
		return nil, err
	}
	if _, err := covdist("warmup", filepath.Join(dir, "history-warmup")); err != nil {
		return nil, err
	}
	history := filepath.Join(dir, "history")
	if m.cold, err = covdist("cold", history); err != nil {
		return nil, err
	}
	for i := 0; i < k; i++ {
		if i%2 == 1 {
			if err := goTest(); err != nil {
				return nil, err
			}
		}
		cr, err := covdist(fmt.Sprintf("run%d", i), history)
		if err != nil {
			return nil, err
		}
		m.runs = append(m.runs, cr)
		if i%2 == 0 {
			if err := goTest(); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (c comparison) report(w io.Writer, r *runner, k int, dir string, m *sideBySide) error {
	var walls, spans, bounds, outside, procs, overheads []float64
	for _, cr := range m.runs {
		walls = append(walls, cr.wall)
		spans = append(spans, cr.phase.makespan)
		bounds = append(bounds, cr.phase.bound(workers))
		outside = append(outside, cr.wall-cr.phase.makespan)
		procs = append(procs, float64(cr.stats.Processes))
		overheads = append(overheads, cr.stats.OverheadSeconds)
	}
	goMed, covMed := median(m.goWalls), median(walls)
	speedup, coldSpeedup := goMed/covMed, goMed/m.cold.wall
	last := m.runs[len(m.runs)-1]

	mod := filepath.Join(dir, "mod")
	fmt.Fprintf(w, "\n(%s) %s: %s\n", c.name, c.title, m.desc)
	fmt.Fprintf(w, "  reproduce: go run ./bench -k %d -only=%s\n", k, c.name)
	fmt.Fprintf(w, "  go test:   cd %s && %s\n", r.show(mod), r.show(goTestArgs(dir)...))
	fmt.Fprintf(w, "  covdist:   cd %s && %s\n", r.show(mod), r.show(covdistArgs(r.covdist, dir, "runN")...))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tmedian\truns\ttarget\tresult")
	fmt.Fprintf(tw, "  go test -p %d wall\t%.2fs\t%s\t\t\n", workers, goMed, secs(m.goWalls))
	fmt.Fprintf(tw, "  covdist -n %d wall\t%.2fs\t%s\t\t\n", workers, covMed, secs(walls))
	fmt.Fprintf(tw, "  covdist -n %d wall, cold history\t%.2fs\t\t\t\n", workers, m.cold.wall)
	fmt.Fprintf(tw, "  speedup (go test / covdist)\t%.2fx\t\t%s\t%s\n", speedup, c.target, verdict(speedup >= c.minSpeedup))
	fmt.Fprintf(tw, "  speedup, cold history\t%.2fx\t\t%s\t%s\n", coldSpeedup, c.target, verdict(coldSpeedup >= c.minSpeedup))
	if c.perTest > 0 {
		fmt.Fprintf(tw, "  overhead per test (covdist - go test) / %d\t%+.2fms\t\t\t\n", c.perTest, (covMed-goMed)/float64(c.perTest)*1000)
	}
	fmt.Fprintf(tw, "  covdist processes / overhead per process\t%.0f / %.0fms\t\t\t\n", median(procs), median(overheads)*1000)
	fmt.Fprintf(tw, "  covdist processes, cold history\t%d\t\t\t\n", m.cold.stats.Processes)
	fmt.Fprintf(tw, "  test phase makespan\t%.2fs\t%s\t\t\n", median(spans), secs(spans))
	fmt.Fprintf(tw, "  lower bound max(longest, total/%d)\t%.2fs\t%s\tlongest %.2fs, total %.2fs\t\n", workers, median(bounds), secs(bounds),
		last.phase.longest, last.phase.total)
	spanRow(tw, "makespan / lower bound", median(spans), median(bounds))
	spanRow(tw, "makespan / lower bound, cold history", m.cold.phase.makespan, m.cold.phase.bound(workers))
	fmt.Fprintf(tw, "  covdist wall outside the test phase\t%.2fs\t%s\t(build, list, report)\t\n", median(outside), secs(outside))
	cov, goCov, same, err := compareCoverage(filepath.Join(dir, "go.out"), filepath.Join(dir, fmt.Sprintf("run%d.out", k-1)))
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "  covered stmts covdist / go test (%d tests)\t%s\t%s\tequal\t%s\n", last.phase.tests, cov, goCov, sameWord(same))
	return tw.Flush()
}

// spanRow compares a makespan with its lower bound, when the tests take
// long enough for their Elapsed (in hundredths of a second) to tell.
func spanRow(w io.Writer, label string, span, bound float64) {
	if bound < 0.1 {
		fmt.Fprintf(w, "  %s\tn/a\t\t<= %.2f\ttests too short to time\n", label, makespanTarget)
		return
	}
	ratio := span / bound
	fmt.Fprintf(w, "  %s\t%.2f\t\t<= %.2f\t%s\n", label, ratio, makespanTarget, verdict(ratio <= makespanTarget))
}

// compareCoverage reads go's and covdist's profiles and says whether they
// cover the same statements, as covered/total for each.
func compareCoverage(goOut, covOut string) (cov, goCov string, same bool, err error) {
	gs, gh, err := covered(goOut)
	if err != nil {
		return "", "", false, err
	}
	cs, ch, err := covered(covOut)
	if err != nil {
		return "", "", false, err
	}
	return fmt.Sprintf("%d/%d", ch, cs), fmt.Sprintf("%d/%d", gh, gs), gs == cs && gh == ch, nil
}

func sameWord(same bool) string {
	if same {
		return "same"
	}
	return "DIFFERENT"
}
