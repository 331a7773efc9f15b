package airgap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// maxIndexSize bounds a Helm repository's index.yaml (the biggest public
// ones are a few tens of MiB).
const maxIndexSize = 256 << 20

// helmChartLayer is the media type of a chart's .tgz in an OCI registry.
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// get issues a GET and returns the body of a 200 answer; anything else is
// an error naming what was fetched and where.
func (b *builder) get(ctx context.Context, url, what string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", what, err)
	}
	req.Header.Set("User-Agent", "docs-appliance")
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s from %s: %w", what, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("downloading %s from %s: the server answered %s", what, url, resp.Status)
	}
	return resp, nil
}

// download streams url into a staged file, hashing it, and checks the
// sha256 against want (when pinned). It returns the staged file's entry.
func (b *builder) download(ctx context.Context, staging, bpath, kind, url, want, field, what string) (File, error) {
	resp, err := b.get(ctx, url, what)
	if err != nil {
		return File{}, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > 0 {
		b.mt.addTotal(resp.ContentLength)
	}
	w, err := newHashingFile(staging, bpath, b.mt)
	if err != nil {
		return File{}, fmt.Errorf("staging %s: %w", what, err)
	}
	_, err = io.Copy(w, resp.Body)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("downloading %s from %s: %w", what, url, err)
	}
	if resp.ContentLength >= 0 && w.n != resp.ContentLength {
		return File{}, fmt.Errorf("downloading %s from %s: got %d bytes, the server announced %d", what, url, w.n, resp.ContentLength)
	}
	sum := w.sum()
	if want != "" && sum != want {
		return File{}, fmt.Errorf("downloading %s from %s: its sha256 is %s but the train pins %s (%s): the server serves another file; check the URL, or re-lock the train if the release was replaced", what, url, sum, want, field)
	}
	return File{Path: bpath, Size: w.n, SHA256: sum, Kind: kind, Source: url}, nil
}

func (b *builder) fetchK3s(ctx context.Context, staging, bpath, kind, url, want, field string, set func(string)) (File, error) {
	what := "k3s " + b.o.Train.K3s.Version + " " + bpath
	f, err := b.download(ctx, staging, bpath, kind, url, want, field, what)
	if err != nil {
		return File{}, err
	}
	f.Executable = kind == KindK3sBinary
	if want == "" {
		b.pin(field, f.SHA256, func() { set(f.SHA256) })
	}
	return f, nil
}

// indexCache fetches each Helm repository's index.yaml once, even when
// several of its charts download at the same time.
type indexCache struct {
	mu      sync.Mutex
	entries map[string]*indexEntry
}

type indexEntry struct {
	once sync.Once
	idx  *repo.IndexFile
	err  error
}

func (c *indexCache) get(repoURL string, load func() (*repo.IndexFile, error)) (*repo.IndexFile, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*indexEntry{}
	}
	e, ok := c.entries[repoURL]
	if !ok {
		e = &indexEntry{}
		c.entries[repoURL] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.idx, e.err = load() })
	return e.idx, e.err
}

func (b *builder) repoIndex(ctx context.Context, repoURL string) (*repo.IndexFile, error) {
	return b.index.get(repoURL, func() (*repo.IndexFile, error) {
		url := strings.TrimSuffix(repoURL, "/") + "/index.yaml"
		resp, err := b.get(ctx, url, "Helm repository index")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexSize+1))
		if err != nil {
			return nil, fmt.Errorf("downloading Helm repository index %s: %w", url, err)
		}
		if len(data) > maxIndexSize {
			return nil, fmt.Errorf("Helm repository index %s is over %d bytes", url, maxIndexSize)
		}
		var idx repo.IndexFile
		if err := yaml.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("parsing Helm repository index %s: %w", url, err)
		}
		if idx.APIVersion == "" || idx.Entries == nil {
			return nil, fmt.Errorf("parsing Helm repository index %s: no apiVersion or entries: is %s a Helm repository?", url, repoURL)
		}
		return &idx, nil
	})
}

func (b *builder) fetchChart(ctx context.Context, staging string, i int, c bundles.Chart) (File, error) {
	bpath := ChartPath(c)
	field := fmt.Sprintf("charts[%d].sha256 (%s %s)", i, c.Name, c.Version)
	var (
		f   File
		err error
	)
	switch {
	case b.o.Charts != nil && b.o.Charts.Has(c):
		f, err = b.chartFromStore(staging, bpath, c)
	case len(c.Manifests) > 0:
		f, err = b.chartFromManifests(ctx, staging, bpath, c, field)
	case strings.HasPrefix(c.Repository, "oci://"):
		f, err = b.chartFromOCI(ctx, staging, bpath, c, field)
	default:
		f, err = b.chartFromRepo(ctx, staging, bpath, c, field)
	}
	if err != nil {
		return File{}, err
	}
	if c.SHA256 == "" {
		b.pin(field, f.SHA256, func() { b.spec.Charts[i].SHA256 = f.SHA256 })
	}
	return f, nil
}

