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
