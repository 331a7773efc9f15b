package render

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// trickyValue is one secret value YAML can get wrong.
type trickyValue struct {
	name, value string
}

// trickyValues are the shapes real secret values take: certificates,
// whole configuration files (Alertmanager's), and text whose every
// character means something to YAML.
func trickyValues(t *testing.T) []trickyValue {
	t.Helper()
	big := strings.Builder{}
	for i := 0; big.Len() < maxSecretBytes; i++ {
		fmt.Fprintf(&big, "line %07d: --- # {x: [y]} é\n", i)
	}
	oneMiB := big.String()[:maxSecretBytes]
	return []trickyValue{
		{"pem", selfSignedPEM(t)},
		{"alertmanager", "global:\n  resolve_timeout: 5m\nroute:\n  receiver: \"null\"\n  group_by: [alertname]\nreceivers:\n  - name: \"null\"\n"},
		{"leading-spaces", "  indented first line\n    deeper\nflush\n"},
		{"document-markers", "---\nkey: value\n...\n---\n"},
		{"colon-space", "user: password"},
		{"hash", "# not a comment"},
		{"hash-after", "value # not a comment either"},
		{"unicode", "Zoë's 文書 🚀 naïve\n"},
		{"no-trailing-newline", "line one\nline two"},
		{"trailing-newlines", "kept\n\n\n"},
		{"newline-only", "\n"},
		{"empty", ""},
		{"trailing-spaces", "a line with trailing spaces   \n\ttabbed\t\n"},
		{"crlf", "windows\r\nline endings\r\n"},
		{"surrounding-spaces", "  padded  "},
		{"yaml-scalars", "true"},
		{"number", "0x1F"},
		{"null", "~"},
		{"quotes", `"double" and 'single' and \backslash`},
		{"binary", "\xff\xfe\x00\x01raw bytes\x80"},
		{"one-mib", oneMiB},
	}
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "docs.example.org"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"docs.example.org"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// trickySecrets renders one Secret per value and writes them, encrypted,
// as render does; it returns the folder and each value's file.
func trickySecrets(t *testing.T, values []trickyValue) (*fixture, string, map[string]string) {
	t.Helper()
	f := newFixture(t, "single-small")
	res := &Result{}
	files := map[string]string{}
	for _, v := range values {
		content, err := secretManifest(secretDef{Namespace: "docs", Name: "tricky-" + v.name,
			Labels: map[string]string{"app.kubernetes.io/part-of": "docs"}, Data: map[string]string{"value": v.value}})
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		p := "environments/production/secrets/docs/tricky-" + v.name + ".yaml"
		res.Files = append(res.Files, File{Path: p, Content: content, Secret: true})
		files[v.name] = p
	}
	dir := t.TempDir()
	if _, err := Write(dir, res, f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	return f, dir, files
}

// decodedValues reads a plain Secret's values as the API server would:
// data base64-decoded, stringData over it.
func decodedValues(t *testing.T, plain []byte) map[string]string {
	t.Helper()
	var s struct {
		Data       map[string][]byte `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(plain, &s); err != nil {
		t.Fatalf("the Secret is not valid YAML: %v\n%s", err, plain)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

func sameValue(t *testing.T, where, name, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	short := func(s string) string {
		if len(s) > 120 {
			return fmt.Sprintf("%q… (%d bytes)", s[:120], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	t.Errorf("%s: value %s came back as %s, want %s", where, name, short(got), short(want))
}

// TestSecretValuesRoundTrip: every tricky value, written as a plain
// Secret and encrypted by Write, decrypts (library) to the same bytes, and
// the Secret holds exactly its one key.
func TestSecretValuesRoundTrip(t *testing.T) {
	values := trickyValues(t)
	f, dir, files := trickySecrets(t, values)
	for _, v := range values {
		enc, err := os.ReadFile(filepath.Join(dir, files[v.name]))
		if err != nil {
			t.Fatal(err)
		}
		if v.value != "" && len(v.value) > 8 && bytes.Contains(enc, []byte(v.value)) {
			t.Errorf("%s: the encrypted file holds the value in the clear", v.name)
		}
		plain, err := secrets.Decrypt(enc, f.id)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		got := decodedValues(t, plain)
		if len(got) != 1 {
			t.Errorf("%s: the Secret has keys %v, want only value (a value's lines became keys)", v.name, keysOfStrings(got))
		}
		sameValue(t, "library decryption", v.name, got["value"], v.value)
	}
}

func keysOfStrings(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSecretValuesThroughSOPSCLI decrypts what Write encrypted with the
// real sops CLI, as kustomize-controller's SOPS decryption would.
func TestSecretValuesThroughSOPSCLI(t *testing.T) {
	bin := kit.SOPS(t)
	values := trickyValues(t)
	f, dir, files := trickySecrets(t, values)
	keyFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keyFile, secrets.KeyFileContent(f.id), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		cmd := exec.Command(bin, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", filepath.Join(dir, files[v.name]))
		cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+keyFile)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: sops --decrypt: %v\n%s", v.name, err, stderr.Bytes())
		}
		got := decodedValues(t, out)
		if len(got) != 1 {
			t.Errorf("%s: the CLI's Secret has keys %v", v.name, keysOfStrings(got))
		}
		sameValue(t, "sops CLI", v.name, got["value"], v.value)
	}
}

// TestSecretValuesServerSideDryRun sends every decrypted Secret to a real
// API server (dry-run create, strict field validation), as Flux applies
// it, and reads the value back from what the server would store.
func TestSecretValuesServerSideDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real API server (envtest kit)")
	}
	values := trickyValues(t)
	f, dir, files := trickySecrets(t, values)
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "docs"}}}
	if _, err := c.Apply(ctx, []*unstructured.Unstructured{ns}, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		enc, _ := os.ReadFile(filepath.Join(dir, files[v.name]))
		plain, err := secrets.Decrypt(enc, f.id)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := cluster.DecodeObjects(plain)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: decoding the decrypted Secret: %v (%d objects)", v.name, err, len(objs))
		}
		stored, err := c.Kube.CoreV1().Secrets("docs").Create(ctx, toSecret(t, objs[0]), metav1.CreateOptions{
			DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			t.Errorf("%s: the API server refuses the Secret: %v", v.name, err)
			continue
		}
		if len(stored.Data) != 1 {
			t.Errorf("%s: the API server stores keys %v", v.name, stored.Data)
		}
		sameValue(t, "API server", v.name, string(stored.Data["value"]), v.value)
	}
}

// TestOversizedSecretIsRefused: one byte over the API server's limit is
// refused at render, naming the Secret, before anything is written.
func TestOversizedSecretIsRefused(t *testing.T) {
	_, err := secretManifest(secretDef{Namespace: "monitoring", Name: "big", Data: map[string]string{
		"a": strings.Repeat("x", maxSecretBytes/2), "b": strings.Repeat("y", maxSecretBytes/2+1),
	}})
	if err == nil || !strings.Contains(err.Error(), "Secret monitoring/big") || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("want an error naming the Secret and the limit, got %v", err)
	}
}

// TestChartSecretWithMultiLineValues renders the fixture chart whose
// Secret holds an Alertmanager configuration (stringData) and a PEM
// certificate (data), in every combination: once encrypted and decrypted
// each holds exactly the chart's values.
func TestChartSecretWithMultiLineValues(t *testing.T) {
	chartValues, err := chartutil.ReadValuesFile("testdata/charts/operator/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range chartValues["config"].(map[string]any) {
		want[k] = v.(string)
	}
	if !strings.Contains(want["alertmanager.yaml"], "\n") || !strings.Contains(want["ca.crt"], "\n") {
		t.Fatal("the fixture chart's config values are not multi-line")
	}
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			dir := t.TempDir()
			if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
				t.Fatal(err)
			}
			enc, err := os.ReadFile(filepath.Join(dir, "environments/production/secrets/operator/operator-operator-config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := secrets.SecretValues(enc, f.id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("the chart's Secret has keys %v, want %d", keysOfStrings(got), len(want))
			}
			for k, w := range want {
				sameValue(t, "chart Secret", k, got[k], w)
			}
		})
	}
}

func toSecret(t *testing.T, u *unstructured.Unstructured) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	data, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}
