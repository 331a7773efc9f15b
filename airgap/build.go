package airgap

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/sync/errgroup"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// BuildOptions describe the bundle to build.
type BuildOptions struct {
	// Train is the release train to carry; it must validate.
	Train *bundles.Train
	// Arch is amd64 or arm64; the train must list k3s artifacts for it.
	Arch string
	// Out is the bundle file to write. Its folder must exist; the bundle is
	// staged and written beside it and renamed into place at the end.
	Out string
	// Key signs the manifest; nil builds an unsigned bundle.
	Key ed25519.PrivateKey
	// Flux holds the Flux install manifests; every regular file in it goes
	// under flux/ in the bundle, at the same relative path.
	Flux fs.FS
	// Charts, when set, is searched first: a chart it carries is taken
	// from it (verified against the train) instead of downloaded.
	Charts bundles.ChartStore
	// PinUnlocked lets an unlocked train through: every missing digest is
	// filled from what the servers answer now (trust on first use), listed
	// in the manifest's pinnedAtBuild and reported as a warning. Without
	// it Build refuses an unlocked train.
	PinUnlocked bool
	// HTTPClient fetches k3s artifacts and Helm repositories; nil uses a
	// client with the environment's proxy settings.
	HTTPClient *http.Client
	// RegistryTransport talks to OCI registries (images and oci:// charts);
	// nil uses HTTPClient's transport.
	RegistryTransport http.RoundTripper
	// Keychain finds registry credentials; nil uses the Docker config
	// (~/.docker/config.json and credential helpers).
	Keychain authn.Keychain
	// Jobs is how many artifacts download at once; 0 means 4.
	Jobs int
	// Builder is recorded in the manifest, e.g. "docs-appliance v1.2.0".
	Builder string
	// Now stamps the bundle; nil means time.Now.
	Now    func() time.Time
	Status *status.Status
}

// BuildResult describes a built bundle.
type BuildResult struct {
	PackResult
	// PinnedAtBuild lists the train fields filled from what the servers
	// answered (only with PinUnlocked).
	PinnedAtBuild []string
	// Downloaded is the number of bytes fetched.
	Downloaded int64
}

const stagingBuildPrefix = ".docs-appliance-build-"

// Build fetches every artifact of the train for one architecture through
// its own protocol (k3s over HTTPS, charts from Helm repositories or OCI
// registries, images from OCI registries by digest), checks each against
// the train's pins, stages them beside Out and packs the bundle. Every
// option is checked before anything is downloaded or written.
func Build(ctx context.Context, o BuildOptions) (*BuildResult, error) {
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	return b.run(ctx)
}

type builder struct {
	o        BuildOptions
	st       *status.Status
	http     *http.Client
	reg      http.RoundTripper
	keychain authn.Keychain
	flux     []string
	// spec is the train as it will be pinned in the manifest.
	spec   bundles.Train
	mu     sync.Mutex
	pinned []string
	mt     *meter
	index  indexCache
}

func newBuilder(o BuildOptions) (*builder, error) {
	if o.Train == nil {
		return nil, errors.New("building bundle: no train given: pass --train NAME or --train-file FILE")
	}
	if err := o.Train.Validate(); err != nil {
		return nil, fmt.Errorf("building bundle: %w", err)
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return nil, fmt.Errorf("building bundle: --arch %q: use amd64 or arm64", o.Arch)
	}
	if _, ok := o.Train.K3s.Artifacts[o.Arch]; !ok {
		return nil, fmt.Errorf("building bundle: train %s lists no k3s artifacts for %s (k3s.artifacts.%s): pick another --arch or add them to the train", o.Train.Name, o.Arch, o.Arch)
	}
	if o.Out == "" {
		return nil, errors.New("building bundle: no output file: pass --out FILE")
	}
	if info, err := os.Stat(o.Out); err == nil && info.IsDir() {
		return nil, fmt.Errorf("building bundle: --out %s is a folder: name the file, e.g. %s", o.Out, filepath.Join(o.Out, FileName(o.Train.Name, o.Arch)))
	}
	if info, err := os.Stat(filepath.Dir(o.Out)); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("building bundle: --out %s: its folder %s does not exist: create it first", o.Out, filepath.Dir(o.Out))
	}
	if o.Flux == nil {
		return nil, errors.New("building bundle: no Flux install manifests given: pass --flux-manifests DIR holding the pinned Flux install YAML")
	}
	flux, err := fluxFiles(o.Flux)
	if err != nil {
		return nil, err
	}
	if unlocked := unlockedFor(o.Train, o.Arch); len(unlocked) > 0 && !o.PinUnlocked {
		return nil, fmt.Errorf("building bundle: train %s is unlocked, %d digest(s) missing: %s (fix: run `make lock` on a connected machine, or pass --pin-unlocked to record the digests the servers answer now)",
			o.Train.Name, len(unlocked), strings.Join(unlocked, ", "))
	}
	seen := map[string]string{}
	for _, im := range o.Train.Images {
		p := ImagePath(im)
		if other, ok := seen[p]; ok {
			return nil, fmt.Errorf("building bundle: images %s and %s would both be stored as %s: rename one in the train", other, im.Reference, p)
		}
		seen[p] = im.Reference
	}
	b := &builder{o: o, flux: flux}
	b.initClients()
	if b.o.Jobs <= 0 {
		b.o.Jobs = 4
	}
	if b.o.Now == nil {
		b.o.Now = time.Now
	}
	b.spec = copyTrain(o.Train)
	return b, nil
}

