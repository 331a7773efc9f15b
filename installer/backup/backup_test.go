package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

type fixture struct {
	c        *cluster.Client
	s        *backuptest.Store
	now      *backup.Now
	stateDir string
	key      []byte
	kube     func() *backup.Listing
}

const (
	targetBucket = "backups"
	mediaBucket  = "media"
	prefix       = "appliance/"
)

func setup(t *testing.T, dbFailure string, mediaObjects int) *fixture {
	c, _ := backuptest.Kube(t)
	s := backuptest.StartStore(t, nil, targetBucket, mediaBucket)
	for i := range mediaObjects {
		s.Put(t, mediaBucket, fmt.Sprintf("documents/%04d/attachment.png", i), bytes.Repeat([]byte{byte(i)}, 100+i))
	}
	backuptest.Operator(t, c, s, targetBucket, prefix, dbFailure)
	dir, files, key := backuptest.StateDir(t)
	id := backup.NewID(time.Date(2026, 12, 2, 3, 15, 0, 0, time.UTC))
	f := &fixture{c: c, s: s, stateDir: dir, key: key}
	f.now = &backup.Now{Target: s.Target(targetBucket, prefix), ID: id, CreatedAt: time.Now(),
		Database:         backup.Database{Client: c.Dynamic, Poll: 100 * time.Millisecond},
		Media:            backup.Media{Source: s.Target(mediaBucket, "")},
		Git:              backup.Git{Remote: backuptest.GitServer(t)},
		EmbeddedIdentity: true, StateFiles: files, WorkDir: t.TempDir(), Train: "test", ApplianceVersion: "v0.0.0-test"}
	f.kube = func() *backup.Listing {
		l, err := backup.List(context.Background(), f.now.Target, backup.Database{Client: c.Dynamic}, "backups")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return f
}

func runSteps(t *testing.T, list []steps.Step) ([]steps.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return steps.Run(ctx, status.Discard(), list)
}

func outcomes(rs []steps.Result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s=%s ", r.ID, r.Outcome)
	}
	return strings.TrimSpace(b.String())
}

