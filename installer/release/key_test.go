package release_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/release"
)

func stamp(t *testing.T, value string) {
	t.Helper()
	old := release.BundlePublicKey
	release.BundlePublicKey = value
	t.Cleanup(func() { release.BundlePublicKey = old })
}

func TestBundleKeyDecodesWhatTheMakefileStamps(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	stamp(t, base64.StdEncoding.EncodeToString(der))
	got, err := release.BundleKey()
	if err != nil || !got.Equal(pub) {
		t.Fatalf("BundleKey() = %v, %v", got, err)
	}
	info, err := release.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if info.BundleKeyID != airgap.KeyID(pub) || !strings.Contains(info.Text(), "bundle signing key: "+airgap.KeyID(pub)+" (release key") {
		t.Errorf("version names key %q, airgap %q:\n%s", info.BundleKeyID, airgap.KeyID(pub), info.Text())
	}

	// A development build has none, and says so.
	stamp(t, "")
	if got, err := release.BundleKey(); got != nil || err != nil {
		t.Fatalf("dev build: BundleKey() = %v, %v", got, err)
	}
	info, _ = release.Describe()
	if info.BundleKeyID != "" || !strings.Contains(info.Text(), "none built in (development build)") {
		t.Errorf("dev build:\n%s", info.Text())
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	for value, want := range map[string]string{
		"not base64!": "not base64",
		base64.StdEncoding.EncodeToString([]byte("x")): "not a PKIX public key",
		base64.StdEncoding.EncodeToString(rsaDER):      "not an ed25519 key",
	} {
		stamp(t, value)
		_, err := release.BundleKey()
		if !errors.Is(err, release.ErrBadBundleKey) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "BUNDLE_PUBKEY_FILE") {
			t.Errorf("stamped %q: %v", value, err)
		}
	}
}

// The release flow end to end: a key pair from `airgap keygen`'s code,
// `make build BUNDLE_PUBKEY_FILE=...` as the Makefile spells it (dry run),
// and a binary linked with exactly those -ldflags reports the key.
func TestMakeBuildStampsTheReleaseKey(t *testing.T) {
	makeBin := kit.Program(t, "make", "apt-get install make")
	goBin := kit.Program(t, "go", "put the go command on PATH")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "release-bundle-signing")
	id, err := airgap.GenerateKeyFiles(base+".key", base+".pub")
	if err != nil {
		t.Fatal(err)
	}

	ldflags := regexp.MustCompile(`-ldflags '([^']*)'`)
	dry := func(args ...string) (string, error) {
		cmd := exec.Command(makeBin, append([]string{"-n", "-s", "build"}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := dry("BUNDLE_PUBKEY_FILE=" + base + ".pub")
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	m := ldflags.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("make -n build shows no -ldflags:\n%s", out)
	}
	probe := filepath.Join(dir, "keyprobe")
	build := exec.Command(goBin, "build", "-ldflags", m[1], "-o", probe, "./installer/release/testdata/keyprobe")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags %q: %v\n%s", m[1], err, out)
	}
	got, err := exec.Command(probe).Output()
	if err != nil {
		t.Fatalf("keyprobe: %v", err)
	}
	if !strings.Contains(string(got), "key="+id+"\n") {
		t.Fatalf("the binary built with make's -ldflags reports %q, want key %s", got, id)
	}

	// Without a key file: a development build, no key stamped.
	out, err = dry()
	if m := ldflags.FindStringSubmatch(out); err != nil || m == nil || !strings.Contains(m[1], "release.BundlePublicKey= ") && !strings.HasSuffix(m[1], "release.BundlePublicKey=") {
		t.Fatalf("make -n build without a key: %v\n%s", err, out)
	}
	// The private key passed by mistake is refused before anything is built.
	for _, bad := range []string{base + ".key", filepath.Join(dir, "missing.pub")} {
		out, err = dry("BUNDLE_PUBKEY_FILE=" + bad)
		if err == nil || !strings.Contains(out, "holds no PEM \"PUBLIC KEY\"") {
			t.Errorf("make build BUNDLE_PUBKEY_FILE=%s: %v\n%s", bad, err, out)
		}
		if strings.Contains(out, "go build") {
			t.Errorf("make went on to build with BUNDLE_PUBKEY_FILE=%s:\n%s", bad, out)
		}
	}
}
