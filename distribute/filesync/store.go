package filesync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Names of covdist's own files at the top of a workspace. No tree may be or
// hold any name starting with ".covdist-" (CheckPath).
const (
	// indexDir holds, per tree, what the last sync wrote there: each
	// regular file's hash and the identity of the file it wrote, so that a
	// later sync knows a file is still its own without reading it.
	indexDir = ".covdist-index"
	// storeMarker, when present, names (as an absolute path) a content
	// store shared with other workspaces, used instead of ObjectsDir.
	storeMarker = ".covdist-store"
)

// Names inside a content store besides its objects.
const (
	rootsDir      = "roots"     // one file per workspace using the store, holding its path
	collectedName = "collected" // its modification time is when the store was last collected
)

// collectEvery is how often at most a store is swept of objects that no
// workspace uses. A sweep reads the index of every workspace sharing the
// store, so it is not done on every sync.
var collectEvery = 10 * time.Minute

// store is a content store: each object a read-only file named by the
// SHA-256 of its content, never a name of a synced file (synced files are
// copies of objects), so nothing a test does reaches it.
type store struct {
	r   *os.Root
	dir string // absolute
}

// openStore opens the content store of the workspace at root (absolute):
// the one its marker names, else its own ObjectsDir, made when missing.
func openStore(r *os.Root, root string) (*store, error) {
	b, err := r.ReadFile(storeMarker)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ownStore(r, root)
	case err != nil:
		return nil, fmt.Errorf("reading the workspace's %s: %w", storeMarker, err)
	}
	dir := strings.TrimSpace(string(b))
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return nil, fmt.Errorf("the workspace's %s names %q, not a clean absolute directory: remove %s to give the workspace a store of its own",
			storeMarker, dir, filepath.Join(root, storeMarker))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("making the shared content store: %w", err)
	}
	sr, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the shared content store: %w", err)
	}
	return &store{r: sr, dir: dir}, nil
}

