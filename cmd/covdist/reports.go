package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/covdist/covdist/coverage"
	"github.com/covdist/covdist/coverage/covdata"
	"github.com/covdist/covdist/coverage/gate"
	"github.com/covdist/covdist/coverage/report"
	"github.com/spf13/pflag"
)

// checkReport validates one --cov-report value.
func checkReport(r string) error {
	kind, dest, hasDest := strings.Cut(r, ":")
	switch kind {
	case "term", "term-missing":
		if hasDest && dest != "skip-covered" { // pytest-cov's term-missing:skip-covered
			return fmt.Errorf("--cov-report %q: %s writes to the terminal and takes no destination (but :skip-covered, as pytest-cov's)", r, kind)
		}
	case "skip-covered":
		if hasDest {
			return fmt.Errorf("--cov-report %q: %s writes to the terminal and takes no destination", r, kind)
		}
	case "out", "json", "xml", "lcov", "html":
		if hasDest && dest == "" {
			return fmt.Errorf("--cov-report %q: empty destination", r)
		}
	case "":
		if hasDest {
			return fmt.Errorf("--cov-report %q: empty report type", r)
		}
		// --cov-report= asks for no report, as pytest-cov's does.
	default:
		return fmt.Errorf("--cov-report %q: unknown type %q (want term, term-missing, skip-covered, out, json, xml, lcov or html)", r, kind)
	}
	return nil
}

// expandReports is the --cov-report list to write: term when none is
// given; none for "--cov-report=" (pytest-cov's way to ask for no report);
// "term-missing:skip-covered" as the two reports it names.
func expandReports(reports []string) []string {
	if len(reports) == 0 {
		return []string{"term"}
	}
	var out []string
	for _, r := range reports {
		kind, dest, _ := strings.Cut(r, ":")
		switch {
		case r == "":
		case (kind == "term" || kind == "term-missing") && dest == "skip-covered":
			out = append(out, kind, dest)
		default:
			out = append(out, r)
		}
	}
	return out
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
	opt := report.Options{ModulePath: modulePath, Precision: o.covPrecision, Generator: "covdist " + version, Generated: time.Now(),
		PathPrefix: repoPrefix(moduleDir)}
	// Cobertura's one source: the module's directory, or in a monorepo the
	// repository's root, which its file names are then relative to (GitLab
	// maps a source under its checkout with file names from the root).
	sourceRoot := moduleDir
	if opt.PathPrefix != "" {
		sourceRoot = strings.TrimSuffix(filepath.ToSlash(moduleDir), "/"+opt.PathPrefix)
		sourceRoot = filepath.FromSlash(sourceRoot)
	}
	reports := expandReports(o.covReports)
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
			now := time.Now()
			dest, err = writeEach(dest, ".xml", combined, cols, func(f io.Writer, p *coverage.Profile) error {
				return report.Cobertura(f, p, opt, sourceRoot, now)
			})
		case "lcov":
			dest, err = writeEach(dest, ".lcov", combined, cols, func(f io.Writer, p *coverage.Profile) error {
				return report.LCOV(f, p, opt)
			})
		case "html":
			err = report.HTML(dest, combined, plats, opt, moduleDir)
			if err == nil && len(cols) > 1 {
				dest += " (and per platform in its subdirectories)"
			}
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("--cov-report %s: %w", r, err))
			continue
		}
		if kind != "term" && kind != "term-missing" && kind != "skip-covered" {
			fmt.Fprintf(w, "Coverage %s written to %s\n", reportName(kind), dest)
		}
	}
	var gated []platformCoverage // per platform only in each mode
	if len(cols) > 1 {
		gated = cols
	}
	return checkGates(w, o, combined, gated, modulePath), errors.Join(failed...)
}

func reportName(kind string) string {
	return map[string]string{"out": "profile", "json": "JSON", "xml": "XML (Cobertura)", "lcov": "LCOV", "html": "HTML"}[kind]
}

