package installer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// removalPlan is the step IDs of r's dry run.
func removalPlan(t *testing.T, r *NodeRemove) string {
	t.Helper()
	r.DryRun = true
	if err := r.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range r.Result.Plan {
		ids = append(ids, p.ID)
	}
	return strings.Join(ids, ",")
}

// leaveJobs plays the Job controller and the kubelet for the leave Jobs of node (envtest runs
// neither): each Job ends as ok says; after a success the node's kubelet stops (NotReady), as
// the host's reset stops it. It returns the Jobs it saw, in order.
func leaveJobs(h *serverHost, node string, ok func() bool) func() []*batchv1.Job {
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan *batchv1.Job, 8)
	go func() {
		jobs := h.kube.BatchV1().Jobs(nodes.HostJobNamespace)
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			l, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=leave"})
			if err != nil {
				continue
			}
			for i := range l.Items {
				j := &l.Items[i]
				if j.Spec.Template.Spec.NodeName != node || j.Status.StartTime != nil {
					continue
				}
				seen <- j.DeepCopy()
				envtest.EndJob(j, ok())
				if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
					continue
				}
				if ok() {
					time.Sleep(100 * time.Millisecond) // the kubelet goes a moment after the hand-over
					if n, err := h.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil {
						n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
							LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
						_, _ = h.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
					}
				}
			}
		}
	}()
	return func() []*batchv1.Job {
		cancel()
		var out []*batchv1.Job
		for {
			select {
			case j := <-seen:
				out = append(out, j)
			default:
				return out
			}
		}
	}
}

func TestNodeRemoveResetsAReadyNodesHostBeforeItsNodeGoes(t *testing.T) {
	h := newServerHost(t)
	for i, name := range []string{"docs-1", "docs-2", "docs-3"} {
		h.node(t, name, etcdLabels(), true, "10.0.0."+string(rune('1'+i)))
	}
	h.node(t, "docs-4", nil, true, "10.0.0.4")
	self := filepath.Join(t.TempDir(), "docs-appliance")
	kit.StaticProgram(t, "package main\n\nfunc main() { println(\"docs-appliance\") }\n", self)
	ctx := context.Background()
	rec := &host.Recorder{}
	remove := func() *NodeRemove {
		r := NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-4")
		r.Poll, r.Within, r.DrainTimeout = 20*time.Millisecond, 10*time.Second, 10*time.Second
		r.Runner, r.ApplianceBinary = rec, self
		return r
	}

	if ids := removalPlan(t, remove()); ids != "node-drain,node-leave,node-delete" {
		t.Errorf("plan of an agent's removal: %v", ids)
	}

	// The leave fails (the pod says why, e.g. a k3s not the appliance's): the Node stays, cordoned,
	// and the error says the ways out.
	succeed := false
	stop := leaveJobs(h, "docs-4", func() bool { return succeed })
	err := remove().Run(ctx, status.Discard())
	var je *nodes.HostJobError
	if !errors.As(err, &je) || je.Node != "docs-4" || !strings.Contains(err.Error(), "--keep-host") {
		t.Fatalf("a failed leave: %v", err)
	}
	n, err := h.kube.CoreV1().Nodes().Get(ctx, "docs-4", metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Fatalf("after a failed leave docs-4 must stay, cordoned: %v", err)
	}
	if got := strings.Join(rec.Lines(), "\n"); got != "k3s ctr -n k8s.io images import "+nodeStateDir+"/leave.tar" {
		t.Errorf("ran %q, want the leave image's import", got)
	}
	if fi, err := h.tr.Root.Lstat(nodeStateDir + "/leave.tar"); err != nil || fi.Size() == 0 {
		t.Errorf("the leave image's archive: %v", err)
	}

	// Run again: the failed Job is replaced (envtest has no garbage collector: deleting it is
	// immediate here, as it is with no pods left), it succeeds, the kubelet goes, then the Node.
	succeed = true
	go finishLeaveJobDeletions(ctx, h)
	r := remove()
	if err := r.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	jobs := stop()
	if len(jobs) != 2 {
		t.Fatalf("saw %d leave Jobs, want the failed one and its replacement", len(jobs))
	}
	p := jobs[1].Spec.Template.Spec
	if p.NodeName != "docs-4" || !p.HostPID || !*p.Containers[0].SecurityContext.Privileged || p.Volumes[0].HostPath.Path != "/" ||
		strings.Join(p.Containers[0].Args, " ") != "node leave --host-root /host" || !strings.HasPrefix(p.Containers[0].Image, nodes.LeaveImageRepository+":") {
		t.Errorf("the leave Job's pod: %+v", p)
	}
	if _, err := h.kube.CoreV1().Nodes().Get(ctx, "docs-4", metav1.GetOptions{}); err == nil {
		t.Error("docs-4 is still a node")
	}
	if !strings.Contains(r.Result.Next, "journalctl -u docs-appliance-leave") || strings.Contains(r.Result.Next, "as root: docs-appliance reset") {
		t.Errorf("next, after its host was reset: %q", r.Result.Next)
	}

	// --keep-host: the host is left alone, and the operator is told to reset it.
	h.node(t, "docs-5", nil, true, "10.0.0.5")
	rec.Reset()
	r = NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-5")
	r.Poll, r.Within, r.DrainTimeout, r.Runner, r.KeepHost = 20*time.Millisecond, 10*time.Second, 10*time.Second, rec, true
	if err := r.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	if len(rec.Lines()) != 0 || !strings.Contains(r.Result.Next, "as root: docs-appliance reset") {
		t.Errorf("--keep-host ran %v; next %q", rec.Lines(), r.Result.Next)
	}
}

