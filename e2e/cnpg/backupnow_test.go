//go:build e2e

package cnpg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// backup now's database part on the real operator: the cluster `postgres` in the database
// namespace archives to database/ of the target bucket (the layout's destinationPath); the part
// creates its plugin Backup, waits for it, finds its base backup in versitygw and records it. Then
// the ObjectStore points at a bucket that does not exist, and the next set's database part fails
// with the reason the Backup's status gives.
func TestBackupNowDatabasePart(t *testing.T) {
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
	s3, err := cnpgkit.StartS3(ctx, testNode, t.TempDir())
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	const bucket, rows = "appliance-backups", 200000
	if err := s3.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if err := inst.Volumes(ctx, testNode, "bn", 1, "2Gi"); err != nil {
		t.Fatal(err)
	}
	db := render.DatabaseNamespace
	// An immediate checkpoint: without it barman-cloud-backup waits for the next spread one
	// (checkpoint_timeout, 5 minutes), and so does the operator who ran backup now.
	store := cnpgkit.ObjectStore(db, "backups", s3.Endpoint, "s3://"+bucket+"/database/", "backup-s3")
	if err := unstructured.SetNestedField(store.Object, true, "spec", "configuration", "data", "immediateCheckpoint"); err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, inst.Client,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": db}}},
		s3.CredentialsSecret(db, "backup-s3"),
		store,
		cnpgkit.Cluster{Namespace: db, Name: "postgres", Image: k.PostgresImage, Store: "backups"}.Object())
	if err := inst.WaitCluster(ctx, db, "postgres", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.PSQL(ctx, db, "postgres-1", "app", fmt.Sprintf(`create table notes (id int primary key, body text not null);
insert into notes select g, md5(g::text) || md5((g+1)::text) from generate_series(1, %d) g;`, rows)); err != nil {
		t.Fatal(err)
	}
	size, _ := inst.PSQL(ctx, db, "postgres-1", "app", "select pg_size_pretty(pg_database_size('app'))")

	target := backup.Target{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: bucket, AccessKeyID: s3.AccessKey,
		SecretAccessKey: s3.SecretKey, PlainHTTP: true, Dial: cnpgkit.Dialer(testNode)}
	database := backup.Database{Client: inst.Client.Dynamic}
	// take runs a set's first steps: reaching the target, then the database part (the last step
	// only, once the store is down).
	take := func(id string, from int) (*backup.Now, []steps.Result, error) {
		n := &backup.Now{Target: target, ID: id, Database: database}
		list, err := n.Steps()
		if err != nil {
			t.Fatal(err)
		}
		rs, err := steps.Run(ctx, status.Discard(), steps.WithDeadlines(list[from:2], map[string]time.Duration{backup.PartDatabase: 8 * time.Minute}))
		return n, rs, err
	}
	n, rs, err := take(backup.NewID(time.Now()), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := n.Part(backup.PartDatabase)
	rec := p.Database
	if !p.Verified || rec.BackupID == "" || rec.BeginWal == "" || rec.EndWal == "" || rec.StoppedAt.Before(rec.StartedAt) || rec.ServerName != "postgres" {
		t.Fatalf("the database part records %+v", rec)
	}
	objects, bytes, err := s3.Size(ctx, bucket, "database/postgres/base/"+rec.BackupID+"/")
	if err != nil {
		t.Fatal(err)
	}
	if objects != p.Objects || bytes != p.Bytes || bytes == 0 {
		t.Errorf("versitygw holds %d objects (%d bytes) of backup %s, the part says %d (%d)", objects, bytes, rec.BackupID, p.Objects, p.Bytes)
	}
	t.Logf("database %s (%d rows): base backup %s in %.1fs (backup now's step, Backup created to verified), %d objects, %d KiB in the target; WAL %s..%s; operator's startedAt..stoppedAt %s",
		size, rows, rec.BackupID, rs[1].Seconds, objects, bytes>>10, rec.BeginWal, rec.EndWal, rec.StoppedAt.Sub(rec.StartedAt))
	// Run again with the same set: the Backup is found taken and in the target.
	if _, rs, err := take(n.ID, 0); err != nil || rs[1].Outcome != steps.Skipped {
		t.Errorf("the same set again: %v, database step %s", err, rs[1].Outcome)
	}

	// The ObjectStore pointing at a bucket that does not exist: whatever the plugin does with it,
	// backup now never reports a base backup that is not in the target.
	apply(ctx, t, inst.Client, cnpgkit.ObjectStore(db, "backups", s3.Endpoint, "s3://no-such-bucket/database/", "backup-s3"))
	time.Sleep(5 * time.Second)
	n2, rs, err := take(backup.NewID(time.Now().Add(time.Second)), 0)
	var nl *backup.NotLandedError
	var fe *backup.FailedError
	switch {
	case errors.As(err, &fe), errors.As(err, &nl):
		t.Logf("backup with the ObjectStore on a missing bucket: %v", err)
	case err != nil:
		t.Errorf("backup with the ObjectStore on a missing bucket: %v", err)
	default:
		elsewhere, _, _ := s3.Size(ctx, "no-such-bucket", "")
		t.Logf("backup with the ObjectStore on a missing bucket still landed in the target (%s, %.1fs); objects in no-such-bucket: %d",
			n2.Part(backup.PartDatabase).Database.BackupID, rs[1].Seconds, elsewhere)
	}

	// A store that does not answer: the Backup fails, and the part says why, from its status.
	s3.Stop()
	_, rs, err = take(backup.NewID(time.Now().Add(2*time.Second)), 1)
	if !errors.As(err, &fe) || fe.Reason == "" {
		t.Fatalf("backup while the store is down: %v (%+v), want the Backup's failure with its reason", err, rs)
	}
	t.Logf("backup while the store is down failed after %.1fs: %s", rs[0].Seconds, fe.Reason)
	if !strings.Contains(err.Error(), fe.Reason) {
		t.Errorf("the error %q does not carry the reason", err)
	}
}
