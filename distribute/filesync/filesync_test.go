package filesync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covdist/covdist/distribute/agent"
	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
)

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const windows = runtime.GOOS == "windows"

func TestCheckPath(t *testing.T) {
	tests := []struct {
		name, path string
		ok         bool
	}{
		{"plain", "a", true},
		{"nested", "src/calc/testdata/x.txt", true},
		{"dotfile", "src/.hidden", true},
		{"dots in a name", "a/b..c", true},
		{"empty", "", false},
		{"dotdot", "..", false},
		{"leading dotdot", "../x", false},
		{"inner dotdot", "a/../b", false},
		{"trailing dotdot", "a/..", false},
		{"absolute", "/etc/passwd", false},
		{"dot", ".", false},
		{"dot element", "./a", false},
		{"trailing slash", "a/", false},
		{"double slash", "a//b", false},
		// Elsewhere than on Windows only "/" separates: a backslash or a
		// colon is a byte of a name, and `a\..\b` one name, no way up.
		{"backslash", `a\..\b`, !windows},
		{"backslash name", `testdata/back\slash.txt`, !windows},
		{"backslash dotdot element", `t/..\..\x`, !windows},
		{"drive letter", "C:x", !windows},
		{"colon name", "testdata/a:b.txt", !windows},
		{"stream", "t/x:stream:$DATA", !windows},
		{"dotdot beside a backslash", `t/a\b/../../x`, false},
		{"dotdot beside a colon", "t/a:b/../../x", false},
		{"NUL", "a\x00b", false},
		{"content store", ".covdist-objects/x", false},
		{"content store itself", ".covdist-objects", false},
		{"too long", strings.Repeat("a/", 600) + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := filesync.CheckPath(tt.path)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPath(%q) = %v; want ok %v", tt.path, err, tt.ok)
			}
			if err != nil && !errors.Is(err, filesync.ErrUnsafe) {
				t.Fatalf("got %v; want ErrUnsafe", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	h := hashOf("x")
	file := func(p string) wire.SyncFile { return wire.SyncFile{Path: p, Size: 1, Hash: h} }
	link := func(p, to string) wire.SyncFile { return wire.SyncFile{Path: p, Link: to} }
	tests := []struct {
		name  string
		trees []string
		files []wire.SyncFile
		want  string // "" for valid
	}{
		{"valid", []string{"src/a", "bin/0"}, []wire.SyncFile{file("bin/0"), file("src/a/x"), link("src/a/l", "x"), {Path: "src/a/d", Dir: true}}, ""},
		{"link up within tree", []string{"t"}, []wire.SyncFile{link("t/a/b/l", "../../x")}, ""},
		{"link to tree root", []string{"t"}, []wire.SyncFile{link("t/a/l", "..")}, ""},
		{"escaping path", []string{"t"}, []wire.SyncFile{file("t/../../etc/passwd")}, "unsafe"},
		{"absolute path", []string{"t"}, []wire.SyncFile{file("/etc/passwd")}, "unsafe"},
		{"NUL path", []string{"t"}, []wire.SyncFile{file("t/a\x00")}, "NUL"},
		{"empty path", []string{"t"}, []wire.SyncFile{file("")}, "empty"},
		{"escaping tree", []string{"../t"}, nil, "unsafe"},
		{"absolute tree", []string{"/t"}, nil, "unsafe"},
		{"tree twice", []string{"t", "t"}, nil, "twice"},
		{"file outside trees", []string{"t"}, []wire.SyncFile{file("u/x")}, "none of"},
		{"files without trees", nil, []wire.SyncFile{file("u/x")}, "no trees"},
		{"duplicate", []string{"t"}, []wire.SyncFile{file("t/x"), file("t/x")}, "twice"},
		{"absolute link", []string{"t"}, []wire.SyncFile{link("t/l", "/etc")}, "absolute"},
		{"link leaving tree", []string{"t"}, []wire.SyncFile{link("t/l", "../u")}, "leaves"},
		{"link leaving root", []string{"t"}, []wire.SyncFile{link("t/a/l", "../../../..")}, "leaves"},
		{"link into another tree", []string{"t", "u"}, []wire.SyncFile{link("t/l", "../u/x")}, "leaves"},
		{"link with NUL", []string{"t"}, []wire.SyncFile{link("t/l", "x\x00")}, "NUL"},
		// `..\..` is one name beside the link, not two steps up, except on
		// Windows; a colon is a byte of a name except on Windows.
		{"link with backslash", []string{"t"}, []wire.SyncFile{link("t/l", `..\..`)}, map[bool]string{true: "cannot hold"}[windows]},
		{"link with colon", []string{"t"}, []wire.SyncFile{link("t/l", "a:b")}, map[bool]string{true: "cannot hold"}[windows]},
		{"backslash name", []string{"t"}, []wire.SyncFile{file(`t/back\slash.txt`), file(`t/..\..\x`)}, map[bool]string{true: "cannot hold"}[windows]},
		{"colon name", []string{"t"}, []wire.SyncFile{file("t/a:b.txt"), {Path: "t/c:d", Dir: true}}, map[bool]string{true: "cannot hold"}[windows]},
		{"link by backslash dotdot", []string{"t"}, []wire.SyncFile{link(`t/a\b/l`, "../../x")}, "leaves"},
		{"link with a hash", []string{"t"}, []wire.SyncFile{{Path: "t/l", Link: "x", Hash: h}}, "file fields"},
		{"beneath a link", []string{"t"}, []wire.SyncFile{link("t/l", "d"), file("t/l/x")}, "beneath"},
		{"beneath a file", []string{"t"}, []wire.SyncFile{file("t/f"), file("t/f/x")}, "beneath"},
		{"bad hash", []string{"t"}, []wire.SyncFile{{Path: "t/x", Size: 1, Hash: "../../x"}}, "malformed hash"},
		{"upper-case hash", []string{"t"}, []wire.SyncFile{{Path: "t/x", Size: 1, Hash: strings.ToUpper(h)}}, "malformed hash"},
		{"negative size", []string{"t"}, []wire.SyncFile{{Path: "t/x", Size: -1, Hash: h}}, "size"},
		{"huge file", []string{"t"}, []wire.SyncFile{{Path: "t/x", Size: filesync.MaxFileSize + 1, Hash: h}}, "size"},
		{"empty with content hash", []string{"t"}, []wire.SyncFile{{Path: "t/x", Hash: h}}, "empty but"},
		{"one hash two sizes", []string{"t"}, []wire.SyncFile{file("t/x"), {Path: "t/y", Size: 2, Hash: h}}, "sizes"},
		{"content store", []string{".covdist-objects"}, nil, "content store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := filesync.Validate(&wire.SyncManifest{Trees: tt.trees, Files: tt.files})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v; want valid", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got valid; want an error holding %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got %v; want an error holding %q", err, tt.want)
			}
		})
	}
}

// write makes files under dir: name -> content; a name ending in "*" is
// executable, "@target" content makes a symbolic link, a name ending in "/"
// an empty directory.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(name, "*")))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if target, ok := strings.CutPrefix(content, "@"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes dir like write's input, leaving out covdist's own
// files (the content store, the index).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, ".covdist-") && !strings.Contains(rel, "/") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // covdist's own: the store, the index, the claim
		}
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			ents, _ := os.ReadDir(p)
			if len(ents) == 0 {
				got[rel+"/"] = ""
			}
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			got[rel] = "@" + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			name := rel
			if fi.Mode()&0o111 != 0 {
				name += "*"
			}
			got[name] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func diff(got, want map[string]string) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, "missing "+k)
		} else if g != v {
			out = append(out, "wrong "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// agentSide is the agent end of an in-memory stream: it applies every
// manifest it receives under root.
type agentSide struct {
	conn  *wire.Conn
	dones chan *wire.SyncDone
	errs  chan error
}

// pipe connects a coordinator conn to an agent applying under root. The
// agent ends when the test does.
func pipe(t *testing.T, root string) (*wire.Conn, *agentSide) {
	t.Helper()
	return pipeAs(t, root, runtime.GOOS)
}

// pipeAs is pipe to an agent that runs goos, as far as the names it can
// write go.
func pipeAs(t *testing.T, root, goos string) (*wire.Conn, *agentSide) {
	t.Helper()
	apply := filesync.ApplyAs(goos)
	ar, cw := io.Pipe()
	cr, aw := io.Pipe()
	coord := wire.NewConn(cr, cw, cw)
	a := &agentSide{conn: wire.NewConn(ar, aw, aw), dones: make(chan *wire.SyncDone, 16), errs: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			k, p, err := a.conn.Recv()
			if err != nil {
				a.errs <- err
				return
			}
			m, err := wire.Decode(k, p)
			if err != nil {
				a.errs <- err
				return
			}
			done, err := apply(ctx, a.conn, root, m.(*wire.SyncManifest))
			if err != nil {
				a.errs <- err
				aw.CloseWithError(err)
				ar.CloseWithError(err)
				return
			}
			a.dones <- done
		}
	}()
	t.Cleanup(func() {
		cancel()
		cw.Close()
		cr.Close()
	})
	return coord, a
}

// syncTrees builds trees and pushes them into root through a fresh pipe.
func syncTrees(t *testing.T, root string, trees []filesync.Tree, ignore []string) filesync.Stats {
	t.Helper()
	m, err := filesync.Build(trees, ignore)
	if err != nil {
		t.Fatal(err)
	}
	coord, _ := pipe(t, root)
	st, err := filesync.Push(context.Background(), coord, m)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSyncEndToEnd(t *testing.T) {
	src, bin, root := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, src, map[string]string{
		"calc.go":              "package calc",
		"testdata/in.txt":      "input",
		"testdata/run.sh*":     "#!/bin/sh",
		"testdata/same.txt":    "input", // same content, stored once
		"testdata/same.sh*":    "input", // same content, other mode
		"testdata/link":        "@in.txt",
		"testdata/up":          "@../calc.go",
		"testdata/dirlink":     "@sub",
		"testdata/sub/deep":    "deep",
		"testdata/empty/":      "",
		"testdata/zero":        "",
		".git/HEAD":            "ref",
		"build.log":            "noise",
		"testdata/big/blob":    "ignored dir",
		"testdata/keep.log.go": "not ignored",
	})
	write(t, bin, map[string]string{"calc.test*": "\x7fELF binary"})
	trees := []filesync.Tree{
		{Local: src, Remote: "src/calc"},
		{Local: filepath.Join(bin, "calc.test"), Remote: "bin/0"},
	}
	st := syncTrees(t, root, trees, []string{"*.log", "testdata/big/"})
	want := map[string]string{
		"bin/0*":                        "\x7fELF binary",
		"src/calc/calc.go":              "package calc",
		"src/calc/testdata/in.txt":      "input",
		"src/calc/testdata/run.sh*":     "#!/bin/sh",
		"src/calc/testdata/same.txt":    "input",
		"src/calc/testdata/same.sh*":    "input",
		"src/calc/testdata/link":        "@in.txt",
		"src/calc/testdata/up":          "@../calc.go",
		"src/calc/testdata/dirlink":     "@sub",
		"src/calc/testdata/sub/deep":    "deep",
		"src/calc/testdata/empty/":      "",
		"src/calc/testdata/zero":        "",
		"src/calc/testdata/keep.log.go": "not ignored",
	}
	if d := diff(snapshot(t, root), want); d != "" {
		t.Fatalf("workspace differs: %s", d)
	}
	// Links resolve in the workspace.
	if b, err := os.ReadFile(filepath.Join(root, "src/calc/testdata/up")); err != nil || string(b) != "package calc" {
		t.Fatalf("reading through a link: got %q, %v; want %q", b, err, "package calc")
	}
	if st.Sent != 6 {
		t.Errorf("got %d blobs sent; want 6 (one per distinct non-empty content)", st.Sent)
	}
}

// A file name holding a backslash or a colon is a name like any other on
// a receiver that is not Windows: it syncs, with the rest of its package.
// A Windows receiver leaves out just those entries (and a link to one,
// and a directory so named with what it holds), writes everything else,
// and names what it left out.
func TestSyncOddNames(t *testing.T) {
	src := t.TempDir()
	if windows {
		t.Skip("this machine's file system cannot hold the names to sync")
	}
	odd := map[string]string{
		"testdata/a:b.txt":        "colon",
		`testdata/back\slash.txt`: "backslash",
		`testdata/..\..\up.txt`:   "dots and backslashes, one name",
		"testdata/d:e/inner.txt":  "in a directory with a colon",
		"testdata/to-colon":       "@a:b.txt",
		`testdata/to-back`:        `@back\slash.txt`,
	}
	plain := map[string]string{
		"p.go":               "package p",
		"testdata/plain.txt": "plain",
		"testdata/to-plain":  "@plain.txt",
		"testdata/empty/":    "",
	}
	write(t, src, odd)
	write(t, src, plain)
	trees := []filesync.Tree{{Local: src, Remote: "src/p"}}
	under := func(files map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range files {
			out["src/p/"+k] = v
		}
		return out
	}
	m, err := filesync.Build(trees, nil)
	if err != nil {
		t.Fatalf("building a manifest holding odd names: %v", err)
	}

	t.Run("linux", func(t *testing.T) {
		dir := t.TempDir()
		root := filepath.Join(dir, "root")
		write(t, dir, map[string]string{"root/": "", "up.txt": "mine"})
		coord, _ := pipeAs(t, root, "linux")
		st, err := filesync.Push(context.Background(), coord, m)
		if err != nil {
			t.Fatal(err)
		}
		want := under(plain)
		for k, v := range under(odd) {
			want[k] = v
		}
		if d := diff(snapshot(t, root), want); d != "" {
			t.Fatalf("workspace differs: %s", d)
		}
		if st.Refused != nil || st.RefusedMore != 0 {
			t.Fatalf("got %+v refused; want nothing", st.Refused)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "up.txt")); string(b) != "mine" {
			t.Fatalf(`a file named ..\..\up.txt was written as ../../up.txt: got %q`, b)
		}
		if b, err := os.ReadFile(filepath.Join(root, "src/p/testdata/to-colon")); err != nil || string(b) != "colon" {
			t.Fatalf("reading through a link to a:b.txt: got %q, %v", b, err)
		}
	})

	t.Run("windows", func(t *testing.T) {
		root := t.TempDir()
		coord, _ := pipeAs(t, root, "windows")
		st, err := filesync.Push(context.Background(), coord, m)
		if err != nil {
			t.Fatalf("one unnameable file failed the whole sync: %v", err)
		}
		if d := diff(snapshot(t, root), under(plain)); d != "" {
			t.Fatalf("workspace differs: %s", d)
		}
		got := map[string]string{}
		for _, r := range st.Refused {
			got[r.Path] = r.Why
		}
		colon, backslash := `a Windows file name cannot hold ":"`, `a Windows file name cannot hold "\\"`
		wantRefused := map[string]string{
			"src/p/testdata/a:b.txt":        colon,
			`src/p/testdata/back\slash.txt`: backslash,
			`src/p/testdata/..\..\up.txt`:   backslash,
			"src/p/testdata/d:e/inner.txt":  colon,
			"src/p/testdata/to-colon":       "the symbolic link's target: " + colon,
			"src/p/testdata/to-back":        "the symbolic link's target: " + backslash,
		}
		if len(got) != len(wantRefused) || st.RefusedMore != 0 {
			t.Fatalf("refused %q (and %d more); want %q", got, st.RefusedMore, wantRefused)
		}
		for p, why := range wantRefused {
			if got[p] != why {
				t.Errorf("refused %q: got %q; want %q", p, got[p], why)
			}
		}
	})
}

