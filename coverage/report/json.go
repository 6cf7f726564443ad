package report

import (
	"encoding/json"
	"io"

	"github.com/covdist/covdist/coverage"
)

// JSONFormat is the version of the JSON report's layout; it changes only
// when a field changes meaning or goes away.
const JSONFormat = 1

type jsonReport struct {
	Meta      jsonMeta       `json:"meta"`
	Platforms []jsonPlatform `json:"platforms"`
	Files     []jsonFile     `json:"files"`
	Totals    jsonTotals     `json:"totals"`
}

type jsonMeta struct {
	Format     int    `json:"format"`
	Mode       string `json:"mode"`
	ModulePath string `json:"module_path,omitempty"`
}

type jsonPlatform struct {
	Name    string       `json:"name"`
	Header  string       `json:"header,omitempty"`
	Summary *jsonSummary `json:"summary"` // null for a platform without blocks
}

type jsonSummary struct {
	Statements     int     `json:"num_statements"`
	Missed         int     `json:"missing_statements"`
	Covered        int     `json:"covered_statements"`
	Percent        float64 `json:"percent_covered"`
	PercentDisplay string  `json:"percent_covered_display"`
}

type jsonFile struct {
	Name         string                       `json:"name"`
	Summary      jsonSummary                  `json:"summary"`
	MissingLines []int                        `json:"missing_lines"`
	Missing      string                       `json:"missing"`
	Platforms    map[string]*jsonFilePlatform `json:"platforms,omitempty"`
}

// jsonFilePlatform is one platform's view of a file: its summary and the
// lines it missed.
type jsonFilePlatform struct {
	jsonSummary
	MissingLines []int  `json:"missing_lines"`
	Missing      string `json:"missing"`
}

type jsonTotals struct {
	jsonSummary
	Platforms map[string]*jsonSummary `json:"platforms,omitempty"`
}

// JSON writes a machine-readable summary: the mode, each platform's totals,
// each file (relative to the module root, sorted) with its statements,
// misses, percent, missed lines and per-platform summaries, and the totals.
// Field names follow coverage.py's JSON report where one exists. Files
// appear whatever opt.SkipCovered and opt.Missing say; opt.Precision sets
// only the percent_covered_display fields. For example:
//
//	{
//	  "meta": {"format": 1, "mode": "set", "module_path": "example.com/m"},
//	  "platforms": [{"name": "linux/amd64", "summary": {...}}],
//	  "files": [{"name": "calc/calc.go",
//	             "summary": {"num_statements": 4, "missing_statements": 1, "covered_statements": 3,
//	                         "percent_covered": 75, "percent_covered_display": "75"},
//	             "missing_lines": [9], "missing": "9", "platforms": {"linux/amd64": {...}}}],
//	  "totals": {"num_statements": 4, ..., "platforms": {"linux/amd64": {...}}}
//	}
//
// A platform without the file has no entry under the file's "platforms".
func JSON(w io.Writer, combined *coverage.Profile, platforms []Platform, opt Options) error {
	platforms = columns(platforms)
	files, total, platformTotals := rows(combined, platforms, opt)
	r := jsonReport{
		Meta:      jsonMeta{Format: JSONFormat, Mode: combined.Mode(), ModulePath: opt.ModulePath},
		Platforms: make([]jsonPlatform, len(platforms)),
		Files:     make([]jsonFile, len(files)),
		Totals:    jsonTotals{jsonSummary: summaryJSON(total, opt), Platforms: platformsJSON(platforms, platformTotals, opt)},
	}
	for i, pl := range platforms {
		r.Platforms[i] = jsonPlatform{Name: pl.Name, Header: pl.Header}
		if t := platformTotals[i]; t != nil {
			s := summaryJSON(*t, opt)
			r.Platforms[i].Summary = &s
		}
	}
	for i, f := range files {
		r.Files[i] = jsonFile{
			Name:         f.name,
			Summary:      summaryJSON(f.sum, opt),
			MissingLines: missingLines(f.sum),
			Missing:      f.sum.MissingString(),
			Platforms:    make(map[string]*jsonFilePlatform),
		}
		for j, pl := range platforms {
			if s := f.platforms[j]; s != nil {
				r.Files[i].Platforms[pl.Name] = &jsonFilePlatform{jsonSummary: summaryJSON(*s, opt), MissingLines: missingLines(*s), Missing: s.MissingString()}
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// missingLines lists every line of s's missed ranges.
func missingLines(s coverage.FileSummary) []int {
	missing := []int{}
	for _, lr := range s.Missing {
		from, to := blockLines(lr.From, lr.To)
		for l := from; l <= to; l++ {
			missing = append(missing, l)
		}
	}
	return missing
}

func summaryJSON(s coverage.FileSummary, opt Options) jsonSummary {
	return jsonSummary{
		Statements:     s.Stmts,
		Missed:         s.Miss,
		Covered:        s.Stmts - s.Miss,
		Percent:        s.Percent(),
		PercentDisplay: percent(s, opt.Precision),
	}
}

// platformsJSON maps platform names to their summaries, leaving out the
// platforms whose summary is nil.
func platformsJSON(platforms []Platform, sums []*coverage.FileSummary, opt Options) map[string]*jsonSummary {
	out := make(map[string]*jsonSummary)
	for i, pl := range platforms {
		if sums[i] != nil {
			s := summaryJSON(*sums[i], opt)
			out[pl.Name] = &s
		}
	}
	return out
}
