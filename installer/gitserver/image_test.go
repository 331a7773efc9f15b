package gitserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// TestImageRunsGitFromItsOwnFiles assembles the image from this machine's Debian git, checks the
// archive is what containerd imports, and (as root) runs git inside the unpacked layer alone:
// proof that the image carries every library git needs.
func TestImageRunsGitFromItsOwnFiles(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	server := filepath.Join(dir, "git-server")
	if err := os.WriteFile(server, []byte("stand-in for the server program"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := ImageOptions{Tag: "example.test/git-server:1", ServerBinary: server, GitRoot: "/", Out: filepath.Join(dir, "a.tar")}
	d1, err := WriteImage(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Out = filepath.Join(dir, "b.tar")
	d2, err := WriteImage(o)
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 || !strings.HasPrefix(d1, "sha256:") {
		t.Fatalf("digests %s and %s: the image is not reproducible", d1, d2)
	}

	blobs := readTar(t, o.Out)
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, blobs["index.json"])
	}
	m := index.Manifests[0]
	if m.Digest != d1 || m.Annotations["io.containerd.image.name"] != "example.test/git-server:1" {
		t.Fatalf("index entry %+v, want digest %s named example.test/git-server:1", m, d1)
	}
	var manifest struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(blobs["blobs/sha256/"+strings.TrimPrefix(d1, "sha256:")], &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blobs["blobs/sha256/"+strings.TrimPrefix(manifest.Layers[0].Digest, "sha256:")]))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	kit.Untar(t, zr, root)
	for _, p := range []string{"usr/lib/git-core/git", "usr/lib/git-core/git-http-backend", "usr/local/bin/git-server"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("image lacks /%s", p)
		}
	}

	kit.Root(t, "running git inside the unpacked image: chroot")
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = syscall.Mknod(filepath.Join(root, "dev", "null"), syscall.S_IFCHR|0o666, int(mkdev(1, 3)))
	if errors.Is(err, syscall.EPERM) {
		kit.Unavailable(t, "the right to make device nodes (CAP_MKNOD)", "run the tests as root outside a restricted container")
	}
	if err != nil {
		t.Fatalf("making /dev/null in the test root: %v", err)
	}
	out, err := exec.Command("chroot", root, "/usr/lib/git-core/git", "init", "--bare", "--template=", "/tmp/r.git").CombinedOutput()
	if err != nil {
		t.Fatalf("git does not run from the image's files alone: %v\n%s", err, out)
	}
	out, err = exec.Command("chroot", root, "/usr/lib/git-core/git-http-backend").CombinedOutput()
	if strings.Contains(string(out), "error while loading shared libraries") {
		t.Fatalf("git-http-backend lacks a library:\n%s", out)
	}
}

func mkdev(major, minor uint32) uint64 { return uint64(major)<<8 | uint64(minor) }

func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = data
	}
}
