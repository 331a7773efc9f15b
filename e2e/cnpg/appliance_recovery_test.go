//go:build e2e

package cnpg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
)

// The day-2 round trip on the real operator, through the binary's own commands: backup now,
// more rows, restore-check now, a backup cut short, and a disaster recovery onto a fresh
// appliance that reads every row back.

// Rows of the Docs-shaped data: written before `backup now`, and after it (those come back from
// the archived WAL only).
const usersBefore, documentsBefore, usersAfter, documentsAfter = 200, 5000, 20, 1000

// mediaKey is an object of the media bucket that the backup copies and the recovery brings back.
const mediaKey = "documents/e2e/attachment.txt"

// runJSON runs the binary with args and -o json, decoding stdout into v; it returns the exit code
// (0 when it succeeded) and stderr.
func (a *Appliance) runJSON(ctx context.Context, t *testing.T, v any, args ...string) (int, string) {
	t.Helper()
	cmd := a.Command(ctx, append(args, "-o", "json")...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", args[0], err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s: stdout is not one JSON document (%v):\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return code, stderr.String()
}

func (a *Appliance) count(ctx context.Context, t *testing.T, pod, table string) int {
	t.Helper()
	out, err := a.CNPG.PSQL(ctx, ns, pod, "docs", "select count(*) from "+table)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("counting %s: %q", table, out)
	}
	return n
}

// backupNow takes a set with the binary and checks it against the target.
func (a *Appliance) backupNow(ctx context.Context, t *testing.T) *backup.Manifest {
	t.Helper()
	if _, err := a.S3.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(applianceMediaBucket), Key: aws.String(mediaKey),
		Body: strings.NewReader("an attachment of a Docs document\n"), ContentType: aws.String("text/plain")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var res installer.BackupNowResult
	if code, stderr := a.runJSON(ctx, t, &res, "backup", "now", "--kubeconfig", a.Kubeconfig, "--train-file", a.Train); code != 0 || res.Manifest == nil {
		t.Fatalf("backup now exited %d:\n%s", code, stderr)
	}
	took := time.Since(start)
	m := res.Manifest
	for _, name := range backup.Parts {
		p := m.Part(name)
		if p == nil || !p.Verified {
			t.Errorf("set %s: part %s missing or not verified: %+v", m.ID, name, p)
		}
	}
	db := m.Part(backup.PartDatabase).Database
	if db == nil || db.ServerName != liveServerName {
		t.Fatalf("set %s names no base backup of archive %s: %+v", m.ID, liveServerName, db)
	}
	if mp := m.Part(backup.PartMedia); mp.Objects != 1 {
		t.Errorf("the media part holds %d objects, want the one in the bucket", mp.Objects)
	}
	var list backup.Listing
	if code, stderr := a.runJSON(ctx, t, &list, "backup", "list", "--kubeconfig", a.Kubeconfig, "--train-file", a.Train); code != 0 || list.NewestConsistent != m.ID {
		t.Errorf("backup list (exit %d) names %q the newest consistent set, want %s:\n%s", code, list.NewestConsistent, m.ID, stderr)
	}
	size, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", "select pg_size_pretty(pg_database_size('docs'))")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup now: set %s in %s, %d KiB in all (database %d KiB of a %s docs database: base backup %s, WAL %s..%s)",
		m.ID, took.Round(time.Second), m.Bytes()>>10, m.Part(backup.PartDatabase).Bytes>>10, size, db.BackupID, db.BeginWal, db.EndWal)
	return m
}

