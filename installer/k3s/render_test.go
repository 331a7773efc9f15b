package k3s

import (
	"github.com/suitenumerique/docs-appliance/installer/golden"

	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

func renderOptions() Options {
	return Options{
		Train:       testTrain("https://x.invalid/k3s", "https://x.invalid/images"),
		Domains:     []string{"docs.example.org", "collab.example.org"},
		ClusterCIDR: DefaultClusterCIDR, ServiceCIDR: DefaultServiceCIDR,
		StateDir: stateDir,
	}
}

func TestConfigYAMLGolden(t *testing.T) {
	online, err := ConfigYAML(renderOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "config-online.yaml", online)

	o := renderOptions()
	o.Airgapped, o.ClusterInit = true, true
	o.ClusterCIDR, o.ServiceCIDR = "172.30.0.0/16", "172.31.0.0/16"
	airgapped, err := ConfigYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "config-airgapped-ha.yaml", airgapped)

	// What k3s reads: each key is one of its flags, with the value the issue asks for.
	var m map[string]any
	if err := yaml.Unmarshal(airgapped, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"write-kubeconfig-mode": "0600", "embedded-registry": true, "disable-default-registry-endpoint": true,
		"secrets-encryption": true, "cluster-init": true, "cluster-cidr": "172.30.0.0/16",
		// The volumes live in the state folder, which a reset keeps, not under DataDir, which it removes.
		"default-local-storage-path": "/var/lib/docs-appliance/volumes",
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if d := m["disable"].([]any); len(d) != 1 || d[0] != "traefik" {
		t.Errorf("disable = %v", d)
	}
	if bytes.Contains(online, []byte("disable-default-registry-endpoint")) {
		t.Error("an online site keeps the upstream registries as fallback")
	}
	if v := m["default-local-storage-path"].(string); strings.HasPrefix(v, DataDir+"/") {
		t.Errorf("the volumes are under k3s's data folder, which reset removes: %s", v)
	}

	o.StateDir = "relative/state"
	if _, err := ConfigYAML(o); err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Errorf("a relative state folder: %v", err)
	}
}

func TestRegistriesYAMLGolden(t *testing.T) {
	reg, err := RegistriesYAML(renderOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "registries.yaml", reg)
	if got := strings.Join(RegistryHosts(renderOptions()), ","); got != "*,docker.io,ghcr.io,quay.io" {
		t.Errorf("hosts %s", got)
	}
}

func TestUnitFileGolden(t *testing.T) {
	golden.Check(t, "k3s.service", UnitFile())
}

func TestWaitReadyNamesWhatIsNotReady(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "docs-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "container runtime network not ready"},
		}}},
		deployment("coredns", 0), deployment("local-path-provisioner", 1),
	)
	err := WaitReady(context.Background(), client, "docs-1", 5*time.Millisecond, 50*time.Millisecond)
	for _, want := range []string{
		"node docs-1 is not Ready (KubeletNotReady: container runtime network not ready)",
		"deployment kube-system/coredns has 0/1 replicas available",
		"deployment kube-system/metrics-server does not exist yet",
		"journalctl -u k3s",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "local-path-provisioner") {
		t.Errorf("a ready deployment is blamed: %v", err)
	}
	if err := WaitReady(context.Background(), readyCluster("docs-1"), "docs-1", 5*time.Millisecond, 50*time.Millisecond); err != nil {
		t.Errorf("a ready cluster: %v", err)
	}
}

func TestFindKubeconfigWithoutKUBECONFIG(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	r := host.Root(t.TempDir())
	if _, err := FindKubeconfig(r, stateDir); err == nil || !strings.Contains(err.Error(), "install has not run on this host (pass --kubeconfig") {
		t.Errorf("no kubeconfig: %v", err)
	}
	if _, err := r.WriteFile(KubeconfigPath, []byte("k3s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := FindKubeconfig(r, stateDir); err != nil || got != r.Path(KubeconfigPath) {
		t.Errorf("k3s's: %q %v", got, err)
	}
	if _, err := KeepKubeconfig(r, stateDir, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if got, err := FindKubeconfig(r, stateDir); err != nil || got != r.Path(StateKubeconfig(stateDir)) {
		t.Errorf("the state copy comes first: %q %v", got, err)
	}
	if st, _ := os.Stat(r.Path(StateKubeconfig(stateDir))); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}
