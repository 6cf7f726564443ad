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
	announced map[key]bool
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{announced: make(map[key]bool)} }

// Delta returns the part of p that the coordinator needs: every block with a
// non-zero count, and every block not announced before (then remembered).
func (t *Tracker) Delta(p *Profile) *Delta {
	d := &Delta{Mode: p.mode}
	fileIdx := make(map[string]int)
	for _, b := range p.Blocks() {
		k := key{b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol}
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
func (t *Tracker) Forget() { t.announced = make(map[key]bool) }

// Decode checks d and returns its blocks.
func (d *Delta) Decode() ([]Block, error) {
	if len(d.Blocks)%7 != 0 {
		return nil, fmt.Errorf("coverage delta has %d integers, not a multiple of 7", len(d.Blocks))
	}
	out := make([]Block, 0, len(d.Blocks)/7)
	for i := 0; i < len(d.Blocks); i += 7 {
		v := d.Blocks[i : i+7]
		if v[0] < 0 || v[0] >= int64(len(d.Files)) {
			return nil, fmt.Errorf("coverage delta names file #%d of %d", v[0], len(d.Files))
		}
		for j := 1; j < 7; j++ {
			if v[j] < 0 || (j < 6 && v[j] > math.MaxInt32) {
				return nil, fmt.Errorf("coverage delta block %d has an out-of-range value %d", i/7, v[j])
			}
		}
		out = append(out, Block{d.Files[v[0]], int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), v[6]})
	}
	return out, nil
}

// AddDelta merges a delta received from source. A delta of an empty
// profile (no mode, no blocks) changes nothing, as Merge of an empty profile.
func (p *Profile) AddDelta(source string, d *Delta) error {
	if d.Mode == "" && len(d.Blocks) == 0 {
		return nil
	}
	bs, err := d.Decode()
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	return p.Add(source, d.Mode, bs)
}
