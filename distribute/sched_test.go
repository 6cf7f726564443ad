package distribute

import (
	"fmt"
	"strings"
	"testing"
)

func TestBatching(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		live      int
		durations []float64 // one package's tests
		want      []int     // sizes of successive units
	}{
		// 12 tests of 0.5-2 s over 2 workers: long tests go alone, longest first.
		{"long tests alone", Load, 2, []float64{2, 1.9, 1.5, 1.4, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		// Tiny tests: batches outweigh process start-up many times over.
		{"tiny tests batched", Load, 2, repeat(1.0/1024, 200), []int{122, 78}},
		{"loadpkg keeps package", LoadPkg, 2, repeat(0.5, 10), []int{10}},
		{"no keeps package", No, 1, repeat(0.5, 10), []int{10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(tt.mode, 0.03)
			for i, d := range tt.durations {
				p.add("pkg", fmt.Sprintf("Test%03d", i), d)
			}
			var got []int
			for b := p.next(tt.live); b != nil; b = p.next(tt.live) {
				got = append(got, len(b.tests))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got unit sizes %v; want %v", got, tt.want)
			}
			if !p.empty() {
				t.Fatal("pool not empty after draining")
			}
		})
	}
}

func repeat(d float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestLongestFirstAcrossPackages(t *testing.T) {
	p := newPool(Load, 0.03)
	p.add("short", "TestS", 0.1)
	p.add("long", "TestL", 3)
	p.add("mid", "TestM", 1)
	var order []string
	for b := p.next(3); b != nil; b = p.next(3) {
		order = append(order, b.pkg)
	}
	if fmt.Sprint(order) != "[long mid short]" {
		t.Fatalf("got %v; want [long mid short]", order)
	}
}

func TestIsolatedAndCoverOnly(t *testing.T) {
	p := newPool(Load, 0.03)
	p.add("a", "TestA", 0.1)
	p.addIsolated("a", "TestSuspect")
	p.addCover("a", "TestCov")
	b := p.next(1)
	if !b.isolated || len(b.tests) != 1 || b.tests[0] != "TestSuspect" {
		t.Fatalf("got %+v; want the isolated suspect alone first", b)
	}
	b = p.next(1)
	if len(b.tests) != 1 || b.tests[0] != "TestA" || len(b.coverOnly) != 0 {
		t.Fatalf("got %+v; want TestA alone: reruns never share a process with untried tests", b)
	}
	b = p.next(1)
	if len(b.tests) != 1 || !b.coverOnly["TestCov"] {
		t.Fatalf("got %+v; want TestCov rerun by itself, for coverage only", b)
	}
	if p.next(1) != nil {
		t.Fatal("want nothing left")
	}
}

func TestDrainPackage(t *testing.T) {
	p := newPool(Load, 0.03)
	p.add("a", "TestA", 0.1)
	p.add("b", "TestB", 0.1)
	p.addIsolated("a", "TestSuspect")
	p.addIsolated("b", "TestOther")
	p.addCover("a", "TestCov")
	if got := fmt.Sprint(p.drainPackage("a")); got != "[TestSuspect TestA]" {
		t.Fatalf("got %s; want a's isolated and queued tests, not its coverage-only rerun", got)
	}
	var left []string
	for b := p.next(1); b != nil; b = p.next(1) {
		left = append(left, b.pkg+"."+strings.Join(b.tests, ","))
	}
	if got := fmt.Sprint(left); got != "[b.TestOther b.TestB]" {
		t.Fatalf("got %s left; want b's tests alone", got)
	}
}

func TestBoxed(t *testing.T) {
	p := newPool(Load, 0.03)
	p.boxed = true
	for i := 0; i < 5; i++ {
		p.add("a", fmt.Sprint("Test", i), 0.001)
	}
	n := 0
	for b := p.next(2); b != nil; b = p.next(2) {
		if len(b.tests) != 1 {
			t.Fatalf("got a unit of %d tests; want 1", len(b.tests))
		}
		n++
	}
	if n != 5 {
		t.Fatalf("got %d units; want 5", n)
	}
}

func TestRegexpCap(t *testing.T) {
	p := newPool(LoadPkg, 0.03)
	for i := 0; i < 5000; i++ {
		p.add("a", fmt.Sprintf("TestWithARatherLongName%05d", i), 0.0001)
	}
	total := 0
	for b := p.next(1); b != nil; b = p.next(1) {
		size := 0
		for _, t := range b.tests {
			size += len(t) + 1
		}
		if size > maxRegexp {
			t.Fatalf("got a unit whose names take %d bytes; want at most %d", size, maxRegexp)
		}
		total += len(b.tests)
	}
	if total != 5000 {
		t.Fatalf("got %d tests scheduled; want 5000", total)
	}
}

// While packages still arrive, a small package goes whole and a big one is
// cut into one piece per worker, not into many small units.
func TestBatchingWhileArriving(t *testing.T) {
	tests := []struct {
		name      string
		durations []float64
		want      []int
	}{
		{"small package whole", repeat(0.05, 10), []int{10}},
		{"big package one piece per worker", repeat(0.5, 8), []int{4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(Load, 0.03)
			p.arriving = true
			for i, d := range tt.durations {
				p.add("pkg", fmt.Sprintf("Test%03d", i), d)
			}
			var got []int
			for b := p.next(2); b != nil; b = p.next(2) {
				got = append(got, len(b.tests))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got unit sizes %v; want %v", got, tt.want)
			}
		})
	}
}

// A first run knows nothing of a package's tests while packages build: they
// may take seconds each, so the package goes in one piece per worker, not
// whole to one (four 1.2 s tests took 5.2 s on one worker of two, 2.8 s
// spread). A package whose tests were timed keeps the whole-package rule.
func TestUnknownPackageSpreadWhileArriving(t *testing.T) {
	for _, tt := range []struct {
		name  string
		live  int
		tests int
		timed bool
		want  []int
	}{
		{"four unknown tests over two workers", 2, 4, false, []int{2, 2}},
		{"five unknown tests over two workers", 2, 5, false, []int{3, 2}},
		{"one worker takes the package whole", 1, 4, false, []int{4}},
		{"timed small tests stay whole", 2, 4, true, []int{4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(Load, 0.03)
			p.arriving = true
			for i := range tt.tests {
				if tt.timed {
					p.add("pkg", fmt.Sprintf("Test%d", i), 0.01)
				} else {
					p.addGuess("pkg", fmt.Sprintf("Test%d", i))
				}
			}
			var got []int
			for b := p.next(tt.live); b != nil; b = p.next(tt.live) {
				got = append(got, len(b.tests))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got unit sizes %v; want %v", got, tt.want)
			}
		})
	}
}

// Tests never timed are guessed small, and batched; once one of the
// package's tests has finished, the others are guessed to take as long,
// and go alone when that is seconds. Timed tests keep their own durations.
func TestGuessesLearnFromFinishedTests(t *testing.T) {
	p := newPool(Load, 0.03)
	for i := 0; i < 12; i++ {
		p.addGuess("pkg", fmt.Sprintf("Test%02d", i))
	}
	p.add("pkg", "TestKnown", 0.01)
	first := p.next(2)
	if len(first.tests) < 2 {
		t.Fatalf("before anything finished: got a unit of %d tests; want never-timed tests batched", len(first.tests))
	}
	p.observe("pkg", 1.2)
	for b := p.next(2); b != nil; b = p.next(2) {
		if b.tests[0] == "TestKnown" {
			continue
		}
		if len(b.tests) != 1 {
			t.Fatalf("after a 1.2 s test finished: got a unit %v; want one test per unit", b.tests)
		}
	}
	q := p.queue("pkg")
	if g := q.guess(); g != 1.2 {
		t.Errorf("guess after one 1.2 s test: got %v; want 1.2", g)
	}
}
