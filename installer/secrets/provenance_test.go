package secrets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

func modes(t *testing.T, identity, storage string) *config.Config {
	t.Helper()
	c := &config.Config{Identity: config.Identity{Mode: identity, Issuer: "https://id.example.org"}, Storage: config.Storage{Mode: storage}}
	c.ApplyDefaults()
	return c
}

func reopen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func save(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
}

func ensure(t *testing.T, s *Store, c *config.Config) {
	t.Helper()
	if _, err := s.Ensure(c.RequiredSecrets()); err != nil {
		t.Fatal(err)
	}
}

func TestOriginKeptAcrossSaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := reopen(t, dir)
	ensure(t, s, modes(t, config.Embedded, config.Embedded))
	s.Set("smtp.password", "from-the-operator")
	save(t, s)

	again := reopen(t, dir)
	for name, want := range map[string]config.SecretOrigin{
		"django.secretKey":      config.SecretGenerated,
		"identity.clientSecret": config.SecretGenerated,
		"smtp.password":         config.SecretGiven,
		"git.token":             config.SecretMissing,
	} {
		if got := again.Origin(name); got != want {
			t.Errorf("%s: origin %q, want %q", name, got, want)
		}
	}
	if _, ok := again.Given("identity.clientSecret"); ok {
		t.Error("Given returned a generated value")
	}
	if v, ok := again.Given("smtp.password"); !ok || v != "from-the-operator" {
		t.Errorf("Given(smtp.password) = %q, %v", v, ok)
	}
}

func TestSwitchingIdentityKeepsGeneratedAndGivenApart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	embedded, external := modes(t, config.Embedded, config.Embedded), modes(t, config.External, config.Embedded)

	s := reopen(t, dir)
	ensure(t, s, embedded)
	generated, _ := s.Get("identity.clientSecret")
	save(t, s)

	// To external: the generated value is no answer for the issuer.
	s = reopen(t, dir)
	if o := s.Origin("identity.clientSecret"); o != config.SecretGenerated {
		t.Fatalf("origin %q: validation would take the generated secret for the issuer's", o)
	}
	s.Set("identity.clientSecret", "issuer-secret")
	ensure(t, s, external)
	if v, _ := s.Get("identity.clientSecret"); v != "issuer-secret" {
		t.Fatalf("in use: %q", v)
	}
	save(t, s)
	raw, _ := os.ReadFile(filepath.Join(dir, StoreFileName))
	if bytes.Contains(raw, []byte(generated)) || bytes.Contains(raw, []byte("issuer-secret")) {
		t.Fatal("a value, in use or kept aside, is in the store unencrypted")
	}

	// Back to embedded: the value the embedded Keycloak's realm still holds.
	s = reopen(t, dir)
	ensure(t, s, embedded)
	if v, _ := s.Get("identity.clientSecret"); v != generated {
		t.Fatal("switching back to embedded did not bring back the generated client secret")
	}
	if o := s.Origin("identity.clientSecret"); o != config.SecretGiven {
		t.Fatalf("the issuer's secret kept aside is still the operator's: %q", o)
	}
	save(t, s)

	// And external again: the issuer's secret, without asking twice.
	s = reopen(t, dir)
	ensure(t, s, external)
	if v, _ := s.Get("identity.clientSecret"); v != "issuer-secret" {
		t.Fatalf("in use: %q", v)
	}
}

func TestOperatorOverrideOfAGeneratedSecretSticks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	embedded := modes(t, config.Embedded, config.Embedded)
	s := reopen(t, dir)
	ensure(t, s, embedded)
	save(t, s)

	s = reopen(t, dir)
	s.Set("django.secretKey", "migrated-from-the-old-server")
	ensure(t, s, embedded)
	save(t, s)
	for i := 0; i < 2; i++ {
		s = reopen(t, dir)
		ensure(t, s, embedded)
		if v, _ := s.Get("django.secretKey"); v != "migrated-from-the-old-server" {
			t.Fatalf("run %d: the operator's value was replaced", i)
		}
		save(t, s)
	}
}

