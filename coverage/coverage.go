// Package coverage owns Go coverage profiles inside covdist: parsing them,
// merging them (per platform and combined), moving them sparsely between an
// agent and the coordinator, and summarising them per file.
//
// Merge rules follow Go's own tooling (cmd/covdata): blocks are keyed by file
// and span; set mode ORs counts, count and atomic modes sum them; a block
// whose NumStmt differs between two sources, or two sources of different
// modes, is an error that names both sources. Merging is order-independent,
// and idempotent in set mode.
//
// Package coverage imports no other covdist package.
package coverage

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/tools/cover"
)

// Block is one basic block of a profile.
type Block struct {
	File      string
	StartLine int
	StartCol  int
	EndLine   int
	EndCol    int
	NumStmt   int
	Count     int64
}

// key is a block's identity. Files are interned: a coordinator merges
// hundreds of thousands of blocks per run, and hashing five small
// integers is several times cheaper than hashing a file name each time.
type key struct {
	file           int32 // index into Profile.files
	sl, sc, el, ec int32
}

type entry struct {
	key
	numStmt int32
	source  int32 // the first source that brought this block (index into Profile.sources), for clash errors
	count   int64
}

// Profile is a merged coverage profile. The zero value is not usable; call New.
//
// Blocks live in a slice, found by key through a map: a Stream refers to
// them by their place in the slice, so that counts sent again and again
// for the same blocks merge without hashing anything.
type Profile struct {
	mode     string
	modeBy   string // the first source that set the mode
	index    map[key]int32
	entries  []entry
	files    []string
	fileID   map[string]int32
	sources  []string
	sourceID map[string]int32
}

// New returns an empty profile. mode may be empty: the first merged source sets it.
func New(mode string) *Profile {
	return &Profile{mode: mode, index: make(map[key]int32), fileID: make(map[string]int32), sourceID: make(map[string]int32)}
}

func (p *Profile) file(name string) int32   { return intern(p.fileID, &p.files, name) }
func (p *Profile) source(name string) int32 { return intern(p.sourceID, &p.sources, name) }

// intern returns name's index in names, adding it the first time.
func intern(ids map[string]int32, names *[]string, name string) int32 {
	id, ok := ids[name]
	if !ok {
		id = int32(len(*names))
		*names = append(*names, name)
		ids[name] = id
	}
	return id
}

// Mode returns the profile's mode: set, count or atomic (empty if nothing was merged).
func (p *Profile) Mode() string { return p.mode }

// Len returns the number of distinct blocks.
func (p *Profile) Len() int { return len(p.entries) }

func (p *Profile) setMode(source, mode string) error {
	switch mode {
	case "set", "count", "atomic":
	default:
		return fmt.Errorf("%s: unknown coverage mode %q (want set, count or atomic)", source, mode)
	}
	if p.mode == "" {
		p.mode, p.modeBy = mode, source
		return nil
	}
	if p.mode != mode {
		by := p.modeBy
		if by == "" {
			by = "this run"
		}
		return fmt.Errorf("coverage mode clash: %s is %q but %s is %q", source, mode, by, p.mode)
	}
	if p.modeBy == "" {
		p.modeBy = source
	}
	return nil
}

// Add merges blocks of the given mode from source (a file, worker or run
// name used in errors). Blocks before a clash stay merged; callers treat any
// error as fatal for that source.
func (p *Profile) Add(source, mode string, blocks []Block) error {
	if err := p.setMode(source, mode); err != nil {
		return err
	}
	src := int32(-1)
	lastFile, lastID := "", int32(-1)
	for _, b := range blocks {
		if b.File != lastFile || lastID < 0 {
			lastFile, lastID = b.File, p.file(b.File)
		}
		if err := checkRange(source, b); err != nil {
			return err
		}
		k := key{lastID, int32(b.StartLine), int32(b.StartCol), int32(b.EndLine), int32(b.EndCol)}
		if _, err := p.add(source, &src, k, int32(b.NumStmt), b.Count); err != nil {
			return err
		}
	}
	return nil
}

