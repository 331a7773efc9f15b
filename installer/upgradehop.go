package installer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Deadlines of upgrade's own steps; the steps install shares keep install's.
const (
	gatesDeadline    = 10 * time.Minute // doctor's checks included
	backupDeadline   = DefaultRestoreCheckTimeout + time.Hour
	doctorDeadline   = 5 * time.Minute
	kubeStepDeadline = 2*20*time.Minute + 15*time.Minute // download, images, restart, node Ready
)

// hop is one upgrade from a train to the next: its step list and what its steps share. The
// render, clone, commit, flux and converge work is install's (run), on the hop's target train.
type hop struct {
	u            *Upgrade
	from, to     *bundles.Train
	target       string
	path         []string
	requiredStop bool
	irreversible []bundles.Irreversible
	files        map[string]string
	list         []steps.Step
	pending      *pendingUpgrade
	r            *run
	inputsLoaded bool
}

// title puts the hop in front of a step's title: the status line and the plan say which hop.
func (h *hop) title(s string) string { return fmt.Sprintf("%s → %s: %s", h.from.Name, h.to.Name, s) }

// k3sSkip is why the k3s step has nothing to do whatever the facts: not this host's k3s, or
// the version does not change (and no bundle brings images for k3s to import).
func (h *hop) k3sSkip() string {
	switch {
	case h.u.Kubeconfig != "":
		return "the cluster is not this host's k3s (--kubeconfig): its Kubernetes is upgraded by whoever runs it"
	case h.from.K3s.Version == h.to.K3s.Version && h.u.Bundle == "":
		return "k3s stays " + h.to.K3s.Version
	}
	return ""
}

// fluxSkip is why the flux step has nothing to do whatever the facts.
func (h *hop) fluxSkip() string {
	if h.from.Flux.Version == h.to.Flux.Version {
		return "Flux stays " + h.to.Flux.Version
	}
	return ""
}

// steps is the hop's ordered list: the dry run prints it, the run runs it.
func (h *hop) steps() []steps.Step {
	backupTitle := "Taking a backup set now and checking that it restores (backup now, restore-check now)"
	if h.u.BackupAge > 0 {
		backupTitle = fmt.Sprintf("Checking that the newest consistent backup set and the last passing restore check are younger than %s (--backup-age)", h.u.BackupAge)
	}
	imagesTitle := fmt.Sprintf("Checking that the %d images of train %s are on every node", len(h.to.Images), h.to.Name)
	if h.u.Bundle != "" {
		imagesTitle = fmt.Sprintf("Verifying and importing the bundle of train %s, then checking its images", h.to.Name)
	}
	k3sTitle := fmt.Sprintf("Upgrading k3s %s → %s (pinned binary swapped, service restarted, node Ready; on several nodes one at a time, servers first, each cordoned and drained, then uncordoned)", h.from.K3s.Version, h.to.K3s.Version)
	if h.from.K3s.Version == h.to.K3s.Version {
		k3sTitle = fmt.Sprintf("Placing the bundle's images for k3s %s to import (service restarted, node Ready)", h.to.K3s.Version)
	}
	fluxTitle := fmt.Sprintf("Upgrading Flux %s → %s (controllers from manifests in this binary)", h.from.Flux.Version, h.to.Flux.Version)
	if h.from.Flux.Version == h.to.Flux.Version {
		fluxTitle = "Keeping Flux " + h.to.Flux.Version
	}
	static := func(why string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return why, nil }
	}
	k3sCheck, fluxCheck := static(h.k3sSkip()), h.fluxDone
	if h.fluxSkip() != "" {
		fluxCheck = static(h.fluxSkip())
	}
	timeout := orDefault(h.u.Timeout, 30*time.Minute)
	return []steps.Step{
		&steps.Func{Name: "gates", Describe: h.title("Checking the gates (train locked, the cluster answers, doctor finds no failure, enough disk)"),
			CheckFunc: h.gatesDone, RunFunc: h.gates, Deadline: gatesDeadline, Remote: "the API server"},
		&steps.Func{Name: "backup", Describe: h.title(backupTitle),
			CheckFunc: h.backupDone, RunFunc: h.backup, Deadline: backupDeadline, Remote: "the backup target and the restore-check Job"},
		&steps.Func{Name: "images", Describe: h.title(imagesTitle), RunFunc: h.images, Deadline: bundleDeadline, Remote: "the API server"},
		// A rollout bounds each node (drain, swap, return) by itself; the step's deadline is a ceiling for five.
		&steps.Func{Name: "k3s", Describe: h.title(k3sTitle), CheckFunc: k3sCheck, RunFunc: h.k3s, Deadline: kubeStepDeadline + 5*3*rolloutNodeDeadline},
		&steps.Func{Name: "flux", Describe: h.title(fluxTitle),
			CheckFunc: fluxCheck, RunFunc: h.flux, Deadline: 4*5*time.Minute + 2*gitDeadline, Remote: "the desired-state repository and the API server"},
		&steps.Func{Name: "render", Describe: h.title("Rendering train " + h.to.Name + " with the appliance's config"), RunFunc: h.render, Deadline: inputsDeadline},
		&steps.Func{Name: "commit", Describe: h.title(fmt.Sprintf("Committing the render as one commit (upgrade %s → %s) and pushing it", h.from.Name, h.to.Name)),
			CheckFunc: h.commitDone, RunFunc: h.commit, Deadline: 2 * gitDeadline, Remote: "the desired-state repository"},
		&steps.Func{Name: "converge", Describe: h.title("Waiting for Flux to apply train " + h.to.Name + " (every Kustomization Ready)"),
			CheckFunc: h.convergeDone, RunFunc: h.converge, Deadline: timeout + time.Minute, Remote: "Flux"},
		&steps.Func{Name: "doctor", Describe: h.title("Checking the appliance on train " + h.to.Name + " (doctor finds no failure)"),
			RunFunc: h.checkApp, Deadline: doctorDeadline, Remote: "the appliance"},
		&steps.Func{Name: "record", Describe: h.title("Recording the hop (" + upgradeHistoryFile + ")"), RunFunc: h.record, Deadline: saveDeadline},
	}
}

