package distribute

import (
	"sort"
)

// Scheduling.
//
// Each platform has one pool of pending work, owned by the coordinator's loop
// goroutine. A worker that becomes idle takes its next unit from its
// platform's pool, so idle workers always take the work that busy ones have
// not started: the pool is the shared deque that work stealing would
// otherwise need, with none of the cancellation races of taking back a unit
// already sent to an agent.
//
// A unit is one test process. Starting one costs 20-30 ms with coverage on,
// so small tests are batched; a batch's size follows guided self-scheduling:
// about remaining/(3*workers) of estimated work, never below minBatch, so
// early units are large (start-up cost vanishes) and the last ones small (the
// run ends evenly). Tests go longest first (by durations remembered from
// earlier runs), the classic LPT rule that keeps the makespan near
// max(longest test, total/workers). A test never timed is guessed to take
// as long as its package's tests that have finished in this run: a cold
// run learns within its first units that a package's tests take seconds,
// not defaultEstimate, and stops batching them.

const (
	// defaultEstimate is the seconds assumed for a test never seen before.
	defaultEstimate = 0.05
	// minBatchStarts is how many process start-ups a batch's estimated work must outweigh.
	minBatchStarts = 4
	// bigPackageStarts is how many process start-ups' worth of work makes a
	// package worth splitting while others are still being built.
	bigPackageStarts = 30
	// maxRegexp bounds the -test.run pattern of one unit, well inside Linux's
	// 128 KiB limit on one argument.
	maxRegexp = 60 << 10
)

type item struct {
	name  string
	est   float64
	guess bool // never timed before: est is a guess, revised as the package's tests finish
}

type pkgQueue struct {
	pkg   string
	tests []item // pending, longest first
	cover []string
	piece float64 // the size of the pieces it is being cut into while packages arrive
	// unknownPiece is how many tests go in each of those pieces when none
	// of its tests was ever timed.
	unknownPiece int
	// The durations of its tests that finished in this run, for tests
	// never timed before: a package's tests tend to be alike, so the first
	// to finish tell the size of the rest far better than defaultEstimate.
	seenSum float64
	seenN   int
}

func (q *pkgQueue) total() float64 {
	var s float64
	for _, t := range q.tests {
		s += t.est
	}
	return s
}

// pool is one platform's pending work.
type pool struct {
	mode  Mode
	boxed bool
	// arriving says packages are still being built: the pool does not yet
	// hold the run's remaining work.
	arriving bool
	pkgs     map[string]*pkgQueue
	isolate  []Test // suspects of a crash, each to run alone
	overhead float64
}

func newPool(mode Mode, overhead float64) *pool {
	return &pool{mode: mode, pkgs: make(map[string]*pkgQueue), overhead: overhead}
}

func (p *pool) queue(pkg string) *pkgQueue {
	q := p.pkgs[pkg]
	if q == nil {
		q = &pkgQueue{pkg: pkg}
		p.pkgs[pkg] = q
	}
	return q
}

// add queues a test to run and report, expected to take est seconds.
func (p *pool) add(pkg, name string, est float64) {
	q := p.queue(pkg)
	q.tests = append(q.tests, item{name: name, est: est})
	q.sort()
}

// addGuess queues a test never timed before: it is expected to take as
// long as the package's tests that finished in this run, on average, or
// defaultEstimate before any has.
func (p *pool) addGuess(pkg, name string) {
	q := p.queue(pkg)
	q.tests = append(q.tests, item{name: name, est: q.guess(), guess: true})
	q.sort()
}

func (q *pkgQueue) guess() float64 {
	if q.seenN == 0 {
		return defaultEstimate
	}
	return q.seenSum / float64(q.seenN)
}

// unknown says that none of q's pending tests was ever timed and none of
// the package's tests has finished in this run.
func (q *pkgQueue) unknown() bool {
	if q.seenN > 0 {
		return false
	}
	for _, t := range q.tests {
		if !t.guess {
			return false
		}
	}
	return len(q.tests) > 0
}

func (q *pkgQueue) sort() {
	sort.SliceStable(q.tests, func(i, j int) bool { return q.tests[i].est > q.tests[j].est })
}

// observe records that a test of pkg took secs, and revises the guesses
// for the package's pending tests that were never timed.
func (p *pool) observe(pkg string, secs float64) {
	q := p.queue(pkg)
	q.seenSum += secs
	q.seenN++
	revised := false
	for i := range q.tests {
		if q.tests[i].guess {
			q.tests[i].est = q.guess()
			revised = true
		}
	}
	if revised {
		q.sort()
	}
}

// addCover queues a test to run again only for its coverage.
func (p *pool) addCover(pkg, name string) {
	q := p.queue(pkg)
	q.cover = append(q.cover, name)
}

// addIsolated queues a test to run alone in its own process.
func (p *pool) addIsolated(pkg, name string) {
	p.isolate = append(p.isolate, Test{pkg, name})
}

// empty reports whether nothing is pending.
func (p *pool) empty() bool {
	if len(p.isolate) > 0 {
		return false
	}
	for _, q := range p.pkgs {
		if len(q.tests) > 0 || len(q.cover) > 0 {
			return false
		}
	}
	return true
}

