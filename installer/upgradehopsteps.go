package installer

// The bodies of a hop's steps. What install already does (render, clone, commit, save the
// config, Flux, converge) is install's run, on the hop's target train.

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

func (h *hop) save() error { return writePending(h.u.stateDir(), h.pending) }

// inputs loads the appliance's inputs on the hop's train once (the gates may have been passed
// by an earlier run). With a bundle imported, its charts are searched too.
func (h *hop) inputs() error {
	if h.inputsLoaded {
		return nil
	}
	in, err := LoadInputs(h.r.i.Inputs)
	if err != nil {
		return fmt.Errorf("reading the appliance's inputs on train %s: %w", h.to.Name, explainKeyError(err, h.u.stateDir()))
	}
	h.r.in, h.inputsLoaded = in, true
	return nil
}

// --- gates ---

func (h *hop) gatesDone(context.Context) (string, error) {
	if h.pending.GatesPassed {
		return "passed earlier in this hop (a resumed run)", nil
	}
	return "", nil
}

func (h *hop) gates(ctx context.Context, st *status.Status) error {
	existing := h.u.Kubeconfig != ""
	if err := h.inputs(); err != nil {
		return &NotStartedError{Gate: "inputs", Message: err.Error(), Fix: "correct the saved config or the trains given"}
	}
	in := h.r.in
	if err := checkPinned(h.to, existing); err != nil {
		return &NotStartedError{Gate: GateLocked, Message: err.Error(), Fix: "run `make lock` on a connected machine, or upgrade from the train's bundle (--bundle)"}
	}
	if _, err := gitops.FluxManifests(h.to.Flux.Version); err != nil {
		return &NotStartedError{Gate: "flux-manifests", Message: err.Error(), Fix: "use a docs-appliance release that carries train " + h.to.Name}
	}
	if _, ok := h.to.ImageFor(gitops.GitImageRepository); !ok && in.Config.Git.Mode == config.GitInCluster {
		return &NotStartedError{Gate: "git-server", Message: fmt.Sprintf("train %s pins no in-cluster git server image (%s)", h.to.Name, gitops.GitImageRepository), Fix: "use a train that pins one"}
	}
	if _, err := h.r.client(); err != nil {
		return &NotStartedError{Gate: "cluster", Message: err.Error(), Fix: "run upgrade where the cluster answers"}
	}
	g := doctorGate(ctx, quiet(), h.doctor(), nil, h.u.IgnoreChecks)
	if g.Outcome != upgrade.Pass {
		return &NotStartedError{Gate: g.ID, Message: g.Message, Fix: g.Fix + " (or, for a check of what lies outside the appliance, --ignore-check ID knowingly)"}
	}
	st.Info("gate %s: %s", g.ID, g.Message)
	up := &UpgradePlan{Kubeconfig: h.u.Kubeconfig, Root: h.u.root()}
	hp := upgrade.NewHop(upgrade.HopInput{From: h.from, To: h.to}, false)
	switch g := up.diskGate(&upgrade.Plan{Hops: []upgrade.Hop{hp}}); g.Outcome {
	case upgrade.Fail:
		return &NotStartedError{Gate: g.ID, Message: g.Message, Fix: g.Fix}
	case upgrade.NotChecked, upgrade.Warn:
		st.Warn("gate %s not checked: %s", g.ID, g.Message)
	}
	h.pending.GatesPassed = true
	return h.save()
}

// --- images ---

func (h *hop) images(ctx context.Context, st *status.Status) error {
	r := h.r
	if h.u.Bundle != "" {
		if _, err := r.i.importBundle(ctx, st); err != nil {
			return err
		}
		if r.i.bundleTrain != h.to.Name {
			return fmt.Errorf("--bundle carries train %s, and this hop goes to %s: give the bundle of train %s", r.i.bundleTrain, h.to.Name, h.to.Name)
		}
		// The render searches the bundle's charts: read the inputs again.
		h.inputsLoaded = false
		if !r.existing {
			st.Info("k3s imports the bundle's images at its restart (step k3s)")
			return nil
		}
	}
	if err := h.inputs(); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ignore := []string{"cluster-version"}
	if r.existing {
		ignore = nil // a cluster not this host's must already run a Kubernetes of the new train's range
	}
	rep, err := preflight.CheckCluster(ctx, preflight.ClusterOptions{Client: c.Kube, Train: h.to, Airgapped: r.in.Config.Airgapped, Ignore: ignore})
	if err != nil {
		return err
	}
	for _, res := range rep.Results {
		if res.Outcome == preflight.Failed {
			fix := res.Fix
			if res.ID == "cluster-images" {
				fix = "upgrade with the train's bundle: docs-appliance upgrade --to " + h.to.Name + " --bundle FILE (or load the images on every node)"
			}
			return fmt.Errorf("%s: %s (fix: %s)", res.ID, res.Detail, fix)
		}
		if res.ID == "cluster-images" {
			st.Info("%s", res.Detail)
		}
	}
	return nil
}

// --- k3s ---

func (h *hop) k3s(ctx context.Context, st *status.Status) error {
	if err := h.inputs(); err != nil {
		return err
	}
	c, err := h.r.client()
	if err != nil {
		return err
	}
	// The one-minor rule against what the node runs, not only what the trains say.
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("reading the nodes' versions: %w", err)
	}
	for _, n := range nodes.Items {
		if err := checkK3sMinor(h.to, n.Status.NodeInfo.KubeletVersion, h.to.K3s.Version); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	if len(nodes.Items) > 1 && h.from.K3s.Version != h.to.K3s.Version {
		return h.rollK3s(ctx, st, c)
	}
	return provisionK3s(ctx, st, h.r.k3sOptions())
}

