package installer

// When a hop goes wrong: before its push nothing is reverted (the desired state never left the
// previous train); after it, without irreversible steps, the hop's commit is reverted by a new
// commit and Flux converges on the previous train; with irreversible steps nothing is reverted
// and the way back is the pre-upgrade backup. Rollback (the command) runs the same revert steps.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// fail decides what a failed hop does, by how far it got (the irreversible rule).
func (h *hop) fail(ctx context.Context, st *status.Status, res []steps.Result, start time.Time, cause error) (HopResult, error) {
	hr := h.result(res, start)
	hr.Failure = cause.Error()
	p, dir := h.pending, h.u.stateDir()
	if interrupted(cause) {
		hr.Outcome = "interrupted"
		return hr, errors.Join(cause, h.save())
	}
	p.Failure = cause.Error()
	var ns *NotStartedError
	switch {
	case p.Phase == phaseRunning && errors.As(cause, &ns):
		hr.Outcome = UpgradeNotStarted
		return hr, errors.Join(cause, removePending(dir))
	case p.Phase == phaseRunning:
		// Nothing was pushed: the repository still holds the previous train.
		hr.Outcome = HopRolledBack
		st.Warn("the hop %s → %s failed before its commit was pushed: the desired state is still train %s, nothing to revert", h.from.Name, h.to.Name, h.from.Name)
		err := errors.Join(recordHop(dir, p.record(HopRolledBack, time.Now().UTC())), removePending(dir))
		return hr, errors.Join(&HopFailedError{Hop: hr, Err: cause}, err)
	case p.IrreversibleMayHaveRun || p.Phase == phaseStopped:
		p.Phase = phaseStopped
		hr.Outcome = HopStopped
		hr.Restore = h.restoreAdvice()
		err := errors.Join(h.save(), recordHop(dir, p.record(HopStopped, time.Now().UTC())))
		return hr, errors.Join(&HopFailedError{Hop: hr, Err: cause}, err)
	}
	p.Phase = phaseRollingBack
	if err := h.save(); err != nil {
		return hr, errors.Join(cause, err)
	}
	st.Warn("the hop %s → %s failed after its commit was pushed, and nothing in it is irreversible: rolling back to train %s", h.from.Name, h.to.Name, h.from.Name)
	return h.finishRollback(ctx, st, res, start, cause)
}

// finishRollback runs the rollback's steps for the pending hop (a resumed rollback too) and
// reports the hop as rolled back; cause is why (nil for the rollback command).
func (h *hop) finishRollback(ctx context.Context, st *status.Status, res []steps.Result, start time.Time, cause error) (HopResult, error) {
	rres, err := steps.Run(ctx, st, steps.WithDeadlines(h.track(h.rollbackSteps()), h.u.Deadlines))
	hr := h.result(append(append([]steps.Result{}, res...), rres...), start)
	hr.Outcome = HopRolledBack
	if cause != nil {
		hr.Failure = cause.Error()
	}
	switch {
	case err != nil && interrupted(err):
		hr.Outcome = phaseRollingBack
		return hr, err
	case err != nil:
		var ce *RevertConflictError
		if errors.As(err, &ce) {
			refused := &RollbackRefusedError{From: h.from.Name, To: h.to.Name, Reason: err.Error(), Conflict: ce}
			if cause == nil {
				// Nothing was written: the hop stands, as the operator had it.
				return hr, errors.Join(refused, removePending(h.u.stateDir()))
			}
			// Commits landed after the failed hop's: nothing reverted; stop as after an
			// irreversible step, and a rerun waits for the hop again.
			h.pending.Phase, hr.Outcome, hr.Restore = phaseStopped, HopStopped, h.restoreAdvice()
			hr.Failure += "; and it cannot be reverted: " + refused.Error()
			return hr, errors.Join(&HopFailedError{Hop: hr, Err: cause}, h.save())
		}
		hr.Failure = strings.TrimPrefix(hr.Failure+"; ", "; ") + "and the rollback did not finish: " + err.Error() + " (run the same command again to finish it)"
		if cause == nil {
			return hr, fmt.Errorf("rolling back %s → %s: %w", h.to.Name, h.from.Name, err)
		}
		return hr, &HopFailedError{Hop: hr, Err: errors.Join(cause, err)}
	case cause == nil:
		return hr, nil
	}
	return hr, &HopFailedError{Hop: hr, Err: cause}
}

// rollbackSubject is the first line of the revert commit.
func (h *hop) rollbackSubject() string {
	return fmt.Sprintf("rollback %s → %s", h.to.Name, h.from.Name)
}

