// Package covdata reads the files that a coverage-instrumented Go program
// (Go 1.20 and later) writes to its coverage directory, -test.gocoverdir or
// GOCOVERDIR: one meta-data file per binary, covmeta.HASH, describing every
// instrumented function's blocks, and one counter file per process,
// covcounters.HASH.PID.NANOS, holding the counters of the functions that
// ran. Reading them costs a fraction of what a text coverprofile does on a
// large module: the process writes only the counters it hit, and the
// meta-data, the same for every run of a binary, is decoded once.
//
// The formats are those of Go's internal/coverage (meta-data and counter
// file version 1): little-endian fixed headers, ULEB128-encoded payloads.
// Every offset and length is checked, so a truncated or corrupt file is an
// error, never a panic.
//
// Package covdata imports only coverage among covdist's packages.
package covdata

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/covdist/covdist/coverage"
)

// The file names' prefixes and the format versions this package reads.
const (
	metaPrefix     = "covmeta."
	counterPrefix  = "covcounters."
	metaVersion    = 1
	counterVersion = 1
)

var (
	metaMagic    = [4]byte{0x00, 'c', 'v', 'm'}
	counterMagic = [4]byte{0x00, 'c', 'w', 'm'}
)

// ErrFormat marks data this package cannot read: a corrupt file, or one
// of a format version newer than it knows.
var ErrFormat = errors.New("unreadable coverage data")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// Meta is a binary's coverage meta-data: every instrumented package and
// function, with its blocks.
type Meta struct {
	Hash     string // hex, as in the file's name
	Mode     string // set, count or atomic
	Packages []Package
}

// Package is one instrumented package.
type Package struct {
	Path  string
	Funcs []Func
}

// Func is one instrumented function (or function literal): its file, as
// coverprofiles name it (import path and base name), and its blocks, in
// counter order.
type Func struct {
	File  string
	Units []Unit
}

// Unit is one coverable block.
type Unit struct {
	StartLine, StartCol, EndLine, EndCol, NumStmt int
}

// reader reads little-endian and ULEB128 values from a byte slice,
// remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = formatErr("%s at offset %d of %d", what, r.off, len(r.b))
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(fmt.Sprintf("%d bytes past the end", n))
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.take(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

func (r *reader) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift > 63 {
			r.fail("ULEB128 value too long")
			return 0
		}
		b := r.u8()
		if r.err != nil {
			return 0
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v
		}
	}
}

// ulebInt reads a ULEB128 value that must fit a non-negative int32.
func (r *reader) ulebInt() int {
	v := r.uleb()
	if v > 1<<31-1 {
		r.fail(fmt.Sprintf("value %d out of range", v))
		return 0
	}
	return int(v)
}

// strings reads a string table: a count, then each string's length and bytes.
func (r *reader) strings() []string {
	n := r.ulebInt()
	if n > len(r.b)-r.off { // every string takes at least its length byte
		r.fail(fmt.Sprintf("string table of %d entries", n))
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, string(r.take(r.ulebInt())))
	}
	return out
}

func lookup(tab []string, i uint64, what string) (string, error) {
	if i >= uint64(len(tab)) {
		return "", formatErr("%s names string %d of %d", what, i, len(tab))
	}
	return tab[i], nil
}

// counterModes are the meta-data header's counter modes go test uses.
var counterModes = map[uint8]string{1: "set", 2: "count", 3: "atomic"}

// metaHeaderSize is the fixed part of a meta-data file's header.
const metaHeaderSize = 4 + 4 + 8 + 8 + 16 + 4 + 4 + 1 + 1 + 6

// pkgHeaderSize is the fixed header of one package's meta-data blob.
const pkgHeaderSize = 4 + 4 + 4 + 4 + 16 + 4 + 4 + 4