// checkRange refuses a block whose numbers do not fit a profile: negative,
// or beyond what a Go source position can be.
func checkRange(source string, b Block) error {
	if b.Count < 0 {
		return fmt.Errorf("%s: negative count %d in block %s", source, b.Count, span(b))
	}
	if bad(b.StartLine) || bad(b.StartCol) || bad(b.EndLine) || bad(b.EndCol) || bad(b.NumStmt) {
		return fmt.Errorf("%s: out-of-range number in block %s %d", source, span(b), b.NumStmt)
	}
	return nil
}

func bad(v int) bool { return v < 0 || v > math.MaxInt32 }

// add merges one block and returns its place in p.entries (also when its
// statements clash with the block already there, which is then the error).
// src caches the source's index, -1 until needed.
func (p *Profile) add(source string, src *int32, k key, numStmt int32, count int64) (int32, error) {
	i, ok := p.index[k]
	if !ok {
		if p.mode == "set" && count > 1 {
			// A set profile only says hit or not; keeping a larger count
			// would make merging a profile with itself change it.
			count = 1
		}
		if *src < 0 {
			*src = p.source(source)
		}
		i = int32(len(p.entries))
		p.entries = append(p.entries, entry{key: k, numStmt: numStmt, count: count, source: *src})
		p.index[k] = i
		return i, nil
	}
	e := &p.entries[i]
	if e.numStmt != numStmt {
		return i, fmt.Errorf("coverage clash in block %s: %s says %d statements but %s says %d (were they built from different sources?)",
			p.span(k), source, numStmt, p.sources[e.source], e.numStmt)
	}
	p.count(e, count)
	return i, nil
}

// count adds a count to a block, as the profile's mode merges counts.
func (p *Profile) count(e *entry, count int64) {
	switch {
	case p.mode == "set":
		if count > 0 {
			e.count = 1
		}
	case count == 0:
	case e.count > math.MaxInt64-count:
		// Saturate, as cmd/covdata does, rather than wrap to a negative count.
		e.count = math.MaxInt64
	default:
		e.count += count
	}
}

func (p *Profile) span(k key) string {
	return fmt.Sprintf("%s:%d.%d,%d.%d", p.files[k.file], k.sl, k.sc, k.el, k.ec)
}

func span(b Block) string {
	return fmt.Sprintf("%s:%d.%d,%d.%d", b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol)
}

// Merge adds every block of q into p.
func (p *Profile) Merge(source string, q *Profile) error {
	if q.mode == "" {
		return nil
	}
	return p.Add(source, q.mode, q.Blocks())
}

// Blocks returns all blocks, sorted by file then position.
func (p *Profile) Blocks() []Block {
	out := make([]Block, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, Block{p.files[e.file], int(e.sl), int(e.sc), int(e.el), int(e.ec), int(e.numStmt), e.count})
	}
	sortBlocks(out)
	return out
}

func sortBlocks(bs []Block) {
	sort.Slice(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		if a.StartCol != b.StartCol {
			return a.StartCol < b.StartCol
		}
		if a.EndLine != b.EndLine {
			return a.EndLine < b.EndLine
		}
		return a.EndCol < b.EndCol
	})
}

