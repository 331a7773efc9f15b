package airgap

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

func TestBuildVerifyImportRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	pub, priv := testKey(t)
	tr := e.train(t, true)
	out := filepath.Join(t.TempDir(), FileName(tr.Name, "amd64"))
	var log bytes.Buffer
	opts := e.buildOptions(t, tr, out, priv)
	opts.Status = status.New(&log, status.JSON)
	res, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if res.Path != out || res.Manifest.KeyID != KeyID(pub) || len(res.PinnedAtBuild) != 0 {
		t.Fatalf("result = %+v", res)
	}
	wantPaths := []string{
		"k3s/k3s", "k3s/k3s-airgap-images-amd64.tar.zst",
		"images/" + strings.ReplaceAll(e.host, ":", "_") + "_docs_backend_v1.0.0.tar",
		"images/" + strings.ReplaceAll(e.host, ":", "_") + "_docs_frontend_v1.0.0.tar",
		"images/" + strings.ReplaceAll(e.host, ":", "_") + "_library_nginx_1.29.tar",
		"charts/docs-1.2.3.tgz", "charts/cert-manager-v1.21.1.tgz", "charts/gateway-helm-1.9.0.tgz",
		"flux/crds/sources.yaml", "flux/gotk-components.yaml",
	}
	var got []string
	for _, f := range res.Manifest.Files {
		got = append(got, f.Path)
	}
	if strings.Join(got, "\n") != strings.Join(wantPaths, "\n") {
		t.Fatalf("bundle files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantPaths, "\n"))
	}
	if !strings.Contains(log.String(), `"event":"progress"`) {
		t.Errorf("build reported no byte progress:\n%s", log.String())
	}
	// The manifest leads the archive and the signature follows it.
	entries := readEntries(t, out)
	if entries[0].hdr.Name != ManifestName || entries[1].hdr.Name != SignatureName {
		t.Fatalf("leading entries are %s, %s", entries[0].hdr.Name, entries[1].hdr.Name)
	}
	if err := checkSignature(pub, entries[0].data, entries[1].data); err != nil {
		t.Fatalf("signature: %v", err)
	}

	vres, err := Verify(context.Background(), VerifyOptions{Bundle: out, Trust: Trust{Key: pub}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !vres.SignatureChecked || vres.ManifestSHA256 != res.ManifestSHA256 || vres.CompressedSize != res.Size {
		t.Fatalf("verify result = %+v", vres)
	}

	state := filepath.Join(t.TempDir(), "var", "lib", "docs-appliance")
	log.Reset()
	ires, err := Import(context.Background(), ImportOptions{Bundle: out, StateDir: state, Trust: Trust{Key: pub}, Status: status.New(&log, status.JSON)})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	dir := BundleDir(state, tr.Name, "amd64")
	if ires.Dir != dir || ires.AlreadyImported || !ires.SignatureChecked {
		t.Fatalf("import result = %+v", ires)
	}
	checkImportedTree(t, e, tr, dir)
	if !strings.Contains(log.String(), `"bytesTotal"`) {
		t.Errorf("import reported no byte progress:\n%s", log.String())
	}

	// A second import of the same bundle changes nothing and says so.
	before := treeState(t, dir)
	log.Reset()
	ires, err = Import(context.Background(), ImportOptions{Bundle: out, StateDir: state, Trust: Trust{Key: pub}, Status: status.New(&log, status.Plain)})
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	if !ires.AlreadyImported || !strings.Contains(log.String(), "already imported") {
		t.Fatalf("second import = %+v, said:\n%s", ires, log.String())
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("second import changed the bundle folder:\n%s\n---\n%s", before, after)
	}
	m, err := ReadImported(dir, pub)
	if err != nil || m.Train != tr.Name {
		t.Fatalf("ReadImported = %v, %v", m, err)
	}
}

// checkImportedTree proves the imported folder serves its consumers: the
// k3s step (binary, airgap images, image archives containerd can import by
// digest) and the chart store.
func checkImportedTree(t *testing.T, e *testEnv, tr *bundles.Train, dir string) {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(dir, "k3s", "k3s"))
	if err != nil || !bytes.Equal(bin, e.artifacts["k3s"]) {
		t.Fatalf("k3s binary: %v", err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "k3s", "k3s")); info.Mode().Perm() != 0o755 {
		t.Errorf("k3s binary mode = %v", info.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, K3sImagesPath("amd64"))); err != nil {
		t.Error(err)
	}
	store := bundles.DirStore(filepath.Join(dir, ChartsDir))
	for _, c := range tr.Charts {
		if _, err := store.Open(c); err != nil {
			t.Errorf("chart store: %v", err)
		}
	}
	for _, im := range tr.Images {
		checkImageArchive(t, filepath.Join(dir, filepath.FromSlash(ImagePath(im))), im, "amd64")
	}
	for _, p := range []string{ManifestName, SignatureName, "flux/gotk-components.yaml", "flux/crds/sources.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			t.Error(err)
		}
	}
}

