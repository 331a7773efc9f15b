package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// externalAll is the example config with identity and storage external.
func externalAll(t *testing.T) *Config {
	t.Helper()
	c, err := Load("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve([]string{
		"identity.mode=external", "identity.issuer=https://id.example.org/realms/x",
		"identity.endpoints.authorization=https://id.example.org/auth", "identity.endpoints.token=https://id.example.org/token",
		"identity.endpoints.userinfo=https://id.example.org/userinfo", "identity.endpoints.jwks=https://id.example.org/jwks",
		"storage.mode=external", "storage.endpoint=https://s3.example.org",
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGeneratedSecretDoesNotSatisfyAGivenOne(t *testing.T) {
	c := externalAll(t)
	err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretGenerated })
	var ve *bundles.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("a generated value must not do for the external issuer's secret: %v", err)
	}
	for _, want := range []string{
		"secrets.identity.clientSecret: generated for the embedded Keycloak, but identity.mode external needs the client secret from your issuer (fix: give it with --secret identity.clientSecret=FILE",
		"secrets.storage.accessKeyID: generated for the embedded object store, but storage.mode external needs the access key ID of your S3 bucket docs-media-storage (fix: give it with --secret storage.accessKeyID=FILE",
		"secrets.storage.secretAccessKey: generated for the embedded object store, but storage.mode external needs the secret access key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(ve.Fields) != 3 {
		t.Errorf("want exactly the three secrets, got %v", err)
	}

	if err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretGiven }); err != nil {
		t.Fatalf("the operator's values satisfy it: %v", err)
	}
	err = c.Validate(catalog(t), func(string) SecretOrigin { return SecretUnrecorded })
	if err == nil || !strings.Contains(err.Error(), "secrets.identity.clientSecret: stored by an older docs-appliance that did not record whether it was generated or given") {
		t.Fatalf("an unrecorded value must be asked for again: %v", err)
	}
	err = c.Validate(catalog(t), func(string) SecretOrigin { return SecretMissing })
	if err == nil || !strings.Contains(err.Error(), "secrets.identity.clientSecret: missing: needed for the Docs OIDC client at https://id.example.org/realms/x") {
		t.Fatalf("got %v", err)
	}
}

func TestSecretUses(t *testing.T) {
	gen, given := SecretUses()
	for name, want := range map[string][2]bool{
		"django.secretKey":      {true, false},
		"identity.clientSecret": {true, true},
		"storage.accessKeyID":   {true, true},
		"git.password":          {true, false},
		"git.token":             {false, true},
		"git.sshKey":            {false, true},
		"smtp.password":         {false, true},
		SecretTLSPrivateKey:     {false, true},
	} {
		if gen[name] != want[0] || given[name] != want[1] {
			t.Errorf("%s: generated %v given %v, want %v", name, gen[name], given[name], want)
		}
	}
}
