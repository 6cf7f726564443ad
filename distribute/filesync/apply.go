package filesync

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/covdist/covdist/distribute/wire"
)

// stamp is the modification time of every stored object. Nothing writes an
// object once stored (synced files are copies, never hard links to it), so
// one whose modification time differs was changed behind the store's back
// (or by an older covdist, whose synced files were hard links) and is
// treated as missing and fetched again rather than trusted.
var stamp = time.Unix(946684800, 0) // 2000-01-01

// emptyHash is the SHA-256 of no bytes; a file of size 0 must carry it.
var emptyHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// Apply is the agent's side of a sync: m has just arrived on conn (a
// *wire.Conn, or an agent's adapter that hands it the frames its own
// reader takes after m), and Apply mirrors it under root, the agent's
// workspace. It answers with the hashes that neither a file already in
// place nor the content store holds, receives their blobs (checking each
// against its hash before storing it), then removes entries of the
// manifest's trees that m does not list, writes every listed entry that is
// not in place as a copy of its stored object, and answers SyncDone.
//
// Every synced file is a file of its own: two packages' identical testdata
// files are two files, and the store's objects are never a name of either,
// so a test that writes its testdata changes nothing else. A file is known
// to be in place, without reading it, by the workspace's index: the hash
// and the identity (inode and change time) of what the last sync wrote.
//
// The content store is root's own (ObjectsDir) unless the workspace's
// marker names one shared with other workspaces (see Claim).
//
// A refusal (an unsafe manifest, a symbolic link on the way out of root)
// and a local failure (a full disk) are sent to the coordinator in SyncDone
// and returned in it; the returned error is only for the stream: a broken
// or out-of-order blob sequence, after which conn is unusable.
//
// An entry whose name this machine's file system cannot hold (a ":" or "\"
// on Windows; see Unwritable) is left out, and named in SyncDone.Refused,
// while the rest of the sync goes ahead.
//
// Syncs through one store are serialised through a lock file in it, so
// workers sharing a host and a workspace (or a store) do not trip over each
// other.
func Apply(ctx context.Context, conn Conn, root string, m *wire.SyncManifest) (*wire.SyncDone, error) {
	return apply(ctx, conn, root, m, runtime.GOOS)
}

// apply is Apply for a receiver running goos, which decides the names it
// leaves out; a test passes "windows" to see a Windows agent's choices.
func apply(ctx context.Context, conn Conn, root string, m *wire.SyncManifest, goos string) (*wire.SyncDone, error) {
	done := &wire.SyncDone{}
	reply := func(err error) (*wire.SyncDone, error) {
		if err != nil {
			done.Err = err.Error()
		}
		return done, conn.Send(wire.KindSyncDone, done)
	}
	m, done.Refused, done.RefusedMore = writable(m, goos)
	if err := Validate(m); err != nil {
		return reply(fmt.Errorf("refusing the sync manifest: %w", err))
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return reply(fmt.Errorf("opening the workspace: %w", err))
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return reply(fmt.Errorf("opening the workspace: %w", err))
	}
	defer r.Close()
	a := &applier{r: r, m: m, entries: make(map[string]*wire.SyncFile, len(m.Files)), dirs: make(map[string]bool), trees: make(map[string]bool)}
	for _, t := range m.Trees {
		a.trees[t] = true
	}
	for i := range m.Files {
		f := &m.Files[i]
		a.entries[f.Path] = f
		if f.Dir {
			a.dirs[f.Path] = true
		}
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			a.dirs[d] = true
		}
	}
	if err := a.checkOutside(); err != nil {
		return reply(err)
	}
	if a.s, err = openStore(r, root); err != nil {
		return reply(err)
	}
	defer a.s.Close()
	unlock, err := lockStore(ctx, a.s.r)
	if err != nil {
		return reply(fmt.Errorf("locking the content store: %w", err))
	}
	defer unlock()

	a.readIndex()
	need, sizes := a.missing()
	if err := conn.Send(wire.KindSyncNeed, wire.SyncNeed{Hashes: need}); err != nil {
		return done, err
	}
	for _, h := range need {
		n, err := a.receive(ctx, conn, h, sizes[h])
		done.Bytes += n
		if err != nil {
			return done, err
		}
	}
	if a.failed != nil {
		return reply(a.failed)
	}
	if err := a.prune(); err != nil {
		return reply(err)
	}
	if err := a.materialise(); err != nil {
		return reply(err)
	}
	if err := a.writeIndexes(); err != nil {
		return reply(err)
	}
	if len(need) > 0 || a.written > 0 || a.removed > 0 {
		// Only a sync that changed something can have left garbage.
		if err := a.s.register(root); err == nil {
			a.s.collect(a.hashes())
		}
	}
	done.Files, done.Removed = a.written, a.removed
	return reply(nil)
}

