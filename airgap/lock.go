package airgap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// RemoteOptions say how to reach the registries, Helm repositories and
// download servers of a train (on a connected machine).
type RemoteOptions struct {
	// HTTPClient fetches k3s artifacts and Helm repositories; nil uses a
	// client with the environment's proxy settings.
	HTTPClient *http.Client
	// RegistryTransport talks to OCI registries; nil uses HTTPClient's.
	RegistryTransport http.RoundTripper
	// Keychain finds registry credentials; nil uses the Docker config.
	Keychain authn.Keychain
	Status   *status.Status
}

func (r RemoteOptions) builder(t *bundles.Train) *builder {
	b := &builder{o: BuildOptions{Train: t, HTTPClient: r.HTTPClient, RegistryTransport: r.RegistryTransport, Keychain: r.Keychain, Status: r.Status}}
	b.initClients()
	b.spec = copyTrain(t)
	return b
}

// LockResult is a train with every digest filled.
type LockResult struct {
	Train *bundles.Train
	// Pinned lists "field = value" for every digest filled by this lock.
	Pinned []string
	// Recorded lists "field = value" for every chart fact this lock took
	// from a chart's archive: its appVersion and subcharts.
	Recorded []string
}

// Lock looks up every digest a train leaves empty (`make lock`): each
// image's manifest digest (the multi-arch index when there is one) from its
// registry, each chart's sha256 from its repository, each k3s artifact's
// sha256 by downloading it. Digests already pinned are checked, not
// changed: a moved tag or a replaced file is an error naming the field.
// Each chart's appVersion and subcharts are recorded from its archive, and
// every image linked to a chart must be the release the chart ships or
// say why not.
func Lock(ctx context.Context, t *bundles.Train, r RemoteOptions) (*LockResult, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("locking train: %w", err)
	}
	b := r.builder(t)
	staging, err := os.MkdirTemp("", "docs-appliance-lock-")
	if err != nil {
		return nil, fmt.Errorf("locking train: %w", err)
	}
	defer os.RemoveAll(staging)
	b.mt = startMeter(b.st, 0)
	defer b.mt.stop()

	var recorded []string
	for i, im := range t.Images {
		b.st.Start("resolving image " + im.Reference)
		d, err := imageDigest(ctx, b, im)
		if b.st.End(err) != nil {
			return nil, err
		}
		field := fmt.Sprintf("images[%d].digest (%s)", i, im.Reference)
		switch {
		case im.Digest == "":
			b.pin(field, d, func() { b.spec.Images[i].Digest = d })
		case im.Digest != d:
			return nil, fmt.Errorf("locking train: %s is pinned to %s but the registry now serves %s: the tag was moved; check the release before pinning the new digest", field, im.Digest, d)
		}
	}
	for i, c := range t.Charts {
		b.st.Start(fmt.Sprintf("fetching chart %s %s", c.Name, c.Version))
		f, err := b.fetchChart(ctx, staging, i, c) // pins or checks charts[i].sha256
		if err == nil {
			var rec []string // records or checks charts[i].appVersion and the images linked to it
			rec, err = b.checkChartMeta(staging, i, f, true)
			recorded = append(recorded, rec...)
		}
		if b.st.End(err) != nil {
			return nil, fmt.Errorf("locking train: %w", err)
		}
	}
	arches := make([]string, 0, len(t.K3s.Artifacts))
	for a := range t.K3s.Artifacts {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, arch := range arches {
		art := t.K3s.Artifacts[arch]
		for _, f := range []struct {
			kind, url, want, field string
			set                    func(*bundles.K3sArtifacts, string)
		}{
			{KindK3sBinary, art.BinaryURL, art.BinarySHA256, "k3s.artifacts." + arch + ".binarySHA256", func(a *bundles.K3sArtifacts, s string) { a.BinarySHA256 = s }},
			{KindK3sImages, art.AirgapImagesURL, art.AirgapImagesSHA256, "k3s.artifacts." + arch + ".airgapImagesSHA256", func(a *bundles.K3sArtifacts, s string) { a.AirgapImagesSHA256 = s }},
		} {
			b.st.Start("downloading " + f.url)
			got, err := b.download(ctx, staging, "k3s/"+arch+"-"+f.kind, f.kind, f.url, f.want, f.field, "k3s "+arch+" "+f.kind)
			if b.st.End(err) != nil {
				return nil, fmt.Errorf("locking train: %w", err)
			}
			os.Remove(filepath.Join(staging, filepath.FromSlash(got.Path)))
			if f.want == "" {
				field, set, sum := f.field, f.set, got.SHA256
				b.pin(field, sum, func() {
					a := b.spec.K3s.Artifacts[arch]
					set(&a, sum)
					b.spec.K3s.Artifacts[arch] = a
				})
			}
		}
	}
	locked := b.spec
	if err := locked.Validate(); err != nil {
		return nil, fmt.Errorf("locking train: the locked train does not validate: %w", err)
	}
	return &LockResult{Train: &locked, Pinned: b.pinned, Recorded: recorded}, nil
}

