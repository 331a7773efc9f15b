package nodes

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// boundVolume makes a PersistentVolume bound to claim, reachable from the nodes whose label key
// has one of values (k3s's local-path volumes: kubernetes.io/hostname, one value).
func boundVolume(t *testing.T, c kubernetes.Interface, name, claim, key string, values ...string) {
	t.Helper()
	ctx := context.Background()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/docs-appliance/volumes/" + name}},
		ClaimRef:               &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "docs", Name: claim},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}}}}}},
	}}
	created, err := c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.VolumeBound
	if _, err := c.CoreV1().PersistentVolumes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podOn(t *testing.T, c kubernetes.Interface, name, node, app, claim string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "docs", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if claim != "" {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
	if _, err := c.CoreV1().Pods("docs").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPinnedVolumesAreThoseOnlyOneNodeReaches(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	namespace(t, c, "docs")
	for _, n := range []string{"docs-1", "docs-2"} {
		k3sNode(t, c, n, true, true)
		if _, err := c.CoreV1().Nodes().Patch(ctx, n, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"topology.kubernetes.io/zone":"a"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	boundVolume(t, c, "pvc-pg", "pgdata-1", "kubernetes.io/hostname", "docs-2")
	boundVolume(t, c, "pvc-shared", "media", "topology.kubernetes.io/zone", "a") // both nodes reach it
	boundVolume(t, c, "pvc-other", "pgdata-2", "kubernetes.io/hostname", "docs-1")
	podOn(t, c, "pg-1", "docs-2", "pg", "pgdata-1")
	podOn(t, c, "media-0", "docs-2", "media", "media")

	got, err := PinnedTo(ctx, c, "docs-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].String() != "docs/pgdata-1 (used by docs/pg-1)" || got[0].Volume != "pvc-pg" {
		t.Errorf("pinned to docs-2: %v", got)
	}
}

// A rollout leaves running what its node's disk holds (a single-instance database, whose
// disruption budget allows no eviction and would hold the drain until it timed out) and evicts
// the rest.
func TestRolloutLeavesPodsOnTheirNodesDiskRunning(t *testing.T) {
	c := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	namespace(t, c, "docs")
	k3sNode(t, c, "docs-1", true, true)
	k3sNode(t, c, "worker-2", false, true)
	for _, n := range []string{"docs-1", "worker-2"} {
		setVersion(ctx, t, c, n, "v1.35.2+k3s1")
	}
	boundVolume(t, c, "pvc-pg", "pgdata-1", "kubernetes.io/hostname", "worker-2")
	podOn(t, c, "pg-1", "worker-2", "pg", "pgdata-1")
	podOn(t, c, "web-1", "worker-2", "web", "")
	one := intstr.FromInt32(1)
	if _, err := c.PolicyV1().PodDisruptionBudgets("docs").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "pg-primary"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pg"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go playKubeletAndEtcd(ctx, c, "worker-2")
	r := &Rollout{Kube: c, Version: "v1.36.1+k3s1", Local: "docs-1", Poll: 20 * time.Millisecond, ReadyTimeout: 10 * time.Second, DrainTimeout: 5 * time.Second,
		SwapLocal:  func(ctx context.Context) error { setVersion(ctx, t, c, "docs-1", "v1.36.1+k3s1"); return nil },
		SwapRemote: func(ctx context.Context, n Node) error { setVersion(ctx, t, c, n.Name, "v1.36.1+k3s1"); return nil }}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := c.CoreV1().Pods("docs").Get(ctx, "pg-1", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("the pod on worker-2's disk was evicted: %v", err)
	}
	if _, err := c.CoreV1().Pods("docs").Get(ctx, "web-1", metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("the pod that can run elsewhere stayed: %v", err)
	}
}

func namespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
