package airgap

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Image archives are OCI image layouts in a tar (oci-layout, index.json,
// blobs/sha256/...) holding the blobs exactly as the registry serves them.
// Not docker-save's format: containerd rewrites a docker-save manifest, so
// the image would get a new digest and a pod pinned by digest would not
// find it. index.json names the image twice for containerd (annotation
// io.containerd.image.name): by tag, and by digest, because the CRI looks
// an image pinned by digest up under repository@sha256:... and only a pull
// creates that name otherwise.

const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

func (b *builder) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(b.reg),
		remote.WithAuthFromKeychain(b.keychain),
		remote.WithUserAgent("docs-appliance"),
	}
}

func parseHash(d string) (v1.Hash, error) { return v1.NewHash(d) }

// ContainerdName is the name containerd and the CRI give a reference:
// Docker Hub's implicit library/ namespace made explicit.
func ContainerdName(reference string) string {
	host, rest, ok := strings.Cut(reference, "/")
	if !ok {
		return reference
	}
	if host == "index.docker.io" {
		host = "docker.io"
	}
	repoPath := rest
	if i := strings.IndexAny(rest, ":@"); i >= 0 {
		repoPath = rest[:i]
	}
	if host == "docker.io" && !strings.Contains(repoPath, "/") {
		rest = "library/" + rest
	}
	return host + "/" + rest
}

// platformMatches picks the manifest of an index for linux/arch; for arm64
// the v8 variant is the same platform.
func platformMatches(p *v1.Platform, arch string) bool {
	if p == nil || p.OS != "linux" || p.Architecture != arch {
		return false
	}
	return p.Variant == "" || (arch == "arm64" && p.Variant == "v8")
}

