package images

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// writeRootFSLayer writes an uncompressed layer tar of the folder root (for example Debian
// packages unpacked with dpkg-deb -x) to w. Unlike the one-layer
// images of single programs, a root file system has symbolic links (the libraries' sonames,
// usr-merged /bin and /lib) and hard links, which are kept as links. Every entry is owned by
// root: a package's files are, and what must belong to a user is the pod's volumes. Times are
// zero, so the same folder gives the same digest.
func writeRootFSLayer(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	inodes := map[uint64]string{}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the root file system %s: %w", root, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: rel, ModTime: epoch, Mode: int64(fi.Mode().Perm())}
		if fi.Mode()&fs.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				if first, seen := inodes[st.Ino]; seen {
					h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				} else {
					inodes[st.Ino] = rel
				}
			}
		default:
			return fmt.Errorf("%s is neither a file, a folder nor a link: a root file system for an image holds no devices or sockets", p)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyFile(tw, p); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// rootFSLayerFile writes the layer of root beside out (a root file system is too big to hold in
// memory twice) and returns the file's path.
func rootFSLayerFile(root, out string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".layer-*.tar")
	if err != nil {
		return "", err
	}
	if err := writeRootFSLayer(f, root); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
