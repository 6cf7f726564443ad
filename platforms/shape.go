package platforms

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/covdist/covdist/coverage"
)

// A package's shape is its coverage blocks with zero counts: what a
// profile says of it when none of its code ran. It comes from the
// platform's own cover tool, run on the package's files as the platform's
// build sees them, the way go build -cover cuts them into blocks, so it
// needs neither a test binary nor a machine that runs one: no test code,
// init function or TestMain of a package the run does not test is ever
// executed to learn it.

// coverVar names the counters variable the cover tool appends to a file.
const coverVar = "GoCoverCovdistShape"

var (
	posLine  = regexp.MustCompile(`^\s*(\d+), (\d+), 0x([0-9a-f]+), // \[(\d+)\]$`)
	stmtLine = regexp.MustCompile(`^\s*(\d+), // (\d+)$`)
)

// sourcePkg is a measured package's compiled files on a platform.
type sourcePkg struct {
	dir   string
	files []string // GoFiles and CgoFiles
}

// Shape returns the shape of the given measured packages on b's platform:
// every block of their files, with zero counts. Packages that are not
// measured, or hold no Go files, add nothing.
func (b *Built) Shape(ctx context.Context, mode string, pkgs []string) (*coverage.Profile, error) {
	if mode == "" {
		mode = "set"
	}
	type job struct{ pkg, dir, file string }
	var jobs []job
	for _, p := range pkgs {
		src, ok := b.sources[p]
		if !ok {
			continue
		}
		for _, f := range src.files {
			jobs = append(jobs, job{p, src.dir, f})
		}
	}
	if len(jobs) > 0 && b.toolDir == "" {
		return nil, fmt.Errorf("no cover tool known for %s", b.Name)
	}
	results := make([][]coverage.Block, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = fileShape(ctx, filepath.Join(b.toolDir, "cover"), j.pkg, filepath.Join(j.dir, j.file))
		}()
	}
	wg.Wait()
	p := coverage.New(mode)
	for i, bs := range results {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if err := p.Add("the source of "+jobs[i].pkg, mode, bs); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fileShape runs the cover tool on one file and reads its blocks from the
// counters variable it appends: for each block, start line, end line and
// both columns packed (start | end<<16), then each block's statements.
func fileShape(ctx context.Context, cover, pkg, path string) ([]coverage.Block, error) {
	cmd := exec.CommandContext(ctx, cover, "-mode=set", "-var="+coverVar, path)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{Step: "reading the coverage blocks of " + path, Output: stderr.String() + err.Error()}
	}
	text := out.String()
	i := strings.LastIndex(text, "\nvar "+coverVar+" = struct {")
	if i < 0 {
		return nil, fmt.Errorf("the cover tool wrote no block table for %s", path)
	}
	name := pkg + "/" + filepath.Base(path)
	var blocks []coverage.Block
	var stmts []int
	for _, l := range strings.Split(text[i:], "\n") {
		if m := posLine.FindStringSubmatch(l); m != nil {
			sl, _ := strconv.Atoi(m[1])
			el, _ := strconv.Atoi(m[2])
			cols, _ := strconv.ParseUint(m[3], 16, 64)
			blocks = append(blocks, coverage.Block{File: name, StartLine: sl, StartCol: int(cols & 0xffff), EndLine: el, EndCol: int(cols >> 16)})
		} else if m := stmtLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			stmts = append(stmts, n)
		}
	}
	if len(stmts) != len(blocks) {
		return nil, fmt.Errorf("the cover tool's block table for %s has %d positions but %d statement counts", path, len(blocks), len(stmts))
	}
	for i := range blocks {
		blocks[i].NumStmt = stmts[i]
	}
	return blocks, nil
}

// Missing returns the measured packages with Go files of which p holds no
// block: those no test process of the run delivered coverage for (every
// one of them crashed, or could not start).
func (b *Built) Missing(p *coverage.Profile) []string {
	have := make(map[string]bool)
	for _, f := range p.Files() {
		have[pathDir(f)] = true
	}
	var out []string
	for pkg, src := range b.sources {
		if len(src.files) > 0 && !have[pkg] {
			out = append(out, pkg)
		}
	}
	sort.Strings(out)
	return out
}

// pathDir is a profile file name's package: its import path.
func pathDir(file string) string {
	if i := strings.LastIndex(file, "/"); i >= 0 {
		return file[:i]
	}
	return ""
}
