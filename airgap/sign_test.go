package airgap

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "bundle.key"), filepath.Join(dir, "bundle.pub")
	id, err := GenerateKeyFiles(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{priv: 0o600, pub: 0o644} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v (%v)", p, info.Mode(), mode, err)
		}
	}
	if _, err := GenerateKeyFiles(priv, filepath.Join(dir, "other.pub")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwriting a key: %v", err)
	}
	k, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if KeyID(p) != id || !p.Equal(k.Public()) {
		t.Fatal("the public key does not match the private key")
	}
	if _, err := LoadPublicKey(priv); err == nil || !strings.Contains(err.Error(), "holds a private key") {
		t.Errorf("a private key passed as public: %v", err)
	}
	if err := os.Chmod(priv, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(priv); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a group-readable key loaded: %v", err)
	}
}

// The signature format is documented as checkable with openssl alone, and
// keys made by openssl sign bundles: prove both ways.
func TestSignaturesInteroperateWithOpenSSL(t *testing.T) {
	openssl := kit.Program(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	manifest := []byte(`{"formatVersion":1}` + "\n")
	mpath := filepath.Join(dir, ManifestName)
	if err := os.WriteFile(mpath, manifest, 0o644); err != nil {
		t.Fatal(err)
	}

	// Our key and signature, openssl verifies.
	priv, pub := filepath.Join(dir, "ours.key"), filepath.Join(dir, "ours.pub")
	if _, err := GenerateKeyFiles(priv, pub); err != nil {
		t.Fatal(err)
	}
	k, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(signManifest(k, manifest))))
	if err != nil {
		t.Fatal(err)
	}
	sigPath := filepath.Join(dir, "sig.bin")
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	run("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", mpath, "-sigfile", sigPath)

	// openssl's key and signature, we verify.
	okey, opub := filepath.Join(dir, "openssl.key"), filepath.Join(dir, "openssl.pub")
	run("genpkey", "-algorithm", "ed25519", "-out", okey)
	run("pkey", "-in", okey, "-pubout", "-out", opub)
	if err := os.Chmod(okey, 0o600); err != nil {
		t.Fatal(err)
	}
	osig := filepath.Join(dir, "openssl.sig")
	run("pkeyutl", "-sign", "-inkey", okey, "-rawin", "-in", mpath, "-out", osig)
	raw, err := os.ReadFile(osig)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPublicKey(opub)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSignature(p, manifest, []byte(base64.StdEncoding.EncodeToString(raw))); err != nil {
		t.Fatalf("openssl's signature: %v", err)
	}
	if _, err := LoadPrivateKey(okey); err != nil {
		t.Fatalf("openssl's private key: %v", err)
	}
}
