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

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
)

// The read side a restore uses, on the set a real run took (versitygw, the appliance's git
// server, envtest): which set, its state checked by SHA-256, the history pushed into an empty
// repository only, and the media copied back with their Content-Type, once.
func TestRestoreReadsBackTheSet(t *testing.T) {
	f := setup(t, "", 5)
	list, err := f.now.Steps()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runSteps(t, list); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	target := f.now.Target

	m, err := backup.Choose(ctx, target, "", time.Time{})
	if err != nil || m.ID != f.now.ID {
		t.Fatalf("the newest consistent set: %v, %v", m, err)
	}
	if _, err := backup.Choose(ctx, target, "20200101T000000Z", time.Time{}); !isNoSet(err, "there is no set 20200101T000000Z") {
		t.Errorf("an unknown set: %v", err)
	}
	before := m.Part(backup.PartDatabase).Database.StoppedAt.Add(-time.Hour)
	if _, err := backup.Choose(ctx, target, "", before); !isNoSet(err, "its base backup ended after --to-time") {
		t.Errorf("a --to-time before every base backup: %v", err)
	}

	dir := t.TempDir()
	files, err := backup.FetchState(ctx, target, m, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sf := range f.now.StateFiles {
		want, _ := os.ReadFile(sf)
		got, err := os.ReadFile(files[filepath.Base(sf)])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s fetched as %d bytes (%v), want the %d backed up", filepath.Base(sf), len(got), err, len(want))
		}
		if st, _ := os.Stat(files[filepath.Base(sf)]); st == nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s is not 0600: %v", filepath.Base(sf), st)
		}
	}

	// The history goes into an empty repository, and an existing history is kept.
	empty, bare := backuptest.EmptyGitServer(t)
	pushed, refs, err := backup.Git{Remote: empty}.RestoreRepository(ctx, target, m, t.TempDir())
	if err != nil || !pushed || refs != 3 {
		t.Fatalf("into an empty repository: pushed %v, %d refs, %v", pushed, refs, err)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	backuptest.Run(t, "", "git", "clone", "--quiet", "--branch", "staging", bare, clone)
	if _, err := os.Stat(filepath.Join(clone, "staging.yaml")); err != nil {
		t.Errorf("the restored staging branch lacks its file: %v", err)
	}
	if pushed, _, err := (backup.Git{Remote: empty}).RestoreRepository(ctx, target, m, t.TempDir()); err != nil || pushed {
		t.Errorf("into a repository with history: pushed %v, %v", pushed, err)
	}

	// Media: copied back whole with their type; a second run keeps what is there.
	fresh := "media-restored"
	f.s.CreateBucket(t, fresh, false)
	copied, kept, err := backup.RestoreMedia(ctx, target, backup.Media{Source: f.s.Target(fresh, "")})
	if err != nil || copied != 5 || kept != 0 {
		t.Fatalf("media restored: %d copied, %d kept, %v", copied, kept, err)
	}
	for i := range 5 {
		key := fmt.Sprintf("documents/%04d/attachment.png", i)
		if got := f.s.Get(t, fresh, key); !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 100+i)) {
			t.Errorf("%s restored as %d bytes", key, len(got))
		}
	}
	if typ := f.s.ContentType(t, fresh, "documents/0000/attachment.png"); typ != "image/png" {
		t.Errorf("the restored media's Content-Type is %q, want the original's image/png", typ)
	}
	if copied, kept, err := backup.RestoreMedia(ctx, target, backup.Media{Source: f.s.Target(fresh, "")}); err != nil || copied != 0 || kept != 5 {
		t.Errorf("a second media restore: %d copied, %d kept, %v", copied, kept, err)
	}

	// A state file changed in the target is refused when fetched, not installed.
	f.s.Put(t, targetBucket, prefix+"state/"+m.ID+"/appliance.yaml", []byte("tampered\n"))
	_, err = backup.FetchState(ctx, target, m, t.TempDir())
	var mismatch *backup.MismatchError
	if !errors.As(err, &mismatch) {
		t.Errorf("a tampered state file: %v", err)
	}
}

func isNoSet(err error, reason string) bool {
	var ns *backup.NoSetError
	return errors.As(err, &ns) && strings.Contains(ns.Reason, reason)
}