func TestUnwritable(t *testing.T) {
	tests := []struct {
		f       wire.SyncFile
		windows string // why a Windows receiver refuses it; "" when it does not
	}{
		{wire.SyncFile{Path: "src/p/testdata/x.txt"}, ""},
		{wire.SyncFile{Path: "src/p/testdata/a:b.txt"}, `cannot hold ":"`},
		{wire.SyncFile{Path: `src/p/testdata/back\slash.txt`}, `cannot hold "\\"`},
		{wire.SyncFile{Path: "src/p/a:b/c", Dir: true}, `cannot hold ":"`},
		{wire.SyncFile{Path: "src/p/q?.txt"}, `cannot hold "?"`},
		{wire.SyncFile{Path: "src/p/tab\tname"}, "control character 0x09"},
		{wire.SyncFile{Path: "src/p/l", Link: "a:b"}, `link's target: a Windows file name cannot hold ":"`},
		{wire.SyncFile{Path: "src/p/l", Link: `..\..\x`}, `link's target: a Windows file name cannot hold "\\"`},
		{wire.SyncFile{Path: "src/p/l", Link: "../x"}, ""},
	}
	for _, tt := range tests {
		for _, goos := range []string{"linux", "darwin", "freebsd"} {
			if why := filesync.Unwritable(tt.f, goos); why != "" {
				t.Errorf("Unwritable(%+v, %s) = %q; want \"\"", tt.f, goos, why)
			}
		}
		why := filesync.Unwritable(tt.f, "windows")
		if (why == "") != (tt.windows == "") || !strings.Contains(why, tt.windows) {
			t.Errorf("Unwritable(%+v, windows) = %q; want %q", tt.f, why, tt.windows)
		}
	}
}

