package coverage

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestTrackerDelta(t *testing.T) {
	runs := []string{
		"mode: count\nm/a.go:1.1,2.2 1 2\nm/a.go:3.1,4.2 2 0\nm/b.go:1.1,1.9 3 0\n",
		"mode: count\nm/a.go:1.1,2.2 1 0\nm/a.go:3.1,4.2 2 5\nm/b.go:1.1,1.9 3 0\n",
		"mode: count\nm/a.go:1.1,2.2 1 1\nm/a.go:3.1,4.2 2 0\nm/b.go:1.1,1.9 3 0\nm/c.go:1.1,1.2 1 0\n",
	}
	tests := []struct {
		name      string
		run       int
		wantFiles []string
		wantBlock []int64
		wantHits  []int64
	}{
		// The first delta announces every block, zero counts included.
		{"first announces all", 0, []string{"m/a.go", "m/b.go"}, []int64{
			0, 1, 1, 2, 2, 1, 2,
			0, 3, 1, 4, 2, 2, 0,
			1, 1, 1, 1, 9, 3, 0,
		}, nil},
		// A same-shaped profile afterwards sends only the hit blocks, by
		// their place among the announced: m/a.go:3.1,4.2 was the second.
		{"second sends hits", 1, nil, nil, []int64{1, 5}},
		// A new block is announced even unhit, and is the fourth.
		{"new block announced", 2, []string{"m/c.go"}, []int64{0, 1, 1, 1, 2, 1, 0}, []int64{0, 1}},
	}
	tr := NewTracker()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tr.Delta(mustParse(t, "run", runs[tt.run]))
			if d.Mode != "count" {
				t.Errorf("got mode %q; want count", d.Mode)
			}
			if !reflect.DeepEqual(d.Files, tt.wantFiles) {
				t.Errorf("got files %v; want %v", d.Files, tt.wantFiles)
			}
			if !reflect.DeepEqual(d.Blocks, tt.wantBlock) {
				t.Errorf("got blocks %v; want %v", d.Blocks, tt.wantBlock)
			}
			if !reflect.DeepEqual(d.Hits, tt.wantHits) {
				t.Errorf("got hits %v; want %v", d.Hits, tt.wantHits)
			}
		})
	}
	t.Run("forget announces all again", func(t *testing.T) {
		tr.Forget()
		d := tr.Delta(mustParse(t, "run", runs[1]))
		if got := len(d.Blocks) / 7; got != 3 {
			t.Errorf("got %d blocks; want 3", got)
		}
	})
}