type applier struct {
	r       *os.Root
	s       *store
	m       *wire.SyncManifest
	trees   map[string]bool
	entries map[string]*wire.SyncFile
	dirs    map[string]bool        // directories the manifest needs
	made    map[string]bool        // directories known to be real
	index   map[string]indexEntry  // path -> what the last sync wrote there
	inPlace map[string]bool        // regular files that hold their content already
	wrote   map[string]*indexEntry // path -> what this sync leaves there
	failed  error                  // the first local failure while receiving
	written int
	removed int
}

func perm(exec bool) fs.FileMode {
	if exec {
		return 0o755
	}
	return 0o644
}

// checkOutside refuses to work through a symbolic link (or a file) between
// root and a tree: the sync would land somewhere other than named.
func (a *applier) checkOutside() error {
	for _, t := range a.m.Trees {
		for _, q := range ancestors(t) {
			if treeOf(a.trees, q) != "" {
				break // from here on, a tree's own stale entry, replaced
			}
			fi, err := a.r.Lstat(q)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("%w: %q, on the way to tree %q, is a %s in the workspace; not going through it",
					ErrUnsafe, q, t, kindOf(fi.Mode()))
			}
		}
	}
	return nil
}

// ancestors returns p's proper ancestors, outermost first.
func ancestors(p string) []string {
	var out []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		out = append(out, d)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// readIndex loads what the last syncs wrote into the manifest's trees. An
// index that cannot be read only makes its files look out of place, to be
// written again.
func (a *applier) readIndex() {
	a.index = make(map[string]indexEntry)
	for _, t := range a.m.Trees {
		idx, err := readIndexFile(a.r, indexName(t))
		if err != nil || idx.Tree != t {
			continue
		}
		for _, e := range idx.Files {
			if treeOf(a.trees, e.Path) == t {
				a.index[e.Path] = e
			}
		}
	}
}

// placed reports whether the regular file f is already in place: the file
// there is the very one a sync wrote with f's content and mode, and nothing
// has written, touched, chmodded or replaced it since.
func (a *applier) placed(f *wire.SyncFile) bool {
	e, ok := a.index[f.Path]
	if !ok || e.Hash != f.Hash || e.Exec != f.Exec {
		return false
	}
	fi, err := a.r.Lstat(f.Path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == f.Size && fi.Mode().Perm() == perm(f.Exec) &&
		linkCount(fi) == 1 && fileID(fi) == e.ID
}

// missing returns the hashes that are needed, in manifest order: those of
// files not in place whose content the store lacks. It returns every hash's
// size too.
func (a *applier) missing() ([]string, map[string]int64) {
	var need []string
	sizes := make(map[string]int64)
	asked := make(map[string]bool)
	a.inPlace = make(map[string]bool)
	for i := range a.m.Files {
		f := &a.m.Files[i]
		if f.Link != "" || f.Dir {
			continue
		}
		sizes[f.Hash] = f.Size
		if a.placed(f) {
			a.inPlace[f.Path] = true
			continue
		}
		if f.Size == 0 || asked[f.Hash] {
			continue
		}
		asked[f.Hash] = true
		if !a.s.has(f.Hash, f.Size) {
			need = append(need, f.Hash)
		}
	}
	return need, sizes
}

// receive reads one blob's chunks from conn and returns the content bytes
// read and a stream error. A local failure (a full disk, content that does
// not match its hash) goes to a.failed instead: the stream stays in step,
// since the blob is read to its end regardless, and once one blob failed
// the rest are read and dropped.
func (a *applier) receive(ctx context.Context, conn Conn, hash string, size int64) (int64, error) {
	var (
		f   *os.File
		tmp string
		err error
	)
	if a.failed == nil {
		tmp = tempName("x")
		f, err = a.s.r.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			a.failed = fmt.Errorf("storing %s: %w", hash, err)
		}
	}
	fail := func(err error) {
		if a.failed == nil {
			a.failed = err
		}
		if f != nil {
			f.Close()
			a.s.r.Remove(tmp)
			f = nil
		}
	}
	h := sha256.New()
	var got int64
	for got < size {
		if err := ctx.Err(); err != nil {
			fail(err)
			return got, err
		}
		k, p, err := conn.Recv()
		if err != nil {
			fail(err)
			return got, fmt.Errorf("receiving content %s: %w", hash, err)
		}
		if k == wire.KindPing {
			continue // a keepalive, which may come between any two frames
		}
		if k != wire.KindSyncBlob {
			fail(errors.New("sync cut short"))
			return got, fmt.Errorf("%w: expected sync-blob for %s, got %s", wire.ErrFrame, hash, k)
		}
		msg, err := wire.Decode(k, p)
		if err != nil {
			fail(err)
			return got, err
		}
		b := msg.(*wire.SyncBlob)
		if b.Hash != hash || b.Off != got {
			fail(errors.New("sync out of order"))
			return got, fmt.Errorf("%w: expected content %s at offset %d, got %q at %d", wire.ErrFrame, hash, got, b.Hash, b.Off)
		}
		data := b.Data
		if b.Flate {
			data, err = inflate(b.Data)
			if err != nil {
				fail(err)
				return got, fmt.Errorf("%w: content %s at offset %d: %v", wire.ErrFrame, hash, got, err)
			}
		}
		if len(data) == 0 || len(data) > wire.SyncChunk || int64(len(data)) > size-got {
			fail(errors.New("sync chunk out of bounds"))
			return got, fmt.Errorf("%w: content %s: chunk of %d bytes at offset %d of %d", wire.ErrFrame, hash, len(data), got, size)
		}
		got += int64(len(data))
		h.Write(data)
		if f != nil {
			if _, err := f.Write(data); err != nil {
				fail(fmt.Errorf("storing %s: %w", hash, err))
			}
		}
	}
	if f == nil {
		return got, nil
	}
	if err := f.Close(); err != nil {
		a.s.r.Remove(tmp)
		a.failed = fmt.Errorf("storing %s: %w", hash, err)
		return got, nil
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != hash {
		a.s.r.Remove(tmp)
		a.failed = fmt.Errorf("content sent as %s hashes to %s (did the file change during the sync?)", hash, sum)
		return got, nil
	}
	a.failed = a.s.put(tmp, hash)
	return got, nil
}

// inflate decompresses one chunk, refusing more than SyncChunk bytes.
func inflate(z []byte) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(z))
	defer fr.Close()
	data, err := io.ReadAll(io.LimitReader(fr, wire.SyncChunk+1))
	if err != nil {
		return nil, err
	}
	if len(data) > wire.SyncChunk {
		return nil, fmt.Errorf("chunk inflates past %d bytes", wire.SyncChunk)
	}
	return data, nil
}

