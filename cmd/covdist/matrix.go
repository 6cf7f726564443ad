package main

// The platform matrix of --dist=each: --tx specs grouped into platforms, each
// platform probed, named and built once, and a platform that cannot build
// reported with its tests as not run while the others go on.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/covdist/covdist/distribute"
	"github.com/covdist/covdist/distribute/xspec"
	"github.com/covdist/covdist/platforms"
)

// targetOf is the platform a spec asks for. exec= is split on spaces, as
// go test -exec splits its wrapper.
func targetOf(s xspec.Spec) platforms.Target {
	return platforms.Target{
		GOOS: s.GOOS, GOARCH: s.GOARCH, Go: s.Go,
		Tags: slices.Clone(s.Tags), Env: slices.Clone(s.Env), Exec: strings.Fields(s.Exec),
	}
}

// hostGOOS and hostGOARCH are what an empty goos= or goarch= means.
func hostGOOS() string {
	if v := os.Getenv("GOOS"); v != "" {
		return v
	}
	return runtime.GOOS
}

func hostGOARCH() string {
	if v := os.Getenv("GOARCH"); v != "" {
		return v
	}
	return runtime.GOARCH
}

// targetKey identifies a platform before anything is probed: popen and
// popen//goarch=amd64 are one platform on an amd64 machine, and tags and
// env count whatever their order.
func targetKey(t platforms.Target) string {
	goos, goarch := t.GOOS, t.GOARCH
	if goos == "" {
		goos = hostGOOS()
	}
	if goarch == "" {
		goarch = hostGOARCH()
	}
	tags, env := slices.Clone(t.Tags), slices.Clone(t.Env)
	sort.Strings(tags)
	sort.Strings(env)
	return strings.Join([]string{goos, goarch, t.Go, strings.Join(tags, ","), strings.Join(env, "\x00"), strings.Join(t.Exec, " ")}, "\x01")
}

// groupSpecs puts specs of one platform in one group, in the order each
// platform was first named.
func groupSpecs(specs []xspec.Spec, byLocation bool) []*group {
	var groups []*group
	byKey := make(map[string]*group)
	for _, s := range specs {
		t := targetOf(s)
		k := targetKey(t)
		where := ""
		if byLocation {
			// In each mode every host is a platform of its own: the
			// point is to learn what each one covers.
			where = location(s)
			k += "\x02" + where
		}
		g := byKey[k]
		if g == nil {
			g = &group{target: t, where: where}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.specs = append(g.specs, s)
	}
	return groups
}

// checkMode refuses a matrix that the mode would not run on every platform.
// Before the platforms are probed, groups that only go= tells apart may yet
// be one platform (go=go1.24 and go=go1.24.13, or a go binary's path): they
// are let through, to be merged or refused once probed.
func checkMode(mode distribute.Mode, groups []*group, probed bool) error {
	if len(groups) < 2 || mode == distribute.Each {
		return nil
	}
	if !probed {
		differ := false
		for _, g := range groups[1:] {
			if !maySharePlatform(groups[0].target, g.target) {
				differ = true
			}
		}
		if !differ {
			return nil
		}
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.name())
	}
	what := "sends each test to one worker"
	if mode == distribute.No {
		what = "runs every test once on one worker"
	}
	return fmt.Errorf("--dist=%s %s, but the --tx specs name %d platforms (%s): use --dist=each to run every test on every platform",
		mode, what, len(groups), strings.Join(names, "; "))
}

// maySharePlatform tells whether two targets may turn out one platform once
// their toolchains are resolved: all else equal, and go= values that are
// not two different releases.
func maySharePlatform(a, b platforms.Target) bool {
	ag, bg := a, b
	ag.Go, bg.Go = "", ""
	if targetKey(ag) != targetKey(bg) {
		return false
	}
	release := regexp.MustCompile(`^go1\.\d+\.\d+$`)
	if release.MatchString(a.Go) && release.MatchString(b.Go) {
		return a.Go == b.Go
	}
	return true
}

