package nodes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
)

// setVersion plays k3s coming back on a new version: the kubelet reports it.
func setVersion(ctx context.Context, t *testing.T, c kubernetes.Interface, name, version string) {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.NodeInfo.KubeletVersion = version
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRolloutGoesNodeByNodeServersFirstAndResumes(t *testing.T) {
	c := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const from, to = "v1.35.2+k3s1", "v1.36.1+k3s1"
	for _, n := range []struct {
		name   string
		server bool
	}{{"docs-1", true}, {"docs-2", true}, {"docs-3", true}, {"worker-4", false}, {"worker-5", false}} {
		k3sNode(t, c, n.name, n.server, true)
		setVersion(ctx, t, c, n.name, from)
	}
	// The operator cordoned worker-5 for their own reasons: it is rolled and left cordoned.
	if _, err := c.CoreV1().Nodes().Patch(ctx, "worker-5", "application/merge-patch+json", []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	go playKubeletAndEtcd(ctx, c, "docs-2")

	var order []string
	failOn := "docs-3"
	swap := func(ctx context.Context, name string) error {
		n, _ := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if !n.Spec.Unschedulable {
			t.Errorf("%s swapped while schedulable", name)
		}
		// One node at a time: every other node is schedulable again (worker-5 aside) and on a version.
		all, _ := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		for _, o := range all.Items {
			if o.Name != name && o.Name != "worker-5" && o.Spec.Unschedulable {
				t.Errorf("%s still cordoned while %s is swapped", o.Name, name)
			}
		}
		if name == failOn {
			return errors.New("the swap pod failed")
		}
		order = append(order, name)
		setVersion(ctx, t, c, name, to)
		return nil
	}
	r := &Rollout{Kube: c, Version: to, Local: "docs-2",
		SwapLocal:    func(ctx context.Context) error { return swap(ctx, "docs-2") },
		SwapRemote:   func(ctx context.Context, n Node) error { return swap(ctx, n.Name) },
		DrainTimeout: 10 * time.Second, ReadyTimeout: 10 * time.Second, Poll: 20 * time.Millisecond}

	err := r.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "rolling node docs-3") || !strings.Contains(err.Error(), "the swap pod failed") {
		t.Fatalf("a failed swap: %v", err)
	}
	n3, _ := c.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{})
	if !n3.Spec.Unschedulable || n3.Annotations[CordonAnnotation] != to {
		t.Errorf("the failed node: unschedulable %t, annotations %v; want cordoned and marked", n3.Spec.Unschedulable, n3.Annotations)
	}
	todo, err := r.Todo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range todo {
		names = append(names, n.Name)
	}
	if got := strings.Join(names, " "); got != "docs-3 worker-4 worker-5" {
		t.Errorf("left to do after docs-2, docs-1 and the failure: %s", got)
	}

	failOn = ""
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "docs-2 docs-1 docs-3 worker-4 worker-5" {
		t.Errorf("swapped in order %s, want this host, the other servers, then the agents", got)
	}
	all, _ := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	for _, n := range all.Items {
		if n.Status.NodeInfo.KubeletVersion != to || n.Annotations[CordonAnnotation] != "" || n.Spec.Unschedulable != (n.Name == "worker-5") {
			t.Errorf("%s after the rollout: %s, unschedulable %t, annotations %v", n.Name, n.Status.NodeInfo.KubeletVersion, n.Spec.Unschedulable, n.Annotations)
		}
	}
	if todo, _ := r.Todo(ctx); len(todo) != 0 {
		t.Errorf("a finished rollout has %d nodes to do", len(todo))
	}
	order = nil
	if err := r.Run(ctx); err != nil || len(order) != 0 {
		t.Errorf("a rerun of a finished rollout: %v, swapped %v", err, order)
	}
}

func TestRolloutRefusesAClusterWithANodeDown(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	k3sNode(t, c, "docs-1", true, true)
	k3sNode(t, c, "docs-2", true, false)
	called := false
	r := &Rollout{Kube: c, Version: "v1.36.1+k3s1", Local: "docs-1", Poll: time.Millisecond, ReadyTimeout: time.Second, DrainTimeout: time.Second,
		SwapLocal: func(context.Context) error { called = true; return nil }, SwapRemote: func(context.Context, Node) error { called = true; return nil }}
	err := r.Run(ctx)
	var nr *NotReadyError
	if !errors.As(err, &nr) || nr.Node != "docs-2" || called {
		t.Errorf("rollout with docs-2 down: %v (swap called %t)", err, called)
	}
	n1, _ := c.CoreV1().Nodes().Get(ctx, "docs-1", metav1.GetOptions{})
	if n1.Spec.Unschedulable {
		t.Error("a refused rollout cordoned a node")
	}
}

