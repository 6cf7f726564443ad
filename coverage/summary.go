package coverage

import (
	"fmt"
	"sort"
	"strings"
)

// FileSummary is one file's statement counts.
type FileSummary struct {
	File    string
	Stmts   int
	Miss    int
	Missing []LineRange // lines of missed blocks, merged, for term-missing
}

// LineRange is an inclusive range of source lines.
type LineRange struct{ From, To int }

func (r LineRange) String() string {
	if r.From == r.To {
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// Percent returns the covered share in percent. Nothing measured is
// nothing covered: a file, package or profile without statements is 0%, as
// go tool cover -func says of an empty profile, so that no gate passes on
// statements that were never there.
func (s FileSummary) Percent() float64 {
	if s.Stmts == 0 {
		return 0
	}
	return 100 * float64(s.Stmts-s.Miss) / float64(s.Stmts)
}

// MissingString renders Missing as "3-5, 9".
func (s FileSummary) MissingString() string {
	parts := make([]string, len(s.Missing))
	for i, r := range s.Missing {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// Summary returns one summary per file, sorted by file name, and the total.
// Stmts is the sum of NumStmt over a file's blocks; Miss the NumStmt of the
// blocks whose count is 0, as go tool cover -func counts them.
func (p *Profile) Summary() (files []FileSummary, total FileSummary) {
	byFile := make(map[string]*FileSummary)
	var missed = make(map[string][]LineRange)
	for _, b := range p.Blocks() {
		s := byFile[b.File]
		if s == nil {
			s = &FileSummary{File: b.File}
			byFile[b.File] = s
		}
		s.Stmts += b.NumStmt
		if b.Count == 0 && b.NumStmt > 0 {
			s.Miss += b.NumStmt
			missed[b.File] = append(missed[b.File], LineRange{b.StartLine, b.EndLine})
		}
	}
	total.File = "TOTAL"
	for _, s := range byFile {
		s.Missing = mergeRanges(missed[s.File])
		files = append(files, *s)
		total.Stmts += s.Stmts
		total.Miss += s.Miss
	}
	sort.Slice(files, func(i, j int) bool { return files[i].File < files[j].File })
	return files, total
}

func mergeRanges(rs []LineRange) []LineRange {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].From < rs[j].From })
	out := []LineRange{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.From <= last.To+1 {
			if r.To > last.To {
				last.To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