func ownStore(r *os.Root, root string) (*store, error) {
	fi, err := r.Lstat(ObjectsDir)
	if errors.Is(err, fs.ErrNotExist) {
		err = r.Mkdir(ObjectsDir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			err = nil
		}
		if err == nil {
			fi, err = r.Lstat(ObjectsDir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the content store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: the content store %q is a %s", ErrUnsafe, ObjectsDir, kindOf(fi.Mode()))
	}
	sr, err := r.OpenRoot(ObjectsDir)
	if err != nil {
		return nil, fmt.Errorf("opening the content store: %w", err)
	}
	return &store{r: sr, dir: filepath.Join(root, ObjectsDir)}, nil
}

func (s *store) Close() error { return s.r.Close() }

// has reports whether the store holds hash's size bytes, untouched since
// they were stored. An object that still has other names (a synced file of
// an older covdist, which hard-linked them) is first made a file of its own,
// so that what writes those names no longer writes the object.
func (s *store) has(hash string, size int64) bool {
	fi, err := s.r.Lstat(hash)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size || !fi.ModTime().Equal(stamp) {
		return false
	}
	if linkCount(fi) > 1 {
		tmp := tempName(hash)
		if err := copyFile(s.r, hash, s.r, tmp, objectPerm, size); err != nil {
			return false
		}
		if err := s.put(tmp, hash); err != nil {
			return false
		}
		return true
	}
	if fi.Mode().Perm() != objectPerm {
		return s.r.Chmod(hash, objectPerm) == nil
	}
	return true
}

// put makes a verified object of the temporary file tmp in the store by
// making it read-only, stamping it and renaming it.
func (s *store) put(tmp, hash string) error {
	err := s.r.Chmod(tmp, objectPerm)
	if err == nil {
		err = s.r.Chtimes(tmp, stamp, stamp)
	}
	if err == nil {
		err = s.r.Rename(tmp, hash)
	}
	if err != nil {
		s.r.Remove(tmp)
		return fmt.Errorf("storing %s: %w", hash, err)
	}
	return nil
}

// register records that the workspace at root uses the store, so that a
// collection keeps what its trees hold.
func (s *store) register(root string) error {
	if err := s.r.Mkdir(rootsDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	name := rootsDir + "/" + nameOf(root)
	if b, err := s.r.ReadFile(name); err == nil && strings.TrimSpace(string(b)) == root {
		return nil
	}
	tmp := tempName(name)
	if err := s.r.WriteFile(tmp, []byte(root+"\n"), 0o644); err != nil {
		return err
	}
	if err := s.r.Rename(tmp, name); err != nil {
		s.r.Remove(tmp)
		return err
	}
	return nil
}

// collect removes the objects that neither keep nor the index of any
// workspace using the store names, and leftovers of interrupted syncs, at
// most once every collectEvery, and not before collectEvery has passed
// since the store was first seen. It runs under the store lock, so no sync is
// mid-way. Objects are only a cache (synced files are copies), so an object
// collected too eagerly costs a transfer, never a test's file; a workspace
// whose index cannot be read stops the collection all the same.
func (s *store) collect(keep map[string]bool) {
	fi, err := s.r.Lstat(collectedName)
	if errors.Is(err, fs.ErrNotExist) {
		// A store never collected may be an older covdist's, whose
		// workspaces have no index yet: give their next syncs the time to
		// write one before anything of theirs is thrown away.
		s.r.WriteFile(collectedName, nil, 0o644)
		return
	}
	if err != nil || time.Since(fi.ModTime()) < collectEvery {
		return
	}
	d, err := s.r.Open(rootsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return
	}
	var regs []string
	if err == nil {
		regs, _ = d.Readdirnames(-1)
		d.Close()
	}
	for _, reg := range regs {
		b, err := s.r.ReadFile(rootsDir + "/" + reg)
		if err != nil {
			continue
		}
		root := strings.TrimSpace(string(b))
		used, err := s.usedBy(root)
		if err != nil {
			return
		}
		if used == nil {
			s.r.Remove(rootsDir + "/" + reg) // gone, or moved to another store
			continue
		}
		for h := range used {
			keep[h] = true
		}
	}
	d, err = s.r.Open(".")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		// Only what the store itself makes: hashes (".x" ones are an older
		// covdist's executable variants) and temporary files.
		h := strings.TrimSuffix(n, ".x")
		if isHash(h) && !keep[h] || strings.HasPrefix(n, ".covdist-tmp-") {
			s.r.Remove(n)
		}
	}
	now := time.Now()
	s.r.Chtimes(collectedName, now, now)
}

// usedBy returns the hashes that the workspace at root holds by its index,
// or nil when root is no workspace of this store any more.
func (s *store) usedBy(root string) (map[string]bool, error) {
	if !filepath.IsAbs(root) {
		return nil, nil
	}
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	mine := filepath.Join(root, ObjectsDir)
	if b, err := r.ReadFile(storeMarker); err == nil {
		mine = strings.TrimSpace(string(b))
	}
	if mine != s.dir {
		return nil, nil
	}
	d, err := r.Open(indexDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	used := make(map[string]bool)
	for _, n := range names {
		if strings.HasPrefix(n, ".covdist-tmp-") {
			continue
		}
		idx, err := readIndexFile(r, indexDir+"/"+n)
		if err != nil {
			return nil, err
		}
		for _, e := range idx.Files {
			used[e.Hash] = true
		}
	}
	return used, nil
}

// index is what a sync wrote into one tree.
type index struct {
	Tree  string       `json:"tree"`
	Files []indexEntry `json:"files"`
}

// indexEntry is one regular file a sync wrote: its content and the identity
// (fileID) of the file as written. A file whose identity is still that
// holds that content, untouched.
type indexEntry struct {
	Path string `json:"path"`
	Hash string `json:"hash"`
	Exec bool   `json:"exec,omitempty"`
	ID   string `json:"id"`
}

// nameOf is a file name for p: the start of its SHA-256.
func nameOf(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:16])
}

func indexName(tree string) string { return indexDir + "/" + nameOf(tree) }

func readIndexFile(r *os.Root, name string) (*index, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var idx index
	if err := json.NewDecoder(io.LimitReader(f, 64<<20)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("reading the sync index %s: %w", name, err)
	}
	return &idx, nil
}

// writeIndex replaces tree's index in the workspace.
func writeIndex(r *os.Root, idx *index) error {
	fi, err := r.Lstat(indexDir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = r.Mkdir(indexDir, 0o755); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	} else if err == nil && !fi.IsDir() {
		err = fmt.Errorf("%w: %q is a %s", ErrUnsafe, indexDir, kindOf(fi.Mode()))
	}
	if err != nil {
		return fmt.Errorf("writing the sync index: %w", err)
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	name := indexName(idx.Tree)
	tmp := tempName(name)
	if err := r.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing the sync index: %w", err)
	}
	if err := r.Rename(tmp, name); err != nil {
		r.Remove(tmp)
		return fmt.Errorf("writing the sync index: %w", err)
	}
	return nil
}

// copyFile copies size bytes from one root's file to a new file of
// another's (or the same) with mode perm. On Linux io.Copy between two
// files is copy_file_range, which shares the blocks where the file system
// can (btrfs, XFS) and copies in the kernel where it cannot.
func copyFile(fromRoot *os.Root, from string, toRoot *os.Root, to string, perm fs.FileMode, size int64) error {
	in, err := fromRoot.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := toRoot.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil && n != size {
		err = fmt.Errorf("copying %s: got %d bytes; want %d", path.Base(from), n, size)
	}
	if err == nil {
		err = out.Chmod(perm) // the umask may have narrowed OpenFile's
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		toRoot.Remove(to)
	}
	return err
}
