package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A folder render did not write is refused before anything in it changes: Write would remove
// what it does not render under base/, environments/<env>/, clusters/<env>/...
func TestClaimDirRefusesAFolderRenderDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	mine := map[string]string{"apps/mine.yaml": "the operator's app", "environments/production/secrets/token": "theirs", "notes.txt": "notes"}
	for p, c := range mine {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := ClaimDir(dir)
	if !errors.Is(err, ErrForeignFolder) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"writing the repository to " + dir, "(apps, environments, notes.txt)", "base/, environments/, clusters/", "give a new or empty folder to --out, or the one a previous render wrote"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	for p, c := range mine {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != c {
			t.Errorf("%s changed: %q %v", p, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err == nil {
		t.Error("a refused folder was marked")
	}

	// A .sops.yaml alone, or render's layout with someone else's .sops.yaml, is not a render.
	for name, files := range map[string]map[string]string{
		"sops only":     {".sops.yaml": "# Rules for the sops CLI; Flux decrypts with the flux-system/sops-age key.\n"},
		"foreign rules": {".sops.yaml": "creation_rules: []\n", "clusters/production/kustomization.yaml": "x"},
	} {
		d := t.TempDir()
		for p, c := range files {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(d, p)), 0o755)
			if err := os.WriteFile(filepath.Join(d, p), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := ClaimDir(d); !errors.Is(err, ErrForeignFolder) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// A new or empty folder is made the render's; a folder an earlier render wrote, before the
// marker existed, is recognised and marked; the marked folder is rendered into again and again.
func TestClaimDirTakesNewEmptyAndEarlierRenders(t *testing.T) {
	for name, dir := range map[string]string{"new": filepath.Join(t.TempDir(), "a", "rendered"), "empty": t.TempDir()} {
		if err := ClaimDir(dir); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, Marker)); err != nil {
			t.Errorf("%s: not marked: %v", name, err)
		}
		if err := ClaimDir(dir); err != nil {
			t.Errorf("%s: the marked folder is refused: %v", name, err)
		}
	}

	// What the code before the marker left: a real render written, no marker.
	f := newFixture(t, "single-small")
	dir := t.TempDir()
	if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", "production", "apps", "stale.yaml"), []byte("from an older render"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ClaimDir(dir); err != nil {
		t.Fatalf("an earlier render's folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err != nil {
		t.Errorf("an earlier render's folder was not marked: %v", err)
	}
	rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Removed, ",") != "environments/production/apps/stale.yaml" || len(rep.Written) != 0 {
		t.Errorf("re-render of the claimed folder wrote %v, removed %v", rep.Written, rep.Removed)
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err != nil {
		t.Error("Write pruned the marker")
	}
}
