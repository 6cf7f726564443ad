package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/covdist/covdist/coverage"
)

// LCOV writes an LCOV tracefile, which genhtml, Codecov, Coveralls and
// editor plugins read: per file (relative to the module root, sorted, after
// opt.PathPrefix) its lines with hit counts, lines found and lines hit.
// Lines are counted as in Cobertura. For example:
//
//	SF:calc/calc.go
//	DA:3,1
//	DA:4,0
//	LF:2
//	LH:1
//	end_of_record
func LCOV(w io.Writer, combined *coverage.Profile, opt Options) error {
	bw := bufio.NewWriter(w)
	byLine := lines(combined)
	files, _, _ := rows(combined, nil, opt)
	for _, f := range files {
		lh := byLine[f.path]
		nums, hit := lh.sorted()
		fmt.Fprintf(bw, "SF:%s\n", opt.repoName(f.path))
		for _, n := range nums {
			fmt.Fprintf(bw, "DA:%d,%d\n", n, lh.hits[n])
		}
		fmt.Fprintf(bw, "LF:%d\nLH:%d\nend_of_record\n", len(nums), hit)
	}
	return bw.Flush()
}
