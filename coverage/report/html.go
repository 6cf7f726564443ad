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
func HTML(dir string, combined *coverage.Profile, opt Options, moduleDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	files, total, _ := rows(combined, nil, opt)
	byLine := lines(combined)
	index := htmlIndex{Missing: opt.Missing, Total: htmlRowOf(total, "TOTAL", "", opt)}
	used := make(map[string]bool)
	for _, f := range files {
		if opt.SkipCovered && f.sum.Miss == 0 {
			index.Skipped++
			continue
		}
		page := pageName(f.name, used)
		index.Rows = append(index.Rows, htmlRowOf(f.sum, f.name, page, opt))
		src := filepath.Join(moduleDir, filepath.FromSlash(f.name))
		if err := writeTemplate(filepath.Join(dir, page), fileTemplate, filePage(f, byLine[f.path], src, opt)); err != nil {
			return err
		}
	}
	return writeTemplate(filepath.Join(dir, "index.html"), indexTemplate, index)
}

type htmlRow struct {
	Name, Page, Cover, Missing string
	Stmts, Miss                int
}

func htmlRowOf(s coverage.FileSummary, name, page string, opt Options) htmlRow {
	return htmlRow{Name: name, Page: page, Stmts: s.Stmts, Miss: s.Miss, Cover: percent(s, opt.Precision) + "%", Missing: s.MissingString()}
}

type htmlIndex struct {
	Missing bool
	Rows    []htmlRow
	Total   htmlRow
	Skipped int
}

type htmlLine struct {
	Number int
	Class  string // run, mis, par or empty for lines without statements
	Hits   string
	Text   string
}

type htmlFile struct {
	htmlRow
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
tr.total { font-weight: bold; border-top: 1px solid #999; }
.src td { font-family: monospace; white-space: pre; padding: 0 0.5em; }
.src td.ln, .src td.hits { color: #888; text-align: right; }
tr.run td.code { background: #dfd; }
tr.mis td.code { background: #fdd; }
tr.par td.code { background: #ffc; }
</style>`

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Coverage report</title>
` + htmlStyle + `
</head>
<body>
<h1>Coverage report: {{.Total.Cover}}</h1>
<table>
<tr><th>Name</th><th class="num">Stmts</th><th class="num">Miss</th><th class="num">Cover</th>{{if .Missing}}<th>Missing</th>{{end}}</tr>
{{- range .Rows}}
<tr><td><a href="{{.Page}}">{{.Name}}</a></td><td class="num">{{.Stmts}}</td><td class="num">{{.Miss}}</td><td class="num">{{.Cover}}</td>{{if $.Missing}}<td>{{.Missing}}</td>{{end}}</tr>
{{- end}}
<tr class="total"><td>TOTAL</td><td class="num">{{.Total.Stmts}}</td><td class="num">{{.Total.Miss}}</td><td class="num">{{.Total.Cover}}</td>{{if .Missing}}<td></td>{{end}}</tr>
</table>
{{- if .Skipped}}
<p>{{.Skipped}} file{{if ne .Skipped 1}}s{{end}} skipped due to complete coverage.</p>
{{- end}}
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
{{- if .SourceErr}}
<p class="error">{{.SourceErr}}</p>
{{- else}}
<table class="src">
{{- range .Lines}}
<tr{{if .Class}} class="{{.Class}}"{{end}}><td class="ln">{{.Number}}</td><td class="hits">{{.Hits}}</td><td class="code">{{.Text}}</td></tr>
{{- end}}
</table>
{{- end}}
</body>
</html>
`))