// ParseMeta decodes a meta-data file.
func ParseMeta(b []byte) (*Meta, error) {
	r := &reader{b: b}
	if magic := r.take(4); r.err == nil && [4]byte(magic) != metaMagic {
		return nil, formatErr("not a coverage meta-data file")
	}
	if v := r.u32(); r.err == nil && v != metaVersion {
		return nil, formatErr("meta-data file version %d (this covdist reads version %d)", v, metaVersion)
	}
	total := r.u64()
	entries := r.u64()
	hash := r.take(16)
	r.u32() // the file-level string table's offset and length: unused
	r.u32()
	mode := r.u8()
	gran := r.u8()
	r.take(6)
	if r.err != nil {
		return nil, r.err
	}
	if total != uint64(len(b)) {
		return nil, formatErr("meta-data file says %d bytes but has %d", total, len(b))
	}
	m := &Meta{Hash: hex.EncodeToString(hash), Mode: counterModes[mode]}
	if m.Mode == "" {
		return nil, formatErr("unknown counter mode %d", mode)
	}
	if gran != 1 {
		return nil, formatErr("counter granularity %d (only per-block counters are read)", gran)
	}
	if entries > uint64(len(b)-metaHeaderSize)/16 {
		return nil, formatErr("meta-data file claims %d packages", entries)
	}
	offs := make([]uint64, entries)
	lens := make([]uint64, entries)
	for i := range offs {
		offs[i] = r.u64()
	}
	for i := range lens {
		lens[i] = r.u64()
	}
	if r.err != nil {
		return nil, r.err
	}
	for i := range offs {
		if offs[i] > total || lens[i] > total-offs[i] {
			return nil, formatErr("package %d lies outside the file", i)
		}
		p, err := parsePackage(b[offs[i] : offs[i]+lens[i]])
		if err != nil {
			return nil, fmt.Errorf("package %d: %w", i, err)
		}
		m.Packages = append(m.Packages, p)
	}
	return m, nil
}

// parsePackage decodes one package's meta-data blob.
func parsePackage(b []byte) (Package, error) {
	r := &reader{b: b}
	length := r.u32()
	r.u32() // package name
	pathIdx := r.u32()
	r.u32() // module path
	r.take(16 + 4)
	r.u32() // number of files
	nfuncs := r.u32()
	if r.err != nil {
		return Package{}, r.err
	}
	if uint64(length) != uint64(len(b)) {
		return Package{}, formatErr("package blob says %d bytes but has %d", length, len(b))
	}
	if uint64(nfuncs) > uint64(len(b)-pkgHeaderSize)/4 {
		return Package{}, formatErr("package blob claims %d functions", nfuncs)
	}
	offs := make([]uint32, nfuncs)
	for i := range offs {
		offs[i] = r.u32()
	}
	tab := r.strings()
	if r.err != nil {
		return Package{}, r.err
	}
	path, err := lookup(tab, uint64(pathIdx), "package path")
	if err != nil {
		return Package{}, err
	}
	p := Package{Path: path, Funcs: make([]Func, nfuncs)}
	// Functions do not share their encodings, so the blocks of all of them
	// fit the blob too: a crafted blob cannot make this allocate without end.
	budget := len(b) / 5
	for i, off := range offs {
		fr := &reader{b: b, off: int(off)}
		if int(off) < pkgHeaderSize || int(off) > len(b) {
			return Package{}, formatErr("function %d of %s lies outside its package", i, path)
		}
		nunits := fr.ulebInt()
		fr.uleb() // function name
		fileIdx := fr.uleb()
		if budget -= nunits; budget < 0 { // each unit takes at least five bytes
			return Package{}, formatErr("function %d of %s claims %d blocks, more than its package holds", i, path, nunits)
		}
		units := make([]Unit, nunits)
		for j := range units {
			units[j] = Unit{fr.ulebInt(), fr.ulebInt(), fr.ulebInt(), fr.ulebInt(), fr.ulebInt()}
		}
		fr.uleb() // function literal or not
		if fr.err != nil {
			return Package{}, fmt.Errorf("function %d of %s: %w", i, path, fr.err)
		}
		file, err := lookup(tab, fileIdx, "function file")
		if err != nil {
			return Package{}, err
		}
		p.Funcs[i] = Func{File: file, Units: units}
	}
	return p, nil
}

