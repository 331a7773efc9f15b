package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Upgrade is `upgrade`: the appliance of this state folder moved along the train graph to To,
// one hop at a time. Each hop is one ordered step list on the step engine (gates, backup,
// images, k3s, flux, render, commit, converge, doctor, record); the dry run prints the same
// lists. A hop that fails after its commit is pushed is reverted (git revert, converge on the
// previous train) unless it carries steps that cannot be undone: then it stops, reverts
// nothing, and says how to restore the pre-upgrade backup.
type Upgrade struct {
	// StateDir is the appliance's state folder (host path, taken under Root).
	StateDir string
	// To is the target train; empty: the newest train known.
	To string
	// TrainFiles are trains given as files, beside the embedded ones; ChartsDir is searched for
	// charts before the embedded ones.
	TrainFiles []string
	ChartsDir  string
	// Bundle is the air-gap bundle of the (single) hop's train, verified and imported by the
	// images step; BundleKey and BundleInsecureSkipVerify as install's.
	Bundle, BundleKey        string
	BundleInsecureSkipVerify bool
	// Kubeconfig: the appliance runs on this existing cluster (k3s is not this host's: its step
	// is skipped).
	Kubeconfig string
	// BackupAge accepts, instead of a fresh backup and restore check, a newest consistent set
	// and a last passing restore check younger than it.
	BackupAge time.Duration
	// Timeout bounds each hop's wait for Flux (30 minutes when zero).
	Timeout time.Duration
	// DryRun prints every hop's steps and changes nothing.
	DryRun bool
	Root   host.Root
	Runner host.Runner
	// HTTPClient downloads k3s when no bundle carries it.
	HTTPClient *http.Client
	// Deadlines override the deadlines of the named steps (by step ID), as install's.
	Deadlines map[string]time.Duration
	// IgnoreChecks are doctor checks whose failure neither the gate nor the doctor step counts
	// (they still run and are reported): checks of what lies outside the appliance, knowingly.
	IgnoreChecks []string
	// Nameserver and CAFiles are doctor's, for the user-path checks (the DNS server users ask,
	// the CAs their browsers trust).
	Nameserver string
	CAFiles    []string
	// ApplianceBinary is the static docs-appliance program the k3s swap image carries to the
	// other nodes of a rollout (this program when empty).
	ApplianceBinary string

	// Result is filled by Run (also when a hop failed).
	Result *UpgradeResult

	// trains are the parsed TrainFiles.
	trains []*bundles.Train
}

// UpgradeResult is upgrade's result (-o json).
type UpgradeResult struct {
	From string      `json:"from"`
	To   string      `json:"to"`
	Path []string    `json:"path"`
	Hops []HopResult `json:"hops"`
	// Outcome: upgraded, up-to-date, rolled-back, stopped, not-started, dry-run.
	Outcome string `json:"outcome"`
	DryRun  bool   `json:"dryRun,omitempty"`
}

// HopResult is one hop of the result.
type HopResult struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Outcome string  `json:"outcome"`
	Seconds float64 `json:"seconds"`
	// RequiredStop: a later train of the path requires this one.
	RequiredStop bool `json:"requiredStop,omitempty"`
	// Irreversible are the hop's steps that cannot be undone.
	Irreversible   []bundles.Irreversible `json:"irreversible,omitempty"`
	Steps          []steps.Result         `json:"steps"`
	Commit         string                 `json:"commit,omitempty"`
	RollbackCommit string                 `json:"rollbackCommit,omitempty"`
	Failure        string                 `json:"failure,omitempty"`
	// Restore is how to restore the pre-upgrade backup (a stopped hop).
	Restore *RestoreAdvice `json:"restore,omitempty"`
}

// Outcomes of a whole upgrade beside the hops'.
const (
	UpgradeUpToDate   = "up-to-date"
	UpgradeNotStarted = "not-started"
	UpgradeDryRun     = "dry-run"
	// stepPlanned is a step of the dry run.
	stepPlanned steps.Outcome = "planned"
)

func (u *Upgrade) root() host.Root {
	if u.Root == "" {
		return "/"
	}
	return u.Root
}

func (u *Upgrade) runner() host.Runner {
	if u.Runner == nil {
		return host.ExecRunner{}
	}
	return u.Runner
}

// stateDir is the state folder as this process opens it (under Root).
func (u *Upgrade) stateDir() string { return u.root().Path(u.StateDir) }

