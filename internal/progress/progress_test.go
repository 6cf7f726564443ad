package progress

import (
	"sync"
	"testing"
	"time"
)

func TestCountEstimateThenExact(t *testing.T) {
	var c Count
	c.Estimate("linux/amd64", "a", 4)
	c.Estimate("linux/amd64", "b", 3)
	c.Estimate("linux/386", "a", 4)
	if got := c.Total(); got != 11 {
		t.Fatalf("total from estimates: got %d; want 11", got)
	}
	c.Exact("linux/amd64", "a", 5) // a test the source parser did not see
	if got := c.Total(); got != 12 {
		t.Errorf("after one exact list: got %d; want 12", got)
	}
	c.Estimate("linux/amd64", "a", 1) // late estimate: the exact count stands
	c.Exact("linux/amd64", "c", 2)    // never estimated
	c.Exact("linux/amd64", "c", 2)    // said twice: counted once
	if got := c.Total(); got != 14 {
		t.Errorf("after a late estimate and a repeated exact list: got %d; want 14", got)
	}
}

func TestCountConcurrent(t *testing.T) {
	var c Count
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkg := string(rune('A' + i%26))
			c.Estimate(pkg, "p", 2)
			c.Exact(pkg, "p", 3)
		}()
	}
	wg.Wait()
	if got := c.Total(); got != 26*3 {
		t.Errorf("got %d; want %d", got, 26*3)
	}
}

func TestRunningSlow(t *testing.T) {
	var r Running
	now := time.Unix(100, 0)
	r.Start("p.TestQuick", "TestQuick", now.Add(-time.Second))
	r.Start("p.TestLong", "TestLong", now.Add(-30*time.Second))
	r.Start("p.TestSlow", "TestSlow", now.Add(-6*time.Second))
	r.Start("p.TestMid", "TestMid", now.Add(-10*time.Second))
	if got, want := r.Slow(now, 5*time.Second, 2), "TestLong 30s, TestMid 10s (+1 more)"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	r.Stop("p.TestLong")
	r.Stop("p.TestMid")
	r.Stop("p.TestSlow")
	if got := r.Slow(now, 5*time.Second, 2); got != "" {
		t.Errorf("only a quick test runs: got %q; want nothing", got)
	}
}