// A Windows agent names at most wire.MaxRefused entries it left out, and
// counts the rest, so its answer stays small.
func TestRefusedListIsBounded(t *testing.T) {
	m := &wire.SyncManifest{Trees: []string{"t"}}
	for i := range wire.MaxRefused + 7 {
		m.Files = append(m.Files, wire.SyncFile{Path: "t/" + strings.Repeat("x", i) + ":y", Hash: hashOf("")})
	}
	m.Files = append(m.Files, wire.SyncFile{Path: "t/ok", Hash: hashOf("")})
	kept, refused, more := filesync.Writable(m, "windows")
	if len(kept.Files) != 1 || kept.Files[0].Path != "t/ok" || len(refused) != wire.MaxRefused || more != 7 {
		t.Fatalf("got %d kept, %d named, %d more; want 1, %d, 7", len(kept.Files), len(refused), more, wire.MaxRefused)
	}
	if kept, refused, more := filesync.Writable(m, "linux"); len(kept.Files) != len(m.Files) || refused != nil || more != 0 {
		t.Fatalf("linux: got %d kept, %d named, %d more; want all kept", len(kept.Files), len(refused), more)
	}
}

func TestResync(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	write(t, src, map[string]string{"a": "aaaa", "d/b": "bbbb", "d/c*": "cccc", "gone/x": "x"})
	trees := []filesync.Tree{{Local: src, Remote: "src/p"}}
	first := syncTrees(t, root, trees, nil)
	if first.Bytes != 3*4+1 {
		t.Fatalf("first sync: got %d content bytes; want %d", first.Bytes, 3*4+1)
	}

	second := syncTrees(t, root, trees, nil)
	if second.Bytes != 0 || second.Sent != 0 || second.Written != 0 {
		t.Fatalf("unchanged sync: got %+v; want nothing sent or written", second)
	}

	// One change, one removal, a file that became a directory, a stale
	// entry on the agent's side.
	write(t, src, map[string]string{"d/b": "BBBBBB"})
	os.RemoveAll(filepath.Join(src, "gone"))
	os.Remove(filepath.Join(src, "a"))
	write(t, src, map[string]string{"a/now": "aaaa"})
	write(t, root, map[string]string{"src/p/stale": "left by a test", "outside": "not ours"})
	third := syncTrees(t, root, trees, nil)
	if third.Bytes != 6 || third.Sent != 1 {
		t.Fatalf("one-change sync: got %+v; want 6 bytes in 1 blob", third)
	}
	want := map[string]string{"src/p/a/now": "aaaa", "src/p/d/b": "BBBBBB", "src/p/d/c*": "cccc", "outside": "not ours"}
	if d := diff(snapshot(t, root), want); d != "" {
		t.Fatalf("workspace differs: %s", d)
	}
	if third.Removed != 3 {
		t.Errorf("got %d removed; want 3 (a, gone, stale)", third.Removed)
	}
}

