package installer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
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
	// Deadlines override the deadlines of the named steps (by step ID).
	Deadlines map[string]time.Duration
	// Nameserver is the DNS server the user-path step asks (host:port), the
	// system's when empty.
	Nameserver string
	// CAFiles are CAs users' browsers trust for the appliance (the
	// user-path step's TLS check), beyond the system's.
	CAFiles []string
	// HTTPClient downloads k3s when no bundle carries it; http.DefaultClient when nil.
	HTTPClient *http.Client

	// bundleTrain and artifactsDir come from the imported bundle.
	bundleTrain, artifactsDir string
	// locked: the caller holds the state folder's lock (restore); restore adds its steps.
	locked  bool
	restore *restoreRun
	// upgrading: the train may differ from the installed one (upgrade's hop runs install's steps).
	upgrading bool

	// Plan is filled by a dry run.
	Plan *Plan
	// Result is filled by a real run.
	Result *InstallResult
}

// Run executes the install, or its dry run.
func (i *Install) Run(ctx context.Context, st *status.Status) error {
	if i.DryRun {
		return i.dryRun(ctx, st)
	}
	return i.install(ctx, st)
}

// dryRun renders into OutDir and prints the plan from the same steps a real install runs.
func (i *Install) dryRun(ctx context.Context, st *status.Status) error {
	i.Inputs.ReadOnly = true
	rd := &Render{Inputs: i.Inputs, OutDir: i.OutDir, AllowMissingCharts: true, CollectUnpinned: true}
	if err := rd.Run(ctx, st); err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	r := &run{i: i, in: rd.In, res: rd.Result, existing: i.Kubeconfig != "", dry: true}
	for _, l := range rd.Result.Layers {
		r.layers = append(r.layers, l.Name)
	}
	r.layers = append([]string{gitops.FluxName}, r.layers...)
	list, err := r.steps()
	if err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	i.Plan = newPlan(rd.In, rd.Result, i.OutDir, r.existing, steps.Plan(list))
	if !r.existing {
		st.Start("checking the host (preflight)")
		rep, err := i.preflight(ctx, rd.In)
		if st.End(err) != nil {
			return err
		}
		i.Plan.addPreflight(rep)
	}
	return nil
}

// steps is the whole list: the prelude, then what follows from the inputs.
func (r *run) steps() ([]steps.Step, error) {
	m, err := r.main()
	if err != nil {
		return nil, err
	}
	return append(r.prelude(), m...), nil
}

// install is the real install: the prelude's steps (answers, bundle, inputs), then the steps
// that follow from the inputs. Every step looks at the host, cluster and repository before
// acting, so a killed install, run again, resumes; an unchanged rerun commits nothing.
func (i *Install) install(ctx context.Context, st *status.Status) (err error) {
	start := time.Now()
	// The lock comes first: two first installs at once must not make two age keys. What this
	// run creates for a refused input (the state folder and its lock) goes again.
	if !i.locked {
		unlock, lerr := lockState(i.Inputs.StateDir)
		if lerr != nil {
			return lerr
		}
		defer func() { unlock(err != nil) }()
	}
	r := &run{i: i, existing: i.Kubeconfig != "", life: ctx}
	defer r.close()
	res, err := steps.Run(ctx, st, steps.WithDeadlines(r.prelude(), i.Deadlines))
	i.Result = &InstallResult{Steps: res}
	if err != nil {
		return err
	}
	list, err := r.main()
	if err != nil {
		return err
	}
	more, err := steps.Run(ctx, st, steps.WithDeadlines(list, i.Deadlines))
	i.Result.Steps = append(i.Result.Steps, more...)
	if err != nil {
		return err
	}
	if r.k3s != nil {
		r.k3s.Summarize(st, more)
	}
	in := r.in
	i.Result.Revision, i.Result.Kustomizations = r.rev, r.states
	if r.pub != nil {
		i.Result.Committed, i.Result.Subject = r.pub.Committed, r.pub.Subject
	}
	i.Result.UserPath = r.userPathReport
	i.Result.ConvergedSeconds, i.Result.TookSeconds = r.converged.Seconds(), time.Since(start).Seconds()
	st.Info("Docs %s (train %s) runs from %s: %d Flux Kustomizations ready, in %s",
		in.Train.Docs.Version, in.Train.Name, r.rev, len(r.states), time.Since(start).Round(time.Second))
	st.Info("desired state: %s (branch %s); change the config and run install again to change it", r.remote.SyncURL, r.remote.Branch)
	if in.Store.KeyCreated {
		st.Warn("back up %s offline: without it the repository's secrets cannot be decrypted", in.Store.KeyPath())
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
