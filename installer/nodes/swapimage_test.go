package nodes

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// staticProgram builds a small static Go program, as k3s and docs-appliance are built.
func staticProgram(t *testing.T, dir, name, says string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	kit.StaticProgram(t, "package main\n\nfunc main() { println(\""+says+"\") }\n", out)
	return out
}

func TestSwapImageCarriesTheNewK3sAndThisProgram(t *testing.T) {
	dir := t.TempDir()
	k3sBin, self := staticProgram(t, dir, "k3s", "k3s v1.36.1"), staticProgram(t, dir, "docs-appliance", "docs-appliance")
	img, err := BuildSwapImage(k3sBin, self, "v1.36.1+k3s1", filepath.Join(dir, "swap.tar"))
	if err != nil {
		t.Fatal(err)
	}
	k3sData, _ := os.ReadFile(k3sBin)
	sum := sha256.Sum256(k3sData)
	if img.K3sSHA256 != hex.EncodeToString(sum[:]) || !strings.HasPrefix(img.Ref, SwapImageRepository+":v1.36.1-k3s1-") {
		t.Fatalf("image %+v", img)
	}
	again, err := BuildSwapImage(k3sBin, self, "v1.36.1+k3s1", filepath.Join(dir, "again.tar"))
	if err != nil || again.Ref != img.Ref {
		t.Errorf("the same inputs gave %v %v, want the same digest (pods name it)", again, err)
	}
	// Another build of this program, the same k3s: another tag, so importing it cannot orphan
	// this image's content in containerd.
	other, err := BuildSwapImage(k3sBin, staticProgram(t, t.TempDir(), "docs-appliance", "docs-appliance v2"), "v1.36.1+k3s1", filepath.Join(dir, "other.tar"))
	if err != nil || strings.Split(other.Ref, "@")[0] == strings.Split(img.Ref, "@")[0] {
		t.Errorf("another program under the same tag: %v %v", other, err)
	}

	// Read it back as containerd's importer does: an OCI layout whose manifest is the Ref's digest.
	lay := filepath.Join(dir, "layout")
	kit.UntarFile(t, img.Archive, lay)
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 || m.Manifests[0].Annotations["io.containerd.image.name"] != strings.Split(img.Ref, "@")[0] {
		t.Fatalf("index %+v %v", m, err)
	}
	_, digest, _ := strings.Cut(img.Ref, "@")
	h, _ := v1.NewHash(digest)
	image, err := idx.Image(h)
	if err != nil {
		t.Fatalf("the Ref's digest is not in the archive: %v", err)
	}
	cfg, _ := image.ConfigFile()
	if cfg.Architecture != "amd64" && cfg.Architecture != "arm64" || strings.Join(cfg.Config.Entrypoint, " ") != appliancePath {
		t.Errorf("config %+v", cfg.Config)
	}
	files := map[string]*tar.Header{}
	contents := map[string][]byte{}
	tr := tar.NewReader(mutate.Extract(image))
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hd.Name] = hd
		contents[hd.Name], _ = io.ReadAll(tr)
	}
	selfData, _ := os.ReadFile(self)
	if string(contents["k3s"]) != string(k3sData) || string(contents["docs-appliance"]) != string(selfData) ||
		files["k3s"].Mode&0o755 != 0o755 || files["docs-appliance"].Mode&0o755 != 0o755 {
		t.Errorf("the image's files: %v", files)
	}

	// The image holds nothing else: a program that needs a dynamic loader cannot run there.
	if _, err := BuildSwapImage(k3sBin, "/bin/ls", "v1.36.1+k3s1", filepath.Join(dir, "bad.tar")); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("a dynamically linked program: %v", err)
	}
	if _, err := BuildSwapImage(filepath.Join(dir, "k3s.go"), self, "v1.36.1+k3s1", filepath.Join(dir, "bad.tar")); err == nil || !strings.Contains(err.Error(), "not a Linux program") {
		t.Errorf("a k3s that is not a program: %v", err)
	}
}
