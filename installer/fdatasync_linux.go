package installer

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes the file's data as etcd's WAL does (fdatasync, not fsync).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
