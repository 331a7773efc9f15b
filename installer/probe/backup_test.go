package probe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// TestBackupTargetAgainstARealServer checks backup targets on versitygw:
// a versioned and an unversioned bucket pass and keep nothing of the probe
// (and nothing outside the prefix is touched); a wrong key ID, a wrong
// secret and a missing bucket are refused with what to fix.
func TestBackupTargetAgainstARealServer(t *testing.T) {
	ca := probetest.NewCA(t)
	live := &probe.Live{CABundle: ca.PEM}
	ctx := context.Background()
	gw := probetest.StartS3(t, ca, true)
	loc := func(bucket, prefix string) config.BackupLocation {
		return config.BackupLocation{Endpoint: gw.Endpoint, Region: gw.Region, Bucket: bucket, Prefix: prefix}
	}

	for _, versioned := range []bool{false, true} {
		name := map[bool]string{false: "backups-plain", true: "backups-versioned"}[versioned]
		t.Run(name, func(t *testing.T) {
			gw.CreateBucket(t, name, versioned)
			gw.PutObject(t, name, "media/doc/a.png", "not the probe's")
			rep, err := live.Backup(ctx, loc(name, "site-a/appliance/"), gw.AccessKey, gw.SecretKey)
			if err != nil {
				t.Fatalf("a good target was refused: %v", err)
			}
			if !rep.RoundTrip || len(rep.Warnings) != 0 {
				t.Errorf("report %+v", rep)
			}
			if n := gw.ObjectVersions(t, name); n != 1 {
				t.Errorf("%d versions or markers in the bucket after the probe, want only the object that was there", n)
			}
		})
	}

	t.Run("the bucket's root", func(t *testing.T) {
		gw.CreateBucket(t, "backups-root", false)
		if _, err := live.Backup(ctx, loc("backups-root", ""), gw.AccessKey, gw.SecretKey); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong access key ID", func(t *testing.T) {
		_, err := live.Backup(ctx, loc("backups-plain", ""), "AKIANOBODYKNOWS00000", gw.SecretKey)
		if err == nil || !strings.Contains(err.Error(), `does not know the access key ID "AKIANOBODYKNOWS00000"`) || !strings.Contains(err.Error(), "backup.accessKeyID") {
			t.Fatalf("want the unknown key named with the fix, got %v", err)
		}
	})

	t.Run("wrong secret key", func(t *testing.T) {
		_, err := live.Backup(ctx, loc("backups-plain", ""), gw.AccessKey, "not-the-secret-key-000")
		if err == nil || !strings.Contains(err.Error(), "refused the secret key") || !strings.Contains(err.Error(), "backup.secretAccessKey") {
			t.Fatalf("want the secret refused with the fix, got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-secret-key-000") {
			t.Errorf("the reason shows the secret: %v", err)
		}
	})

	t.Run("missing bucket: named, never created", func(t *testing.T) {
		_, err := live.Backup(ctx, loc("backups-missing", "x/"), gw.AccessKey, gw.SecretKey)
		if !errors.Is(err, probe.ErrNoBackupBucket) || !strings.Contains(err.Error(), "create the bucket backups-missing there") || !strings.Contains(err.Error(), "backup.bucket") {
			t.Fatalf("want the missing bucket named with the fix, got %v", err)
		}
		if gw.BucketExists("backups-missing") {
			t.Fatal("the check created the backup bucket")
		}
	})

	t.Run("not https", func(t *testing.T) {
		_, err := live.Backup(ctx, config.BackupLocation{Endpoint: "http://127.0.0.1:1", Bucket: "b", Region: "us-east-1"}, "k", "s")
		if err == nil || !strings.Contains(err.Error(), "is not an https endpoint URL") {
			t.Fatalf("got %v", err)
		}
	})
}
