package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

// An embedded backup target warns, naming the way off the server; an external one passes,
// naming where the backups go; without a saved config the check says why it cannot tell.
func TestBackupTargetCheck(t *testing.T) {
	load := func(sets ...string) *config.Config {
		c, err := config.Load("../../examples/appliance.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Resolve(sets); err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := checkBackupTarget(context.Background(), &Env{Config: load()})
	if f.Outcome != Warned || !strings.Contains(f.Detail, "the same disk is not a backup") || !strings.Contains(f.Fix, "backup.mode external") {
		t.Errorf("embedded target: %+v", f)
	}
	f = checkBackupTarget(context.Background(), &Env{Config: load("backup.mode=external", "backup.endpoint=https://backup.example.net", "backup.bucket=docs-backups", "backup.prefix=site-a/")})
	if f.Outcome != Passed || !strings.Contains(f.Detail, "s3://docs-backups/site-a/ at https://backup.example.net") {
		t.Errorf("external target: %+v", f)
	}
	if f := checkBackupTarget(context.Background(), &Env{}); f.Outcome != Skipped {
		t.Errorf("no config: %+v", f)
	}
	if f := checkBackupTarget(context.Background(), &Env{Config: load(), Train: &bundles.Train{Name: "2099.01"}}); f.Outcome != Skipped {
		t.Errorf("a train without a database: %+v", f)
	}
}
