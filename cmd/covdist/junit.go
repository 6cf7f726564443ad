package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/platforms"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Errors     int              `xml:"errors,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitRun is what the JUnit file says of the run beside its results.
type junitRun struct {
	start time.Time         // the suites' timestamp
	took  time.Duration     // the whole run
	goVer map[string]string // a platform's Go version, "go1.26.8 linux/amd64"
	// subtests are the final events of subtests, by platform, package
	// and top-level test, each a test case after its parent's, as
	// gotestsum writes them; their output beside.
	subtests map[string][]subtest
}

// newJUnitRun is what the JUnit file says of a run that started at start
// on the platforms built, now that it is over.
func newJUnitRun(built []*platforms.Built, start time.Time, rep *reporter) junitRun {
	goVer := make(map[string]string)
	for _, b := range built {
		goVer[b.Name] = b.GoVersion + " " + b.GOOS + "/" + b.GOARCH
	}
	return junitRun{start: start, took: time.Since(start), goVer: goVer, subtests: rep.subtests}
}

// subtest is one subtest's verdict.
type subtest struct {
	name, action, output string
	elapsed              float64
}

func subtestKey(platform, pkg, top string) string { return platform + "\x00" + pkg + "\x00" + top }

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// brokenPackage is a package that did not build on a platform.
type brokenPackage struct {
	platform, pkg string
	f             distribute.BuildFailure
}

// writeJUnit writes one testsuite per package (and platform, when several),
// the shape Jenkins, GitLab and GitHub test reporters read. A package that
// did not build is a suite of one failed case, "[build failed]" (or
// "[setup failed]"), whose failure holds the go command's output.
func writeJUnit(path string, results []distribute.Result, broken []brokenPackage, run junitRun) error {
	distribute.SortResults(results)
	plats := map[string]bool{}
	for _, r := range results {
		plats[r.Platform] = true
	}
	for _, b := range broken {
		plats[b.platform] = true
	}
	suites := map[string]*junitSuite{}
	var order []string
	all := junitSuites{Time: fmt.Sprintf("%.3f", run.took.Seconds())}
	suite := func(pkg, platform string) *junitSuite {
		name := pkg
		if len(plats) > 1 {
			name += " [" + platform + "]"
		}
		s := suites[name]
		if s == nil {
			s = &junitSuite{Name: name}
			if !run.start.IsZero() {
				s.Timestamp = run.start.UTC().Format(time.RFC3339)
			}
			if v := run.goVer[platform]; v != "" {
				s.Properties = &junitProperties{Property: []junitProperty{{Name: "go.version", Value: v}}}
			}
			suites[name] = s
			order = append(order, name)
		}
		return s
	}
	for _, b := range broken {
		s := suite(b.pkg, b.platform)
		word := failedWord(b.f)
		s.Cases = append(s.Cases, junitCase{Name: word, Classname: s.Name, Time: "0.000",
			Failure: &junitMessage{Message: strings.Trim(word, "[]"), Body: b.f.Output + "FAIL\t" + b.pkg + " " + word + "\n"}})
		s.Tests++
		s.Failures++
	}
	for _, r := range results {
		s := suite(r.Package, r.Platform)
		name := s.Name
		c := junitCase{Name: r.Test, Classname: name, Time: fmt.Sprintf("%.3f", r.Elapsed)}
		switch r.Status {
		case distribute.Failed:
			c.Failure = &junitMessage{Message: "Failed", Body: r.Output}
			s.Failures++
		case distribute.Crashed:
			c.Failure = &junitMessage{Message: "Crashed: " + r.Reason, Body: r.Output}
			s.Failures++
		case distribute.Skipped:
			c.Skipped = &junitMessage{Message: "Skipped", Body: r.Output}
			s.Skipped++
		case distribute.NotRun:
			// Not run because -x or --maxfail stopped the run is a skip;
			// not run because it could not be (a build that failed, a
			// binary that would not start, workers lost) is an error, which
			// a CI's test view must not show as a harmless skip.
			if stoppedEarly(r.Reason) {
				c.Skipped = &junitMessage{Message: "Not run: " + r.Reason}
				s.Skipped++
			} else {
				c.Error = &junitMessage{Message: "Not run: " + r.Reason}
				s.Errors++
			}
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
		for _, sub := range run.subtests[subtestKey(r.Platform, r.Package, r.Test)] {
			sc := junitCase{Name: sub.name, Classname: name, Time: fmt.Sprintf("%.3f", sub.elapsed)}
			switch sub.action {
			case "fail":
				sc.Failure = &junitMessage{Message: "Failed", Body: sub.output}
				s.Failures++
			case "skip":
				sc.Skipped = &junitMessage{Message: "Skipped", Body: sub.output}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, sc)
		}
	}
	sort.Strings(order)
	for _, n := range order {
		s := suites[n]
		var t float64
		for _, c := range s.Cases {
			if strings.Contains(c.Name, "/") {
				continue // inside its parent's time
			}
			var f float64
			fmt.Sscan(c.Time, &f)
			t += f
		}
		s.Time = fmt.Sprintf("%.3f", t)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, *s)
	}
	b, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// stoppedEarly tells whether a not-run reason is the run being stopped
// (-x, --maxfail, Ctrl-C) rather than a test that could not run.
func stoppedEarly(reason string) bool {
	return strings.HasPrefix(reason, "stopped after ") || reason == "the run was interrupted"
}
