package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
)

// providedConfig is the example config with tls.mode provided on the given
// files, serving docs.example.org and the extra names.
func providedConfig(t *testing.T, certFile, keyFile string, extra ...string) *Config {
	t.Helper()
	c := validConfig(t)
	sets := []string{"tls.mode=provided", "tls.certFile=" + certFile, "tls.keyFile=" + keyFile}
	if len(extra) > 0 {
		sets = append(sets, "extraDomains="+strings.Join(extra, ","))
	}
	if err := c.Resolve(sets); err != nil {
		t.Fatal(err)
	}
	return c
}

// problems renders every problem as "path: problem (fix: ...)".
func problems(p *ProvidedCert) string {
	var b strings.Builder
	for _, f := range p.Problems {
		b.WriteString(f.Error() + "\n")
	}
	return b.String()
}

// noKeyMaterial fails when any line of the key's PEM body shows in what
// the check reports.
func noKeyMaterial(t *testing.T, keyPEM []byte, p *ProvidedCert) {
	t.Helper()
	said := problems(p) + strings.Join(p.Warnings, "\n")
	if p.Err() != nil {
		said += p.Err().Error()
	}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(said, line) {
			t.Fatalf("key material in the report:\n%s", said)
		}
	}
}

func TestProvidedCertChainOfEveryKeyType(t *testing.T) {
	root := certtest.NewRoot(t, "Test Root")
	inter := root.Intermediate(t, "Test Intermediate")
	for _, typ := range []string{certtest.ECDSA, certtest.RSA, certtest.Ed25519} {
		t.Run(typ, func(t *testing.T) {
			leaf := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org", "docs.example.com"}, KeyType: typ})
			certFile, keyFile := leaf.Write(t, t.TempDir())
			c := providedConfig(t, certFile, keyFile, "docs.example.com")
			if err := c.Validate(catalog(t), nil); err != nil {
				t.Fatalf("a good chain was refused: %v", err)
			}
			p := c.CheckProvidedCert(time.Now())
			if p.Chain != string(leaf.ChainPEM()) || string(p.Key) != string(leaf.KeyPEM(t)) {
				t.Fatal("the checked chain or key differs from the files")
			}
			if strings.Count(p.Chain, "BEGIN CERTIFICATE") != 2 {
				t.Fatalf("the chain should hold the leaf and the intermediate")
			}
			wantWarn := typ == certtest.Ed25519
			if got := len(p.Warnings) > 0; got != wantWarn || (wantWarn && !strings.Contains(p.Warnings[0], "Ed25519")) {
				t.Fatalf("warnings = %q", p.Warnings)
			}
		})
	}
}

