package installer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/restorecheck"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

func standinRollback(t *testing.T, installed string, hist ...HopRecord) *Rollback {
	t.Helper()
	u := standinUpgrade(t, installed)
	for _, h := range hist {
		if err := recordHop(u.stateDir(), h); err != nil {
			t.Fatal(err)
		}
	}
	return &Rollback{StateDir: u.StateDir, TrainFiles: u.TrainFiles, ChartsDir: u.ChartsDir, Kubeconfig: "/nonexistent/kubeconfig", Root: u.Root}
}

func TestRollbackRefusals(t *testing.T) {
	ctx := context.Background()
	var nothing *NothingToRollBackError
	if err := standinRollback(t, "2099.01").Run(ctx, status.Discard()); !errors.As(err, &nothing) {
		t.Errorf("no history: %v", err)
	}
	up := HopRecord{From: "2099.01", To: "2099.02", Commit: "1111111111111111111111111111111111111111", Outcome: HopUpgraded, BackupSet: "20991201T010000Z"}
	// The appliance is on another train than the last hop went to.
	if err := standinRollback(t, "2099.03", up).Run(ctx, status.Discard()); !errors.As(err, &nothing) || !strings.Contains(err.Error(), "runs train 2099.03") {
		t.Errorf("another train: %v", err)
	}
	// A hop with irreversible steps: refused, exit 3, naming them and the restore command.
	irr := HopRecord{From: "2099.02", To: "2099.03", Commit: "2222222222222222222222222222222222222222", Outcome: HopUpgraded, BackupSet: "20991202T010000Z",
		Irreversible: []bundles.Irreversible{{Component: "docs", Reason: "Docs v5.4.1 → v5.5.0 migrates its database"}}}
	rb := standinRollback(t, "2099.03", up, irr)
	err := rb.Run(ctx, status.Discard())
	var refused *RollbackRefusedError
	if !errors.As(err, &refused) || refused.ExitCode() != ExitHopFailed {
		t.Fatalf("irreversible: %v", err)
	}
	for _, want := range []string{"cannot be undone: docs:", "docs-appliance restore --from", "--backup-set 20991202T010000Z"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	if p, _ := readPending(rb.Root.Path(rb.StateDir)); p != nil {
		t.Errorf("a refused rollback left a pending record %+v", p)
	}
	// A pending upgrade is finished first.
	rb = standinRollback(t, "2099.02", up)
	if err := writePending(rb.Root.Path(rb.StateDir), &pendingUpgrade{Target: "2099.03", From: "2099.02", To: "2099.03", Phase: phasePushed}); err != nil {
		t.Fatal(err)
	}
	var rp *RollbackPendingError
	if err := rb.Run(ctx, status.Discard()); !errors.As(err, &rp) || !strings.Contains(err.Error(), "upgrade --to 2099.03") {
		t.Errorf("pending: %v", err)
	}
	// A hop stopped after an irreversible step (pending, not recorded as done): refused, exit 3,
	// naming what cannot be undone and how to restore.
	rb = standinRollback(t, "2099.03", up)
	if err := writePending(rb.Root.Path(rb.StateDir), &pendingUpgrade{Target: "2099.03", From: "2099.02", To: "2099.03", Phase: phaseStopped,
		IrreversibleMayHaveRun: true, Commit: irr.Commit, Irreversible: irr.Irreversible}); err != nil {
		t.Fatal(err)
	}
	err = rb.Run(ctx, status.Discard())
	// The stand-in appliance runs no database: no set, and the advice says what is left.
	if !errors.As(err, &refused) || refused.ExitCode() != ExitHopFailed || !strings.Contains(err.Error(), "cannot be undone: docs:") ||
		!strings.Contains(err.Error(), "reverted by hand") {
		t.Errorf("stopped: %v", err)
	}
}

// The hop to roll back is the newest not rolled back already; its dry run lists the steps.
func TestRollbackPicksTheLastHopAndDryRunListsItsSteps(t *testing.T) {
	up := HopRecord{From: "2099.01", To: "2099.02", Commit: "1111111111111111111111111111111111111111", Outcome: HopUpgraded}
	failed := HopRecord{From: "2099.02", To: "2099.03", Commit: "2222222222222222222222222222222222222222", Outcome: HopRolledBack,
		RollbackCommit: "3333333333333333333333333333333333333333"}
	never := HopRecord{From: "2099.02", To: "2099.03", Outcome: HopRolledBack}
	rb := standinRollback(t, "2099.02", up, failed, never)
	rb.DryRun = true
	if err := rb.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	r := rb.Result
	if r.From != "2099.02" || r.To != "2099.01" || r.Commit != up.Commit || r.Outcome != UpgradeDryRun {
		t.Fatalf("result %+v", r)
	}
	var ids []string
	for _, s := range r.Steps {
		ids = append(ids, s.ID)
		if !strings.HasPrefix(s.Title, "2099.02 → 2099.01 (rollback): ") {
			t.Errorf("title %q", s.Title)
		}
	}
	if strings.Join(ids, ",") != "revert,restore-config,converge-previous,record-rollback" {
		t.Errorf("steps %v", ids)
	}
}

// --backup-age accepts a consistent set and a passing restore check both younger than it, and
// refuses anything else, naming what is too old.
func TestUpgradeBackupAgeVerdict(t *testing.T) {
	now := time.Date(2099, 12, 2, 12, 0, 0, 0, time.UTC)
	set := &backup.SetInfo{ID: "20991202T080000Z", CreatedAt: now.Add(-4 * time.Hour), Complete: true, Consistent: true}
	passed := &restorecheck.Result{Status: restorecheck.Passed, FinishedAt: now.Add(-3 * time.Hour)}
	failed := &restorecheck.Result{Status: "failed", Message: "the counts differ", FinishedAt: now.Add(-time.Hour)}
	old := &restorecheck.Result{Status: restorecheck.Passed, FinishedAt: now.Add(-30 * time.Hour)}
	why, err := backupAgeVerdict(now, 6*time.Hour, set, passed)
	if err != nil || !strings.Contains(why, "set 20991202T080000Z taken 4h0m0s ago") {
		t.Errorf("accepted: %q %v", why, err)
	}
	for name, c := range map[string]struct {
		age   time.Duration
		set   *backup.SetInfo
		check *restorecheck.Result
		want  string
	}{
		"no set":       {6 * time.Hour, nil, passed, "no consistent backup set"},
		"old set":      {2 * time.Hour, set, passed, "taken 4h0m0s ago"},
		"no check":     {6 * time.Hour, set, nil, "no restore check"},
		"failed check": {6 * time.Hour, set, failed, "the counts differ"},
		"old check":    {24 * time.Hour, &backup.SetInfo{ID: set.ID, CreatedAt: now.Add(-time.Hour)}, old, "finished 30h0m0s ago"},
	} {
		_, err := backupAgeVerdict(now, c.age, c.set, c.check)
		var ns *NotStartedError
		if !errors.As(err, &ns) || ns.Gate != GateBackup || !strings.Contains(err.Error(), c.want) || !strings.Contains(ns.Fix, "drop --backup-age") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
