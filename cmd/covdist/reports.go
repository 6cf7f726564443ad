package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/coverage/report"
	"github.com/spf13/pflag"
)

// checkReport validates one --cov-report value.
func checkReport(r string) error {
	kind, dest, hasDest := strings.Cut(r, ":")
	switch kind {
	case "term", "term-missing", "skip-covered":
		if hasDest {
			return fmt.Errorf("--cov-report %q: %s writes to the terminal and takes no destination", r, kind)
		}
	case "out", "json", "xml", "lcov", "html":
		if hasDest && dest == "" {
			return fmt.Errorf("--cov-report %q: empty destination", r)
		}
	case "":
		return fmt.Errorf("--cov-report %q: empty report type", r)
	default:
		return fmt.Errorf("--cov-report %q: unknown type %q (want term, term-missing, skip-covered, out, json, xml, lcov or html)", r, kind)
	}
	return nil
}

var defaultDest = map[string]string{
	"out": "coverage.out", "json": "coverage.json", "xml": "coverage.xml", "lcov": "coverage.lcov", "html": "htmlcov",
}

// writeReports writes every requested report and checks the gates. It
// returns exitGate when a gate is missed.
func writeReports(w io.Writer, o *options, cols []platformCoverage, modulePath, moduleDir string) (int, error) {
	if len(cols) == 0 {
		return exitOK, nil
	}
	combined := coverage.New("")
	var plats []report.Platform
	var profiles []platformCoverage // those with a column
	for _, c := range cols {
		if c.headerOnly {
			plats = append(plats, report.Platform{Name: c.name, Header: c.header, HeaderOnly: true})
			continue
		}
		if err := combined.Merge(c.name, c.profile); err != nil {
			return 0, fmt.Errorf("merging platforms: %w", err)
		}
		plats = append(plats, report.Platform{Name: c.name, Header: c.header, Profile: c.profile})
		profiles = append(profiles, c)
	}
	if len(profiles) == 0 {
		return exitOK, nil
	}
	cols = profiles
	opt := report.Options{ModulePath: modulePath, Precision: o.covPrecision}
	reports := o.covReports
	if len(reports) == 0 {
		reports = []string{"term"}
	}
	termShown := false
	// A report that cannot be written does not keep the others from
	// being: each one failed is named, and the run exits 2.
	var failed []error
	for _, r := range reports {
		kind, dest, _ := strings.Cut(r, ":")
		if dest == "" {
			dest = defaultDest[kind]
		}
		var err error
		switch kind {
		case "term", "term-missing", "skip-covered":
			if termShown {
				continue
			}
			termShown = true
			topt := opt
			for _, r2 := range reports {
				k2, _, _ := strings.Cut(r2, ":")
				topt.Missing = topt.Missing || k2 == "term-missing"
				topt.SkipCovered = topt.SkipCovered || k2 == "skip-covered"
			}
			err = report.Term(w, combined, plats, topt)
		case "out":
			if strings.HasSuffix(dest, "/") {
				err = writePerPlatform(dest, combined, cols)
			} else {
				err = writeFile(dest, func(f io.Writer) error { return report.GoProfile(f, combined) })
			}
		case "json":
			err = writeFile(dest, func(f io.Writer) error { return report.JSON(f, combined, plats, opt) })
		case "xml":
			err = writeFile(dest, func(f io.Writer) error { return report.Cobertura(f, combined, opt, moduleDir, time.Now()) })
		case "lcov":
			err = writeFile(dest, func(f io.Writer) error { return report.LCOV(f, combined, opt) })
		case "html":
			err = report.HTML(dest, combined, opt, moduleDir)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("--cov-report %s: %w", r, err))
			continue
		}
		if kind != "term" && kind != "term-missing" && kind != "skip-covered" {
			fmt.Fprintf(w, "Coverage %s written to %s\n", reportName(kind), dest)
		}
	}
	return checkGates(w, o, combined, modulePath), errors.Join(failed...)
}

func reportName(kind string) string {
	return map[string]string{"out": "profile", "json": "JSON", "xml": "XML (Cobertura)", "lcov": "LCOV", "html": "HTML"}[kind]
}