func (b *builder) fetchImage(ctx context.Context, staging string, i int, im bundles.Image) (File, error) {
	arch := b.o.Arch
	refStr := im.Reference
	if im.Digest != "" {
		refStr = im.Repository() + "@" + im.Digest
	}
	what := "image " + im.Reference
	ref, err := name.ParseReference(refStr, name.StrictValidation)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	opts := b.remoteOptions(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	top := desc.Descriptor
	if im.Digest != "" && top.Digest.String() != im.Digest {
		return File{}, fmt.Errorf("pulling %s: the registry answered digest %s for %s", what, top.Digest, refStr)
	}
	// blobs in archive order: the index (when there is one), the platform
	// manifest, the config; layers stream afterwards.
	type blob struct {
		digest v1.Hash
		data   []byte
	}
	var small []blob
	var img v1.Image
	switch {
	case top.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return File{}, fmt.Errorf("pulling %s: %w", what, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return File{}, fmt.Errorf("pulling %s: reading index: %w", what, err)
		}
		var child *v1.Descriptor
		var seen []string
		for j := range im.Manifests {
			d := &im.Manifests[j]
			if d.Platform != nil {
				seen = append(seen, d.Platform.String())
			}
			if d.MediaType.IsImage() && platformMatches(d.Platform, arch) {
				child = d
				break
			}
		}
		if child == nil {
			return File{}, fmt.Errorf("pulling %s: the image has no linux/%s variant (it has %s): pick an image built for %s", what, arch, strings.Join(seen, ", "), arch)
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return File{}, fmt.Errorf("pulling %s for linux/%s: %w", what, arch, err)
		}
		small = append(small, blob{top.Digest, desc.Manifest})
	case top.MediaType.IsImage():
		if img, err = desc.Image(); err != nil {
			return File{}, fmt.Errorf("pulling %s: %w", what, err)
		}
	default:
		return File{}, fmt.Errorf("pulling %s: the registry serves media type %s, not an image or image index", what, top.MediaType)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: reading config: %w", what, err)
	}
	if cfg.OS != "linux" || cfg.Architecture != arch {
		return File{}, fmt.Errorf("pulling %s: the image is built for %s/%s, the bundle is for linux/%s: pick an image built for %s", what, cfg.OS, cfg.Architecture, arch, arch)
	}
	rawMan, err := img.RawManifest()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	man, err := img.Manifest()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	mdig, err := img.Digest()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return File{}, fmt.Errorf("pulling %s: %w", what, err)
	}
	if got := "sha256:" + sha256Hex(rawCfg); got != man.Config.Digest.String() {
		return File{}, fmt.Errorf("pulling %s: config blob has digest %s, the manifest says %s", what, got, man.Config.Digest)
	}
	small = append(small, blob{mdig, rawMan}, blob{man.Config.Digest, rawCfg})
	var layerTotal int64
	for _, l := range man.Layers {
		if l.MediaType == types.DockerForeignLayer {
			return File{}, fmt.Errorf("pulling %s: it has a foreign (non-distributable) layer: bundles carry linux images whose layers the registry serves", what)
		}
		layerTotal += l.Size
	}
	b.mt.addTotal(layerTotal)

	digest := top.Digest.String()
	if im.Digest == "" {
		b.pin(fmt.Sprintf("images[%d].digest (%s)", i, im.Reference), digest, func() { b.spec.Images[i].Digest = digest })
	}
	pinned := bundles.Image{Reference: im.Reference, Digest: digest}
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIImageIndex),
		"manifests": []map[string]any{
			{"mediaType": string(top.MediaType), "digest": digest, "size": top.Size, "annotations": map[string]string{
				annotationImageName: ContainerdName(im.Reference),
				annotationRefName:   im.Tag(),
			}},
			{"mediaType": string(top.MediaType), "digest": digest, "size": top.Size, "annotations": map[string]string{
				annotationImageName: ContainerdName(im.Repository()) + "@" + digest,
			}},
		},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return File{}, fmt.Errorf("encoding index.json for %s: %w", what, err)
	}

	bpath := ImagePath(im)
	w, err := newHashingFile(staging, bpath, nil)
	if err != nil {
		return File{}, fmt.Errorf("staging %s: %w", what, err)
	}
	defer w.close()
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	mtime := b.o.Now().UTC().Truncate(time.Second)
	put := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mtime}); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%s: got %d bytes, the manifest says %d", name, n, size)
		}
		return nil
	}
	putBytes := func(name string, data []byte) error {
		return put(name, int64(len(data)), strings.NewReader(string(data)))
	}
	if err := putBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return File{}, fmt.Errorf("writing %s: %w", bpath, err)
	}
	if err := putBytes("index.json", indexJSON); err != nil {
		return File{}, fmt.Errorf("writing %s: %w", bpath, err)
	}
	written := map[v1.Hash]bool{}
	for _, s := range small {
		if written[s.digest] {
			continue
		}
		written[s.digest] = true
		if err := putBytes("blobs/"+s.digest.Algorithm+"/"+s.digest.Hex, s.data); err != nil {
			return File{}, fmt.Errorf("writing %s: %w", bpath, err)
		}
	}
	for _, l := range man.Layers {
		if written[l.Digest] {
			continue
		}
		written[l.Digest] = true
		if err := b.putLayer(img, l, put); err != nil {
			return File{}, fmt.Errorf("pulling %s: layer %s: %w", what, l.Digest, err)
		}
	}
	if err := tw.Close(); err != nil {
		return File{}, fmt.Errorf("writing %s: %w", bpath, err)
	}
	if err := bw.Flush(); err != nil {
		return File{}, fmt.Errorf("writing %s: %w", bpath, err)
	}
	if err := w.close(); err != nil {
		return File{}, fmt.Errorf("writing %s: %w", bpath, err)
	}
	return File{Path: bpath, Size: w.n, SHA256: w.sum(), Kind: KindImage, Image: pinned.Pinned(), Source: pinned.Pinned()}, nil
}

// putLayer streams one layer blob from the registry into the archive. The
// registry reader checks the digest when it reaches the end.
func (b *builder) putLayer(img v1.Image, l v1.Descriptor, put func(string, int64, io.Reader) error) error {
	layer, err := img.LayerByDigest(l.Digest)
	if err != nil {
		return err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return put("blobs/"+l.Digest.Algorithm+"/"+l.Digest.Hex, l.Size, io.TeeReader(rc, meterWriter{b.mt}))
}
