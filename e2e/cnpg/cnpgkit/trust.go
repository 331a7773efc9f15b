package cnpgkit

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// caBundles are where the sidecar's barman-cloud (Debian's botocore, through certifi) and OpenSSL
// look for trusted CAs.
var caBundles = []string{"etc/ssl/certs/ca-certificates.crt", "usr/lib/ssl/cert.pem"}

// SidecarTrusting writes, to out, the kit's sidecar image (same tag) with bundle as its trusted
// CAs: an external S3 endpoint with a public certificate is trusted by the image as built; one
// with a test CA (S3TLS) needs that CA in the bundle, as an operator's private CA would be. Import
// it after Install (which imports the kit's own under the same tag) for the sidecars started from
// then on.
func (k Kit) SidecarTrusting(bundle []byte, out string) error {
	img, err := tarball.ImageFromPath(k.path(sidecarTar), nil)
	if err != nil {
		return fmt.Errorf("reading the sidecar image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range caBundles {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(bundle)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(bundle); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return fmt.Errorf("making the CA layer: %w", err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return fmt.Errorf("adding the CA layer: %w", err)
	}
	ref, err := name.NewTag(k.SidecarImage)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", k.SidecarImage, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return fmt.Errorf("writing the sidecar image: %w", err)
	}
	return nil
}
