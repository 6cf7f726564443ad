package coverage

import (
	"fmt"
	"math"
)

// Delta is coverage in transit from an agent to the coordinator: the blocks a
// run hit, plus (once per agent) the blocks the agent had not announced
// before, so the coordinator learns the full set of blocks, including those
// never hit, without every run resending it. Bytes moved therefore grow with
// the module's blocks and the blocks actually hit, not with runs x blocks.
//
// Blocks is flat: for each block, seven integers: file index into Files,
// start line, start column, end line, end column, statements, count.
type Delta struct {
	Mode   string   `json:"m"`
	Files  []string `json:"f"`
	Blocks []int64  `json:"b"`
}

// Tracker is an agent's memory of which blocks it already announced. It is
// not safe for concurrent use.
type Tracker struct {
	announced map[blockKey]bool
}

type blockKey struct {
	file           string
	sl, sc, el, ec int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{announced: make(map[blockKey]bool)} }

// Delta returns the part of p that the coordinator needs: every block with a
// non-zero count, and every block not announced before (then remembered).
func (t *Tracker) Delta(p *Profile) *Delta {
	d := &Delta{Mode: p.mode}
	fileIdx := make(map[string]int)
	for _, b := range p.Blocks() {
		k := blockKey{b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol}
		if b.Count == 0 && t.announced[k] {
			continue
		}
		t.announced[k] = true
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
// that lost what it was sent (a new connection).
func (t *Tracker) Forget() { t.announced = make(map[blockKey]bool) }

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

// AddDelta merges a delta received from source. A delta of an empty
// profile (no mode, no blocks) changes nothing, as Merge of an empty profile.
func (p *Profile) AddDelta(source string, d *Delta) error {
	if d.Mode == "" && len(d.Blocks) == 0 {
		return nil
	}
	if err := d.check(); err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	if err := p.setMode(source, d.Mode); err != nil {
		return err
	}
	// Straight from the flat integers: a coordinator merges every delta of
	// a run, and going through []Block would copy each block twice.
	ids := make([]int32, len(d.Files))
	for i, f := range d.Files {
		ids[i] = p.file(f)
	}
	src := int32(-1)
	for i := 0; i < len(d.Blocks); i += 7 {
		v := d.Blocks[i : i+7]
		k := key{ids[v[0]], int32(v[1]), int32(v[2]), int32(v[3]), int32(v[4])}
		if err := p.add(source, &src, k, int32(v[5]), v[6]); err != nil {
			return err
		}
	}
	return nil
}