// A test that writes into a synced file writes into its own copy: the next
// sync notices and puts it back from the store, sending nothing.
func TestTamperedFileIsRestored(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	write(t, src, map[string]string{"golden.txt": "want"})
	trees := []filesync.Tree{{Local: src, Remote: "src/p"}}
	syncTrees(t, root, trees, nil)
	if err := os.WriteFile(filepath.Join(root, "src/p/golden.txt"), []byte("oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := syncTrees(t, root, trees, nil)
	if st.Sent != 0 || st.Written != 1 {
		t.Fatalf("got %+v; want the file rewritten from the store, nothing sent", st)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "src/p/golden.txt")); string(b) != "want" {
		t.Fatalf("got %q; want %q", b, "want")
	}
}

// An object changed behind the store's back is not trusted: it is fetched
// again when a file needs it.
func TestTamperedObjectIsRefetched(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	write(t, src, map[string]string{"golden.txt": "want"})
	trees := []filesync.Tree{{Local: src, Remote: "src/p"}}
	syncTrees(t, root, trees, nil)
	obj := filepath.Join(root, filesync.ObjectsDir, hashOf("want"))
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "src/p/golden.txt"))
	st := syncTrees(t, root, trees, nil)
	if st.Sent != 1 {
		t.Fatalf("got %d blobs sent; want 1", st.Sent)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "src/p/golden.txt")); string(b) != "want" {
		t.Fatalf("got %q; want %q", b, "want")
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		remote string
		ignore []string
		want   string
	}{
		{"absolute link", map[string]string{"l": "@/etc/passwd"}, "t", nil, "absolute"},
		{"link leaving tree", map[string]string{"d/l": "@../../x"}, "t", nil, "leaves"},
		{"link leaving by dotdot", map[string]string{"a/b/x": "x", "s": "@a/b", "l": "@s/../../.."}, "t", nil, "leaves"},
		// Lexically l stays inside; through the link a it climbs out.
		{"link resolving outside", map[string]string{"p/q/a": "@../z", "p/z/": "", "p/q/l": "@a/../../.."}, "t", nil, "outside"},
		{"escaping remote", map[string]string{"x": "x"}, "../t", nil, "unsafe"},
		{"absolute remote", map[string]string{"x": "x"}, "/t", nil, "unsafe"},
		{"bad glob", map[string]string{"x": "x"}, "t", []string{"["}, "syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "tree"), tt.files)
			_, err := filesync.Build([]filesync.Tree{{Local: filepath.Join(dir, "tree"), Remote: tt.remote}}, tt.ignore)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want an error holding %q", err, tt.want)
			}
		})
	}
	// An ignored escaping link is no error.
	dir := t.TempDir()
	write(t, dir, map[string]string{"l": "@/etc"})
	if _, err := filesync.Build([]filesync.Tree{{Local: dir, Remote: "t"}}, []string{"l"}); err != nil {
		t.Fatalf("ignored link: got %v; want no error", err)
	}
}

