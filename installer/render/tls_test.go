package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

const providedTLSFile = "environments/production/secrets/edge/docs-tls.yaml"

// TestProvidedTLSSecretRoundTripsAndRotatesAlone renders tls.mode provided
// with a real chain and key in the store, writes the repository, decrypts
// the Secret and compares, then renews the certificate: only the TLS
// Secret's file changes.
func TestProvidedTLSSecretRoundTripsAndRotatesAlone(t *testing.T) {
	f := comboFixture(t, combos[2])
	inter := certtest.NewRoot(t, "Test Root").Intermediate(t, "Test Intermediate")
	store := f.opts.Secrets.(fixedSecrets)
	put := func(l *certtest.Issued) {
		store[config.SecretTLSCertificate] = string(l.ChainPEM())
		store[config.SecretTLSPrivateKey] = string(l.KeyPEM(t))
	}
	check := func(dir string, l *certtest.Issued) {
		t.Helper()
		enc, err := os.ReadFile(filepath.Join(dir, providedTLSFile))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(enc), "BEGIN CERTIFICATE") || strings.Contains(string(enc), "PRIVATE KEY") {
			t.Fatal("the certificate Secret is not encrypted")
		}
		got, err := secrets.SecretValues(enc, f.id)
		if err != nil {
			t.Fatal(err)
		}
		if got["tls.crt"] != string(l.ChainPEM()) || got["tls.key"] != string(l.KeyPEM(t)) || len(got) != 2 {
			t.Fatalf("decrypted Secret differs from the store (%d keys)", len(got))
		}
	}
	hosts := f.opts.Config.Hosts()
	first := inter.Issue(t, certtest.Leaf{Hosts: hosts})
	put(first)
	dir := t.TempDir()
	if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	check(dir, first)

	// A renewal: a new certificate and key, everything else the same.
	renewed := inter.Issue(t, certtest.Leaf{Hosts: hosts, KeyType: certtest.RSA})
	put(renewed)
	rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Written, ",") != providedTLSFile || len(rep.Removed) != 0 {
		t.Fatalf("the rotation wrote %v and removed %v, want only %s", rep.Written, rep.Removed, providedTLSFile)
	}
	check(dir, renewed)
	if rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil || rep.Changed() {
		t.Fatalf("an unchanged certificate rewrote %v (%v)", rep.Written, err)
	}
}

// TestTLSCertificateCoversEveryServedHost: the provided certificate is
// checked against config.Hosts(), and cert-manager's certificates are
// issued for it, so every host name a rendered object serves must be one
// of them. A route on a new derived name (grafana.DOMAIN, say) fails here
// until the certificate check knows it.
func TestTLSCertificateCoversEveryServedHost(t *testing.T) {
	for _, c := range combos {
		t.Run(c.name, func(t *testing.T) {
			f := comboFixture(t, c)
			hosts := f.opts.Config.Hosts()
			_, objs := renderedObjects(t, f.render(t))
			var served int
			for _, o := range objs {
				var names []string
				switch o.GetKind() {
				case "HTTPRoute", "GRPCRoute", "TLSRoute":
					names, _, _ = unstructured.NestedStringSlice(o.Object, "spec", "hostnames")
				case "Gateway":
					ls, _, _ := unstructured.NestedSlice(o.Object, "spec", "listeners")
					for _, l := range ls {
						if h, ok := l.(map[string]any)["hostname"].(string); ok {
							names = append(names, h)
						}
					}
				case "Certificate":
					if ca, _, _ := unstructured.NestedBool(o.Object, "spec", "isCA"); !ca {
						names, _, _ = unstructured.NestedStringSlice(o.Object, "spec", "dnsNames")
					}
				}
				for _, n := range names {
					served++
					if !config.CoversHost(hosts, n) {
						t.Errorf("%s %s/%s serves %s, which is not in config.Hosts() %v", o.GetKind(), o.GetNamespace(), o.GetName(), n, hosts)
					}
				}
			}
			if served == 0 {
				t.Fatal("no served host name found: the test looks at the wrong fields")
			}
		})
	}
}
