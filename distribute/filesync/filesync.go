// Package filesync owns mirroring the coordinator's files (test binaries,
// the tested packages' directories, --rsyncdir dirs) into a remote worker's
// workspace before any unit runs there.
//
// The coordinator builds a Manifest of trees (Build) and pushes it over the
// wire protocol (Push); the agent mirrors it under its workspace root
// (Apply). Content travels by SHA-256: the agent keeps a content store (its
// workspace's own under root/.covdist-objects, or one shared by the
// workspaces of a host) and asks only for the hashes that neither it nor a
// file already in place holds, so a second sync of an unchanged tree sends
// no file content and a one-file change sends about that file. Every synced
// file is a copy of its own, never a hard link to the store or to another
// synced file, so what one test writes no other test reads.
//
// Claim gives each coordinator's run a workspace that no other run uses at
// the same time.
//
// Nothing outside the named trees is ever written or removed: paths that are
// empty, absolute, hold ".." or a NUL, symbolic links whose target leaves
// their tree, and parents that are symbolic links are refused, by the
// coordinator before it sends and by the agent when it receives. The agent
// also does every file operation through an os.Root, so the kernel refuses
// what a check might have missed.
//
// Paths are slash-separated everywhere. On a receiver that is not Windows
// a backslash or a colon is an ordinary byte of a name, as the coordinator's
// file system had it, and syncs like any other. A Windows receiver cannot
// hold such a name (a backslash separates, a colon names a drive or a data
// stream): it leaves out just those entries, and says which in SyncDone.
//
// Package filesync imports only distribute/wire among covdist's packages.
package filesync

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/covdist/covdist/distribute/wire"
)

// Limits on what an agent accepts, so a hostile or broken coordinator cannot
// make it allocate or write without bound.
const (
	MaxFiles     = 100_000  // manifest entries
	MaxTrees     = 10_000   // trees in one manifest
	MaxPath      = 1024     // bytes in one path or link target
	MaxFileSize  = 2 << 30  // bytes in one file
	MaxTotalSize = 32 << 30 // bytes declared by one manifest, all files
)

// ObjectsDir is the content store's directory under the workspace root,
// when the workspace has a store of its own. No tree may be or contain it,
// nor any other top-level name starting with ".covdist-" (covdist's own
// files: the store, the sync index, the claim locks).
const ObjectsDir = ".covdist-objects"

// Tree names a local directory or file and where it goes in the workspace.
type Tree struct {
	Local  string // a directory or file on the coordinator; made absolute
	Remote string // slash path relative to the workspace root, e.g. "bin/0" or "src/calc"
}

// Manifest is what Build found: the wire manifest plus where each blob's
// content lives on the coordinator.
type Manifest struct {
	Trees []string
	Files []wire.SyncFile

	src map[string]string // hash -> a local file with that content
}

// Wire returns the manifest as sent to the agent.
func (m *Manifest) Wire() *wire.SyncManifest {
	return &wire.SyncManifest{Trees: m.Trees, Files: m.Files}
}

// Size returns the total content size of the manifest's files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ErrUnsafe marks a path or link that could write outside the workspace.
var ErrUnsafe = errors.New("unsafe path")

// CheckPath reports whether p is a safe workspace-relative path: non-empty,
// clean, slash-separated, relative, free of ".." and NULs, and outside
// covdist's own files (the content store, the index).
//
// Only "/" separates. Where this runs on Windows, a path holding a
// backslash or a colon (drive letters, data streams), or any other byte no
// Windows name may hold, is refused too. Elsewhere those are bytes of a
// name like any other: `a\..\b` is one element there, a file named so in
// the directory that holds it, and no way up; ".." is refused only as a
// whole element between slashes, which is all the kernel climbs by.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty path", ErrUnsafe)
	case len(p) > MaxPath:
		return fmt.Errorf("%w: path of %d bytes is over the %d-byte limit", ErrUnsafe, len(p), MaxPath)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: %q holds a NUL byte", ErrUnsafe, p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("%w: %q is absolute", ErrUnsafe, p)
	}
	if runtime.GOOS == "windows" {
		if why := windowsName(p); why != "" {
			return fmt.Errorf("%w: %q: %s", ErrUnsafe, p, why)
		}
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("%w: %q holds \"..\"", ErrUnsafe, p)
		}
	}
	if path.Clean(p) != p || p == "." {
		return fmt.Errorf("%w: %q is not a clean relative path", ErrUnsafe, p)
	}
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return fmt.Errorf("%w: %q is not a local path here", ErrUnsafe, p)
	}
	if p == ObjectsDir || strings.HasPrefix(p, ObjectsDir+"/") {
		return fmt.Errorf("%w: %q is inside the content store", ErrUnsafe, p)
	}
	if first, _, _ := strings.Cut(p, "/"); strings.HasPrefix(first, ".covdist-") {
		return fmt.Errorf("%w: %q is among covdist's own files in the workspace", ErrUnsafe, p)
	}
	return nil
}

