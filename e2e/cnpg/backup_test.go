//go:build e2e

package cnpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

const (
	ns     = "database"
	bucket = "backups"
	// Rows written before the base backup, and after it (found again only through the WAL).
	rowsBefore, rowsAfter = 20000, 5000
)

// A one-instance Cluster archives through the plugin, a plugin Backup is taken, more rows are
// written and their WAL archived, and a second Cluster recovered from the store under its own
// server name holds every row.
func TestBackupThenRecoverIntoANewCluster(t *testing.T) {
	node.Need(t)
	k, err := cnpgkit.Find()
	var missing *kit.MissingError
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	inst, err := cnpgkit.Install(ctx, testNode, k)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("operator and plugin installed in %s (images imported)", inst.Took.Round(time.Second))
	// Again: it converges, and keeps the plugin's certificates (the backup below goes through it).
	if inst, err = cnpgkit.Install(ctx, testNode, k); err != nil {
		t.Fatalf("installing again: %v", err)
	}
	t.Logf("installed again in %s", inst.Took.Round(time.Second))
	s3, err := cnpgkit.StartS3(ctx, testNode, t.TempDir())
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	if err := s3.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if err := inst.Volumes(ctx, testNode, "pg", 3, "2Gi"); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, inst.Client,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		s3.CredentialsSecret(ns, "backup-s3"),
		cnpgkit.ObjectStore(ns, "store", s3.Endpoint, "s3://"+bucket+"/", "backup-s3"),
		cnpgkit.Cluster{Namespace: ns, Name: "pg", Image: k.PostgresImage, Store: "store"}.Object())

	start := time.Now()
	if err := inst.WaitCluster(ctx, ns, "pg", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster pg ready in %s", time.Since(start).Round(time.Second))
	psql(ctx, t, inst, "pg-1", fmt.Sprintf(`create table notes (id int primary key, body text not null);
insert into notes select g, md5(g::text) from generate_series(1, %d) g;`, rowsBefore))

	start = time.Now()
	apply(ctx, t, inst.Client, cnpgkit.Backup(ns, "first", "pg"))
	b, err := inst.WaitBackup(ctx, ns, "first", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	backupTook := time.Since(start)
	id, _, _ := unstructured.NestedString(b.Object, "status", "backupId")
	beginWal, _, _ := unstructured.NestedString(b.Object, "status", "beginWal")
	if id == "" || beginWal == "" {
		t.Fatalf("completed backup without a backupId or beginWal: %v", b.Object["status"])
	}
	baseObjects, baseBytes, err := s3.Size(ctx, bucket, "pg/base/"+id+"/")
	if err != nil {
		t.Fatal(err)
	}
	if baseObjects == 0 {
		t.Fatalf("backup %s completed but nothing is under pg/base/%s/ in the store", id, id)
	}
	t.Logf("backup %s (method plugin) completed in %s: %d objects, %d KiB in the store", id, backupTook.Round(time.Second), baseObjects, baseBytes>>10)

	// Rows after the backup reach the store only as WAL: switch to a new segment and wait for
	// the archiver to have shipped it.
	psql(ctx, t, inst, "pg-1", fmt.Sprintf("insert into notes select g, md5(g::text) from generate_series(%d, %d) g;", rowsBefore+1, rowsBefore+rowsAfter))
	wantSum := psql(ctx, t, inst, "pg-1", "select sum(hashtext(body)::bigint) from notes")
	segment := psql(ctx, t, inst, "pg-1", "select pg_walfile_name(pg_switch_wal())")
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		last, err := inst.PSQL(ctx, ns, "pg-1", "app", "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		return err == nil && last >= segment, nil
	})
	if err != nil {
		t.Fatalf("WAL segment %s was not archived: %v", segment, err)
	}
	walObjects, walBytes, err := s3.Size(ctx, bucket, "pg/wals/")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL archive: %d objects, %d KiB", walObjects, walBytes>>10)

	// A new cluster from the store, archiving under its own server name: the origin's archive
	// path is not empty, and barman refuses to archive into it (cnpg #6470).
	start = time.Now()
	apply(ctx, t, inst.Client, cnpgkit.Cluster{Namespace: ns, Name: "pg-restored", Image: k.PostgresImage, Store: "store", RecoverFrom: "pg"}.Object())
	if err := inst.WaitCluster(ctx, ns, "pg-restored", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster pg-restored recovered and ready in %s", time.Since(start).Round(time.Second))
	count := psql(ctx, t, inst, "pg-restored-1", "select count(*) from notes")
	if n, _ := strconv.Atoi(count); n != rowsBefore+rowsAfter {
		t.Errorf("the recovered cluster has %s rows, want %d (%d from the base backup, %d from the WAL)", count, rowsBefore+rowsAfter, rowsBefore, rowsAfter)
	}
	if got := psql(ctx, t, inst, "pg-restored-1", "select sum(hashtext(body)::bigint) from notes"); got != wantSum {
		t.Errorf("the recovered rows differ: checksum %s, want %s", got, wantSum)
	}
	size := psql(ctx, t, inst, "pg-1", "select pg_size_pretty(pg_database_size('app'))")
	t.Logf("database app: %s, %d rows", size, rowsBefore+rowsAfter)

	// A broken backup: its data cut short in the store (versitygw keeps objects as files). A
	// recovery from it fails, and the recovery job says why.
	data := filepath.Join(s3.Root, bucket, "pg", "base", id, "data.tar.gz")
	st, err := os.Stat(data)
	if err != nil {
		t.Fatalf("the base backup's data is not where barman-cloud puts it: %v", err)
	}
	if err := os.Truncate(data, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, inst.Client, cnpgkit.Cluster{Namespace: ns, Name: "pg-broken", Image: k.PostgresImage, Store: "store", RecoverFrom: "pg"}.Object())
	reason, err := inst.RecoveryFailure(ctx, ns, "pg-broken", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recovery from the truncated backup failed: %s", reason)
	if !strings.Contains(reason, "barman-cloud-restore") {
		t.Errorf("the failure does not name barman-cloud-restore, whose error it is: %s", reason)
	}
}

func apply(ctx context.Context, t *testing.T, c *cluster.Client, objs ...*unstructured.Unstructured) {
	t.Helper()
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func psql(ctx context.Context, t *testing.T, inst *cnpgkit.Installed, pod, sql string) string {
	t.Helper()
	out, err := inst.PSQL(ctx, ns, pod, "app", sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