func tempName(near string) string {
	var b [8]byte
	rand.Read(b[:])
	return path.Join(path.Dir(near), ".covdist-tmp-"+hex.EncodeToString(b[:]))
}

// prune removes, within each tree, every entry the manifest does not list
// (or lists as another kind), outer trees first.
func (a *applier) prune() error {
	trees := append([]string(nil), a.m.Trees...)
	sort.Slice(trees, func(i, j int) bool { return len(trees[i]) < len(trees[j]) })
	for _, t := range trees {
		// An outer tree's prune may have made the way here a real directory,
		// or removed it; either way nothing on it may be a link any more.
		reachable := true
		for _, q := range ancestors(t) {
			fi, err := a.r.Lstat(q)
			if errors.Is(err, fs.ErrNotExist) {
				reachable = false
				break
			}
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				if treeOf(a.trees, q) == "" {
					return fmt.Errorf("%w: %q, on the way to tree %q, is a %s; not going through it", ErrUnsafe, q, t, kindOf(fi.Mode()))
				}
				reachable = false // a stale entry of an outer tree, replaced below
				break
			}
		}
		if !reachable {
			continue
		}
		fi, err := a.r.Lstat(t)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := a.pruneEntry(t, fi.Mode()); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) pruneEntry(p string, mode fs.FileMode) error {
	if mode.IsDir() {
		if !a.dirs[p] {
			a.removed++
			return a.r.RemoveAll(p)
		}
		d, err := a.r.Open(p)
		if err != nil {
			return err
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := a.pruneEntry(p+"/"+e.Name(), e.Type()); err != nil {
				return err
			}
		}
		return nil
	}
	if f := a.entries[p]; f != nil {
		if f.Link != "" && mode&fs.ModeSymlink != 0 || f.Link == "" && !f.Dir && mode.IsRegular() {
			return nil
		}
	}
	a.removed++
	return a.r.Remove(p)
}

