package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/covdist/covdist/coverage"
)

// Term writes the terminal table in pytest-cov's shape: each platform's
// Header line, then one row per file relative to the module root, sorted by
// name, then TOTAL. For example, with two platforms:
//
//	platform linux/amd64, go1.26.8
//	platform linux/arm64, go1.26.8 [exec=qemu-aarch64]
//	Name                 Stmts  Miss  Cover  linux/amd64  linux/arm64
//	calc/calc.go            14     5    64%          64%          64%
//	osdep/arch_arm64.go      2     0   100%            -         100%
//	TOTAL                  353    20    94%          92%          93%
//	coverage: 94.3% of statements (union of 2 platforms)
//
// A column per platform, titled by its Name, appears only for two platforms
// or more; "-" marks a file that platform has no blocks for. With
// opt.Missing a last column lists the missed lines of the union, then, for
// each platform that missed lines the union covers, those lines after its
// name ("11-14; linux/386: 20-22"). With opt.SkipCovered files fully
// covered on every platform that compiled them are left out of the rows
// (not out of TOTAL) and a closing line says how many.
func Term(w io.Writer, combined *coverage.Profile, platforms []Platform, opt Options) error {
	var buf bytes.Buffer
	for _, pl := range platforms {
		if pl.Header != "" {
			fmt.Fprintln(&buf, pl.Header)
		}
	}
	platforms = columns(platforms)
	files, total, platformTotals := rows(combined, platforms, opt)
	showPlatforms := len(platforms) >= 2

	header := []string{"Name", "Stmts", "Miss", "Cover"}
	align := []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight}
	if showPlatforms {
		for _, pl := range platforms {
			header = append(header, pl.Name)
			align = append(align, tw.AlignRight)
		}
	}
	if opt.Missing {
		header = append(header, "Missing")
		align = append(align, tw.AlignLeft)
	}

	var table bytes.Buffer
	t := tablewriter.NewTable(&table,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		// Two spaces after every cell make the gaps between columns; the
		// ones after the last cell are trimmed below.
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	)
	t.Header(header)

	row := func(name string, s coverage.FileSummary, perPlatform []*coverage.FileSummary) error {
		cells := []string{name, fmt.Sprint(s.Stmts), fmt.Sprint(s.Miss), percent(s, opt.Precision) + "%"}
		if showPlatforms {
			for _, ps := range perPlatform {
				if ps == nil {
					cells = append(cells, "-")
				} else {
					cells = append(cells, percent(*ps, opt.Precision)+"%")
				}
			}
		}
		if opt.Missing {
			cells = append(cells, missingCell(s, perPlatform, platforms, showPlatforms))
		}
		return t.Append(cells)
	}
	skipped := 0
	for _, f := range files {
		if opt.SkipCovered && complete(f) {
			skipped++
			continue
		}
		if err := row(f.name, f.sum, f.platforms); err != nil {
			return fmt.Errorf("rendering the coverage table: %w", err)
		}
	}
	if err := row("TOTAL", total, platformTotals); err != nil {
		return fmt.Errorf("rendering the coverage table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering the coverage table: %w", err)
	}
	for line := range bytes.Lines(table.Bytes()) {
		buf.Write(bytes.TrimRight(line, " \n"))
		buf.WriteByte('\n')
	}
	if skipped > 0 {
		plural := "s"
		if skipped == 1 {
			plural = ""
		}
		fmt.Fprintf(&buf, "\n%d file%s skipped due to complete coverage.\n", skipped, plural)
	}
	buf.WriteString(CoverageLine(total, len(platforms), opt.Precision))
	_, err := w.Write(buf.Bytes())
	return err
}

// CoverageLine is the line under the table that CI reads the figure from,
// in go test's words: "coverage: 94.3% of statements". In each mode the
// TOTAL row ends with the last platform's figure, so a regex over it
// (pytest-cov's "TOTAL.*\s(\d+%)$") would read the wrong one; GitLab's Go
// regex, "coverage: \d+.\d+% of statements", reads this line, which is
// the union's figure in every mode.
func CoverageLine(total coverage.FileSummary, platforms, precision int) string {
	union := ""
	if platforms >= 2 {
		union = fmt.Sprintf(" (union of %d platforms)", platforms)
	}
	return fmt.Sprintf("coverage: %s%% of statements%s\n", percent(total, max(precision, 1)), union)
}

// complete tells whether a file is fully covered on every platform that
// compiled it: a file the union covers can still miss lines on one.
func complete(f fileRow) bool {
	if f.sum.Miss != 0 {
		return false
	}
	for _, ps := range f.platforms {
		if ps != nil && ps.Miss != 0 {
			return false
		}
	}
	return true
}

// missingCell lists the union's missed lines, then each platform's own
// misses that the union covers.
func missingCell(s coverage.FileSummary, perPlatform []*coverage.FileSummary, platforms []Platform, byPlatform bool) string {
	var parts []string
	if m := s.MissingString(); m != "" {
		parts = append(parts, m)
	}
	if byPlatform {
		for i, ps := range perPlatform {
			if ps == nil || ps.Miss == 0 {
				continue
			}
			only := coverage.FileSummary{Missing: subtractRanges(ps.Missing, s.Missing)}
			if len(only.Missing) > 0 {
				parts = append(parts, platforms[i].Name+": "+only.MissingString())
			}
		}
	}
	return strings.Join(parts, "; ")
}

// subtractRanges returns the lines of a that are in none of b's ranges.
func subtractRanges(a, b []coverage.LineRange) []coverage.LineRange {
	var out []coverage.LineRange
	for _, r := range a {
		for l := r.From; l <= r.To; l++ {
			in := false
			for _, x := range b {
				if l >= x.From && l <= x.To {
					in = true
					break
				}
			}
			if in {
				continue
			}
			if n := len(out); n > 0 && out[n-1].To == l-1 {
				out[n-1].To = l
			} else {
				out = append(out, coverage.LineRange{From: l, To: l})
			}
		}
	}
	return out
}
