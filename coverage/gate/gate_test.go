package gate

import (
	"strings"
	"testing"

	"github.com/covdist/covdist/coverage"
)

func profile(t *testing.T, text string) *coverage.Profile {
	t.Helper()
	p, err := coverage.Parse(strings.NewReader(text), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseMin(t *testing.T) {
	tests := []struct {
		in      string
		want    Min
		wantErr string
	}{
		{in: "80", want: Min{Percent: 80}},
		{in: "72.5%", want: Min{Percent: 72.5}},
		{in: "linux/386:70", want: Min{Platform: "linux/386", Percent: 70}},
		{in: "linux/amd64 go1.24.0:50", want: Min{Platform: "linux/amd64 go1.24.0", Percent: 50}},
		{in: "101", wantErr: `"101": want a percentage from 0 to 100`},
		{in: "-1", wantErr: "want a percentage"},
		{in: "linux/386:", wantErr: "want a percentage"},
		{in: ":70", wantErr: "empty platform"},
		{in: "lots", wantErr: "e.g. 80 or linux/386:70"},
	}
	for _, tt := range tests {
		got, err := ParseMin(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMin(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMin(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	amd := profile(t, "mode: set\nm/a/a.go:1.1,2.2 3 1\nm/a/a.go:3.1,4.2 1 0\n")  // 75%
	i386 := profile(t, "mode: set\nm/a/a.go:1.1,2.2 3 0\nm/a/a.go:3.1,4.2 1 1\n") // 25%
	union := coverage.New("")
	for name, p := range map[string]*coverage.Profile{"linux/amd64": amd, "linux/386": i386} {
		if err := union.Merge(name, p); err != nil {
			t.Fatal(err)
		}
	}
	each := Input{Union: union, ModulePath: "m", Platforms: []Platform{{"linux/amd64", amd}, {"linux/386", i386}}}
	empty := Input{Union: coverage.New("")}
	modeOnly := Input{Union: profile(t, "mode: set\n")}
	tests := []struct {
		name       string
		mins       []Min
		thresholds map[string]float64
		in         Input
		wantFailed bool
		want       []string // the verdicts' lines, in order; "" for a quiet pass
	}{
		{"union reached", []Min{{Percent: 100}}, nil, each, false,
			[]string{"Required test coverage of 100% reached. Total coverage: 100.00%"}},
		{"one platform missed, listed with its figure", []Min{{Percent: 90}, {"linux/386", 70}, {"linux/amd64", 70}}, nil, each, true, []string{
			"Required test coverage of 90% reached. Total coverage: 100.00%",
			"FAIL Required test coverage of 70% on linux/386 not reached. linux/386 coverage: 25.00%",
			"Required test coverage of 70% on linux/amd64 reached. linux/amd64 coverage: 75.00%",
		}},
		{"a platform not in the run", []Min{{"windows/amd64", 50}}, nil, each, true, []string{
			"FAIL Required test coverage of 50% on windows/amd64 not reached: no platform windows/amd64 in this run (this run's platforms: linux/amd64, linux/386)",
		}},
		{"a platform gate over one platform", []Min{{"linux/386", 50}}, nil, Input{Union: amd}, true, []string{
			"FAIL Required test coverage of 50% on linux/386 not reached: no platform linux/386 in this run (this run has one platform and gates it with --cov-fail-under=PCT)",
		}},
		{"empty profile is 0%, never a pass", []Min{{Percent: 80}}, nil, empty, true, []string{
			"FAIL Required test coverage of 80% not reached. Total coverage: 0.00% (no statements were measured)",
		}},
		{"mode line only is 0%", []Min{{Percent: 1}}, nil, modeOnly, true, []string{
			"FAIL Required test coverage of 1% not reached. Total coverage: 0.00% (no statements were measured)",
		}},
		{"0 is no gate", []Min{{Percent: 0}}, nil, empty, false, nil},
		{"thresholds", nil, map[string]float64{"a": 99, "a/a.go": 100, "nothere/...": 1}, each, true, []string{
			"",
			"",
			`FAIL Coverage threshold "nothere/..." matches no measured file or package`,
		}},
		{"threshold under", nil, map[string]float64{"m/a/...": 100}, Input{Union: amd, ModulePath: "m"}, true, []string{
			"FAIL Coverage of m/a/... is 75.00%, under its threshold of 100%",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := Check(tt.mins, tt.thresholds, tt.in)
			var got []string
			for _, v := range vs {
				got = append(got, v.Line)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || len(got) != len(tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if Failed(vs) != tt.wantFailed {
				t.Errorf("Failed = %v; want %v", Failed(vs), tt.wantFailed)
			}
		})
	}
}

// A threshold over a file with no statements is 0%, not a pass.
func TestThresholdNoStatements(t *testing.T) {
	p := profile(t, "mode: set\nm/a/a.go:1.1,2.2 0 0\n")
	vs := Check(nil, map[string]float64{"a/a.go": 10}, Input{Union: p, ModulePath: "m"})
	if !Failed(vs) || !strings.Contains(vs[0].Line, "0.00% (no statements were measured)") {
		t.Errorf("got %+v; want a failure saying no statements were measured", vs)
	}
}
