//go:build linux

package airgap

import (
	"os"

	"golang.org/x/sys/unix"
)

// renameExchange swaps two folders in one atomic step, so the bundle folder
// is never missing while a newer bundle replaces it.
func renameExchange(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// preallocate reserves a file's blocks up front: the extents come out
// contiguous and a full disk fails at the file's start, not midway. Where
// the filesystem cannot, writing simply allocates as it goes.
func preallocate(f *os.File, size int64) {
	if size > 0 {
		_ = unix.Fallocate(int(f.Fd()), 0, 0, size)
	}
}
