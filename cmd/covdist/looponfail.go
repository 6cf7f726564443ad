package main

// -f/--looponfail, as pytest-xdist has it: run the suite; while tests fail,
// wait for a change in the module and run just those again; once they pass,
// run everything again; and so on until Ctrl-C.

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// testSet holds top-level tests by package import path.
type testSet map[string]map[string]bool

func (s testSet) add(pkg, test string) {
	if s[pkg] == nil {
		s[pkg] = make(map[string]bool)
	}
	s[pkg][test] = true
}

func (s testSet) size() int {
	n := 0
	for _, ts := range s {
		n += len(ts)
	}
	return n
}

// packages lists the set's packages, sorted.
func (s testSet) packages() []string {
	var ps []string
	for p := range s {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// filter keeps the tests of pkg that are in the set.
func (s testSet) filter(pkg string, tests []string) []string {
	return slices.DeleteFunc(slices.Clone(tests), func(t string) bool { return !s[pkg][t] })
}

// loopOnFail runs until interrupted and returns the last run's exit code.
func loopOnFail(ctx context.Context, o *options, moduleDir string, stdout, stderr io.Writer) int {
	var only testSet
	code := exitOK
	for {
		var failing testSet
		code, failing = runOnce(ctx, o, moduleDir, only, stdout, stderr)
		if ctx.Err() != nil {
			return code
		}
		switch {
		case code == exitUsage || code == exitNoWorker:
			// Nothing ran (a build error, no worker): the same set again
			// once something changes.
			fmt.Fprintf(stderr, "covdist -f: waiting for a change to try again (Ctrl-C ends)\n")
		case failing.size() > 0:
			only = failing
			fmt.Fprintf(stderr, "covdist -f: %d not passed (%s); waiting for a change to run them again (Ctrl-C ends)\n",
				failing.size(), strings.Join(failing.packages(), ", "))
		case only != nil:
			// The failing set passes now: everything again, at once.
			fmt.Fprintf(stderr, "covdist -f: they pass now; running every test\n")
			only = nil
			continue
		default:
			fmt.Fprintf(stderr, "covdist -f: all passed; waiting for a change to run every test again (Ctrl-C ends)\n")
		}
		changed, err := waitForChange(ctx, moduleDir)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(stderr, "covdist -f: watching %s: %v\n", moduleDir, err)
			}
			return code
		}
		fmt.Fprintf(stderr, "covdist -f: %s changed\n", changed)
	}
}

// watched tells whether a change to path (module-relative) can change what
// tests do: Go sources, go.mod and go.sum, and anything under testdata.
// covdist's own reports (out:, --json, --junitxml files) are none of these.
func watched(rel string) bool {
	if strings.HasSuffix(rel, ".go") || rel == "go.mod" || rel == "go.sum" {
		return true
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "testdata" {
			return true
		}
	}
	return false
}

// skipDir tells whether the watch leaves a directory out: hidden ones
// (.git) and those go ignores (_foo), as go's ./... does.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// waitForChange blocks until a watched file under dir changes, and returns
// its path relative to dir. Changes in quick succession (an editor saving,
// a git checkout) count as one: it returns once they have been quiet for a
// moment.
func waitForChange(ctx context.Context, dir string) (string, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return "", err
	}
	defer w.Close()
	add := func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // gone meanwhile, or unreadable: not ours to watch
			}
			if !d.IsDir() {
				return nil
			}
			if p != dir && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if p != dir {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return w.Add(p)
		})
	}
	if err := add(dir); err != nil {
		return "", err
	}
	const quiet = 300 * time.Millisecond
	var first string
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case err := <-w.Errors:
			return "", err
		case <-settle:
			return first, nil
		case ev := <-w.Events:
			rel, err := filepath.Rel(dir, ev.Name)
			if err != nil {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() && !skipDir(fi.Name()) {
					_ = add(ev.Name) // a new package directory
				}
			}
			if ev.Op == fsnotify.Chmod || !watched(rel) {
				continue
			}
			if first == "" {
				first = rel
			}
			settle = time.After(quiet)
		}
	}
}
