package installer

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// An install on a server that runs embedded etcd gives k3s's snapshots the config's backup
// target: written when missing, left alone when current, rewritten when the keys rotate; and
// nothing at all on a server still on SQLite. The API server is real (envtest); the host's
// files are real files under a test root.
func TestInstallKeepsTheEtcdSnapshotTargetCurrent(t *testing.T) {
	h := newServerHost(t)
	c, err := cluster.NewFromKubeconfig(h.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	store, err := secrets.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	setSecret := func(name, v string) {
		f := filepath.Join(t.TempDir(), "v")
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := store.SetFromFile(name, f); err != nil {
			t.Fatal(err)
		}
	}
	setSecret("backup.accessKeyID", "AK-one")
	setSecret("backup.secretAccessKey", "SK-one")
	cfg := &config.Config{Backup: config.Backup{Mode: config.External, Endpoint: "https://s3.example.org", Region: "eu-west-3", Bucket: "backups", Prefix: "docs/"}}
	r := &run{i: &Install{Root: h.tr.Root}, in: &Inputs{Config: cfg, Store: store}, c: c}
	step := r.etcdTargetStep()
	ctx := context.Background()

	h.tr.Write(k3s.SQLitePath, "sqlite")
	if why, err := step.Check(ctx); err != nil || why == "" {
		t.Fatalf("a server on SQLite has nothing to do: %q %v", why, err)
	}

	h.tr.Mkdir(path.Join(k3s.EtcdDataDir, "member"))
	apply := func(want string) {
		t.Helper()
		if why, err := step.Check(ctx); err != nil || why != "" {
			t.Fatalf("the target is not current, yet the check says %q (%v)", why, err)
		}
		if err := step.Run(ctx, status.Discard()); err != nil {
			t.Fatal(err)
		}
		if why, err := step.Check(ctx); err != nil || why == "" {
			t.Fatalf("after the run the check still finds work: %v", err)
		}
		s, err := h.kube.CoreV1().Secrets("kube-system").Get(ctx, k3s.EtcdS3SecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range s.Data {
			found = found || string(v) == want
		}
		if !found {
			t.Errorf("the Secret does not hold the access key %q: keys %v", want, keysOfBytes(s.Data))
		}
	}
	apply("AK-one")
	setSecret("backup.accessKeyID", "AK-two")
	apply("AK-two")
}

func keysOfBytes(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
