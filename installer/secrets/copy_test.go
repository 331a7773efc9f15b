package secrets

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// externalStorage is storage on the operator's S3 with the backup target
// left to its default: the storage's bucket, under appliance-backups/.
func externalStorage(t *testing.T) *config.Config {
	t.Helper()
	c := &config.Config{Storage: config.Storage{Mode: config.External, Endpoint: "https://s3.example.org", Bucket: "docs-media"}}
	c.ApplyDefaults()
	if !c.BackupSharesStorageBucket() {
		t.Fatalf("the default backup target is %+v, not the storage's bucket", c.BackupLocation())
	}
	return c
}

func TestBackupKeysFollowTheStorageKeysUntilTheOperatorGivesTheirOwn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	embedded, external := modes(t, config.Embedded, config.Embedded), externalStorage(t)

	s := reopen(t, dir)
	ensure(t, s, embedded)
	save(t, s)

	// To external storage: the backup keys are the storage's, in the store.
	s = reopen(t, dir)
	s.Set("storage.accessKeyID", "AKIA-STORAGE")
	s.Set("storage.secretAccessKey", "storage-secret-1")
	ensure(t, s, external)
	save(t, s)
	s = reopen(t, dir)
	if v, _ := s.Get(config.SecretBackupSecretAccessKey); v != "storage-secret-1" {
		t.Fatalf("backup.secretAccessKey = %q, want the storage's", v)
	}
	if o := s.Origin(config.SecretBackupAccessKeyID); o != config.SecretCopied {
		t.Fatalf("origin %q, want copied", o)
	}
	if _, ok := s.Given(config.SecretBackupSecretAccessKey); ok {
		t.Fatal("a copy is offered as the operator's own backup key")
	}

	// A rotated storage key: the copy follows it.
	s.Set("storage.secretAccessKey", "storage-secret-2")
	ensure(t, s, external)
	if v, _ := s.Get(config.SecretBackupSecretAccessKey); v != "storage-secret-2" {
		t.Fatalf("after rotation backup.secretAccessKey = %q, want the new storage key", v)
	}

	// The operator's own backup key wins, and stays through later runs.
	s.Set(config.SecretBackupSecretAccessKey, "backup-own")
	ensure(t, s, external)
	save(t, s)
	s = reopen(t, dir)
	ensure(t, s, external)
	if v, _ := s.Get(config.SecretBackupSecretAccessKey); v != "backup-own" {
		t.Fatalf("backup.secretAccessKey = %q, want the operator's own", v)
	}
}

func TestBackToEmbeddedBringsBackTheGeneratedBackupAccount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	embedded, external := modes(t, config.Embedded, config.Embedded), externalStorage(t)
	s := reopen(t, dir)
	ensure(t, s, embedded)
	generated, _ := s.Get(config.SecretBackupSecretAccessKey)
	s.Set("storage.accessKeyID", "AKIA-STORAGE")
	s.Set("storage.secretAccessKey", "storage-secret")
	ensure(t, s, external)
	save(t, s)

	s = reopen(t, dir)
	ensure(t, s, embedded)
	if v, _ := s.Get(config.SecretBackupSecretAccessKey); v != generated {
		t.Fatalf("back to embedded: backup.secretAccessKey = %q, want the generated one the embedded store holds", v)
	}
	if o := s.Origin(config.SecretBackupSecretAccessKey); o != config.SecretGenerated {
		t.Fatalf("origin %q", o)
	}
}

func TestACopyIsNoKeyForAnotherTarget(t *testing.T) {
	s := reopen(t, filepath.Join(t.TempDir(), "state"))
	c := externalStorage(t)
	s.Set("storage.accessKeyID", "AKIA-STORAGE")
	s.Set("storage.secretAccessKey", "storage-secret")
	ensure(t, s, c)
	// Now the target moves to another bucket: the copy does not do.
	c.Backup.Bucket = "elsewhere"
	err := c.Validate(nil, s.Origin)
	if err == nil || !strings.Contains(err.Error(), "secrets.backup.secretAccessKey: the stored value is a copy of the storage's key") {
		t.Fatalf("a config whose backup target is not the storage's bucket took the storage's copied key: %v", err)
	}
}
