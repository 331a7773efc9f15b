package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// backup's commands refuse, before contacting anything, a state folder without an appliance (one
// JSON error document with --output json) and a --ca-file holding no certificate.
func TestBackupCommands(t *testing.T) {
	empty := t.TempDir()
	for _, sub := range []string{"now", "list"} {
		r := runBinary(t, nil, "backup", sub, "--state-dir", empty, "-o", "json")
		r.wantCode(t, 1)
		if e, _ := r.object(t)["error"].(map[string]any); e == nil || !strings.Contains(e["message"].(string), "no appliance is installed from "+empty) {
			t.Errorf("backup %s without an appliance: %s", sub, r.stdout)
		}
	}
	state := t.TempDir()
	cfg, err := os.ReadFile(exampleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wizard.DefaultConfigPath(state), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "backup", "now", "--state-dir", state, "--ca-file", filepath.Join(state, "appliance.yaml"))
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "no PEM certificate") {
		t.Errorf("a --ca-file without a certificate must be refused:\n%s", r.stderr)
	}
}
