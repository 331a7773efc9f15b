package installer

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// standinUpgrade is an Upgrade of the stand-in appliance installed on train installed.
func standinUpgrade(t *testing.T, installed string) *Upgrade {
	t.Helper()
	files := standinTrainFiles(t)
	return &Upgrade{StateDir: installedOn(t, installed), TrainFiles: files, ChartsDir: packageStandins(t, files), Root: host.Root("/"), DryRun: true}
}

func TestUpgradeDryRunGolden(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	state := u.StateDir
	before := folderState(t, state)
	if err := u.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if after := folderState(t, state); after != before {
		t.Errorf("the dry run changed the state folder:\n%s\n->\n%s", before, after)
	}
	r := u.Result
	if r.Outcome != UpgradeDryRun || strings.Join(r.Path, ",") != "2099.02,2099.03" || len(r.Hops) != 2 {
		t.Fatalf("result %+v", r)
	}
	// The plan is the run's list, in the contract's order, every title naming its hop.
	want := "gates,backup,images,k3s,flux,render,commit,converge,doctor,record"
	for _, h := range r.Hops {
		var ids []string
		for _, s := range h.Steps {
			ids = append(ids, s.ID)
			if !strings.HasPrefix(s.Title, h.From+" → "+h.To+": ") {
				t.Errorf("step %s title %q does not name the hop", s.ID, s.Title)
			}
		}
		if strings.Join(ids, ",") != want {
			t.Errorf("hop %s → %s steps %v", h.From, h.To, ids)
		}
	}
	// Both hops move k3s (1.35.2 → 1.35.4 → 1.36.1); Flux stays v2.9.5.
	k3s, flux := r.Hops[0].Steps[3], r.Hops[0].Steps[4]
	if k3s.Outcome != stepPlanned || flux.Outcome != steps.Skipped || flux.Why != "Flux stays v2.9.5" {
		t.Errorf("hop 1: k3s %+v, flux %+v", k3s, flux)
	}
	// The stand-in trains carry no database: nothing for backup now to take (the revert of the
	// repository is the way back).
	if b := r.Hops[0].Steps[1]; b.Outcome != steps.Skipped || !strings.Contains(b.Why, "runs no database") {
		t.Errorf("backup %+v", b)
	}
	if len(r.Hops[0].Irreversible) != 0 || len(r.Hops[1].Irreversible) != 2 || !r.Hops[0].RequiredStop {
		t.Errorf("irreversible %v / %v, stop %v", r.Hops[0].Irreversible, r.Hops[1].Irreversible, r.Hops[0].RequiredStop)
	}
	var text strings.Builder
	WriteUpgradeText(&text, r)
	checkGolden(t, "dry-run.txt", []byte(sanitize(text.String(), state)))
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "dry-run.json", []byte(sanitize(string(js), state)+"\n"))
}

// Under --kubeconfig k3s is not this host's; --backup-age changes what the backup step does.
func TestUpgradeDryRunKubeconfigAndBackupAge(t *testing.T) {
	u := standinUpgrade(t, "2099.02")
	u.Kubeconfig, u.BackupAge = "/nonexistent/kubeconfig", 6*time.Hour
	if err := u.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	h := u.Result.Hops
	if len(h) != 1 || h[0].From != "2099.02" || h[0].To != "2099.03" {
		t.Fatalf("hops %+v", h)
	}
	k3s := h[0].Steps[3]
	if k3s.Outcome != steps.Skipped || !strings.Contains(k3s.Why, "--kubeconfig") {
		t.Errorf("k3s %+v", k3s)
	}
	if b := h[0].Steps[1]; !strings.Contains(b.Title, "younger than 6h0m0s (--backup-age)") {
		t.Errorf("backup %+v", b)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	u := standinUpgrade(t, "2099.03")
	u.To = "2099.01"
	var pe *bundles.PathError
	if err := u.Run(context.Background(), status.Discard()); !errors.As(err, &pe) || pe.ExitCode() != bundles.ExitPathRefused {
		t.Errorf("a downgrade: %v", err)
	}
	u.To = ""
	if err := u.Run(context.Background(), status.Discard()); err != nil || u.Result.Outcome != UpgradeUpToDate {
		t.Errorf("up to date: %v %+v", err, u.Result)
	}
	// One bundle carries one train: a two-hop path with --bundle is refused before anything.
	u = standinUpgrade(t, "2099.01")
	u.Bundle, u.DryRun = filepath.Join(t.TempDir(), "b.tar.zst"), false
	var ns *NotStartedError
	if err := u.Run(context.Background(), status.Discard()); !errors.As(err, &ns) || ns.Gate != "bundle" || !strings.Contains(ns.Fix, "--to 2099.02") {
		t.Errorf("--bundle over two hops: %v", err)
	}
	// A pending upgrade to another target is named, with how to finish it.
	u = standinUpgrade(t, "2099.01")
	if err := writePending(u.stateDir(), &pendingUpgrade{Target: "2099.02", From: "2099.01", To: "2099.02", Phase: phasePushed}); err != nil {
		t.Fatal(err)
	}
	u.To = "2099.03"
	var pu *PendingUpgradeError
	if err := u.Run(context.Background(), status.Discard()); !errors.As(err, &pu) || !strings.Contains(err.Error(), "upgrade --to 2099.02") {
		t.Errorf("pending elsewhere: %v", err)
	}
}

// The one-minor rule: k3s moves one Kubernetes minor at a time, forward.
func TestUpgradeK3sOneMinor(t *testing.T) {
	tr := &bundles.Train{Name: "2099.09"}
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"v1.35.2+k3s1", "v1.35.4+k3s1", true},
		{"v1.35.4+k3s1", "v1.36.1+k3s1", true},
		{"v1.35.4+k3s1", "v1.37.0+k3s1", false},
		{"v1.36.1+k3s1", "v1.35.4+k3s1", false},
		{"v1.35.4", "v1.36.0+k3s2", true},
	} {
		err := checkK3sMinor(tr, c.from, c.to)
		var ke *K3sMinorError
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &ke) || ke.ExitCode() != bundles.ExitPathRefused || !strings.Contains(err.Error(), "train 2099.09"))) {
			t.Errorf("%s → %s: %v", c.from, c.to, err)
		}
	}
}

