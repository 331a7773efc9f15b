package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/upgrade"
)

// UpgradePlan is `upgrade --plan`: read-only, offline where it must be. From
// the train the appliance of this state folder runs (its saved config), the
// path to the target through the train graph, per hop the version changes
// and the exact change of the desired state (the saved config rendered in
// memory with the hop's two trains, the same secrets and recipients), what
// cannot be undone, and the gates as they stand now.
type UpgradePlan struct {
	StateDir string
	// To is the target train; empty: the newest train known.
	To string
	// TrainFiles are trains given as files, beside the embedded ones.
	TrainFiles []string
	// ChartsDir is searched for charts before the embedded ones.
	ChartsDir string
	// Kubeconfig: the appliance runs on this existing cluster. Empty: k3s
	// on this host.
	Kubeconfig string
	Root       host.Root
	Runner     host.Runner
	// Diff keeps every file's whole diff in the plan.
	Diff bool
	// IgnoreChecks are doctor checks the doctor gate reports and does not count, as upgrade's.
	IgnoreChecks []string
	// FreeSpace measures a host path's filesystem (Root.FreeSpace when nil).
	FreeSpace func(path string) (host.DiskSpace, error)

	// Plan is filled by Run.
	Plan *upgrade.Plan
	// trains are the parsed TrainFiles, for doctor.
	trains []*bundles.Train
}

// Run computes the plan. An error means there is no plan (no appliance, a
// refused path: *bundles.PathError); the gates' outcome is Plan.Err.
func (u *UpgradePlan) Run(ctx context.Context, st *status.Status) error {
	if _, err := os.Stat(SavedConfigPath(u.StateDir)); err != nil {
		return &NoApplianceError{StateDir: u.StateDir}
	}
	if _, err := doctor.Select(doctor.All(), u.IgnoreChecks, nil); err != nil {
		return fmt.Errorf("--ignore-check: %w", err)
	}
	trains, _, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		return err
	}
	st.Start("reading the installed appliance's config and secrets")
	in, err := LoadInputs(InputOptions{StateDir: u.StateDir, ReadOnly: true, Trains: trains, ChartsDir: u.ChartsDir})
	if st.End(err) != nil {
		return fmt.Errorf("reading the installed appliance: %w", err)
	}
	u.trains = trains
	to := u.To
	if to == "" {
		to = in.Catalog.Latest().Name
	}
	path, err := in.Catalog.UpgradePath(in.Config.Train, to)
	if err != nil {
		return err
	}
	p := &upgrade.Plan{Environment: in.Config.Environment, From: in.Config.Train, To: to, Path: append([]string{}, path...), Hops: []upgrade.Hop{}, Diff: u.Diff}
	stops := requiredStops(in.Catalog, path)
	prev := in.Train
	before, missingBefore, err := u.desiredState(ctx, in, prev)
	if err != nil {
		return err
	}
	for _, name := range path {
		next, err := in.Catalog.Get(name)
		if err != nil {
			return err
		}
		st.Start(fmt.Sprintf("rendering train %s for the hop %s → %s", name, prev.Name, name))
		after, missingAfter, err := u.desiredState(ctx, in, next)
		if st.End(err) != nil {
			return err
		}
		p.Hops = append(p.Hops, upgrade.NewHop(upgrade.HopInput{From: prev, To: next, Before: before, After: after,
			RequiredStop: stops[name], NotRendered: append(append([]string{}, missingBefore...), missingAfter...)}, u.Diff))
		prev, before, missingBefore = next, after, missingAfter
	}
	if len(p.Hops) > 0 {
		p.Gates = u.gates(ctx, st, in, p)
	}
	u.Plan = p
	return nil
}

// desiredState renders the appliance's config with train t, in memory, and
// adds the config record gitops commits beside the render. A chart this
// build does not carry is left out and named (the hop says its change is
// not in the diff).
func (u *UpgradePlan) desiredState(ctx context.Context, in *Inputs, t *bundles.Train) ([]upgrade.File, []string, error) {
	cfg := *in.Config
	cfg.Train = t.Name
	res, err := render.Render(ctx, render.Options{
		Config: &cfg, Train: t, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store,
		Recipients: in.Recipients(), AllowMissingCharts: true, Branding: in.Branding,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rendering train %s: %w", t.Name, err)
	}
	record, err := gitops.RecordedConfig(&cfg)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, m := range res.Missing {
		missing = append(missing, m.Chart.Name+" "+m.Chart.Version)
	}
	return append(append([]upgrade.File{}, res.Files...), upgrade.File{Path: gitops.ConfigFile(cfg.Environment), Content: record}), missing, nil
}

// requiredStops are the trains of the path some later train of the path requires.
func requiredStops(cat *bundles.Catalog, path []string) map[string]bool {
	out := map[string]bool{}
	for _, n := range path {
		t, _ := cat.Get(n)
		for _, s := range t.RequiredStops {
			out[s] = true
		}
	}
	return out
}

// readTrainFiles parses --train-file trains, oldest first (a train's
// required stop must be known when it is added), and says which file holds which train.
func readTrainFiles(files []string) ([]*bundles.Train, map[string]string, error) {
	var out []*bundles.Train
	byName := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading --train-file: %w", err)
		}
		t, err := bundles.ParseTrain(data)
		if err != nil {
			return nil, nil, fmt.Errorf("loading --train-file %s: %w", f, err)
		}
		out = append(out, t)
		if abs, err := filepath.Abs(f); err == nil {
			f = abs // messages name it, for commands run elsewhere
		}
		byName[t.Name] = f
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, byName, nil
}

func (u *UpgradePlan) root() host.Root {
	if u.Root == "" {
		return "/"
	}
	return u.Root
}
