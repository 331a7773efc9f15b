package installer

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

// The hop's gates, images and k3s steps against a real API server (the e2e kit's envtest),
// with one node whose status says what it runs. k3s itself cannot run here: the host runner
// is a host.Recorder, and the test checks it was never asked to do anything.
func TestUpgradeStepsOnAnAPIServer(t *testing.T) {
	env := envtest.New(t)
	ctx := context.Background()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	node, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "server-1",
		Labels: map[string]string{"node-role.kubernetes.io/control-plane": "true"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := standinUpgrade(t, "2099.01")
	rec := &host.Recorder{}
	h := standinHops(t, u)[0]
	u.Kubeconfig, u.Runner = env.Kubeconfig, rec
	h.pending = running(h)
	h.r = h.newRun(ctx)
	defer h.r.close()

	// The stand-in trains are not locked: the first gate refuses, naming the fix, before the
	// cluster is asked anything.
	err = h.gates(ctx, status.Discard())
	var ns *NotStartedError
	if !errors.As(err, &ns) || ns.Gate != GateLocked || !strings.Contains(ns.Fix, "make lock") {
		t.Fatalf("gates: %v", err)
	}

	// The doctor gate on a cluster where nothing of the appliance runs fails; the checks the
	// operator ignores knowingly are reported and not counted.
	g := doctorGate(ctx, status.Discard(), h.doctor(), nil, nil)
	if g.Outcome != upgrade.Fail {
		t.Fatalf("doctor gate: %+v", g)
	}
	d := h.doctor()
	if err := d.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	failed := d.Report.IDs(doctor.Failed)
	if g := doctorGate(ctx, status.Discard(), h.doctor(), nil, failed); g.Outcome != upgrade.Pass || !strings.Contains(g.Message, "ignored (--ignore-check): "+strings.Join(failed, ", ")) {
		t.Errorf("doctor gate ignoring %v: %+v", failed, g)
	}
	if g := doctorGate(ctx, status.Discard(), h.doctor(), nil, failed[1:]); g.Outcome != upgrade.Fail || !strings.HasPrefix(g.Message, "1 check(s) fail: "+failed[0]) {
		t.Errorf("doctor gate ignoring all but %s: %+v", failed[0], g)
	}

	// upgrade --plan's doctor gate honours the same --ignore-check.
	plan := &UpgradePlan{StateDir: u.StateDir, TrainFiles: u.TrainFiles, ChartsDir: u.ChartsDir, Kubeconfig: env.Kubeconfig, Root: "/", IgnoreChecks: failed}
	if err := plan.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	for _, g := range plan.Plan.Gates {
		if g.ID == GateDoctor && (g.Outcome != upgrade.Pass || !strings.Contains(g.Message, "ignored (--ignore-check)")) {
			t.Errorf("the plan's doctor gate ignoring %v: %+v", failed, g)
		}
	}

	// Images: every one of train 2099.02's on the node but the stand-in's new image.
	setNode := func(version string, images ...string) {
		t.Helper()
		n, err := kube.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.NodeInfo.KubeletVersion = version
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
		n.Status.Images = nil
		for _, im := range images {
			n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{im}, SizeBytes: 1 << 20})
		}
		if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var refs []string
	for _, im := range h.to.Images {
		if im.Reference != "docs-appliance.test/standin:v2" {
			refs = append(refs, im.Reference)
		}
	}
	setNode("v1.35.2+k3s1", refs...)
	// The missing image's registry (docs-appliance.test) does not resolve: not pullable.
	if err := h.images(ctx, status.Discard()); err == nil || !strings.Contains(err.Error(), "docs-appliance.test/standin:v2") || !strings.Contains(err.Error(), "--bundle") {
		t.Fatalf("images with one missing: %v", err)
	}
	setNode("v1.35.2+k3s1", append(refs, "docs-appliance.test/standin:v2")...)
	if err := h.images(ctx, status.Discard()); err != nil {
		t.Fatalf("images all there: %v", err)
	}

	// k3s: a node two minors behind the hop's k3s is refused before the host is touched.
	setNode("v1.33.4+k3s1", refs...)
	err = h.k3s(ctx, status.Discard())
	var km *K3sMinorError
	if !errors.As(err, &km) || !strings.Contains(err.Error(), "node server-1") || !strings.Contains(err.Error(), "train 2099.02") {
		t.Fatalf("k3s two minors: %v", err)
	}
	if cmds := rec.Lines(); len(cmds) != 0 {
		t.Errorf("the refused k3s step ran %v", cmds)
	}
}
