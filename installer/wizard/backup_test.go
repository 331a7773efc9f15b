package wizard_test

import (
	"context"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// TestBackupTargetOnATerminal: with embedded storage the wizard offers an
// external backup target first, probes it on versitygw, and asks again
// with the reason on a wrong key and on a missing bucket; the good answer
// and its keys are saved, and the headless check passes on them.
func TestBackupTargetOnATerminal(t *testing.T) {
	s := startSite(t)
	s.s3.CreateBucket(t, "docs-backups", false)
	state := t.TempDir()
	configPath := wizard.DefaultConfigPath(state)
	con := newConsole(t)
	done := runWizard(t, con, s, configPath, state)

	con.answer("Public host name of Docs", domain)
	con.answer("Further host names", "")
	con.answer("Administrator's e-mail address", "admin@example.org")
	con.answer("air-gapped", "")
	con.choose("How should the HTTPS certificate be obtained?", keyDown) // appliance-ca
	con.choose("Who signs people in?", "")
	con.choose("Where are documents' files stored?", "")

	con.choose("Where do backups go?", "\x1b[A") // up from embedded, the default, to external
	con.answer("Backup S3 endpoint URL", s.s3.Endpoint)
	con.answer("Backup region", "")
	con.answer("Backup bucket", "Docs_Backups")
	con.expect("is not an S3 bucket name")
	con.answer("Backup bucket", "docs-backupz")
	con.answer("Prefix inside the bucket", "/site-a")
	con.expect("starts with /")
	con.answer("Prefix inside the bucket", "site-a/")
	con.answer("Backup access key ID", "AKIANOBODYKNOWS00000")
	con.answer("Backup secret access key", s.s3.SecretKey)
	con.expect(`does not know the access key ID "AKIANOBODYKNOWS00000"`)
	con.expect("backup.accessKeyID")
	con.expect("Please answer again.")
	con.answer("Backup S3 endpoint URL", "")
	con.answer("Backup region", "")
	con.answer("Backup bucket", "")
	con.answer("Prefix inside the bucket", "")
	con.answer("Backup access key ID", s.s3.AccessKey)
	con.answer("Backup secret access key (Enter keeps the one given before)", "")
	con.expect("create the bucket docs-backupz there (the appliance never creates it), or give the name of an existing one as backup.bucket")
	con.answer("Backup S3 endpoint URL", "")
	con.answer("Backup region", "")
	con.answer("Backup bucket", "docs-backups")
	con.answer("Prefix inside the bucket", "")
	con.answer("Backup access key ID", "")
	con.answer("Backup secret access key (Enter keeps the one given before)", "")
	con.expect("✓ backup target s3://docs-backups/site-a/ at " + s.s3.Endpoint + ": write/read/delete round trip passed")

	con.choose("Where should the desired state live?", "")
	con.answer("Send e-mail through an SMTP relay?", "")
	con.choose("Which size fits your use?", "")
	con.answer("Your age public key(s)", "")
	con.answer("Save these answers to "+configPath+"?", "")
	r := wait(t, con, done)
	if r.err != nil {
		t.Fatalf("the wizard failed: %v\n%s", r.err, tail(con.screen(), 3000))
	}
	if !strings.Contains(con.screen(), "external - recommended: an S3 bucket off this server") {
		t.Error("the external target is not offered as the recommended one")
	}
	if strings.Contains(con.screen(), "the same disk is not a backup") {
		t.Error("an external target drew the embedded warning")
	}

	saved, err := config.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	want := config.BackupLocation{Endpoint: s.s3.Endpoint, Region: "us-east-1", Bucket: "docs-backups", Prefix: "site-a/"}
	if got := saved.BackupLocation(); got != want {
		t.Errorf("saved target %+v, want %+v", got, want)
	}
	store, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := store.Get(config.SecretBackupSecretAccessKey); v != s.s3.SecretKey || store.Origin(config.SecretBackupAccessKeyID) != config.SecretGiven {
		t.Error("the backup keys were not saved as the operator's")
	}
	if err := wizard.Verify(context.Background(), saved, store.Get, s.live); err != nil {
		t.Errorf("the saved answers fail the headless checks: %v", err)
	}
}

// TestEmbeddedBackupTargetIsWarned: choosing the embedded store says the
// same disk is not a backup.
func TestEmbeddedBackupTargetIsWarned(t *testing.T) {
	s := startSite(t)
	state := t.TempDir()
	con := newConsole(t)
	done := runWizard(t, con, s, wizard.DefaultConfigPath(state), state)
	con.answer("Public host name of Docs", domain)
	con.answer("Further host names", "")
	con.answer("Administrator's e-mail address", "admin@example.org")
	con.answer("air-gapped", "")
	con.choose("How should the HTTPS certificate be obtained?", keyDown)
	con.choose("Who signs people in?", "")
	con.choose("Where are documents' files stored?", "")
	con.choose("Where do backups go?", "")
	con.expect("the same disk is not a backup: set backup.mode external")
	con.choose("Where should the desired state live?", "")
	con.answer("Send e-mail through an SMTP relay?", "")
	con.choose("Which size fits your use?", "")
	con.answer("Your age public key(s)", "")
	con.answer("Save these answers to", "")
	if r := wait(t, con, done); r.err != nil {
		t.Fatalf("the wizard failed: %v\n%s", r.err, tail(con.screen(), 3000))
	}
}
