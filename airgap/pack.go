package airgap

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"github.com/klauspost/compress/zstd"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// PackOptions describe a bundle to write from files already in a folder.
type PackOptions struct {
	// Dir holds every file the manifest lists, at its path.
	Dir string
	// Manifest is complete: every file with its size and sha256, in the
	// order the archive will hold them. Pack sets KeyID from Key.
	Manifest *Manifest
	// Out is the bundle file to write; it appears only once complete.
	Out string
	// Key signs the manifest; nil writes an unsigned bundle.
	Key ed25519.PrivateKey
	// Status receives progress; nil shows nothing.
	Status *status.Status
}

// PackResult describes a written bundle.
type PackResult struct {
	Path           string
	Size           int64
	ManifestSHA256 string
	Manifest       *Manifest
}

// packWindow is the zstd window Build writes: it bounds the decoder's
// memory on the air-gapped side.
const packWindow = 8 << 20

// Pack writes the bundle: manifest.json, manifest.sig when signed, then
// every file, into a temporary file beside Out that is renamed over Out at
// the end. Each file is hashed again as it is written, so a staged file
// that changed after the manifest was made aborts the bundle instead of
// shipping one that verify would reject.
func Pack(ctx context.Context, o PackOptions) (*PackResult, error) {
	st := o.Status
	if st == nil {
		st = status.Discard()
	}
	if o.Manifest == nil || o.Out == "" || o.Dir == "" {
		return nil, errors.New("packing bundle: Dir, Manifest and Out are required")
	}
	m := *o.Manifest
	m.KeyID = ""
	if o.Key != nil {
		m.KeyID = KeyID(o.Key.Public().(ed25519.PublicKey))
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("packing bundle: the manifest would be rejected by verify: %w", err)
	}
	raw, err := m.marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	var sig []byte
	if o.Key != nil {
		sig = signManifest(o.Key, raw)
	}
	for _, f := range m.Files {
		info, err := os.Stat(filepath.Join(o.Dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return nil, fmt.Errorf("packing bundle: staged file: %w", err)
		}
		if info.Size() != f.Size {
			return nil, fmt.Errorf("packing bundle: staged file %s has %d bytes, the manifest %d", f.Path, info.Size(), f.Size)
		}
	}

	tmp, err := atomicfile.Create(o.Out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating the bundle file: %w", err)
	}
	defer tmp.Abort()

	bw := bufio.NewWriterSize(tmp, 1<<20)
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(packWindow), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, fmt.Errorf("starting zstd encoder: %w", err)
	}
	tw := tar.NewWriter(zw)
	header := func(name string, size int64, exec bool) *tar.Header {
		mode := int64(0o644)
		if exec {
			mode = 0o755
		}
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: m.Created.UTC().Truncate(1e9), Uname: "root", Gname: "root"}
	}
	writeSmall := func(name string, data []byte) error {
		if err := tw.WriteHeader(header(name, int64(len(data)), false)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	st.Start(fmt.Sprintf("writing %s (%d files, %s)", filepath.Base(o.Out), len(m.Files), status.HumanBytes(m.UnpackedSize())))
	if err := writeSmall(ManifestName, raw); err != nil {
		return nil, st.End(fmt.Errorf("writing %s: %w", ManifestName, err))
	}
	if sig != nil {
		if err := writeSmall(SignatureName, sig); err != nil {
			return nil, st.End(fmt.Errorf("writing %s: %w", SignatureName, err))
		}
	}
	mt := startMeter(st, m.UnpackedSize())
	buf := make([]byte, chunkSize)
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			mt.stop()
			return nil, st.End(err)
		}
		if err := packFile(tw, header(f.Path, f.Size, f.Executable), filepath.Join(o.Dir, filepath.FromSlash(f.Path)), f, buf, mt); err != nil {
			mt.stop()
			return nil, st.End(err)
		}
	}
	mt.stop()
	err = tw.Close()
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, st.End(fmt.Errorf("writing %s: %w", o.Out, err))
	}
	info, err := tmp.Stat()
	if err != nil {
		return nil, st.End(fmt.Errorf("writing %s: %w", o.Out, err))
	}
	if err := tmp.Commit(); err != nil {
		return nil, st.End(fmt.Errorf("moving the bundle into place: %w", err))
	}
	st.End(nil)
	sum := sha256.Sum256(raw)
	return &PackResult{Path: o.Out, Size: info.Size(), ManifestSHA256: hex.EncodeToString(sum[:]), Manifest: &m}, nil
}

func packFile(tw *tar.Writer, hdr *tar.Header, path string, f File, buf []byte, mt *meter) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("packing %s: %w", f.Path, err)
	}
	defer in.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("packing %s: %w", f.Path, err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tw, h, meterWriter{mt}), io.LimitReader(in, f.Size+1), buf)
	if err != nil {
		return fmt.Errorf("packing %s: %w", f.Path, err)
	}
	if n != f.Size {
		return fmt.Errorf("packing %s: the staged file changed size while packing (%d bytes, manifest %d)", f.Path, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("packing %s: the staged file changed after it was hashed (sha256 %s, manifest %s)", f.Path, got, f.SHA256)
	}
	return nil
}

type meterWriter struct{ m *meter }

func (w meterWriter) Write(p []byte) (int, error) { w.m.add(len(p)); return len(p), nil }
