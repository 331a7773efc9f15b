//go:build unix

package airgap

import (
	"os"

	"golang.org/x/sys/unix"
)

// freeBytes is the space an unprivileged writer may still use on the
// filesystem holding dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// lockFile takes an exclusive flock on path (created if missing), waiting
// for another holder. The returned release removes the file, then unlocks:
// the lock file exists only while its holder runs (or after a kill, until
// the next holder takes it over and removes it). A waiter woken on a file
// its holder removed finds path gone or another file there, and takes the
// lock again on what is at path now; a missing parent folder is
// fs.ErrNotExist, for the caller to make it again.
func lockFile(path string) (release func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		held, herr := f.Stat()
		now, nerr := os.Stat(path)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return func() {
				os.Remove(path)
				f.Close() // releases the flock
			}, nil
		}
		f.Close()
		if herr != nil {
			return nil, herr
		}
	}
}

// tryLock takes an exclusive lock on path without waiting; ok is false
// when another process holds it.
func tryLock(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, true, nil
}