// Run upgrades, or with DryRun prints the plan of every hop. A refused path is a
// *bundles.PathError (exit 5); a hop that failed a *HopFailedError (exit 3); a gate that failed
// before anything changed a *NotStartedError (exit 1).
func (u *Upgrade) Run(ctx context.Context, st *status.Status) (err error) {
	if _, err := os.Stat(SavedConfigPath(u.stateDir())); err != nil {
		return &NoApplianceError{StateDir: u.StateDir}
	}
	if _, err := doctor.Select(doctor.All(), u.IgnoreChecks, nil); err != nil {
		return fmt.Errorf("--ignore-check: %w", err)
	}
	trains, files, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		return err
	}
	u.trains = trains
	in, err := LoadInputs(InputOptions{StateDir: u.stateDir(), ReadOnly: true, Trains: trains, ChartsDir: u.ChartsDir})
	if err != nil {
		return fmt.Errorf("reading the installed appliance: %w", err)
	}
	pending, err := readPending(u.stateDir())
	if err != nil {
		return err
	}
	to := u.To
	if to == "" {
		to = in.Catalog.Latest().Name
	}
	from := in.Config.Train
	if pending != nil {
		if pending.Target != to {
			return &PendingUpgradeError{Pending: pending, Asked: to}
		}
		// The saved config names the hop's target once its commit is pushed: the hop itself
		// is not done until its record step.
		from = pending.From
	}
	path, err := in.Catalog.UpgradePath(from, to)
	if err != nil {
		return err
	}
	u.Result = &UpgradeResult{From: from, To: to, Path: append([]string{}, path...), Hops: []HopResult{}, DryRun: u.DryRun}
	if len(path) == 0 {
		u.Result.Outcome = UpgradeUpToDate
		st.Info("up to date: the appliance runs train %s", from)
		return nil
	}
	if u.Bundle != "" && len(path) > 1 {
		u.Result.Outcome = UpgradeNotStarted
		return &NotStartedError{Gate: "bundle", Message: fmt.Sprintf("--bundle carries one train, and the path %s → %s has %d hops (%s)", from, to, len(path), strings.Join(path, " → ")),
			Fix: fmt.Sprintf("upgrade one hop at a time: docs-appliance upgrade --to %s --bundle <the bundle of train %s>, then the next", path[0], path[0])}
	}
	hops, err := u.hops(in, files, from, path)
	if err != nil {
		return err
	}
	if u.DryRun {
		u.Result.Outcome = UpgradeDryRun
		for _, h := range hops {
			u.Result.Hops = append(u.Result.Hops, h.plan())
		}
		return nil
	}
	unlock, err := lockState(u.stateDir())
	if err != nil {
		return err
	}
	defer unlock(false)
	for n, h := range hops {
		if n == 0 {
			h.pending = pending
		}
		hr, err := h.run(ctx, st)
		u.Result.Hops = append(u.Result.Hops, hr)
		if err != nil {
			u.Result.Outcome = hr.Outcome
			return err
		}
	}
	u.Result.Outcome = HopUpgraded
	st.Info("upgraded %s → %s (%s)", from, to, strings.Join(path, " → "))
	return nil
}

// hops builds every hop of the path; a hop that moves k3s more than one minor is refused here.
func (u *Upgrade) hops(in *Inputs, files map[string]string, from string, path []string) ([]*hop, error) {
	stops := requiredStops(in.Catalog, path)
	prev, err := in.Catalog.Get(from)
	if err != nil {
		return nil, err
	}
	var out []*hop
	for _, name := range path {
		next, err := in.Catalog.Get(name)
		if err != nil {
			return nil, err
		}
		if err := checkK3sMinor(next, prev.K3s.Version, next.K3s.Version); err != nil {
			return nil, err
		}
		h := &hop{u: u, from: prev, to: next, target: path[len(path)-1], path: path, requiredStop: stops[name],
			irreversible: bundles.HopIrreversible(prev, next), files: files}
		h.list = h.steps()
		out = append(out, h)
		prev = next
	}
	return out, nil
}

// NotStartedError is an upgrade that stopped before changing anything: a gate failed (its ID
// and fix are named), or the backup could not be taken or is too old. Exit code 1.
type NotStartedError struct {
	Gate, Message, Fix string
}

