// Package progress keeps what a run's status line says: how many tests the
// run will report in all, known before the test binaries are, and which
// tests have been running long enough that a user waiting on them should
// see their names.
//
// The total is counted from the start. When a package's test binary is
// listed its tests are known exactly; until then the package counts with
// the tests its source declares, so "[7/40]" does not become "[7/7] 100%"
// while packages still build.
package progress

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Count is the number of tests a run will report, per platform and package:
// the estimate from source until the package's exact list is known.
// Its methods may be called from any goroutine.
type Count struct {
	mu       sync.Mutex
	estimate map[key]int
	exact    map[key]int
	total    int
}

type key struct{ platform, pkg string }

// Estimate counts n tests for pkg on platform until Exact is called for it.
// It is ignored once the exact count is known.
func (c *Count) Estimate(platform, pkg string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{platform, pkg}
	if c.estimate == nil {
		c.estimate, c.exact = make(map[key]int), make(map[key]int)
	}
	if _, ok := c.exact[k]; ok {
		return
	}
	c.total += n - c.estimate[k]
	c.estimate[k] = n
}

// Exact counts n tests for pkg on platform, in place of its estimate.
func (c *Count) Exact(platform, pkg string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{platform, pkg}
	if c.estimate == nil {
		c.estimate, c.exact = make(map[key]int), make(map[key]int)
	}
	c.total += n - c.estimate[k] - c.exact[k]
	delete(c.estimate, k)
	c.exact[k] = n
}

// Total is the number of tests the run will report, as far as is known.
func (c *Count) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Running is the set of tests running now, with when each started.
// Its methods may be called from any goroutine.
type Running struct {
	mu    sync.Mutex
	tests map[string]started // by the test's key
}

type started struct {
	name string
	at   time.Time
}

// Start records that the test of key, shown as name, started at t.
func (r *Running) Start(key, name string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tests == nil {
		r.tests = make(map[string]started)
	}
	r.tests[key] = started{name, t}
}

// Stop records that the test of key is over.
func (r *Running) Stop(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.tests, key)
}

// Slow names the tests that have run for at least after by now, longest
// running first, at most max of them, as "TestX 12s, TestY 5s (+2 more)";
// "" when there are none.
func (r *Running) Slow(now time.Time, after time.Duration, max int) string {
	r.mu.Lock()
	type slow struct {
		name string
		d    time.Duration
	}
	var list []slow
	for _, st := range r.tests {
		if d := now.Sub(st.at); d >= after {
			list = append(list, slow{st.name, d})
		}
	}
	r.mu.Unlock()
	if len(list) == 0 {
		return ""
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].d != list[j].d {
			return list[i].d > list[j].d
		}
		return list[i].name < list[j].name
	})
	var parts []string
	for _, s := range list[:min(max, len(list))] {
		parts = append(parts, fmt.Sprintf("%s %.0fs", s.name, s.d.Seconds()))
	}
	out := strings.Join(parts, ", ")
	if n := len(list) - max; n > 0 {
		out += fmt.Sprintf(" (+%d more)", n)
	}
	return out
}

// Names returns the running tests' names, sorted.
func (r *Running) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.tests))
	for _, st := range r.tests {
		names = append(names, st.name)
	}
	slices.Sort(names)
	return names
}
