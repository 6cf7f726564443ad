package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		toml string
		want fileConfig // Path is filled in; DIR in RsyncDirs stands for the file's directory
	}{
		{"empty", "", fileConfig{}},
		{"comments only", "# nothing here\n", fileConfig{}},
		{"specs", `tx = ["4*popen", "ssh=ci@b1//id=b1//goarch=arm64"]
px = ["ssh=bastion//id=gw"]`,
			fileConfig{Tx: []string{"4*popen", "ssh=ci@b1//id=b1//goarch=arm64"}, Px: []string{"ssh=bastion//id=gw"}}},
		{"numprocesses int", "numprocesses = 4", fileConfig{NumProcesses: "4"}},
		{"numprocesses zero", "numprocesses = 0", fileConfig{NumProcesses: "0"}},
		{"numprocesses auto", `numprocesses = "auto"`, fileConfig{NumProcesses: "auto"}},
		{"numprocesses string number", `numprocesses = "8"`, fileConfig{NumProcesses: "8"}},
		{"rsyncdirs resolved", `rsyncdirs = [".", "sub/../lib", "../shared", "/abs/dir"]`,
			fileConfig{RsyncDirs: []string{"DIR", "DIR/lib", "PARENT/shared", "/abs/dir"}}},
		{"cov_fail_under int", "cov_fail_under = 85", fileConfig{CovFailUnder: pct(85)}},
		{"cov_fail_under zero", "cov_fail_under = 0.0", fileConfig{CovFailUnder: pct(0)}},
		{"thresholds", `[thresholds]
"github.com/covdist/covdist/coverage" = 90
"distribute/xspec/*.go" = 95.5`,
			fileConfig{Thresholds: map[string]float64{"github.com/covdist/covdist/coverage": 90, "distribute/xspec/*.go": 95.5}}},
		{"everything", `tx = ["popen"]
px = []
dist = "each"
rsyncdirs = ["src"]
rsyncignore = ["*.tmp", ".git"]
numprocesses = "auto"
cov = ["./..."]
covermode = "atomic"
cov_fail_under = 80.5
cov_report = ["term-missing", "xml:coverage.xml", "html"]
timeout = "10m"

[thresholds]
"example.com/m/calc" = 50
`, fileConfig{
			Tx: []string{"popen"}, Px: []string{}, Dist: "each", RsyncDirs: []string{"DIR/src"},
			RsyncIgnore: []string{"*.tmp", ".git"}, NumProcesses: "auto", Cov: []string{"./..."}, CoverMode: "atomic",
			CovFailUnder: pct(80.5), CovReport: []string{"term-missing", "xml:coverage.xml", "html"}, Timeout: "10m",
			Thresholds: map[string]float64{"example.com/m/calc": 50},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfigFile(t, tt.toml)
			got, err := loadConfig(path)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			want := tt.want
			want.Path = path
			dir := filepath.Dir(path)
			for i, d := range want.RsyncDirs {
				d = strings.Replace(d, "PARENT", filepath.Dir(dir), 1)
				want.RsyncDirs[i] = filepath.FromSlash(strings.Replace(d, "DIR", dir, 1))
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // FILE stands for the file's path
	}{
		{"syntax", "tx = [\"popen\"]\ndist = \n", `FILE:2: dist: expected value but found '\n' instead`},
		{"wrong type", `dist = 3`, `FILE:1: dist: incompatible types: TOML value has type int64; destination has type string`},
		{"wrong array type", "\n\ntx = \"popen\"", `FILE:3: tx: incompatible types: TOML value has type string; destination has type slice`},
		{"unknown key", "dist = \"load\"\nworkers = 4", `FILE:2: unknown key "workers"`},
		{"unknown keys", "a = 1\nb = 2", "FILE:1: unknown key \"a\"\nFILE:2: unknown key \"b\""},
		{"unknown table", "[report]\nformat = \"xml\"\nother = 1", `FILE:1: unknown key "report"`},
		{"dash instead of underscore", "cov-fail-under = 80", `FILE:1: unknown key "cov-fail-under" (did you mean "cov_fail_under"?)`},
		{"typo named by its line", "# defaults\ndist = \"load\"\n\ncov_fail_undr = 80\n", `FILE:4: unknown key "cov_fail_undr"`},
		{"unknown table named by its header's line", "dist = \"load\"\n\n[reports]\nxml = 1\n", `FILE:3: unknown key "reports"`},
		{"wrong case", `TX = ["popen"]`, `FILE:1: unknown key "TX" (did you mean "tx"?)`},
		{"bad tx", `tx = ["popen", "0*popen"]`, `FILE: tx: xspec "0*popen": bad count "0": want a positive number, as in 4*popen`},
		{"bad px", `px = ["ssh=h//goos=linx"]`, `FILE: px: xspec "ssh=h//goos=linx": unknown goos "linx" (see go tool dist list)`},
		{"bad dist", `dist = "all"`, `FILE: dist: "all" is not one of no, load, loadpkg, each`},
		{"bad covermode", `covermode = "sum"`, `FILE: covermode: "sum" is not one of set, count, atomic`},
		{"negative numprocesses", `numprocesses = -1`, `FILE: numprocesses: -1: want a number of workers or "auto"`},
		{"word numprocesses", `numprocesses = "many"`, `FILE: numprocesses: "many": want a number of workers or "auto"`},
		{"bool numprocesses", `numprocesses = true`, `FILE: numprocesses: got TOML type Bool: want a number of workers or "auto"`},
		{"cov_fail_under too high", `cov_fail_under = 101`, `FILE: cov_fail_under: 101 is not a percentage from 0 to 100`},
		{"cov_fail_under negative", `cov_fail_under = -1.5`, `FILE: cov_fail_under: -1.5 is not a percentage from 0 to 100`},
		{"threshold too high", "[thresholds]\n\"b\" = 120\n\"a\" = 200", `FILE: thresholds: "a" = 200 is not a percentage from 0 to 100`},
		{"threshold empty pattern", "[thresholds]\n\"\" = 50", `FILE: thresholds: empty package or file pattern`},
		{"threshold not a number", "[thresholds]\n\"a\" = \"50\"", `FILE:2: thresholds.a: incompatible types: TOML value has type string; destination has type float`},
		{"bad timeout", `timeout = "10"`, `FILE: timeout: bad duration "10": want a Go duration such as 90s or 10m`},
		{"negative timeout", `timeout = "-1s"`, `FILE: timeout: bad duration "-1s": want a Go duration such as 90s or 10m`},
		{"bad rsyncignore", `rsyncignore = ["[a-"]`, `FILE: rsyncignore: bad glob "[a-"`},
		{"empty rsyncdir", `rsyncdirs = [""]`, `FILE: rsyncdirs: empty path`},
		{"empty cov", `cov = [""]`, `FILE: cov: empty pattern`},
		{"bad cov_report", `cov_report = ["pdf:out.pdf"]`,
			`FILE: cov_report: unknown report "pdf:out.pdf": want TYPE[:DEST] with TYPE one of term, term-missing, skip-covered, html, xml, lcov, json, out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfigFile(t, tt.toml)
			got, err := loadConfig(path)
			if err == nil {
				t.Fatalf("loadConfig = %+v; want an error", got)
			}
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

func TestLoadConfigMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "covdist.toml")
	_, err := loadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), "reading config: ") || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v; want a reading config error naming %s", err, path)
	}
}

func TestLoadConfigSample(t *testing.T) {
	// testdata/config/covdist.toml is the sample in fileConfig's doc comment.
	cfg, err := loadConfig(filepath.Join("testdata", "config", "covdist.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cfg.Path) {
		t.Errorf("got Path %q; want an absolute path", cfg.Path)
	}
	wantDirs := []string{filepath.Dir(cfg.Path), filepath.Join(filepath.Dir(filepath.Dir(cfg.Path)), "shared")}
	if !reflect.DeepEqual(cfg.RsyncDirs, wantDirs) {
		t.Errorf("got RsyncDirs %q; want %q", cfg.RsyncDirs, wantDirs)
	}
	if len(cfg.Tx) != 2 || cfg.NumProcesses != "auto" || len(cfg.Thresholds) != 2 {
		t.Errorf("got %+v; want the sample's values", cfg)
	}
}

func TestFindConfig(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
		want  bool
	}{
		{"absent", func(string) error { return nil }, false},
		{"present", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "covdist.toml"), nil, 0o644)
		}, true},
		{"a directory", func(dir string) error { return os.Mkdir(filepath.Join(dir, "covdist.toml"), 0o755) }, false},
		{"other name", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "Covdist.toml"), nil, 0o644)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			got := findConfig(dir)
			want := ""
			if tt.want {
				want = filepath.Join(dir, "covdist.toml")
			}
			if got != want {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
}

func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		"", `tx = ["popen"]`, "numprocesses = 4", `numprocesses = "auto"`,
		"[thresholds]\n\"a\" = 50", "rsyncdirs = [\"..\"]", "a = [1, \"x\"]", "[[tx]]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "covdist.toml")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path) {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		for _, d := range cfg.RsyncDirs {
			if !filepath.IsAbs(d) {
				t.Fatalf("rsyncdir %q is not absolute", d)
			}
		}
	})
}

// writeConfigFile writes content to covdist.toml in a new directory.
func writeConfigFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "covdist.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