func (e *NotStartedError) Error() string {
	s := fmt.Sprintf("upgrade did not start: gate %s: %s", e.Gate, e.Message)
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	return s + "; nothing was changed"
}

// HopFailedError is a hop that failed after it began changing the appliance: rolled back
// (the train back to From, the app on it) or stopped after an irreversible step. Exit code 3.
type HopFailedError struct {
	Hop HopResult
	Err error
}

// ExitHopFailed is the exit code of a failed hop and of a refused rollback.
const ExitHopFailed = 3

func (e *HopFailedError) ExitCode() int { return ExitHopFailed }
func (e *HopFailedError) Unwrap() error { return e.Err }

func (e *HopFailedError) Error() string {
	h := e.Hop
	var b strings.Builder
	switch h.Outcome {
	case HopStopped:
		why := "after a step that cannot be undone may have run"
		if len(h.Irreversible) == 0 {
			why = "and could not be reverted"
		}
		fmt.Fprintf(&b, "upgrade %s → %s failed %s: stopped, nothing reverted (the appliance keeps serving what still works on train %s)\n", h.From, h.To, why, h.To)
		for _, ir := range h.Irreversible {
			fmt.Fprintf(&b, "  cannot be undone: %s: %s\n", ir.Component, ir.Reason)
		}
		fmt.Fprintf(&b, "what failed: %s\n", h.Failure)
		if h.Restore != nil {
			b.WriteString(h.Restore.Text())
		}
		fmt.Fprintf(&b, "or fix what failed and run the same upgrade again: it waits for the hop %s → %s again", h.From, h.To)
	default:
		fmt.Fprintf(&b, "upgrade %s → %s failed and was rolled back: the desired state is train %s again", h.From, h.To, h.From)
		if h.RollbackCommit != "" {
			fmt.Fprintf(&b, " (commit %s reverted by %s)", short(h.Commit), short(h.RollbackCommit))
		} else {
			b.WriteString(" (its commit was never pushed: nothing to revert)")
		}
		fmt.Fprintf(&b, "\nwhat failed: %s", h.Failure)
	}
	for _, s := range h.Steps {
		if (s.ID == "k3s" || s.ID == "flux") && (s.Outcome == steps.Ran || s.Outcome == steps.Failed) {
			fmt.Fprintf(&b, "\nnote: step %s ran: %s stays at train %s's version (a rollback returns the desired state only)", s.ID, s.ID, h.To)
		}
	}
	return b.String()
}

// PendingUpgradeError: an earlier upgrade's hop is under way, to another target.
type PendingUpgradeError struct {
	Pending *pendingUpgrade
	Asked   string
}

func (e *PendingUpgradeError) Error() string {
	p := e.Pending
	return fmt.Sprintf("an upgrade to %s is under way (hop %s → %s, %s, recorded in %s): finish it first with `docs-appliance upgrade --to %s` (the same arguments), then upgrade to %s",
		p.Target, p.From, p.To, p.Phase, upgradePendingFile, p.Target, e.Asked)
}

// K3sMinorError is a hop that moves Kubernetes more than one minor (or back).
type K3sMinorError struct {
	Train, From, To string
}

func (e *K3sMinorError) Error() string {
	return fmt.Sprintf("train %s moves k3s from %s to %s: Kubernetes upgrades one minor at a time, forward (k3s does not protect against a skipped minor); upgrade through a train with the minor between them",
		e.Train, e.From, e.To)
}

// ExitCode: the graph refuses the hop, as a refused path.
func (e *K3sMinorError) ExitCode() int { return bundles.ExitPathRefused }

// checkK3sMinor refuses a move of more than one Kubernetes minor, or back.
func checkK3sMinor(t *bundles.Train, from, to string) error {
	a, aok := kubeMinor(from)
	b, bok := kubeMinor(to)
	if aok && bok && (b < a || b > a+1) {
		return &K3sMinorError{Train: t.Name, From: from, To: to}
	}
	return nil
}

// kubeMinor reads the minor of a k3s or kubelet version ("v1.35.2+k3s1": 35).
func kubeMinor(v string) (int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	n := 0
	for _, r := range parts[1] {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, parts[1] != ""
}

// interrupted reports a run the operator (or a kill) stopped: the pending hop stays for a rerun.
func interrupted(err error) bool {
	var ie *steps.InterruptedError
	return errors.As(err, &ie) || errors.Is(err, context.Canceled)
}