// drain removes and returns every pending test that is still to be reported.
func (p *pool) drain() []Test {
	var out []Test
	out = append(out, p.isolate...)
	p.isolate = nil
	for _, q := range p.sorted() {
		for _, t := range q.tests {
			out = append(out, Test{q.pkg, t.name})
		}
		q.tests, q.cover = nil, nil
	}
	return out
}

// drainPackage removes everything pending of pkg and returns the tests
// still to be reported; its coverage-only reruns are dropped.
func (p *pool) drainPackage(pkg string) []string {
	var out []string
	keep := p.isolate[:0]
	for _, t := range p.isolate {
		if t.Package == pkg {
			out = append(out, t.Name)
		} else {
			keep = append(keep, t)
		}
	}
	p.isolate = keep
	if q := p.pkgs[pkg]; q != nil {
		for _, t := range q.tests {
			out = append(out, t.name)
		}
		q.tests, q.cover = nil, nil
	}
	return out
}

func (p *pool) sorted() []*pkgQueue {
	qs := make([]*pkgQueue, 0, len(p.pkgs))
	for _, q := range p.pkgs {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].pkg < qs[j].pkg })
	return qs
}

// batch is a unit before it gets an id.
type batch struct {
	pkg       string
	tests     []string
	coverOnly map[string]bool
	isolated  bool
}

// next cuts the next unit for a worker of this platform, or returns nil.
// live is the number of workers currently serving the platform.
func (p *pool) next(live int) *batch {
	if len(p.isolate) > 0 {
		t := p.isolate[0]
		p.isolate = p.isolate[1:]
		return &batch{pkg: t.Package, tests: []string{t.Name}, isolated: true}
	}
	var best *pkgQueue
	var bestKey float64
	for _, q := range p.sorted() {
		if len(q.tests) == 0 && len(q.cover) == 0 {
			continue
		}
		var k float64
		switch {
		case len(q.tests) == 0:
			k = -1 // coverage-only reruns after everything that reports
		case p.mode == Load || p.mode == Each:
			k = q.tests[0].est // longest test first
		default:
			k = q.total() // longest package first
		}
		if best == nil || k > bestKey {
			best, bestKey = q, k
		}
	}
	if best == nil {
		return nil
	}
	b := &batch{pkg: best.pkg}
	take := len(best.tests)
	if take == 0 {
		// Only coverage-only reruns are left in this package.
	} else if p.boxed {
		take = 1
	} else if p.mode == Load || p.mode == Each {
		take = p.batchSize(best, live)
	}
	size := 0
	for i := 0; i < take; i++ {
		size += len(best.tests[i].name) + 1
		if i > 0 && size > maxRegexp {
			take = i
			break
		}
		b.tests = append(b.tests, best.tests[i].name)
	}
	best.tests = best.tests[take:]
	// Coverage-only reruns run by themselves once the package's other
	// tests have gone out: their tests are known not to crash, while an
	// untried test beside them might, and would take their coverage along.
	if len(b.tests) == 0 && len(best.cover) > 0 {
		b.coverOnly = make(map[string]bool)
		for _, name := range best.cover {
			size += len(name) + 1
			if size > maxRegexp && len(b.tests) > 0 {
				break
			}
			b.tests = append(b.tests, name)
			b.coverOnly[name] = true
		}
		best.cover = best.cover[len(b.coverOnly):]
	}
	return b
}

// batchSize says how many of q's longest tests the next unit takes.
//
// While packages still arrive from the build, the pool does not know the
// run's remaining work, and more is coming to keep the other workers busy:
// a package then goes whole, unless it is big on its own (bigPackageStarts
// process start-ups' worth), when it is cut into one piece per worker.
// Once everything has arrived, guided self-scheduling evens out the end.
func (p *pool) batchSize(q *pkgQueue, live int) int {
	if live < 1 {
		live = 1
	}
	min := minBatchStarts * p.overhead
	var target float64
	if p.arriving {
		if q.unknown() {
			// Nothing is known of its tests (a first run, a CI runner with
			// no durations): they may take seconds each, and the package
			// whole on one worker would leave the others idle. Spread over
			// the workers, it costs a process start-up or so per worker;
			// the first to finish tell the size of the rest.
			if q.unknownPiece == 0 {
				q.unknownPiece = (len(q.tests) + live - 1) / live
			}
			if q.unknownPiece < len(q.tests) {
				return q.unknownPiece
			}
			return len(q.tests)
		}
		if q.piece == 0 {
			total := q.total()
			if total < bigPackageStarts*p.overhead {
				return len(q.tests)
			}
			q.piece = total / float64(live)
		}
		target = q.piece
	} else {
		var remaining float64
		for _, qq := range p.pkgs {
			remaining += qq.total()
		}
		target = remaining / float64(3*live)
	}
	if target < min {
		target = min
	}
	n, sum := 1, q.tests[0].est
	for n < len(q.tests) && sum+q.tests[n].est <= target {
		sum += q.tests[n].est
		n++
	}
	return n
}
