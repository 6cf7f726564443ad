package main

// go test's own single-dash flags on covdist's command line. -race, -tags,
// -count=1, -failfast, -short, -run are what every Go user types; pflag
// would read -count=1 as -c ount=1 and -failfast as a cluster of unknown
// shorthands. So before pflag parses, every single-dash argument whose name
// is one of go test's flags is taken out and given go test's meaning:
// build flags go to every go command covdist runs to list and build,
// test flags to every test binary, and flags covdist has its own spelling
// for become that flag. Those covdist cannot honour are refused with one
// line that names the flag and what to use instead.
//
// The one-letter flags covdist defines itself keep covdist's meaning:
// -n (workers, not go's dry run), -x (--exitfirst, not go's command trace),
// -v (--verbose, which is go test -v's meaning too) and -c (--config, not
// go test -c).

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// goFate is what covdist makes of one of go test's flags.
type goFate int

const (
	goBuild   goFate = iota // passed to every go list, go build and go test -c
	goTest                  // passed to every test binary as -test.NAME
	goCovdist               // one of covdist's own flags, of the same meaning
	goNoop                  // accepted; changes nothing, as covdist already does it
	goRefused               // an error naming the flag
)

func (f goFate) String() string {
	return [...]string{"build", "test binary", "covdist flag", "no-op", "refused"}[f]
}

// goFlag is one of go test's flags.
type goFlag struct {
	fate   goFate
	isBool bool // takes no value of its own (but -name=false)
	// note is, for goCovdist, the covdist flag it becomes; for goRefused,
	// why not and what to use instead.
	note string
}