// initClients fills the status and network clients from the options, with
// defaults: the environment's proxy, the Docker keychain.
func (b *builder) initClients() {
	b.st, b.http, b.reg, b.keychain = b.o.Status, b.o.HTTPClient, b.o.RegistryTransport, b.o.Keychain
	if b.st == nil {
		b.st = status.Discard()
	}
	if b.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		b.http = &http.Client{Transport: t}
	}
	if b.reg == nil {
		b.reg = b.http.Transport
		if b.reg == nil {
			b.reg = http.DefaultTransport
		}
	}
	if b.keychain == nil {
		b.keychain = authn.DefaultKeychain
	}
}

// fluxFiles lists the regular files of the Flux manifests, sorted, each a
// valid bundle path once prefixed with flux/.
func fluxFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		if problem := checkEntryPath(FluxDir + "/" + p); problem != "" {
			return fmt.Errorf("%s: %s", p, problem)
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading Flux install manifests: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("reading Flux install manifests: the folder holds no file: pass the folder with the pinned Flux install YAML")
	}
	sort.Strings(files)
	return files, nil
}

func copyTrain(t *bundles.Train) bundles.Train {
	c := *t
	c.K3s.Artifacts = map[string]bundles.K3sArtifacts{}
	for k, v := range t.K3s.Artifacts {
		c.K3s.Artifacts[k] = v
	}
	c.Flux.Controllers = map[string]string{}
	for k, v := range t.Flux.Controllers {
		c.Flux.Controllers[k] = v
	}
	c.Charts = append([]bundles.Chart(nil), t.Charts...)
	c.Images = append([]bundles.Image(nil), t.Images...)
	c.UpgradesFrom = append([]string(nil), t.UpgradesFrom...)
	c.RequiredStops = append([]string(nil), t.RequiredStops...)
	return c
}

// pin records a digest the build filled in because the train lacked it.
func (b *builder) pin(field, value string, set func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	set()
	b.pinned = append(b.pinned, field+" = "+value)
}

