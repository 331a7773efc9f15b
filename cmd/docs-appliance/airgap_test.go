package main

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/airgap/airgaptest"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer/release"
)

// headOnlyBundle writes a bundle of just its leading entries, signed with priv when given.
func headOnlyBundle(t *testing.T, path string, priv ed25519.PrivateKey) {
	t.Helper()
	keyID := ""
	if priv != nil {
		keyID = airgap.KeyID(priv.Public().(ed25519.PublicKey))
	}
	airgaptest.HeadOnlyBundle(t, path, priv, keyID)
}

// The signature flags of airgap verify, airgap import and install
// --bundle, in a development build (no release key): keys from airgap
// keygen, the refusal without a key, the loud skip flag.
func TestBundleSignatureFlags(t *testing.T) {
	if release.BundlePublicKey != "" {
		t.Fatal("this test binary has a release key stamped; it tests a development build")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	site := filepath.Join(dir, "site")
	if out, err := run(t, "airgap", "keygen", site); err != nil || !strings.Contains(out, "key ed25519:") {
		t.Fatalf("airgap keygen: %v\n%s", err, out)
	}
	priv, err := airgap.LoadPrivateKey(site + ".key")
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.tar.zst")
	headOnlyBundle(t, signed, priv)
	unsigned := filepath.Join(dir, "unsigned.tar.zst")
	headOnlyBundle(t, unsigned, nil)
	other := filepath.Join(dir, "other")
	if _, err := airgap.GenerateKeyFiles(other+".key", other+".pub"); err != nil {
		t.Fatal(err)
	}
	otherPub, _ := airgap.LoadPublicKey(other + ".pub")
	siteID := airgap.KeyID(priv.Public().(ed25519.PublicKey))

	const past = "manifest.json: invalid manifest" // got past the signature check
	const warning = "--insecure-skip-bundle-verify is set"
	install := []string{"install", "--state-dir", state, "--config", "../../examples/appliance.yaml", "--non-interactive", "--kubeconfig", "unused", "--bundle"}
	cases := []struct {
		args        []string
		want        string
		noKey, warn bool
	}{
		{args: []string{"airgap", "verify", unsigned}, noKey: true, want: "no release key built in (a development build) and no --key was given"},
		{args: []string{"airgap", "verify", signed}, noKey: true, want: "signed by key " + siteID},
		{args: []string{"airgap", "verify", signed, "--key", site + ".pub"}, want: past},
		{args: []string{"airgap", "verify", unsigned, "--insecure-skip-bundle-verify"}, warn: true, want: past},
		{args: []string{"airgap", "verify", signed, "--key", other + ".pub", "--insecure-skip-bundle-verify"}, warn: true, want: "signed by key " + siteID + " (as its manifest says), not by key " + airgap.KeyID(otherPub) + " (--key " + other + ".pub)"},
		{args: []string{"--state-dir", state, "airgap", "import", unsigned}, noKey: true, want: "no --key was given"},
		{args: []string{"--state-dir", state, "airgap", "import", signed, "--key", other + ".pub"}, want: "not by key " + airgap.KeyID(otherPub)},
		{args: []string{"--state-dir", state, "airgap", "import", unsigned, "--insecure-skip-bundle-verify"}, warn: true, want: past},
		{args: append(append([]string(nil), install...), unsigned), noKey: true, want: "no --bundle-key was given"},
		{args: append(append([]string(nil), install...), signed, "--bundle-key", site+".pub"), want: past},
		{args: append(append([]string(nil), install...), unsigned, "--insecure-skip-bundle-verify"), warn: true, want: past},
	}
	for _, c := range cases {
		out, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q\n%s", c.args, err, c.want, out)
			continue
		}
		if errors.Is(err, airgap.ErrNoKey) != c.noKey {
			t.Errorf("%v: errors.Is(err, ErrNoKey) = %v: %v", c.args, !c.noKey, err)
		}
		if strings.Contains(out, warning) != c.warn {
			t.Errorf("%v: the skip warning is missing or out of place:\n%s", c.args, out)
		}
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused bundles left the state folder %s", state)
	}
	out, err := run(t, "version")
	if err != nil || !strings.Contains(out, "bundle signing key: none built in (development build)") {
		t.Errorf("version: %v\n%s", err, out)
	}
}