// goTestFlags are go test's flags (go help test, go help testflag, go help
// build), each with its fate. Flags with a value check, and those that are
// not one-to-one, are handled in applyGoFlag.
var goTestFlags = map[string]goFlag{
	// Build flags.
	"race":          {fate: goBuild, isBool: true}, // and atomic coverage, as go test
	"msan":          {fate: goBuild, isBool: true},
	"asan":          {fate: goBuild, isBool: true},
	"tags":          {fate: goBuild}, // merged with each --tx spec's tags=
	"gcflags":       {fate: goBuild},
	"asmflags":      {fate: goBuild},
	"ldflags":       {fate: goBuild}, // replaces covdist's -ldflags=-s -w, as a later -ldflags does
	"gccgoflags":    {fate: goBuild},
	"trimpath":      {fate: goBuild, isBool: true},
	"mod":           {fate: goBuild},
	"modfile":       {fate: goBuild},
	"modcacherw":    {fate: goBuild, isBool: true},
	"overlay":       {fate: goBuild},
	"pgo":           {fate: goBuild},
	"buildvcs":      {fate: goBuild, isBool: true}, // also =auto
	"buildmode":     {fate: goBuild},
	"compiler":      {fate: goBuild},
	"installsuffix": {fate: goBuild},
	"linkshared":    {fate: goBuild, isBool: true},
	"pkgdir":        {fate: goBuild},
	"toolexec":      {fate: goBuild},
	"a":             {fate: goBuild, isBool: true},
	"p":             {fate: goBuild},
	"cover":         {fate: goNoop, isBool: true, note: "covdist always measures coverage (--no-cov runs without)"},
	"covermode":     {fate: goCovdist, note: "--covermode"},
	"coverpkg":      {fate: goCovdist, note: "--cov, once per pattern"},
	"work":          {fate: goRefused, isBool: true, note: "covdist keeps no go work directory to show"},
	"C":             {fate: goRefused, note: "run covdist in that directory instead"},

	// Test flags.
	"short":    {fate: goTest, isBool: true},
	"run":      {fate: goTest}, // applied to the tests collected, as -- -run
	"skip":     {fate: goTest},
	"cpu":      {fate: goTest}, // one value only
	"parallel": {fate: goTest},
	"shuffle":  {fate: goTest},
	"fullpath": {fate: goTest, isBool: true},
	"count":    {fate: goNoop, note: "covdist never caches results; -count=1 is a no-op, -count=0 runs nothing, more is refused"},
	"failfast": {fate: goCovdist, isBool: true, note: "--exitfirst"},
	"timeout":  {fate: goCovdist, note: "--timeout, which limits each test rather than each test binary; 0: none"},
	"json":     {fate: goCovdist, isBool: true, note: "--json (events on stdout)"},
	"vet":      {fate: goNoop, note: "covdist does not run go vet; only -vet=off"},
	"args":     {fate: goCovdist, isBool: true, note: "--"},

	"coverprofile":         {fate: goCovdist, note: "--cov-report=out:FILE beside the term report"},
	"o":                    {fate: goRefused, note: "covdist builds its own test binaries: use go test -c -o"},
	"exec":                 {fate: goRefused, note: "give the wrapper per worker: --tx 'popen//exec=PROG'"},
	"bench":                {fate: goRefused, note: "covdist runs no benchmarks: use go test -bench"},
	"benchtime":            {fate: goRefused, note: "covdist runs no benchmarks: use go test -bench"},
	"benchmem":             {fate: goRefused, isBool: true, note: "covdist runs no benchmarks: use go test -bench"},
	"fuzz":                 {fate: goRefused, note: "covdist does not fuzz: use go test -fuzz"},
	"fuzztime":             {fate: goRefused, note: "covdist does not fuzz: use go test -fuzz"},
	"fuzzminimizetime":     {fate: goRefused, note: "covdist does not fuzz: use go test -fuzz"},
	"list":                 {fate: goRefused, note: "covdist lists no tests: use go test -list"},
	"outputdir":            {fate: goRefused, note: "covdist collects no test outputs from its workers: use go test"},
	"artifacts":            {fate: goRefused, isBool: true, note: "covdist collects no test artifacts from its workers: use go test"},
	"cpuprofile":           {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"memprofile":           {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"memprofilerate":       {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"blockprofile":         {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"blockprofilerate":     {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"mutexprofile":         {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"mutexprofilefraction": {fate: goRefused, note: "a profile of many processes would be overwritten by each: use go test"},
	"trace":                {fate: goRefused, note: "a trace of many processes would be overwritten by each: use go test (or --timeline)"},
}

// goFlags is what go test's flags asked of the build and the binaries.
type goFlags struct {
	build     []string // go build flags, as given (-race, -gcflags=...)
	tags      []string
	race      bool
	testArgs  []string // -test.NAME=VALUE, before those after --
	noTimeout bool     // -timeout=0
	coverOut  string   // -coverprofile
}

// isGoTestFlag reports whether a single-dash argument names one of go test's
// flags rather than one of covdist's shorthands.
func isGoTestFlag(fs *pflag.FlagSet, arg string) (string, goFlag, bool) {
	if len(arg) < 2 || arg[0] != '-' || arg[1] == '-' {
		return "", goFlag{}, false
	}
	name, _, _ := strings.Cut(arg[1:], "=")
	f, ok := goTestFlags[name]
	if !ok || (len(name) == 1 && fs.ShorthandLookup(name) != nil) {
		return "", goFlag{}, false
	}
	return name, f, true
}

// takeGoFlags rewrites go test's flags in args (the command line before
// "--") into covdist's, filling g with the rest of what they ask.
func takeGoFlags(fs *pflag.FlagSet, args []string, g *goFlags) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, f, ok := isGoTestFlag(fs, a)
		if !ok {
			out = append(out, a)
			// A covdist flag's separate value is not looked at: --tx -race
			// is a spec, however odd.
			if next := valueFollows(fs, a); next && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		_, value, hasValue := strings.Cut(a[1:], "=")
		if !hasValue && !f.isBool {
			if i+1 == len(args) {
				return nil, fmt.Errorf("go test flag -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if name == "args" {
			// go test -args: the rest is for the test binaries.
			return append(append(out, "--"), args[i+1:]...), nil
		}
		more, err := applyGoFlag(name, f, value, hasValue, g)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// valueFollows reports whether a covdist flag takes the next argument as
// its value.
func valueFollows(fs *pflag.FlagSet, a string) bool {
	var f *pflag.Flag
	switch {
	case strings.HasPrefix(a, "--") && len(a) > 2 && !strings.Contains(a, "="):
		f = fs.Lookup(a[2:])
	case len(a) == 2 && a[0] == '-':
		f = fs.ShorthandLookup(a[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// applyGoFlag gives one of go test's flags its meaning here. It returns the
// covdist flags it stands for.
func applyGoFlag(name string, f goFlag, value string, hasValue bool, g *goFlags) ([]string, error) {
	flag := "-" + name
	if hasValue {
		flag += "=" + value
	}
	on := true
	if f.isBool && hasValue && name != "buildvcs" {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("go test flag %s: want true or false", flag)
		}
		on = b
	}
	if f.fate == goRefused {
		if !on {
			return nil, nil
		}
		return nil, fmt.Errorf("go test flag %s is not supported: %s", flag, f.note)
	}
	switch name {
	case "tags":
		// A later -tags replaces an earlier one, as for go; go accepts the
		// old space-separated form too.
		g.tags = strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' })
		return nil, nil
	case "race":
		g.race = on
	case "count":
		n, err := strconv.Atoi(value)
		switch {
		case err != nil || n < 0:
			return nil, fmt.Errorf("go test flag %s: want a number of runs", flag)
		case n > 1:
			return nil, fmt.Errorf("go test flag %s is not supported: covdist runs and reports each test once (rerun covdist to repeat)", flag)
		case n == 0:
			// Runs no test: the binaries say so, and covdist reports
			// them skipped.
			g.testArgs = append(g.testArgs, "-test.count=0")
		}
		return nil, nil // covdist never caches: -count=1 is what it does
	case "vet":
		if value != "off" {
			return nil, fmt.Errorf("go test flag %s is not supported: covdist does not run go vet (run go vet apart; -vet=off is accepted)", flag)
		}
		return nil, nil
	case "cpu":
		if strings.Contains(value, ",") {
			return nil, fmt.Errorf("go test flag %s is not supported: covdist runs and reports each test once (give one GOMAXPROCS value)", flag)
		}
		if n, err := strconv.Atoi(value); err != nil || n < 1 {
			return nil, fmt.Errorf("go test flag %s: want a positive number", flag)
		}
	case "parallel":
		if n, err := strconv.Atoi(value); err != nil || n < 1 {
			return nil, fmt.Errorf("go test flag %s: want a positive number", flag)
		}
	case "shuffle":
		if _, err := strconv.ParseInt(value, 10, 64); err != nil && value != "on" && value != "off" {
			return nil, fmt.Errorf("go test flag %s: want on, off or a seed", flag)
		}
	case "run", "skip":
		if _, err := regexp.Compile(value); err != nil {
			return nil, fmt.Errorf("go test flag %s: %v", flag, err)
		}
	case "timeout":
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("go test flag %s: want a duration such as 5m", flag)
		}
		if d == 0 {
			g.noTimeout = true
		}
		return []string{"--timeout=" + d.String()}, nil
	case "failfast":
		return []string{"--exitfirst=" + strconv.FormatBool(on)}, nil
	case "json":
		if !on {
			return nil, nil
		}
		return []string{"--json"}, nil
	case "covermode":
		return []string{"--covermode=" + value}, nil
	case "coverpkg":
		var out []string
		for _, p := range strings.Split(value, ",") {
			out = append(out, "--cov="+p)
		}
		return out, nil
	case "coverprofile":
		g.coverOut = value
		return nil, nil
	case "cover":
		return nil, nil
	}
	switch f.fate {
	case goBuild:
		if f.isBool && !hasValue {
			g.build = append(g.build, "-"+name)
		} else {
			g.build = append(g.build, "-"+name+"="+value)
		}
	case goTest:
		g.testArgs = append(g.testArgs, "-test."+name+"="+value)
		if f.isBool && !hasValue {
			g.testArgs[len(g.testArgs)-1] = "-test." + name + "=true"
		}
	}
	return nil, nil
}

// checkAfterDash refuses, among the test binaries' flags, the go build and
// go test flags a test binary does not define: passed on, each would make
// every test fail with "flag provided but not defined".
func checkAfterDash(args []string) error {
	for _, a := range args {
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		f, ok := goTestFlags[name]
		// One-letter names are left to the tests' own flags.
		if !ok || testingFlags[name] || len(name) == 1 {
			continue
		}
		what := "put it before --"
		if f.fate == goRefused {
			what = f.note
		}
		return fmt.Errorf("%s after -- is go test's flag, which test binaries do not define: %s (a test's own flag of that name: write -%s)", a, what, a)
	}
	return nil
}

// goFlagHint adds to pflag's "unknown flag: --race" that go test's flags
// take one dash here, when the flag is one of go test's.
func goFlagHint(err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	if _, known := goTestFlags[name]; !known {
		return err
	}
	return fmt.Errorf("%w (go test's flags take one dash, as with go test: -%s)", err, name)
}
