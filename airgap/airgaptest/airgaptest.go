// Package airgaptest makes bundles for tests of the packages that take one (install --bundle,
// the airgap commands). It is imported by tests only.
package airgaptest

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/suitenumerique/docs-appliance/airgap"
)

// HeadOnlyBundle writes a bundle holding only its leading entries: a manifest of train 2026.11
// naming keyID and, with priv, its signature. The signature decision comes before the manifest
// is parsed, so that is all a trust test needs; a bundle that gets past it fails on its
// manifest instead.
func HeadOnlyBundle(t testing.TB, path string, priv ed25519.PrivateKey, keyID string) {
	t.Helper()
	manifest := []byte(`{"formatVersion":1,"train":"2026.11","arch":"amd64","keyID":"` + keyID + `"}` + "\n")
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(airgap.ManifestName, manifest)
	if priv != nil {
		add(airgap.SignatureName, []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest))+"\n"))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
