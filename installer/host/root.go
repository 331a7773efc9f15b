package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"golang.org/x/sys/unix"
)

// Root is the host filesystem seen under a prefix: Root("/") is the machine itself, Root("/tmp/x")
// a tree a test built. Every path given to its methods is a host path ("/etc/rancher/k3s"), taken
// under the prefix. The zero value is the machine's own root.
type Root string

// Path returns where the host path p lives under the root.
func (r Root) Path(p string) string {
	if r == "" || r == "/" {
		return filepath.Clean("/" + p)
	}
	return filepath.Join(string(r), filepath.Clean("/"+p))
}

// HostPath turns a path under the root back into a host path; paths outside the root come back as given.
func (r Root) HostPath(full string) string {
	if r == "" || r == "/" {
		return full
	}
	rel, err := filepath.Rel(string(r), full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return full
	}
	return filepath.Clean("/" + rel)
}

// ReadFile reads a host file.
func (r Root) ReadFile(p string) ([]byte, error) { return os.ReadFile(r.Path(p)) }

// Exists reports whether a host path exists (a dangling symlink counts).
func (r Root) Exists(p string) bool {
	_, err := os.Lstat(r.Path(p))
	return err == nil
}

// Lstat stats a host path without following a final symlink.
func (r Root) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(r.Path(p)) }

// Readlink reads a host symlink; the target is returned as written (a host path).
func (r Root) Readlink(p string) (string, error) { return os.Readlink(r.Path(p)) }

// ReadDir lists a host folder.
func (r Root) ReadDir(p string) ([]fs.DirEntry, error) { return os.ReadDir(r.Path(p)) }

// MkdirAll creates a host folder and its parents with mode.
func (r Root) MkdirAll(p string, mode fs.FileMode) error {
	if err := os.MkdirAll(r.Path(p), mode); err != nil {
		return fmt.Errorf("creating folder %s: %w", p, err)
	}
	return nil
}

// RemoveAll removes a host path and everything under it; a missing path is not an error.
func (r Root) RemoveAll(p string) error {
	if err := os.RemoveAll(r.Path(p)); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// Symlink makes link point at target (a host path), replacing a symlink that points elsewhere.
// It reports whether anything changed.
func (r Root) Symlink(target, link string) (bool, error) {
	if cur, err := r.Readlink(link); err == nil {
		if cur == target {
			return false, nil
		}
		if err := os.Remove(r.Path(link)); err != nil {
			return false, fmt.Errorf("replacing symlink %s: %w", link, err)
		}
	}
	if err := r.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return false, err
	}
	if err := os.Symlink(target, r.Path(link)); err != nil {
		return false, fmt.Errorf("linking %s to %s: %w", link, target, err)
	}
	return true, nil
}

// WriteFile writes data to a host file atomically (a temporary file beside it, synced, then
// renamed) unless the file already holds exactly data with mode. It reports whether it wrote.
// Missing parent folders are created 0755.
func (r Root) WriteFile(p string, data []byte, mode fs.FileMode) (bool, error) {
	full := r.Path(p)
	if cur, err := os.ReadFile(full); err == nil && bytes.Equal(cur, data) {
		return r.ensureMode(p, mode)
	}
	_, changed, err := r.WriteStream(p, bytes.NewReader(data), mode, "")
	return changed, err
}

func (r Root) ensureMode(p string, mode fs.FileMode) (bool, error) {
	st, err := os.Stat(r.Path(p))
	if err != nil {
		return false, err
	}
	if st.Mode().Perm() == mode.Perm() {
		return false, nil
	}
	if err := os.Chmod(r.Path(p), mode); err != nil {
		return false, fmt.Errorf("setting the mode of %s: %w", p, err)
	}
	return true, nil
}

// WriteStream copies src to a host file atomically with mode and returns the sha256 of the
// content. When wantSHA256 is not empty, a different sum leaves the file untouched and is a
// *ChecksumError. When the file already holds the same content, it is left as it is (its mode
// set) and changed is false. Nothing but a finished, verified file ever appears at p.
func (r Root) WriteStream(p string, src io.Reader, mode fs.FileMode, wantSHA256 string) (sum string, changed bool, err error) {
	full := r.Path(p)
	f, err := atomicfile.Create(full, mode)
	if err != nil {
		return "", false, err
	}
	defer f.Abort()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
		return "", false, fmt.Errorf("writing %s: %w", p, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if wantSHA256 != "" && sum != wantSHA256 {
		return sum, false, &ChecksumError{Path: p, Want: wantSHA256, Got: sum}
	}
	if cur, err := r.SHA256File(p); err == nil && cur == sum {
		changed, err := r.ensureMode(p, mode)
		return sum, changed, err
	}
	if err := f.Commit(); err != nil {
		return "", false, err
	}
	return sum, true, nil
}

// ChecksumError is content whose sha256 is not the pinned one.
type ChecksumError struct {
	Path      string
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: sha256 is %s, the release train pins %s (the file is corrupt or not the pinned release)", e.Path, e.Got, e.Want)
}

// SHA256File returns the sha256 of a host file, hex encoded.
func (r Root) SHA256File(p string) (string, error) {
	f, err := os.Open(r.Path(p))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DiskSpace is the free space of the filesystem a path is (or would be) on.
type DiskSpace struct {
	// Path is the host path asked about; Measured is the nearest existing folder actually measured.
	Path, Measured string
	Free, Total    uint64
	// Device identifies the filesystem, to tell whether two paths share one.
	Device uint64
}

// FreeSpace measures the filesystem that holds host path p, statting its nearest existing
// ancestor (a folder install has yet to create lands on its parent's filesystem).
func (r Root) FreeSpace(p string) (DiskSpace, error) {
	cur := filepath.Clean("/" + p)
	for {
		full := r.Path(cur)
		var st unix.Stat_t
		err := unix.Stat(full, &st)
		if err == nil {
			var s unix.Statfs_t
			if err := unix.Statfs(full, &s); err != nil {
				return DiskSpace{}, fmt.Errorf("measuring free space at %s: %w", cur, err)
			}
			return DiskSpace{Path: p, Measured: cur, Free: s.Bavail * uint64(s.Bsize), Total: s.Blocks * uint64(s.Bsize), Device: uint64(st.Dev)}, nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return DiskSpace{}, fmt.Errorf("measuring free space at %s: %w", cur, err)
		}
		if cur == "/" {
			return DiskSpace{}, fmt.Errorf("measuring free space at %s: no existing folder on the way", p)
		}
		cur = filepath.Dir(cur)
	}
}