// checkImageArchive opens an image archive as the OCI layout it is and
// checks what containerd will see: the pinned digest named by tag and by
// digest, and a complete, valid image for the architecture.
func checkImageArchive(t *testing.T, archive string, im bundles.Image, arch string) {
	t.Helper()
	dir := t.TempDir()
	kit.UntarFile(t, archive, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("%s is not an OCI layout: %v", archive, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im2, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range im2.Manifests {
		if d.Digest.String() != im.Digest {
			t.Errorf("%s: index.json points at %s, the train pins %s", archive, d.Digest, im.Digest)
		}
		names[d.Annotations[annotationImageName]] = true
	}
	if !names[im.Reference] || !names[im.Repository()+"@"+im.Digest] {
		t.Errorf("%s: containerd names %v, want the tag and the digest reference", archive, names)
	}
	h, _ := v1.NewHash(im.Digest)
	var img v1.Image
	if child, err := idx.ImageIndex(h); err == nil {
		cm, err := child.IndexManifest()
		if err != nil {
			t.Fatalf("%s: pinned index: %v", archive, err)
		}
		for _, d := range cm.Manifests {
			if platformMatches(d.Platform, arch) {
				img, err = child.Image(d.Digest)
				if err != nil {
					t.Fatalf("%s: %s image: %v", archive, arch, err)
				}
			}
		}
	} else {
		img, err = idx.Image(h)
		if err != nil {
			t.Fatalf("%s: pinned image: %v", archive, err)
		}
	}
	if img == nil {
		t.Fatalf("%s: no %s image", archive, arch)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("%s: image does not validate: %v", archive, err)
	}
}

// treeState lists every file with its size, mode and modification time.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String() + " " + info.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func readEntries(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h, data})
	}
}

