package installer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/airgap/airgaptest"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

func stampReleaseKey(t *testing.T, pub ed25519.PublicKey) {
	t.Helper()
	old := release.BundlePublicKey
	release.BundlePublicKey = ""
	if pub != nil {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		release.BundlePublicKey = base64.StdEncoding.EncodeToString(der)
	}
	t.Cleanup(func() { release.BundlePublicKey = old })
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// install --bundle checks the bundle against the release key built into
// the binary unless given --bundle-key; a development build without a key
// refuses it unless --insecure-skip-bundle-verify. Whatever is refused
// leaves no state behind.
func TestInstallBundleTrust(t *testing.T) {
	releasePub, releasePriv := newKey(t)
	otherPub, otherPriv := newKey(t)
	dir := t.TempDir()
	unsigned := filepath.Join(dir, "unsigned.tar.zst")
	airgaptest.HeadOnlyBundle(t, unsigned, nil, "")
	byRelease := filepath.Join(dir, "release.tar.zst")
	airgaptest.HeadOnlyBundle(t, byRelease, releasePriv, airgap.KeyID(releasePub))
	byOther := filepath.Join(dir, "other.tar.zst")
	airgaptest.HeadOnlyBundle(t, byOther, otherPriv, airgap.KeyID(otherPub))
	otherPEM := filepath.Join(dir, "other")
	if _, err := airgap.GenerateKeyFiles(otherPEM+".key", otherPEM+".pub"); err != nil {
		t.Fatal(err)
	}
	sitePub, err := airgap.LoadPublicKey(otherPEM + ".pub")
	if err != nil {
		t.Fatal(err)
	}

	// past says the bundle got past the signature check: it then fails on
	// its (deliberately incomplete) manifest.
	const past = "manifest.json: invalid manifest"
	cases := []struct {
		name       string
		releaseKey ed25519.PublicKey
		bundle     string
		keyFile    string
		skip       bool
		noKey      bool
		want       string
	}{
		{name: "dev build, unsigned", bundle: unsigned, noKey: true, want: "no release key built in (a development build) and no --bundle-key was given"},
		{name: "dev build, signed", bundle: byRelease, noKey: true, want: "the bundle says it is signed by key " + airgap.KeyID(releasePub)},
		{name: "dev build, unsigned, skip", bundle: unsigned, skip: true, want: past},
		{name: "release key, signed by it", releaseKey: releasePub, bundle: byRelease, want: past},
		{name: "release key, unsigned", releaseKey: releasePub, bundle: unsigned, want: "the bundle is unsigned but must be signed by key " + airgap.KeyID(releasePub) + " (the release key built into this binary)"},
		{name: "release key, signed by another", releaseKey: releasePub, bundle: byOther, want: "signed by key " + airgap.KeyID(otherPub) + " (as its manifest says), not by key " + airgap.KeyID(releasePub)},
		{name: "release key, signed by another, skip", releaseKey: releasePub, bundle: byOther, skip: true, want: "not by key " + airgap.KeyID(releasePub)},
		{name: "release key, --bundle-key of another", releaseKey: releasePub, bundle: byRelease, keyFile: otherPEM + ".pub", want: "not by key " + airgap.KeyID(sitePub) + " (--bundle-key " + otherPEM + ".pub)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stampReleaseKey(t, c.releaseKey)
			state := filepath.Join(t.TempDir(), "state")
			var log bytes.Buffer
			in := &Install{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, NonInteractive: true, Kubeconfig: "unused",
				Bundle: c.bundle, BundleKey: c.keyFile, BundleInsecureSkipVerify: c.skip}
			err := in.Run(context.Background(), status.New(&log, status.Plain))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if errors.Is(err, airgap.ErrNoKey) != c.noKey {
				t.Errorf("errors.Is(err, airgap.ErrNoKey) = %v", !c.noKey)
			}
			if c.noKey && !strings.Contains(err.Error(), "--bundle-key FILE") {
				t.Errorf("the fix does not name --bundle-key: %v", err)
			}
			if strings.Contains(log.String(), "--insecure-skip-bundle-verify is set") != c.skip {
				t.Errorf("the skip warning is missing or out of place:\n%s", log.String())
			}
			if entries, err := os.ReadDir(state); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused bundle left the state folder holding %v (%v)", entries, err)
			}
		})
	}
}
