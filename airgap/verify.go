package airgap

import (
	"context"
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
	// Trust says which signature the bundle must carry; it is checked
	// before anything in the manifest is used. The zero value refuses
	// every bundle (see Trust).
	Trust  Trust
	Status *status.Status
}

// VerifyResult is what a verified bundle is.
type VerifyResult struct {
	Manifest       *Manifest
	ManifestSHA256 string
	// Signed: the bundle carries a signature. SignatureChecked: it was
	// verified against Trust.Key.
	Signed, SignatureChecked bool
	// InsecureSkipVerify: the bundle was accepted without a checked
	// signature, because Trust.InsecureSkipVerify allowed it.
	InsecureSkipVerify bool
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
	warnSkip(st, o.Trust)
	f, info, err := openBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st.Start("verifying " + filepath.Base(o.Bundle))
	sc := &scanner{name: o.Bundle, trust: o.Trust, st: st, sink: hashOnly{}}
	res, err := sc.scan(ctx, f)
	if err != nil {
		return nil, st.End(err)
	}
	st.End(nil)
	reportSignature(st, o.Trust, res)
	m := res.Manifest
	st.Info("bundle %s: train %s for %s, %d files, %s unpacked, built %s", filepath.Base(o.Bundle), m.Train, m.Arch, len(m.Files), status.HumanBytes(m.UnpackedSize()), m.Created.UTC().Format("2006-01-02 15:04 MST"))
	return &VerifyResult{Manifest: m, ManifestSHA256: res.ManifestSHA256, Signed: res.Signed, SignatureChecked: res.Checked, InsecureSkipVerify: !res.Checked, CompressedSize: info.Size()}, nil
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
