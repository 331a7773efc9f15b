package images

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func TestWriteMakesAnImportableImage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "prog")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Tag:        "ghcr.io/fluxcd/source-controller:v1.9.5",
		Entrypoint: []string{"/usr/local/bin/source-controller"},
		User:       "65534:65534",
		Env:        []string{"A=1"},
		Files: []File{
			{Path: "/usr/local/bin/source-controller", Mode: 0o755, Source: src},
			{Path: "/etc/motd", Data: []byte("hi")},
		},
	}
	out := filepath.Join(dir, "img.tar")
	if err := Write(spec, out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(spec.Tag)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.Entrypoint[0] != "/usr/local/bin/source-controller" || cfg.Config.User != "65534:65534" || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config %+v", cfg.Config)
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
	got := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	want := map[string]int64{"etc/": 0o755, "etc/motd": 0o644, "tmp/": 0o1777, "usr/": 0o755, "usr/local/": 0o755,
		"usr/local/bin/": 0o755, "usr/local/bin/source-controller": 0o755}
	if len(got) != len(want) {
		t.Errorf("layer entries %v, want %v", got, want)
	}
	for n, m := range want {
		if got[n] != m {
			t.Errorf("%s: mode %o, want %o (entries %v)", n, got[n], m, got)
		}
	}

	// Same inputs, same digest: images are cached by content.
	d1, _ := img.Digest()
	out2 := filepath.Join(dir, "img2.tar")
	if err := Write(spec, out2); err != nil {
		t.Fatal(err)
	}
	img2, err := tarball.ImageFromPath(out2, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := img2.Digest(); d1 != d2 {
		t.Errorf("digest %s then %s", d1, d2)
	}
}

func TestWriteRefusesRelativePathsAndBadTags(t *testing.T) {
	dir := t.TempDir()
	if err := Write(Spec{Tag: "x:1", Files: []File{{Path: "etc/motd"}}}, filepath.Join(dir, "a.tar")); err == nil {
		t.Error("relative path accepted")
	}
	if err := Write(Spec{Tag: "UPPER/case:1"}, filepath.Join(dir, "b.tar")); err == nil {
		t.Error("bad tag accepted")
	}
}

func TestPauseMatchesTheKitVersions(t *testing.T) {
	v, err := kit.Load()
	if err != nil {
		t.Fatal(err)
	}
	if v.PauseImage != Pause {
		t.Fatalf("versions.env pins %s, images.Pause is %s", v.PauseImage, Pause)
	}
}

func TestGoProgramBuildsTheStandin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles a program")
	}
	ctx := context.Background()
	mod, err := ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := GoProgram{Package: "./e2e/images/standin", Tag: Standin, User: "65532:65532"}.Build(ctx, mod, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(Standin)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := img.Size(); err != nil || size == 0 {
		t.Fatalf("size %d, %v", size, err)
	}
}