// provisionK3s runs k3s's provisioning steps on this host (the binary swapped, the service
// restarted, the node Ready) and says what they did.
func provisionK3s(ctx context.Context, st *status.Status, o k3s.Options) error {
	pv, err := k3s.Steps(o)
	if err != nil {
		return err
	}
	res, err := steps.Run(ctx, st, pv.Steps)
	if err != nil {
		return err
	}
	pv.Summarize(st, res)
	return nil
}

// --- flux ---

func (h *hop) cloned(ctx context.Context) error {
	if h.r.repo != nil {
		return nil
	}
	if err := h.inputs(); err != nil {
		return err
	}
	return h.r.clone(ctx, nil)
}

func (h *hop) fluxDone(ctx context.Context) (string, error) {
	if err := h.cloned(ctx); err != nil {
		return "", err
	}
	return h.r.fluxDone(ctx)
}

func (h *hop) flux(ctx context.Context, st *status.Status) error { return h.r.flux(ctx, st) }

// --- render, commit ---

func (h *hop) render(ctx context.Context, st *status.Status) error {
	if err := h.inputs(); err != nil {
		return err
	}
	return h.r.render(ctx, st)
}

// commitSubject is the first line of the hop's commit.
func (h *hop) commitSubject() string { return fmt.Sprintf("upgrade %s → %s", h.from.Name, h.to.Name) }

// commitPreamble lists the hop's version changes, for the commit body.
func (h *hop) commitPreamble() string {
	hp := upgrade.NewHop(upgrade.HopInput{From: h.from, To: h.to}, false)
	var b strings.Builder
	b.WriteString("Version changes:\n")
	for _, c := range append([]upgrade.Change{hp.K3s, hp.Flux, hp.Docs}, append(hp.Charts, hp.Images...)...) {
		if c.Changed() {
			fmt.Fprintf(&b, "  %s: %s → %s\n", c.Name, orDash(c.From), orDash(c.To))
		}
	}
	for _, ir := range h.irreversible {
		fmt.Fprintf(&b, "Cannot be undone: %s: %s\n", ir.Component, ir.Reason)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// commitDone: the repository's head already holds the hop's render (a resumed run) and the
// saved config names the hop's train.
func (h *hop) commitDone(ctx context.Context) (string, error) {
	if err := h.cloned(ctx); err != nil {
		return "", err
	}
	h.r.subject, h.r.preamble = h.commitSubject(), h.commitPreamble()
	done, err := h.r.commitDone(ctx)
	if err != nil || done == "" {
		return "", err
	}
	head, err := h.r.repo.Head()
	if err != nil {
		return "", err
	}
	if h.pending.Commit == "" {
		h.pending.Commit = head
	}
	if h.pending.Phase == phaseRunning {
		h.markPushed()
	}
	if err := h.save(); err != nil {
		return "", err
	}
	if saved, _ := h.r.configSaved(ctx); saved == "" {
		return "", nil
	}
	return done, nil
}

// markPushed: from here Flux may apply the hop at any time, irreversible steps included.
func (h *hop) markPushed() {
	h.pending.Phase = phasePushed
	h.pending.IrreversibleMayHaveRun = len(h.irreversible) > 0
}

func (h *hop) commit(ctx context.Context, st *status.Status) error {
	if h.r.staged.Changed {
		if err := h.r.validateRender(ctx); err != nil {
			return err
		}
		// Conservative: recorded before the push, so a kill between the two counts as pushed.
		h.markPushed()
		if err := h.save(); err != nil {
			return err
		}
		if err := h.r.publish(ctx, st); err != nil {
			return err
		}
		h.pending.Commit = h.r.pub.Head
		if err := h.save(); err != nil {
			return err
		}
	}
	return h.r.saveConfig(ctx, st)
}

// --- converge, doctor, record ---

func (h *hop) convergeDone(ctx context.Context) (string, error) { return h.r.convergeDone(ctx) }

func (h *hop) converge(ctx context.Context, st *status.Status) error { return h.r.converge(ctx, st) }

// doctor is doctor on the appliance of the state folder, every train of the upgrade known.
func (h *hop) doctor() *Doctor {
	u := h.u
	return &Doctor{StateDir: u.StateDir, Trains: u.trains, Kubeconfig: u.Kubeconfig, Root: u.root(), Runner: u.runner(),
		Nameserver: u.Nameserver, CAFiles: u.CAFiles}
}

func (h *hop) checkApp(ctx context.Context, st *status.Status) error {
	d := h.doctor()
	// Right after convergence the edge may still be loading what Flux applied: look again for
	// a while before calling a failure the hop's.
	deadline := time.Now().Add(userPathSettle)
	for {
		if err := d.Run(ctx, quiet()); err != nil {
			return err
		}
		failed, ignored := splitIgnored(d.Report.IDs(doctor.Failed), h.u.IgnoreChecks)
		if len(ignored) > 0 {
			st.Warn("doctor: ignored (--ignore-check): %s", strings.Join(ignored, ", "))
		}
		if len(failed) == 0 {
			st.Info("doctor: no check fails (%d run)", len(d.Report.Results))
			return nil
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, id := range failed {
				res, _ := d.Report.Get(id)
				lines = append(lines, fmt.Sprintf("%s: %s", id, oneLine(res.Detail)))
			}
			return fmt.Errorf("doctor finds %d failure(s) on train %s: %s", len(failed), h.to.Name, strings.Join(lines, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

func (h *hop) record(context.Context, *status.Status) error {
	if err := recordHop(h.u.stateDir(), h.pending.record(HopUpgraded, time.Now().UTC())); err != nil {
		return err
	}
	return removePending(h.u.stateDir())
}
