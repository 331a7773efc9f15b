package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// TestGuardrailFiles: the rendered repository's pre-commit hook and CI step call docs-appliance
// validate with the render's train, from the repository's root, with the CI's age key.
func TestGuardrailFiles(t *testing.T) {
	f := newFixture(t, "single-small")
	res := f.render(t)
	files := fileMap(res)
	train := f.opts.Train.Name

	var pc struct {
		Repos []struct {
			Repo  string
			Hooks []struct {
				ID, Entry, Language string
				Name                string
				PassFilenames       bool `json:"pass_filenames"`
				AlwaysRun           bool `json:"always_run"`
			}
		}
	}
	if err := yaml.UnmarshalStrict(files[preCommitFile].Content, &pc); err != nil {
		t.Fatalf("%s: %v", preCommitFile, err)
	}
	if len(pc.Repos) != 1 || pc.Repos[0].Repo != "local" || len(pc.Repos[0].Hooks) != 1 ||
		pc.Repos[0].Hooks[0].Entry != "docs-appliance validate --train "+train || pc.Repos[0].Hooks[0].Language != "system" || pc.Repos[0].Hooks[0].PassFilenames || !pc.Repos[0].Hooks[0].AlwaysRun {
		t.Errorf("pre-commit config: %+v", pc)
	}

	// The CI step, run by sh from another folder, with a stand-in binary recording what it got
	// (the real command is tested in cmd/docs-appliance).
	sh := kit.Program(t, "sh", "apt-get install dash")
	dir := t.TempDir()
	if _, err := Write(dir, res, f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(t.TempDir(), "args")
	stub := filepath.Join(t.TempDir(), "docs-appliance")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n{ pwd; echo \"$@\"; } > "+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, filepath.Join(dir, ciValidateFile))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "DOCS_APPLIANCE="+stub, "SOPS_AGE_KEY_FILE=/run/ci/age.key")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh %s: %v\n%s", ciValidateFile, err, out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	want := real + "\nvalidate --train " + train + " --age-key /run/ci/age.key .\n"
	if string(got) != want {
		t.Errorf("the CI step ran\n%s\nwant\n%s", got, want)
	}
	if readme := string(files["README.md"].Content); !strings.Contains(readme, "sh "+ciValidateFile) || !strings.Contains(readme, "docs-appliance.skip-validation") {
		t.Errorf("README does not say how to run the checks:\n%s", readme)
	}
}