func (b *builder) chartFromStore(staging, bpath string, c bundles.Chart) (File, error) {
	data, err := b.o.Charts.Open(c) // verifies the train's sha256 when pinned
	if err != nil {
		return File{}, fmt.Errorf("taking chart %s %s: %w", c.Name, c.Version, err)
	}
	w, err := newHashingFile(staging, bpath, b.mt)
	if err != nil {
		return File{}, fmt.Errorf("staging chart %s: %w", c.Name, err)
	}
	_, err = io.Copy(w, bytes.NewReader(data))
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("staging chart %s: %w", c.Name, err)
	}
	return File{Path: bpath, Size: w.n, SHA256: w.sum(), Kind: KindChart, Source: b.o.Charts.Where()}, nil
}

func (b *builder) chartFromRepo(ctx context.Context, staging, bpath string, c bundles.Chart, field string) (File, error) {
	idx, err := b.repoIndex(ctx, c.Repository)
	if err != nil {
		return File{}, fmt.Errorf("finding chart %s %s: %w", c.Name, c.Version, err)
	}
	var cv *repo.ChartVersion
	for _, v := range idx.Entries[c.Name] {
		if v != nil && v.Metadata != nil && v.Version == c.Version {
			cv = v
			break
		}
	}
	if cv == nil || len(cv.URLs) == 0 {
		return File{}, fmt.Errorf("finding chart %s %s: the repository %s does not list that version: check charts[].version in the train", c.Name, c.Version, c.Repository)
	}
	url, err := repo.ResolveReferenceURL(c.Repository, cv.URLs[0])
	if err != nil {
		return File{}, fmt.Errorf("finding chart %s %s: resolving %q against %s: %w", c.Name, c.Version, cv.URLs[0], c.Repository, err)
	}
	if !strings.HasPrefix(url, "https://") {
		return File{}, fmt.Errorf("finding chart %s %s: the repository points at %s, which is not https: refusing to fetch a chart in clear text", c.Name, c.Version, url)
	}
	f, err := b.download(ctx, staging, bpath, KindChart, url, c.SHA256, field, fmt.Sprintf("chart %s %s", c.Name, c.Version))
	if err != nil {
		return File{}, err
	}
	// An unpinned chart has only the repository's own digest to check against.
	if c.SHA256 == "" && cv.Digest != "" && cv.Digest != f.SHA256 {
		return File{}, fmt.Errorf("downloading chart %s %s from %s: its sha256 is %s but the repository index says %s: the repository is inconsistent, try again later", c.Name, c.Version, url, f.SHA256, cv.Digest)
	}
	return f, nil
}

// chartFromOCI pulls a chart pushed with `helm push`: the manifest tagged
// with the version (a "+" becomes "_", as Helm does), whose chart layer is
// the .tgz itself.
func (b *builder) chartFromOCI(ctx context.Context, staging, bpath string, c bundles.Chart, field string) (File, error) {
	refStr := strings.TrimPrefix(c.Repository, "oci://") + ":" + strings.ReplaceAll(c.Version, "+", "_")
	what := fmt.Sprintf("chart %s %s from %s", c.Name, c.Version, refStr)
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	img, err := remote.Image(ref, b.remoteOptions(ctx)...)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	man, err := img.Manifest()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: reading manifest: %w", what, err)
	}
	var found bool
	var desc struct {
		digest string
		size   int64
	}
	for _, l := range man.Layers {
		if string(l.MediaType) == helmChartLayer {
			found = true
			desc.digest, desc.size = l.Digest.String(), l.Size
			break
		}
	}
	if !found {
		return File{}, fmt.Errorf("pulling %s: the manifest has no %s layer: is it a Helm chart?", what, helmChartLayer)
	}
	if c.SHA256 != "" && desc.digest != "sha256:"+c.SHA256 {
		return File{}, fmt.Errorf("pulling %s: the registry serves a chart with digest %s but the train pins sha256 %s (%s): the tag was moved; re-lock the train if the release was replaced", what, desc.digest, c.SHA256, field)
	}
	b.mt.addTotal(desc.size)
	h, err := parseHash(desc.digest)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	layer, err := img.LayerByDigest(h)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	defer rc.Close()
	w, err := newHashingFile(staging, bpath, b.mt)
	if err != nil {
		return File{}, fmt.Errorf("staging %s: %w", what, err)
	}
	_, err = io.Copy(w, rc) // the registry reader checks the digest at EOF
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	sum := w.sum()
	if "sha256:"+sum != desc.digest || (c.SHA256 != "" && sum != c.SHA256) {
		return File{}, fmt.Errorf("pulling %s: got sha256 %s, expected %s", what, sum, desc.digest)
	}
	return File{Path: bpath, Size: w.n, SHA256: sum, Kind: KindChart, Source: "oci://" + refStr}, nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