// plan is the hop as the dry run shows it: every step, those skipped whatever the facts say why.
func (h *hop) plan() HopResult {
	hr := HopResult{From: h.from.Name, To: h.to.Name, Outcome: string(stepPlanned), RequiredStop: h.requiredStop, Irreversible: h.irreversible, Steps: []steps.Result{}}
	for _, s := range steps.WithDeadlines(h.list, h.u.Deadlines) {
		r := steps.Result{ID: s.ID(), Title: s.Title(), Outcome: stepPlanned}
		switch s.ID() {
		case "backup":
			r.Why = h.noDatabase()
		case "k3s":
			r.Why = h.k3sSkip()
		case "flux":
			r.Why = h.fluxSkip()
		}
		if r.Why != "" {
			r.Outcome = steps.Skipped
		}
		hr.Steps = append(hr.Steps, r)
	}
	return hr
}

// run runs the hop, resuming its pending record; a failure goes to fail (rollback or stop).
func (h *hop) run(ctx context.Context, st *status.Status) (HopResult, error) {
	start := time.Now()
	dir := h.u.stateDir()
	if h.pending == nil {
		h.pending = &pendingUpgrade{Target: h.target, Path: h.path, From: h.from.Name, To: h.to.Name, Phase: phaseRunning,
			Irreversible: h.irreversible, StartedAt: start.UTC()}
		if err := writePending(dir, h.pending); err != nil {
			return HopResult{From: h.from.Name, To: h.to.Name, Outcome: UpgradeNotStarted}, err
		}
	} else {
		st.Info("resuming the hop %s → %s (%s since %s)", h.from.Name, h.to.Name, h.pending.Phase, h.pending.StartedAt.Format(time.RFC3339))
	}
	h.r = h.newRun(ctx)
	defer h.r.close()
	if h.pending.Phase == phaseRollingBack {
		return h.finishRollback(ctx, st, nil, start, fmt.Errorf("%s", h.pending.Failure))
	}
	res, err := steps.Run(ctx, st, steps.WithDeadlines(h.track(h.list), h.u.Deadlines))
	hr := h.result(res, start)
	if err == nil {
		hr.Outcome = HopUpgraded
		st.Info("hop %s → %s done in %s", h.from.Name, h.to.Name, time.Since(start).Round(time.Second))
		return hr, nil
	}
	return h.fail(ctx, st, res, start, err)
}

func (h *hop) result(res []steps.Result, start time.Time) HopResult {
	return HopResult{From: h.from.Name, To: h.to.Name, Seconds: time.Since(start).Seconds(), RequiredStop: h.requiredStop,
		Irreversible: h.irreversible, Steps: res, Commit: h.pending.Commit, RollbackCommit: h.pending.RollbackCommit}
}

// newRun is install's machinery for the hop: the inputs on the hop's target train, the cluster
// and the repository as install reaches them.
func (h *hop) newRun(ctx context.Context) *run {
	u := h.u
	i := &Install{
		Inputs:     InputOptions{StateDir: u.stateDir(), Trains: u.trains, ChartsDir: u.ChartsDir, Sets: []string{"train=" + h.to.Name}},
		Kubeconfig: u.Kubeconfig, Bundle: u.Bundle, BundleKey: u.BundleKey, BundleInsecureSkipVerify: u.BundleInsecureSkipVerify,
		Root: u.root(), Runner: u.runner(), Timeout: u.Timeout, HTTPClient: u.HTTPClient, locked: true, upgrading: true,
	}
	return &run{i: i, existing: u.Kubeconfig != "", life: ctx}
}

// track records each step's seconds in the pending hop as it ends (the record step writes
// them into the history, and a resumed step adds to its earlier time).
func (h *hop) track(list []steps.Step) []steps.Step {
	out := make([]steps.Step, len(list))
	for n, s := range list {
		f, ok := s.(*steps.Func)
		if !ok {
			out[n] = s
			continue
		}
		g := *f
		g.RunFunc = func(ctx context.Context, st *status.Status) error {
			start := time.Now()
			err := f.RunFunc(ctx, st)
			outcome := steps.Ran
			if err != nil {
				outcome = steps.Failed
			}
			h.pending.addSteps([]steps.Result{{ID: f.Name, Outcome: outcome, Seconds: time.Since(start).Seconds()}})
			return err
		}
		out[n] = &g
	}
	return out
}

// quiet is a status for nested actions whose own lines would interleave with the step's.
func quiet() *status.Status { return status.New(io.Discard, status.Plain) }