// writeOldStore writes a store the way docs-appliance did before origins
// were recorded: only data, encrypted with the SOPS Secret rules.
func writeOldStore(t *testing.T, dir string, values map[string]string) {
	t.Helper()
	s := reopen(t, dir) // makes the key
	plain, err := yaml.Marshal(map[string]any{"data": values})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Encrypt(plain, []string{s.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StoreFileName), enc, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOldStoreIsReadAndMigrated(t *testing.T) {
	old := map[string]string{"django.secretKey": "dj", "git.token": "tok", "identity.clientSecret": "cs", "storage.accessKeyID": "AK"}
	for _, tc := range []struct {
		name string
		last *config.Config
		want map[string]config.SecretOrigin
	}{
		{"no saved config", nil, map[string]config.SecretOrigin{
			"django.secretKey": config.SecretGenerated, "git.token": config.SecretGiven,
			"identity.clientSecret": config.SecretUnrecorded, "storage.accessKeyID": config.SecretUnrecorded}},
		{"saved embedded", modes(t, config.Embedded, config.Embedded), map[string]config.SecretOrigin{
			"identity.clientSecret": config.SecretGenerated, "storage.accessKeyID": config.SecretGenerated}},
		{"saved external", modes(t, config.External, config.External), map[string]config.SecretOrigin{
			"identity.clientSecret": config.SecretGiven, "storage.accessKeyID": config.SecretGiven}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			writeOldStore(t, dir, old)
			s := reopen(t, dir)
			s.ResolveUnrecorded(tc.last)
			for name, want := range tc.want {
				if got := s.Origin(name); got != want {
					t.Errorf("%s: origin %q, want %q", name, got, want)
				}
			}
			for name, v := range old {
				if got, _ := s.Get(name); got != v {
					t.Errorf("%s changed on reading", name)
				}
			}
			// The migration is written once and read back as recorded.
			save(t, s)
			again := reopen(t, dir)
			for name, want := range tc.want {
				if got := again.Origin(name); got != want {
					t.Errorf("after saving, %s: origin %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestNewStoreStillReadableTheOldWay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := reopen(t, dir)
	ensure(t, s, modes(t, config.Embedded, config.Embedded))
	s.Set("identity.clientSecret", "issuer-secret") // the generated one goes aside
	save(t, s)
	enc, err := os.ReadFile(filepath.Join(dir, StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decrypt(enc, s.Identity())
	if err != nil {
		t.Fatal(err)
	}
	// What the previous binary read: data, name to value.
	var doc struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(plain, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Data) != len(s.Names()) || doc.Data["identity.clientSecret"] != "issuer-secret" {
		t.Fatalf("data holds %d values (want %d), clientSecret in use readable: %v", len(doc.Data), len(s.Names()), doc.Data["identity.clientSecret"] == "issuer-secret")
	}
}

func TestStoreFileOpensWithTheSOPSCLI(t *testing.T) {
	bin := kit.SOPS(t)
	dir := filepath.Join(t.TempDir(), "state")
	s := reopen(t, dir)
	ensure(t, s, modes(t, config.Embedded, config.Embedded))
	generated, _ := s.Get("identity.clientSecret")
	s.Set("identity.clientSecret", "issuer-secret")
	save(t, s)
	raw, _ := os.ReadFile(filepath.Join(dir, StoreFileName))
	// Origins are readable as they are (under the MAC); values are not.
	if !bytes.Contains(raw, []byte("identity.clientSecret: given")) || bytes.Contains(raw, []byte(generated)) {
		t.Fatalf("store file:\n%s", raw)
	}
	cmd := exec.Command(bin, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", filepath.Join(dir, StoreFileName))
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+s.KeyPath())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops --decrypt: %v", err)
	}
	var doc storeFile
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Data["identity.clientSecret"] != "issuer-secret" || doc.Aside["identity.clientSecret"] != generated ||
		doc.AsideOrigins["identity.clientSecret"] != config.SecretGenerated {
		t.Fatal("the sops CLI does not read the store as written")
	}
}
