//go:build e2e

package ha

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
)

// rollNodes runs upgrade's rollout (nodes.Rollout) over the three nodes while the prober asks
// the app's Service every 100 ms: each node marked, cordoned and drained (the app's
// PodDisruptionBudget holds the next eviction until the last node's replica is back), its
// kubelet restarted as systemd restarts k3s (the e2e's stand-in for the k3s swap: k3s cannot run
// here), Ready, uncordoned. Reported: how long each node took and what the users saw.
func (e *haEnv) rollNodes(ctx context.Context, t *testing.T) {
	n1, err := e.c.Kube.CoreV1().Nodes().Get(ctx, testNode.NodeName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	version := n1.Status.NodeInfo.KubeletVersion
	stopProber := startProber(ctx, t, "http://"+e.serviceIP(ctx, t)+"/")
	begin := time.Now()
	time.Sleep(3 * time.Second)
	var swapped []string
	last := time.Now()
	swap := func(ctx context.Context, name string) error {
		swapped = append(swapped, name)
		return testNode.RestartKubelet(ctx, name)
	}
	r := &nodes.Rollout{Kube: e.c.Kube, Version: version, Local: testNode.NodeName(), Always: true,
		SwapLocal:    func(ctx context.Context) error { return swap(ctx, testNode.NodeName()) },
		SwapRemote:   func(ctx context.Context, n nodes.Node) error { return swap(ctx, n.Name) },
		DrainTimeout: 5 * time.Minute, ReadyTimeout: 3 * time.Minute, Poll: time.Second,
		Say: func(format string, args ...any) {
			t.Logf("+%5.1fs (%4.1fs since the last line) "+format, append([]any{time.Since(begin).Seconds(), time.Since(last).Seconds()}, args...)...)
			last = time.Now()
		}}
	start := time.Now()
	err = r.Run(ctx)
	took := time.Since(start)
	e.waitSpread(ctx, t)
	time.Sleep(3 * time.Second)
	end := time.Now()
	probes := stopProber()
	if err != nil {
		t.Fatalf("the rollout: %v", err)
	}
	if len(swapped) != len(testNode.NodeNames()) || swapped[0] != testNode.NodeName() {
		t.Errorf("swapped %v, want every node, this one first", swapped)
	}
	all, err := e.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range all.Items {
		if n.Spec.Unschedulable || n.Annotations[nodes.CordonAnnotation] != "" {
			t.Errorf("node %s after the rollout: unschedulable %t, annotations %v", n.Name, n.Spec.Unschedulable, n.Annotations)
		}
	}
	o := Measure(probes, begin, end)
	t.Logf("rollout of %d nodes: %s (%.1fs a node); users: %d requests, %d failed (%.2f%%), longest gap %s (from +%.1fs)",
		len(swapped), took.Round(100*time.Millisecond), took.Seconds()/float64(max(1, len(swapped))), o.Sent, o.Failed, 100*o.FailedFraction(),
		o.LongestGap.Round(time.Millisecond), o.GapFrom.Sub(begin).Seconds())
	for _, p := range probes {
		if !p.OK {
			t.Logf("failed at +%.1fs: %s", p.Start.Sub(begin).Seconds(), p.Why)
		}
	}
	// A planned rollout drains by eviction, one replica at a time, and each replica stops only
	// after its endpoint is gone (preStop): two replicas serve throughout. The longest gap is what a
	// user notices and has a hard bar; failed requests are logged above and bounded: without the
	// preStop 3% failed (10 of 330); with a 5 s one none, and once 1% (5 of 464, timeouts while
	// the install e2e ran beside it and kube-proxy synced late), which is why render's is 10 s.
	if o.FailedFraction() > 0.02 {
		t.Errorf("%d of %d requests failed during the rollout", o.Failed, o.Sent)
	}
	if o.LongestGap > 2*time.Second {
		t.Errorf("the app did not answer for %s during the rollout (from +%.1fs)", o.LongestGap, o.GapFrom.Sub(begin).Seconds())
	}
	e.checkAnswers(ctx, t)
}

// swapPodOnARealNode runs the rollout's swap Job for real on node 3: the swap image built from a
// stand-in k3s (a static program; the real one cannot be had here) and the binary under test,
// imported into that node's containerd (the e2e cluster has no embedded registry mirror), run
// by a real kubelet privileged with the host's / mounted. This machine's / has no k3s unit of
// the appliance's, so docs-appliance node swap-k3s refuses before it writes anything, and the
// refusal must come back through the Job to the rollout's error.
func (e *haEnv) swapPodOnARealNode(ctx context.Context, t *testing.T) {
	dir := t.TempDir()
	fakeK3s := filepath.Join(dir, "k3s")
	kit.StaticProgram(t, "package main\n\nfunc main() { println(\"stand-in k3s\") }\n", fakeK3s)
	img, err := nodes.BuildSwapImage(fakeK3s, e.app.Bin, "v1.37.2+k3s1", filepath.Join(dir, "k3s-swap.tar"))
	if err != nil {
		t.Fatal(err)
	}
	target := testNode.Workers[len(testNode.Workers)-1]
	if err := target.ImportImages(ctx, img.Archive); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat("/usr/local/bin/k3s")
	start := time.Now()
	err = nodes.RunSwap(ctx, e.c.Kube, target.Name, img, time.Second, 3*time.Minute)
	t.Logf("swap Job on %s ended in %s: %v", target.Name, time.Since(start).Round(100*time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "not installed by docs-appliance") {
		t.Fatalf("the swap pod on a host without the appliance's k3s: %v, want its refusal", err)
	}
	if after, _ := os.Stat("/usr/local/bin/k3s"); (before == nil) != (after == nil) {
		t.Errorf("the refused swap changed /usr/local/bin/k3s")
	}
	j, err := e.c.Kube.BatchV1().Jobs(nodes.SwapNamespace).Get(ctx, nodes.SwapJobName(target.Name, img), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.c.Kube.BatchV1().Jobs(nodes.SwapNamespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})

	// node remove's leave pod, the same way: it refuses before it writes or hands anything to
	// systemd, and the node stays Ready.
	leave, err := nodes.BuildLeaveImage(e.app.Bin, filepath.Join(dir, "leave.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := target.ImportImages(ctx, leave.Archive); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = nodes.Leave(ctx, e.c.Kube, target.Name, leave, time.Second, 3*time.Minute)
	t.Logf("leave Job on %s ended in %s: %v", target.Name, time.Since(start).Round(100*time.Millisecond), err)
	var je *nodes.HostJobError
	if !errors.As(err, &je) || !strings.Contains(je.Why, "not installed by docs-appliance") {
		t.Fatalf("the leave pod on a host without the appliance's k3s: %v, want its refusal", err)
	}
	if _, err := os.Stat(k3s.LeaveBinary); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused leave wrote %s: %v", k3s.LeaveBinary, err)
	}
	if n, err := e.c.Kube.CoreV1().Nodes().Get(ctx, target.Name, metav1.GetOptions{}); err != nil || !nodeReady(n) {
		t.Errorf("%s after a refused leave: %v", target.Name, err)
	}
	_ = e.c.Kube.BatchV1().Jobs(nodes.HostJobNamespace).Delete(ctx, nodes.LeaveJobName(target.Name, leave), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
}
