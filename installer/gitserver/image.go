package gitserver

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImageFile is one file of the server image.
type ImageFile struct {
	Path string // absolute in the image
	Mode int64
	Data []byte
}

// ImageOptions say what image to assemble.
type ImageOptions struct {
	// Tag names the image, e.g. ghcr.io/suitenumerique/docs-appliance-git-server:0.1.0.
	Tag string
	// ServerBinary is the git-server program, built static (CGO_ENABLED=0) for the image's arch.
	ServerBinary string
	// GitRoot is a root where Debian's git package is installed (/) or unpacked (dpkg-deb -x of
	// git and the libraries it needs): git and git-http-backend and every shared library their
	// ELF headers name are taken from there.
	GitRoot string
	// Out is the OCI image archive to write (importable with `ctr images import` and by k3s from
	// agent/images).
	Out string
}

// gitPrograms are what the server runs: git-http-backend, which runs git upload-pack and
// receive-pack (builtins of git), and git itself for init and maintenance.
var gitPrograms = []string{DefaultHTTPBackend, DefaultGit}

// GitFiles collects git's programs under root and the shared libraries they need (the ELF
// interpreter and DT_NEEDED entries, transitively), following symbolic links inside root. Each
// library is stored under the directory it was found in, dereferenced.
func GitFiles(root string) ([]ImageFile, error) {
	files, err := ProgramFiles(root, gitPrograms...)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's git package there)", err)
	}
	return files, nil
}

// ProgramFiles collects programs (absolute paths) under root and the shared libraries they need,
// as GitFiles does for git's: for other images assembled from a Debian system's programs.
func ProgramFiles(root string, programs ...string) ([]ImageFile, error) {
	var files []ImageFile
	seen := map[string]bool{}
	var queue []string
	for _, p := range programs {
		data, err := readRooted(root, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s under %s: %w", p, root, err)
		}
		if seen[p] {
			continue
		}
		files = append(files, ImageFile{Path: p, Mode: 0o755, Data: data})
		seen[p] = true
		if _, _, _, err := elfNeeds(data); err != nil {
			continue // a script: it needs its interpreter, which the caller lists
		}
		queue = append(queue, p)
	}
	triplet := ""
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		var data []byte
		for _, f := range files {
			if f.Path == p {
				data = f.Data
			}
		}
		interp, needed, machine, err := elfNeeds(data)
		if err != nil {
			return nil, fmt.Errorf("reading the ELF headers of %s: %w", p, err)
		}
		if triplet == "" {
			if triplet = multiarch[machine]; triplet == "" {
				return nil, fmt.Errorf("%s is for %s, which the image builder does not know", p, machine)
			}
		}
		var deps []string
		if interp != "" {
			deps = append(deps, interp)
		}
		for _, n := range needed {
			found, err := findLibrary(root, triplet, n)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", p, n, err)
			}
			deps = append(deps, found)
		}
		for _, d := range deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			data, err := readRooted(root, d)
			if err != nil {
				return nil, fmt.Errorf("reading %s under %s: %w", d, root, err)
			}
			files = append(files, ImageFile{Path: d, Mode: 0o755, Data: data})
			queue = append(queue, d)
		}
	}
	return files, nil
}

var multiarch = map[elf.Machine]string{elf.EM_X86_64: "x86_64-linux-gnu", elf.EM_AARCH64: "aarch64-linux-gnu"}

func elfNeeds(data []byte) (interp string, needed []string, machine elf.Machine, err error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return "", nil, 0, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", nil, 0, err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	needed, err = f.ImportedLibraries()
	return interp, needed, f.Machine, err
}

// findLibrary searches the directories Debian's dynamic loader searches by default.
func findLibrary(root, triplet, name string) (string, error) {
	dirs := []string{"/lib/" + triplet, "/usr/lib/" + triplet, "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	for _, d := range dirs {
		p := path.Join(d, name)
		if _, err := resolveRooted(root, p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found under %s in %s", root, strings.Join(dirs, ", "))
}

// resolveRooted follows symbolic links of p as if root were /, and returns the host path.
func resolveRooted(root, p string) (string, error) {
	parts := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		next := path.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("too many symbolic links in %s", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		parts = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return filepath.Join(root, cur), nil
}

func readRooted(root, p string) ([]byte, error) {
	host, err := resolveRooted(root, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(host)
}

// WriteImage assembles the server image (the server, git and its libraries, a /tmp) as an OCI
// image archive and returns its manifest digest, which is what a train pins. Timestamps are zero,
// so the same inputs give the same digest.
func WriteImage(o ImageOptions) (string, error) {
	ref, err := name.NewTag(o.Tag)
	if err != nil {
		return "", fmt.Errorf("parsing image tag %q: %w", o.Tag, err)
	}
	server, err := os.ReadFile(o.ServerBinary)
	if err != nil {
		return "", fmt.Errorf("reading the git-server program: %w", err)
	}
	files, err := GitFiles(o.GitRoot)
	if err != nil {
		return "", err
	}
	files = append(files, ImageFile{Path: "/usr/local/bin/git-server", Mode: 0o755, Data: server})
	layerTar, err := Layer(files)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return "", fmt.Errorf("building the image layer: %w", err)
	}
	arch := "amd64"
	if _, _, m, err := elfNeeds(files[0].Data); err == nil && m == elf.EM_AARCH64 {
		arch = "arm64"
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: arch, OS: "linux",
		Config: v1.Config{
			Entrypoint: []string{"/usr/local/bin/git-server"},
			Env:        []string{"PATH=/usr/lib/git-core:/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"},
			User:       "65532:65532",
			WorkingDir: "/",
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return "", fmt.Errorf("configuring the image: %w", err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", fmt.Errorf("adding the layer: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	if err := WriteOCIArchive(img, ref, o.Out); err != nil {
		return "", err
	}
	return digest.String(), nil
}

// WriteOCIArchive writes an OCI image layout as a tar, the image named by the annotations
// containerd's importer reads.
func WriteOCIArchive(img v1.Image, ref name.Tag, out string) error {
	dir, err := os.MkdirTemp("", "git-server-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the image layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          ref.Name(),
		"org.opencontainers.image.ref.name": ref.TagStr(),
	})); err != nil {
		return fmt.Errorf("writing the image layout: %w", err)
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: rel + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)})
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return f.Commit()
}

// Layer is an uncompressed, reproducible tar of files (fixed times, sorted) with their parent
// folders and a world-writable /tmp: the one layer of the server image, and of the e2e stand-ins.
func Layer(files []ImageFile) ([]byte, error) {
	dirs := map[string]int64{"tmp": 0o1777}
	byPath := map[string]ImageFile{}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean(f.Path), "/")
		if p == "" || p == "." || !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("image file path %q is not absolute", f.Path)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("image file %s listed twice", f.Path)
		}
		byPath[p] = f
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: dirs[d], ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	names = names[:0]
	for p := range byPath {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f := byPath[p]
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
