package coverage

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives WriteTo and Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte("mode: set\nm/a.go:1.2,3.4 2 1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if _, err := p.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		q, err := Parse(bytes.NewReader(buf.Bytes()), "rewritten")
		if err != nil {
			t.Fatalf("parsing what WriteTo wrote: %v\n%s", err, buf.Bytes())
		}
		// WriteTo names a mode even for a profile that had none (empty input).
		if p.Mode() == "" {
			p.mode = q.Mode()
		}
		if !equal(p, q) {
			t.Fatalf("got\n%s; want\n%s", render(q), render(p))
		}
	})
}

// FuzzDeltaDecode checks that Decode never panics on a delta as it arrives
// over the wire (JSON), and that it accepts exactly the well-formed ones.
func FuzzDeltaDecode(f *testing.F) {
	f.Add([]byte(`{"m":"set","f":["a.go"],"b":[0,1,2,3,4,5,1]}`))
	f.Add([]byte(`{"m":"count","f":["a.go"],"b":[1,1,2,3,4,5,1]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Delta
		if json.Unmarshal(in, &d) != nil {
			return
		}
		bs, err := d.Decode()
		valid := len(d.Blocks)%7 == 0
		for i := 0; valid && i < len(d.Blocks); i += 7 {
			if d.Blocks[i] < 0 || d.Blocks[i] >= int64(len(d.Files)) {
				valid = false
			}
			for j := 1; j < 7; j++ {
				if v := d.Blocks[i+j]; v < 0 || (j < 6 && v > 1<<31-1) {
					valid = false
				}
			}
		}
		if valid != (err == nil) {
			t.Fatalf("got error %v for %v; want valid=%v", err, d.Blocks, valid)
		}
		if err != nil {
			return
		}
		if len(bs) != len(d.Blocks)/7 {
			t.Fatalf("got %d blocks; want %d", len(bs), len(d.Blocks)/7)
		}
		if d.Mode == "" && len(bs) == 0 {
			return
		}
		// Whatever decodes must merge or fail with an error, never panic.
		_ = New("").AddDelta("fuzz", &d)
	})
}
