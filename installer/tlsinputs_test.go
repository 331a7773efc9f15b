package installer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

const tlsSecretFile = "environments/production/secrets/edge/docs-tls.yaml"

func providedInputs(state, certFile, keyFile string, sets ...string) InputOptions {
	return InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state,
		Sets: append([]string{"tls.mode=provided", "tls.certFile=" + certFile, "tls.keyFile=" + keyFile}, sets...)}
}

// tlsWarnings are the warnings about the certificate (the example's
// embedded backup target draws one of its own).
func tlsWarnings(all []string) []string {
	var out []string
	for _, w := range all {
		if strings.HasPrefix(w, "tls.") {
			out = append(out, w)
		}
	}
	return out
}

// renderProvided runs what `docs-appliance render` runs: LoadInputs, then
// render.Render and render.Write into out.
func renderProvided(t *testing.T, opts InputOptions, out string) (*Render, string) {
	t.Helper()
	var log bytes.Buffer
	r := &Render{Inputs: opts, OutDir: out, AllowMissingCharts: true}
	if err := r.Run(context.Background(), status.New(&log, status.Plain)); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return r, log.String()
}

// renderedTLS decrypts the rendered certificate Secret.
func renderedTLS(t *testing.T, r *Render) map[string]string {
	t.Helper()
	enc, err := os.ReadFile(filepath.Join(r.OutDir, tlsSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := secrets.SecretValues(enc, r.In.Store.Identity())
	if err != nil {
		t.Fatalf("decrypting %s: %v", tlsSecretFile, err)
	}
	return v
}

// TestTLSProvidedFromConfigAloneAndRotation: tls.mode provided needs
// nothing but the config's two files; replacing them and rendering again
// rotates only the TLS Secret.
func TestTLSProvidedFromConfigAloneAndRotation(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	out := t.TempDir()
	files := t.TempDir()
	inter := certtest.NewRoot(t, "Test Root").Intermediate(t, "Test Intermediate")
	first := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	certFile, keyFile := first.Write(t, files)
	opts := providedInputs(state, certFile, keyFile)

	r, log := renderProvided(t, opts, out)
	if len(tlsWarnings(r.In.Warnings)) != 0 || strings.Contains(log, "tls.") {
		t.Fatalf("a good certificate drew warnings: %q\n%s", r.In.Warnings, log)
	}
	got := renderedTLS(t, r)
	if got["tls.crt"] != string(first.ChainPEM()) || got["tls.key"] != string(first.KeyPEM(t)) {
		t.Fatal("the rendered Secret does not hold the given chain and key")
	}
	if strings.Count(got["tls.crt"], "BEGIN CERTIFICATE") != 2 {
		t.Fatal("the intermediate was not kept")
	}
	// The store on disk keeps them (encrypted), so a later render without
	// the files' change reads the same.
	saved, err := secrets.OpenStoreReadOnly(state)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := saved.Get(config.SecretTLSCertificate); v != string(first.ChainPEM()) {
		t.Fatal("the certificate is not in the saved secret store")
	}
	raw, _ := os.ReadFile(filepath.Join(state, secrets.StoreFileName))
	if bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatal("the secret store holds the key in the clear")
	}

	// Same files again: nothing changes.
	if again, _ := renderProvided(t, opts, out); again.Report.Changed() {
		t.Fatalf("an unchanged certificate rewrote %v", again.Report.Written)
	}

	// A renewal written over the same paths, with a new (RSA) key.
	renewed := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, KeyType: certtest.RSA})
	renewed.Write(t, files)
	rot, _ := renderProvided(t, opts, out)
	if strings.Join(rot.Report.Written, ",") != tlsSecretFile || len(rot.Report.Removed) != 0 {
		t.Fatalf("the rotation wrote %v and removed %v, want only %s", rot.Report.Written, rot.Report.Removed, tlsSecretFile)
	}
	got = renderedTLS(t, rot)
	if got["tls.crt"] != string(renewed.ChainPEM()) || got["tls.key"] != string(renewed.KeyPEM(t)) {
		t.Fatal("the rotated Secret does not hold the new chain and key")
	}
}

// TestTLSProvidedRefusedBeforeAnythingIsWritten: a bad certificate stops
// LoadInputs with the field and the fix, and no state folder is made.
func TestTLSProvidedRefusedBeforeAnythingIsWritten(t *testing.T) {
	root := certtest.NewRoot(t, "Test Root")
	now := time.Now()
	good := root.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	for _, tc := range []struct {
		name  string
		leaf  *certtest.Issued
		key   *certtest.Issued // when the key is another certificate's
		sets  []string
		wants []string
	}{
		{"expired", root.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}), nil, nil,
			[]string{"tls.certFile: the certificate expired on", "renew it"}},
		{"wrong key", good, root.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}}), nil,
			[]string{"tls.keyFile: the private key is not the key of the certificate", "give the key the certificate was issued for"}},
		{"missing host", good, nil, []string{"extraDomains=docs.example.com"},
			[]string{"tls.certFile: the certificate does not cover docs.example.com", "extraDomains"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			keyOf := tc.leaf
			if tc.key != nil {
				keyOf = tc.key
			}
			certFile, keyFile := certtest.WriteFiles(t, t.TempDir(), tc.leaf.ChainPEM(), keyOf.KeyPEM(t))
			_, err := LoadInputs(providedInputs(state, certFile, keyFile, tc.sets...))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Fatal("a refused certificate created the state folder")
			}
		})
	}
}

// TestTLSProvidedExpiringSoonIsShown: 10 days left renders, and the run
// says so.
func TestTLSProvidedExpiringSoonIsShown(t *testing.T) {
	leaf := certtest.NewRoot(t, "Test Root").Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotAfter: time.Now().Add(10*24*time.Hour + time.Hour)})
	certFile, keyFile := leaf.Write(t, t.TempDir())
	r, log := renderProvided(t, providedInputs(filepath.Join(t.TempDir(), "state"), certFile, keyFile), t.TempDir())
	if len(tlsWarnings(r.In.Warnings)) != 1 || !strings.Contains(log, "tls.certFile: the certificate expires on") || !strings.Contains(log, "in 10 days") {
		t.Fatalf("warnings %q, log:\n%s", r.In.Warnings, log)
	}
	if strings.Contains(log, "PRIVATE KEY") {
		t.Fatal("the key was printed")
	}
}

// TestTLSProvidedDryRunRendersWithoutWriting: a read-only load (install
// --dry-run) holds the pair in memory and renders.
func TestTLSProvidedDryRunRendersWithoutWriting(t *testing.T) {
	leaf := certtest.NewRoot(t, "Test Root").Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}})
	certFile, keyFile := leaf.Write(t, t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	opts := providedInputs(state, certFile, keyFile)
	opts.ReadOnly = true
	in, err := LoadInputs(opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(context.Background(), render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store,
		Recipients: in.Recipients(), AllowMissingCharts: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range res.Files {
		found = found || (f.Path == tlsSecretFile && f.Secret)
	}
	if !found {
		t.Fatal("no certificate Secret rendered")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("the dry run created the state folder")
	}
}
