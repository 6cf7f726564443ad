package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"

	"github.com/covdist/covdist/coverage"
)

// HTML writes an HTML report into dir (created if needed): index.html with
// the coverage table, each file name linking to a page of its source with
// covered lines, missed lines and partly covered lines marked. Sources are
// read from moduleDir joined with each file's path relative to the module
// root; a file whose source cannot be read gets a page that says so and
// lists its missed lines, rather than failing the report. opt.SkipCovered
// leaves fully covered files out of the index and writes no page for them.
//
// Over more than one platform (each mode) the index has a Cover column per
// platform and each file page a hits column per platform, beside the union's;
// every platform also gets a report of its own in the subdirectory named
// Slug(platform), and every index starts with a selector linking them all.
func HTML(dir string, combined *coverage.Profile, platforms []Platform, opt Options, moduleDir string) error {
	cols := columns(platforms)
	if len(cols) < 2 {
		return htmlReport(dir, combined, nil, nil, opt, moduleDir)
	}
	nav := func(current int, up string) []htmlLink {
		links := []htmlLink{{Label: "all platforms", Href: up + "index.html", Current: current < 0}}
		for i, pl := range cols {
			links = append(links, htmlLink{Label: pl.Name, Href: up + Slug(pl.Name) + "/index.html", Current: i == current})
		}
		return links
	}
	if err := htmlReport(dir, combined, cols, nav(-1, ""), opt, moduleDir); err != nil {
		return err
	}
	for i, pl := range cols {
		if err := htmlReport(filepath.Join(dir, Slug(pl.Name)), pl.Profile, nil, nav(i, "../"), opt, moduleDir); err != nil {
			return err
		}
	}
	return nil
}

// Slug returns the name a platform's own report files take: "linux/amd64"
// is "linux-amd64", and anything but letters, digits, '-' and '.' is '_'.
func Slug(platform string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '/':
			return '-'
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.':
			return r
		}
		return '_'
	}, platform)
}

