package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

const standinTrains = "testdata/upgrade/trains"

// standinTrainFiles are the stand-in trains 2099.01 → 2099.02 → 2099.03.
func standinTrainFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(standinTrains, "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("stand-in trains: %v %v", files, err)
	}
	return files
}

// packageStandins packs the install e2e test's stand-in charts once per train, at the version
// the train pins, with the train's stand-in images as their values.
func packageStandins(t *testing.T, files []string) string {
	t.Helper()
	out := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := bundles.ParseTrain(data)
		if err != nil {
			t.Fatal(err)
		}
		// The stand-in's Secret changes value at 2099.03: a re-encrypted file in the plan.
		token := "stand-in-token-1"
		if tr.Name >= "2099.03" {
			token = "stand-in-token-2"
		}
		for _, c := range tr.Charts {
			ch, err := loader.LoadDir(filepath.Join("..", "e2e", "testdata", "install", "charts", c.Name))
			if err != nil {
				t.Fatal(err)
			}
			repo := "docs-appliance.test/" + strings.TrimSuffix(c.Name, "-app")
			im, ok := tr.ImageFor(repo)
			if !ok {
				t.Fatalf("train %s pins no %s", tr.Name, repo)
			}
			vals := map[string]any{"image": im.Reference, "token": token}
			raw, err := yaml.Marshal(vals)
			if err != nil {
				t.Fatal(err)
			}
			ch.Metadata.Version, ch.Values = c.Version, vals
			for _, rf := range ch.Raw {
				if rf.Name == chartutil.ValuesfileName {
					rf.Data = raw
				}
			}
			if _, err := chartutil.Save(ch, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// installedOn makes the state folder of an appliance of the e2e test's config installed on
// train: its saved config and its secret store.
func installedOn(t *testing.T, train string) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	cfg, err := config.Load("../e2e/testdata/install/appliance.yaml")
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
	if err := cfg.Save(SavedConfigPath(state)); err != nil {
		t.Fatal(err)
	}
	return state
}

func standinPlan(t *testing.T, installed, to string, diff bool) (*UpgradePlan, string, error) {
	t.Helper()
	files := standinTrainFiles(t)
	state := installedOn(t, installed)
	before := folderState(t, state)
	t.Cleanup(func() {
		if after := folderState(t, state); after != before {
			t.Errorf("the plan changed the state folder:\n%s\n->\n%s", before, after)
		}
	})
	root := t.TempDir()
	u := &UpgradePlan{StateDir: state, To: to, TrainFiles: files, ChartsDir: packageStandins(t, files), Root: host.Root(root), Diff: diff,
		// The host's free space is a fact of this machine: a fixed one keeps the golden file stable.
		FreeSpace: func(p string) (host.DiskSpace, error) {
			return host.DiskSpace{Path: p, Measured: "/var", Free: 10 << 30, Total: 20 << 30}, nil
		}}
	err := u.Run(context.Background(), status.Discard())
	return u, root, err
}

// folderState lists a folder's files with their sizes and modification times.
func folderState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, info.Size(), info.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sanitize replaces the test's temporary folders in a plan's text.
func sanitize(s, root string) string {
	s = strings.ReplaceAll(s, root, "ROOT")
	return regexp.MustCompile(regexp.QuoteMeta(os.TempDir())+`/Test[^/\s"]*/[0-9]+`).ReplaceAllString(s, "TMP")
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "upgrade", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestUpgradePlanGolden(t *testing.T) {
	for _, diff := range []bool{false, true} {
		u, root, err := standinPlan(t, "2099.01", "", diff)
		if err != nil {
			t.Fatal(err)
		}
		p := u.Plan
		if strings.Join(p.Path, ",") != "2099.02,2099.03" || !p.Hops[0].RequiredStop || p.Hops[1].RequiredStop {
			t.Fatalf("path %v, stops %v %v", p.Path, p.Hops[0].RequiredStop, p.Hops[1].RequiredStop)
		}
		var text bytes.Buffer
		if err := p.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		js, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{text.Bytes(), js} {
			// Secrets are compared, never shown.
			for _, secret := range []string{"stand-in-token-1", "stand-in-token-2"} {
				if bytes.Contains(b, []byte(secret)) {
					t.Fatalf("the plan shows a secret value %q", secret)
				}
			}
		}
		name := "plan"
		if diff {
			name = "plan-diff"
		}
		checkGolden(t, name+".txt", []byte(sanitize(text.String(), root)))
		checkGolden(t, name+".json", []byte(sanitize(string(js), root)+"\n"))
		// The trains are unlocked: a gate fails, exit 3.
		var ge *upgrade.GatesError
		if err := p.Err(); !errors.As(err, &ge) || ge.ExitCode() != upgrade.ExitGateFailed || ge.Failed[0] != GateLocked {
			t.Errorf("plan error = %v", err)
		}
	}
}

func TestUpgradePlanRefusals(t *testing.T) {
	_, _, err := standinPlan(t, "2099.03", "2099.01", false)
	var pe *bundles.PathError
	if !errors.As(err, &pe) || pe.Kind != bundles.PathDowngrade || pe.ExitCode() != bundles.ExitPathRefused {
		t.Errorf("a downgrade: err = %v", err)
	}
	_, _, err = standinPlan(t, "2099.02", "2099.04", false)
	if !errors.As(err, &pe) || pe.Kind != bundles.PathUnknownTrain {
		t.Errorf("an unknown train: err = %v", err)
	}
	u, _, err := standinPlan(t, "2099.03", "", false)
	if err != nil || len(u.Plan.Hops) != 0 || u.Plan.Err() != nil {
		t.Fatalf("an up-to-date appliance: plan %+v, err %v", u.Plan, err)
	}
	if err := (&UpgradePlan{StateDir: t.TempDir()}).Run(context.Background(), status.Discard()); !errors.As(err, new(*NoApplianceError)) {
		t.Errorf("no appliance: err = %v", err)
	}
}