func TestAddDeltaEqualsMerge(t *testing.T) {
	runs := []string{
		"mode: count\nm/a.go:1.1,2.2 1 2\nm/a.go:3.1,4.2 2 0\nm/b.go:1.1,1.9 3 0\n",
		"mode: count\nm/a.go:1.1,2.2 1 0\nm/a.go:3.1,4.2 2 5\nm/b.go:1.1,1.9 3 0\n",
		"mode: count\nm/a.go:1.1,2.2 1 1\nm/a.go:3.1,4.2 2 0\nm/b.go:1.1,1.9 3 0\nm/c.go:1.1,1.2 1 0\n",
		"mode: count\nm/b.go:1.1,1.9 3 8\n",
	}
	tests := []struct {
		name   string
		agents [][]int // runs per agent; each agent has its own tracker
	}{
		{"one agent", [][]int{{0, 1, 2, 3}}},
		{"two agents", [][]int{{0, 2}, {1, 3}}},
		{"same run twice on two agents", [][]int{{0, 1}, {0, 1, 2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			direct, viaDelta := New(""), New("")
			for a, runIdx := range tt.agents {
				tr, s := NewTracker(), viaDelta.NewStream()
				for _, i := range runIdx {
					p := mustParse(t, "run", runs[i])
					if err := direct.Merge("run", p); err != nil {
						t.Fatal(err)
					}
					if err := s.Add(fmt.Sprintf("agent%d", a), tr.Delta(p)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !equal(viaDelta, direct) {
				t.Errorf("got\n%s; want\n%s", render(viaDelta), render(direct))
			}
		})
	}
}

// A stream refuses hits of blocks it was never told of; a block whose
// statements clash is an error, but the stream's later deltas still count
// the right blocks.
func TestStreamErrors(t *testing.T) {
	p := New("count")
	s := p.NewStream()
	if err := s.Add("agent", &Delta{Mode: "count", Hits: []int64{0, 1}}); err == nil || !strings.Contains(err.Error(), "block #0 with 1, of the 0 announced") {
		t.Errorf("hit before any announcement: got %v", err)
	}
	if err := s.Add("agent", &Delta{Mode: "count", Hits: []int64{0}}); err == nil || !strings.Contains(err.Error(), "not pairs") {
		t.Errorf("odd hits: got %v", err)
	}
	if err := p.Add("file", "count", []Block{{"a.go", 1, 1, 2, 2, 1, 0}}); err != nil {
		t.Fatal(err)
	}
	clash := &Delta{Mode: "count", Files: []string{"a.go"}, Blocks: []int64{0, 1, 1, 2, 2, 9, 1, 0, 3, 1, 4, 1, 1, 4}}
	if err := s.Add("agent", clash); err == nil || !strings.Contains(err.Error(), "coverage clash") {
		t.Errorf("clashing block: got %v; want a clash error", err)
	}
	if err := s.Add("agent", &Delta{Mode: "count", Hits: []int64{1, 10}}); err != nil {
		t.Fatal(err)
	}
	want := "mode: count\na.go:1.1,2.2 1 0\na.go:3.1,4.1 1 14\n" // 4 announced, then 10
	if got := render(p); got != want {
		t.Errorf("got\n%s; want\n%s", got, want)
	}
}

func TestAddDeltaOfEmptyProfile(t *testing.T) {
	p := mustParse(t, "p", "mode: set\nm/a.go:1.1,2.2 1 1\n")
	if err := p.AddDelta("agent", NewTracker().Delta(New(""))); err != nil {
		t.Errorf("got error %v; want none", err)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		d       Delta
		want    []Block
		wantErr string
	}{
		{"ok", Delta{Mode: "set", Files: []string{"a.go"}, Blocks: []int64{0, 1, 2, 3, 4, 5, 1}}, []Block{{"a.go", 1, 2, 3, 4, 5, 1}}, ""},
		{"empty", Delta{Mode: "set"}, []Block{}, ""},
		{"not a multiple of 7", Delta{Files: []string{"a.go"}, Blocks: []int64{0, 1, 2}}, nil, "3 integers, not a multiple of 7"},
		{"file index too large", Delta{Files: []string{"a.go"}, Blocks: []int64{1, 1, 2, 3, 4, 5, 1}}, nil, "names file #1 of 1"},
		{"negative file index", Delta{Files: []string{"a.go"}, Blocks: []int64{-1, 1, 2, 3, 4, 5, 1}}, nil, "names file #-1 of 1"},
		{"negative line", Delta{Files: []string{"a.go"}, Blocks: []int64{0, -1, 2, 3, 4, 5, 1}}, nil, "out-of-range value -1"},
		{"huge column", Delta{Files: []string{"a.go"}, Blocks: []int64{0, 1, 1 << 40, 3, 4, 5, 1}}, nil, "out-of-range value"},
		{"negative count", Delta{Files: []string{"a.go"}, Blocks: []int64{0, 1, 2, 3, 4, 5, -7}}, nil, "out-of-range value -7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.d.Decode()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkAddDelta merges what a coordinator receives over a run of a
// large module: two agents announcing 100k blocks in 50 files, then 500
// runs of 1,000 hit blocks each.
func BenchmarkAddDelta(b *testing.B) {
	const files, perFile, runs, hits = 50, 2000, 500, 1000
	var shape []Block
	for f := 0; f < files; f++ {
		for i := 0; i < perFile; i++ {
			shape = append(shape, Block{File: fmt.Sprintf("example.com/wide/p%02d/f.go", f), StartLine: i + 1, StartCol: 2, EndLine: i + 1, EndCol: 30, NumStmt: 1})
		}
	}
	tr := NewTracker()
	announce := tr.Delta(mustProfile(b, "count", shape))
	deltas := make([]*Delta, runs)
	for r := range deltas {
		hit := make([]Block, hits)
		for i := range hit {
			hit[i] = shape[(r*7919+i*104729)%len(shape)]
			hit[i].Count = int64(i%5 + 1)
		}
		deltas[r] = tr.Delta(mustProfile(b, "count", hit))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		p := New("count")
		streams := []*Stream{p.NewStream(), p.NewStream()}
		for _, s := range streams {
			if err := s.Add("announce", announce); err != nil {
				b.Fatal(err)
			}
		}
		for r, d := range deltas {
			if err := streams[r%2].Add("run", d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func mustProfile(tb testing.TB, mode string, blocks []Block) *Profile {
	tb.Helper()
	p := New(mode)
	if err := p.Add("bench", mode, blocks); err != nil {
		tb.Fatal(err)
	}
	return p
}
