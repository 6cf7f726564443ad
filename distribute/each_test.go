package distribute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute"
)

// In each mode a platform that could not build has no workers and gets its
// tests as not-run arrivals: they are reported once each, with the reason,
// never queued, while the other platform runs everything.
func TestEachNotBuiltPlatform(t *testing.T) {
	bin, dir := buildFixture(t)
	p := plan(bin, dir, &pipeGateway{})
	p.Mode, p.Boxed = distribute.Each, false
	good := p.Platforms[0]
	broken := &distribute.Platform{Name: "linux/arm64"}
	p.Platforms = append(p.Platforms, broken)
	feed := make(chan distribute.Arrival, 1)
	p.Feed = feed
	var names []string
	for _, tt := range good.Tests {
		names = append(names, tt.Name)
	}
	feed <- distribute.Arrival{Platform: "linux/arm64", Package: "example.com/fx", Tests: names,
		NotRun: "linux/arm64 did not build: building test binaries failed"}
	close(feed)
	rec := &recorder{}
	if _, err := distribute.Run(context.Background(), p, rec); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string][]distribute.Status{}
	for _, r := range rec.results {
		if got[r.Platform] == nil {
			got[r.Platform] = map[string][]distribute.Status{}
		}
		got[r.Platform][r.Test] = append(got[r.Platform][r.Test], r.Status)
		if r.Platform == "linux/arm64" && !strings.Contains(r.Reason, "did not build") {
			t.Errorf("%s on linux/arm64: got reason %q; want it to say the platform did not build", r.Test, r.Reason)
		}
	}
	tests := []struct {
		platform string
		want     distribute.Status
	}{
		{"linux/amd64", distribute.Passed},
		{"linux/arm64", distribute.NotRun},
	}
	for _, tt := range tests {
		if len(got[tt.platform]) != len(names) {
			t.Errorf("%s: got results for %d tests; want %d", tt.platform, len(got[tt.platform]), len(names))
		}
		for name, ss := range got[tt.platform] {
			if len(ss) != 1 || ss[0] != tt.want {
				t.Errorf("%s %s: got statuses %v; want exactly one %s", tt.platform, name, ss, tt.want)
			}
		}
	}
}

// A package that did not build is told to the reporter first, fails, and
// its tests are reported not run without a test event of their own, as go
// test writes none for them; the platform's other package runs.
func TestBuildFailedPackage(t *testing.T) {
	bin, dir := buildFixture(t)
	p := plan(bin, dir, &pipeGateway{})
	feed := make(chan distribute.Arrival, 1)
	p.Feed = feed
	feed <- distribute.Arrival{Platform: "linux/amd64", Package: "example.com/broken", Tests: []string{"TestX", "TestY"},
		NotRun: "package example.com/broken did not build",
		Build:  &distribute.BuildFailure{FailedBuild: "example.com/broken [example.com/broken.test]", Output: "# example.com/broken\nx.go:1:1: bad\n"}}
	close(feed)
	rec := &recorder{}
	if _, err := distribute.Run(context.Background(), p, rec); err != nil {
		t.Fatal(err)
	}
	if !rec.buildFailed["example.com/broken"] || !rec.failed["example.com/broken"] {
		t.Errorf("got BuildFailed %v, PackageDone failed %v; want example.com/broken in both", rec.buildFailed, rec.failed)
	}
	if rec.failed["example.com/fx"] {
		t.Errorf("got example.com/fx failed; want it to pass")
	}
	notRun := 0
	for _, r := range rec.results {
		if r.Package == "example.com/broken" {
			if r.Status != distribute.NotRun {
				t.Errorf("%s: got %s; want not run", r.Test, r.Status)
			}
			notRun++
		}
	}
	if notRun != 2 {
		t.Errorf("got %d results of example.com/broken; want 2", notRun)
	}
	for _, e := range rec.events {
		if e.Package == "example.com/broken" && e.Test != "" {
			t.Errorf("got a %s event of %s; want no test events of a package that did not build", e.Action, e.Test)
		}
	}
}
