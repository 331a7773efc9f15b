//go:build e2e

package cnpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// seedDocsSchema writes Docs-shaped data into the docs database: Docs v5.4.1's tables (the ones
// the restore check requires), its migrations recorded, users, documents and their accesses, then
// ships the WAL to the archive.
func (a *Appliance) seedDocsSchema(ctx context.Context, t *testing.T) {
	t.Helper()
	sql := fmt.Sprintf(`create table django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
create table impress_user (id uuid primary key default gen_random_uuid(), email varchar(254), created_at timestamptz default now());
create table impress_document (id uuid primary key default gen_random_uuid(), title varchar(255), created_at timestamptz default now());
create table impress_document_access (id uuid primary key default gen_random_uuid(), document_id uuid references impress_document, user_id uuid references impress_user, role varchar(20));
create table impress_invitation (id uuid primary key);
create table impress_link_trace (id uuid primary key);
create table impress_document_favorite (id uuid primary key);
create table impress_document_ask_for_access (id uuid primary key);
create table impress_thread (id uuid primary key);
create table impress_comment (id uuid primary key);
insert into django_migrations (app, name, applied) select 'core', lpad(g::text, 4, '0') || '_migration', now() - interval '1 day' from generate_series(1, 32) g;
insert into impress_user (email) select 'user' || g || '@example.org' from generate_series(1, %d) g;
insert into impress_document (title) select 'doc ' || g from generate_series(1, %d) g;
insert into impress_document_access (document_id, user_id, role) select d.id, (select id from impress_user limit 1), 'owner' from impress_document d;
`, usersBefore, documentsBefore)
	if _, err := a.CNPG.PSQL(ctx, ns, "postgres-1", "docs", sql); err != nil {
		t.Fatal(err)
	}
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
