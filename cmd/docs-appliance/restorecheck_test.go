package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer"
)

// TestRestoreCheckNow: the command refuses a state folder with no
// appliance, and its dry run describes the steps a real run takes, as
// JSON. The real run is proven on real CloudNativePG in e2e/cnpg.
func TestRestoreCheckNow(t *testing.T) {
	state := t.TempDir()
	_, err := run(t, "restore-check", "now", "--dry-run", "--state-dir", state)
	var none *installer.NoApplianceError
	if !errors.As(err, &none) {
		t.Fatalf("without an appliance: %v", err)
	}
	write(t, installer.SavedConfigPath(state), "domain: docs.example.org\n")
	out, err := run(t, "restore-check", "now", "--dry-run", "--state-dir", state, "-o", "json", "--timeout", "2h")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	var rep installer.RestoreCheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if len(rep.Plan) != 2 || rep.Plan[0].ID != "connect" || rep.Plan[1].ID != "restore-check" ||
		!strings.Contains(rep.Plan[1].Title, "at most 2h0m0s") || rep.Plan[1].Deadline != 7260 {
		t.Errorf("plan %+v", rep.Plan)
	}
}
