package airgap

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// The speed goal is measured end to end against the baseline by
// airgap/bench (make bench-airgap); these benchmarks give the throughput
// of each stage on a smaller bundle, for profiling and quick comparisons.

const benchSize = 256 << 20

var benchBundle struct {
	dir   string
	path  string
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
	stage string
	m     *Manifest
}

// synthBundle stages incompressible files shaped like a bundle (k3s, its
// images, eight image archives, a chart, Flux) and packs them once.
func synthBundle(b *testing.B) {
	b.Helper()
	if benchBundle.path != "" {
		return
	}
	dir, err := os.MkdirTemp("", "airgap-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchBundle.dir = dir
	benchBundle.stage = filepath.Join(dir, "stage")
	var seed [32]byte
	rand.Read(seed[:])
	src := mrand.NewChaCha8(seed)
	var files []File
	write := func(p, kind string, n int64, image string) {
		full := filepath.Join(benchBundle.stage, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		f, err := os.Create(full)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, h), src, n); err != nil {
			b.Fatal(err)
		}
		f.Close()
		files = append(files, File{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Kind: kind, Image: image})
	}
	var images []bundles.Image
	for i := 0; i < 8; i++ {
		images = append(images, bundles.Image{Reference: fmt.Sprintf("registry.example.org/bench/image-%d:v1", i), Digest: "sha256:" + sha256Hex([]byte{byte(i)})})
	}
	write(K3sBinaryPath, KindK3sBinary, 16<<20, "")
	write(K3sImagesPath("amd64"), KindK3sImages, 48<<20, "")
	for _, im := range images {
		write(ImagePath(im), KindImage, (benchSize-64<<20)/8, im.Pinned())
	}
	chart := bundles.Chart{Name: "docs", Repository: "https://charts.example.org", Version: "1.0.0"}
	write(ChartPath(chart), KindChart, 64<<10, "")
	chart.SHA256 = files[len(files)-1].SHA256
	write("flux/gotk-components.yaml", KindFlux, 64<<10, "")
	tr := bundles.Train{
		Name: "2099.01",
		K3s: bundles.K3s{Version: "v1.35.2+k3s1", Artifacts: map[string]bundles.K3sArtifacts{"amd64": {
			BinaryURL: "https://example.org/k3s", BinarySHA256: files[0].SHA256,
			AirgapImagesURL: "https://example.org/i.tar.zst", AirgapImagesSHA256: files[1].SHA256,
		}}},
		Kubernetes: bundles.KubernetesRange{MinVersion: "1.33", MaxVersion: "1.36"},
		Flux:       bundles.Flux{Version: "v2.9.5", Controllers: map[string]string{"source-controller": "v1.9.5", "kustomize-controller": "v1.9.5", "notification-controller": "v1.9.4"}},
		Docs:       bundles.Docs{Version: "v5.4.1"},
		Charts:     []bundles.Chart{chart},
		Images:     images,
	}
	benchBundle.pub, benchBundle.priv, _ = ed25519.GenerateKey(rand.Reader)
	benchBundle.m = &Manifest{FormatVersion: FormatVersion, Train: tr.Name, Arch: "amd64", Created: time.Now().UTC().Truncate(time.Second), Spec: tr, Files: files}
	benchBundle.path = filepath.Join(dir, FileName(tr.Name, "amd64"))
	if _, err := Pack(context.Background(), PackOptions{Dir: benchBundle.stage, Manifest: benchBundle.m, Out: benchBundle.path, Key: benchBundle.priv}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPack(b *testing.B) {
	synthBundle(b)
	out := filepath.Join(b.TempDir(), "b.tar.zst")
	b.SetBytes(benchBundle.m.UnpackedSize())
	for b.Loop() {
		if _, err := Pack(context.Background(), PackOptions{Dir: benchBundle.stage, Manifest: benchBundle.m, Out: out, Key: benchBundle.priv}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	synthBundle(b)
	b.SetBytes(benchBundle.m.UnpackedSize())
	for b.Loop() {
		if _, err := Verify(context.Background(), VerifyOptions{Bundle: benchBundle.path, Trust: Trust{Key: benchBundle.pub}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImport(b *testing.B) {
	synthBundle(b)
	b.SetBytes(benchBundle.m.UnpackedSize())
	for b.Loop() {
		state := b.TempDir()
		if _, err := Import(context.Background(), ImportOptions{Bundle: benchBundle.path, StateDir: state, Trust: Trust{Key: benchBundle.pub}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(state)
		b.StartTimer()
	}
}

// BenchmarkBuild pulls a train from the test servers (registry, Helm
// repository, k3s downloads, all over TLS on 127.0.0.1) and packs it:
// three images of 64 MiB, k3s, charts.
func BenchmarkBuild(b *testing.B) {
	e := newTestEnvSized(b, 64<<20)
	tr := e.train(b, true)
	out := filepath.Join(b.TempDir(), "b.tar.zst")
	var size int64
	for b.Loop() {
		res, err := Build(context.Background(), e.buildOptions(b, tr, out, nil))
		if err != nil {
			b.Fatal(err)
		}
		size = res.Manifest.UnpackedSize()
	}
	b.SetBytes(size)
}
