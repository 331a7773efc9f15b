package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Rollback is `rollback`: the last recorded hop's commit reverted on request, the config back
// on its previous train and Flux converged on it — while that is safe: a hop that may have run
// an irreversible step is refused (the way back is its pre-upgrade backup), and so is a revert
// that would undo later commits (config changes) too.
type Rollback struct {
	StateDir   string
	TrainFiles []string
	ChartsDir  string
	Kubeconfig string
	Timeout    time.Duration
	DryRun     bool
	Root       host.Root
	Runner     host.Runner

	// Result is filled by Run.
	Result *RollbackResult
}

// RollbackResult is rollback's result (-o json).
type RollbackResult struct {
	// From is the train the appliance leaves, To the one it goes back to.
	From           string         `json:"from"`
	To             string         `json:"to"`
	Commit         string         `json:"commit"`
	RollbackCommit string         `json:"rollbackCommit,omitempty"`
	Steps          []steps.Result `json:"steps"`
	Outcome        string         `json:"outcome"`
	DryRun         bool           `json:"dryRun,omitempty"`
}

// NothingToRollBackError: no upgraded hop is on record for the train the appliance runs.
// Exit code 1.
type NothingToRollBackError struct{ Reason string }

func (e *NothingToRollBackError) Error() string { return "nothing to roll back: " + e.Reason }

// RollbackRefusedError: rolling back is not safe, and why; exit code 3.
type RollbackRefusedError struct {
	From, To string
	Reason   string
	// Irreversible are what the hop cannot undo; Restore how to restore instead.
	Irreversible []bundles.Irreversible
	Restore      *RestoreAdvice
	Conflict     *RevertConflictError
}

func (e *RollbackRefusedError) ExitCode() int { return ExitHopFailed }

func (e *RollbackRefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollback %s → %s refused: %s", e.To, e.From, e.Reason)
	for _, ir := range e.Irreversible {
		fmt.Fprintf(&b, "\n  cannot be undone: %s: %s", ir.Component, ir.Reason)
	}
	if e.Restore != nil {
		b.WriteString("\n" + e.Restore.Text())
	}
	if e.Conflict != nil {
		fmt.Fprintf(&b, "\nlater commits: %s\nhow to proceed: keep train %s and fix forward (install --set ...), or undo those changes first (install with the config as it was before them), then run rollback again",
			strings.Join(e.Conflict.Later, "; "), e.To)
	}
	return b.String()
}

