package platforms

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Failure is a package under test that did not compile or did not load for
// the target. go test fails such a package "[build failed]" or "[setup
// failed]" and runs the others; so does covdist.
type Failure struct {
	Package string // its import path
	// FailedBuild is the go command's name of the build that failed, as
	// go test -json puts it in the package's fail event and in the
	// ImportPath of the build-output events: the package's test variant
	// ("pkg [pkg.test]"), the package, or a dependency that stopped it.
	FailedBuild string
	// Output is that build's output, its "# pkg" line first, as go test
	// prints it.
	Output string
	Setup  bool // it did not load (an import cycle, a missing import)
}

// buildOutput is what a go command that builds said of the builds that
// failed, in the order it said it.
type buildOutput struct {
	order  []string          // the failed builds, as ImportPaths
	output map[string]string // by ImportPath
	// failed holds, by package, the FailedBuild of the fail events the
	// go command wrote itself (for packages that did not load).
	failed map[string]string
	setup  map[string]bool // packages go called "[setup failed]"
}

func (o *buildOutput) add(importPath, text string) {
	if o.output == nil {
		o.output = make(map[string]string)
	}
	if _, ok := o.output[importPath]; !ok {
		o.order = append(o.order, importPath)
	}
	o.output[importPath] += text
}

// parseBuildJSON reads the events of go test -c -json and go build -json:
// build-output events (Go 1.24 and later), and the fail events of packages
// that did not load.
func parseBuildJSON(stdout []byte) *buildOutput {
	o := &buildOutput{failed: make(map[string]string), setup: make(map[string]bool)}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e struct {
			ImportPath, Action, Output, Package, FailedBuild string
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Action == "build-output":
			o.add(e.ImportPath, e.Output)
		case e.Action == "output" && e.Package != "" && strings.HasSuffix(e.Output, " [setup failed]\n"):
			o.setup[e.Package] = true
		case e.Action == "fail" && e.Package != "" && e.FailedBuild != "":
			o.failed[e.Package] = e.FailedBuild
		}
	}
	return o
}

// parseBuildText reads the build errors an older go command writes to
// stderr: a "# pkg" line, then the errors of that build.
func parseBuildText(stderr []byte) *buildOutput {
	o := &buildOutput{failed: make(map[string]string), setup: make(map[string]bool)}
	cur := ""
	for _, line := range strings.SplitAfter(string(stderr), "\n") {
		if line == "" {
			continue
		}
		// "# [cover ...]" is the command line of a tool in the same build.
		if h, ok := strings.CutPrefix(line, "# "); ok && !strings.HasPrefix(h, "[") {
			cur = strings.TrimSpace(h)
		}
		if cur != "" {
			o.add(cur, line)
		}
	}
	return o
}

// variantOf returns the package an ImportPath of the go command's build
// output is a build of: "p [p.test]" and "p_test [p.test]" are p's.
func variantOf(importPath string) string {
	p, _, _ := strings.Cut(importPath, " [")
	return strings.TrimSuffix(p, "_test")
}

// failures tells, for each of pkgs (packages the go command was asked to
// build and did not), which build failed and what it said: the package's
// own build when the output has one, else the first failed build that is
// no package of pkgs' own (a dependency that stopped it). why gives the
// text of a failure the go command explained nowhere else.
func (o *buildOutput) failures(pkgs []string, why func(pkg string) string) []*Failure {
	own := make(map[string]bool)
	for _, p := range pkgs {
		own[p] = true
	}
	var out []*Failure
	for _, p := range pkgs {
		f := &Failure{Package: p, FailedBuild: o.failed[p], Setup: o.setup[p]}
		if f.FailedBuild == "" {
			for _, ip := range o.order {
				if variantOf(ip) == p {
					f.FailedBuild = ip
					break
				}
			}
		}
		if f.FailedBuild == "" {
			for _, ip := range o.order {
				if !own[variantOf(ip)] {
					f.FailedBuild = ip
					break
				}
			}
		}
		f.Output = o.output[f.FailedBuild]
		if f.Output == "" {
			f.FailedBuild = p
			f.Output = strings.TrimRight(why(p), "\n") + "\n"
		}
		// A load error reads "package p\n\timports ...": go test calls
		// it "[setup failed]", and heads it with "# p" where go build
		// does not.
		f.Setup = f.Setup || strings.HasPrefix(f.Output, "package ") || strings.Contains(f.Output, "\npackage ")
		if !strings.HasPrefix(f.Output, "# ") {
			f.Output = "# " + p + "\n" + f.Output
		}
		out = append(out, f)
	}
	return out
}

// buildJSON tells whether a go release writes its build output as
// build-output events with -json, as Go 1.24 and later do.
func buildJSON(goVersion string) bool {
	rest, ok := strings.CutPrefix(goVersion, "go1.")
	if !ok {
		return strings.HasPrefix(goVersion, "devel")
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	minor, err := strconv.Atoi(rest[:end])
	return err == nil && minor >= 24
}