func TestProvidedCertRefusals(t *testing.T) {
	root := certtest.NewRoot(t, "Test Root")
	inter := root.Intermediate(t, "Test Intermediate")
	other := certtest.NewRoot(t, "Other Root").Intermediate(t, "Other Intermediate")
	now := time.Now()
	good := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	inter2 := inter.Intermediate(t, "Test Intermediate 2")
	deep := inter2.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	stranger := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	pemOf := func(cs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range cs {
			b = append(b, certtest.CertPEM(c)...)
		}
		return b
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")})
	cases := []struct {
		name      string
		cert, key []byte
		extra     []string
		field     string
		want      string // in the problem
		fix       string // in the fix
	}{
		{"expired", nil, nil, nil, "tls.certFile", "expired on", "renew it"},
		{"not yet valid", nil, nil, nil, "tls.certFile", "not valid before", "clock"},
		{"wrong key", good.ChainPEM(), stranger.KeyPEM(t), nil, "tls.keyFile", "not the key of the certificate", "the key the certificate was issued for"},
		{"missing host", good.ChainPEM(), good.KeyPEM(t), []string{"docs.example.com"}, "tls.certFile", "does not cover docs.example.com (it covers docs.example.org)", "extraDomains"},
		{"intermediate first", pemOf(inter.Cert, good.Cert), good.KeyPEM(t), nil, "tls.certFile", "is a CA", "server certificate first"},
		{"root before intermediate", pemOf(good.Cert, root.Cert, inter.Cert), good.KeyPEM(t), nil, "tls.certFile", "certificate 1 (docs.example.org) is not signed by certificate 2 (Test Root) that follows it but by certificate 3 (Test Intermediate): the chain is out of order", "followed by the one that signed it"},
		{"intermediates reversed", pemOf(deep.Cert, inter.Cert, inter2.Cert), deep.KeyPEM(t), nil, "tls.certFile", "certificate 1 (docs.example.org) is not signed by certificate 2 (Test Intermediate) that follows it but by certificate 3 (Test Intermediate 2)", "server certificate first"},
		{"foreign intermediate", pemOf(good.Cert, other.Cert), good.KeyPEM(t), nil, "tls.certFile", "certificate 1 (docs.example.org) is not signed by certificate 2 (Other Intermediate)", "server certificate first"},
		{"key in cert file", append(good.ChainPEM(), good.KeyPEM(t)...), good.KeyPEM(t), nil, "tls.certFile", "PEM block 3 is a private key", "the key goes in tls.keyFile"},
		{"no pem", []byte("hello\n"), good.KeyPEM(t), nil, "tls.certFile", "holds no PEM certificate", "BEGIN CERTIFICATE"},
		{"der", good.Cert.Raw, good.KeyPEM(t), nil, "tls.certFile", "holds no PEM certificate", "openssl x509 -inform der"},
		{"cert in key file", good.ChainPEM(), append(good.KeyPEM(t), certtest.CertPEM(good.Cert)...), nil, "tls.keyFile", "is a \"CERTIFICATE\" block", "certificates go in tls.certFile"},
		{"encrypted key", good.ChainPEM(), encrypted, nil, "tls.keyFile", "encrypted with a passphrase", "openssl pkey"},
		{"two keys", good.ChainPEM(), append(good.KeyPEM(t), stranger.KeyPEM(t)...), nil, "tls.keyFile", "more than one private key", "only the key"},
		{"client certificate", nil, nil, nil, "tls.certFile", "does not include serverAuth", "extendedKeyUsage = serverAuth"},
		{"no SAN", nil, nil, nil, "tls.certFile", "no DNS names", "Subject Alternative Name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := tc.cert, tc.key
			var leaf *certtest.Issued
			switch tc.name {
			case "expired":
				leaf = inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotBefore: now.Add(-100 * 24 * time.Hour), NotAfter: now.Add(-time.Hour)})
			case "not yet valid":
				leaf = inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(100 * 24 * time.Hour)})
			case "client certificate":
				leaf = inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			case "no SAN":
				leaf = inter.Issue(t, certtest.Leaf{})
			}
			if leaf != nil {
				cert, key = leaf.ChainPEM(), leaf.KeyPEM(t)
			}
			certFile, keyFile := certtest.WriteFiles(t, t.TempDir(), cert, key)
			c := providedConfig(t, certFile, keyFile, tc.extra...)
			err := c.Validate(catalog(t), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			p := c.CheckProvidedCert(now)
			if len(p.Problems) != 1 {
				t.Fatalf("want one problem, got:\n%s", problems(p))
			}
			f := p.Problems[0]
			if f.Path != tc.field || !strings.Contains(f.Problem, tc.want) || !strings.Contains(f.Fix, tc.fix) {
				t.Fatalf("got %v\nwant %s: ...%s... (fix: ...%s...)", f, tc.field, tc.want, tc.fix)
			}
			if !strings.Contains(err.Error(), f.Error()) {
				t.Fatalf("Validate does not report it: %v", err)
			}
			noKeyMaterial(t, key, p)
		})
	}
}

func TestProvidedCertExpiringSoonWarns(t *testing.T) {
	root := certtest.NewRoot(t, "Test Root")
	leaf := root.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotAfter: time.Now().Add(10*24*time.Hour + time.Hour)})
	certFile, keyFile := leaf.Write(t, t.TempDir())
	c := providedConfig(t, certFile, keyFile)
	if err := c.Validate(catalog(t), nil); err != nil {
		t.Fatalf("a certificate valid for 10 more days must not block: %v", err)
	}
	p := c.CheckProvidedCert(time.Now())
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "tls.certFile: the certificate expires on") ||
		!strings.Contains(p.Warnings[0], "in 10 days") || !strings.Contains(p.Warnings[0], "run install again") {
		t.Fatalf("warnings = %q", p.Warnings)
	}
	// 31 days left: nothing to say.
	if p := c.CheckProvidedCert(leaf.Cert.NotAfter.Add(-31 * 24 * time.Hour)); len(p.Warnings) != 0 {
		t.Fatalf("warned %q with 31 days left", p.Warnings)
	}
}

