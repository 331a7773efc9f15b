package supportbundle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// newState makes a state folder with a secret store holding values.
func newState(t *testing.T, values map[string]string) (string, *secrets.Store) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	s, err := secrets.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		s.Set(k, v)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// With the cluster unreachable the bundle is still written, 0600, and says
// what is missing; the host's facts and the config are in, redacted.
func TestBundleWithoutTheCluster(t *testing.T) {
	s3 := randomValue(t, 40)
	token := "K10" + strings.Repeat("0f", 32) + "::server:" + randomValue(t, 32)
	dir, store := newState(t, map[string]string{"s3.secretKey": s3})
	config := "apiVersion: docs-appliance/v1\nkind: Appliance\ndomain: docs.example.test\n# pasted by mistake: " + s3 + "\n"
	if err := os.WriteFile(filepath.Join(dir, configFile), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := hosttest.Healthy(t, "node-1").Write("/var/lib/rancher/k3s/server/token", token+"\n")
	rec := &host.Recorder{}
	rec.Reply([]string{"systemctl", "is-active", "k3s.service"}, "active\n", 0)
	rec.Reply([]string{"journalctl", "-u", "k3s.service"}, "Dec 02 k3s[1]: starting with --token "+token+"\nDec 02 k3s[1]: Running kube-apiserver\n", 0)

	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	err := Collect(context.Background(), Options{
		Path: out, DoctorJSON: []byte(`{"results":[{"id":"host.disk","detail":"ok"}]}`), StateDir: dir,
		KubeErr: errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"),
		Host:    &Host{Root: tree.Root, Runner: rec, DataDir: "/var/lib/rancher/k3s", VolumesDir: "/var/lib/docs-appliance/volumes", Service: "k3s.service"},
		Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("bundle mode %04o, want 0600", info.Mode().Perm())
	}
	files := unpack(t, out)
	assertNoneLeaks(t, files, map[string]string{"s3.secretKey": s3, "k3s token": token, "age key": store.Identity().String()})
	m := manifestOf(t, files)
	if !slices.Contains(failedWhat(m), "the cluster") || !strings.Contains(string(files[ManifestFile]), "connection refused") {
		t.Fatalf("the manifest does not say the cluster was unreachable: %v", m.Failed)
	}
	for _, want := range []string{"doctor.json", "config/appliance.yaml", "node/host.json", "node/k3s.journal.log", ManifestFile} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s is missing from the bundle", want)
		}
	}
	if got := string(files["config/appliance.yaml"]); !strings.Contains(got, "domain: docs.example.test") || !strings.Contains(got, "[redacted: secret-store s3.secretKey]") {
		t.Errorf("config/appliance.yaml lost its context or its marker: %q", got)
	}
	if got := string(files["node/k3s.journal.log"]); !strings.Contains(got, "Running kube-apiserver") || !strings.Contains(got, "--token [redacted: k3s") {
		t.Errorf("the journal lost its context or its marker: %q", got)
	}
	for _, want := range []string{`"hostname": "node-1"`, `"MemTotal": 16694882304`, `"kernel": "6.1.0-26-amd64"`, `"k3sService": "k3s.service: active"`, `"inodes"`} {
		if !strings.Contains(string(files["node/host.json"]), want) {
			t.Errorf("node/host.json lacks %s", want)
		}
	}
	for name := range files {
		if strings.Contains(name, secrets.KeyFileName) || strings.Contains(name, secrets.StoreFileName) {
			t.Errorf("the bundle holds %s", name)
		}
	}
	if m.Redaction.Markers["secret-store s3.secretKey"] == 0 {
		t.Errorf("the manifest counts no marker for the value: %v", m.Redaction.Markers)
	}
}

// A store that cannot be opened stops the bundle (its values could leak),
// unless the caller accepts a bundle without them.
func TestUnreadableSecretStoreStopsTheBundle(t *testing.T) {
	dir, _ := newState(t, map[string]string{"s3.secretKey": randomValue(t, 40)})
	if err := os.Chmod(filepath.Join(dir, secrets.KeyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	err := Collect(context.Background(), Options{Path: out, StateDir: dir, KubeErr: errors.New("no cluster")})
	if !errors.Is(err, ErrSecretStore) {
		t.Fatalf("Collect = %v, want ErrSecretStore", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused bundle was written anyway: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Fatalf("a temporary file was left behind: %v", entries)
	}
	if err := Collect(context.Background(), Options{Path: out, StateDir: dir, KubeErr: errors.New("no cluster"), WithoutSecretStore: true}); err != nil {
		t.Fatal(err)
	}
	if m := manifestOf(t, unpack(t, out)); !strings.HasPrefix(m.Redaction.SecretStore, "not read") {
		t.Fatalf("the manifest does not say the store was not read: %q", m.Redaction.SecretStore)
	}
}