// htmlReport writes one report: of combined, with a column for each of
// platforms (none for a platform's own report) and nav above its index.
func htmlReport(dir string, combined *coverage.Profile, platforms []Platform, nav []htmlLink, opt Options, moduleDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	files, total, platformTotals := rows(combined, platforms, opt)
	byLine := lines(combined)
	perPlatform := make([]map[string]*lineHits, len(platforms))
	index := htmlIndex{Missing: opt.Missing, Nav: nav, Total: htmlRowOf(total, "TOTAL", "", opt), Generator: opt.Generator}
	if !opt.Generated.IsZero() {
		index.Generated = opt.Generated.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for i, l := range nav {
		if l.Current && i > 0 {
			index.Platform = l.Label
		}
	}
	for i, pl := range platforms {
		perPlatform[i] = lines(pl.Profile)
		index.Platforms = append(index.Platforms, htmlLink{Label: pl.Name, Href: Slug(pl.Name) + "/index.html"})
		index.Total.PlatformCover = append(index.Total.PlatformCover, coverCell(platformTotals[i], opt))
	}
	used := make(map[string]bool)
	for _, f := range files {
		if opt.SkipCovered && f.sum.Miss == 0 {
			index.Skipped++
			continue
		}
		page := pageName(f.name, used)
		row := htmlRowOf(f.sum, f.name, page, opt)
		for i := range platforms {
			row.PlatformCover = append(row.PlatformCover, coverCell(f.platforms[i], opt))
		}
		index.Rows = append(index.Rows, row)
		src := filepath.Join(moduleDir, filepath.FromSlash(f.name))
		fp := filePage(f, byLine[f.path], src, opt)
		fp.htmlRow = row
		fp.Platforms = index.Platforms
		for i := range platforms {
			lh := perPlatform[i][f.path]
			for j := range fp.Lines {
				l := &fp.Lines[j]
				if l.Hits == "" {
					continue
				}
				cell := "-" // the platform does not compile the line
				if lh != nil {
					if hits, ok := lh.hits[l.Number]; ok {
						cell = fmt.Sprint(hits)
					}
				}
				l.PlatformHits = append(l.PlatformHits, cell)
			}
		}
		if err := writeTemplate(filepath.Join(dir, page), fileTemplate, fp); err != nil {
			return err
		}
	}
	return writeTemplate(filepath.Join(dir, "index.html"), indexTemplate, index)
}

// coverCell is a platform's Cover cell: "-" where it has no statements of
// the file.
func coverCell(s *coverage.FileSummary, opt Options) string {
	if s == nil {
		return "-"
	}
	return percent(*s, opt.Precision) + "%"
}

// htmlLink is one entry of the platform selector or a platform's column
// heading.
type htmlLink struct {
	Label, Href string
	Current     bool
}

type htmlRow struct {
	Name, Page, Cover, Missing string
	Stmts, Miss                int
	PlatformCover              []string // one per platform column
}

func htmlRowOf(s coverage.FileSummary, name, page string, opt Options) htmlRow {
	return htmlRow{Name: name, Page: page, Stmts: s.Stmts, Miss: s.Miss, Cover: percent(s, opt.Precision) + "%", Missing: s.MissingString()}
}

type htmlIndex struct {
	Missing   bool
	Nav       []htmlLink // the platform selector; none over one platform
	Platform  string     // the platform of a platform's own report
	Platforms []htmlLink // the platform columns
	Rows      []htmlRow
	Total     htmlRow
	Skipped   int
	Generator string // what made the report, for the footer
	Generated string // when
}

type htmlLine struct {
	Number int
	Class  string // run, mis, par or empty for lines without statements
	Hits   string
	Text   string
	// PlatformHits are the line's hits on each platform, "-" where the
	// platform does not compile it; empty for lines without statements.
	PlatformHits []string
}

type htmlFile struct {
	htmlRow
	Platforms []htmlLink
	Lines     []htmlLine
	SourceErr string
}

// pageName returns a file name for name's page that no earlier page took.
func pageName(name string, used map[string]bool) string {
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, name)
	page := base + ".html"
	for i := 2; used[page]; i++ {
		page = fmt.Sprintf("%s_%d.html", base, i)
	}
	used[page] = true
	return page
}

func filePage(f fileRow, lh *lineHits, src string, opt Options) htmlFile {
	page := htmlFile{htmlRow: htmlRowOf(f.sum, f.name, "", opt)}
	text, err := os.ReadFile(src)
	if err != nil {
		page.SourceErr = fmt.Sprintf("The source of %s could not be read: %v.", f.name, err)
		return page
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		l := htmlLine{Number: i + 1, Text: line}
		if lh != nil {
			if hits, ok := lh.hits[l.Number]; ok {
				l.Hits = fmt.Sprint(hits)
				switch {
				case lh.partial[l.Number]:
					l.Class = "par"
				case hits > 0:
					l.Class = "run"
				default:
					l.Class = "mis"
				}
			}
		}
		page.Lines = append(page.Lines, l)
	}
	return page
}

func writeTemplate(name string, t *template.Template, data any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	return nil
}

const htmlStyle = `<style>
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; }
th, td { padding: 0.1em 0.8em; }
td.num, th.num { text-align: right; }
nav a, nav b { margin-right: 1em; }
tr.total { font-weight: bold; border-top: 1px solid #999; }
.src td { font-family: monospace; white-space: pre; padding: 0 0.5em; }
.src td.ln, .src td.hits { color: #888; text-align: right; }
tr.run td.code { background: #dfd; }
tr.mis td.code { background: #fdd; }
tr.par td.code { background: #ffc; }
</style>`