// Run rolls back, or with DryRun prints the steps.
func (rb *Rollback) Run(ctx context.Context, st *status.Status) error {
	u := &Upgrade{StateDir: rb.StateDir, TrainFiles: rb.TrainFiles, ChartsDir: rb.ChartsDir, Kubeconfig: rb.Kubeconfig,
		Timeout: rb.Timeout, Root: rb.Root, Runner: rb.Runner}
	dir := u.stateDir()
	if _, err := os.Stat(SavedConfigPath(dir)); err != nil {
		return &NoApplianceError{StateDir: rb.StateDir}
	}
	trains, files, err := readTrainFiles(rb.TrainFiles)
	if err != nil {
		return err
	}
	u.trains = trains
	in, err := LoadInputs(InputOptions{StateDir: dir, ReadOnly: true, Trains: trains, ChartsDir: rb.ChartsDir})
	if err != nil {
		return fmt.Errorf("reading the installed appliance: %w", err)
	}
	pending, err := readPending(dir)
	if err != nil {
		return err
	}
	var rec *HopRecord
	switch {
	case pending != nil && pending.Phase == phaseRollingBack:
		st.Info("finishing the rollback of %s → %s that an earlier run started", pending.From, pending.To)
	case pending != nil && (pending.Phase == phaseStopped || pending.IrreversibleMayHaveRun):
		// A hop stopped after an irreversible step: the way back is its pre-upgrade backup.
		return &RollbackRefusedError{From: pending.From, To: pending.To, Irreversible: pending.Irreversible,
			Reason: fmt.Sprintf("the hop %s → %s stopped after steps that cannot be undone may have run: returning the desired state to %s would run %s on what %s left behind; the way back is below; or fix what failed and run the same upgrade again",
				pending.From, pending.To, pending.From, pending.From, pending.To),
			Restore: (&hop{u: u, from: trainOrStub(in.Catalog, pending.From), files: files, pending: pending}).restoreAdvice()}
	case pending != nil:
		return &RollbackPendingError{Pending: pending}
	default:
		hist, err := ReadUpgradeHistory(dir)
		if err != nil {
			return err
		}
		if rec, err = lastHop(hist, in.Config.Train); err != nil {
			return err
		}
	}
	if rec != nil {
		pending = &pendingUpgrade{Target: rec.To, Path: []string{rec.To}, From: rec.From, To: rec.To, Phase: phaseRollingBack,
			Commit: rec.Commit, BackupSet: rec.BackupSet, Irreversible: rec.Irreversible, StartedAt: time.Now().UTC(),
			Failure: "rollback asked for by the operator"}
		if len(rec.Irreversible) > 0 || rec.Outcome == HopStopped {
			h := &hop{u: u, from: trainOrStub(in.Catalog, rec.From), files: files, pending: pending}
			return &RollbackRefusedError{From: rec.From, To: rec.To, Irreversible: rec.Irreversible,
				Reason:  fmt.Sprintf("the hop %s → %s ran steps that cannot be undone: returning the desired state to %s would run %s on what %s left behind; restore the pre-upgrade backup instead", rec.From, rec.To, rec.From, rec.From, rec.To),
				Restore: h.restoreAdvice()}
		}
	}
	from, err := in.Catalog.Get(pending.From)
	if err != nil {
		return fmt.Errorf("the hop %s → %s: %w (give the train with --train-file)", pending.From, pending.To, err)
	}
	to, err := in.Catalog.Get(pending.To)
	if err != nil {
		return fmt.Errorf("the hop %s → %s: %w (give the train with --train-file)", pending.From, pending.To, err)
	}
	h := &hop{u: u, from: from, to: to, files: files, pending: pending}
	rb.Result = &RollbackResult{From: to.Name, To: from.Name, Commit: pending.Commit, Steps: []steps.Result{}, DryRun: rb.DryRun}
	if rb.DryRun {
		for _, s := range h.rollbackSteps() {
			rb.Result.Steps = append(rb.Result.Steps, steps.Result{ID: s.ID(), Title: s.Title(), Outcome: stepPlanned})
		}
		rb.Result.Outcome = UpgradeDryRun
		return nil
	}
	unlock, err := lockState(dir)
	if err != nil {
		return err
	}
	defer unlock(false)
	if err := writePending(dir, pending); err != nil {
		return err
	}
	h.r = h.newRun(ctx)
	defer h.r.close()
	hr, err := h.finishRollback(ctx, st, nil, time.Now(), nil)
	rb.Result.Steps, rb.Result.RollbackCommit, rb.Result.Outcome = hr.Steps, h.pending.RollbackCommit, hr.Outcome
	if err != nil {
		if errors.As(err, new(*RollbackRefusedError)) {
			rb.Result.Outcome = "refused"
		}
		return err
	}
	st.Info("rolled back %s → %s: the desired state is train %s again (commit %s)", to.Name, from.Name, from.Name, short(h.pending.RollbackCommit))
	return nil
}

// RollbackPendingError: an upgrade's hop is under way; it is finished (or rolled back by the
// upgrade itself) first. Exit code 1.
type RollbackPendingError struct{ Pending *pendingUpgrade }

func (e *RollbackPendingError) Error() string {
	p := e.Pending
	return fmt.Sprintf("an upgrade is under way (hop %s → %s, %s, recorded in %s): finish it first with `docs-appliance upgrade --to %s` (the same arguments); a hop that fails is rolled back by the upgrade itself, and rollback then returns to the train before the last hop",
		p.From, p.To, p.Phase, upgradePendingFile, p.Target)
}

// trainOrStub is the named train, or one of that name only (the advice needs its name).
func trainOrStub(cat *bundles.Catalog, name string) *bundles.Train {
	if t, err := cat.Get(name); err == nil {
		return t
	}
	return &bundles.Train{Name: name}
}

// lastHop is the hop a rollback reverts: the newest recorded hop that changed the train (hops
// rolled back already are passed over), which must have brought the appliance to the train it
// runs now.
func lastHop(hist []HopRecord, running string) (*HopRecord, error) {
	for i := len(hist) - 1; i >= 0; i-- {
		rec := hist[i]
		if rec.Outcome == HopRolledBack {
			continue
		}
		if rec.To != running {
			return nil, &NothingToRollBackError{Reason: fmt.Sprintf("the last recorded hop went to %s, and the appliance runs train %s", rec.To, running)}
		}
		if rec.Commit == "" {
			return nil, &NothingToRollBackError{Reason: fmt.Sprintf("the hop %s → %s recorded no commit", rec.From, rec.To)}
		}
		return &rec, nil
	}
	return nil, &NothingToRollBackError{Reason: fmt.Sprintf("no upgrade is recorded in %s (the appliance runs train %s as installed)", upgradeHistoryFile, running)}
}
