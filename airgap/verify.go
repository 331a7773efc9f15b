package airgap

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// VerifyOptions say which bundle to check and against which key.
type VerifyOptions struct {
	// Bundle is the .tar.zst file.
	Bundle string
	// PublicKey, when set, makes the signature mandatory and checked
	// before anything in the manifest is trusted. Without it only the
	// integrity of the files against the manifest is checked.
	PublicKey ed25519.PublicKey
	Status    *status.Status
}

// VerifyResult is what a verified bundle is.
type VerifyResult struct {
	Manifest       *Manifest
	ManifestSHA256 string
	// Signed: the bundle carries a signature. SignatureChecked: it was
	// verified against VerifyOptions.PublicKey.
	Signed, SignatureChecked bool
	// CompressedSize is the bundle file's size.
	CompressedSize int64
}

// Verify reads the bundle once, writing nothing: signature, manifest, and
// every file's type, name, size and sha256 against the manifest. Any
// problem is a *BundleError naming the entry.
func Verify(ctx context.Context, o VerifyOptions) (*VerifyResult, error) {
	st := o.Status
	if st == nil {
		st = status.Discard()
	}
	f, info, err := openBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st.Start("verifying " + filepath.Base(o.Bundle))
	sc := &scanner{name: o.Bundle, key: o.PublicKey, st: st, sink: hashOnly{}}
	res, err := sc.scan(ctx, f)
	if err != nil {
		return nil, st.End(err)
	}
	st.End(nil)
	reportSignature(st, res)
	m := res.Manifest
	st.Info("bundle %s: train %s for %s, %d files, %s unpacked, built %s", filepath.Base(o.Bundle), m.Train, m.Arch, len(m.Files), status.HumanBytes(m.UnpackedSize()), m.Created.UTC().Format("2006-01-02 15:04 MST"))
	return &VerifyResult{Manifest: m, ManifestSHA256: res.ManifestSHA256, Signed: res.Signed, SignatureChecked: res.Checked, CompressedSize: info.Size()}, nil
}

func reportSignature(st *status.Status, res *scanResult) {
	switch {
	case res.Checked:
		st.Info("signature by key %s verified", res.Manifest.KeyID)
	case res.Signed:
		st.Warn("bundle is signed by key %s but no --key was given: its signature was not checked, only its integrity", res.Manifest.KeyID)
	default:
		st.Warn("bundle is unsigned: its integrity was checked, not who made it")
	}
}

type hashOnly struct{}

func (hashOnly) manifest(*Manifest, []byte, []byte) error { return nil }
func (hashOnly) open(File) (io.Writer, error)             { return nil, nil }
func (hashOnly) close(File, bool) error                   { return nil }

// openBundle opens a bundle file, refusing what is not a regular file.
func openBundle(path string) (*os.File, os.FileInfo, error) {
	if path == "" {
		return nil, nil, errors.New("no bundle given: pass the docs-appliance-<train>-<arch>.tar.zst file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening bundle: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("opening bundle: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("opening bundle: %s is not a regular file", path)
	}
	return f, info, nil
}
