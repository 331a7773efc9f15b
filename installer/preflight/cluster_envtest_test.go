package preflight

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
)

// Against a real API server (Kubernetes 1.37 from the e2e kit): the version comes from real
// discovery and the images from node status as the API stores it. No kubelet runs in envtest,
// so the test writes the node's status the way a kubelet would.
func TestClusterChecksAgainstARealAPIServer(t *testing.T) {
	env := envtest.New(t)
	ctx := context.Background()

	// The embedded train stops at 1.36: a 1.37 cluster is refused, through the kubeconfig path
	// `docs-appliance preflight --kubeconfig` takes.
	rep, err := Request{Kubeconfig: env.Kubeconfig, Train: "2026.11"}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rep.Get("cluster-version"); r.Outcome != Failed || !strings.Contains(r.Detail, "is outside the range of train 2026.11 (1.33 to 1.36)") {
		t.Errorf("version: %s %q", r.Outcome, r.Detail)
	}
	if r, _ := rep.Get("cluster-nodes"); r.Outcome != Failed || r.Detail != "the cluster has no nodes" {
		t.Errorf("nodes: %s %q", r.Outcome, r.Detail)
	}

	client, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "docs-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"docker.io/lasuite/impress-backend@" + digestA, "docker.io/lasuite/impress-backend:v5.4.1"}, SizeBytes: 1 << 20}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	train := &bundles.Train{Name: "2026.11", Kubernetes: bundles.KubernetesRange{MinVersion: "1.33", MaxVersion: "1.37"}, Images: []bundles.Image{
		{Reference: "docker.io/lasuite/impress-backend:v5.4.1", Digest: digestA},
		{Reference: "docker.io/lasuite/impress-frontend:v5.4.1", Digest: digestB},
	}}
	rep, err = CheckCluster(ctx, ClusterOptions{Client: client, Train: train, Airgapped: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rep.Get("cluster-version"); r.Outcome != Passed {
		t.Errorf("version: %s %q", r.Outcome, r.Detail)
	}
	if r, _ := rep.Get("cluster-nodes"); r.Outcome != Passed || r.Detail != "1 Ready: docs-1" {
		t.Errorf("nodes: %s %q", r.Outcome, r.Detail)
	}
	r, _ := rep.Get("cluster-images")
	if r.Outcome != Failed || r.Detail != "1 of 2 images missing:\n- docker.io/lasuite/impress-frontend:v5.4.1@"+digestB+" (on no node; air-gapped, so it cannot be pulled)" {
		t.Errorf("images: %s %q", r.Outcome, r.Detail)
	}
}
