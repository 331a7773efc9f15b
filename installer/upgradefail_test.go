package installer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// standinHops are the hops of u's path, as Run builds them; the cluster is a kubeconfig that
// does not exist, so every step that needs it fails at once.
func standinHops(t *testing.T, u *Upgrade) []*hop {
	t.Helper()
	u.DryRun, u.Kubeconfig = false, "/nonexistent/kubeconfig"
	trains, files, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		t.Fatal(err)
	}
	u.trains = trains
	in, err := LoadInputs(InputOptions{StateDir: u.stateDir(), ReadOnly: true, Trains: trains, ChartsDir: u.ChartsDir})
	if err != nil {
		t.Fatal(err)
	}
	path, err := in.Catalog.UpgradePath(in.Config.Train, "2099.03")
	if err != nil {
		t.Fatal(err)
	}
	hops, err := u.hops(in, files, in.Config.Train, path)
	if err != nil {
		t.Fatal(err)
	}
	return hops
}

// failHop gives h the pending state p and fails it with cause.
func failHop(t *testing.T, h *hop, p *pendingUpgrade, cause error) (HopResult, error) {
	t.Helper()
	h.pending = p
	if err := h.save(); err != nil {
		t.Fatal(err)
	}
	h.r = h.newRun(context.Background())
	defer h.r.close()
	return h.fail(context.Background(), status.Discard(), nil, time.Now(), cause)
}

