package installer

import (
	"context"
	"fmt"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
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
	// Bundle is an air-gap bundle to import first (install --bundle): its
	// k3s artifacts, images and charts are what the install uses.
	Bundle string
	// BundleKey is the public key file the bundle's signature must verify
	// with, instead of the release key built into the binary.
	BundleKey string
	// BundleInsecureSkipVerify accepts a bundle whose signature cannot be
	// checked, on its integrity alone (--insecure-skip-bundle-verify).
	BundleInsecureSkipVerify bool
	// NonInteractive never prompts: every answer comes from the config,
	// --set and --secret (otherwise the wizard asks on a first run).
	NonInteractive bool
	// Root is the host filesystem ("/"); tests point it at a temp folder.
	Root host.Root
	// Runner runs host commands (argv lists).
	Runner host.Runner
	// IgnorePreflight names host (or cluster) checks to skip, knowingly.
	IgnorePreflight []string
	// LookupHost resolves domains for preflight; the system resolver when nil.
	LookupHost func(ctx context.Context, name string) ([]string, error)
	// PreflightPorts are the ports preflight probes; the k3s ones when nil.
	PreflightPorts []int
	// Timeout bounds the wait for Flux to converge (default 30 minutes);
	// BootstrapTimeout each of Flux bootstrap's waits (default 5 minutes).
	Timeout, BootstrapTimeout time.Duration

	// bundleTrain and artifactsDir come from the imported bundle.
	bundleTrain, artifactsDir string

	// Plan is filled by a dry run.
	Plan *Plan
	// Result is filled by a real run.
	Result *InstallResult
}

// Run executes the install, or its dry run.
func (i *Install) Run(ctx context.Context, st *status.Status) error {
	if !i.DryRun {
		return i.handOver(ctx, st)
	}
	i.Inputs.ReadOnly = true
	r := &Render{Inputs: i.Inputs, OutDir: i.OutDir, AllowMissingCharts: true}
	if err := r.Run(ctx, st); err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	i.Plan = newPlan(r.In, r.Result, i.OutDir, i.Kubeconfig != "")
	if i.Kubeconfig == "" {
		st.Start("checking the host (preflight)")
		rep, err := i.preflight(ctx, r.In)
		if st.End(err) != nil {
			return err
		}
		i.Plan.addPreflight(rep)
	}
	return nil
}

func (i *Install) root() host.Root {
	if i.Root == "" {
		return "/"
	}
	return i.Root
}

func (i *Install) runner() host.Runner {
	if i.Runner == nil {
		return host.ExecRunner{}
	}
	return i.Runner
}

// preflight runs the host checks with the profile's thresholds.
func (i *Install) preflight(ctx context.Context, in *Inputs) (*preflight.Report, error) {
	rep, err := preflight.Run(ctx, preflight.Options{
		Root: i.root(), Runner: i.runner(), Profile: in.Profile, Train: in.Train,
		Domains: in.Config.Hosts(), Airgapped: in.Config.Airgapped, Ignore: i.IgnorePreflight,
		LookupHost: i.LookupHost, Ports: i.PreflightPorts, PortProbeHost: portProbeHost(i.PreflightPorts),
	})
	if err != nil {
		return nil, fmt.Errorf("running preflight checks: %w", err)
	}
	return rep, nil
}

// portProbeHost keeps test probes on loopback; real runs probe every address.
func portProbeHost(ports []int) string {
	if ports != nil {
		return "127.0.0.1"
	}
	return ""
}