// hostile sends a manifest straight to an agent and returns its answer,
// streaming blobs as given for whatever it asks.
func hostile(t *testing.T, root string, m *wire.SyncManifest, blobs map[string][]byte) (*wire.SyncDone, error) {
	t.Helper()
	coord, a := pipe(t, root)
	if err := coord.Send(wire.KindSyncManifest, m); err != nil {
		t.Fatal(err)
	}
	for {
		k, p, err := coord.Recv()
		if err != nil {
			select {
			case aerr := <-a.errs:
				return nil, aerr
			case <-time.After(5 * time.Second):
				return nil, err
			}
		}
		msg, err := wire.Decode(k, p)
		if err != nil {
			t.Fatal(err)
		}
		switch msg := msg.(type) {
		case *wire.SyncDone:
			return msg, nil
		case *wire.SyncNeed:
			for _, h := range msg.Hashes {
				data := blobs[h]
				if err := coord.Send(wire.KindSyncBlob, wire.SyncBlob{Hash: h, Data: data}); err != nil {
					return nil, <-a.errs
				}
			}
		}
	}
}

func TestApplyRefuses(t *testing.T) {
	x := hashOf("x")
	tests := []struct {
		name  string
		setup map[string]string // in a dir holding root/ and outside/
		m     wire.SyncManifest
		blobs map[string][]byte
		want  string // in SyncDone.Err, or in the stream error when prefixed "stream:"
	}{
		{"dotdot", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/../../outside/x", Size: 1, Hash: x}}}, nil, "unsafe"},
		{"absolute", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "/tmp/x", Size: 1, Hash: x}}}, nil, "absolute"},
		{"NUL", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/x\x00", Size: 1, Hash: x}}}, nil, "NUL"},
		{"empty", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "", Size: 1, Hash: x}}}, nil, "empty"},
		{"link leaving tree", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/l", Link: "../../outside"}}}, nil, "leaves"},
		{"absolute link", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/l", Link: "/"}}}, nil, "absolute"},
		{"symlink on the way out", map[string]string{"root/src": "@../outside"},
			wire.SyncManifest{Trees: []string{"src/p"}, Files: []wire.SyncFile{{Path: "src/p/x", Size: 1, Hash: x}}}, nil, "symbolic link"},
		{"wrong content", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/x", Size: 1, Hash: x}}},
			map[string][]byte{x: []byte("y")}, "hashes to"},
		{"too much content", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/x", Size: 1, Hash: x}}},
			map[string][]byte{x: []byte("xx")}, "stream:chunk of 2 bytes"},
		{"no content", nil, wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{{Path: "t/x", Size: 1, Hash: x}}},
			map[string][]byte{x: nil}, "stream:chunk of 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			write(t, dir, map[string]string{"root/": "", "outside/": ""})
			write(t, dir, tt.setup)
			done, err := hostile(t, root, &tt.m, tt.blobs)
			if want, ok := strings.CutPrefix(tt.want, "stream:"); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, %+v; want a stream error holding %q", err, done, want)
				}
			} else if err != nil || !strings.Contains(done.Err, tt.want) {
				t.Fatalf("got %v, %+v; want a refusal holding %q", err, done, tt.want)
			}
			if d := diff(snapshot(t, filepath.Join(dir, "outside")), map[string]string{}); d != "" {
				t.Fatalf("written outside the workspace: %s", d)
			}
		})
	}
}