// Counters is one counter file: the counters of the functions one process ran.
type Counters struct {
	MetaHash string // hex: the binary whose meta-data describes them
	Funcs    []FuncCounters
}

// FuncCounters are one function's counters, by package and function index
// into the meta-data.
type FuncCounters struct {
	Pkg, Func int
	Counts    []uint32
}

const (
	counterHeaderSize = 4 + 4 + 16 + 1 + 1 + 6
	counterFooterSize = 4 + 4 + 4 + 4
	flavorRaw         = 1
	flavorULEB        = 2
)

// ParseCounters decodes a counter file.
func ParseCounters(b []byte) (*Counters, error) {
	r := &reader{b: b}
	if magic := r.take(4); r.err == nil && [4]byte(magic) != counterMagic {
		return nil, formatErr("not a coverage counter file")
	}
	if v := r.u32(); r.err == nil && v != counterVersion {
		return nil, formatErr("counter file version %d (this covdist reads version %d)", v, counterVersion)
	}
	hash := r.take(16)
	flavor := r.u8()
	bigEndian := r.u8() != 0
	r.take(6)
	if r.err != nil {
		return nil, r.err
	}
	if flavor != flavorRaw && flavor != flavorULEB {
		return nil, formatErr("unknown counter flavor %d", flavor)
	}
	if len(b) < counterHeaderSize+counterFooterSize {
		return nil, formatErr("counter file of %d bytes has no footer", len(b))
	}
	foot := &reader{b: b, off: len(b) - counterFooterSize}
	if [4]byte(foot.take(4)) != counterMagic {
		return nil, formatErr("counter file footer has no magic")
	}
	foot.u32()
	segments := foot.u32()
	if segments == 0 {
		return nil, formatErr("counter file has no segments")
	}
	end := len(b) - counterFooterSize
	// The segments lie before the footer: reading them from b[:end] bounds
	// every length they claim, so none can reach past it.
	r = &reader{b: b[:end], off: r.off}
	c := &Counters{MetaHash: hex.EncodeToString(hash)}
	value := func() uint64 {
		if flavor == flavorULEB {
			return r.uleb()
		}
		s := r.take(4)
		if s == nil {
			return 0
		}
		if bigEndian {
			return uint64(binary.BigEndian.Uint32(s))
		}
		return uint64(binary.LittleEndian.Uint32(s))
	}
	for seg := uint32(0); seg < segments; seg++ {
		if seg > 0 {
			r.take(counterFooterSize) // each segment is followed by a footer
		}
		start := r.off
		funcs := r.u64()
		strLen := r.u32()
		argsLen := r.u32()
		r.take(int(strLen))
		r.take(int(argsLen))
		if pad := (r.off - start) % 4; pad != 0 {
			r.take(4 - pad)
		}
		if r.err != nil {
			return nil, r.err
		}
		if funcs > uint64(end-r.off)/3 { // each function takes at least three values
			return nil, formatErr("counter segment claims %d functions", funcs)
		}
		for i := uint64(0); i < funcs; i++ {
			n := value()
			pkg := value()
			fn := value()
			if r.err != nil {
				return nil, r.err
			}
			if n > uint64(end-r.off) || pkg > 1<<31-1 || fn > 1<<31-1 {
				return nil, formatErr("function entry %d of segment %d is out of range", i, seg)
			}
			counts := make([]uint32, n)
			for j := range counts {
				v := value()
				if v > 1<<32-1 {
					r.fail("counter out of range")
				}
				counts[j] = uint32(v)
			}
			if r.err != nil {
				return nil, r.err
			}
			c.Funcs = append(c.Funcs, FuncCounters{Pkg: int(pkg), Func: int(fn), Counts: counts})
		}
	}
	if r.off > end {
		return nil, formatErr("counter data runs into the footer")
	}
	return c, nil
}

