package filesync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/covdist/covdist/distribute/wire"
)

// Build walks trees and returns their manifest. Regular files, symbolic
// links and empty directories are listed; other file types are skipped, as
// are ".git" directories and whatever matches an ignore glob.
//
// An ignore glob is matched with path.Match against each entry's path
// relative to its tree and against its last element, the way rsync's
// --exclude does: "*.log" skips every log file, "testdata/big" one
// directory. A trailing slash makes a glob match directories only.
//
// A symbolic link whose target is absolute or leaves its tree (lexically or
// once resolved) is an error naming it. Hashes are cached in memory by
// path, size and modification time, so rebuilding an unchanged tree in the
// same process reads no file.
func Build(trees []Tree, ignore []string) (*Manifest, error) {
	for _, g := range ignore {
		if _, err := path.Match(strings.Trim(g, "/"), ""); err != nil {
			return nil, fmt.Errorf("--rsyncignore %q: %w", g, err)
		}
	}
	m := &Manifest{src: make(map[string]string)}
	for _, t := range trees {
		if err := m.add(t, ignore); err != nil {
			return nil, err
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	if err := Validate(m.Wire()); err != nil {
		return nil, fmt.Errorf("building the sync manifest: %w", err)
	}
	return m, nil
}

func (m *Manifest) add(t Tree, ignore []string) error {
	if err := CheckPath(t.Remote); err != nil {
		return fmt.Errorf("sync target for %s: %w", t.Local, err)
	}
	local, err := filepath.Abs(t.Local)
	if err != nil {
		return err
	}
	m.Trees = append(m.Trees, t.Remote)
	fi, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", local, err)
	}
	if fi.Mode().IsRegular() {
		return m.addFile(local, t.Remote, fi)
	}
	if !fi.IsDir() {
		return fmt.Errorf("syncing %s: neither a regular file nor a directory", local)
	}
	// The tree's own path may run through symbolic links; links inside it
	// are judged against where it really is.
	real, err := filepath.EvalSymlinks(local)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", local, err)
	}
	var dirs []string
	full := map[string]bool{} // remote dirs holding something listed
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("syncing %s: %w", t.Local, err)
		}
		rel, err := filepath.Rel(real, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		remote := t.Remote
		if rel != "." {
			if skip(rel, d.IsDir(), ignore) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			remote = t.Remote + "/" + rel
		}
		switch typ := d.Type(); {
		case d.IsDir():
			dirs = append(dirs, remote)
		case typ.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("syncing %s: %w", p, err)
			}
			if err := m.addFile(p, remote, fi); err != nil {
				return err
			}
		case typ&fs.ModeSymlink != 0:
			if err := m.addLink(p, real, remote, t.Remote); err != nil {
				return err
			}
		default:
			return nil // sockets, pipes, devices: nothing a test reads
		}
		full[path.Dir(remote)] = true
		return nil
	})
	if err != nil {
		return err
	}
	// Empty directories are listed too: a test may expect one to exist.
	for _, d := range dirs {
		if !full[d] {
			m.Files = append(m.Files, wire.SyncFile{Path: d, Dir: true})
		}
	}
	return nil
}

// skip reports whether rel (slash, relative to its tree) is ignored.
func skip(rel string, isDir bool, ignore []string) bool {
	base := path.Base(rel)
	if base == ".git" {
		return true
	}
	for _, g := range ignore {
		dirOnly := strings.HasSuffix(g, "/")
		g = strings.Trim(g, "/")
		if dirOnly && !isDir {
			continue
		}
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

func (m *Manifest) addFile(local, remote string, fi fs.FileInfo) error {
	sum, err := hashFile(local, fi)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", local, err)
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("syncing %s: %d bytes is over the %d-byte limit per file (leave it out with --rsyncignore)", local, fi.Size(), int64(MaxFileSize))
	}
	m.Files = append(m.Files, wire.SyncFile{Path: remote, Size: fi.Size(), Exec: fi.Mode()&0o111 != 0, Hash: sum})
	if _, ok := m.src[sum]; !ok {
		m.src[sum] = local
	}
	return nil
}

func (m *Manifest) addLink(local, realRoot, remote, tree string) error {
	target, err := os.Readlink(local)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", local, err)
	}
	link := filepath.ToSlash(target)
	if _, err := linkTarget(remote, link, tree); err != nil {
		return fmt.Errorf("syncing %s: %w (leave it out with --rsyncignore)", local, err)
	}
	// Lexically inside, but links along the way may still lead out.
	if res, err := filepath.EvalSymlinks(local); err == nil {
		if r, err := filepath.Rel(realRoot, res); err != nil || !filepath.IsLocal(r) && r != "." {
			return fmt.Errorf("syncing %s: %w: symbolic link -> %q resolves to %s, outside %s (leave it out with --rsyncignore)",
				local, ErrUnsafe, target, res, realRoot)
		}
	}
	m.Files = append(m.Files, wire.SyncFile{Path: remote, Link: link})
	return nil
}

type hashKey struct {
	path  string
	size  int64
	mtime int64
}

// hashes caches content hashes for the life of the process.
var hashes = struct {
	sync.Mutex
	m map[hashKey]string
}{m: make(map[hashKey]string)}

func hashFile(p string, fi fs.FileInfo) (string, error) {
	k := hashKey{p, fi.Size(), fi.ModTime().UnixNano()}
	hashes.Lock()
	sum, ok := hashes.m[k]
	hashes.Unlock()
	if ok {
		return sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	if n != fi.Size() {
		return "", fmt.Errorf("changed while being read (%d bytes, then %d)", fi.Size(), n)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	hashes.Lock()
	hashes.m[k] = sum
	hashes.Unlock()
	return sum, nil
}
