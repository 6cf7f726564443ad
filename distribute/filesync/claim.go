package filesync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxClaims is how many workspaces Claim tries: dir, dir.1, ... dir.N-1.
const MaxClaims = 32

// Names of the claim's files at the top of a workspace.
const (
	claimName = ".covdist-claim" // held exclusively while a claim is decided; holds the run
	useName   = ".covdist-use"   // held shared by every agent of the run using the workspace
)

// ErrAllClaimed is returned when every workspace Claim tries is held by
// other runs.
var ErrAllClaimed = errors.New("every workspace is in use by other runs")

// Claim picks the workspace of one coordinator's run and holds it for that
// run until release is called or the process ends: dir itself, or, while
// another run holds dir, the first of dir.1, dir.2, ... that no other run
// holds. Agents of one run (the same run string) share a workspace; two
// runs at once never do, so neither overwrites the files and test binaries
// the other's tests are using, and a rerun of the same checkout comes back
// to dir and finds its files there.
//
// When store is not empty the workspace uses that content store (an
// absolute directory), shared with other workspaces, instead of one of its
// own; objects are never a name of a synced file, so sharing them is safe.
//
// Where files cannot be locked (not on a Unix) it always returns dir.
func Claim(dir, run, store string) (ws string, release func(), err error) {
	if run == "" || strings.ContainsAny(run, "\n\x00") {
		return "", nil, fmt.Errorf("claiming a workspace: bad run name %q", run)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", nil, err
	}
	if store != "" {
		if store, err = filepath.Abs(store); err != nil {
			return "", nil, err
		}
	}
	for i := range MaxClaims {
		ws := dir
		if i > 0 {
			ws = fmt.Sprintf("%s.%d", dir, i)
		}
		release, ok, err := claim(ws, run)
		if err != nil {
			return "", nil, fmt.Errorf("claiming the workspace %s: %w", ws, err)
		}
		if !ok {
			continue
		}
		if err := setStore(ws, store); err != nil {
			release()
			return "", nil, fmt.Errorf("claiming the workspace %s: %w", ws, err)
		}
		return ws, release, nil
	}
	return "", nil, fmt.Errorf("claiming a workspace: %w (%s and %s.1 to %s.%d): wait for them to end, or give the tx another chdir=",
		ErrAllClaimed, dir, dir, dir, MaxClaims-1)
}

// setStore writes or removes the workspace's store marker.
func setStore(ws, store string) error {
	marker := filepath.Join(ws, storeMarker)
	if store == "" {
		if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == store {
		return nil
	}
	tmp := tempName(marker)
	if err := os.WriteFile(tmp, []byte(store+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, marker); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