// Unwritable returns why a receiver running goos (a GOOS: "windows",
// "linux", ...) cannot make the manifest entry f, whose path or link target
// holds a name its file system refuses, or "" when it can. Such an entry is
// left out of the sync, the rest goes ahead, and SyncDone names it. Only
// Windows refuses names here: elsewhere any byte but "/" and NUL may be in a
// name, and CheckPath refuses those for every receiver.
func Unwritable(f wire.SyncFile, goos string) string {
	if goos != "windows" {
		return ""
	}
	if why := windowsName(f.Path); why != "" {
		return why
	}
	if f.Link != "" {
		if why := windowsName(f.Link); why != "" {
			return "the symbolic link's target: " + why
		}
	}
	return ""
}

// windowsName returns why the slash path p cannot be a path on Windows, or
// "": a backslash would separate, a colon would name a drive or an NTFS data
// stream of another file, and < > " | ? * and control characters are in no
// Windows name.
func windowsName(p string) string {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20:
			return fmt.Sprintf("a Windows file name cannot hold control character %#02x", c)
		case strings.IndexByte(`\:<>"|?*`, c) >= 0:
			return fmt.Sprintf("a Windows file name cannot hold %q", string(c))
		}
	}
	return ""
}

// writable splits m into what a receiver running goos can write and the
// entries it cannot (see Unwritable), at most wire.MaxRefused of them named
// and the rest counted. It reads only m's strings, so it is safe on a
// manifest not yet validated; what it keeps is validated before use, and
// what it drops is never touched.
func writable(m *wire.SyncManifest, goos string) (kept *wire.SyncManifest, refused []wire.SyncRefused, more int) {
	if goos != "windows" {
		return m, nil, 0
	}
	kept = &wire.SyncManifest{Trees: m.Trees, Files: make([]wire.SyncFile, 0, len(m.Files))}
	for _, f := range m.Files {
		why := Unwritable(f, goos)
		switch {
		case why == "":
			kept.Files = append(kept.Files, f)
		case len(refused) < wire.MaxRefused:
			p := f.Path
			if len(p) > MaxPath {
				p = p[:MaxPath] // an invalid manifest's; only named back
			}
			refused = append(refused, wire.SyncRefused{Path: p, Why: why})
		default:
			more++
		}
	}
	return kept, refused, more
}

// linkTarget resolves the symbolic link at p with target link lexically and
// returns the workspace path it names, or an error when the target is
// absolute or leaves tree. As in CheckPath, only "/" separates, and a
// backslash or a colon is refused only where this runs on Windows.
func linkTarget(p, link, tree string) (string, error) {
	switch {
	case link == "":
		return "", fmt.Errorf("%w: symbolic link %q has an empty target", ErrUnsafe, p)
	case len(link) > MaxPath:
		return "", fmt.Errorf("%w: symbolic link %q has a target of %d bytes, over the %d-byte limit", ErrUnsafe, p, len(link), MaxPath)
	case strings.ContainsRune(link, 0):
		return "", fmt.Errorf("%w: symbolic link %q has a target holding a NUL byte", ErrUnsafe, p)
	case path.IsAbs(link) || filepath.IsAbs(link):
		return "", fmt.Errorf("%w: symbolic link %q -> %q is absolute", ErrUnsafe, p, link)
	}
	if runtime.GOOS == "windows" {
		if why := windowsName(link); why != "" {
			return "", fmt.Errorf("%w: symbolic link %q -> %q: %s", ErrUnsafe, p, link, why)
		}
	}
	t := path.Join(path.Dir(p), link)
	if !within(t, tree) {
		return "", fmt.Errorf("%w: symbolic link %q -> %q leaves its tree %q", ErrUnsafe, p, link, tree)
	}
	return t, nil
}

