package airgap

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// maxPlainManifestSize bounds one plain manifest file (the Keycloak CRDs are
// about 1 MiB).
const maxPlainManifestSize = 32 << 20

// chartFromManifests downloads a component published only as plain YAML
// files and packages them as a CRD-only chart. The package is
// deterministic (fixed times, sorted as listed, no gzip name or time), so
// its sha256 is a stable pin: the same files always give the same chart.
func (b *builder) chartFromManifests(ctx context.Context, staging, bpath string, c bundles.Chart, field string) (File, error) {
	files := make([][]byte, len(c.Manifests))
	for i, u := range c.Manifests {
		resp, err := b.get(ctx, u, fmt.Sprintf("manifest %s of chart %s %s", path.Base(u), c.Name, c.Version))
		if err != nil {
			return File{}, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxPlainManifestSize+1))
		resp.Body.Close()
		if err != nil {
			return File{}, fmt.Errorf("downloading %s: %w", u, err)
		}
		if len(data) > maxPlainManifestSize {
			return File{}, fmt.Errorf("downloading %s: over %d bytes", u, maxPlainManifestSize)
		}
		files[i] = data
	}
	tgz, err := PackageManifestChart(c, files)
	if err != nil {
		return File{}, err
	}
	sum := sha256Hex(tgz)
	if c.SHA256 != "" && sum != c.SHA256 {
		return File{}, fmt.Errorf("packaging chart %s %s from %d manifests: sha256 %s but the train pins %s (%s): a file at the pinned URLs changed; check the release before re-locking", c.Name, c.Version, len(files), sum, c.SHA256, field)
	}
	w, err := newHashingFile(staging, bpath, b.mt)
	if err != nil {
		return File{}, fmt.Errorf("staging chart %s: %w", c.Name, err)
	}
	_, err = w.Write(tgz)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("staging chart %s: %w", c.Name, err)
	}
	return File{Path: bpath, Size: int64(len(tgz)), SHA256: sum, Kind: KindChart, Source: c.Repository}, nil
}

// PackageManifestChart packs plain manifest files as a chart whose crds/
// folder holds them, byte for byte, in the order given.
func PackageManifestChart(c bundles.Chart, files [][]byte) ([]byte, error) {
	if len(files) != len(c.Manifests) {
		return nil, fmt.Errorf("packaging chart %s: %d files for %d manifests", c.Name, len(files), len(c.Manifests))
	}
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(gz)
	epoch := time.Unix(0, 0).UTC()
	add := func(name string, data []byte) error {
		hdr := &tar.Header{Name: c.Name + "/" + name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	chartYAML := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: CRDs packaged by docs-appliance from %s\n", c.Name, c.Version, c.Repository)
	if err := add("Chart.yaml", []byte(chartYAML)); err != nil {
		return nil, fmt.Errorf("packaging chart %s: %w", c.Name, err)
	}
	for i, u := range c.Manifests {
		if err := add(fmt.Sprintf("crds/%02d-%s", i, path.Base(u)), files[i]); err != nil {
			return nil, fmt.Errorf("packaging chart %s: %w", c.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("packaging chart %s: %w", c.Name, err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("packaging chart %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}