// Blocks returns every block of m with a zero count: the shape of the
// code, to announce once.
func (m *Meta) Blocks() []coverage.Block {
	var out []coverage.Block
	for _, p := range m.Packages {
		for _, f := range p.Funcs {
			for _, u := range f.Units {
				out = append(out, coverage.Block{File: f.File, StartLine: u.StartLine, StartCol: u.StartCol,
					EndLine: u.EndLine, EndCol: u.EndCol, NumStmt: u.NumStmt})
			}
		}
	}
	return out
}

// Hits returns the blocks c counted, with their counts: only blocks with a
// non-zero count, since the others are m's shape.
func (m *Meta) Hits(c *Counters) ([]coverage.Block, error) {
	if c.MetaHash != m.Hash {
		return nil, fmt.Errorf("counters of meta-data %s read against meta-data %s", c.MetaHash, m.Hash)
	}
	var out []coverage.Block
	for _, fc := range c.Funcs {
		if fc.Pkg >= len(m.Packages) || fc.Func >= len(m.Packages[fc.Pkg].Funcs) {
			return nil, formatErr("counters for function %d of package %d, which the meta-data does not have", fc.Func, fc.Pkg)
		}
		f := m.Packages[fc.Pkg].Funcs[fc.Func]
		if len(fc.Counts) != len(f.Units) {
			return nil, formatErr("%d counters for a function of %s with %d blocks", len(fc.Counts), f.File, len(f.Units))
		}
		for i, n := range fc.Counts {
			if n == 0 {
				continue
			}
			u := f.Units[i]
			out = append(out, coverage.Block{File: f.File, StartLine: u.StartLine, StartCol: u.StartCol,
				EndLine: u.EndLine, EndCol: u.EndCol, NumStmt: u.NumStmt, Count: int64(n)})
		}
	}
	return out, nil
}

// Reader reads coverage directories, decoding each binary's meta-data
// once. It is not safe for concurrent use.
type Reader struct {
	metas map[string]*Meta
}

// NewReader returns a Reader with nothing decoded yet.
func NewReader() *Reader { return &Reader{metas: make(map[string]*Meta)} }

// Run is what one process left in a coverage directory.
type Run struct {
	Meta *Meta
	// New says Meta was decoded for this run: the Reader had not seen it.
	New bool
	// Hits are the counted blocks of every counter file of the binary
	// (the process's own and those of its re-executions of itself), merged.
	Hits *coverage.Profile
}

// counterFile is a counter file's name, split: covcounters.HASH.PID.NANOS.
type counterFile struct {
	name, hash string
	pid        int
}

func splitCounterName(name string) (counterFile, bool) {
	rest, ok := strings.CutPrefix(name, counterPrefix)
	if !ok {
		return counterFile{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return counterFile{}, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return counterFile{}, false
	}
	return counterFile{name: name, hash: parts[0], pid: pid}, true
}

// Wrote reports whether process pid left counters in dir.
func Wrote(dir string, pid int) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if cf, ok := splitCounterName(e.Name()); ok && cf.pid == pid {
			return true
		}
	}
	return false
}

