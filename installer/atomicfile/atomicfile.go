package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a file being written; nothing appears at its path before Commit.
type File struct {
	*os.File
	path string
	mode fs.FileMode
	done bool
}

// Create starts writing path with mode. The folder is made (0755) when missing; mode is set on
// the temporary file first, so a secret is never readable by others even for a moment.
func Create(path string, mode fs.FileMode) (*File, error) {
	return CreateIn(path, mode, 0o755)
}

// CreateIn is Create with the mode of any folder it has to make.
func CreateIn(path string, mode, dirMode fs.FileMode) (*File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &File{File: f, path: path, mode: mode}, nil
}

// Commit syncs the content and renames it into place, then syncs the folder so the rename
// survives a power cut.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("writing %s: already committed or aborted", f.path)
	}
	f.done = true
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	SyncDir(filepath.Dir(f.path))
	return nil
}

// Abort drops what was written; the target is untouched. It is safe after Commit (a no-op),
// so callers can defer it.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Write writes data to path atomically with mode, making the folder (0700: the files the
// appliance writes this way are often private) when it is missing.
func Write(path string, data []byte, mode fs.FileMode) error {
	f, err := CreateIn(path, mode, 0o700)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.File.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// SyncDir makes a rename in dir durable; best effort (some filesystems refuse it).
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