// writeEach writes the union to dest with write and, in each mode, every
// platform's profile beside it: dest "coverage.xml" gives
// "coverage.linux-amd64.xml" and so on; dest "DIR/" gives DIR/combined.xml
// and DIR/linux-amd64.xml, as out:DIR/ does. It returns what it wrote, for
// the line that says so.
func writeEach(dest, ext string, combined *coverage.Profile, cols []platformCoverage, write func(io.Writer, *coverage.Profile) error) (string, error) {
	union, each := dest, func(slug string) string {
		stem := strings.TrimSuffix(dest, filepath.Ext(dest))
		return stem + "." + slug + filepath.Ext(dest)
	}
	if strings.HasSuffix(dest, "/") {
		union = filepath.Join(dest, "combined"+ext)
		each = func(slug string) string { return filepath.Join(dest, slug+ext) }
	}
	if err := writeFile(union, func(f io.Writer) error { return write(f, combined) }); err != nil {
		return "", err
	}
	if len(cols) < 2 {
		return union, nil
	}
	var names []string
	for _, c := range cols {
		name := each(report.Slug(c.name))
		if err := writeFile(name, func(f io.Writer) error { return write(f, c.profile) }); err != nil {
			return "", err
		}
		names = append(names, name)
	}
	return fmt.Sprintf("%s (per platform: %s)", union, strings.Join(names, ", ")), nil
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
		name := report.Slug(c.name) + ".out"
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

// checkGates applies every --cov-fail-under (the union, or one platform)
// and the [thresholds] of covdist.toml, printing each verdict.
func checkGates(w io.Writer, o *options, combined *coverage.Profile, cols []platformCoverage, modulePath string) int {
	in := gate.Input{Union: combined, ModulePath: modulePath}
	for _, c := range cols {
		in.Platforms = append(in.Platforms, gate.Platform{Name: c.name, Profile: c.profile})
	}
	verdicts := gate.Check(o.covMins, o.thresholds, in)
	for _, v := range verdicts {
		if v.Line != "" {
			fmt.Fprintln(w, v.Line)
		}
	}
	if gate.Failed(verdicts) {
		return exitGate
	}
	return exitOK
}

const mergeUsage = `Usage: covdist merge [flags] PROFILE|GOCOVERDIR...

Merge Go coverprofiles (set: OR, count/atomic: sum) and report on the result.
A directory is read as a GOCOVERDIR, the binary coverage data that programs
built with 'go build -cover' write (as 'go tool covdata textfmt' reads it);
profiles and directories mix in one command. A block whose statement count
differs between two inputs, or inputs of different modes, is an error naming
both.

Examples:
  covdist merge a.out b.out --cov-report=lcov:merged.lcov
  go build -cover -o prog . && mkdir cov && GOCOVERDIR=cov ./prog && covdist merge cov unit.out

Flags:
`

const reportUsage = `Usage: covdist report [flags] PROFILE|GOCOVERDIR

Report on one Go coverprofile, or on the binary coverage data of one
GOCOVERDIR directory.

Flags:
`

// runMerge is covdist merge and covdist report: read Go coverprofiles and
// GOCOVERDIR directories made elsewhere, merge them, and report as a test
// run would.
func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer, many bool) int {
	name := "report"
	if many {
		name = "merge"
	}
	o := &options{}
	fs := pflag.NewFlagSet("covdist "+name, pflag.ContinueOnError)
	fs.StringArrayVar(&o.covReports, "cov-report", nil, "report `type[:dest]`: term, term-missing, skip-covered, out:FILE, json:FILE, xml:FILE, lcov:FILE, html:DIR")
	fs.StringArrayVar(&o.covFailUnder, "cov-fail-under", nil, "exit 3 when total coverage is under `pct` (repeatable)")
	fs.IntVar(&o.covPrecision, "cov-precision", 0, "`digits` after the decimal point")
	modulePath := fs.String("module", "", "import path `prefix` to strip from file names (default: from go.mod in the current directory)")
	fs.Usage = func() {
		if many {
			fmt.Fprint(stderr, mergeUsage)
		} else {
			fmt.Fprint(stderr, reportUsage)
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
	mins, err := parseMins(o.covFailUnder)
	if err != nil {
		fmt.Fprintf(stderr, "covdist %s: %v\n", name, err)
		return exitUsage
	}
	o.covMins = mins
	merged := coverage.New("")
	for _, f := range files {
		p, err := readInput(f)
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

// readInput reads one input of covdist merge or report: a directory as a
// GOCOVERDIR (every binary's meta-data and counter files in it), anything
// else as a text coverprofile. A file of a coverage directory on its own is
// refused before the text parser sees it, whose error would quote its
// binary content.
func readInput(name string) (*coverage.Profile, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return covdata.ReadProfile(name)
	}
	if covdata.IsDataFile(name) {
		return nil, fmt.Errorf("%s is a file of a Go coverage directory (GOCOVERDIR), not a text coverprofile: pass its directory, %s, to read it with the rest of its files",
			name, filepath.Dir(name))
	}
	return coverage.ParseFile(name)
}

// repoPrefix is moduleDir relative to the root of the git repository that
// holds it ("services/api" in a monorepo), slash-separated; "" when the
// module is the repository's root or in none. lcov names files from it, so
// that genhtml run from the repository root, and Codecov and Coveralls,
// which resolve paths from there, find them.
func repoPrefix(moduleDir string) string {
	if moduleDir == "" {
		return ""
	}
	abs, err := filepath.Abs(moduleDir)
	if err != nil {
		return ""
	}
	for dir := abs; ; {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil { // a directory, or a worktree's file
			rel, err := filepath.Rel(dir, abs)
			if err != nil || rel == "." {
				return ""
			}
			return filepath.ToSlash(rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
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