// ReadDir reads the coverage that process pid left in dir, as go test
// reads a test's coverage directory: the counters of pid's binary (found
// by the counter file pid wrote), including those of any process that ran
// the same binary, such as a test re-executing itself as a helper.
// Counters of other instrumented binaries the test ran are not its
// coverage and are left out, as go test leaves them out.
func (r *Reader) ReadDir(dir string, pid int) (*Run, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []counterFile
	hash := ""
	hashes := make(map[string]bool)
	var metaNames []string
	for _, e := range ents {
		if cf, ok := splitCounterName(e.Name()); ok {
			files = append(files, cf)
			hashes[cf.hash] = true
			if cf.pid == pid {
				hash = cf.hash
			}
		} else if h, ok := strings.CutPrefix(e.Name(), metaPrefix); ok {
			metaNames = append(metaNames, h)
		}
	}
	if hash == "" {
		// A wrapper (exec=) may have run the binary as another process.
		switch {
		case len(hashes) == 1:
			for h := range hashes {
				hash = h
			}
		case len(hashes) == 0 && len(metaNames) == 1:
			hash = metaNames[0] // it ran no instrumented function
		case len(hashes) == 0:
			return nil, fmt.Errorf("the test process wrote no coverage data to %s", dir)
		default:
			return nil, fmt.Errorf("cannot tell which of %d binaries' coverage in %s is the test's", len(hashes), dir)
		}
	}
	run := &Run{Meta: r.metas[hash]}
	if run.Meta == nil {
		b, err := os.ReadFile(filepath.Join(dir, metaPrefix+hash))
		if err != nil {
			return nil, fmt.Errorf("reading coverage meta-data: %w", err)
		}
		m, err := ParseMeta(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metaPrefix+hash, err)
		}
		if m.Hash != hash {
			return nil, formatErr("%s holds the meta-data of %s", metaPrefix+hash, m.Hash)
		}
		r.metas[hash] = m
		run.Meta, run.New = m, true
	}
	run.Hits = coverage.New(run.Meta.Mode)
	for _, cf := range files {
		if cf.hash != hash {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, cf.name))
		if err != nil {
			return nil, err
		}
		c, err := ParseCounters(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cf.name, err)
		}
		hits, err := run.Meta.Hits(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cf.name, err)
		}
		if err := run.Hits.Add(cf.name, run.Meta.Mode, hits); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// ReadProfile reads a whole coverage directory, as go tool covdata textfmt
// reads one: every block of every binary whose meta-data file is there,
// with the counts of all that binary's counter files merged in (set: OR,
// count and atomic: sum), file names as a text coverprofile gives them.
// Unlike ReadDir it does not pick one process: this is the reading for a
// GOCOVERDIR that a go build -cover binary filled, run by hand or by
// integration tests. A directory without meta-data, a counter file whose
// meta-data is missing, and a corrupt file are errors that name it.
func ReadProfile(dir string) (*coverage.Profile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	metas := make(map[string]*Meta)
	var hashes []string // in file-name order, for an order-independent error
	var files []counterFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if cf, ok := splitCounterName(e.Name()); ok {
			files = append(files, cf)
		} else if h, ok := strings.CutPrefix(e.Name(), metaPrefix); ok {
			metas[h] = nil
			hashes = append(hashes, h)
		}
	}
	// Counters without their meta-data say more than "no meta-data": the
	// directory was copied in part.
	for _, cf := range files {
		if _, ok := metas[cf.hash]; !ok {
			return nil, fmt.Errorf("%s: no meta-data file %s beside it: copy the whole coverage directory, not only its counter files",
				show(filepath.Join(dir, cf.name)), show(metaPrefix+cf.hash))
		}
	}
	if len(hashes) == 0 {
		return nil, fmt.Errorf("%s holds no Go coverage data (covmeta.* files): is it a GOCOVERDIR?", show(dir))
	}
	p := coverage.New("")
	for _, h := range hashes {
		name := filepath.Join(dir, metaPrefix+h)
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		m, err := ParseMeta(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", show(name), err)
		}
		if m.Hash != h {
			return nil, formatErr("%s holds the meta-data of %s", show(name), m.Hash)
		}
		if err := p.Add(name, m.Mode, m.Blocks()); err != nil {
			return nil, err
		}
		metas[h] = m
	}
	for _, cf := range files {
		name := filepath.Join(dir, cf.name)
		m := metas[cf.hash]
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		c, err := ParseCounters(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", show(name), err)
		}
		hits, err := m.Hits(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", show(name), err)
		}
		if err := p.Add(name, m.Mode, hits); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// IsDataFile reports whether the file at name is one of a coverage
// directory's (a meta-data or counter file), by its name or, renamed, by
// its first bytes: a file to read with its directory, not as a text
// profile.
func IsDataFile(name string) bool {
	base := filepath.Base(name)
	if strings.HasPrefix(base, metaPrefix) || strings.HasPrefix(base, counterPrefix) {
		return true
	}
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	return magic == metaMagic || magic == counterMagic
}

// show returns a file name for an error message: as it is, or quoted when
// it holds what a terminal would not print as text.
func show(name string) string {
	if q := strconv.Quote(name); q[1:len(q)-1] != name {
		return q
	}
	return name
}
