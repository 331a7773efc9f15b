package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
)

func catalog(t *testing.T) *bundles.Catalog {
	t.Helper()
	c, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func validConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Load("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExampleIsValid(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretMissing }); err != nil {
		t.Fatalf("the example config must validate with only generated secrets: %v", err)
	}
}

func TestValidationTable(t *testing.T) {
	certFile, keyFile := writeCert(t, "docs.example.org")
	cases := []struct {
		name  string
		sets  []string
		paths []string // every path the error must name
	}{
		{"unknown train", []string{"train=1999.01"}, []string{"train: \"1999.01\""}},
		{"unknown profile", []string{"profile=huge"}, []string{"profile: \"huge\"", "single-small"}},
		{"environment not a label", []string{"environment=Staging_1"}, []string{"environment: \"Staging_1\" is not a DNS label"}},
		{"environment path", []string{"environment=../prod"}, []string{"environment: \"../prod\" is not a DNS label"}},
		{"domain empty", []string{"domain="}, []string{"domain: empty"}},
		{"domain ip", []string{"domain=10.0.0.1"}, []string{"domain: \"10.0.0.1\" is an IP"}},
		{"domain upper", []string{"domain=Docs.example.org"}, []string{"domain: \"Docs.example.org\" has upper-case"}},
		{"domain single label", []string{"domain=docs"}, []string{"single label"}},
		{"domain bad label", []string{"domain=do_cs.example.org"}, []string{"invalid label \"do_cs\""}},
		{"extra domain dup", []string{"extraDomains=docs.example.org"}, []string{"extraDomains[0]: \"docs.example.org\" is listed twice"}},
		{"extra domain bad", []string{"extraDomains=ok.example.org,-bad.example.org"}, []string{"extraDomains[1]"}},
		{"admin email", []string{"adminEmail=admin"}, []string{"adminEmail: \"admin\" is not an e-mail"}},
		{"tls mode", []string{"tls.mode=selfsigned"}, []string{"tls.mode: \"selfsigned\"", "appliance-ca"}},
		{"acme airgapped", []string{"airgapped=true"}, []string{"tls.mode: acme needs", "use appliance-ca or provided"}},
		{"acme email", []string{"tls.acmeEmail=nobody"}, []string{"tls.acmeEmail"}},
		{"acme server http", []string{"tls.acmeServer=http://acme.example.org/dir"}, []string{"tls.acmeServer: \"http://acme.example.org/dir\" does not use https"}},
		{"provided without files", []string{"tls.mode=provided"}, []string{"tls.certFile: empty", "tls.keyFile: empty"}},
		{"provided missing file", []string{"tls.mode=provided", "tls.certFile=/nonexistent.pem", "tls.keyFile=" + keyFile}, []string{"tls.certFile: cannot be read"}},
		{"provided wrong host", []string{"tls.mode=provided", "tls.certFile=" + certFile, "tls.keyFile=" + keyFile, "extraDomains=other.example.org"}, []string{"does not cover other.example.org"}},
		{"identity mode", []string{"identity.mode=ldap"}, []string{"identity.mode: \"ldap\""}},
		{"identity issuer http", []string{"identity.mode=external", "identity.issuer=http://id.example.org"}, []string{"identity.issuer: \"http://id.example.org\" does not use https", "secrets.identity.clientSecret: missing", "identity.endpoints.token: empty", "identity.endpoints.jwks: empty"}},
		{"identity endpoint http", []string{"identity.mode=external", "identity.issuer=https://id.example.org", "identity.endpoints.authorization=http://id.example.org/auth"}, []string{"identity.endpoints.authorization: \"http://id.example.org/auth\" does not use https"}},
		{"identity scopes", []string{"identity.scopes=email"}, []string{"identity.scopes: \"email\" lacks openid"}},
		{"storage mode", []string{"storage.mode=nfs"}, []string{"storage.mode: \"nfs\""}},
		{"storage external", []string{"storage.mode=external", "storage.endpoint=s3.example.org"}, []string{"storage.endpoint", "secrets.storage.accessKeyID: missing", "secrets.storage.secretAccessKey: missing"}},
		{"bucket", []string{"storage.bucket=Docs_Media"}, []string{"storage.bucket: \"Docs_Media\""}},
		{"region", []string{"storage.region=EU West"}, []string{"storage.region"}},
		{"git mode", []string{"git.mode=svn"}, []string{"git.mode: \"svn\""}},
		{"git token http", []string{"git.mode=external", "git.auth=token", "git.url=http://git.example.org/r.git"}, []string{"git.url: \"http://git.example.org/r.git\" is not an https URL", "git.username: empty", "secrets.git.token: missing"}},
		{"git url with creds", []string{"git.mode=external", "git.auth=token", "git.username=bot", "git.url=https://bot:pw@git.example.org/r.git"}, []string{"git.url: holds credentials"}},
		{"git ssh no known hosts", []string{"git.mode=external", "git.auth=ssh", "git.url=git@git.example.org:ops/docs.git"}, []string{"git.knownHosts: empty", "secrets.git.sshKey: missing"}},
		{"git ssh bad url", []string{"git.mode=external", "git.auth=ssh", "git.url=https://git.example.org/x.git", "git.knownHosts=git.example.org ssh-ed25519 AAAA"}, []string{"git.url: \"https://git.example.org/x.git\" is not an SSH URL"}},
		{"git auth", []string{"git.mode=external", "git.auth=password", "git.url=https://git.example.org/x.git"}, []string{"git.auth: \"password\""}},
		{"branch", []string{"git.branch=a..b"}, []string{"git.branch"}},
		{"smtp", []string{"smtp.host=mail.example.org", "smtp.port=70000", "smtp.from=docs", "smtp.security=ssl", "smtp.username=docs"}, []string{"smtp.port: 70000", "smtp.from", "smtp.security: \"ssl\"", "secrets.smtp.password: missing"}},
		{"smtp without host", []string{"smtp.from=docs@example.org"}, []string{"smtp.host: empty while"}},
		{"age recipient", []string{"ageRecipients=AGE-SECRET-KEY-1XYZ"}, []string{"ageRecipients[0]: not an age public key"}},
		{"api version", []string{"apiVersion=v2"}, []string{"apiVersion: \"v2\""}},
		{"backup schedule five fields", []string{"backup.schedule=0 2 * * *"}, []string{"backup.schedule: \"0 2 * * *\" has 5 fields, want 6"}},
		{"backup schedule bad field", []string{"backup.schedule=0 0 2 * * $"}, []string{"backup.schedule: \"0 0 2 * * $\" has an invalid field \"$\""}},
		{"backup retention", []string{"backup.retention=30 days"}, []string{"backup.retention: \"30 days\" is not a retention"}},
		{"restore check schedule", []string{"backup.restoreCheckSchedule=0 0 4 * * *"}, []string{"backup.restoreCheckSchedule: \"0 0 4 * * *\" has 6 fields, want 5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("../../examples/appliance.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Resolve(tc.sets); err != nil {
				t.Fatal(err)
			}
			err = c.Validate(catalog(t), func(string) SecretOrigin { return SecretMissing })
			var ve *bundles.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error lacks %q:\n%v", p, err)
				}
			}
			for _, f := range ve.Fields {
				if f.Fix == "" {
					t.Errorf("field %s has no fix", f.Path)
				}
			}
		})
	}
}