// rollbackSteps revert the hop's commit, put the saved config back on the previous train, wait
// for Flux and record the hop as rolled back.
func (h *hop) rollbackSteps() []steps.Step {
	t := func(s string) string { return fmt.Sprintf("%s → %s (rollback): %s", h.to.Name, h.from.Name, s) }
	return []steps.Step{
		&steps.Func{Name: "revert", Describe: t(fmt.Sprintf("Reverting the hop's commit (upgrade %s → %s) with a new commit and pushing it", h.from.Name, h.to.Name)),
			CheckFunc: h.revertDone, RunFunc: h.revert, Deadline: 2 * gitDeadline, Remote: "the desired-state repository"},
		&steps.Func{Name: "restore-config", Describe: t("Saving the config on train " + h.from.Name + " again (" + SavedConfigPath(h.u.StateDir) + ")"),
			CheckFunc: h.previousConfigSaved, RunFunc: h.savePreviousConfig, Deadline: saveDeadline},
		&steps.Func{Name: "converge-previous", Describe: t("Waiting for Flux to apply train " + h.from.Name + " again (every Kustomization Ready)"),
			CheckFunc: h.previousConverged, RunFunc: h.convergePrevious, Deadline: orDefault(h.u.Timeout, 30*time.Minute) + time.Minute, Remote: "Flux"},
		&steps.Func{Name: "record-rollback", Describe: t("Recording the rollback (" + upgradeHistoryFile + ")"), RunFunc: h.recordRollback, Deadline: saveDeadline},
	}
}

// revertDone looks at the repository afresh (the run's clone may hold a commit whose push
// failed): its head already reverts the hop, or the hop's commit never reached it.
func (h *hop) revertDone(ctx context.Context) (string, error) {
	h.r.repo = nil
	if err := h.cloned(ctx); err != nil {
		return "", err
	}
	head, err := h.r.repo.Head()
	if err != nil {
		return "", err
	}
	subject, err := commitSubject(h.r.repo.Dir(), head)
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(subject, h.rollbackSubject()):
		h.pending.RollbackCommit = head
		return fmt.Sprintf("the repository's head %s already reverts the hop", short(head)), h.save()
	case h.pending.Commit == "" && strings.HasPrefix(subject, h.commitSubject()):
		// Pushed, though the run did not learn the hash.
		h.pending.Commit = head
		return "", h.save()
	case h.pending.Commit == "":
		return "the hop's commit never reached the repository: nothing to revert", nil
	}
	return "", nil
}

func (h *hop) revert(ctx context.Context, st *status.Status) error {
	msg := fmt.Sprintf("%s\n\nThis reverts commit %s (upgrade %s → %s).\n", h.rollbackSubject(), h.pending.Commit, h.from.Name, h.to.Name)
	if h.pending.Failure != "" {
		msg += "\nWhy: " + oneLine(h.pending.Failure) + "\n"
	}
	files, err := revertCommit(h.r.repo.Dir(), h.pending.Commit)
	if err != nil {
		return err
	}
	// The tree of a commit validated when it was pushed.
	h.r.repo.ValidatedBy("docs-appliance rollback to train " + h.from.Name + ": the tree of an earlier validated commit")
	hash, err := h.r.repo.Commit(h.r.author(), msg)
	if err != nil {
		return err
	}
	if err := h.r.repo.Push(ctx); err != nil {
		return err
	}
	h.pending.RollbackCommit = hash
	st.Info("committed %s: %s (%d files back as they were)", short(hash), h.rollbackSubject(), len(files))
	if err := gitops.RequestReconcile(ctx, h.r.c, gitops.GitRepositoryGVR, gitops.FluxName); err != nil {
		st.Warn("%v", err)
	}
	return h.save()
}

// previousConfig is the saved config with the previous train.
func (h *hop) previousConfig() (*config.Config, error) {
	cfg, err := config.Load(SavedConfigPath(h.u.stateDir()))
	if err != nil {
		return nil, fmt.Errorf("reading the saved config: %w", err)
	}
	cfg.Train = h.from.Name
	return cfg, nil
}

func (h *hop) previousConfigSaved(context.Context) (string, error) {
	cfg, err := config.Load(SavedConfigPath(h.u.stateDir()))
	if err == nil && cfg.Train == h.from.Name {
		return "the saved config is on train " + h.from.Name, nil
	}
	return "", nil
}

func (h *hop) savePreviousConfig(context.Context, *status.Status) error {
	cfg, err := h.previousConfig()
	if err != nil {
		return err
	}
	return cfg.Save(SavedConfigPath(h.u.stateDir()))
}

