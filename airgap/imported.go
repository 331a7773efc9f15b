package airgap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
)

// RecordName is the file in an imported bundle folder that says how the
// bundle's signature was checked when it was imported.
const RecordName = "import.json"

// What ImportRecord.Signature says.
const (
	SignatureVerified  = "verified"  // checked against ImportRecord.KeyID
	SignatureUnchecked = "unchecked" // signed, but no key to check it (InsecureSkipVerify)
	SignatureAbsent    = "unsigned"  // accepted unsigned (InsecureSkipVerify)
)

// ImportRecord is import.json: how the last import of the bundle folder
// checked its signature, so that an import that skipped the check stays
// visible after the fact.
type ImportRecord struct {
	// Bundle is the file name of the imported bundle.
	Bundle         string `json:"bundle"`
	ManifestSHA256 string `json:"manifestSHA256"`
	// Signature is SignatureVerified, SignatureUnchecked or SignatureAbsent.
	Signature string `json:"signature"`
	// KeyID is the key that verified the signature, or, unchecked, the key
	// the manifest names.
	KeyID string `json:"keyID,omitempty"`
	// KeySource says where the verifying key came from.
	KeySource string `json:"keySource,omitempty"`
	// InsecureSkipVerify: the import was let through by
	// --insecure-skip-bundle-verify, without a checked signature.
	InsecureSkipVerify bool `json:"insecureSkipVerify"`
}

func newImportRecord(o ImportOptions, res *scanResult) ImportRecord {
	r := ImportRecord{Bundle: filepath.Base(o.Bundle), ManifestSHA256: res.ManifestSHA256, KeyID: res.Manifest.KeyID}
	switch {
	case res.Checked:
		r.Signature, r.KeySource = SignatureVerified, o.Trust.keySource()
	case res.Signed:
		r.Signature, r.InsecureSkipVerify = SignatureUnchecked, true
	default:
		r.Signature, r.InsecureSkipVerify = SignatureAbsent, true
	}
	return r
}

func (r ImportRecord) encode() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", RecordName, err)
	}
	return append(data, '\n'), nil
}

func writeImportRecord(dir string, r ImportRecord) error {
	data, err := r.encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, RecordName), data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", RecordName, err)
	}
	return nil
}

// updateImportRecord rewrites the record of an already imported folder when
// this import checked the signature differently (with a key this time, or
// skipping the check).
func updateImportRecord(dir string, r ImportRecord) error {
	data, err := r.encode()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, RecordName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	return nil
}

// ReadImportRecord reads import.json of an imported bundle folder.
func ReadImportRecord(dir string) (*ImportRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, RecordName))
	if err != nil {
		return nil, fmt.Errorf("reading import record: %w", err)
	}
	var r ImportRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading import record %s: %w", filepath.Join(dir, RecordName), err)
	}
	return &r, nil
}

// importedAlready reports whether dir holds the bundle whose manifest has
// the given sha256, with every file present at its size. Sizes are checked
// because files are not fsynced one by one: after a power cut a short file
// means "import again". When dir holds something else, why says what.
func importedAlready(dir, manifestSHA string) (ok bool, why string) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		if fileExists(dir) {
			return false, fmt.Sprintf("%s has no %s: importing again", dir, ManifestName)
		}
		return false, ""
	}
	if err != nil {
		return false, fmt.Sprintf("reading %s: %v: importing again", filepath.Join(dir, ManifestName), err)
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != manifestSHA {
		old, err := ParseManifest(raw)
		if err != nil {
			return false, fmt.Sprintf("replacing the unreadable bundle in %s", dir)
		}
		return false, fmt.Sprintf("replacing the bundle built %s in %s", old.Created.UTC().Format("2006-01-02 15:04 MST"), dir)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return false, fmt.Sprintf("replacing the unreadable bundle in %s", dir)
	}
	for _, f := range m.Files {
		info, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !info.Mode().IsRegular() || info.Size() != f.Size {
			return false, fmt.Sprintf("%s is incomplete (%s is missing or has the wrong size): importing again", dir, f.Path)
		}
	}
	return true, ""
}

// ReadImported reads the manifest of an imported bundle folder (as
// BundleDir names it), checks it, and, when pub is set, its signature.
// The files themselves were checked by Import.
func ReadImported(dir string, pub ed25519.PublicKey) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("reading imported bundle: %w", err)
	}
	if pub != nil {
		sig, err := os.ReadFile(filepath.Join(dir, SignatureName))
		if err != nil {
			return nil, fmt.Errorf("reading imported bundle signature: %w", err)
		}
		if err := checkSignature(pub, raw, sig); err != nil {
			return nil, fmt.Errorf("checking imported bundle in %s: %w", dir, err)
		}
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("reading imported bundle manifest in %s: %w", dir, err)
	}
	return m, nil
}