func TestEveryBadFieldAtOnce(t *testing.T) {
	c := validConfig(t)
	if err := c.Resolve([]string{"domain=x", "adminEmail=y", "tls.mode=z", "storage.bucket=B"}); err != nil {
		t.Fatal(err)
	}
	var ve *bundles.ValidationError
	if err := c.Validate(catalog(t), nil); !errors.As(err, &ve) || len(ve.Fields) != 4 {
		t.Fatalf("want 4 field errors, got %v", err)
	}
}

func TestSetErrors(t *testing.T) {
	c := Default()
	for in, want := range map[string]string{
		"tls.mod=acme":  `unknown key "mod" (keys at tls: acmeEmail, acmeServer, certFile, keyFile, mode)`,
		"nonsense":      "write key=value",
		"airgapped=yes": "want true or false",
		"smtp.port=x":   "want a whole number",
		"tls=acme":      "is a section",
		"bogus.x=1":     `unknown key "bogus" (keys at the top level:`,
	} {
		err := c.Set(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want %q", in, err, want)
		}
	}
	if err := c.SetAll([]string{"a=1", "b=2"}); err == nil || strings.Count(err.Error(), "unknown key") != 2 {
		t.Errorf("SetAll must report every bad override: %v", err)
	}
}

func TestDefaultsFollowOverrides(t *testing.T) {
	c, err := Parse([]byte("domain: docs.example.org\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve([]string{"adminEmail=ops@example.org", "smtp.host=mail.example.org", "smtp.security=tls"}); err != nil {
		t.Fatal(err)
	}
	if c.TLS.ACMEEmail != "ops@example.org" || c.SMTP.Port != 465 || c.Git.Branch != "main" || c.Profile != "single-small" ||
		c.Backup.Schedule != "0 0 2 * * *" || c.Backup.Retention != "30d" || c.Backup.RestoreCheckSchedule != "30 4 * * *" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestUnknownFieldInFile(t *testing.T) {
	_, err := Parse([]byte("domain: a.example.org\ntls:\n  mdoe: acme\n"))
	if err == nil || !strings.Contains(err.Error(), "mdoe") {
		t.Fatalf("unknown field must be named: %v", err)
	}
}

func TestSaveRoundTripAndMode(t *testing.T) {
	c := validConfig(t)
	path := filepath.Join(t.TempDir(), "sub", "appliance.yaml")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v", info.Mode())
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Marshal()
	b, _ := back.Marshal()
	if string(a) != string(b) {
		t.Fatalf("round trip changed the config:\n%s\n---\n%s", a, b)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "examples/appliance.yaml") {
		t.Fatalf("missing file error should say how to get one: %v", err)
	}
}

func writeCert(t *testing.T, host string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return certFile, keyFile
}