func TestBuildRefusesUnlockedTrainBeforeFetching(t *testing.T) {
	e := newTestEnv(t)
	outDir := t.TempDir()
	_, err := Build(context.Background(), e.buildOptions(t, e.train(t, false), filepath.Join(outDir, "b.tar.zst"), nil))
	if err == nil {
		t.Fatal("an unlocked train was built")
	}
	for _, want := range []string{"unlocked", "k3s.artifacts.amd64.binarySHA256", "charts[0].sha256 (docs 1.2.3)", "images[2].digest", "make lock", "--pin-unlocked"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := e.count("/k3s/k3s"); n != 0 {
		t.Errorf("k3s was downloaded %d times before the train was refused", n)
	}
	assertEmptyDir(t, outDir)
}

func TestBuildPinsUnlockedTrainWhenAsked(t *testing.T) {
	e := newTestEnv(t)
	pub, priv := testKey(t)
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	opts := e.buildOptions(t, e.train(t, false), out, priv)
	opts.PinUnlocked = true
	var log bytes.Buffer
	opts.Status = status.New(&log, status.Plain)
	res, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	locked := e.train(t, true)
	spec := res.Manifest.Spec
	// Locked for what the bundle carries: arm64's k3s is not in an amd64 bundle.
	if missing := unlockedFor(&spec, "amd64"); len(missing) > 0 {
		t.Fatalf("the bundle's train is not locked: %v", missing)
	}
	for i, im := range spec.Images {
		if im.Digest != locked.Images[i].Digest {
			t.Errorf("pinned %s = %s, registry has %s", im.Reference, im.Digest, locked.Images[i].Digest)
		}
	}
	for i, c := range spec.Charts {
		if c.SHA256 != locked.Charts[i].SHA256 {
			t.Errorf("pinned chart %s = %s, want %s", c.Name, c.SHA256, locked.Charts[i].SHA256)
		}
	}
	if spec.K3s.Artifacts["amd64"] != locked.K3s.Artifacts["amd64"] {
		t.Errorf("pinned k3s = %+v, want %+v", spec.K3s.Artifacts["amd64"], locked.K3s.Artifacts["amd64"])
	}
	// 2 k3s artifacts, 3 charts, 3 images.
	if len(res.PinnedAtBuild) != 8 || len(res.Manifest.PinnedAtBuild) != 8 {
		t.Errorf("pinnedAtBuild = %v", res.PinnedAtBuild)
	}
	if !strings.Contains(log.String(), "pinned at build (trust on first use): images[0].digest") {
		t.Errorf("no warning for the pins:\n%s", log.String())
	}
	if _, err := Verify(context.Background(), VerifyOptions{Bundle: out, Trust: Trust{Key: pub}}); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func TestBuildRejectsWhatTheServersAnswerWrongly(t *testing.T) {
	e := newTestEnv(t)
	zero := strings.Repeat("0", 64)
	cases := []struct {
		name   string
		change func(tr *bundles.Train)
		want   []string
	}{
		{"k3s binary sha256", func(tr *bundles.Train) {
			a := tr.K3s.Artifacts["amd64"]
			a.BinarySHA256 = zero
			tr.K3s.Artifacts["amd64"] = a
		}, []string{"k3s v1.35.2+k3s1 k3s/k3s", "k3s.artifacts.amd64.binarySHA256", "the train pins " + zero}},
		{"k3s URL 404", func(tr *bundles.Train) {
			a := tr.K3s.Artifacts["amd64"]
			a.AirgapImagesURL += ".missing"
			tr.K3s.Artifacts["amd64"] = a
		}, []string{"k3s-airgap-images-amd64.tar.zst.missing", "404"}},
		{"https chart sha256", func(tr *bundles.Train) { tr.Charts[0].SHA256 = zero }, []string{"chart docs 1.2.3", "charts[0].sha256 (docs 1.2.3)"}},
		{"chart version missing", func(tr *bundles.Train) { tr.Charts[1].Version = "v9.9.9" }, []string{"chart cert-manager v9.9.9", "does not list that version"}},
		{"oci chart sha256", func(tr *bundles.Train) { tr.Charts[2].SHA256 = zero }, []string{"chart gateway-helm 1.9.0", "charts[2].sha256", "the tag was moved"}},
		{"image digest", func(tr *bundles.Train) { tr.Images[0].Digest = "sha256:" + zero }, []string{"pulling image " + e.host + "/docs/backend:v1.0.0"}},
		{"image repository", func(tr *bundles.Train) { tr.Images[1].Reference = e.host + "/docs/nothere:v1.0.0" }, []string{"pulling image " + e.host + "/docs/nothere:v1.0.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := e.train(t, true)
			c.change(tr)
			outDir := t.TempDir()
			_, err := Build(context.Background(), e.buildOptions(t, tr, filepath.Join(outDir, "b.tar.zst"), nil))
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			assertEmptyDir(t, outDir)
		})
	}
}

func TestBuildRejectsAnImageForAnotherArchitecture(t *testing.T) {
	e := newTestEnv(t)
	outDir := t.TempDir()
	opts := e.buildOptions(t, e.train(t, true), filepath.Join(outDir, "b.tar.zst"), nil)
	opts.Arch = "arm64"
	_, err := Build(context.Background(), opts)
	// docs/frontend is pushed for amd64 only.
	if err == nil || !strings.Contains(err.Error(), "built for linux/amd64, the bundle is for linux/arm64") {
		t.Fatalf("error = %v", err)
	}
	assertEmptyDir(t, outDir)
}

func TestBuildOptionErrorsComeFirst(t *testing.T) {
	e := newTestEnv(t)
	tr := e.train(t, true)
	dir := t.TempDir()
	cases := []struct {
		name   string
		change func(o *BuildOptions)
		want   string
	}{
		{"no flux", func(o *BuildOptions) { o.Flux = nil }, "--flux-manifests"},
		{"arch", func(o *BuildOptions) { o.Arch = "s390x" }, `--arch "s390x"`},
		{"out is a folder", func(o *BuildOptions) { o.Out = dir }, "is a folder"},
		{"out folder missing", func(o *BuildOptions) { o.Out = filepath.Join(dir, "no", "b.tar.zst") }, "does not exist"},
		{"no train", func(o *BuildOptions) { o.Train = nil }, "--train"},
		{"flux path", func(o *BuildOptions) { o.Flux = fstest.MapFS{".hidden.yaml": {Data: []byte("x")}} }, ".hidden.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := e.buildOptions(t, tr, filepath.Join(dir, "b.tar.zst"), nil)
			c.change(&o)
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to mention %q", err, c.want)
			}
			if n := e.count("/k3s/k3s"); n != 0 {
				t.Fatalf("downloaded before checking options")
			}
		})
	}
}