// canonicalLink rewrites a link target so that every ".." comes first and
// climbs only through p's own parents, which the sync made real directories.
// A lexically contained target such as "a/../../x" could otherwise escape
// when "a" is itself a symbolic link.
func canonicalLink(p, target string) string {
	from := strings.Split(path.Dir(p), "/")
	if path.Dir(p) == "." {
		from = nil
	}
	to := strings.Split(target, "/")
	i := 0
	for i < len(from) && i < len(to) && from[i] == to[i] {
		i++
	}
	parts := make([]string, 0, len(from)-i+len(to)-i)
	for range from[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, to[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// within reports whether p is tree or beneath it.
func within(p, tree string) bool {
	return p == tree || strings.HasPrefix(p, tree+"/")
}

// treeOf returns the innermost tree holding p, or "". It climbs p's
// parents rather than scanning the trees, so a manifest of many trees and
// files costs files times depth, not files times trees.
func treeOf(trees map[string]bool, p string) string {
	for ; p != "."; p = path.Dir(p) {
		if trees[p] {
			return p
		}
	}
	return ""
}

func isHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Validate checks a whole manifest: every tree and path safe, every entry
// inside a tree, exactly one kind per entry, no duplicates, no entry beneath
// a file or link, one size per hash, and the limits above. The coordinator
// runs it before sending and the agent before writing anything.
func Validate(m *wire.SyncManifest) error {
	if len(m.Trees) == 0 && len(m.Files) > 0 {
		return errors.New("manifest lists files but no trees")
	}
	if len(m.Trees) > MaxTrees {
		return fmt.Errorf("manifest lists %d trees, over the %d limit", len(m.Trees), MaxTrees)
	}
	if len(m.Files) > MaxFiles {
		return fmt.Errorf("manifest lists %d files, over the %d limit (narrow the synced dirs with --rsyncignore)", len(m.Files), MaxFiles)
	}
	seenTree := make(map[string]bool, len(m.Trees))
	for _, t := range m.Trees {
		if err := CheckPath(t); err != nil {
			return fmt.Errorf("tree: %w", err)
		}
		if seenTree[t] {
			return fmt.Errorf("tree %q listed twice", t)
		}
		seenTree[t] = true
	}
	kind := make(map[string]byte, len(m.Files)) // 'f' file, 'l' link, 'd' dir
	sizes := make(map[string]int64)
	var total int64
	for _, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return err
		}
		tree := treeOf(seenTree, f.Path)
		if tree == "" {
			return fmt.Errorf("%q is in none of the manifest's trees", f.Path)
		}
		if _, dup := kind[f.Path]; dup {
			return fmt.Errorf("%q listed twice", f.Path)
		}
		switch {
		case f.Link != "":
			if f.Dir || f.Hash != "" || f.Size != 0 || f.Exec {
				return fmt.Errorf("%q is a symbolic link with file fields set", f.Path)
			}
			if _, err := linkTarget(f.Path, f.Link, tree); err != nil {
				return err
			}
			kind[f.Path] = 'l'
		case f.Dir:
			if f.Hash != "" || f.Size != 0 || f.Exec {
				return fmt.Errorf("%q is a directory with file fields set", f.Path)
			}
			kind[f.Path] = 'd'
		default:
			if !isHash(f.Hash) {
				return fmt.Errorf("%q has a malformed hash %q", f.Path, f.Hash)
			}
			if f.Size < 0 || f.Size > MaxFileSize {
				return fmt.Errorf("%q has size %d, outside 0..%d", f.Path, f.Size, int64(MaxFileSize))
			}
			if f.Size == 0 && f.Hash != emptyHash {
				return fmt.Errorf("%q is empty but its hash is %s", f.Path, f.Hash)
			}
			if s, ok := sizes[f.Hash]; ok && s != f.Size {
				return fmt.Errorf("%q: hash %s declared with sizes %d and %d", f.Path, f.Hash, s, f.Size)
			}
			sizes[f.Hash] = f.Size
			total += f.Size
			if total > MaxTotalSize {
				return fmt.Errorf("manifest declares over %d bytes, the limit", int64(MaxTotalSize))
			}
			kind[f.Path] = 'f'
		}
	}
	// Nothing may live beneath a file or a link: writing there would go
	// through the link, or clash with the file.
	for _, f := range m.Files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if k := kind[d]; k == 'f' || k == 'l' {
				return fmt.Errorf("%q lies beneath %q, which is not a directory", f.Path, d)
			}
		}
	}
	return nil
}
