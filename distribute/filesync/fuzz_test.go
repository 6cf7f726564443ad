package filesync_test

import (
	"path"
	"path/filepath"
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
	f.Fuzz(func(t *testing.T, payload []byte) {
		msg, err := wire.Decode(wire.KindSyncManifest, payload)
		if err != nil {
			return
		}
		m := msg.(*wire.SyncManifest)
		if err := filesync.Validate(m); err != nil {
			return
		}
		inside := func(p string) bool {
			return p != "" && !strings.ContainsRune(p, 0) && !strings.Contains(p, `\`) &&
				!path.IsAbs(p) && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p &&
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
	})
}
