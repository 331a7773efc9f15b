package installer

// What upgrade keeps in the state folder: the hop under way (upgrade-pending.json), so a killed
// run resumes it, and the hops done (upgrades.json), so rollback knows the last one.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// File names of upgrade's state, in the state folder.
const (
	upgradePendingFile = "upgrade-pending.json"
	upgradeHistoryFile = "upgrades.json"
)

// UpgradePendingPath is the hop under way; UpgradeHistoryPath the hops done.
func UpgradePendingPath(stateDir string) string { return filepath.Join(stateDir, upgradePendingFile) }
func UpgradeHistoryPath(stateDir string) string { return filepath.Join(stateDir, upgradeHistoryFile) }

// Phases of a pending hop.
const (
	// phaseRunning: before the hop's commit is pushed; a failure stops, nothing to revert.
	phaseRunning = "running"
	// phasePushed: the hop's commit is (or may be) in the repository: Flux may apply it.
	phasePushed = "pushed"
	// phaseRollingBack: the hop failed after its push and is being reverted.
	phaseRollingBack = "rolling-back"
	// phaseStopped: the hop failed after an irreversible step may have run: nothing reverted;
	// a rerun waits for the hop again.
	phaseStopped = "stopped"
)

// pendingUpgrade is upgrade-pending.json: which hop of which upgrade is under way and how far it
// got, so that a rerun with the same arguments finishes it and commits nothing twice.
type pendingUpgrade struct {
	// Target is the upgrade's last train (--to), Path every train it passes through.
	Target string   `json:"target"`
	Path   []string `json:"path"`
	// From → To is the hop under way.
	From  string `json:"from"`
	To    string `json:"to"`
	Phase string `json:"phase"`
	// GatesPassed and BackupSet: the steps before anything changed are not repeated.
	GatesPassed bool   `json:"gatesPassed,omitempty"`
	BackupSet   string `json:"backupSet,omitempty"`
	// Commit is the hop's commit once made; RollbackCommit its revert.
	Commit         string `json:"commit,omitempty"`
	RollbackCommit string `json:"rollbackCommit,omitempty"`
	// Irreversible are the hop's steps that cannot be undone; IrreversibleMayHaveRun is set the
	// moment before the commit is pushed (conservative: Flux may apply it any time after).
	Irreversible           []bundles.Irreversible `json:"irreversible,omitempty"`
	IrreversibleMayHaveRun bool                   `json:"irreversibleMayHaveRun"`
	StartedAt              time.Time              `json:"startedAt"`
	Steps                  []StepSeconds          `json:"steps,omitempty"`
	Failure                string                 `json:"failure,omitempty"`
}

// StepSeconds is how long one step of a hop took.
type StepSeconds struct {
	ID      string        `json:"id"`
	Outcome steps.Outcome `json:"outcome"`
	Seconds float64       `json:"seconds"`
}

// HopRecord is one hop in upgrades.json.
type HopRecord struct {
	From           string                 `json:"from"`
	To             string                 `json:"to"`
	Commit         string                 `json:"commit,omitempty"`
	RollbackCommit string                 `json:"rollbackCommit,omitempty"`
	StartedAt      time.Time              `json:"startedAt"`
	FinishedAt     time.Time              `json:"finishedAt"`
	Steps          []StepSeconds          `json:"steps"`
	Outcome        string                 `json:"outcome"`
	BackupSet      string                 `json:"backupSet,omitempty"`
	Irreversible   []bundles.Irreversible `json:"irreversible,omitempty"`
	Failure        string                 `json:"failure,omitempty"`
}

// Outcomes of a hop.
const (
	HopUpgraded   = "upgraded"
	HopRolledBack = "rolled-back"
	HopStopped    = "stopped"
)

func readPending(stateDir string) (*pendingUpgrade, error) {
	data, err := os.ReadFile(UpgradePendingPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pending upgrade: %w", err)
	}
	var p pendingUpgrade
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("reading the pending upgrade %s: %w (remove it only once the repository's head and the saved config agree on one train)", UpgradePendingPath(stateDir), err)
	}
	return &p, nil
}

func writePending(stateDir string, p *pendingUpgrade) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the pending upgrade: %w", err)
	}
	if err := atomicfile.Write(UpgradePendingPath(stateDir), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the pending upgrade: %w", err)
	}
	return nil
}

func removePending(stateDir string) error {
	if err := os.Remove(UpgradePendingPath(stateDir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the pending upgrade: %w", err)
	}
	atomicfile.SyncDir(stateDir)
	return nil
}

// upgradeHistory is upgrades.json, oldest hop first.
type upgradeHistory struct {
	Hops []HopRecord `json:"hops"`
}

// ReadUpgradeHistory reads upgrades.json; none yet is an empty history.
func ReadUpgradeHistory(stateDir string) ([]HopRecord, error) {
	data, err := os.ReadFile(UpgradeHistoryPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the upgrade history: %w", err)
	}
	var h upgradeHistory
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("reading the upgrade history %s: %w", UpgradeHistoryPath(stateDir), err)
	}
	return h.Hops, nil
}

// recordHop appends a hop to upgrades.json, or replaces the record of the same commit (a rerun
// records once).
func recordHop(stateDir string, rec HopRecord) error {
	hops, err := ReadUpgradeHistory(stateDir)
	if err != nil {
		return err
	}
	replaced := false
	for i, h := range hops {
		if rec.Commit != "" && h.Commit == rec.Commit && h.From == rec.From && h.To == rec.To {
			hops[i], replaced = rec, true
		}
	}
	if !replaced {
		hops = append(hops, rec)
	}
	data, err := json.MarshalIndent(upgradeHistory{Hops: hops}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the upgrade history: %w", err)
	}
	if err := atomicfile.Write(UpgradeHistoryPath(stateDir), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the hop %s → %s: %w", rec.From, rec.To, err)
	}
	return nil
}

// record turns the pending hop into its history record.
func (p *pendingUpgrade) record(outcome string, finished time.Time) HopRecord {
	return HopRecord{From: p.From, To: p.To, Commit: p.Commit, RollbackCommit: p.RollbackCommit, StartedAt: p.StartedAt,
		FinishedAt: finished, Steps: append([]StepSeconds{}, p.Steps...), Outcome: outcome, BackupSet: p.BackupSet,
		Irreversible: p.Irreversible, Failure: p.Failure}
}

// addSteps keeps the seconds of a run's steps; a resumed step adds to its earlier time.
func (p *pendingUpgrade) addSteps(res []steps.Result) {
	for _, r := range res {
		if r.Outcome == steps.NotReached {
			continue
		}
		found := false
		for i := range p.Steps {
			if p.Steps[i].ID == r.ID {
				p.Steps[i].Seconds += r.Seconds
				if r.Outcome != steps.Skipped {
					p.Steps[i].Outcome = r.Outcome
				}
				found = true
			}
		}
		if !found {
			p.Steps = append(p.Steps, StepSeconds{ID: r.ID, Outcome: r.Outcome, Seconds: r.Seconds})
		}
	}
}