// imageDigest asks the registry for the digest a tag points at, without
// downloading the image.
func imageDigest(ctx context.Context, b *builder, im bundles.Image) (string, error) {
	ref, err := name.ParseReference(im.Reference, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("resolving image %s: %w", im.Reference, err)
	}
	desc, err := remote.Head(ref, b.remoteOptions(ctx)...)
	if err != nil {
		// Some registries refuse HEAD; GET answers the same descriptor.
		full, gerr := remote.Get(ref, b.remoteOptions(ctx)...)
		if gerr != nil {
			return "", fmt.Errorf("resolving image %s: %w", im.Reference, errors.Join(err, gerr))
		}
		return full.Digest.String(), nil
	}
	return desc.Digest.String(), nil
}

// LockFile locks the train in a YAML file and writes the digests back,
// keeping the file's comments and layout.
func LockFile(ctx context.Context, path string, r RemoteOptions) (*LockResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading train file: %w", err)
	}
	t, err := bundles.ParseTrain(data)
	if err != nil {
		return nil, fmt.Errorf("reading train file %s: %w", path, err)
	}
	res, err := Lock(ctx, t, r)
	if err != nil {
		return nil, err
	}
	out, err := bundles.WritePins(data, res.Train)
	if err != nil {
		return nil, fmt.Errorf("writing pins into %s: %w", path, err)
	}
	if err := atomicfile.Write(path, out, 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// FetchCharts downloads every chart of a train into dir as
// <name>-<version>.tgz (`make charts`), verified against the train's
// sha256. An unlocked chart is refused: lock the train first.
func FetchCharts(ctx context.Context, t *bundles.Train, dir string, r RemoteOptions) ([]string, error) {
	var unpinned []string
	for i, c := range t.Charts {
		if c.SHA256 == "" {
			unpinned = append(unpinned, fmt.Sprintf("charts[%d] (%s %s)", i, c.Name, c.Version))
		}
	}
	if len(unpinned) > 0 {
		return nil, fmt.Errorf("fetching charts of train %s: %s have no sha256 to verify against: run `make lock TRAIN=%s` first", t.Name, strings.Join(unpinned, ", "), t.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("fetching charts: %w", err)
	}
	b := r.builder(t)
	staging, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return nil, fmt.Errorf("fetching charts: %w", err)
	}
	defer os.RemoveAll(staging)
	b.mt = startMeter(b.st, 0)
	defer b.mt.stop()
	var written []string
	for i, c := range t.Charts {
		dst := filepath.Join(dir, c.FileName())
		if existing, err := bundles.DirStore(dir).Open(c); err == nil && existing != nil {
			// Already here and verified; its images are checked all the same.
			if _, err := b.checkChartData(i, existing, false); err != nil {
				return written, fmt.Errorf("fetching charts: %w", err)
			}
			continue
		}
		b.st.Start(fmt.Sprintf("fetching chart %s %s", c.Name, c.Version))
		f, err := b.fetchChart(ctx, staging, i, c)
		if err == nil {
			_, err = b.checkChartMeta(staging, i, f, false)
		}
		if b.st.End(err) != nil {
			return written, fmt.Errorf("fetching charts: %w", err)
		}
		if err := os.Rename(filepath.Join(staging, filepath.FromSlash(f.Path)), dst); err != nil {
			return written, fmt.Errorf("fetching charts: placing %s: %w", dst, err)
		}
		written = append(written, dst)
	}
	return written, nil
}