// A train with required stops loads in the hop's doctor: every train of the upgrade is given
// to it. Before, doctor got the one train file of the hop's train, whose required stop was then
// unknown, and a good hop failed at its doctor step.
func TestUpgradeDoctorKnowsEveryTrainOfTheUpgrade(t *testing.T) {
	u := standinUpgrade(t, "2099.03")
	trains, files, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		t.Fatal(err)
	}
	u.trains = trains
	if _, err := (&Doctor{StateDir: u.StateDir, TrainFile: files["2099.03"]}).inputs(); err == nil || !strings.Contains(err.Error(), "requiredStops") {
		t.Fatalf("one train file: %v", err)
	}
	in, err := (&hop{u: u}).doctor().inputs()
	if err != nil || in.Train.Name != "2099.03" {
		t.Fatalf("the hop's doctor: %v", err)
	}
	// An unknown --ignore-check is refused before anything, naming it.
	u.IgnoreChecks = []string{"user-path-dns", "no-such-check"}
	if err := u.Run(context.Background(), status.Discard()); err == nil || !strings.Contains(err.Error(), "no-such-check") {
		t.Errorf("unknown check: %v", err)
	}
}

// The k3s and flux steps are skipped, saying why, when the hop does not change them; a bundle
// makes the k3s step place its images even when k3s stays.
func TestUpgradeStepListSkipsWhatTheHopDoesNotChange(t *testing.T) {
	train := func(name, k3s, flux string) *bundles.Train {
		return &bundles.Train{Name: name, K3s: bundles.K3s{Version: k3s}, Flux: bundles.Flux{Version: flux}}
	}
	plan := func(u *Upgrade, from, to *bundles.Train) map[string]steps.Result {
		h := &hop{u: u, from: from, to: to}
		h.list = h.steps()
		out := map[string]steps.Result{}
		for _, s := range h.plan().Steps {
			out[s.ID] = s
		}
		return out
	}
	same := plan(&Upgrade{}, train("2099.10", "v1.35.4+k3s1", "v2.9.5"), train("2099.11", "v1.35.4+k3s1", "v2.9.5"))
	if s := same["k3s"]; s.Outcome != steps.Skipped || s.Why != "k3s stays v1.35.4+k3s1" {
		t.Errorf("k3s unchanged: %+v", s)
	}
	if s := same["flux"]; s.Outcome != steps.Skipped || s.Title != "2099.10 → 2099.11: Keeping Flux v2.9.5" {
		t.Errorf("flux unchanged: %+v", s)
	}
	moved := plan(&Upgrade{}, train("2099.10", "v1.35.4+k3s1", "v2.9.5"), train("2099.11", "v1.36.0+k3s1", "v2.10.0"))
	if moved["k3s"].Outcome != stepPlanned || moved["flux"].Outcome != stepPlanned || !strings.Contains(moved["flux"].Title, "v2.9.5 → v2.10.0") {
		t.Errorf("both moved: %+v %+v", moved["k3s"], moved["flux"])
	}
	bundled := plan(&Upgrade{Bundle: "/b.tar.zst"}, train("2099.10", "v1.35.4+k3s1", "v2.9.5"), train("2099.11", "v1.35.4+k3s1", "v2.9.5"))
	if s := bundled["k3s"]; s.Outcome != stepPlanned || !strings.Contains(s.Title, "Placing the bundle's images") {
		t.Errorf("k3s with a bundle: %+v", s)
	}
	if s := bundled["images"]; !strings.Contains(s.Title, "Verifying and importing the bundle of train 2099.11") {
		t.Errorf("images with a bundle: %+v", s)
	}
}
