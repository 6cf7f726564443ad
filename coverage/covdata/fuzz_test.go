package covdata

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

// The files under testdata are a real binary's meta-data and one run's
// counters (tests calling Loop(10) and Loop(5) in package example.com/cd/p, count
// mode), so that the format is checked without building anything.
func readSeeds(t testing.TB) (meta, counters []byte) {
	t.Helper()
	meta, err := os.ReadFile("testdata/meta.bin")
	if err != nil {
		t.Fatal(err)
	}
	counters, err = os.ReadFile("testdata/counters.bin")
	if err != nil {
		t.Fatal(err)
	}
	return meta, counters
}

func TestSeedFiles(t *testing.T) {
	mb, cb := readSeeds(t)
	m, err := ParseMeta(mb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCounters(cb)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mode != "count" || len(m.Packages) != 1 || m.Packages[0].Path != "example.com/cd/p" {
		t.Fatalf("got mode %q and %d packages; want count and example.com/cd/p", m.Mode, len(m.Packages))
	}
	hits, err := m.Hits(c)
	if err != nil {
		t.Fatal(err)
	}
	counts := make(map[[2]int]int64)
	for _, b := range hits {
		counts[[2]int{b.StartLine, b.StartCol}] = b.Count
	}
	// Loop(10) and Loop(5): Loop's body 15 times, its if's block 8 times,
	// as the text profile of the same run says.
	want := map[[2]int]int64{{10, 22}: 2, {12, 25}: 15, {13, 15}: 8, {17, 2}: 2}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("block at %d.%d counted %d; want %d", k[0], k[1], counts[k], v)
		}
	}
	if len(hits) != len(want) {
		t.Errorf("got %d counted blocks; want %d", len(hits), len(want))
	}
	if n := len(m.Blocks()); n != 7 {
		t.Errorf("got %d blocks in the meta-data; want 7", n)
	}
}

func FuzzParseMeta(f *testing.F) {
	mb, cb := readSeeds(f)
	f.Add(mb)
	f.Add(cb)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			return
		}
		m.Blocks()
	})
}

func FuzzParseCounters(f *testing.F) {
	mb, cb := readSeeds(f)
	f.Add(cb)
	f.Add(mb)
	m, err := ParseMeta(mb)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCounters(b)
		if err != nil {
			return
		}
		c.MetaHash = m.Hash
		m.Hits(c) // never panics, whatever the counters say
	})
}

// A segment whose tables claim to run into the footer is an error, not a
// length that wraps around (it panicked in make).
func TestCountersTablesPastTheEnd(t *testing.T) {
	var b []byte
	b = append(b, counterMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, counterVersion)
	b = append(b, make([]byte, 16)...) // meta hash
	b = append(b, flavorRaw, 0, 0, 0, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, 1) // one function
	b = binary.LittleEndian.AppendUint32(b, 4) // string table of 4 bytes
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, counterMagic[:]...) // the footer: its padding read as a string table
	b = append(b, 0xff, 0xff, 0xff, 0xff)
	b = binary.LittleEndian.AppendUint32(b, 0x0fffffff)
	b = append(b, 0, 0, 0, 0)
	start := time.Now()
	if _, err := ParseCounters(b); err == nil {
		t.Fatal("parsed a segment that runs into its footer")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing it took %s: its lengths were trusted", d)
	}
}
