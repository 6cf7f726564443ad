package filesync_test

import (
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
)

// FuzzManifest decodes a sync-manifest payload as an agent would and
// validates it: it must never panic, and a manifest it accepts must name
// only paths and link targets inside the workspace and its trees.
func FuzzManifest(f *testing.F) {
	h := strings.Repeat("ab", 32)
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/x","size":1,"hash":"` + h + `"}]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/../x","size":1,"hash":"` + h + `"}]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/l","link":"../../etc"}]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/a/l","link":".."},{"path":"t/d","dir":true}]}`))
	f.Add([]byte(`{"trees":["/t"],"files":[]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/x\u0000","size":1,"hash":"` + h + `"}]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/a:b.txt","size":1,"hash":"` + h + `"},{"path":"t/back\\slash","size":1,"hash":"` + h + `"}]}`))
	f.Add([]byte(`{"trees":["t"],"files":[{"path":"t/l","link":"..\\..\\x"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		msg, err := wire.Decode(wire.KindSyncManifest, payload)
		if err != nil {
			return
		}
		m := msg.(*wire.SyncManifest)
		if err := filesync.Validate(m); err != nil {
			return
		}
		// Only "/" separates: a backslash or a colon is a byte of a name
		// except on Windows, where neither is accepted at all.
		inside := func(p string) bool {
			return p != "" && !strings.ContainsRune(p, 0) && (runtime.GOOS != "windows" || !strings.ContainsAny(p, `\:`)) &&
				!path.IsAbs(p) && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p &&
				!slices.Contains(strings.Split(p, "/"), "..") &&
				p != filesync.ObjectsDir && !strings.HasPrefix(p, filesync.ObjectsDir+"/")
		}
		for _, tr := range m.Trees {
			if !inside(tr) {
				t.Fatalf("accepted tree %q", tr)
			}
		}
		for _, file := range m.Files {
			if !inside(file.Path) {
				t.Fatalf("accepted path %q", file.Path)
			}
			if file.Link == "" {
				continue
			}
			target := path.Join(path.Dir(file.Path), file.Link)
			if path.IsAbs(file.Link) || !inside(target) {
				t.Fatalf("accepted link %q -> %q", file.Path, file.Link)
			}
			ok := false
			for _, tr := range m.Trees {
				ok = ok || target == tr || strings.HasPrefix(target, tr+"/")
			}
			if !ok {
				t.Fatalf("accepted link %q -> %q leaving every tree", file.Path, file.Link)
			}
		}
		// What a Windows agent keeps of a valid manifest is valid, holds
		// no name Windows refuses, and is all but what it names or counts.
		kept, refused, more := filesync.Writable(m, "windows")
		if err := filesync.Validate(kept); err != nil {
			t.Fatalf("what a Windows agent keeps is invalid: %v", err)
		}
		for _, file := range kept.Files {
			if strings.ContainsAny(file.Path+file.Link, `\:`) {
				t.Fatalf("a Windows agent keeps %q -> %q", file.Path, file.Link)
			}
		}
		if len(kept.Files)+len(refused)+more != len(m.Files) {
			t.Fatalf("a Windows agent keeps %d, names %d and counts %d of %d entries", len(kept.Files), len(refused), more, len(m.Files))
		}
	})
}