// writePerPlatform writes the combined profile as DIR/combined.out and one
// profile per platform beside it (linux-amd64.out).
func writePerPlatform(dir string, combined *coverage.Profile, cols []platformCoverage) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "combined.out"), func(f io.Writer) error { return report.GoProfile(f, combined) }); err != nil {
		return err
	}
	for _, c := range cols {
		name := strings.NewReplacer("/", "-", " ", "_").Replace(c.name) + ".out"
		if err := writeFile(filepath.Join(dir, name), func(f io.Writer) error { return report.GoProfile(f, c.profile) }); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(name string, write func(io.Writer) error) error {
	if dir := filepath.Dir(name); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func percent(stmts, miss int) float64 {
	if stmts == 0 {
		return 100
	}
	return 100 * float64(stmts-miss) / float64(stmts)
}

// checkGates applies --cov-fail-under to the total and [thresholds] from
// covdist.toml to packages and files, printing every miss.
func checkGates(w io.Writer, o *options, p *coverage.Profile, modulePath string) int {
	files, total := p.Summary()
	code := exitOK
	if o.covFailUnder > 0 {
		got := percent(total.Stmts, total.Miss)
		if got < o.covFailUnder {
			fmt.Fprintf(w, "FAIL Required test coverage of %g%% not reached. Total coverage: %.2f%%\n", o.covFailUnder, got)
			code = exitGate
		} else {
			fmt.Fprintf(w, "Required test coverage of %g%% reached. Total coverage: %.2f%%\n", o.covFailUnder, got)
		}
	}
	if len(o.thresholds) == 0 {
		return code
	}
	// A threshold's pattern matches a package import path or a file, either
	// in full or relative to the module, with path.Match globs; "pkg/..."
	// matches a package and everything below it.
	pats := make([]string, 0, len(o.thresholds))
	for k := range o.thresholds {
		pats = append(pats, k)
	}
	sort.Strings(pats)
	for _, pat := range pats {
		min := o.thresholds[pat]
		var stmts, miss int
		matched := false
		for _, f := range files {
			rel := strings.TrimPrefix(f.File, modulePath+"/")
			if matchGate(pat, f.File) || matchGate(pat, rel) || matchGate(pat, path.Dir(f.File)) || matchGate(pat, path.Dir(rel)) {
				stmts += f.Stmts
				miss += f.Miss
				matched = true
			}
		}
		if !matched {
			fmt.Fprintf(w, "FAIL Coverage threshold %q matches no measured file or package\n", pat)
			code = exitGate
			continue
		}
		if got := percent(stmts, miss); got < min {
			fmt.Fprintf(w, "FAIL Coverage of %s is %.2f%%, under its threshold of %g%%\n", pat, got, min)
			code = exitGate
		}
	}
	return code
}

func matchGate(pat, name string) bool {
	if base, ok := strings.CutSuffix(pat, "/..."); ok {
		return name == base || strings.HasPrefix(name, base+"/")
	}
	ok, _ := path.Match(pat, name)
	return ok
}

// runMerge is covdist merge and covdist report: read Go coverprofiles made
// elsewhere, merge them, and report as a test run would.
func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer, many bool) int {
	name := "report"
	if many {
		name = "merge"
	}
	o := &options{}
	fs := pflag.NewFlagSet("covdist "+name, pflag.ContinueOnError)
	fs.StringArrayVar(&o.covReports, "cov-report", nil, "report `type[:dest]`: term, term-missing, skip-covered, out:FILE, json:FILE, xml:FILE, lcov:FILE, html:DIR")
	fs.Float64Var(&o.covFailUnder, "cov-fail-under", 0, "exit 3 when total coverage is under `pct`")
	fs.IntVar(&o.covPrecision, "cov-precision", 0, "`digits` after the decimal point")
	modulePath := fs.String("module", "", "import path `prefix` to strip from file names (default: from go.mod in the current directory)")
	fs.Usage = func() {
		if many {
			fmt.Fprintf(stderr, "Usage: covdist merge [flags] PROFILE...\n\nMerge Go coverprofiles (set: OR, count/atomic: sum) and report on the result.\nA block whose statement count differs between two files, or files of different modes, is an error naming both.\n\nFlags:\n")
		} else {
			fmt.Fprintf(stderr, "Usage: covdist report [flags] PROFILE\n\nReport on one Go coverprofile.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "covdist %s: %v\nRun 'covdist %s --help' for usage.\n", name, err, name)
		return exitUsage
	}
	files := fs.Args()
	if len(files) == 0 || (!many && len(files) != 1) {
		fs.Usage()
		return exitUsage
	}
	for _, r := range o.covReports {
		if err := checkReport(r); err != nil {
			fmt.Fprintf(stderr, "covdist %s: %v\n", name, err)
			return exitUsage
		}
	}
	merged := coverage.New("")
	for _, f := range files {
		p, err := coverage.ParseFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "covdist %s: %v\n", name, err)
			return exitUsage
		}
		if err := merged.Merge(f, p); err != nil {
			fmt.Fprintf(stderr, "covdist %s: %v\n", name, err)
			return exitUsage
		}
	}
	if *modulePath == "" {
		*modulePath = modulePathFromGoMod("go.mod")
	}
	wd, _ := os.Getwd()
	code, err := writeReports(stdout, o, []platformCoverage{{name: "merged", profile: merged}}, *modulePath, wd)
	if err != nil {
		fmt.Fprintf(stderr, "covdist %s: %v\n", name, err)
		return exitUsage
	}
	_ = ctx
	return code
}

func modulePathFromGoMod(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}