func history(t *testing.T, h *hop) []HopRecord {
	t.Helper()
	hist, err := ReadUpgradeHistory(h.u.stateDir())
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

func pendingOf(t *testing.T, h *hop) *pendingUpgrade {
	t.Helper()
	p, err := readPending(h.u.stateDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func running(h *hop) *pendingUpgrade {
	return &pendingUpgrade{Target: "2099.03", Path: h.path, From: h.from.Name, To: h.to.Name, Phase: phaseRunning, Irreversible: h.irreversible, StartedAt: time.Now()}
}

// Before the push: a gate's failure changed nothing (exit 1, nothing recorded); any later
// failure rolls back trivially (the repository never left the previous train).
func TestUpgradeFailureBeforeThePush(t *testing.T) {
	h := standinHops(t, standinUpgrade(t, "2099.01"))[0]
	hr, err := failHop(t, h, running(h), &NotStartedError{Gate: GateDoctor, Message: "1 check(s) fail: flux"})
	var ns *NotStartedError
	if !errors.As(err, &ns) || hr.Outcome != UpgradeNotStarted || pendingOf(t, h) != nil || len(history(t, h)) != 0 {
		t.Fatalf("a gate: outcome %s, err %v, history %v", hr.Outcome, err, history(t, h))
	}
	hr, err = failHop(t, h, running(h), errors.New("images: cluster-images: 2 of 6 images missing"))
	var hf *HopFailedError
	if !errors.As(err, &hf) || hf.ExitCode() != ExitHopFailed || hr.Outcome != HopRolledBack || hr.RollbackCommit != "" {
		t.Fatalf("before the push: outcome %s, err %v", hr.Outcome, err)
	}
	if !strings.Contains(err.Error(), "never pushed: nothing to revert") || pendingOf(t, h) != nil {
		t.Errorf("err %v, pending %+v", err, pendingOf(t, h))
	}
	if hist := history(t, h); len(hist) != 1 || hist[0].Outcome != HopRolledBack || hist[0].Commit != "" {
		t.Errorf("history %+v", hist)
	}
}

// After the push of a hop with irreversible steps: stopped, nothing reverted, the restore
// command of the pre-upgrade set, no secret in it; the pending hop stays for a rerun.
func TestUpgradeFailureAfterThePushOfAnIrreversibleHop(t *testing.T) {
	u := standinUpgrade(t, "2099.02")
	h := standinHops(t, u)[0]
	if h.to.Name != "2099.03" || len(h.irreversible) != 2 {
		t.Fatalf("hop %s → %s, irreversible %v", h.from.Name, h.to.Name, h.irreversible)
	}
	p := running(h)
	p.Phase, p.IrreversibleMayHaveRun, p.Commit, p.BackupSet, p.GatesPassed = phasePushed, true, "0123456789abcdef0123456789abcdef01234567", "20991201T030000Z", true
	hr, err := failHop(t, h, p, errors.New("converge: Flux did not converge on revision main@sha1:0123"))
	var hf *HopFailedError
	if !errors.As(err, &hf) || hr.Outcome != HopStopped || hr.RollbackCommit != "" || hr.Restore == nil {
		t.Fatalf("outcome %s, err %v", hr.Outcome, err)
	}
	msg := err.Error()
	for _, want := range []string{"nothing reverted", "cannot be undone: docs:", "cannot be undone: standin-app:",
		"docs-appliance restore --from s3://", "--backup-set 20991201T030000Z", "--age-key AGE-KEY-FILE", "--train-file " + h.files["2099.02"]} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	js, _ := json.Marshal(hr)
	in, err := LoadInputs(InputOptions{StateDir: u.stateDir(), ReadOnly: true, Trains: u.trains})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range in.Store.Names() {
		if v, _ := in.Store.Get(name); len(v) >= 8 && (strings.Contains(msg, v) || strings.Contains(string(js), v)) {
			t.Errorf("the report shows secret %s", name)
		}
	}
	kept := pendingOf(t, h)
	if kept == nil || kept.Phase != phaseStopped || kept.RollbackCommit != "" {
		t.Fatalf("pending %+v", kept)
	}
	if info, err := os.Stat(UpgradePendingPath(u.stateDir())); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("pending file mode %v, %v", info.Mode(), err)
	}
	if hist := history(t, h); len(hist) != 1 || hist[0].Outcome != HopStopped {
		t.Errorf("history %+v", hist)
	}

	// With no set (the stand-in appliance runs no database, so none is taken): no restore
	// command, and the advice says what is left instead.
	p.BackupSet, p.Phase = "", phasePushed
	hr, _ = failHop(t, h, p, errors.New("converge: Flux did not converge"))
	if a := hr.Restore; a == nil || a.Command != "" || a.BackupSet != "(none)" || !strings.Contains(a.Text(), "no pre-upgrade backup set to restore") ||
		!strings.Contains(a.Text(), "reverted by hand") || strings.Contains(a.Text(), "the set was taken") {
		t.Errorf("advice without a set: %+v", a)
	}
	kept = pendingOf(t, h)
	kept.BackupSet = "20991201T030000Z"

	// A rerun of the stopped hop redoes nothing before the commit and, failing again, stops
	// again: never a rollback.
	h2 := standinHops(t, u)[0]
	h2.pending = kept
	hr, err = h2.run(context.Background(), status.Discard())
	if !errors.As(err, &hf) || hr.Outcome != HopStopped {
		t.Fatalf("rerun: outcome %s, err %v", hr.Outcome, err)
	}
	byID := map[string]steps.Result{}
	for _, r := range hr.Steps {
		byID[r.ID] = r
	}
	if byID["gates"].Outcome != steps.Skipped || byID["backup"].Outcome != steps.Skipped || byID["images"].Outcome != steps.Failed {
		t.Errorf("rerun steps %+v", hr.Steps)
	}
	if _, ok := byID["revert"]; ok {
		t.Error("a stopped hop was reverted")
	}
	if hist := history(t, h); len(hist) != 1 {
		t.Errorf("the rerun recorded the hop twice: %+v", hist)
	}
}

// After the push of a hop without irreversible steps: rolling back. The cluster does not
// answer here, so the revert step fails: the pending hop stays rolling-back, and a rerun goes
// straight to the rollback's steps.
func TestUpgradeFailureAfterThePushRollsBackAndResumesTheRollback(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	h := standinHops(t, u)[0]
	p := running(h)
	p.Phase, p.Commit, p.GatesPassed, p.BackupSet = phasePushed, "0123456789abcdef0123456789abcdef01234567", true, "20991201T030000Z"
	hr, err := failHop(t, h, p, errors.New("converge: Flux did not converge"))
	var hf *HopFailedError
	if !errors.As(err, &hf) || !strings.Contains(err.Error(), "the rollback did not finish") {
		t.Fatalf("err %v", err)
	}
	if len(hr.Steps) == 0 || hr.Steps[0].ID != "revert" || hr.Steps[0].Outcome != steps.Failed {
		t.Fatalf("steps %+v", hr.Steps)
	}
	if kept := pendingOf(t, h); kept == nil || kept.Phase != phaseRollingBack {
		t.Fatalf("pending %+v", kept)
	}
	h2 := standinHops(t, u)[0]
	h2.pending = pendingOf(t, h)
	hr, _ = h2.run(context.Background(), status.Discard())
	if hr.Steps[0].ID != "revert" {
		t.Errorf("a resumed rollback ran %v first", hr.Steps[0].ID)
	}
	// An interrupted run keeps the pending hop as it was.
	before := *pendingOf(t, h)
	_, err = h2.fail(context.Background(), status.Discard(), nil, time.Now(), &steps.InterruptedError{Step: "converge", Err: context.Canceled})
	if after := pendingOf(t, h); !interrupted(err) || after == nil || after.Phase != before.Phase {
		t.Errorf("interrupted: %v, pending %+v", err, after)
	}
}

// The pending hop decides where a rerun starts, even once the saved config names its target.
func TestUpgradeResumeStartsFromThePendingHop(t *testing.T) {
	u := standinUpgrade(t, "2099.02") // the hop's commit was pushed and the config saved
	if err := writePending(u.stateDir(), &pendingUpgrade{Target: "2099.03", From: "2099.01", To: "2099.02", Phase: phasePushed}); err != nil {
		t.Fatal(err)
	}
	u.To = "2099.03"
	if err := u.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if r := u.Result; r.From != "2099.01" || strings.Join(r.Path, ",") != "2099.02,2099.03" {
		t.Errorf("resumed from %s along %v", r.From, r.Path)
	}
	// A hop recorded twice (stopped, then upgraded on a rerun) is one record.
	dir := u.stateDir()
	rec := HopRecord{From: "2099.01", To: "2099.02", Commit: "abc", Outcome: HopStopped}
	if err := recordHop(dir, rec); err != nil {
		t.Fatal(err)
	}
	rec.Outcome = HopUpgraded
	if err := recordHop(dir, rec); err != nil {
		t.Fatal(err)
	}
	if hist, _ := ReadUpgradeHistory(dir); len(hist) != 1 || hist[0].Outcome != HopUpgraded {
		t.Errorf("history %+v", hist)
	}
}
