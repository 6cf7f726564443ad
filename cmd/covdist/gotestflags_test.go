package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGoTestFlagsAsGoTest gives go test -n and covdist the same command
// lines and compares what each makes of them: the flags go test would pass
// to the test binary (its printed command line) and the build settings it
// would stamp into it (its printed modinfo), against covdist's test binary
// flags, test selection, covdist flags and build flags. A command line go
// refuses, covdist must refuse too.
func TestGoTestFlagsAsGoTest(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("comparing with go test needs the go command: %v", err)
	}
	dir := writeFiles(t, map[string]string{
		"go.mod":        "module example.com/flags\n\ngo 1.26\n",
		"p/p_test.go":   "package p\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) {}\n",
		"p/tag_test.go": "//go:build extra\n\npackage p\n\nimport \"testing\"\n\nfunc TestTagged(t *testing.T) {}\n",
	})
	tests := []struct {
		name    string
		args    []string
		goErr   bool   // go test refuses the command line, and so must covdist
		wantErr string // covdist refuses a line go accepts, with this message
		// unrecorded are build flags go test takes but does not stamp
		// into the binary: covdist must pass them on as they are.
		unrecorded []string
	}{
		{name: "issue", args: []string{"-count=1", "-failfast", "-short", "-run", "TestX", "-tags", "extra", "-race"}},
		{name: "separate values", args: []string{"-run", "TestA|TestB", "-skip", "TestB", "-timeout", "90s", "-tags", "a,b"}},
		{name: "joined values", args: []string{"-run=TestA", "-skip=TestC", "-timeout=5m", "-tags=a"}},
		{name: "test binary flags", args: []string{"-cpu=2", "-parallel=3", "-shuffle=on", "-fullpath", "-short=false"}},
		{name: "shuffle seed", args: []string{"-shuffle", "42"}},
		{name: "no timeout", args: []string{"-timeout=0"}},
		{name: "count zero", args: []string{"-count=0"}},
		{name: "last tags wins", args: []string{"-tags=a", "-tags=b"}},
		{name: "old tags form", args: []string{"-tags", "a b"}},
		{name: "bool false", args: []string{"-race=false", "-failfast=false"}},
		{name: "compiler flags", args: []string{"-gcflags=-N", "-ldflags=-X=main.v=1", "-asmflags=-D=X"}},
		{name: "trimpath", args: []string{"-trimpath"}}, // go then records no -ldflags
		{name: "unrecorded build flags", args: []string{"-mod=mod", "-p=2", "-a", "-modcacherw"},
			unrecorded: []string{"-mod=mod", "-p=2", "-a", "-modcacherw"}},
		{name: "json", args: []string{"-json"}},
		{name: "coverage", args: []string{"-cover", "-covermode=count", "-coverpkg=./p", "-coverprofile=c.out"}},
		{name: "vet off", args: []string{"-vet=off"}},
		{name: "args", args: []string{"-run=TestA", "-args", "-test.short"}},

		{name: "count twice", args: []string{"-count=2"}, wantErr: "go test flag -count=2 is not supported: covdist runs and reports each test once"},
		{name: "several cpu", args: []string{"-cpu=1,2"}, wantErr: "go test flag -cpu=1,2 is not supported"},
		{name: "vet", args: []string{"-vet=all"}, wantErr: "go test flag -vet=all is not supported: covdist does not run go vet"},
		{name: "bench", args: []string{"-bench=."}, wantErr: "go test flag -bench=. is not supported: covdist runs no benchmarks"},
		{name: "fuzz", args: []string{"-fuzz", "FuzzX"}, wantErr: "go test flag -fuzz is not supported"},
		{name: "output", args: []string{"-o", "x.test"}, wantErr: "go test flag -o is not supported"},
		{name: "exec", args: []string{"-exec=echo"}, wantErr: "go test flag -exec=echo is not supported: give the wrapper per worker: --tx 'popen//exec=PROG'"},
		{name: "profile", args: []string{"-cpuprofile=cpu.out"}, wantErr: "go test flag -cpuprofile=cpu.out is not supported"},
		{name: "list", args: []string{"-list=."}, wantErr: "go test flag -list=. is not supported"},
		{name: "race after dash", args: []string{"-args", "-race"}, wantErr: "-race after -- is go test's flag"},

		{name: "bad count", args: []string{"-count=x"}, goErr: true},
		{name: "bad shuffle", args: []string{"-shuffle=bogus"}, goErr: true},
		{name: "bad timeout", args: []string{"-timeout=soon"}, goErr: true},
		{name: "race counts atomically", args: []string{"-race", "-covermode=count"}, goErr: true},
		{name: "no value", args: []string{"-tags"}, goErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The package first, so that -args ends the line as it would.
			cmd := exec.Command("go", append([]string{"test", "-n", "./p"}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=")
			out, goErr := cmd.CombinedOutput()

			o, err := parseArgs(append([]string{"./p"}, tc.args...))
			if err == nil {
				err = o.validate()
			}
			if tc.goErr {
				if goErr == nil {
					t.Fatalf("go test -n %s: accepted; the case wants a line go refuses", strings.Join(tc.args, " "))
				}
				if err == nil {
					t.Fatalf("covdist %s: accepted; go test refuses it:\n%s", strings.Join(tc.args, " "), out)
				}
				return
			}
			if goErr != nil {
				t.Fatalf("go test -n %s: %v\n%s", strings.Join(tc.args, " "), goErr, out)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("covdist %s: got error %v; want %q", strings.Join(tc.args, " "), err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q is more than one line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("covdist %s: %v", strings.Join(tc.args, " "), err)
			}
			wantTest, wantBuild := goTestSaw(t, string(out))
			gotTest, gotBuild := covdistAsGo(o)
			if !slices.Equal(gotTest, wantTest) {
				t.Errorf("test binary flags: got %q; want go test's %q", gotTest, wantTest)
			}
			if !slices.Equal(gotBuild, wantBuild) {
				t.Errorf("build settings: got %q; want go test's %q", gotBuild, wantBuild)
			}
			for _, f := range tc.unrecorded {
				if !slices.Contains(o.gof.build, f) {
					t.Errorf("build flags %q: want %s among them", o.gof.build, f)
				}
			}
			if !slices.Equal(o.packages, []string{"./p"}) {
				t.Errorf("packages: got %q; want [./p]", o.packages)
			}
		})
	}
}

// goTestSaw reads go test -n's output: the flags of the test binary's
// command line, and the build settings of its modinfo, each sorted, less
// what covdist sets itself (the log file, paniconexit0, the coverage
// directory), -test.count=1 (what covdist always does), flags set to
// false (each one's default) and the build
// settings of every go test -c covdist runs (buildmode, compiler, cover).
func goTestSaw(t *testing.T, out string) (test, build []string) {
	line := regexp.MustCompile(`p\.test((?: -test\.[^ \n"\\]+)+)`).FindStringSubmatch(out)
	if line == nil {
		t.Fatalf("no test binary command line in go test -n's output:\n%s", out)
	}
	for _, f := range strings.Fields(line[1]) {
		name, _, _ := strings.Cut(f, "=")
		switch {
		case name == "-test.testlogfile" || name == "-test.paniconexit0" || name == "-test.gocoverdir" || f == "-test.count=1":
			continue
		case strings.HasSuffix(f, "=false"):
			continue // each testing flag's default
		case name == "-test.coverprofile":
			f = name // go's is in its work directory
		}
		test = append(test, f)
	}
	for _, m := range regexp.MustCompile(`build\\+t(-[a-z]+=[^\\]*)\\+n`).FindAllStringSubmatch(out, -1) {
		switch m[1] {
		case "-buildmode=exe", "-compiler=gc", "-cover=true":
			continue
		}
		build = append(build, m[1])
	}
	slices.Sort(test)
	slices.Sort(build)
	return test, build
}

// covdistAsGo states what covdist makes of its command line in go test
// -n's terms.
func covdistAsGo(o *options) (test, build []string) {
	for _, a := range o.testArgs {
		if !strings.HasSuffix(a, "=false") {
			test = append(test, a)
		}
	}
	if o.runRe != nil {
		test = append(test, "-test.run="+o.runRe.String())
	}
	if o.skipRe != nil {
		test = append(test, "-test.skip="+o.skipRe.String())
	}
	if o.exitFirst {
		test = append(test, "-test.failfast=true")
	}
	if o.jsonOut == "-" {
		test = append(test, "-test.v=test2json")
	}
	if o.gof.coverOut != "" {
		test = append(test, "-test.coverprofile")
	}
	timeout := o.timeout
	if timeout == 0 && !o.gof.noTimeout {
		timeout = 10 * time.Minute // covdist's default, per test, as go test's per binary
	}
	test = append(test, "-test.timeout="+timeout.String())

	// The settings go stamps into a binary, of the flags covdist passes on.
	recorded := map[string]bool{"-race": true, "-msan": true, "-asan": true, "-trimpath": true,
		"-gcflags": true, "-ldflags": true, "-asmflags": true, "-gccgoflags": true}
	if len(o.gof.tags) > 0 {
		build = append(build, "-tags="+strings.Join(o.gof.tags, ","))
	}
	for _, f := range o.gof.build {
		name, value, ok := strings.Cut(f, "=")
		if !recorded[name] {
			continue
		}
		if !ok {
			value = "true"
		}
		if value != "false" {
			build = append(build, name+"="+value)
		}
	}
	slices.Sort(test)
	slices.Sort(build)
	return test, build
}

// TestGoTestFlagsLeaveCovdistFlags checks that covdist's own shorthands and
// the values of its flags are not taken for go test's flags.
func TestGoTestFlagsLeaveCovdistFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(*options) bool
	}{
		{"-n -x -v -c", []string{"-n", "2", "-x", "-v", "-c", "my.toml", "./..."}, func(o *options) bool {
			return o.numProcesses == "2" && o.exitFirst && o.verbose && o.config == "my.toml" && len(o.gof.build) == 0
		}},
		{"-n2 clustered", []string{"-xvn2"}, func(o *options) bool { return o.numProcesses == "2" && o.exitFirst && o.verbose }},
		{"a covdist flag's value", []string{"--config", "-race", "./..."}, func(o *options) bool {
			return o.config == "-race" && !o.gof.race
		}},
		{"a test binary's flag", []string{"./...", "--", "-short", "-count=1", "-update"}, func(o *options) bool {
			return slices.Equal(o.testArgs, []string{"-test.short", "-test.count=1", "-update"})
		}},
		{"before and after --", []string{"-short", "./...", "--", "-cpu=4"}, func(o *options) bool {
			return slices.Equal(o.testArgs, []string{"-test.short=true", "-test.cpu=4"})
		}},
		{"go test's -timeout beside covdist's", []string{"-timeout=1m", "--timeout=2m"}, func(o *options) bool {
			return o.timeout == 2*time.Minute
		}},
		{"a test's own flag named like go's", []string{"./...", "--", "--race"}, func(o *options) bool {
			return slices.Equal(o.testArgs, []string{"--race"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseArgs(tc.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			if !tc.check(o) {
				t.Errorf("parseArgs(%q): got %+v", tc.args, *o)
			}
		})
	}
}
