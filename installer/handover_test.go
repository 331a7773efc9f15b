package installer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

func TestRealInstallRefusesAnUnlockedTrainBeforeChangingAnything(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	in := &Install{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, Kubeconfig: "/nonexistent/kubeconfig"}
	err := in.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "train 2026.11 is not locked") || !strings.Contains(err.Error(), "make lock") {
		t.Fatalf("got %v", err)
	}
	// The k3s artifacts are not listed: an existing cluster does not use them.
	if strings.Contains(err.Error(), "k3s.artifacts") {
		t.Errorf("k3s artifacts counted for an existing cluster: %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("the refused install created the state folder")
	}
}

func TestRealInstallReportsAnUnusableAgeKey(t *testing.T) {
	state := t.TempDir()
	garbage := "AGE-SECRET-KEY-1NOTAREALKEYATALL\n"
	if err := os.WriteFile(filepath.Join(state, "age.key"), []byte(garbage), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &Install{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, Kubeconfig: "/nonexistent/kubeconfig"}
	var log bytes.Buffer
	err := in.Run(context.Background(), status.New(&log, status.Plain))
	if err == nil || !strings.Contains(err.Error(), "does not hold a valid age private key") || !strings.Contains(err.Error(), "restore it from your backup") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error()+log.String(), "NOTAREALKEY") {
		t.Error("the key file's content was shown")
	}
	if entries, _ := os.ReadDir(state); len(entries) != 1 {
		t.Errorf("the state folder changed: %v", entries)
	}
	data, _ := os.ReadFile(filepath.Join(state, "age.key"))
	if string(data) != garbage {
		t.Error("the key file was replaced")
	}
}

func TestRealInstallReportsAKeyThatIsNotTheStoresKey(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	// A render makes the key and the encrypted secret store.
	r := &Render{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, OutDir: t.TempDir(), AllowMissingCharts: true}
	if err := r.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	if err := os.WriteFile(filepath.Join(state, "age.key"), secrets.KeyFileContent(other), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &Install{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, Kubeconfig: "/nonexistent/kubeconfig"}
	err := in.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "secret store") || !strings.Contains(err.Error(), "must be the one its secrets were encrypted with") {
		t.Fatalf("got %v", err)
	}
}

const lockedTrain = `name: "2030.02"
k3s:
  version: v1.35.2+k3s1
  artifacts:
    amd64: {binaryURL: https://example.invalid/k3s, airgapImagesURL: https://example.invalid/images.tar.zst}
kubernetes: {minVersion: "1.33", maxVersion: "1.37"}
flux:
  version: v2.9.5
  controllers: {source-controller: v1.9.5, kustomize-controller: v1.9.5, notification-controller: v1.9.4}
docs: {version: v5.4.1}
charts: []
images:
  - {reference: "example.test/docs-appliance-git-server:1", digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
`

func TestTrainFileAndSavedConfig(t *testing.T) {
	dir := t.TempDir()
	trainPath := filepath.Join(dir, "train.yaml")
	if err := os.WriteFile(trainPath, []byte(lockedTrain), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	in, err := LoadInputs(InputOptions{TrainFile: trainPath, StateDir: state, ReadOnly: true,
		Sets: []string{"domain=docs.example.org", "adminEmail=admin@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Train.Name != "2030.02" || in.Config.Train != "2030.02" {
		t.Fatalf("train %s, config train %s", in.Train.Name, in.Config.Train)
	}
	if got := unpinned(in.Train, true); len(got) != 0 {
		t.Errorf("an existing cluster does not use k3s: %v", got)
	}
	if got := unpinned(in.Train, false); len(got) != 2 {
		t.Errorf("a host install needs the k3s sums: %v", got)
	}

	// A train file may not replace an embedded train.
	emb, _ := bundles.LoadEmbedded()
	clash := strings.Replace(lockedTrain, `"2030.02"`, `"`+emb.Latest().Name+`"`, 1)
	if err := os.WriteFile(trainPath, []byte(clash), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadInputs(InputOptions{TrainFile: trainPath, StateDir: state, ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "may not replace it") {
		t.Fatalf("got %v", err)
	}

	// The config install saved is where a later run without --config starts.
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	in.Config.Domain = "saved.example.org"
	if err := in.Config.Save(SavedConfigPath(state)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trainPath, []byte(lockedTrain), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := LoadInputs(InputOptions{TrainFile: trainPath, StateDir: state, ReadOnly: true, Sets: []string{"adminEmail=other@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Config.Domain != "saved.example.org" || again.Config.AdminEmail != "other@example.org" {
		t.Fatalf("saved config not used, or --set not applied on it: %s %s", again.Config.Domain, again.Config.AdminEmail)
	}
}

func TestOneInstallAtATime(t *testing.T) {
	state := t.TempDir()
	unlock, err := lockState(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockState(state); err == nil || !strings.Contains(err.Error(), "another docs-appliance install is running") {
		t.Fatalf("second lock: %v", err)
	}
	unlock(false)
	unlock2, err := lockState(state)
	if err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
	unlock2(false)
}

// The git server validates pushes against the train install hands it as
// YAML: what install writes must parse back as the same train.
func TestTrainForTheGitServerRoundTrips(t *testing.T) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cat.Names() {
		tr, err := cat.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		data, err := yaml.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		back, err := bundles.ParseTrain(data)
		if err != nil {
			t.Fatalf("train %s as the git server reads it: %v", tr.Name, err)
		}
		if back.Name != tr.Name || len(back.Images) != len(tr.Images) || back.Images[0].Digest != tr.Images[0].Digest {
			t.Fatalf("train %s changed on the way to the git server", tr.Name)
		}
	}
}