// The swap Job as the API server takes it, and RunSwap's reading of its outcome (the test plays
// the Job controller and the kubelet, which envtest does not run).
func TestSwapJobRunsPinnedToTheNodeAndReportsItsEnd(t *testing.T) {
	c := client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	img := &SwapImage{Ref: SwapImageRepository + ":v1.36.1-k3s1@sha256:" + strings.Repeat("ab", 32), K3sSHA256: strings.Repeat("cd", 32), Archive: "/var/lib/docs-appliance/k3s-swap.tar"}
	name := SwapJobName("docs-3", img)
	jobs := c.BatchV1().Jobs(SwapNamespace)
	finish := func(succeeded bool) {
		for ctx.Err() == nil {
			j, err := jobs.Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				envtest.EndJob(j, succeeded)
				if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err == nil {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	go finish(false)
	err := RunSwap(ctx, c, "docs-3", img, 20*time.Millisecond, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "the swap on node docs-3 failed") || !strings.Contains(err.Error(), "logs job/"+name) {
		t.Fatalf("a failed swap: %v", err)
	}
	j, err := jobs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := j.Spec.Template.Spec
	if p.NodeName != "docs-3" || !p.HostPID || p.Containers[0].Image != img.Ref || !*p.Containers[0].SecurityContext.Privileged ||
		p.Volumes[0].HostPath.Path != "/" || p.Tolerations[0].Operator != corev1.TolerationOpExists || *j.Spec.BackoffLimit != 0 ||
		strings.Join(p.Containers[0].Args, " ") != "node swap-k3s --host-root /host --binary /k3s --sha256 "+img.K3sSHA256 {
		t.Errorf("the swap Job's pod: %+v", p)
	}

	// A rerun replaces the failed Job (envtest has no garbage collector: the test removes the
	// finalizer foreground deletion waits on) and ends when the new one succeeds.
	go func() {
		for ctx.Err() == nil {
			if j, err := jobs.Get(ctx, name, metav1.GetOptions{}); err == nil && j.DeletionTimestamp != nil && len(j.Finalizers) > 0 {
				j.Finalizers = nil
				_, _ = jobs.Update(ctx, j, metav1.UpdateOptions{})
			} else if err == nil && j.DeletionTimestamp == nil && j.Status.Failed == 0 {
				finish(true)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := RunSwap(ctx, c, "docs-3", img, 20*time.Millisecond, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := RunSwap(ctx, c, "docs-3", img, 20*time.Millisecond, 10*time.Second); err != nil {
		t.Errorf("a rerun after the swap succeeded: %v", err)
	}

	// An image that does not come is named with the way out, not waited on for ten minutes.
	other := &SwapImage{Ref: img.Ref, K3sSHA256: img.K3sSHA256, Archive: img.Archive}
	pname := SwapJobName("docs-4", other)
	go func() {
		for ctx.Err() == nil {
			if _, err := jobs.Get(ctx, pname, metav1.GetOptions{}); err == nil {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pname + "-x", Namespace: SwapNamespace, Labels: map[string]string{"job-name": pname}},
					Spec: corev1.PodSpec{NodeName: "docs-4", Containers: []corev1.Container{{Name: "swap", Image: img.Ref}}}}
				created, err := c.CoreV1().Pods(SwapNamespace).Create(ctx, pod, metav1.CreateOptions{})
				if err != nil {
					return
				}
				created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "swap", Image: img.Ref,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}
				_, _ = c.CoreV1().Pods(SwapNamespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	err = RunSwap(ctx, c, "docs-4", other, 20*time.Millisecond, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "did not reach node docs-4") || !strings.Contains(err.Error(), "copy "+img.Archive+" to that node") {
		t.Errorf("an image that does not come: %v", err)
	}
}

func TestRolloutRefusesToStartAwayFromTheCluster(t *testing.T) {
	c := client(t)
	k3sNode(t, c, "docs-1", true, true)
	r := &Rollout{Kube: c, Version: "v1.36.1+k3s1", Local: "laptop", Poll: time.Millisecond, ReadyTimeout: time.Second, DrainTimeout: time.Second,
		SwapLocal: func(context.Context) error { return nil }, SwapRemote: func(context.Context, Node) error { t.Error("swapped"); return nil }}
	if err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `this host's node "laptop" is not in the cluster`) {
		t.Errorf("a rollout from a host that is not a node: %v", err)
	}
}
