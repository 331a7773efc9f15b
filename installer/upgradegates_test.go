package installer

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

// The backup gate reads the restore check's ConfigMap from a real API server (the e2e kit's
// envtest), as the restore check's script writes it.
func TestBackupGateReadsTheRestoreCheck(t *testing.T) {
	env := envtest.New(t)
	ctx := context.Background()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if g := backupGate(readRestoreCheck(ctx, kube)); g.Outcome != upgrade.Warn || !strings.Contains(g.Message, "no restore check") {
		t.Errorf("no result yet: %+v", g)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: render.DatabaseNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: render.RestoreCheckResult, Namespace: render.DatabaseNamespace}, Data: map[string]string{
		"status": "passed", "message": "restored 42 rows", "backup": "postgres-daily-20261202020000",
		"backupStoppedAt": "2026-12-02T02:03:00Z", "startedAt": "2026-12-02T03:00:00Z", "finishedAt": "2026-12-02T03:10:00Z",
	}}
	if cm, err = kube.CoreV1().ConfigMaps(render.DatabaseNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	g := backupGate(readRestoreCheck(ctx, kube))
	if g.Outcome != upgrade.Pass || !strings.Contains(g.Message, "restore check passed 2h50m0s ago, of backup postgres-daily-20261202020000 taken 3h57m0s ago") {
		t.Errorf("passed: %+v", g)
	}
	cm.Data["status"], cm.Data["message"] = "failed", "the recovered cluster never became ready"
	if cm, err = kube.CoreV1().ConfigMaps(render.DatabaseNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := backupGate(readRestoreCheck(ctx, kube)); g.Outcome != upgrade.Fail || !strings.Contains(g.Message, "never became ready") || g.Fix == "" {
		t.Errorf("failed: %+v", g)
	}
	now = func() time.Time { return fixed.Add(48 * time.Hour) }
	cm.Data["status"] = "passed"
	if cm, err = kube.CoreV1().ConfigMaps(render.DatabaseNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := backupGate(readRestoreCheck(ctx, kube)); g.Outcome != upgrade.Warn || !strings.Contains(g.Message, "older than a day") {
		t.Errorf("old: %+v", g)
	}

	// The whole plan against the reachable cluster: doctor runs (read-only) and fails on a
	// cluster where nothing of the appliance runs; the backup gate reads the ConfigMap.
	files := standinTrainFiles(t)
	u := &UpgradePlan{StateDir: installedOn(t, "2099.01"), TrainFiles: files, ChartsDir: packageStandins(t, files),
		Kubeconfig: env.Kubeconfig, Root: "/"}
	start := time.Now()
	if err := u.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	t.Logf("plan with a reachable cluster: %s", time.Since(start).Round(time.Millisecond))
	gates := map[string]upgrade.Gate{}
	for _, g := range u.Plan.Gates {
		gates[g.ID] = g
	}
	if g := gates[GateDoctor]; g.Outcome != upgrade.Fail || !strings.Contains(g.Message, "check(s) fail") {
		t.Errorf("doctor gate on an empty cluster: %+v", g)
	}
	if g := gates[GateBackup]; g.Outcome != upgrade.Warn {
		t.Errorf("backup gate: %+v", g)
	}
	if g := gates[GateDisk]; g.Outcome != upgrade.NotChecked || !strings.Contains(g.Message, "nodes are not this host") {
		t.Errorf("disk gate on an existing cluster: %+v", g)
	}
}
