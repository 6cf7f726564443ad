package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// The generators write small stdlib-only modules. Durations come from a
// fixed seed so every run of the benchmark measures the same workload.

func newRand() *rand.Rand { return rand.New(rand.NewPCG(2024, 2)) }

// writeModule writes go.mod and files (path relative to dir -> content).
func writeModule(dir, path string, files map[string]string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	files["go.mod"] = "module " + path + "\n\ngo 1.24\n"
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// libSource is a package's code under test: a few branches for the tests'
// coverage to tell apart.
func libSource(pkg string) string {
	return fmt.Sprintf(`package %s

// Classify sorts n into one of a few classes.
func Classify(n int) string {
	switch {
	case n < 0:
		return "negative"
	case n == 0:
		return "zero"
	case n%%15 == 0:
		return "fizzbuzz"
	case n%%5 == 0:
		return "buzz"
	case n%%3 == 0:
		return "fizz"
	}
	return "plain"
}

// Digest mixes n rounds of xorshift, a little real work.
func Digest(seed uint64, n int) uint64 {
	x := seed | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	if x%%2 == 0 {
		return x / 2
	}
	return x
}
`, pkg)
}

// sleepTest is a test that sleeps ms milliseconds and touches the package.
func sleepTest(name string, ms, n int) string {
	return fmt.Sprintf(`
func %s(t *testing.T) {
	time.Sleep(%d * time.Millisecond)
	if Classify(%d) == "" {
		t.Fatal("no class")
	}
}
`, name, ms, n)
}

// genSequential is workload (a): one package, 12 sequential tests of 0.5-2 s.
func genSequential(dir string) (string, error) {
	r := newRand()
	var b strings.Builder
	b.WriteString("package seq\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n")
	total := 0
	for i := 0; i < 12; i++ {
		ms := 500 + r.IntN(1501)
		total += ms
		b.WriteString(sleepTest(fmt.Sprintf("TestSleep%02d", i), ms, i))
	}
	return fmt.Sprintf("12 tests, %.1f s in all", float64(total)/1000), writeModule(dir, "bench.example/seq", map[string]string{
		"seq/seq.go":      libSource("seq"),
		"seq/seq_test.go": b.String(),
	})
}

// genUneven is workload (b): 40 packages whose tests sum to 0.05-1.5 s each,
// most of them light and a few heavy.
func genUneven(dir string) (string, error) {
	r := newRand()
	files := map[string]string{}
	total := 0
	for p := 0; p < 40; p++ {
		pkg := fmt.Sprintf("p%02d", p)
		u := r.Float64()
		pkgMs := 50 + int(1450*u*u*u) // skewed: a few heavy packages
		nTests := 2 + r.IntN(4)
		var b strings.Builder
		b.WriteString("package " + pkg + "\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n")
		left := pkgMs
		for i := 0; i < nTests; i++ {
			ms := left / (nTests - i)
			if i < nTests-1 {
				ms = ms/2 + r.IntN(ms+1) // uneven split around the mean
				if ms > left {
					ms = left
				}
			}
			left -= ms
			total += ms
			b.WriteString(sleepTest(fmt.Sprintf("Test%s_%d", strings.ToUpper(pkg), i), ms, p*7+i))
		}
		files[pkg+"/lib.go"] = libSource(pkg)
		files[pkg+"/lib_test.go"] = b.String()
	}
	return fmt.Sprintf("40 packages, %.1f s of tests in all", float64(total)/1000), writeModule(dir, "bench.example/uneven", files)
}

// genTiny is workload (c): 2,000 tiny tests in 10 packages, each doing a
// little work on its package's code.
func genTiny(dir string) (string, error) {
	files := map[string]string{}
	for p := 0; p < 10; p++ {
		pkg := fmt.Sprintf("t%d", p)
		var b strings.Builder
		b.WriteString("package " + pkg + "\n\nimport \"testing\"\n")
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&b, `
func TestTiny%03d(t *testing.T) {
	if Classify(%d) == "" || Digest(%d, 2000) == 0 {
		t.Fatal("no result")
	}
}
`, i, i-3, i)
		}
		files[pkg+"/lib.go"] = libSource(pkg)
		files[pkg+"/lib_test.go"] = b.String()
	}
	return "10 packages x 200 tests", writeModule(dir, "bench.example/tiny", files)
}

// genWide is workload (d): pkgs packages of funcs functions with ifs
// branches each (about 2*ifs+1 coverage blocks per function), and tests
// tests, each calling its own slice of functions. The tests live in
// testPkgs packages (few binaries, so few links) and each links the whole
// module through package all, so a run's full profile spans every block, as
// it does when a module's packages import each other.
func genWide(dir string, pkgs, funcs, ifs, tests, testPkgs int) (string, error) {
	const modPath = "bench.example/wide"
	files := map[string]string{}
	var all strings.Builder
	all.WriteString("// Package all links every package of the module.\npackage all\n\nimport (\n")
	for p := 0; p < pkgs; p++ {
		pkg := fmt.Sprintf("w%02d", p)
		fmt.Fprintf(&all, "\t_ %q\n", modPath+"/"+pkg)
		var src strings.Builder
		src.WriteString("package " + pkg + "\n")
		for f := 0; f < funcs; f++ {
			fmt.Fprintf(&src, "\nfunc F%03d(x int) int {\n\tr := 0\n", f)
			for i := 0; i < ifs; i++ {
				fmt.Fprintf(&src, "\tif x&%d != 0 {\n\t\tr += %d\n\t}\n", 1<<(i%30), i+1)
			}
			src.WriteString("\treturn r\n}\n")
		}
		files[pkg+"/gen.go"] = src.String()
	}
	all.WriteString(")\n")
	files["all/all.go"] = all.String()

	// Test t calls a slice of package t*pkgs/tests's functions.
	perPkg := tests / testPkgs
	slices := tests / pkgs // tests per code package
	per := (funcs + slices - 1) / slices
	for tp := 0; tp < testPkgs; tp++ {
		pkg := fmt.Sprintf("w%02d", tp)
		var b strings.Builder
		uses := map[int]bool{}
		var body strings.Builder
		for t := tp * perPkg; t < (tp+1)*perPkg; t++ {
			code := t / slices
			uses[code] = true
			fmt.Fprintf(&body, "\nfunc Test%03d(t *testing.T) {\n\tsum := 0\n", t)
			for f := (t % slices) * per; f < (t%slices+1)*per && f < funcs; f++ {
				fmt.Fprintf(&body, "\tsum += w%02d.F%03d(%d)\n", code, f, (f*2654435761)&(1<<20-1))
			}
			body.WriteString("\tif sum < 0 {\n\t\tt.Fatal(sum)\n\t}\n}\n")
		}
		b.WriteString("package " + pkg + "_test\n\nimport (\n\t\"testing\"\n\n\t_ \"" + modPath + "/all\"\n")
		for p := 0; p < pkgs; p++ {
			if uses[p] {
				fmt.Fprintf(&b, "\t\"%s/w%02d\"\n", modPath, p)
			}
		}
		b.WriteString(")\n")
		b.WriteString(body.String())
		files[pkg+"/gen_test.go"] = b.String()
	}
	return fmt.Sprintf("%d packages x %d funcs x %d ifs; %d tests in %d packages, each linking the whole module", pkgs, funcs, ifs, tests, testPkgs),
		writeModule(dir, modPath, files)
}
