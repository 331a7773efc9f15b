package installer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// install moves no appliance to another train: that is upgrade's, and it says so. Before the
// check, install rendered and committed the other train, skipping every gate of upgrade.
func TestInstallRefusesAnotherTrainAndNamesUpgrade(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	trains, _, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		t.Fatal(err)
	}
	in := &Install{Inputs: InputOptions{StateDir: u.StateDir, Trains: trains, ChartsDir: u.ChartsDir, Sets: []string{"train=2099.02"}},
		Kubeconfig: "/nonexistent/kubeconfig", NonInteractive: true}
	err = in.Run(context.Background(), status.Discard())
	var tc *TrainChangeError
	if !errors.As(err, &tc) || tc.Installed != "2099.01" || tc.Asked != "2099.02" || !strings.Contains(err.Error(), "docs-appliance upgrade --to 2099.02") {
		t.Fatalf("got %v", err)
	}
	// While an upgrade is under way, install commits nothing over it.
	if err := writePending(u.StateDir, &pendingUpgrade{Target: "2099.02", From: "2099.01", To: "2099.02", Phase: phasePushed}); err != nil {
		t.Fatal(err)
	}
	in.Inputs.Sets = nil
	var uu *UpgradeUnderwayError
	if err := in.Run(context.Background(), status.Discard()); !errors.As(err, &uu) || !strings.Contains(err.Error(), "upgrade --to 2099.02") {
		t.Fatalf("pending: %v", err)
	}
}

// A config file without a train keeps the installed appliance on its train, not the newest
// the binary knows (before, it defaulted to the newest and install moved the appliance).
func TestInputsDefaultToTheInstalledTrain(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	trains, _, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		t.Fatal(err)
	}
	in, err := LoadInputs(InputOptions{ConfigPath: "../e2e/testdata/install/appliance.yaml", StateDir: u.StateDir, Trains: trains, ChartsDir: u.ChartsDir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if in.Config.Train != "2099.01" || in.Catalog.Latest().Name != "2099.03" {
		t.Errorf("train %s (newest %s)", in.Config.Train, in.Catalog.Latest().Name)
	}
}