// Files returns the distinct file names, sorted.
func (p *Profile) Files() []string {
	seen := make(map[string]bool)
	for _, e := range p.entries {
		seen[p.files[e.file]] = true
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ZeroCounts returns a copy of p whose blocks all have count 0: the shape of
// the code without any execution, for packages that no test ran.
func (p *Profile) ZeroCounts() *Profile {
	q := New(p.mode)
	q.modeBy = p.modeBy
	q.files, q.sources = append(q.files, p.files...), append(q.sources, p.sources...)
	for name, id := range p.fileID {
		q.fileID[name] = id
	}
	for name, id := range p.sourceID {
		q.sourceID[name] = id
	}
	q.entries = make([]entry, len(p.entries))
	for i, e := range p.entries {
		e.count = 0
		q.entries[i] = e
		q.index[e.key] = int32(i)
	}
	return q
}

// WriteTo writes p as a Go coverprofile that go tool cover reads.
func (p *Profile) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	mode := p.mode
	if mode == "" {
		mode = "set"
	}
	fmt.Fprintf(&sb, "mode: %s\n", mode)
	for _, b := range p.Blocks() {
		fmt.Fprintf(&sb, "%s:%d.%d,%d.%d %d %d\n", b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.NumStmt, b.Count)
	}
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

// Parse reads a Go coverprofile from r. source names r in errors.
// A profile may hold several mode lines (concatenated profiles) as long as
// they agree; blocks of a later part are named "source:LINE" in clash
// errors, LINE being the line of that part's mode line. A profile with a
// mode line but no blocks keeps its mode.
func Parse(r io.Reader, source string) (*Profile, error) {
	p := New("")
	var part strings.Builder
	partLine := 1
	flush := func() error {
		if part.Len() == 0 {
			return nil
		}
		partSource := source
		if partLine > 1 {
			partSource = fmt.Sprintf("%s:%d", source, partLine)
		}
		return p.parsePart(part.String(), partSource)
	}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if n > 1 && isModeLine(line) {
			if err := flush(); err != nil {
				return nil, err
			}
			part.Reset()
			partLine = n
		}
		part.WriteString(line)
		part.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("reading coverage profile %s: %w", source, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return p, nil
}

// isModeLine reports whether line starts another concatenated profile. Only
// the three real modes count, so that a block of a file whose name happens
// to start with "mode: " is still read as a block.
func isModeLine(line string) bool {
	switch line {
	case "mode: set", "mode: count", "mode: atomic":
		return true
	}
	return false
}

// parsePart merges one profile that starts with its mode line.
// cover.ParseProfilesFromReader reads only one mode line, hence the parts.
func (p *Profile) parsePart(text, partSource string) error {
	// The mode line is checked here, not by cover, whose error quotes the
	// line raw: a binary file or terminal escapes would reach the terminal.
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "mode: ") {
		return fmt.Errorf("parsing coverage profile %s: bad mode line %s: want \"mode: set\", \"mode: count\" or \"mode: atomic\" (is it a text coverprofile?)", partSource, quoteShort(first))
	}
	mode := strings.TrimPrefix(first, "mode: ")
	profs, err := cover.ParseProfilesFromReader(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("parsing coverage profile %s: %s", partSource, quoteControl(err.Error()))
	}
	if err := p.setMode(partSource, mode); err != nil {
		return err
	}
	for _, pr := range profs {
		bs := make([]Block, len(pr.Blocks))
		for i, b := range pr.Blocks {
			bs[i] = Block{pr.FileName, b.StartLine, b.StartCol, b.EndLine, b.EndCol, b.NumStmt, int64(b.Count)}
		}
		if err := p.Add(partSource, mode, bs); err != nil {
			return err
		}
	}
	return nil
}

// quoteShort quotes line for an error message, cut to a readable length.
func quoteShort(line string) string {
	const max = 60
	if len(line) > max {
		return strconv.QuoteToASCII(line[:max]) + "..."
	}
	return strconv.QuoteToASCII(line)
}

// quoteControl escapes the control characters and invalid UTF-8 of msg, so
// that an error quoting a line of a hostile file prints only what it says.
func quoteControl(msg string) string {
	var sb strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&sb, "\\x%02x", msg[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			sb.WriteString(q[1 : len(q)-1])
		default:
			sb.WriteString(msg[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// ParseFile reads the Go coverprofile at name.
func ParseFile(name string) (*Profile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, name)
}