func (b *builder) run(ctx context.Context) (*BuildResult, error) {
	outDir := filepath.Dir(b.o.Out)
	cleanStaleBuilds(outDir)
	staging, err := os.MkdirTemp(outDir, stagingBuildPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating build staging folder in %s: %w", outDir, err)
	}
	defer os.RemoveAll(staging)
	// The lock tells a later build that this folder is in use, not a leftover.
	unlock, _, err := tryLock(filepath.Join(staging, lockName))
	if err != nil {
		return nil, fmt.Errorf("locking build staging folder: %w", err)
	}
	defer unlock()

	t := b.o.Train
	arch := b.o.Arch
	art := t.K3s.Artifacts[arch]
	type job struct {
		what string
		run  func(ctx context.Context) (File, error)
	}
	var jobs []job
	jobs = append(jobs, job{"k3s binary", func(ctx context.Context) (File, error) {
		return b.fetchK3s(ctx, staging, K3sBinaryPath, KindK3sBinary, art.BinaryURL, art.BinarySHA256,
			fmt.Sprintf("k3s.artifacts.%s.binarySHA256", arch), func(sum string) {
				a := b.spec.K3s.Artifacts[arch]
				a.BinarySHA256 = sum
				b.spec.K3s.Artifacts[arch] = a
			})
	}})
	jobs = append(jobs, job{"k3s airgap images", func(ctx context.Context) (File, error) {
		return b.fetchK3s(ctx, staging, K3sImagesPath(arch), KindK3sImages, art.AirgapImagesURL, art.AirgapImagesSHA256,
			fmt.Sprintf("k3s.artifacts.%s.airgapImagesSHA256", arch), func(sum string) {
				a := b.spec.K3s.Artifacts[arch]
				a.AirgapImagesSHA256 = sum
				b.spec.K3s.Artifacts[arch] = a
			})
	}})
	for i, im := range t.Images {
		jobs = append(jobs, job{"image " + im.Reference, func(ctx context.Context) (File, error) {
			return b.fetchImage(ctx, staging, i, im)
		}})
	}
	for i, c := range t.Charts {
		jobs = append(jobs, job{"chart " + c.Name, func(ctx context.Context) (File, error) {
			return b.fetchChart(ctx, staging, i, c)
		}})
	}

	b.st.Start(fmt.Sprintf("downloading train %s for %s: k3s, %d images, %d charts", t.Name, arch, len(t.Images), len(t.Charts)))
	b.mt = startMeter(b.st, 0)
	files := make([]File, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.o.Jobs)
	for i, j := range jobs {
		g.Go(func() error {
			f, err := j.run(gctx)
			if err != nil {
				return err
			}
			files[i] = f
			return nil
		})
	}
	err = g.Wait()
	b.mt.stop()
	downloaded, _ := b.mt.bytes()
	if err != nil {
		return nil, b.st.End(err)
	}
	b.st.End(nil)

	for _, p := range b.flux {
		f, err := b.stageFlux(staging, p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	sort.Strings(b.pinned)
	for _, p := range b.pinned {
		b.st.Warn("pinned at build (trust on first use): %s", p)
	}

	m := &Manifest{
		FormatVersion: FormatVersion,
		Train:         t.Name,
		Arch:          arch,
		Created:       b.o.Now().UTC().Truncate(time.Second),
		Builder:       b.o.Builder,
		PinnedAtBuild: b.pinned,
		Spec:          b.spec,
		Files:         files,
	}
	res, err := Pack(ctx, PackOptions{Dir: staging, Manifest: m, Out: b.o.Out, Key: b.o.Key, Status: b.st})
	if err != nil {
		return nil, err
	}
	signed := "unsigned"
	if b.o.Key != nil {
		signed = "signed by key " + res.Manifest.KeyID
	}
	b.st.Info("bundle %s: %s, %d files, %s unpacked, %s", res.Path, status.HumanBytes(res.Size), len(files), status.HumanBytes(m.UnpackedSize()), signed)
	return &BuildResult{PackResult: *res, PinnedAtBuild: b.pinned, Downloaded: downloaded}, nil
}

// cleanStaleBuilds removes staging folders of killed builds: a folder whose
// lock nobody holds. Failing to remove one is not worth failing this build.
func cleanStaleBuilds(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingBuildPrefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		unlock, ok, err := tryLock(filepath.Join(p, lockName))
		if err != nil || !ok {
			continue
		}
		os.RemoveAll(p)
		unlock()
	}
}

// stageFile creates a staged file for a bundle path.
func stageFile(staging, p string) (*os.File, error) {
	dest := filepath.Join(staging, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return nil, err
	}
	return os.Create(dest)
}

// hashingFile is a staged file that hashes and counts what is written.
type hashingFile struct {
	f  *os.File
	h  hashWriter
	n  int64
	mt *meter
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newHashingFile(staging, p string, mt *meter) (*hashingFile, error) {
	f, err := stageFile(staging, p)
	if err != nil {
		return nil, err
	}
	return &hashingFile{f: f, h: sha256.New(), mt: mt}, nil
}

func (w *hashingFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if w.mt != nil {
		w.mt.add(n)
	}
	return n, err
}

func (w *hashingFile) sum() string { return hex.EncodeToString(w.h.Sum(nil)) }

func (w *hashingFile) close() error { return w.f.Close() }

func (b *builder) stageFlux(staging, p string) (File, error) {
	data, err := fs.ReadFile(b.o.Flux, p)
	if err != nil {
		return File{}, fmt.Errorf("reading Flux manifest %s: %w", p, err)
	}
	bp := path.Join(FluxDir, p)
	if err := os.MkdirAll(filepath.Dir(filepath.Join(staging, filepath.FromSlash(bp))), 0o755); err != nil {
		return File{}, fmt.Errorf("staging %s: %w", bp, err)
	}
	if err := os.WriteFile(filepath.Join(staging, filepath.FromSlash(bp)), data, 0o644); err != nil {
		return File{}, fmt.Errorf("staging %s: %w", bp, err)
	}
	sum := sha256.Sum256(data)
	return File{Path: bp, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Kind: KindFlux, Source: "Flux " + b.o.Train.Flux.Version + " install manifests"}, nil
}
