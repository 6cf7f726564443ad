package coverage

import (
	"fmt"
	"math"
)

// Delta is coverage in transit from an agent to the coordinator, over one
// stream: the blocks the agent had not announced on it before, each in
// full with its count, then the counts of blocks it announced earlier, each
// by its place in the stream's announcements. The coordinator learns the
// full set of blocks, including those never hit, without every run
// resending it, and a block hit again costs two integers and no hashing:
// bytes moved and merge time grow with the module's blocks and the blocks
// actually hit, not with runs x blocks.
//
// Blocks is flat: for each block, seven integers: file index into Files,
// start line, start column, end line, end column, statements, count. Hits
// is flat too: for each block, its index among the stream's announced
// blocks (in the order of announcement, counting from 0), and its count.
type Delta struct {
	Mode   string   `json:"m"`
	Files  []string `json:"f"`
	Blocks []int64  `json:"b"`
	Hits   []int64  `json:"h,omitempty"`
}

// Tracker is an agent's memory of the blocks it announced on its stream.
// It is not safe for concurrent use.
type Tracker struct {
	announced map[blockKey]int64
}

type blockKey struct {
	file           string
	sl, sc, el, ec int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{announced: make(map[blockKey]int64)} }

// Delta returns the part of p that the coordinator needs: every block not
// announced before (then remembered), and every announced block with a
// non-zero count.
func (t *Tracker) Delta(p *Profile) *Delta {
	d := &Delta{Mode: p.mode}
	fileIdx := make(map[string]int)
	for _, b := range p.Blocks() {
		k := blockKey{b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol}
		if i, ok := t.announced[k]; ok {
			if b.Count > 0 {
				d.Hits = append(d.Hits, i, b.Count)
			}
			continue
		}
		t.announced[k] = int64(len(t.announced))
		i, ok := fileIdx[b.File]
		if !ok {
			i = len(d.Files)
			fileIdx[b.File] = i
			d.Files = append(d.Files, b.File)
		}
		d.Blocks = append(d.Blocks, int64(i), int64(b.StartLine), int64(b.StartCol), int64(b.EndLine), int64(b.EndCol), int64(b.NumStmt), b.Count)
	}
	return d
}

// Forget makes the tracker announce everything again, for a coordinator
// that lost what it was sent (a new stream).
func (t *Tracker) Forget() { t.announced = make(map[blockKey]int64) }

// Stream is a receiver's memory of one tracker's announcements: where in
// the profile each announced block is. A Stream serves one profile and one
// tracker; a new connection needs a new Stream, as its agent a new Tracker.
type Stream struct {
	profile *Profile
	ids     []int32
}

// NewStream returns a stream whose deltas merge into p.
func (p *Profile) NewStream() *Stream { return &Stream{profile: p} }

// Add merges a delta received on the stream from source. A block whose
// statements clash with the profile's is an error, after the rest of the
// delta was merged, so that the stream's later deltas still refer to the
// right blocks.
func (s *Stream) Add(source string, d *Delta) error {
	p := s.profile
	if d.Mode == "" && len(d.Blocks) == 0 && len(d.Hits) == 0 {
		return nil
	}
	if err := d.check(); err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	if len(d.Hits)%2 != 0 {
		return fmt.Errorf("%s: coverage delta has %d hit integers, not pairs", source, len(d.Hits))
	}
	for i := 0; i < len(d.Hits); i += 2 {
		if d.Hits[i] < 0 || d.Hits[i] >= int64(len(s.ids)) || d.Hits[i+1] < 0 {
			return fmt.Errorf("%s: coverage delta counts block #%d with %d, of the %d announced", source, d.Hits[i], d.Hits[i+1], len(s.ids))
		}
	}
	if err := p.setMode(source, d.Mode); err != nil {
		return err
	}
	ids := make([]int32, len(d.Files))
	for i, f := range d.Files {
		ids[i] = p.file(f)
	}
	if n := len(d.Blocks) / 7; len(p.entries) == 0 && n > 1024 {
		// The first announcement of a big module: grown once, not by doubling.
		p.index = make(map[key]int32, n)
		p.entries = make([]entry, 0, n)
	}
	src := int32(-1)
	var clash error
	for i := 0; i < len(d.Blocks); i += 7 {
		v := d.Blocks[i : i+7]
		k := key{ids[v[0]], int32(v[1]), int32(v[2]), int32(v[3]), int32(v[4])}
		id, err := p.add(source, &src, k, int32(v[5]), v[6])
		if err != nil && clash == nil {
			clash = err
		}
		s.ids = append(s.ids, id)
	}
	for i := 0; i < len(d.Hits); i += 2 {
		p.count(&p.entries[s.ids[d.Hits[i]]], d.Hits[i+1])
	}
	return clash
}

// Decode checks d and returns its blocks.
func (d *Delta) Decode() ([]Block, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	out := make([]Block, 0, len(d.Blocks)/7)
	for i := 0; i < len(d.Blocks); i += 7 {
		v := d.Blocks[i : i+7]
		out = append(out, Block{d.Files[v[0]], int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), v[6]})
	}
	return out, nil
}

// check refuses a delta whose integers do not make blocks.
func (d *Delta) check() error {
	if len(d.Blocks)%7 != 0 {
		return fmt.Errorf("coverage delta has %d integers, not a multiple of 7", len(d.Blocks))
	}
	for i := 0; i < len(d.Blocks); i += 7 {
		v := d.Blocks[i : i+7]
		if v[0] < 0 || v[0] >= int64(len(d.Files)) {
			return fmt.Errorf("coverage delta names file #%d of %d", v[0], len(d.Files))
		}
		for j := 1; j < 7; j++ {
			if v[j] < 0 || (j < 6 && v[j] > math.MaxInt32) {
				return fmt.Errorf("coverage delta block %d has an out-of-range value %d", i/7, v[j])
			}
		}
	}
	return nil
}

// AddDelta merges a delta received from source on a stream of its own: one
// that refers to no block announced before it. A delta of an empty profile
// (no mode, no blocks) changes nothing, as Merge of an empty profile.
func (p *Profile) AddDelta(source string, d *Delta) error {
	return p.NewStream().Add(source, d)
}
