// Package report owns the presentation of merged coverage: the terminal
// table (pytest-cov's shape, with a column per platform), and the files CI
// systems and people read: a Go coverprofile, JSON, Cobertura XML, LCOV and
// HTML.
//
// It works on coverage.Profile values that are already merged; it decides
// nothing about gates or exit codes. It is the only covdist package that
// imports github.com/olekukonko/tablewriter, and it must not import any
// covdist package but coverage.
package report

import (
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/covdist/covdist/coverage"
)

// Platform is one column: a platform's name (e.g. "linux/amd64") and its
// merged profile. Header is the line that describes it above the table,
// e.g. "platform linux/amd64, go1.26.8"; an empty Header prints no line.
type Platform struct {
	Name    string
	Header  string
	Profile *coverage.Profile
	// HeaderOnly platforms print their Header but have no column: a
	// platform that built nothing, whose header says so.
	HeaderOnly bool
}

// columns returns the platforms that have a column.
func columns(platforms []Platform) []Platform {
	var out []Platform
	for _, pl := range platforms {
		if !pl.HeaderOnly {
			out = append(out, pl)
		}
	}
	return out
}

// Options are the report settings the command line chooses.
type Options struct {
	// ModulePath is the import-path prefix stripped from file names
	// ("github.com/x/y"), so rows are relative to the module root.
	ModulePath string
	// Missing is term-missing: add a Missing column with line ranges "3-5, 9".
	Missing bool
	// SkipCovered is skip-covered: omit files at 100% and say how many were
	// skipped after the table, as pytest-cov does.
	SkipCovered bool
	// Precision is the number of digits after the decimal point in Cover
	// columns; 0 by default.
	Precision int
	// PathPrefix, when set, goes before the file names of line reports
	// (lcov's SF lines): the module's directory relative to the repository
	// root in a monorepo ("services/api"), so that genhtml run from the
	// root, Codecov and Coveralls find the files.
	PathPrefix string
	// Generator names what made the report ("covdist v1.2.0") and
	// Generated when, for the HTML report's footer; either may be zero.
	Generator string
	Generated time.Time
}

// GoProfile writes p as a Go coverprofile (the "out" report), which
// go tool cover reads.
func GoProfile(w io.Writer, p *coverage.Profile) error {
	_, err := p.WriteTo(w)
	return err
}

// relName returns file relative to the module root when it lies in the
// module, and unchanged otherwise.
func (o Options) relName(file string) string {
	if o.ModulePath != "" {
		if rest, ok := strings.CutPrefix(file, o.ModulePath+"/"); ok {
			return rest
		}
	}
	return file
}

// repoName is file's name in line reports: relative to the module root
// after PathPrefix (the module's directory in its repository); a file
// outside the module keeps its import path.
func (o Options) repoName(file string) string {
	if o.ModulePath != "" {
		if rest, ok := strings.CutPrefix(file, o.ModulePath+"/"); ok {
			return path.Join(o.PathPrefix, rest)
		}
	}
	return file
}

// fileRow is one file of a report: its combined summary under its name
// relative to the module root, and its summary per platform (nil where the
// platform has no blocks for the file).
type fileRow struct {
	name      string // relative to the module root
	path      string // as in the profile: the import path and the file name
	sum       coverage.FileSummary
	platforms []*coverage.FileSummary
}

// rows summarises combined and the platforms per file, sorted by relative
// name, and returns the totals (combined first, then one per platform; nil
// for a platform without any blocks).
func rows(combined *coverage.Profile, platforms []Platform, opt Options) ([]fileRow, coverage.FileSummary, []*coverage.FileSummary) {
	files, total := combined.Summary()
	perPlatform := make([]map[string]coverage.FileSummary, len(platforms))
	platformTotals := make([]*coverage.FileSummary, len(platforms))
	for i, pl := range platforms {
		if pl.Profile == nil || pl.Profile.Len() == 0 {
			continue
		}
		fs, tot := pl.Profile.Summary()
		perPlatform[i] = make(map[string]coverage.FileSummary, len(fs))
		for _, f := range fs {
			perPlatform[i][f.File] = f
		}
		platformTotals[i] = &tot
	}
	out := make([]fileRow, len(files))
	for i, f := range files {
		r := fileRow{name: opt.relName(f.File), path: f.File, sum: f, platforms: make([]*coverage.FileSummary, len(platforms))}
		for j := range platforms {
			if s, ok := perPlatform[j][f.File]; ok {
				r.platforms[j] = &s
			}
		}
		out[i] = r
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, total, platformTotals
}

// packageDir returns the Go package of a profile file name: its directory.
func packageDir(file string) string { return path.Dir(file) }

// percent formats s's coverage as coverage.py does: rounded to precision
// digits, except that it never shows 100 unless every statement is covered
// and never 0 unless none is, so 99.7 reads "99" and 0.2 reads "1".
func percent(s coverage.FileSummary, precision int) string {
	if precision < 0 {
		precision = 0
	}
	pc := s.Percent()
	near0 := math.Pow(10, -float64(precision))
	switch {
	case pc > 0 && pc < near0:
		pc = near0
	case pc > 100-near0 && pc < 100:
		pc = 100 - near0
	}
	return strconv.FormatFloat(pc, 'f', precision, 64)
}

// lineHits is the line view of one file that Cobertura, LCOV and HTML need:
// for each line that a block with statements covers, the largest count of
// those blocks, and whether some block on the line has count 0.
type lineHits struct {
	hits    map[int]int64
	partial map[int]bool // lines with both a hit and a missed block
}

// lines returns the line view of every file in p, keyed by profile file name.
func lines(p *coverage.Profile) map[string]*lineHits {
	out := make(map[string]*lineHits)
	missed := make(map[string]map[int]bool)
	for _, b := range p.Blocks() {
		if b.NumStmt == 0 {
			continue
		}
		lh := out[b.File]
		if lh == nil {
			lh = &lineHits{hits: make(map[int]int64), partial: make(map[int]bool)}
			out[b.File] = lh
			missed[b.File] = make(map[int]bool)
		}
		from, to := blockLines(b.StartLine, b.EndLine)
		for l := from; l <= to; l++ {
			if c, ok := lh.hits[l]; !ok || b.Count > c {
				lh.hits[l] = b.Count
			}
			if b.Count == 0 {
				missed[b.File][l] = true
			}
		}
	}
	for f, lh := range out {
		for l := range missed[f] {
			if lh.hits[l] > 0 {
				lh.partial[l] = true
			}
		}
	}
	return out
}

// sorted returns the line numbers of lh in order and how many were hit.
func (lh *lineHits) sorted() (nums []int, hit int) {
	if lh == nil {
		return nil, 0
	}
	nums = make([]int, 0, len(lh.hits))
	for l, c := range lh.hits {
		nums = append(nums, l)
		if c > 0 {
			hit++
		}
	}
	sort.Ints(nums)
	return nums, hit
}

// maxBlockLines bounds how many lines one block may span in line-based
// reports, so that a damaged profile cannot make them allocate without end.
const maxBlockLines = 100000

// blockLines returns the lines a block spans, at most maxBlockLines of them.
func blockLines(start, end int) (from, to int) {
	if end < start {
		return start, start
	}
	if end-start >= maxBlockLines {
		return start, start + maxBlockLines - 1
	}
	return start, end
}