// materialise writes every entry, leaving alone those already in place.
func (a *applier) materialise() error {
	a.made = make(map[string]bool)
	a.wrote = make(map[string]*indexEntry)
	for i := range a.m.Files {
		f := &a.m.Files[i]
		var err error
		switch {
		case f.Dir:
			err = a.mkdirs(f.Path)
		case f.Link != "":
			err = a.link(f)
		default:
			err = a.file(f)
		}
		if err != nil {
			return fmt.Errorf("writing %q: %w", f.Path, err)
		}
	}
	return nil
}

// mkdirs makes d and its parents real directories. Within a tree, a file or
// link in the way is stale and replaced; outside every tree it is refused.
func (a *applier) mkdirs(d string) error {
	for _, q := range append(ancestors(d), d) {
		if a.made[q] {
			continue
		}
		fi, err := a.r.Lstat(q)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := a.r.Mkdir(q, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case err != nil:
			return err
		case fi.IsDir():
		case treeOf(a.trees, q) == "":
			return fmt.Errorf("%w: %q is a %s outside the synced trees; not going through it", ErrUnsafe, q, kindOf(fi.Mode()))
		default:
			if err := a.r.Remove(q); err != nil {
				return err
			}
			a.removed++
			if err := a.r.Mkdir(q, 0o755); err != nil {
				return err
			}
		}
		a.made[q] = true
	}
	return nil
}

// replace renames tmp over p, clearing a directory in the way.
func (a *applier) replace(tmp, p string) error {
	if fi, err := a.r.Lstat(p); err == nil && fi.IsDir() {
		if err := a.r.RemoveAll(p); err != nil {
			return err
		}
	}
	if err := a.r.Rename(tmp, p); err != nil {
		a.r.Remove(tmp)
		return err
	}
	a.written++
	return nil
}

func (a *applier) link(f *wire.SyncFile) error {
	t, err := linkTarget(f.Path, f.Link, treeOf(a.trees, f.Path))
	if err != nil {
		return err
	}
	target := canonicalLink(f.Path, t)
	if err := a.mkdirs(path.Dir(f.Path)); err != nil {
		return err
	}
	if fi, err := a.r.Lstat(f.Path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if old, err := a.r.Readlink(f.Path); err == nil && old == target {
			return nil
		}
	}
	tmp := tempName(f.Path)
	if err := a.r.Symlink(target, tmp); err != nil {
		return err
	}
	return a.replace(tmp, f.Path)
}

// file writes the regular file f as a copy of its stored object (an empty
// one from nothing), unless it is in place.
func (a *applier) file(f *wire.SyncFile) error {
	if a.inPlace[f.Path] {
		e := a.index[f.Path]
		a.wrote[f.Path] = &e
		return nil
	}
	if err := a.mkdirs(path.Dir(f.Path)); err != nil {
		return err
	}
	tmp := tempName(f.Path)
	if f.Size == 0 {
		out, err := a.r.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm(f.Exec))
		if err == nil {
			err = out.Chmod(perm(f.Exec))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			a.r.Remove(tmp)
			return err
		}
	} else if err := copyFile(a.s.r, f.Hash, a.r, tmp, perm(f.Exec), f.Size); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("content %s is missing from the store", f.Hash)
		}
		return err
	}
	if err := a.replace(tmp, f.Path); err != nil {
		return err
	}
	fi, err := a.r.Lstat(f.Path)
	if err != nil {
		return err
	}
	a.wrote[f.Path] = &indexEntry{Path: f.Path, Hash: f.Hash, Exec: f.Exec, ID: fileID(fi)}
	return nil
}

// writeIndexes records, per tree of the manifest, what is now in place.
func (a *applier) writeIndexes() error {
	byTree := make(map[string]*index, len(a.m.Trees))
	for _, t := range a.m.Trees {
		byTree[t] = &index{Tree: t, Files: []indexEntry{}}
	}
	for i := range a.m.Files {
		if e := a.wrote[a.m.Files[i].Path]; e != nil {
			idx := byTree[treeOf(a.trees, e.Path)]
			idx.Files = append(idx.Files, *e)
		}
	}
	for _, t := range a.m.Trees {
		if err := writeIndex(a.r, byTree[t]); err != nil {
			return err
		}
	}
	return nil
}

// hashes returns the set of the manifest's content hashes.
func (a *applier) hashes() map[string]bool {
	keep := make(map[string]bool)
	for _, f := range a.m.Files {
		if f.Hash != "" {
			keep[f.Hash] = true
		}
	}
	return keep
}
