//go:build e2e

package cnpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/installer/doctor"
)

var applianceBackupsGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}

// checkImmediateBackup waits for the Backup the ScheduledBackup made at once, and finds its base
// backup in the store.
func (a *Appliance) checkImmediateBackup(ctx context.Context, t *testing.T) {
	t.Helper()
	start := time.Now()
	var name string
	err := applianceWait(ctx, 5*time.Minute, "the ScheduledBackup's first Backup", func(ctx context.Context) (bool, error) {
		list, err := a.Env.Client.Dynamic.Resource(applianceBackupsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, b := range list.Items {
			for _, o := range b.GetOwnerReferences() {
				if o.Kind == "ScheduledBackup" && o.Name == "postgres-daily" {
					name = b.GetName()
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.CNPG.WaitBackup(ctx, ns, name, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := unstructured.NestedString(b.Object, "status", "backupId")
	method, _, _ := unstructured.NestedString(b.Object, "status", "method")
	prefix := a.Target.DatabasePrefix + liveServerName + "/base/" + id + "/"
	objects, size, err := a.S3.Size(ctx, a.Target.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" || objects == 0 {
		t.Fatalf("backup %s (id %q) completed, but s3://%s/%s holds nothing", name, id, a.Target.Bucket, prefix)
	}
	started, _, _ := unstructured.NestedString(b.Object, "status", "startedAt")
	stopped, _, _ := unstructured.NestedString(b.Object, "status", "stoppedAt")
	t.Logf("backup %s (method %s, id %s, %s to %s) found completed after %s: %d objects, %d KiB at s3://%s/%s",
		name, method, id, started, stopped, time.Since(start).Round(time.Second), objects, size>>10, a.Target.Bucket, prefix)
}

// Docs-shaped data: the tables the restore check reads (and as many as a Docs schema has), rows
// in each, written into the docs database as Docs' migrations and use would.
var applianceDocsSeed = map[string]int{"impress_user": 3, "impress_document": 12, "django_migrations": 41}

func (a *Appliance) seedDocsSchema(ctx context.Context, t *testing.T) {
	t.Helper()
	sql := `create table if not exists django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
create table if not exists django_content_type (id serial primary key, app_label varchar(100) not null, model varchar(100) not null);
create table if not exists django_session (session_key varchar(40) primary key, session_data text not null, expire_date timestamptz not null);
create table if not exists auth_permission (id serial primary key, name varchar(255) not null, content_type_id int not null, codename varchar(100) not null);
create table if not exists auth_group (id serial primary key, name varchar(150) not null unique);
create table if not exists impress_user (id uuid primary key, sub varchar(255) unique, email varchar(254), full_name varchar(100), is_active boolean not null default true, created_at timestamptz not null default now());
create table if not exists impress_document (id uuid primary key, title varchar(255), path varchar(7000) not null, depth int not null, creator_id uuid references impress_user(id), created_at timestamptz not null default now());
create table if not exists impress_documentaccess (id uuid primary key, document_id uuid references impress_document(id), user_id uuid references impress_user(id), role varchar(20) not null);
create table if not exists impress_invitation (id uuid primary key, email varchar(254), document_id uuid references impress_document(id), role varchar(20) not null);
create table if not exists impress_template (id uuid primary key, title varchar(255) not null, code text not null);
create table if not exists impress_linktrace (id uuid primary key, document_id uuid references impress_document(id), user_id uuid references impress_user(id));
create table if not exists impress_documentfavorite (id uuid primary key, document_id uuid references impress_document(id), user_id uuid references impress_user(id));
insert into django_migrations (app, name, applied) select 'core', format('%04s_migration', g), now() from generate_series(1, ` + strconv.Itoa(applianceDocsSeed["django_migrations"]) + `) g;
insert into impress_user (id, sub, email, full_name) select gen_random_uuid(), 'sub-' || g, 'user' || g || '@e2e.test', 'User ' || g from generate_series(1, ` + strconv.Itoa(applianceDocsSeed["impress_user"]) + `) g;
insert into impress_document (id, title, path, depth, creator_id) select gen_random_uuid(), 'Document ' || g, lpad(g::text, 7, '0'), 1, (select id from impress_user order by sub limit 1) from generate_series(1, ` + strconv.Itoa(applianceDocsSeed["impress_document"]) + `) g;
`
	if _, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", sql); err != nil {
		t.Fatal(err)
	}
	// The check recovers to the end of the archive: ship the seed's WAL there first.
	segment, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", "select pg_walfile_name(pg_switch_wal())")
	if err != nil {
		t.Fatal(err)
	}
	err = applianceWait(ctx, 5*time.Minute, "WAL segment "+segment+" archived", func(ctx context.Context) (bool, error) {
		last, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		return err == nil && last >= segment, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runRestoreCheck runs the restore check as its schedule would: a Job from the CronJob's
// template (kubectl create job --from=cronjob/restore-check), waits for it, and reads the result
// it recorded.
func (a *Appliance) runRestoreCheck(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	kube := a.Env.Client.Kube
	cron, err := kube.BatchV1().CronJobs(ns).Get(ctx, restoreCheckName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-e2e-%d", restoreCheckName, time.Now().Unix()), Namespace: ns,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
			Labels:      cron.Spec.JobTemplate.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID,
				Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Spec: cron.Spec.JobTemplate.Spec,
	}
	start := time.Now()
	if job, err = kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var done *batchv1.Job
	err = applianceWait(ctx, 20*time.Minute, "restore-check job "+job.Name, func(ctx context.Context) (bool, error) {
		j, err := kube.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		done = j
		return j.Status.Succeeded > 0 || j.Status.Failed > 0, nil
	})
	took := time.Since(start)
	logs := a.jobLogs(ctx, job.Name)
	if err != nil {
		t.Fatalf("%v; the check's log:\n%s", err, logs)
	}
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, applianceRestoreResult, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the restore check recorded no result (%v); its log:\n%s", err, logs)
	}
	res := cm.Data
	t.Logf("restore check ran %s; result %s", took.Round(time.Second), restoreResultText(res))
	if done.Status.Succeeded == 0 || res["status"] != "passed" {
		t.Fatalf("the restore check did not pass: %s: %s\nits log:\n%s", res["status"], res["message"], logs)
	}
	if res["startedAt"] == "" || res["finishedAt"] == "" || res["backup"] == "" {
		t.Errorf("the result lacks when it ran or which backup it used: %v", res)
	}
	// The recovered database holds the seeded rows (the keys the check records them under).
	for key, want := range map[string]int{"users": applianceDocsSeed["impress_user"], "documents": applianceDocsSeed["impress_document"], "migrations": applianceDocsSeed["django_migrations"]} {
		if v, ok := res[key]; ok && v != strconv.Itoa(want) {
			t.Errorf("the restore check read %s=%s, the live database has %d", key, v, want)
		}
	}
	// The throwaway cluster is gone: it never lingers, nor archives into the real backups.
	if _, err := a.CNPG.PSQL(ctx, ns, restoreCheckName+"-1", "docs", "select 1"); err == nil {
		t.Error("the throwaway cluster is still running after the check")
	}
	if n, _, err := a.S3.Size(ctx, a.Target.Bucket, a.Target.DatabasePrefix+restoreCheckName+"/"); err != nil || n > 0 {
		t.Errorf("the throwaway cluster wrote %d objects into the backups (%v)", n, err)
	}
	made, perr := a.Provisioner.Made()
	t.Logf("volumes provisioned so far: %d (last error: %v)", made, perr)
	return res
}

func restoreResultText(res map[string]string) string {
	var parts []string
	for _, k := range []string{"status", "message", "backup", "backupStoppedAt", "startedAt", "finishedAt", "rtoSeconds", "recoveredTo", "rpoSeconds", "tables", "migrations", "users", "documents"} {
		if v, ok := res[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// jobLogs are the logs of the job's pods (the check's own account of what it did).
func (a *Appliance) jobLogs(ctx context.Context, job string) string {
	pods, err := a.Env.Client.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		out, err := a.Env.Client.Kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p.Name, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s", p.Name, outputTail(string(out), 40))
	}
	return b.String()
}

// checkDoctor runs the real doctor's platform group on the node, where an operator would.
func (a *Appliance) checkDoctor(ctx context.Context, t *testing.T) {
	t.Helper()
	rep := a.Doctor(ctx, t, "--group", "platform")
	for _, id := range []string{"platform-database", "platform-backup-age", "platform-restore-check"} {
		res, ok := rep.Get(id)
		switch {
		case !ok:
			t.Errorf("doctor did not run %s", id)
		case res.Outcome != doctor.Passed:
			t.Errorf("%s: %s: %s (fix: %s)", id, res.Outcome, res.Detail, res.Fix)
		default:
			t.Logf("%s: %s", id, res.Detail)
		}
	}
}

// Doctor runs doctor with -o json and returns its report (exit codes 0, 2 and 3 are findings).
func (a *Appliance) Doctor(ctx context.Context, t *testing.T, extra ...string) *doctor.Report {
	t.Helper()
	cmd := a.Command(ctx, append([]string{"doctor", "--kubeconfig", a.Kubeconfig, "--train-file", a.Train, "-o", "json"}, extra...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() == 1) {
		t.Fatalf("doctor could not run: %v\n%s\n%s", err, out, stderr.String())
	}
	rep := &doctor.Report{}
	if err := json.Unmarshal(out, rep); err != nil {
		t.Fatalf("doctor's stdout is not one JSON report: %v\n%s\n%s", err, out, stderr.String())
	}
	return rep
}
