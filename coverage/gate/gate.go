// Package gate decides whether merged coverage meets the minimums a user
// set: --cov-fail-under over the union of every platform or over one
// platform (linux/386:70), and the per-package or per-file [thresholds] of
// covdist.toml. It says of each gate whether it held and with what figure,
// and never passes a gate over statements that were not there: nothing
// measured is 0%.
//
// Package gate imports no covdist package but coverage.
package gate

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/covdist/covdist/coverage"
)

// Min is one --cov-fail-under: a minimum percent over the union of the
// platforms (Platform "") or over one platform.
type Min struct {
	Platform string
	Percent  float64
}

func (m Min) String() string {
	pc := strconv.FormatFloat(m.Percent, 'g', -1, 64)
	if m.Platform == "" {
		return pc
	}
	return m.Platform + ":" + pc
}

// ParseMin parses "PCT" or "PLATFORM:PCT" (linux/386:70), PCT from 0 to
// 100 with an optional trailing '%'.
func ParseMin(s string) (Min, error) {
	var m Min
	pc := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		m.Platform, pc = s[:i], s[i+1:]
		if m.Platform == "" {
			return m, fmt.Errorf("%q: empty platform before ':' (want PCT or PLATFORM:PCT, e.g. 80 or linux/386:70)", s)
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(pc, "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return m, fmt.Errorf("%q: want a percentage from 0 to 100, as PCT or PLATFORM:PCT (e.g. 80 or linux/386:70)", s)
	}
	m.Percent = v
	return m, nil
}

// Platform is one platform's merged coverage.
type Platform struct {
	Name    string
	Profile *coverage.Profile
}

// Input is what the gates are checked against.
type Input struct {
	Union      *coverage.Profile
	Platforms  []Platform // in each mode; may be empty
	ModulePath string     // for thresholds relative to the module
}

// Verdict is one gate's outcome, as a line to print.
type Verdict struct {
	Failed bool
	Line   string
}

// Check applies every minimum, then every threshold (pattern to percent),
// in order: the minimums as given, the thresholds sorted by pattern. A
// minimum of 0 is no gate.
func Check(mins []Min, thresholds map[string]float64, in Input) []Verdict {
	var out []Verdict
	for _, m := range mins {
		if m.Percent <= 0 {
			continue
		}
		out = append(out, checkMin(m, in))
	}
	pats := make([]string, 0, len(thresholds))
	for k := range thresholds {
		pats = append(pats, k)
	}
	sort.Strings(pats)
	if len(pats) > 0 {
		files, _ := in.Union.Summary()
		for _, pat := range pats {
			out = append(out, checkThreshold(pat, thresholds[pat], files, in.ModulePath))
		}
	}
	return out
}

// Failed reports whether any verdict failed.
func Failed(vs []Verdict) bool {
	for _, v := range vs {
		if v.Failed {
			return true
		}
	}
	return false
}

func checkMin(m Min, in Input) Verdict {
	p, what := in.Union, "Total"
	if m.Platform != "" {
		p, what = nil, m.Platform
		var names []string
		for _, pl := range in.Platforms {
			names = append(names, pl.Name)
			if pl.Name == m.Platform {
				p = pl.Profile
			}
		}
		if p == nil {
			have := "this run has one platform and gates it with --cov-fail-under=PCT"
			if len(names) > 0 {
				have = "this run's platforms: " + strings.Join(names, ", ")
			}
			return Verdict{true, fmt.Sprintf("FAIL Required test coverage of %g%% on %s not reached: no platform %s in this run (%s)", m.Percent, m.Platform, m.Platform, have)}
		}
	}
	on := ""
	if m.Platform != "" {
		on = " on " + m.Platform
	}
	_, total := p.Summary()
	got := total.Percent()
	if total.Stmts == 0 {
		return Verdict{true, fmt.Sprintf("FAIL Required test coverage of %g%%%s not reached. %s coverage: 0.00%% (no statements were measured)", m.Percent, on, what)}
	}
	if got < m.Percent {
		return Verdict{true, fmt.Sprintf("FAIL Required test coverage of %g%%%s not reached. %s coverage: %.2f%%", m.Percent, on, what, got)}
	}
	return Verdict{false, fmt.Sprintf("Required test coverage of %g%%%s reached. %s coverage: %.2f%%", m.Percent, on, what, got)}
}

// checkThreshold applies one [thresholds] entry. Its pattern matches a
// package import path or a file, in full or relative to the module, with
// path.Match globs; "pkg/..." matches a package and everything below it.
func checkThreshold(pat string, min float64, files []coverage.FileSummary, modulePath string) Verdict {
	var sum coverage.FileSummary
	matched := false
	for _, f := range files {
		rel := strings.TrimPrefix(f.File, modulePath+"/")
		if match(pat, f.File) || match(pat, rel) || match(pat, path.Dir(f.File)) || match(pat, path.Dir(rel)) {
			sum.Stmts += f.Stmts
			sum.Miss += f.Miss
			matched = true
		}
	}
	switch got := sum.Percent(); {
	case !matched:
		return Verdict{true, fmt.Sprintf("FAIL Coverage threshold %q matches no measured file or package", pat)}
	case sum.Stmts == 0:
		return Verdict{true, fmt.Sprintf("FAIL Coverage of %s is 0.00%% (no statements were measured), under its threshold of %g%%", pat, min)}
	case got < min:
		return Verdict{true, fmt.Sprintf("FAIL Coverage of %s is %.2f%%, under its threshold of %g%%", pat, got, min)}
	}
	return Verdict{}
}

func match(pat, name string) bool {
	if base, ok := strings.CutSuffix(pat, "/..."); ok {
		return name == base || strings.HasPrefix(name, base+"/")
	}
	ok, _ := path.Match(pat, name)
	return ok
}
