package installer

import (
	"context"
	"errors"
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Install takes a host (or an existing cluster) to a running appliance.
type Install struct {
	Inputs InputOptions
	// DryRun renders into OutDir and describes the plan without touching
	// the host or a cluster.
	DryRun bool
	// OutDir receives the rendered repository of a dry run.
	OutDir string
	// Kubeconfig selects an existing cluster instead of provisioning k3s.
	Kubeconfig string

	// Plan is filled by a dry run.
	Plan *Plan
}

// ErrHostInstallUnavailable is returned for a real install until the
// hand-over to a cluster (git server, Flux bootstrap, convergence) lands.
var ErrHostInstallUnavailable = errors.New("install without --dry-run is not in this build yet: use --dry-run to render and review the plan")

// Run executes the install, or its dry run.
func (i *Install) Run(ctx context.Context, st *status.Status) error {
	if !i.DryRun {
		return ErrHostInstallUnavailable
	}
	i.Inputs.ReadOnly = true
	r := &Render{Inputs: i.Inputs, OutDir: i.OutDir, AllowMissingCharts: true}
	if err := r.Run(ctx, st); err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	i.Plan = newPlan(r.In, r.Result, i.OutDir, i.Kubeconfig != "")
	return nil
}
