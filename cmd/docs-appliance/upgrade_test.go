package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// standinState is the state folder of the install e2e test's appliance on train.
func standinState(t *testing.T, train string) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	cfg, err := config.Load("../../e2e/testdata/install/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve([]string{"train=" + train}); err != nil {
		t.Fatal(err)
	}
	store, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Ensure(cfg.RequiredSecrets()); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Save(installer.SavedConfigPath(state)); err != nil {
		t.Fatal(err)
	}
	return state
}

func standinTrainArgs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../installer/testdata/upgrade/trains/*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("stand-in trains %v %v", files, err)
	}
	var args []string
	for _, f := range files {
		abs, err := filepath.Abs(f) // the binary runs in a folder of its own
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "--train-file", abs)
	}
	return args
}

// upgrade --dry-run -o json is one document with every hop's steps (ids and titles), the same
// titles the text plan prints; a refused path exits 5; rollback with nothing recorded exits 1.
func TestUpgradeDryRunAndRollbackCommands(t *testing.T) {
	state := standinState(t, "2099.01")
	trains := standinTrainArgs(t)
	js := runBinary(t, nil, append([]string{"upgrade", "--dry-run", "-o", "json", "--state-dir", state}, trains...)...)
	js.wantCode(t, 0)
	doc := js.object(t)
	hops, _ := doc["hops"].([]any)
	if doc["outcome"] != "dry-run" || doc["from"] != "2099.01" || doc["to"] != "2099.03" || len(hops) != 2 {
		t.Fatalf("document %v", doc)
	}
	text := runBinary(t, nil, append([]string{"upgrade", "--dry-run", "--state-dir", state}, trains...)...)
	text.wantCode(t, 0)
	n := 0
	for _, h := range hops {
		for _, s := range h.(map[string]any)["steps"].([]any) {
			step := s.(map[string]any)
			if step["id"] == "" || !strings.Contains(text.stdout, step["title"].(string)) {
				t.Errorf("step %v is not in the text plan", step)
			}
			n++
		}
	}
	if n != 20 {
		t.Errorf("%d steps, want 10 per hop", n)
	}
	down := runBinary(t, nil, append([]string{"upgrade", "--to", "2099.01", "--state-dir", standinState(t, "2099.02")}, trains...)...)
	down.wantCode(t, 5)
	rb := runBinary(t, nil, append([]string{"rollback", "-o", "json", "--state-dir", state}, trains...)...)
	if msg := rb.errorDoc(t, 1); !strings.Contains(msg, "nothing to roll back") {
		t.Errorf("rollback: %s", msg)
	}
}