func TestBuildTakesChartsFromAStore(t *testing.T) {
	e := newTestEnv(t)
	tr := e.train(t, true)
	storeDir := t.TempDir()
	// The store holds docs taken from the repository by hand.
	resp, err := e.client.Get(e.srv.URL + "/charts/docs-1.2.3.tgz")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := os.WriteFile(filepath.Join(storeDir, "docs-1.2.3.tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.count("/charts/docs-1.2.3.tgz")
	o := e.buildOptions(t, tr, filepath.Join(t.TempDir(), "b.tar.zst"), nil)
	o.Charts = bundles.DirStore(storeDir)
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if e.count("/charts/docs-1.2.3.tgz") != before {
		t.Error("the chart in the store was downloaded anyway")
	}
	if f, _ := res.Manifest.File("charts/docs-1.2.3.tgz"); f.Source != "folder "+storeDir {
		t.Errorf("docs chart source = %q", f.Source)
	}
}

func TestBuildRemovesStagingOfKilledBuilds(t *testing.T) {
	e := newTestEnv(t)
	outDir := t.TempDir()
	stale := filepath.Join(outDir, stagingBuildPrefix+"12345")
	if err := os.MkdirAll(filepath.Join(stale, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "images", "half.tar"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "b.tar.zst")
	if _, err := Build(context.Background(), e.buildOptions(t, e.train(t, true), out, nil)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(outDir)
	if len(entries) != 1 || entries[0].Name() != "b.tar.zst" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("output folder holds %v, want only the bundle", names)
	}
}

func TestManifestIsStableJSON(t *testing.T) {
	path, _, _ := sharedBundle(t)
	raw := readEntries(t, path)[0].data
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"formatVersion", "train", "arch", "created", "keyID", "spec", "files"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("manifest.json lacks %q", k)
		}
	}
	if _, err := ParseManifest(raw); err != nil {
		t.Fatal(err)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s holds %s after a failed build", dir, e.Name())
	}
}
