package report

import (
	"bytes"
	"fmt"
	"io"

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
//
// A column per platform, titled by its Name, appears only for two platforms
// or more; "-" marks a file that platform has no blocks for. With
// opt.Missing a last column lists the missed lines; with opt.SkipCovered
// fully covered files are left out of the rows (not out of TOTAL) and a
// closing line says how many.
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
			cells = append(cells, s.MissingString())
		}
		return t.Append(cells)
	}
	skipped := 0
	for _, f := range files {
		if opt.SkipCovered && f.sum.Miss == 0 {
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
	_, err := w.Write(buf.Bytes())
	return err
}