// layersAtHead are the Kustomizations the reverted tree declares (clusters/<env>/<layer>.yaml),
// with Flux's own first.
func (h *hop) layersAtHead() ([]string, string, error) {
	head, err := h.r.head()
	if err != nil {
		return nil, "", err
	}
	env := h.r.in.Config.Environment
	entries, err := os.ReadDir(path.Join(h.r.repo.Dir(), gitops.TargetPath(env)))
	if err != nil {
		return nil, "", fmt.Errorf("listing the layers of %s: %w", gitops.TargetPath(env), err)
	}
	layers := []string{gitops.FluxName}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			layers = append(layers, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	return layers, h.r.repo.Revision(head), nil
}

func (h *hop) previousConverged(ctx context.Context) (string, error) {
	layers, rev, err := h.layersAtHead()
	if err != nil {
		return "", err
	}
	return gitops.Converged(ctx, h.r.c, layers, rev)
}

func (h *hop) convergePrevious(ctx context.Context, st *status.Status) error {
	layers, rev, err := h.layersAtHead()
	if err != nil {
		return err
	}
	_, err = gitops.Converge(ctx, h.r.c, gitops.ConvergeOptions{Names: layers, Revision: rev, Timeout: orDefault(h.u.Timeout, 30*time.Minute)}, st)
	if err != nil {
		return fmt.Errorf("the previous train %s did not converge either: %w", h.from.Name, err)
	}
	return nil
}

func (h *hop) recordRollback(context.Context, *status.Status) error {
	dir := h.u.stateDir()
	if err := recordHop(dir, h.pending.record(HopRolledBack, time.Now().UTC())); err != nil {
		return err
	}
	return removePending(dir)
}

// RestoreAdvice is how to get back to before a hop that cannot be undone: the pre-upgrade
// backup set and the restore command, with files where the secrets go (never their values).
type RestoreAdvice struct {
	BackupSet string `json:"backupSet"`
	// Command is the restore command line; empty when no set was taken.
	Command string   `json:"command,omitempty"`
	Notes   []string `json:"notes"`
}

// Text is the advice for a terminal.
func (a *RestoreAdvice) Text() string {
	var b strings.Builder
	if a.Command == "" {
		b.WriteString("no pre-upgrade backup set to restore:\n")
	} else {
		fmt.Fprintf(&b, "to restore the pre-upgrade backup set %s:\n  %s\n", a.BackupSet, a.Command)
	}
	for _, n := range a.Notes {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	return b.String()
}

// restoreAdvice builds the restore command of the hop's pre-upgrade set.
func (h *hop) restoreAdvice() *RestoreAdvice {
	cfg, err := config.Load(SavedConfigPath(h.u.stateDir()))
	if err != nil {
		cfg = &config.Config{}
	}
	if h.noDatabase() != "" && h.pending.BackupSet == "" {
		// No set to restore: what is left is the repository's history.
		return &RestoreAdvice{BackupSet: "(none)", Notes: []string{
			fmt.Sprintf("no backup set was taken for this hop: the appliance runs no database (train %s carries no cloudnative-pg)", h.from.Name),
			fmt.Sprintf("what is left is the repository's history: once the step that cannot be undone is understood, the hop's commit %s can be reverted by hand (git revert), or fixed forward with a new train", orDash(short(h.pending.Commit))),
		}}
	}
	return restoreAdvice(cfg, h.pending.BackupSet, h.files[h.from.Name], h.u.StateDir)
}

func restoreAdvice(cfg *config.Config, set, trainFile, stateDir string) *RestoreAdvice {
	loc := backupLocation(cfg)
	endpoint := loc.Endpoint
	a := &RestoreAdvice{BackupSet: set}
	if loc.Embedded {
		endpoint = "ENDPOINT"
		a.Notes = append(a.Notes, "the backups are in the embedded object store, on this server's volumes: serve a copy of them over S3 and give its URL as ENDPOINT")
	}
	if set == "" {
		a.BackupSet = "(the newest consistent set: docs-appliance backup list)"
	}
	prefix := strings.Trim(loc.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	args := []string{"docs-appliance", "restore", "--from", "s3://" + loc.Bucket + "/" + prefix, "--endpoint", endpoint,
		"--age-key", "AGE-KEY-FILE", "--secret", config.SecretBackupAccessKeyID + "=ACCESS-KEY-ID-FILE",
		"--secret", config.SecretBackupSecretAccessKey + "=SECRET-ACCESS-KEY-FILE"}
	if set != "" {
		args = append(args, "--backup-set", set)
	}
	if trainFile != "" {
		args = append(args, "--train-file", trainFile)
	}
	a.Command = strings.Join(args, " ")
	a.Notes = append(a.Notes,
		"AGE-KEY-FILE is the offline copy of "+path.Join(stateDir, "age.key")+"; ACCESS-KEY-ID-FILE and SECRET-ACCESS-KEY-FILE each hold only the backup target's key",
		"restore rebuilds the appliance on a server without one: run it on a fresh server, or after docs-appliance reset on this one",
		"the set was taken before the hop, on the previous train: the restored appliance runs that train")
	return a
}
