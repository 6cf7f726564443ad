package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/covdist/covdist/internal/sshtest"
)

// Benchmarks of remote workers and of each mode, run by make bench beside
// ./bench (which compares local runs with go test). Each prints a small
// table of medians and ratios; they need a real sshd and qemu-user, as the
// tests do. Run alone with:
//
//	go test -run='^$' -bench='Remote|Each' -benchtime=1x ./cmd/covdist/

const benchRounds = 3

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func wall(r runResult) float64 {
	w, _ := r.stats["wall_seconds"].(float64)
	return w
}

func statInt(r runResult, key string) int64 {
	v, _ := r.stats[key].(float64)
	return int64(v)
}

// slowModule has 8 tests of 0.5 s in two packages, and 400 tiny ones.
func slowModule(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("go.mod", "module example.com/benchremote\n\ngo 1.22\n")
	for _, pkg := range []string{"slowa", "slowb"} {
		write(pkg+"/s.go", "package "+pkg+"\n\nfunc Work(i int) int { return i * 2 }\n")
		src := "package " + pkg + "\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\n"
		for i := 0; i < 4; i++ {
			src += fmt.Sprintf("func TestSlow%d(t *testing.T) { time.Sleep(500 * time.Millisecond); Work(%d) }\n", i, i)
		}
		write(pkg+"/s_test.go", src)
	}
	src := "package tiny\n\nimport \"testing\"\n\n"
	for i := 0; i < 400; i++ {
		src += fmt.Sprintf("func TestTiny%03d(t *testing.T) { Work(%d) }\n", i, i)
	}
	write("tiny/t.go", "package tiny\n\nfunc Work(i int) int {\n\tif i%2 == 0 {\n\t\treturn i\n\t}\n\treturn -i\n}\n")
	write("tiny/t_test.go", src)
	return dir
}

// BenchmarkRemoteSSH compares two SSH workers (a real sshd on loopback)
// with two local ones on the same module, and measures the sync of a 50 MB
// --rsyncdir: first run, then unchanged.
func BenchmarkRemoteSSH(b *testing.B) {
	srv := sshtest.Start(b)
	mod := slowModule(b)
	big := filepath.Join(mod, "fixtures")
	os.MkdirAll(big, 0o755)
	for i := 0; i < 50; i++ {
		data := make([]byte, 1<<20)
		rand.Read(data)
		os.WriteFile(filepath.Join(big, fmt.Sprintf("blob%02d.bin", i)), data, 0o644)
	}
	ssh := "--tx=2*ssh=sshtest//ssh_config=" + srv.Config
	for i := 0; i < b.N; i++ {
		first := runCovdist(b, mod, ssh, "--rsyncdir="+big, "./...")
		second := runCovdist(b, mod, ssh, "--rsyncdir="+big, "./...")
		if first.code != 0 || second.code != 0 {
			b.Fatalf("ssh runs failed:\n%s\n%s", first.out, second.out)
		}
		// Warm both (durations remembered, build cache), then alternate.
		runCovdist(b, mod, "-n", "2", "./...")
		var local, remote, localTiny, remoteTiny []float64
		for r := 0; r < benchRounds; r++ {
			l := runCovdist(b, mod, "-n", "2", "./slowa", "./slowb")
			s := runCovdist(b, mod, ssh, "./slowa", "./slowb")
			lt := runCovdist(b, mod, "-n", "2", "--boxed", "./tiny")
			st := runCovdist(b, mod, ssh, "--boxed", "./tiny")
			if l.code != 0 || s.code != 0 || lt.code != 0 || st.code != 0 {
				b.Fatalf("a run failed:\n%s\n%s\n%s\n%s", l.out, s.out, lt.out, st.out)
			}
			local, remote = append(local, wall(l)), append(remote, wall(s))
			localTiny, remoteTiny = append(localTiny, wall(lt)), append(remoteTiny, wall(st))
		}
		ratio := median(remote) / median(local)
		perTest := (median(remoteTiny) - median(localTiny)) / 400 * 1000
		fmt.Printf("\nremote workers (%d rounds, medians)\n", benchRounds)
		fmt.Printf("  slow tests: -n 2 %.2fs, 2*ssh %.2fs, ratio %.2f (target <= 1.10): %s\n",
			median(local), median(remote), ratio, verdict(ratio <= 1.10))
		fmt.Printf("  400 tiny tests, one process each: -n 2 %.2fs, 2*ssh %.2fs: +%.2f ms per test over ssh\n",
			median(localTiny), median(remoteTiny), perTest)
		fmt.Printf("  sync of a 50 MB --rsyncdir: first run %d bytes of content (%d on the wire), unchanged second run %d (%d on the wire)\n",
			statInt(first, "sync_bytes"), statInt(first, "sync_wire_bytes"), statInt(second, "sync_bytes"), statInt(second, "sync_wire_bytes"))
		b.ReportMetric(ratio, "ssh/local")
		b.ReportMetric(perTest, "ms/test-overhead")
		b.ReportMetric(float64(statInt(second, "sync_bytes")), "B-resync")
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// BenchmarkEachMatrix compares a 3-platform each run with the sum of the
// three single-platform runs, and a second unchanged run with the first.
func BenchmarkEachMatrix(b *testing.B) {
	if _, err := os.Stat("/usr/bin/qemu-aarch64"); err != nil {
		b.Skip("needs qemu-user (make test installs it)")
	}
	mod, err := filepath.Abs("../../testdata/matrix")
	if err != nil {
		b.Fatal(err)
	}
	plats := [][]string{{"--tx=popen"}, {"--tx=popen//goarch=386"}, {"--tx=popen//goarch=arm64//exec=qemu-aarch64"}}
	each := []string{"--dist=each", "--tx=popen", "--tx=popen//goarch=386", "--tx=popen//goarch=arm64//exec=qemu-aarch64"}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		runCovdist(b, mod, append(each, "./...")...) // warm the build cache for every platform
		firstEver := time.Since(start).Seconds()
		var sums, eaches, builds []float64
		for r := 0; r < benchRounds; r++ {
			var sum float64
			for _, p := range plats {
				sum += wall(runCovdist(b, mod, append(p, "./...")...))
			}
			e := runCovdist(b, mod, append(each, "./...")...)
			sums, eaches = append(sums, sum), append(eaches, wall(e))
			builds = append(builds, float64(statInt(e, "build_ms"))/1000)
		}
		ratio := median(eaches) / median(sums)
		fmt.Printf("\neach mode over 3 platforms (host, linux/386, linux/arm64 under qemu; %d rounds, medians)\n", benchRounds)
		fmt.Printf("  each run %.2fs against the sum of three single-platform runs %.2fs: ratio %.2f (< 1: platforms build and run concurrently)\n",
			median(eaches), median(sums), ratio)
		fmt.Printf("  first run of this benchmark %.2fs; warm runs build in %.2fs (go's build cache: compiling is skipped, linking is redone)\n",
			firstEver, median(builds))
		b.ReportMetric(ratio, "each/sum")
	}
}