// finishLeaveJobDeletions lets foreground deletions of leave Jobs finish for 10 s (envtest runs
// no garbage collector).
func finishLeaveJobDeletions(ctx context.Context, h *serverHost) {
	jobs := h.kube.BatchV1().Jobs(nodes.HostJobNamespace)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		l, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=leave"})
		if err != nil {
			continue
		}
		for _, j := range l.Items {
			if j.DeletionTimestamp != nil && len(j.Finalizers) > 0 {
				j.Finalizers = nil
				_, _ = jobs.Update(ctx, &j, metav1.UpdateOptions{})
			}
		}
	}
}

func TestAnEtcdMembersHostStopsFirstOnlyWhileTheRestKeepQuorum(t *testing.T) {
	server := func(name string, ready bool) nodes.Node {
		return nodes.Node{Name: name, Roles: []string{"server", "etcd"}, Ready: ready}
	}
	agent := nodes.Node{Name: "a", Roles: []string{"agent"}, Ready: true}
	for _, c := range []struct {
		name   string
		list   []nodes.Node
		target int
		unsafe bool
	}{
		{"an agent", []nodes.Node{server("s1", true), agent}, 1, false},
		{"3 → 2, all Ready: 2 of 3 keep quorum", []nodes.Node{server("s1", true), server("s2", true), server("s3", true)}, 2, false},
		{"2 → 1 (forced): 1 of 2 has none", []nodes.Node{server("s1", true), server("s2", true)}, 1, true},
		{"a lost member of 3: the other 2 keep quorum", []nodes.Node{server("s1", true), server("s2", true), server("s3", false)}, 2, false},
		{"5 with one lost, a Ready one going: 3 of 5 keep quorum", []nodes.Node{server("s1", true), server("s2", true), server("s3", true), server("s4", true), server("s5", false)}, 0, false},
		{"4 with one lost, a Ready one going: 2 of 4 have none", []nodes.Node{server("s1", true), server("s2", true), server("s3", true), server("s4", false)}, 0, true},
	} {
		why := leaveFirstUnsafe(c.list, c.list[c.target])
		if (why != "") != c.unsafe {
			t.Errorf("%s: %q", c.name, why)
		}
	}
}

func TestNodeRemoveRefusesANodeWhoseDiskAloneHoldsVolumes(t *testing.T) {
	h := newServerHost(t)
	h.node(t, "docs-1", etcdLabels(), true, "10.0.0.1")
	h.node(t, "docs-2", map[string]string{"kubernetes.io/hostname": "docs-2"}, true, "10.0.0.2")
	ctx := context.Background()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-0a1b"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/docs-appliance/volumes/pvc-0a1b"}},
		ClaimRef:               &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "docs", Name: "postgres-1"},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"docs-2"}}}}}}},
	}}
	created, err := h.kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.VolumeBound
	if _, err := h.kube.CoreV1().PersistentVolumes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		r := NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-2")
		r.DryRun, r.Runner = dry, &host.Recorder{}
		var pe *PinnedVolumesError
		err := r.Run(ctx, status.Discard())
		if !errors.As(err, &pe) || len(pe.Volumes) != 1 || !strings.Contains(err.Error(), "docs/postgres-1") || !strings.Contains(err.Error(), "--abandon-volumes") {
			t.Errorf("dry run %t: %v", dry, err)
		}
	}
	if n, _ := h.kube.CoreV1().Nodes().Get(ctx, "docs-2", metav1.GetOptions{}); n.Spec.Unschedulable {
		t.Error("a refused removal cordoned the node")
	}
	r := NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-2")
	r.DryRun, r.AbandonVolumes = true, true
	if err := r.Run(ctx, status.Discard()); err != nil {
		t.Errorf("--abandon-volumes: %v", err)
	}
}
