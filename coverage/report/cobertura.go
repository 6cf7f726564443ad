package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/covdist/covdist/coverage"
)

type coberturaCoverage struct {
	XMLName         xml.Name           `xml:"coverage"`
	LineRate        string             `xml:"line-rate,attr"`
	BranchRate      string             `xml:"branch-rate,attr"`
	LinesCovered    int                `xml:"lines-covered,attr"`
	LinesValid      int                `xml:"lines-valid,attr"`
	BranchesCovered int                `xml:"branches-covered,attr"`
	BranchesValid   int                `xml:"branches-valid,attr"`
	Complexity      string             `xml:"complexity,attr"`
	Version         string             `xml:"version,attr"`
	Timestamp       int64              `xml:"timestamp,attr"`
	Sources         []string           `xml:"sources>source"`
	Packages        []coberturaPackage `xml:"packages>package"`
}

type coberturaPackage struct {
	Name       string           `xml:"name,attr"`
	LineRate   string           `xml:"line-rate,attr"`
	BranchRate string           `xml:"branch-rate,attr"`
	Complexity string           `xml:"complexity,attr"`
	Classes    []coberturaClass `xml:"classes>class"`
}

type coberturaClass struct {
	Name       string          `xml:"name,attr"`
	Filename   string          `xml:"filename,attr"`
	LineRate   string          `xml:"line-rate,attr"`
	BranchRate string          `xml:"branch-rate,attr"`
	Complexity string          `xml:"complexity,attr"`
	Methods    struct{}        `xml:"methods"`
	Lines      []coberturaLine `xml:"lines>line"`
}

type coberturaLine struct {
	Number int   `xml:"number,attr"`
	Hits   int64 `xml:"hits,attr"`
}

// Cobertura writes a Cobertura XML report, the coverage format GitLab,
// Jenkins and Azure DevOps read. Packages are Go packages (the directory of
// each file, as an import path), classes are files, with filename relative
// to the module root and sourceRoot (the module's directory) as the only
// source. Coverage is by line, as the format wants: a line is valid when a
// block with statements covers it, and its hits are the largest count of
// those blocks. There are no branches. For example:
//
//	<coverage line-rate="0.75" branch-rate="0" lines-covered="3" lines-valid="4" ... timestamp="1700000000000">
//	  <sources><source>/src/m</source></sources>
//	  <packages>
//	    <package name="example.com/m/calc" line-rate="0.75" ...>
//	      <classes>
//	        <class name="calc.go" filename="calc/calc.go" line-rate="0.75" ...>
//	          <methods></methods>
//	          <lines><line number="3" hits="1"></line>...</lines>
//
// timestamp is written in milliseconds since the epoch; pass a fixed one for
// reproducible output.
func Cobertura(w io.Writer, combined *coverage.Profile, opt Options, sourceRoot string, timestamp time.Time) error {
	if sourceRoot == "" {
		sourceRoot = "."
	}
	doc := coberturaCoverage{
		BranchRate: "0",
		Complexity: "0",
		Version:    "covdist",
		Timestamp:  timestamp.UnixMilli(),
		Sources:    []string{sourceRoot},
	}
	byLine := lines(combined)
	pkgs := make(map[string]*coberturaPackage)
	pkgCounts := make(map[string][2]int) // hit, valid
	var hitAll, validAll int
	for _, file := range combined.Files() {
		nums, hit := byLine[file].sorted()
		class := coberturaClass{
			Name:       path.Base(file),
			Filename:   opt.repoName(file),
			LineRate:   rate(hit, len(nums)),
			BranchRate: "0",
			Complexity: "0",
			Lines:      make([]coberturaLine, len(nums)),
		}
		for i, n := range nums {
			class.Lines[i] = coberturaLine{Number: n, Hits: byLine[file].hits[n]}
		}
		dir := packageDir(file)
		pkg := pkgs[dir]
		if pkg == nil {
			pkg = &coberturaPackage{Name: dir, BranchRate: "0", Complexity: "0"}
			pkgs[dir] = pkg
		}
		pkg.Classes = append(pkg.Classes, class)
		c := pkgCounts[dir]
		pkgCounts[dir] = [2]int{c[0] + hit, c[1] + len(nums)}
		hitAll += hit
		validAll += len(nums)
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		pkg := pkgs[d]
		pkg.LineRate = rate(pkgCounts[d][0], pkgCounts[d][1])
		sort.Slice(pkg.Classes, func(i, j int) bool { return pkg.Classes[i].Filename < pkg.Classes[j].Filename })
		doc.Packages = append(doc.Packages, *pkg)
	}
	doc.LinesCovered, doc.LinesValid = hitAll, validAll
	doc.LineRate = rate(hitAll, validAll)

	if _, err := io.WriteString(w, xml.Header+`<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">`+"\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing Cobertura XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// rate formats hit/valid as Cobertura readers expect, with four significant
// digits at most, and 0 when there is nothing to cover: no lines measured
// is nothing covered, as in every other report (coverage.FileSummary.Percent).
func rate(hit, valid int) string {
	if valid == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(hit)/float64(valid), 'g', 4, 64)
}
