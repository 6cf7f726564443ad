//go:build unix

package filesync

import (
	"fmt"
	"io/fs"
	"syscall"
)

// objectPerm is the mode of stored objects: nothing writes them once stored.
const objectPerm fs.FileMode = 0o444

// linkCount is how many names a file has.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// fileID identifies a file's inode and its state: any write to it, a
// chmod, a touch or a replacement changes it, since each changes the
// inode's change time (which nothing can set back).
func fileID(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("%d:%d:%d:%d", uint64(st.Dev), uint64(st.Ino), changeTime(st, fi), st.Size)
}
