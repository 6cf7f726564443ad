//go:build !unix

package filesync

import (
	"fmt"
	"io/fs"
)

// objectPerm is the mode of stored objects. It leaves them writable here:
// a read-only file can be neither removed nor replaced on Windows.
const objectPerm fs.FileMode = 0o644

// linkCount is how many names a file has; 1 where it cannot be told.
func linkCount(fs.FileInfo) uint64 { return 1 }

// fileID identifies a file's state as well as this system lets us: by size
// and modification time.
func fileID(fi fs.FileInfo) string {
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}