func TestProvidedCertWildcards(t *testing.T) {
	root := certtest.NewRoot(t, "Test Root")
	leaf := root.Issue(t, certtest.Leaf{Hosts: []string{"*.example.org"}})
	certFile, keyFile := leaf.Write(t, t.TempDir())
	if err := providedConfig(t, certFile, keyFile, "wiki.example.org").Validate(catalog(t), nil); err != nil {
		t.Fatalf("*.example.org covers docs.example.org and wiki.example.org: %v", err)
	}
	for _, extra := range []string{"example.org", "a.docs.example.org"} {
		err := providedConfig(t, certFile, keyFile, extra).Validate(catalog(t), nil)
		if err == nil || !strings.Contains(err.Error(), "does not cover "+extra) {
			t.Errorf("*.example.org must not cover %s: %v", extra, err)
		}
	}
}

func TestCoversHostFollowsRFC6125(t *testing.T) {
	for _, tc := range []struct {
		names []string
		host  string
		want  bool
	}{
		{[]string{"docs.example.org"}, "docs.example.org", true},
		{[]string{"DOCS.Example.org"}, "docs.example.org", true},
		{[]string{"docs.example.org."}, "docs.example.org", true},
		{[]string{"other.example.org"}, "docs.example.org", false},
		{[]string{"*.example.org"}, "docs.example.org", true},
		{[]string{"*.example.org"}, "example.org", false},
		{[]string{"*.example.org"}, "a.b.example.org", false},
		{[]string{"*.org"}, "example.org", false},
		{[]string{"d*.example.org"}, "docs.example.org", false},
		{[]string{"docs.*.org"}, "docs.example.org", false},
		{[]string{"*.*.org"}, "a.example.org", false},
		{[]string{"*.example.org"}, ".example.org", false},
		{[]string{"x.example.org", "*.example.org"}, "docs.example.org", true},
	} {
		if got := CoversHost(tc.names, tc.host); got != tc.want {
			t.Errorf("CoversHost(%q, %q) = %v, want %v", tc.names, tc.host, got, tc.want)
		}
	}
}

func TestProvidedKeyModeWarnsOnlyWhenOthersCanRead(t *testing.T) {
	leaf := certtest.NewRoot(t, "Test Root").Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	// Others must be able to walk down to the file: open the test's folders.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := leaf.Write(t, dir)
	c := providedConfig(t, certFile, keyFile)
	for _, tc := range []struct {
		file, dir os.FileMode
		warn      bool
	}{
		{0o600, 0o755, false},
		{0o640, 0o755, false}, // Debian's ssl-cert group
		{0o644, 0o755, true},
		{0o644, 0o710, false}, // others cannot reach it
	} {
		if err := os.Chmod(keyFile, tc.file); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.dir); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(catalog(t), nil); err != nil {
			t.Fatalf("key %04o in folder %04o refused: %v", tc.file, tc.dir, err)
		}
		p := c.CheckProvidedCert(time.Now())
		got := len(p.Warnings) == 1 && strings.Contains(p.Warnings[0], "chmod 600 "+keyFile)
		if got != tc.warn || (!tc.warn && len(p.Warnings) > 0) {
			t.Errorf("key %04o in folder %04o: warnings %q", tc.file, tc.dir, p.Warnings)
		}
	}
	_ = os.Chmod(dir, 0o700)
	_ = os.Chmod(filepath.Dir(dir), 0o700)
}

func TestProvidedKeyNeverPrinted(t *testing.T) {
	leaf := certtest.NewRoot(t, "Test Root").Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	certFile, keyFile := leaf.Write(t, t.TempDir())
	p := providedConfig(t, certFile, keyFile).CheckProvidedCert(time.Now())
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	var b bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		b.Reset()
		fmt.Fprintf(&b, verb, p)
		if strings.Contains(b.String(), "PRIVATE KEY") {
			t.Fatalf("%s of the checked certificate shows the key", verb)
		}
	}
	// A corrupted key: the parse error must not quote it.
	bad := bytes.Replace(leaf.KeyPEM(t), []byte("\n"), []byte("\nAAAA"), 3)
	if err := os.WriteFile(keyFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	p = providedConfig(t, certFile, keyFile).CheckProvidedCert(time.Now())
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "tls.keyFile: the PRIVATE KEY block does not parse") {
		t.Fatalf("got %v", p.Err())
	}
	noKeyMaterial(t, bad, p)
}