// A set taken whole: every part lands where the layout says, verified; the manifest names the
// base backup; list finds it complete and consistent; the git bundle restores every ref; and the
// age key is in no object of the target.
func TestNowTakesEveryPartAndListFindsTheSet(t *testing.T) {
	f := setup(t, "", 30)
	list, err := f.now.Steps()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := runSteps(t, list)
	if err != nil {
		t.Fatalf("%v (%s)", err, outcomes(rs))
	}
	if got, want := outcomes(rs), "target=ran database=ran media=ran identity=skipped git=ran state=ran manifest=ran"; got != want {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	m := f.now.Manifest
	db := m.Part(backup.PartDatabase).Database
	if db == nil || db.BackupID == "" || db.BeginWal != "000000010000000000000004" || db.ServerName != "postgres" || db.StoppedAt.IsZero() {
		t.Errorf("database part records %+v", db)
	}
	if p := m.Part(backup.PartMedia); p.Objects != 30 || p.Copied != 30 || !p.Verified {
		t.Errorf("media part %+v, want 30 objects copied", p)
	}
	if p := m.Part(backup.PartIdentity); p.CoveredBy != backup.PartDatabase {
		t.Errorf("identity part %+v does not point at the database part", p)
	}
	if p := m.Part(backup.PartGit); p.Refs != 3 {
		t.Errorf("the git part holds %d refs, want main, staging and v1", p.Refs)
	}
	if p := m.Part(backup.PartState); len(p.Files) != 2 {
		t.Errorf("state part %+v, want appliance.yaml and the secret store", p)
	}
	keys := f.s.Keys(t, targetBucket)
	want := map[string]bool{prefix + "sets/" + f.now.ID + ".json": false, prefix + "git/" + f.now.ID + ".bundle": false,
		prefix + "state/" + f.now.ID + "/appliance.yaml": false, prefix + "state/" + f.now.ID + "/secrets.enc.yaml": false,
		prefix + "media/documents/0007/attachment.png": false}
	for _, k := range keys {
		if _, ok := want[k]; ok {
			want[k] = true
		}
		data := f.s.Get(t, targetBucket, k)
		if bytes.Contains(data, bytes.TrimSpace(f.key)) || bytes.Contains(data, []byte("AGE-SECRET-KEY-")) {
			t.Errorf("%s holds the age key", k)
		}
	}
	for k, found := range want {
		if !found {
			t.Errorf("%s is not in the target (have %v)", k, keys)
		}
	}
	if got := f.s.Get(t, targetBucket, prefix+"media/documents/0007/attachment.png"); !bytes.Equal(got, bytes.Repeat([]byte{7}, 107)) {
		t.Errorf("the media copy differs from the original")
	}

	// The bundle restores every ref.
	file := filepath.Join(t.TempDir(), "repo.bundle")
	if err := os.WriteFile(file, f.s.Get(t, targetBucket, prefix+"git/"+f.now.ID+".bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	heads := backuptest.Run(t, t.TempDir(), "git", "bundle", "list-heads", file)
	for _, ref := range []string{"refs/heads/main", "refs/heads/staging", "refs/tags/v1"} {
		if !strings.Contains(heads, ref) {
			t.Errorf("the bundle lacks %s:\n%s", ref, heads)
		}
	}
	clone := filepath.Join(t.TempDir(), "clone")
	backuptest.Run(t, "", "git", "clone", "--quiet", "--branch", "staging", file, clone)
	if _, err := os.Stat(filepath.Join(clone, "staging.yaml")); err != nil {
		t.Errorf("the staging branch cloned from the bundle lacks its file: %v", err)
	}

	// The ObjectStore's status, as the plugin writes it, gives the recovery window.
	ctx := context.Background()
	store := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
		"metadata": map[string]any{"name": "backups", "namespace": "database"},
		"spec":     map[string]any{"configuration": map[string]any{"destinationPath": "s3://backups/appliance/database/"}}}}
	objectStores := f.c.Dynamic.Resource(schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}).Namespace("database")
	created, err := objectStores.Create(ctx, store, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Object["status"] = map[string]any{"serverRecoveryWindow": map[string]any{"postgres": map[string]any{
		"firstRecoverabilityPoint": "2026-11-30T02:00:05Z", "lastSuccessfulBackupTime": "2026-12-02T03:15:09Z"}}}
	if _, err := objectStores.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := f.kube()
	if len(l.Sets) != 1 || !l.Sets[0].Complete || !l.Sets[0].Consistent || l.NewestConsistent != f.now.ID {
		t.Fatalf("list: %+v", l)
	}
	if read, err := backup.ReadManifest(ctx, f.now.Target, f.now.ID); err != nil || read.Part(backup.PartDatabase).Database.BackupID != db.BackupID {
		t.Errorf("reading the manifest back: %v", err)
	}
	if w := l.RecoveryWindow; w == nil || w.FirstRecoverabilityPoint == nil || !w.FirstRecoverabilityPoint.Equal(time.Date(2026, 11, 30, 2, 0, 5, 0, time.UTC)) || len(l.Warnings) != 0 {
		t.Errorf("recovery window %+v, warnings %v", w, l.Warnings)
	}
	if len(l.Archive) != 1 || l.Archive[0].BackupID != db.BackupID || len(l.Backups) != 1 || l.Backups[0].Phase != "completed" {
		t.Errorf("list's database backups: archive %+v, cluster %+v", l.Archive, l.Backups)
	}

	// A state file changed behind the set's back makes it inconsistent, and list says which.
	f.s.Put(t, targetBucket, prefix+"state/"+f.now.ID+"/appliance.yaml", []byte("tampered\n"))
	if l := f.kube(); l.Sets[0].Consistent || l.NewestConsistent != "" || !strings.Contains(l.Sets[0].Problem, "appliance.yaml changed") {
		t.Errorf("a tampered set is listed %+v", l.Sets[0])
	}
}

// A run killed after the base backup, then after the git bundle, resumes: list shows the set
// incomplete meanwhile, and the next run skips the base backup and the bundle, sends no media
// object again, and finishes.
func TestNowResumesAKilledRun(t *testing.T) {
	f := setup(t, "", 20)
	list, err := f.now.Steps()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runSteps(t, list[:2]); err != nil { // target, database
		t.Fatal(err)
	}
	l := f.kube()
	if len(l.Sets) != 1 || l.Sets[0].ID != f.now.ID || l.Sets[0].Complete || !strings.Contains(l.Sets[0].Problem, "only its database backup") {
		t.Fatalf("a set killed after its database part is listed %+v", l.Sets)
	}
	if _, err := runSteps(t, list[2:5]); err != nil { // media, identity, git
		t.Fatal(err)
	}
	l = f.kube()
	if len(l.Sets) != 1 || l.Sets[0].Complete || l.NewestConsistent != "" || !strings.Contains(l.Sets[0].Problem, "no manifest") {
		t.Fatalf("a set without manifest is listed %+v", l)
	}
	again := *f.now
	again.Manifest = nil
	list, err = again.Steps()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := runSteps(t, list)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outcomes(rs), "target=ran database=skipped media=ran identity=skipped git=skipped state=ran manifest=ran"; got != want {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	if p := again.Manifest.Part(backup.PartMedia); p.Copied != 0 || p.Unchanged != 20 {
		t.Errorf("the resumed run copied %d media objects again (unchanged %d)", p.Copied, p.Unchanged)
	}
	if l := f.kube(); len(l.Sets) != 1 || !l.Sets[0].Consistent {
		t.Errorf("after the resumed run: %+v", l.Sets)
	}
	// A third run finds the set complete.
	third := *f.now
	list, _ = third.Steps()
	if rs, err := runSteps(t, list); err != nil || rs[len(rs)-1].Outcome != steps.Skipped || third.Manifest == nil {
		t.Errorf("a run over a complete set: %v %s", err, outcomes(rs))
	}
}

// A base backup the operator reports failed stops the set with the operator's reason, and no
// manifest is written.
func TestNowReportsAFailedDatabaseBackup(t *testing.T) {
	f := setup(t, "can't find bucket: NoSuchBucket", 1)
	list, err := f.now.Steps()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := runSteps(t, list)
	var fe *backup.FailedError
	if !errors.As(err, &fe) || fe.Reason != "can't find bucket: NoSuchBucket" {
		t.Fatalf("error %v (%s), want the Backup's reason", err, outcomes(rs))
	}
	if got := f.s.Keys(t, targetBucket); len(got) != 0 {
		t.Errorf("a failed set wrote %v", got)
	}
}

// A state file that holds an age key is refused before anything is sent.
func TestStateRefusesTheAgeKey(t *testing.T) {
	f := setup(t, "", 0)
	f.now.StateFiles = append(f.now.StateFiles, filepath.Join(f.stateDir, "age.key"))
	list, err := f.now.Steps()
	if err != nil {
		t.Fatal(err)
	}
	_, err = runSteps(t, list)
	var ke *backup.KeyInFileError
	if !errors.As(err, &ke) {
		t.Fatalf("error %v, want the age key refused", err)
	}
	for _, k := range f.s.Keys(t, targetBucket) {
		if strings.Contains(k, "state/") {
			t.Errorf("%s was uploaded though the state part was refused", k)
		}
	}
}
