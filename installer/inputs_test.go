package installer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

var externalIdentity = []string{
	"identity.mode=external", "identity.issuer=https://id.example.org/realms/docs",
	"identity.endpoints.authorization=https://id.example.org/auth", "identity.endpoints.token=https://id.example.org/token",
	"identity.endpoints.userinfo=https://id.example.org/userinfo", "identity.endpoints.jwks=https://id.example.org/jwks",
}

var externalStorage = []string{"storage.mode=external", "storage.endpoint=https://s3.example.org"}

func secretFile(t *testing.T, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSwitchToExternalNeedsTheOperatorsSecrets(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	example := "../examples/appliance.yaml"
	first, err := LoadInputs(InputOptions{ConfigPath: example, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	keycloak, _ := first.Store.Get("identity.clientSecret")

	// The embedded Keycloak's generated client secret is no answer for an
	// external issuer, nor the embedded store's keys for an external S3.
	_, err = LoadInputs(InputOptions{ConfigPath: example, StateDir: state, Sets: append(externalIdentity, externalStorage...)})
	for _, want := range []string{
		"secrets.identity.clientSecret: generated for the embedded Keycloak, but identity.mode external needs the client secret from your issuer (fix: give it with --secret identity.clientSecret=FILE",
		"secrets.storage.accessKeyID: generated for the embedded object store, but storage.mode external needs the access key ID of your S3 bucket",
		"secrets.storage.secretAccessKey: generated for the embedded object store",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("switching to external must refuse the generated secrets; error lacks %q:\n%v", want, err)
		}
	}

	ext, err := LoadInputs(InputOptions{ConfigPath: example, StateDir: state, Sets: externalIdentity,
		SecretFiles: []string{"identity.clientSecret=" + secretFile(t, "from-the-issuer")}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ext.Store.Get("identity.clientSecret"); v != "from-the-issuer" {
		t.Fatal("the issuer's secret is not the one in use")
	}

	// Back to embedded: the Keycloak realm still holds the generated secret.
	back, err := LoadInputs(InputOptions{ConfigPath: example, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Store.Get("identity.clientSecret"); v != keycloak {
		t.Fatal("switching back to embedded did not restore the generated client secret")
	}
	// And external again takes the issuer's secret given before.
	again, err := LoadInputs(InputOptions{ConfigPath: example, StateDir: state, Sets: externalIdentity})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := again.Store.Get("identity.clientSecret"); v != "from-the-issuer" {
		t.Fatal("the issuer's secret given before was lost")
	}
}

func TestStoreOfAnOlderBinarySwitchedToExternal(t *testing.T) {
	// A store written before origins were recorded, beside the embedded
	// config it was used with: its client secret was generated.
	state := filepath.Join(t.TempDir(), "state")
	first, err := LoadInputs(InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, n := range first.Store.Names() {
		values[n], _ = first.Store.Get(n)
	}
	plain, err := yaml.Marshal(map[string]any{"data": values})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := secrets.Encrypt(plain, []string{first.Store.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, secrets.StoreFileName), enc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := first.Config.Save(SavedConfigPath(state)); err != nil {
		t.Fatal(err)
	}
	_, err = LoadInputs(InputOptions{StateDir: state, Sets: externalIdentity})
	if err == nil || !strings.Contains(err.Error(), "secrets.identity.clientSecret: generated for the embedded Keycloak") {
		t.Fatalf("the older store's generated client secret was taken for the issuer's: %v", err)
	}
	if _, err := LoadInputs(InputOptions{StateDir: state}); err != nil {
		t.Fatalf("the older store still serves the embedded config: %v", err)
	}
}

func TestLoadInputsListsTheTrainDefault(t *testing.T) {
	in, err := LoadInputs(InputOptions{StateDir: filepath.Join(t.TempDir(), "state"), ReadOnly: true,
		Sets: []string{"domain=docs.example.org", "adminEmail=admin@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	var found config.FilledDefault
	for _, d := range in.Config.Defaulted() {
		if d.Path == "train" {
			found = d
		}
	}
	if found.Value != in.Catalog.Latest().Name || found.From == "" {
		t.Fatalf("train default = %+v", found)
	}
}