// writeAfterBackup adds rows the set's base backup does not hold.
func (a *Appliance) writeAfterBackup(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", fmt.Sprintf(`insert into impress_user (email) select 'late' || g || '@example.org' from generate_series(1, %d) g;
insert into impress_document (title) select 'late ' || g from generate_series(1, %d) g;`, usersAfter, documentsAfter)); err != nil {
		t.Fatal(err)
	}
}

// restoreCheckNow runs `restore-check now` and returns its exit code and result.
func (a *Appliance) restoreCheckNow(ctx context.Context, t *testing.T) (int, *restorecheck.Result, string) {
	t.Helper()
	var rep installer.RestoreCheckReport
	code, stderr := a.runJSON(ctx, t, &rep, "restore-check", "now", "--kubeconfig", a.Kubeconfig, "--timeout", "15m")
	return code, rep.Result, stderr
}

func (a *Appliance) checkRestoreCheckPasses(ctx context.Context, t *testing.T) {
	t.Helper()
	code, res, stderr := a.restoreCheckNow(ctx, t)
	if code != 0 || res == nil || res.Status != restorecheck.Passed {
		t.Fatalf("restore-check now exited %d (%+v):\n%s", code, res, stderr)
	}
	for key, want := range map[string]int64{"users": usersBefore + usersAfter, "documents": documentsBefore + documentsAfter} {
		if res.Counts[key] != want {
			t.Errorf("the restore check read %s=%d, want %d (the rows after the backup come from the WAL)", key, res.Counts[key], want)
		}
	}
	if res.RTO <= 0 || res.RPO < 0 || res.RecoveredTo.Before(res.HeartbeatAt) {
		t.Errorf("RTO %s, RPO %s, recovered to %s (heartbeat %s)", res.RTO, res.RPO, res.RecoveredTo, res.HeartbeatAt)
	}
	t.Logf("restore check passed: RTO %s, RPO %s, recovered to %s: %s", res.RTO, res.RPO, res.RecoveredTo.Format(time.RFC3339), res.Message)
}

// checkBrokenBackup cuts the set's base backup short in the store (versitygw keeps objects as
// files), sees restore-check now fail with barman's reason, and puts the bytes back.
func (a *Appliance) checkBrokenBackup(ctx context.Context, t *testing.T, m *backup.Manifest) {
	t.Helper()
	db := m.Part(backup.PartDatabase).Database
	dir := filepath.Join(a.S3.Root, a.Target.Bucket, a.Target.DatabasePrefix+db.ServerName, "base", db.BackupID)
	data := filepath.Join(dir, "data.tar.gz")
	whole, err := os.ReadFile(data)
	if err != nil {
		t.Fatalf("the base backup's data is not where barman-cloud puts it: %v", err)
	}
	if err := os.Truncate(data, int64(len(whole)/2)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.WriteFile(data, whole, 0o644); err != nil {
			t.Errorf("putting the base backup back: %v", err)
		}
	}()
	code, res, stderr := a.restoreCheckNow(ctx, t)
	if code != 3 || res == nil || res.Status != restorecheck.Failed {
		t.Fatalf("restore-check now of a truncated backup exited %d (%+v), want 3 and a failed result:\n%s", code, res, stderr)
	}
	if !strings.Contains(res.Message, "barman-cloud-restore") {
		t.Errorf("the failure does not carry barman-cloud-restore's reason: %s", res.Message)
	}
	t.Logf("the truncated backup's check failed: %s", outputTail(res.Message, 4))
}

// disaster takes the appliance away as the loss of its server would: every namespace the
// appliance made (its database and volumes with it), Flux, the git server, the state folder. The
// backup target and the media bucket are elsewhere and stay, except the media object, which the
// recovery must bring back. It returns a copy of the age key (its offline copy).
func (a *Appliance) disaster(ctx context.Context, t *testing.T) string {
	t.Helper()
	kube, dyn := a.Env.Client.Kube, a.Env.Client.Dynamic
	key, err := os.ReadFile(filepath.Join(a.State, "age.key"))
	if err != nil {
		t.Fatal(err)
	}
	offline := filepath.Join(t.TempDir(), "age-key-offline-copy")
	if err := os.WriteFile(offline, key, 0o600); err != nil {
		t.Fatal(err)
	}
	// Flux first: its controllers stopped (a running one puts back the finalizers cleared next),
	// then its objects without their finalizers (nothing is left to prune once the namespaces go).
	deps, err := kube.AppsV1().Deployments(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		if err := kube.AppsV1().Deployments(gitops.FluxNamespace).Delete(ctx, d.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if err := applianceWait(ctx, 2*time.Minute, "Flux's controllers stopped", func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, res := range []schema.GroupVersionResource{gitops.KustomizationGVR, gitops.GitRepositoryGVR} {
		list, err := dyn.Resource(res).Namespace(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			o.SetFinalizers(nil)
			if _, err := dyn.Resource(res).Namespace(gitops.FluxNamespace).Update(ctx, &o, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("clearing %s %s's finalizers: %v", res.Resource, o.GetName(), err)
			}
		}
	}
	nss, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: render.ManagedByLabel + "=" + render.ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	// The database first, while the operator still runs. The operator's namespace stays: on this
	// node the operator is cnpgkit's, outside the train (a new server gets it from the train's
	// chart with the rest of the operators layer).
	names := []string{ns}
	for _, n := range nss.Items {
		if n.Name != ns && n.Name != cnpgkit.Namespace {
			names = append(names, n.Name)
		}
	}
	names = append(names, gitops.FluxNamespace)
	for _, name := range names {
		if err := kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if err := applianceWait(ctx, 5*time.Minute, "namespace "+name+" gone", func(ctx context.Context) (bool, error) {
			_, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	a.Env.NewGitVolume(ctx, t)
	if _, err := a.S3.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(applianceMediaBucket), Key: aws.String(mediaKey)}); err != nil {
		t.Fatal(err)
	}
	a.State = filepath.Join(t.TempDir(), "new-server-state")
	return offline
}

// recover runs restore --from on the fresh appliance and reads the rows back.
func (a *Appliance) recover(ctx context.Context, t *testing.T, m *backup.Manifest, ageKey string, live map[string]int) {
	t.Helper()
	args := []string{"restore", "--from", a.Target.URL(), "--endpoint", a.S3.Endpoint,
		"--age-key", ageKey, "--kubeconfig", a.Kubeconfig, "--train-file", a.Train, "--charts", a.Charts, "--timeout", "20m",
		"--secret", "backup.accessKeyID=" + a.Secrets["backup.accessKeyID"], "--secret", "backup.secretAccessKey=" + a.Secrets["backup.secretAccessKey"]}
	start := time.Now()
	var res installer.RestoreResult
	code, stderr := a.runJSON(ctx, t, &res, args...)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("restore --from exited %d after %s:\n%s", code, took.Round(time.Second), outputTail(stderr, 40))
	}
	if res.Set != m.ID || res.RecoveredFrom != liveServerName || res.ServerName == liveServerName || !strings.HasPrefix(res.Repository, "pushed") {
		t.Errorf("restore: set %s from archive %s, archiving as %s, repository %q; want set %s from %s under a new name, the history pushed",
			res.Set, res.RecoveredFrom, res.ServerName, res.Repository, m.ID, liveServerName)
	}
	if err := a.CNPG.WaitCluster(ctx, ns, "postgres", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	for table, want := range live {
		if got := a.count(ctx, t, "postgres-1", table); got != want {
			t.Errorf("the recovered %s has %d rows, the lost appliance had %d", table, got, want)
		}
	}
	obj, err := a.S3.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(applianceMediaBucket), Key: aws.String(mediaKey)})
	if err != nil {
		t.Fatalf("the media object did not come back: %v", err)
	}
	defer obj.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(obj.Body)
	if body.String() != "an attachment of a Docs document\n" || aws.ToString(obj.ContentType) != "text/plain" {
		t.Errorf("the media object came back as %q (%s)", body.String(), aws.ToString(obj.ContentType))
	}
	t.Logf("restore --from: set %s recovered in %s (archive %s → %s; repository %s; media %d copied back)",
		res.Set, took.Round(time.Second), res.RecoveredFrom, res.ServerName, res.Repository, res.MediaCopied)

	// A second run over the restored appliance is refused: restore never runs over a live one.
	var again installer.RestoreResult
	if code, stderr := a.runJSON(ctx, t, &again, args...); code == 0 || !strings.Contains(stderr, "fresh server") {
		t.Errorf("a restore over the restored appliance exited %d:\n%s", code, outputTail(stderr, 10))
	}
}
