package secrets

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

func newID(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSecretRoundTrip(t *testing.T) {
	id, other := newID(t), newID(t)
	plain := KubeSecret("docs", "backend", map[string]string{"app": "docs"}, map[string]string{"DB_PASSWORD": "p@ss: w0rd", "Z": "last"})
	enc, err := Encrypt(plain, []string{id.Recipient().String(), other.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("p@ss")) {
		t.Fatal("encrypted file holds the plain value")
	}
	// Metadata stays readable for Flux and reviewers; values do not.
	for _, want := range []string{"name: backend", "namespace: docs", "kind: Secret", "encrypted_regex: ^(data|stringData)$", "DB_PASSWORD: ENC["} {
		if !bytes.Contains(enc, []byte(want)) {
			t.Errorf("encrypted file lacks %q:\n%s", want, enc)
		}
	}
	for _, key := range []*age.X25519Identity{id, other} {
		vals, err := SecretValues(enc, key)
		if err != nil {
			t.Fatal(err)
		}
		if vals["DB_PASSWORD"] != "p@ss: w0rd" || vals["Z"] != "last" {
			t.Fatalf("values = %v", vals)
		}
	}
	_, err = Decrypt(enc, newID(t))
	if !errors.Is(err, ErrNotDecryptable) || !strings.Contains(err.Error(), id.Recipient().String()) {
		t.Fatalf("a foreign key must be refused naming the file's recipients, got %v", err)
	}
}

func TestTamperedFileIsRefused(t *testing.T) {
	id := newID(t)
	enc, err := Encrypt(KubeSecret("a", "b", nil, map[string]string{"k": "v", "k2": "v2"}), []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	// Swap two encrypted values: each decrypts, but the MAC must catch it.
	lines := strings.Split(string(enc), "\n")
	var idx []int
	for i, l := range lines {
		tl := strings.TrimSpace(l)
		if strings.Contains(l, "ENC[") && (strings.HasPrefix(tl, "k:") || strings.HasPrefix(tl, "k2:")) {
			idx = append(idx, i)
		}
	}
	if len(idx) != 2 {
		t.Fatalf("expected two encrypted lines:\n%s", enc)
	}
	a := strings.SplitN(lines[idx[0]], ": ", 2)
	b := strings.SplitN(lines[idx[1]], ": ", 2)
	lines[idx[0]], lines[idx[1]] = a[0]+": "+b[1], b[0]+": "+a[1]
	_, err = Decrypt([]byte(strings.Join(lines, "\n")), id)
	if err == nil {
		t.Fatal("a tampered file decrypted without error")
	}
}

func TestStorePersistsEncrypted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.KeyCreated {
		t.Fatal("first open must create the key")
	}
	cfg := config.Default()
	made, err := s.Ensure(cfg.RequiredSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if len(made) == 0 {
		t.Fatal("nothing generated")
	}
	s.Set("smtp.password", "given-by-operator")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{KeyFileName, StoreFileName} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, info.Mode())
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, StoreFileName))
	if bytes.Contains(raw, []byte("given-by-operator")) {
		t.Fatal("secret store holds a plain value")
	}
	before, _ := os.Stat(filepath.Join(dir, StoreFileName))

	again, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.KeyCreated {
		t.Fatal("second open must reuse the key")
	}
	for _, n := range s.Names() {
		a, _ := s.Get(n)
		b, _ := again.Get(n)
		if a != b {
			t.Fatalf("secret %s changed across opens", n)
		}
	}
	if made, _ := again.Ensure(cfg.RequiredSecrets()); len(made) != 0 {
		t.Fatalf("reopened store regenerated %v", made)
	}
	if err := again.Save(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(dir, StoreFileName))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("an unchanged store was rewritten")
	}
}

func TestKeyChecks(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, KeyFileName)
	os.WriteFile(p, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)
	_, err := LoadKey(p)
	if err == nil || strings.Contains(err.Error(), "NOTAKEY") {
		t.Fatalf("a bad key must be refused without echoing it: %v", err)
	}
	id := newID(t)
	os.WriteFile(p, KeyFileContent(id), 0o600)
	os.Chmod(p, 0o644)
	if _, err := LoadKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key must be refused: %v", err)
	}
	os.Chmod(p, 0o600)
	got, err := LoadKey(p)
	if err != nil || got.String() != id.String() {
		t.Fatalf("key = %v, %v", got, err)
	}
}

func TestReadOnlyStoreWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := OpenStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(config.Default().RequiredSecrets()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a read-only store created %s", dir)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		v, err := Generate("redis.password")
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 40 || strings.Trim(v, alnum) != "" || seen[v] {
			t.Fatalf("bad or repeated value of length %d", len(v))
		}
		seen[v] = true
	}
	if v, _ := Generate("storage.accessKeyID"); len(v) != 20 || strings.Trim(v, upperAlnum) != "" {
		t.Fatalf("access key shape wrong (len %d)", len(v))
	}
}

func TestSOPSCLIInterop(t *testing.T) {
	bin := kit.SOPS(t)
	id := newID(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.txt")
	os.WriteFile(keyFile, KeyFileContent(id), 0o600)
	env := append(os.Environ(), "SOPS_AGE_KEY_FILE="+keyFile)

	// Library encrypts, CLI decrypts.
	enc, err := Encrypt(KubeSecret("docs", "s", nil, map[string]string{"token": "from-library"}), []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "lib.yaml")
	os.WriteFile(f, enc, 0o600)
	cmd := exec.Command(bin, "--decrypt", f)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sops --decrypt: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("token: from-library")) {
		t.Fatalf("CLI decrypted to:\n%s", out)
	}

	// CLI encrypts, library decrypts.
	p := filepath.Join(dir, "cli.yaml")
	os.WriteFile(p, KubeSecret("docs", "s", nil, map[string]string{"token": "from-cli"}), 0o600)
	cmd = exec.Command(bin, "--encrypt", "--age", id.Recipient().String(), "--encrypted-regex", EncryptedRegex, p)
	cmd.Env = env
	cliEnc, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops --encrypt: %v", err)
	}
	vals, err := SecretValues(cliEnc, id)
	if err != nil {
		t.Fatal(err)
	}
	if vals["token"] != "from-cli" {
		t.Fatalf("library decrypted %v", vals)
	}
}
