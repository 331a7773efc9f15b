//go:build e2e

package cnpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
)

// toolsImage is the restore check's image on the node: the train's
// registry.k8s.io/kubectl is debian-base bookworm with bash, coreutils,
// grep, sed, gawk, jq and diffutils added (kubernetes
// build/server-image/kubectl/Dockerfile); nothing is pulled here, so the
// same programs are taken from this Debian bookworm host with their
// libraries, and kubectl from the node kit.
const toolsImage = "docs-appliance.test/restore-check-tools:e2e"

// goldenDatabase holds the rendered database objects (TestRenderGolden
// keeps them equal to what render makes).
const goldenDatabase = "../../installer/render/testdata/golden/single-small-acme-embedded/base/platform/database"

// Rows of the Docs-shaped database: before the base backup, and after it
// (recovered from the WAL).
const usersBefore, docsBefore, usersAfter, docsAfter = 200, 5000, 20, 1000

// The appliance's restore check on real CloudNativePG: the rendered
// CronJob, its scripts and its throwaway cluster recover the newest
// backup of a live cluster holding a Docs-shaped database; Run passes
// with RTO and RPO recorded. A broken backup then fails, the recovery's
// own reason recorded.
func TestRestoreCheckRecoversTheNewestBackup(t *testing.T) {
	node.Need(t)
	k, err := cnpgkit.Find()
	var missing *kit.MissingError
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	tools := buildToolsImage(ctx, t)

	inst, err := cnpgkit.Install(ctx, testNode, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := testNode.ImportImages(ctx, tools); err != nil {
		t.Fatal(err)
	}
	s3, err := cnpgkit.StartS3(ctx, testNode, t.TempDir())
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	const bucket = "appliance-backups"
	if err := s3.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	// The live instance, and one for each throwaway cluster (a released
	// volume is not bound again).
	if err := inst.Volumes(ctx, testNode, "rc", 4, "2Gi"); err != nil {
		t.Fatal(err)
	}
	// As the appliance names them: Cluster postgres archiving to
	// ObjectStore backups under server name postgres.
	apply(ctx, t, inst.Client,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		s3.CredentialsSecret(ns, "backup-s3"),
		cnpgkit.ObjectStore(ns, "backups", s3.Endpoint, "s3://"+bucket+"/", "backup-s3"),
		cnpgkit.Cluster{Namespace: ns, Name: "postgres", Image: k.PostgresImage, Store: "backups"}.Object())
	if err := inst.WaitCluster(ctx, ns, "postgres", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	live := func(db, sql string) string {
		t.Helper()
		out, err := inst.PSQL(ctx, ns, "postgres-1", db, sql)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	live("postgres", "create role docs login; create database docs owner docs; create database keycloak;")
	live("docs", docsShapedSchema(usersBefore, docsBefore))
	live("keycloak", "create table realm (id varchar(36) primary key, name varchar(255) unique); insert into realm values ('1', 'master'), ('2', 'docs');")

	apply(ctx, t, inst.Client, cnpgkit.Backup(ns, "postgres-first", "postgres"))
	b, err := inst.WaitBackup(ctx, ns, "postgres-first", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	backupID, _, _ := unstructured.NestedString(b.Object, "status", "backupId")
	// Written after the backup: the restore must replay them from the WAL.
	live("docs", fmt.Sprintf(`insert into impress_user (email) select 'late' || g || '@example.org' from generate_series(1, %d) g;
insert into impress_document (title) select 'late ' || g from generate_series(1, %d) g;`, usersAfter, docsAfter))
	size := live("docs", "select pg_size_pretty(pg_database_size('docs'))")

	applyRestoreCheck(ctx, t, inst.Client, k.PostgresImage)

	res, err := restorecheck.Run(ctx, inst.Client.Kube, 20*time.Minute)
	if err != nil {
		t.Fatalf("the restore check did not pass: %v", err)
	}
	t.Logf("restore check passed: %s", res.Message)
	t.Logf("backup %s (%s), database docs %s: RTO %s, RPO %s (last archived %s), heartbeat %s, recovered to %s",
		res.Backup, res.BackupID, size, res.RTO, res.RPO, res.LastArchivedAt.Format(time.RFC3339), res.HeartbeatAt.Format(time.RFC3339Nano), res.RecoveredTo.Format(time.RFC3339Nano))
	t.Logf("restored rows: %v", res.Counts)
	if res.Backup != "postgres-first" || res.BackupID != backupID {
		t.Errorf("recovered backup %s (%s), want postgres-first (%s)", res.Backup, res.BackupID, backupID)
	}
	if res.Counts["users"] != usersBefore+usersAfter || res.Counts["documents"] != docsBefore+docsAfter || res.Counts["tables"] < 10 {
		t.Errorf("restored %v, want %d users and %d documents (the rows after the backup come from the WAL)", res.Counts, usersBefore+usersAfter, docsBefore+docsAfter)
	}
	if res.RTO <= 0 || res.RecoveredTo.Before(res.HeartbeatAt) || res.LastArchivedAt.IsZero() {
		t.Errorf("RTO %s, recovered to %s before the heartbeat %s, last archived %s", res.RTO, res.RecoveredTo, res.HeartbeatAt, res.LastArchivedAt)
	}
	throwawayGone(ctx, t, inst)

	// A broken backup: its data cut short in the store.
	data := filepath.Join(s3.Root, bucket, "postgres", "base", backupID, "data.tar.gz")
	st, err := os.Stat(data)
	if err != nil {
		t.Fatalf("the base backup's data is not where barman-cloud puts it: %v", err)
	}
	if err := os.Truncate(data, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	res, err = restorecheck.Run(ctx, inst.Client.Kube, 20*time.Minute)
	var failed *restorecheck.FailedError
	if !errors.As(err, &failed) {
		t.Fatalf("a truncated backup: got %v, want a failed check", err)
	}
	t.Logf("the check of the truncated backup failed: %s", res.Message)
	if !strings.Contains(res.Message, "recovering backup postgres-first failed: pod "+render.RestoreCheckCluster+"-1-full-recovery") ||
		!strings.Contains(res.Message, "barman-cloud-restore") {
		t.Errorf("the failure does not say why (the full-recovery pod and barman-cloud-restore's words): %s", res.Message)
	}
	recorded, err := restorecheck.Read(ctx, inst.Client.Kube)
	if err != nil || recorded.Status != restorecheck.Failed || recorded.Message != res.Message {
		t.Errorf("doctor reads %+v (%v), want the failure", recorded, err)
	}
	throwawayGone(ctx, t, inst)
}

// docsShapedSchema is Docs v5.4.1's tables the restore check reads (the
// db_table names of src/backend/core/models.py), its migration record and
// rows.
func docsShapedSchema(users, documents int) string {
	return fmt.Sprintf(`
create table django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
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
alter table impress_user owner to docs; alter table impress_document owner to docs;`, users, documents)
}

// applyRestoreCheck applies the rendered restore-check objects with the
// node's images: the tools image for the CronJob, the kit's PostgreSQL
// for the throwaway cluster (on the node's volumes, without the profile's
// resources: the node is small), and a 10-minute recovery bound.
func applyRestoreCheck(ctx context.Context, t *testing.T, c *cluster.Client, postgresImage string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, f := range []string{"serviceaccount", "role", "rolebinding", "configmap", "cronjob"} {
		data, err := os.ReadFile(filepath.Join(goldenDatabase, f+"-restore-check.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := cluster.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decoded...)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ConfigMap":
			text, _, _ := unstructured.NestedString(o.Object, "data", "cluster.json")
			inner, err := cluster.DecodeObjects([]byte(text))
			if err != nil || len(inner) != 1 {
				t.Fatalf("the ConfigMap holds no cluster: %v", err)
			}
			cl := inner[0]
			must(t, unstructured.SetNestedField(cl.Object, postgresImage, "spec", "imageName"))
			must(t, unstructured.SetNestedField(cl.Object, "IfNotPresent", "spec", "imagePullPolicy"))
			must(t, unstructured.SetNestedMap(cl.Object, map[string]any{"size": "1Gi", "storageClass": cnpgkit.StorageClass}, "spec", "storage"))
			unstructured.RemoveNestedField(cl.Object, "spec", "resources")
			js, err := cl.MarshalJSON()
			must(t, err)
			must(t, unstructured.SetNestedField(o.Object, string(js), "data", "cluster.json"))
		case "CronJob":
			path := []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
			containers, _, _ := unstructured.NestedSlice(o.Object, path...)
			ct := containers[0].(map[string]any)
			ct["image"] = toolsImage
			for _, e := range ct["env"].([]any) {
				if e := e.(map[string]any); e["name"] == "RECOVERY_TIMEOUT" {
					e["value"] = "600"
				}
			}
			must(t, unstructured.SetNestedSlice(o.Object, containers, path...))
			// Only Run starts it.
			must(t, unstructured.SetNestedField(o.Object, true, "spec", "suspend"))
		}
	}
	apply(ctx, t, c, objs...)
}

func throwawayGone(ctx context.Context, t *testing.T, inst *cnpgkit.Installed) {
	t.Helper()
	gvr, err := inst.Client.Mapper.RESTMapping(schema.GroupKind{Group: "postgresql.cnpg.io", Kind: "Cluster"}, "v1")
	must(t, err)
	_, err = inst.Client.Dynamic.Resource(gvr.Resource).Namespace(ns).Get(ctx, render.RestoreCheckCluster, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the throwaway cluster is still there after the check (%v)", err)
	}
}

// buildToolsImage packs the host's bash, coreutils, grep, sed and jq with
// the libraries they load, and the node kit's kubectl.
func buildToolsImage(ctx context.Context, t *testing.T) string {
	t.Helper()
	v, err := kit.Load()
	must(t, err)
	d, err := v.Dirs()
	must(t, err)
	files := []images.File{{Path: "/usr/local/bin/kubectl", Mode: 0o755, Source: filepath.Join(d.Kube, "kubectl")}}
	seen := map[string]bool{}
	for _, prog := range []string{"bash", "date", "mktemp", "rm", "sort", "comm", "tr", "wc", "head", "tail", "sleep", "cat", "grep", "sed", "jq"} {
		p := kit.Program(t, prog, "apt-get install bash coreutils grep sed jq")
		real, err := filepath.EvalSymlinks(p)
		must(t, err)
		files = append(files, images.File{Path: "/usr/bin/" + prog, Mode: 0o755, Source: real})
		out, err := exec.CommandContext(ctx, "ldd", real).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", real, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			lib := ""
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				lib = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				lib = f[0] // the loader
			}
			if lib == "" || seen[lib] {
				continue
			}
			seen[lib] = true
			real, err := filepath.EvalSymlinks(lib)
			must(t, err)
			files = append(files, images.File{Path: lib, Mode: 0o755, Source: real})
		}
	}
	files = append(files, images.File{Path: "/bin/bash", Mode: 0o755, Source: files[1].Source})
	out := filepath.Join(t.TempDir(), "tools.tar")
	if err := images.Write(images.Spec{Tag: toolsImage, Files: files, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
