package images

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A root file system unpacked from Debian packages keeps its links: library sonames, the
// usr-merge /bin, hard links between programs.
func TestWriteRootFSKeepsLinksAndModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"usr/bin", "usr/lib/x86_64-linux-gnu", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(p), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/bin/dash", 0o755)
	write("usr/lib/x86_64-linux-gnu/libpq.so.5.17", 0o644)
	for link, target := range map[string]string{"bin": "usr/bin", "usr/bin/sh": "dash", "usr/lib/x86_64-linux-gnu/libpq.so.5": "libpq.so.5.17"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "usr/bin/dash"), filepath.Join(root, "usr/bin/dash2")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "img.tar")
	if err := Write(Spec{Tag: "ghcr.io/cloudnative-pg/postgresql:17.6", User: "26:26", RootFS: root}, out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("ghcr.io/cloudnative-pg/postgresql:17.6")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	for name, target := range map[string]string{"bin": "usr/bin", "usr/bin/sh": "dash", "usr/lib/x86_64-linux-gnu/libpq.so.5": "libpq.so.5.17"} {
		if h := got[name]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != target {
			t.Errorf("%s: %+v, want a link to %s", name, h, target)
		}
	}
	if h := got["usr/bin/dash2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/dash" {
		t.Errorf("usr/bin/dash2: %+v, want a hard link to usr/bin/dash", h)
	}
	if h := got["usr/bin/dash"]; h == nil || h.Mode != 0o755 || h.Size != int64(len("usr/bin/dash")) || h.Uid != 0 {
		t.Errorf("usr/bin/dash: %+v", h)
	}
	if h := got["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/: %+v, want mode 1777", h)
	}
	if err := Write(Spec{Tag: "x.test/y:1", RootFS: root, Files: []File{{Path: "/etc/motd"}}}, out); err == nil {
		t.Error("Files and RootFS together were accepted")
	}
}