// A stale symbolic link inside a tree that points out of the workspace must
// be replaced, never written through.
func TestStaleLinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	root, outside := filepath.Join(dir, "root"), filepath.Join(dir, "outside")
	write(t, dir, map[string]string{"outside/keep": "mine", "root/src/p/testdata": "@../../../outside"})
	src := t.TempDir()
	write(t, src, map[string]string{"testdata/keep": "theirs", "testdata/new": "new"})
	syncTrees(t, root, []filesync.Tree{{Local: src, Remote: "src/p"}}, nil)
	if d := diff(snapshot(t, outside), map[string]string{"keep": "mine"}); d != "" {
		t.Fatalf("outside changed: %s", d)
	}
	if d := diff(snapshot(t, root), map[string]string{"src/p/testdata/keep": "theirs", "src/p/testdata/new": "new"}); d != "" {
		t.Fatalf("workspace differs: %s", d)
	}
}

func TestSync50MB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MB")
	}
	src, root := t.TempDir(), t.TempDir()
	rng := rand.NewChaCha8([32]byte{1})
	const files, size = 50, 1 << 20
	buf := make([]byte, size)
	for i := range files {
		rng.Read(buf)
		name := filepath.Join(src, "d"+string(rune('a'+i%5)), "f"+string(rune('a'+i/5))+".bin")
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trees := []filesync.Tree{{Local: src, Remote: "src/big"}}
	t0 := time.Now()
	first := syncTrees(t, root, trees, nil)
	t1 := time.Now()
	second := syncTrees(t, root, trees, nil)
	t2 := time.Now()
	changed := filepath.Join(src, "dc", "fd.bin")
	rng.Read(buf)
	if err := os.WriteFile(changed, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	third := syncTrees(t, root, trees, nil)
	t3 := time.Now()
	t.Logf("first sync:  %d content bytes, %d wire bytes, %v", first.Bytes, first.Wire, t1.Sub(t0).Round(time.Millisecond))
	t.Logf("second sync: %d content bytes, %d wire bytes, %v", second.Bytes, second.Wire, t2.Sub(t1).Round(time.Millisecond))
	t.Logf("one change:  %d content bytes, %d wire bytes, %v", third.Bytes, third.Wire, t3.Sub(t2).Round(time.Millisecond))
	t.Logf("workspace and store: %d MB on disk", diskUsage(t, root)>>20)
	if first.Bytes != files*size || first.Wire > first.Bytes+first.Bytes/100 {
		t.Errorf("first sync: got %d content and %d wire bytes; want %d and about that", first.Bytes, first.Wire, files*size)
	}
	if second.Bytes != 0 || second.Wire > 16<<10 {
		t.Errorf("second sync: got %d content and %d wire bytes; want 0 and a manifest's worth", second.Bytes, second.Wire)
	}
	if third.Bytes != size || third.Wire > size+size/50 {
		t.Errorf("one change: got %d content and %d wire bytes; want %d and about that", third.Bytes, third.Wire, size)
	}
	b, err := os.ReadFile(filepath.Join(root, "src/big/dc/fd.bin"))
	if err != nil || !bytes.Equal(b, buf) {
		t.Fatalf("changed file not in place: %v", err)
	}
}

// diskUsage is what dir takes on disk, counting a file of several names once.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	seen := map[[2]uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if k := [2]uint64{uint64(st.Dev), st.Ino}; !seen[k] {
				seen[k] = true
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// Test binaries compress well; a compressible blob travels compressed.
func TestCompressibleContentShrinks(t *testing.T) {
	src, root := t.TempDir(), t.TempDir()
	content := strings.Repeat("func TestSomething(t *testing.T) {}\n", 100_000) // 3.6 MB
	write(t, src, map[string]string{"x.test*": content})
	st := syncTrees(t, root, []filesync.Tree{{Local: filepath.Join(src, "x.test"), Remote: "bin/x"}}, nil)
	if st.Bytes != int64(len(content)) || st.Wire > st.Bytes/4 {
		t.Fatalf("got %d content bytes in %d wire bytes; want %d in under a quarter", st.Bytes, st.Wire, len(content))
	}
	if b, _ := os.ReadFile(filepath.Join(root, "bin/x")); string(b) != content {
		t.Fatal("content differs after the sync")
	}
}

// A link that stays inside lexically but climbs out through another link
// (a/../../.. with a -> ../z) is accepted from a coordinator only in a form
// that resolves where it reads: every ".." first, through real directories.
func TestApplyCanonicalisesLinks(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	write(t, dir, map[string]string{"root/": ""})
	m := &wire.SyncManifest{Trees: []string{"t"}, Files: []wire.SyncFile{
		{Path: "t/p/q/a", Link: "../z"},
		{Path: "t/p/q/l", Link: "a/../../.."},
		{Path: "t/p/z", Dir: true},
	}}
	done, err := hostile(t, root, m, nil)
	if err != nil || done.Err != "" {
		t.Fatalf("got %v, %+v; want success", err, done)
	}
	res, err := filepath.EvalSymlinks(filepath.Join(root, "t/p/q/l"))
	if err != nil {
		t.Fatal(err)
	}
	realRoot, _ := filepath.EvalSymlinks(root)
	if rel, err := filepath.Rel(realRoot, res); err != nil || !filepath.IsLocal(rel) {
		t.Fatalf("link resolves to %s; want inside %s", res, realRoot)
	}
}

// The agent applies a sync in its working directory between units, and the
// stream goes on to serve units afterwards.
func TestAgentServe(t *testing.T) {
	root, src := t.TempDir(), t.TempDir()
	write(t, src, map[string]string{"testdata/in.txt": "input"})
	t.Chdir(root)
	ar, cw := io.Pipe()
	cr, aw := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- agent.Serve(context.Background(), ar, aw, agent.Options{Version: "test"})
		aw.Close()
	}()
	conn := wire.NewConn(cr, cw, cw)
	hello, err := wire.Handshake(conn, wire.Hello{Agent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := filesync.Build([]filesync.Tree{{Local: src, Remote: "src/p"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{5, 0} {
		st, err := filesync.Push(context.Background(), conn, m)
		if err != nil {
			t.Fatalf("sync %d: %v", i+1, err)
		}
		if st.Bytes != want {
			t.Fatalf("sync %d: got %d content bytes; want %d", i+1, st.Bytes, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(hello.Dir, "src/p/testdata/in.txt")); err != nil || string(b) != "input" {
		t.Fatalf("got %q, %v; want %q in the agent's workspace", b, err, "input")
	}
	// A unit after the sync still runs (its binary is missing: a Done with Err).
	if err := conn.Send(wire.KindRun, wire.Run{ID: 1, Binary: filepath.Join(hello.Dir, "bin/none"), Tests: []string{"TestX"}}); err != nil {
		t.Fatal(err)
	}
	k, p, err := conn.Recv()
	for err == nil && k == wire.KindPing { // the agent's, at any time
		k, p, err = conn.Recv()
	}
	if err != nil || k != wire.KindDone {
		t.Fatalf("got %s, %v; want a done frame", k, err)
	}
	if d, _ := wire.Decode(k, p); d.(*wire.Done).Err == "" {
		t.Fatalf("got %+v; want a start error", d)
	}
	if err := conn.Send(wire.KindShutdown, wire.Shutdown{}); err != nil {
		t.Fatal(err)
	}
	cw.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// Identical files of two packages (two empty testdata files, say) are each
// their own on the agent: a test writing its package's file changes neither
// the other package's nor the content store, and the next sync puts the
// file back from the store without sending it again.
func TestSyncedFilesAreTheirOwn(t *testing.T) {
	a, b, root := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, a, map[string]string{"testdata/empty.txt": "", "testdata/same.txt": "same", "run.sh*": "same"})
	write(t, b, map[string]string{"testdata/empty.log": "", "testdata/same.txt": "same"})
	ta := []filesync.Tree{{Local: a, Remote: "src/a"}}
	tb := []filesync.Tree{{Local: b, Remote: "src/b"}}
	syncTrees(t, root, ta, nil)
	syncTrees(t, root, tb, nil)

	for _, p := range []string{"src/b/testdata/empty.log", "src/b/testdata/same.txt"} {
		f, err := os.OpenFile(filepath.Join(root, p), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("written by package b\n")
		f.Close()
	}
	want := map[string]string{"src/a/testdata/empty.txt": "", "src/a/testdata/same.txt": "same", "src/a/run.sh*": "same",
		"src/b/testdata/empty.log": "written by package b\n", "src/b/testdata/same.txt": "samewritten by package b\n"}
	if d := diff(snapshot(t, root), want); d != "" {
		t.Fatalf("a write into package b's files reached others: %s", d)
	}
	// Every stored object still holds the content its name promises, and
	// no synced file is a name of one.
	var objects []os.FileInfo
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if len(name) < 64 || strings.Contains(p, "/.covdist-tmp-") {
			return nil
		}
		if rel, _ := filepath.Rel(root, p); strings.HasPrefix(rel, filesync.ObjectsDir+"/") {
			b, _ := os.ReadFile(p)
			if h := hashOf(string(b)); !strings.HasPrefix(name, h) {
				t.Errorf("stored object %s holds content hashing to %s", rel, h)
			}
			fi, _ := os.Lstat(p)
			objects = append(objects, fi)
		}
		return nil
	})
	filepath.WalkDir(filepath.Join(root, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, _ := os.Lstat(p)
		for _, o := range objects {
			if os.SameFile(fi, o) {
				t.Errorf("synced file %s is the stored object %s: a test writing it writes the store", p, o.Name())
			}
		}
		return nil
	})

	st := syncTrees(t, root, tb, nil)
	if st.Bytes != 0 || st.Written != 2 {
		t.Errorf("restoring package b: got %+v; want 2 files rewritten from the store, nothing sent", st)
	}
	want["src/b/testdata/empty.log"], want["src/b/testdata/same.txt"] = "", "same"
	if d := diff(snapshot(t, root), want); d != "" {
		t.Fatalf("after the resync: %s", d)
	}
}

// Two runs at once never share a workspace; the agents of one run do, and
// a later run gets the first workspace back.
func TestClaim(t *testing.T) {
	base := filepath.Join(t.TempDir(), "work", "mod-1234")
	claim := func(run string) (string, func()) {
		t.Helper()
		ws, release, err := filesync.Claim(base, run, "")
		if err != nil {
			t.Fatalf("Claim(%q): %v", run, err)
		}
		return ws, release
	}
	a1, releaseA1 := claim("run-a")
	a2, releaseA2 := claim("run-a")
	b, releaseB := claim("run-b")
	if a1 != base || a2 != base {
		t.Errorf("agents of one run: got %s and %s; want both %s", a1, a2, base)
	}
	if b != base+".1" {
		t.Errorf("a second run at once: got %s; want %s.1", b, base)
	}
	releaseA1()
	if c, release := claim("run-c"); c != base+".2" {
		t.Errorf("while an agent of run-a still holds %s: got %s; want %s.2", base, c, base)
	} else {
		release()
	}
	releaseA2()
	if c, release := claim("run-c"); c != base {
		t.Errorf("after run-a ended: got %s; want %s", c, base)
	} else {
		release()
	}
	releaseB()
}

// A store shared by workspaces serves each: what one workspace received,
// another gets without a transfer, each as its own copy.
func TestSharedStore(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "objects")
	src := t.TempDir()
	write(t, src, map[string]string{"testdata/in.txt": "input", "x.test*": "binary"})
	trees := []filesync.Tree{{Local: src, Remote: "src/p"}}
	var roots []string
	for _, run := range []string{"run-a", "run-b"} {
		ws, release, err := filesync.Claim(filepath.Join(dir, "work", "mod"), run, shared)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		roots = append(roots, ws)
	}
	if first := syncTrees(t, roots[0], trees, nil); first.Bytes != 11 {
		t.Errorf("first workspace: got %d content bytes; want 11", first.Bytes)
	}
	if second := syncTrees(t, roots[1], trees, nil); second.Bytes != 0 || second.Written != 2 {
		t.Errorf("second workspace: got %+v; want both files from the shared store, nothing sent", second)
	}
	if _, err := os.Stat(filepath.Join(shared, hashOf("input"))); err != nil {
		t.Errorf("the shared store lacks the content: %v", err)
	}
	if _, err := os.Stat(filepath.Join(roots[0], filesync.ObjectsDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a workspace of a shared store has a store of its own: %v", err)
	}
	fa, _ := os.Stat(filepath.Join(roots[0], "src/p/testdata/in.txt"))
	fb, _ := os.Stat(filepath.Join(roots[1], "src/p/testdata/in.txt"))
	if fa == nil || fb == nil || os.SameFile(fa, fb) {
		t.Errorf("the workspaces' copies are one file (or missing): %v, %v", fa, fb)
	}
}

// A store keeps what some workspace holds and drops the rest.
func TestStoreCollects(t *testing.T) {
	defer filesync.SetCollectEvery(0)()
	dir := t.TempDir()
	shared := filepath.Join(dir, "objects")
	p, q := t.TempDir(), t.TempDir()
	write(t, p, map[string]string{"a.txt": "one"})
	write(t, q, map[string]string{"b.txt": "kept by q"})
	wsA, releaseA, err := filesync.Claim(filepath.Join(dir, "a"), "run", shared)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	wsB, releaseB, err := filesync.Claim(filepath.Join(dir, "b"), "run", shared)
	if err != nil {
		t.Fatal(err)
	}
	syncTrees(t, wsA, []filesync.Tree{{Local: p, Remote: "src/p"}}, nil)
	syncTrees(t, wsB, []filesync.Tree{{Local: q, Remote: "src/q"}}, nil)
	stored := func(content string) bool {
		_, err := os.Stat(filepath.Join(shared, hashOf(content)))
		return err == nil
	}
	write(t, p, map[string]string{"a.txt": "two"})
	syncTrees(t, wsA, []filesync.Tree{{Local: p, Remote: "src/p"}}, nil)
	if stored("one") || !stored("two") || !stored("kept by q") {
		t.Errorf("after a change in a: got one %v, two %v, kept by q %v; want false, true, true", stored("one"), stored("two"), stored("kept by q"))
	}
	// A workspace that is gone holds nothing.
	releaseB()
	os.RemoveAll(wsB)
	write(t, p, map[string]string{"a.txt": "three"})
	syncTrees(t, wsA, []filesync.Tree{{Local: p, Remote: "src/p"}}, nil)
	if stored("kept by q") || !stored("three") {
		t.Errorf("after b was removed: got kept by q %v, three %v; want false, true", stored("kept by q"), stored("three"))
	}
}

// A workspace of an older covdist, whose synced files were hard links to
// the store's objects and which has no index, is taken over without a
// transfer, tree by tree, and afterwards no synced file is a name of an
// object.
func TestHardLinkedWorkspaceTakenOver(t *testing.T) {
	defer filesync.SetCollectEvery(0)()
	root := t.TempDir()
	stamp := time.Unix(946684800, 0)
	srcs := map[string]string{}
	for _, pkg := range []string{"p", "q"} {
		content := "content of " + pkg
		srcs[pkg] = t.TempDir()
		write(t, srcs[pkg], map[string]string{"a.txt": content})
		obj := filepath.Join(root, filesync.ObjectsDir, hashOf(content))
		write(t, root, map[string]string{filesync.ObjectsDir + "/" + hashOf(content): content})
		os.Chtimes(obj, stamp, stamp)
		os.MkdirAll(filepath.Join(root, "src", pkg), 0o755)
		if err := os.Link(obj, filepath.Join(root, "src", pkg, "a.txt")); err != nil {
			t.Fatal(err)
		}
	}
	for _, pkg := range []string{"p", "q"} {
		st := syncTrees(t, root, []filesync.Tree{{Local: srcs[pkg], Remote: "src/" + pkg}}, nil)
		if st.Bytes != 0 {
			t.Errorf("taking over src/%s: got %d content bytes sent; want 0", pkg, st.Bytes)
		}
	}
	obj := filepath.Join(root, filesync.ObjectsDir, hashOf("content of p"))
	os.WriteFile(filepath.Join(root, "src/p/a.txt"), []byte("written by a test"), 0o644)
	if b, _ := os.ReadFile(obj); string(b) != "content of p" {
		t.Fatalf("a write into the synced file reached the store: %q", b)
	}
}