// htmlSortScript sorts the index's file rows by the column whose header is
// clicked (again: the other way); TOTAL stays last. Numbers sort as
// numbers, "-" (a platform without the file) below every figure.
const htmlSortScript = `<script>
document.querySelectorAll("table.index thead th").forEach(function (th, col) {
  th.style.cursor = "pointer";
  th.title = "Sort by this column";
  th.addEventListener("click", function (ev) {
    if (ev.target.tagName === "A") return;
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === "up" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "up" : "down";
    var key = function (r) {
      var t = r.cells[col].textContent;
      if (col === 0) return t;
      var n = parseFloat(t);
      return isNaN(n) ? -1 : n;
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
</script>`

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Coverage report</title>
` + htmlStyle + `
</head>
<body>
{{- if .Nav}}
<nav>Platform: {{range .Nav}}{{if .Current}}<b>{{.Label}}</b>{{else}}<a href="{{.Href}}">{{.Label}}</a>{{end}} {{end}}</nav>
{{- end}}
<h1>Coverage report{{with .Platform}} on {{.}}{{end}}: {{.Total.Cover}}</h1>
<table class="index">
<thead><tr><th>Name</th><th class="num">Stmts</th><th class="num">Miss</th><th class="num">Cover</th>{{range .Platforms}}<th class="num">{{.Label}} <a href="{{.Href}}">&rarr;</a></th>{{end}}{{if .Missing}}<th>Missing</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><td><a href="{{.Page}}">{{.Name}}</a></td><td class="num">{{.Stmts}}</td><td class="num">{{.Miss}}</td><td class="num">{{.Cover}}</td>{{range .PlatformCover}}<td class="num">{{.}}</td>{{end}}{{if $.Missing}}<td>{{.Missing}}</td>{{end}}</tr>
{{- end}}
</tbody>
<tfoot><tr class="total"><td>TOTAL</td><td class="num">{{.Total.Stmts}}</td><td class="num">{{.Total.Miss}}</td><td class="num">{{.Total.Cover}}</td>{{range .Total.PlatformCover}}<td class="num">{{.}}</td>{{end}}{{if .Missing}}<td></td>{{end}}</tr></tfoot>
</table>
{{- if .Skipped}}
<p>{{.Skipped}} file{{if ne .Skipped 1}}s{{end}} skipped due to complete coverage.</p>
{{- end}}
{{- if .Generator}}
<p class="meta">Created by {{.Generator}}{{with .Generated}} at {{.}}{{end}}.</p>
{{- end}}
` + htmlSortScript + `
</body>
</html>
`))

var fileTemplate = template.Must(template.New("file").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Coverage for {{.Name}}: {{.Cover}}</title>
` + htmlStyle + `
</head>
<body>
<p><a href="index.html">Index</a></p>
<h1>Coverage for {{.Name}}: {{.Cover}}</h1>
<p>{{.Stmts}} statements, {{.Miss}} missed{{if .Missing}} (lines {{.Missing}}){{end}}.</p>
{{- if .Platforms}}
<p>{{range $i, $p := .Platforms}}{{if $i}}, {{end}}{{$p.Label}} {{index $.PlatformCover $i}}{{end}}</p>
{{- end}}
{{- if .SourceErr}}
<p class="error">{{.SourceErr}}</p>
{{- else}}
<table class="src">
{{- if .Platforms}}
<tr><th class="num">line</th><th class="num">hits</th>{{range .Platforms}}<th class="num">{{.Label}}</th>{{end}}<th></th></tr>
{{- end}}
{{- range .Lines}}
<tr{{if .Class}} class="{{.Class}}"{{end}}><td class="ln">{{.Number}}</td><td class="hits">{{.Hits}}</td>{{if $.Platforms}}{{if .PlatformHits}}{{range .PlatformHits}}<td class="hits">{{.}}</td>{{end}}{{else}}{{range $.Platforms}}<td class="hits"></td>{{end}}{{end}}{{end}}<td class="code">{{.Text}}</td></tr>
{{- end}}
</table>
{{- end}}
</body>
</html>
`))
