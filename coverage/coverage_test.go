package coverage

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// mustParse parses text as a profile named source or fails the test.
func mustParse(t testing.TB, source, text string) *Profile {
	t.Helper()
	p, err := Parse(strings.NewReader(text), source)
	if err != nil {
		t.Fatalf("Parse(%s): %v", source, err)
	}
	return p
}

// render writes p as a coverprofile, for comparing profiles in failures.
func render(p *Profile) string {
	var b strings.Builder
	if _, err := p.WriteTo(&b); err != nil {
		panic(err)
	}
	return b.String()
}

// equal reports whether p and q have the same mode and blocks.
func equal(p, q *Profile) bool {
	return p.Mode() == q.Mode() && reflect.DeepEqual(p.Blocks(), q.Blocks())
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		mode    string
		blocks  []Block
		wantErr string // substring of the error; empty means no error
	}{
		{
			name: "set",
			in:   "mode: set\nm/a.go:1.2,3.4 2 1\nm/a.go:5.1,6.2 1 0\n",
			mode: "set",
			blocks: []Block{
				{"m/a.go", 1, 2, 3, 4, 2, 1},
				{"m/a.go", 5, 1, 6, 2, 1, 0},
			},
		},
		{
			name:   "count sorted by file and position",
			in:     "mode: count\nm/b.go:9.1,9.5 1 7\nm/a.go:5.1,6.2 1 3\nm/a.go:1.1,2.2 3 0\n",
			mode:   "count",
			blocks: []Block{{"m/a.go", 1, 1, 2, 2, 3, 0}, {"m/a.go", 5, 1, 6, 2, 1, 3}, {"m/b.go", 9, 1, 9, 5, 1, 7}},
		},
		{
			name:   "duplicate blocks in count mode sum",
			in:     "mode: count\nm/a.go:1.1,2.2 1 2\nm/a.go:1.1,2.2 1 5\n",
			mode:   "count",
			blocks: []Block{{"m/a.go", 1, 1, 2, 2, 1, 7}},
		},
		{
			name:   "duplicate blocks in set mode OR",
			in:     "mode: set\nm/a.go:1.1,2.2 1 0\nm/a.go:1.1,2.2 1 1\n",
			mode:   "set",
			blocks: []Block{{"m/a.go", 1, 1, 2, 2, 1, 1}},
		},
		{
			name:   "concatenated profiles with agreeing modes",
			in:     "mode: atomic\nm/a.go:1.1,2.2 1 2\nmode: atomic\nm/a.go:1.1,2.2 1 3\nm/b.go:1.1,1.9 2 0\n",
			mode:   "atomic",
			blocks: []Block{{"m/a.go", 1, 1, 2, 2, 1, 5}, {"m/b.go", 1, 1, 1, 9, 2, 0}},
		},
		{
			name:   "file name with colon and spaces",
			in:     "mode: set\nC:/my dir/a.go:1.1,2.2 1 1\n",
			mode:   "set",
			blocks: []Block{{"C:/my dir/a.go", 1, 1, 2, 2, 1, 1}},
		},
		{
			name:   "file name starting with mode is a block",
			in:     "mode: set\nmode: x.go:1.1,2.2 1 1\n",
			mode:   "set",
			blocks: []Block{{"mode: x.go", 1, 1, 2, 2, 1, 1}},
		},
		{name: "mode line without blocks keeps the mode", in: "mode: count\n", mode: "count", blocks: []Block{}},
		{name: "empty input", in: "", mode: "", blocks: []Block{}},
		{name: "concatenated profiles with clashing modes", in: "mode: set\nm/a.go:1.1,2.2 1 1\nmode: count\nm/a.go:1.1,2.2 1 1\n", wantErr: `coverage mode clash: p.out:3 is "count" but p.out is "set"`},
		{name: "no mode line", in: "m/a.go:1.1,2.2 1 1\n", wantErr: "bad mode line"},
		{name: "terminal escapes in the mode line are quoted", in: "\x1b[31mmode: set\n", wantErr: `bad mode line "\x1b[31mmode: set"`},
		{name: "binary input is quoted and cut", in: "\x00\xff\xfe" + strings.Repeat("\x01", 100) + "\n", wantErr: `bad mode line "\x00\xff\xfe\x01`},
		{name: "terminal escapes in a block line are quoted", in: "mode: set\nm/a.go:1.1,2.2 1 \x1b[2J\n", wantErr: `\x1b[2J`},
		{name: "unknown mode", in: "mode: sometimes\n", wantErr: `unknown coverage mode "sometimes"`},
		{name: "bad block line", in: "mode: set\nm/a.go:1.1,2.2 1\n", wantErr: "doesn't match expected format"},
		{name: "negative count", in: "mode: set\nm/a.go:1.1,2.2 1 -1\n", wantErr: "negative values"},
		{name: "NumStmt clash inside one profile", in: "mode: set\nm/a.go:1.1,2.2 1 1\nm/a.go:1.1,2.2 2 1\n", wantErr: "inconsistent NumStmt"},
		{name: "NumStmt clash across parts", in: "mode: set\nm/a.go:1.1,2.2 1 1\nmode: set\nm/a.go:1.1,2.2 2 1\n", wantErr: "p.out:3 says 2 statements but p.out says 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(tt.in), "p.out")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
				}
				for _, r := range err.Error() {
					if r < 0x20 || r == 0x7f || r == utf8.RuneError {
						t.Fatalf("error %q holds raw byte %q; want every control byte quoted", err, r)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if p.Mode() != tt.mode {
				t.Errorf("got mode %q; want %q", p.Mode(), tt.mode)
			}
			if got := p.Blocks(); !reflect.DeepEqual(got, tt.blocks) {
				t.Errorf("got blocks %v; want %v", got, tt.blocks)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	if _, err := ParseFile(t.TempDir() + "/missing.out"); err == nil {
		t.Errorf("got no error for a missing file; want one")
	}
}

func TestAddAndMerge(t *testing.T) {
	const (
		a1 = "mode: set\nm/a.go:1.1,2.2 1 1\nm/a.go:3.1,4.2 2 0\n"
		a2 = "mode: set\nm/a.go:1.1,2.2 1 0\nm/a.go:3.1,4.2 2 1\nm/b.go:1.1,1.2 1 0\n"
		c1 = "mode: count\nm/a.go:1.1,2.2 1 3\nm/a.go:3.1,4.2 2 0\n"
		c2 = "mode: count\nm/a.go:1.1,2.2 1 4\nm/a.go:3.1,4.2 2 2\n"
		t1 = "mode: atomic\nm/a.go:1.1,2.2 1 10\n"
		t2 = "mode: atomic\nm/a.go:1.1,2.2 1 32\n"
		n2 = "mode: set\nm/a.go:1.1,2.2 5 1\n"
	)
	tests := []struct {
		name    string
		sources []string // profile texts, merged in order as one.out, two.out, ...
		want    string   // the merged profile as WriteTo renders it
		wantErr string
	}{
		{"set ORs", []string{a1, a2}, "mode: set\nm/a.go:1.1,2.2 1 1\nm/a.go:3.1,4.2 2 1\nm/b.go:1.1,1.2 1 0\n", ""},
		{"count sums", []string{c1, c2}, "mode: count\nm/a.go:1.1,2.2 1 7\nm/a.go:3.1,4.2 2 2\n", ""},
		{"atomic sums", []string{t1, t2}, "mode: atomic\nm/a.go:1.1,2.2 1 42\n", ""},
		{"NumStmt clash names both sources", []string{a1, n2}, "", "two.out says 5 statements but one.out says 1"},
		{"mode clash names both sources", []string{a1, c1}, "", `coverage mode clash: two.out is "count" but one.out is "set"`},
		{"empty profile merges as nothing", []string{c1, ""}, "mode: count\nm/a.go:1.1,2.2 1 3\nm/a.go:3.1,4.2 2 0\n", ""},
	}
	names := []string{"one.out", "two.out", "three.out"}
	for _, tt := range tests {
		t.Run(tt.name+"/Merge", func(t *testing.T) {
			p := New("")
			var err error
			for i, src := range tt.sources {
				if err = p.Merge(names[i], mustParse(t, names[i], src)); err != nil {
					break
				}
			}
			check(t, p, err, tt.want, tt.wantErr)
		})
		t.Run(tt.name+"/Add", func(t *testing.T) {
			p := New("")
			var err error
			for i, src := range tt.sources {
				q := mustParse(t, names[i], src)
				if q.Mode() == "" {
					continue // Add needs a mode; Merge skips empty profiles itself.
				}
				if err = p.Add(names[i], q.Mode(), q.Blocks()); err != nil {
					break
				}
			}
			check(t, p, err, tt.want, tt.wantErr)
		})
	}
}

func check(t *testing.T, p *Profile, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got error %v; want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("got error %v; want none", err)
	}
	if got := render(p); got != want {
		t.Errorf("got\n%s; want\n%s", got, want)
	}
}

func TestAddRejects(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		block   Block
		wantErr string
	}{
		{"negative count", "count", Block{"a.go", 1, 1, 1, 2, 1, -1}, "negative count -1 in block a.go:1.1,1.2"},
		{"unknown mode", "sometimes", Block{"a.go", 1, 1, 1, 2, 1, 1}, `src: unknown coverage mode "sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New("").Add("src", tt.mode, []Block{tt.block})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCountSaturates(t *testing.T) {
	p := New("count")
	b := Block{"a.go", 1, 1, 1, 2, 1, math.MaxInt64 - 1}
	for range 2 {
		if err := p.Add("src", "count", []Block{b}); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Blocks()[0].Count; got != math.MaxInt64 {
		t.Errorf("got count %d; want %d", got, int64(math.MaxInt64))
	}
}

func TestSetNormalisesCounts(t *testing.T) {
	p := New("")
	if err := p.Add("src", "set", []Block{{"a.go", 1, 1, 1, 2, 1, 5}}); err != nil {
		t.Fatal(err)
	}
	if got := p.Blocks()[0].Count; got != 1 {
		t.Errorf("got count %d; want 1", got)
	}
}

func TestFilesAndZeroCounts(t *testing.T) {
	p := mustParse(t, "p", "mode: count\nm/b.go:1.1,1.2 1 4\nm/a.go:1.1,1.2 1 0\nm/a.go:2.1,2.2 1 9\n")
	if got, want := p.Files(), []string{"m/a.go", "m/b.go"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got files %v; want %v", got, want)
	}
	z := p.ZeroCounts()
	if got, want := render(z), "mode: count\nm/a.go:1.1,1.2 1 0\nm/a.go:2.1,2.2 1 0\nm/b.go:1.1,1.2 1 0\n"; got != want {
		t.Errorf("got\n%s; want\n%s", got, want)
	}
	if p.Blocks()[2].Count != 4 {
		t.Errorf("ZeroCounts changed its source: got count %d; want 4", p.Blocks()[2].Count)
	}
}

func TestWriteToRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"set", "mode: set\nm/a.go:1.2,3.4 2 1\nm/a.go:5.1,6.2 1 0\nm/z/b.go:7.1,7.30 4 1\n"},
		{"count", "mode: count\nm/a.go:1.2,3.4 2 17\nm/a.go:5.1,6.2 1 0\n"},
		{"atomic", "mode: atomic\nm/a.go:1.2,3.4 2 9223372036854775807\n"},
		{"no blocks", "mode: atomic\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "in", tt.in)
			var buf bytes.Buffer
			n, err := p.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Errorf("got n=%d; want %d", n, buf.Len())
			}
			if got := buf.String(); got != tt.in {
				t.Errorf("got\n%s; want\n%s", got, tt.in)
			}
			q := mustParse(t, "out", buf.String())
			if !equal(p, q) {
				t.Errorf("got %v after a round trip; want %v", q.Blocks(), p.Blocks())
			}
		})
	}
}

// randomProfiles returns n profiles of the given mode over one shared set of
// blocks (same spans and NumStmt), with random counts and random omissions.
func randomProfiles(r *rand.Rand, mode string, n int) []*Profile {
	var shape []Block
	for f := range 3 {
		line := 1
		for range 1 + r.Intn(8) {
			l := 1 + r.Intn(4)
			shape = append(shape, Block{fmt.Sprintf("m/f%d.go", f), line, 2, line + l, 3, r.Intn(5), 0})
			line += l + 1
		}
	}
	out := make([]*Profile, n)
	for i := range out {
		var bs []Block
		for _, b := range shape {
			if r.Intn(4) == 0 {
				continue
			}
			switch mode {
			case "set":
				b.Count = int64(r.Intn(2))
			default:
				b.Count = int64(r.Intn(100))
			}
			bs = append(bs, b)
		}
		out[i] = New("")
		if err := out[i].Add(fmt.Sprintf("run%d", i), mode, bs); err != nil {
			panic(err)
		}
	}
	return out
}

func mergeAll(t *testing.T, ps []*Profile, order []int) *Profile {
	t.Helper()
	m := New("")
	for _, i := range order {
		if err := m.Merge(fmt.Sprintf("run%d", i), ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestMergeOrderIndependent(t *testing.T) {
	for _, mode := range []string{"set", "count", "atomic"} {
		t.Run(mode, func(t *testing.T) {
			r := rand.New(rand.NewSource(1))
			for trial := range 50 {
				ps := randomProfiles(r, mode, 2+r.Intn(5))
				order := make([]int, len(ps))
				for i := range order {
					order[i] = i
				}
				want := mergeAll(t, ps, order)
				r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				if got := mergeAll(t, ps, order); !equal(got, want) {
					t.Fatalf("trial %d, order %v: got\n%s; want\n%s", trial, order, render(got), render(want))
				}
			}
		})
	}
}

func TestSetMergeIdempotent(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for trial := range 50 {
		ps := randomProfiles(r, "set", 3)
		once := mergeAll(t, ps, []int{0, 1, 2})
		twice := mergeAll(t, ps, []int{0, 1, 2, 2, 0, 1})
		if !equal(once, twice) {
			t.Fatalf("trial %d: got\n%s; want\n%s", trial, render(twice), render(once))
		}
		again := New("")
		for range 2 {
			if err := again.Merge("merged", once); err != nil {
				t.Fatal(err)
			}
		}
		if !equal(again, once) {
			t.Fatalf("trial %d: merging a profile twice: got\n%s; want\n%s", trial, render(again), render(once))
		}
	}
}

func TestCountMergeSums(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for trial := range 50 {
		ps := randomProfiles(r, "count", 1+r.Intn(6))
		order := make([]int, len(ps))
		for i := range order {
			order[i] = i
		}
		sums := make(map[string]int64)
		for _, p := range ps {
			for _, b := range p.Blocks() {
				sums[span(b)] += b.Count
			}
		}
		m := mergeAll(t, ps, order)
		if m.Len() != len(sums) {
			t.Fatalf("trial %d: got %d blocks; want %d", trial, m.Len(), len(sums))
		}
		for _, b := range m.Blocks() {
			if want := sums[span(b)]; b.Count != want {
				t.Fatalf("trial %d: block %s: got count %d; want %d", trial, span(b), b.Count, want)
			}
		}
	}
}