// probeGroups probes each group's platform, side by side (a toolchain may
// be downloading), names the platforms so that no two share a name (the
// name keys their results and titles their coverage column), and merges
// groups that turn out to be one platform. A platform that cannot even be
// probed (its toolchain will not download) keeps a Built made from its
// target, and its error.
func probeGroups(ctx context.Context, moduleDir string, groups []*group) ([]*group, []*platforms.Built, []error) {
	built := make([]*platforms.Built, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			built[i], errs[i] = platforms.Probe(ctx, platforms.Options{ModuleDir: moduleDir}, g.target)
		}()
	}
	wg.Wait()
	// The toolchain go resolves to unasked: a go= naming that same release
	// makes no platform of its own, and is not named.
	defaultVersion := ""
	for i, g := range groups {
		if errs[i] == nil && g.target.Go == "" {
			defaultVersion = built[i].GoVersion
			break
		}
	}
	names := make([]string, len(groups))
	idents := make([]string, len(groups))
	for i, g := range groups {
		if errs[i] != nil {
			t := g.target
			name := defaultStr(t.GOOS, hostGOOS()) + "/" + defaultStr(t.GOARCH, hostGOARCH())
			built[i] = &platforms.Built{Target: t, Name: name, Header: "platform " + qualifiedName(name, "", t) + ": did not build"}
		}
		version := built[i].GoVersion
		t := g.target
		if version != "" && version == defaultVersion {
			t.Go = ""
		}
		names[i] = qualifiedName(built[i].Name, version, t)
		if g.where != "" {
			names[i] += " " + g.where
			built[i].Header += " on " + g.where
		}
		t.Go = version
		idents[i] = targetKey(t) + "\x02" + g.where
	}
	// Two platforms that differ only in their wrapper are told apart by it.
	plain := slices.Clone(names)
	for i := range names {
		for j := range plain {
			if i != j && plain[i] == plain[j] && idents[i] != idents[j] && len(groups[i].target.Exec) > 0 {
				names[i] += " exec=" + strings.Join(groups[i].target.Exec, " ")
				break
			}
		}
	}
	var outG []*group
	var outB []*platforms.Built
	var outE []error
	seen := make(map[string]int)
	byIdent := make(map[string]int)
	for i, g := range groups {
		if j, ok := byIdent[idents[i]]; ok && errs[i] == nil && outE[j] == nil {
			// The same platform spelled two ways (go=go1.24 and go=go1.24.13,
			// or go= naming the default release): one build, all the workers.
			outG[j].specs = append(outG[j].specs, g.specs...)
			continue
		}
		if _, taken := seen[names[i]]; taken {
			// Told apart by nothing a spec sets, yet not merged (one of them
			// did not probe): numbered.
			base := names[i]
			for n := 2; ; n++ {
				if _, taken := seen[fmt.Sprintf("%s #%d", base, n)]; !taken {
					names[i] = fmt.Sprintf("%s #%d", base, n)
					break
				}
			}
		}
		seen[names[i]] = len(outG)
		if errs[i] == nil {
			byIdent[idents[i]] = len(outG)
		}
		g.label = names[i]
		built[i].Name = names[i]
		outG, outB, outE = append(outG, g), append(outB, built[i]), append(outE, errs[i])
	}
	return outG, outB, outE
}

func defaultStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// qualifiedName is a platform's name in reports: GOOS/GOARCH, plus the
// toolchain, tags and environment where the spec chose them.
func qualifiedName(osArch, goVersion string, t platforms.Target) string {
	n := osArch
	if t.Go != "" {
		n += " " + defaultStr(goVersion, t.Go)
	}
	if len(t.Tags) > 0 {
		n += " tags=" + strings.Join(t.Tags, ",")
	}
	for _, e := range t.Env {
		n += " env:" + e
	}
	return n
}

// arrivals records which packages reached the run on each platform.
type arrivals struct {
	mu   sync.Mutex
	pkgs map[int]map[string]bool
}

func (a *arrivals) add(platform int, pkg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pkgs == nil {
		a.pkgs = make(map[int]map[string]bool)
	}
	if a.pkgs[platform] == nil {
		a.pkgs[platform] = make(map[string]bool)
	}
	a.pkgs[platform][pkg] = true
}

// count returns how many packages reached the run on a platform.
func (a *arrivals) count(platform int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pkgs[platform])
}

// total returns how many packages reached the run on every platform.
func (a *arrivals) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, pkgs := range a.pkgs {
		n += len(pkgs)
	}
	return n
}

// notBuiltHeader is the header line of a platform that built nothing.
func notBuiltHeader(b *platforms.Built, err error) string {
	h := b.Header
	if !strings.HasSuffix(h, ": did not build") {
		h += ": did not build"
	}
	return h + " (" + stepOf(err) + ")"
}

func (a *arrivals) has(platform int, pkg string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pkgs[platform][pkg]
}

// notBuilt hands the run, once every build is over, the tests that each
// platform which failed to build never got to run, to be reported as not
// run. A binary that was never built cannot list its tests, so their names
// come from the platforms that did build the same package (the union of
// their lists: build tags may differ).
func notBuilt(ctx context.Context, feed chan<- distribute.Arrival, built []*platforms.Built, errs []error, arrived *arrivals, keep func(pkg, test string) bool) {
	for i, err := range errs {
		if err == nil {
			continue
		}
		reason := fmt.Sprintf("%s did not build: %s", built[i].Name, stepOf(err))
		tests := make(map[string]map[string]bool)
		var pkgs []string
		// Its own packages list their tests from their source; those of a
		// platform that did not get as far as listing its packages come
		// from the platforms that built them.
		for _, p := range built[i].Packages {
			if arrived.has(i, p.ImportPath) {
				continue
			}
			names, err := p.SourceTests()
			if err != nil || len(names) == 0 {
				continue
			}
			tests[p.ImportPath] = make(map[string]bool)
			pkgs = append(pkgs, p.ImportPath)
			for _, t := range names {
				if keep(p.ImportPath, t) { // as -run, -skip and -f select
					tests[p.ImportPath][t] = true
				}
			}
		}
		for j, b := range built {
			if j == i || len(built[i].Packages) > 0 {
				continue
			}
			for _, p := range b.Packages {
				if !arrived.has(j, p.ImportPath) || arrived.has(i, p.ImportPath) {
					continue
				}
				if tests[p.ImportPath] == nil {
					tests[p.ImportPath] = make(map[string]bool)
					pkgs = append(pkgs, p.ImportPath)
				}
				for _, t := range p.Tests {
					tests[p.ImportPath][t] = true
				}
			}
		}
		sort.Strings(pkgs)
		for _, pkg := range pkgs {
			var names []string
			for t := range tests[pkg] {
				names = append(names, t)
			}
			sort.Strings(names)
			select {
			case feed <- distribute.Arrival{Platform: built[i].Name, Package: pkg, Tests: names, NotRun: reason}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// stepOf says which step of a build failed, in a few words.
func stepOf(err error) string {
	var be *platforms.Error
	if errors.As(err, &be) {
		return be.Step + " failed"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
