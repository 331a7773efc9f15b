package installer

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Deadlines of install's steps. A step that runs past its own is an error naming the step and
// what it waited on: a hung remote never hangs the install.
const (
	answersDeadline   = 2 * time.Hour // a person answers the wizard
	bundleDeadline    = time.Hour     // verifying and importing gigabytes
	inputsDeadline    = 10 * time.Minute
	preflightDeadline = 2 * time.Minute
	clusterDeadline   = 2 * time.Minute
	bootstrapDeadline = 10 * time.Minute // includes the first pull of the git server's image
	gitDeadline       = 5 * time.Minute  // a clone or a push
	saveDeadline      = time.Minute
	userPathDeadline  = 3 * time.Minute // the checks, and the edge settling after convergence
)

// run is what install's steps share: each step reads what the steps before it learned.
type run struct {
	i *Install
	// life is the whole run's context: what outlives one step (the git port-forward) ends with it.
	life     context.Context
	in       *Inputs
	res      *render.Result
	existing bool
	// dry builds the list for a plan only: an unlocked train's k3s steps are listed (the plan
	// names the train as a blocker) instead of refused.
	dry bool

	k3s        *k3s.Provisioning
	kubeconfig string
	c          *cluster.Client
	remote     gitops.Remote
	closers    []func()
	repo       *gitops.Repo
	staged     *gitops.Staged
	pub        *gitops.Published
	rev        string
	layers     []string
	states     []gitops.KustomizationState
	converged  time.Duration
	// userPathReport is what the user-path step found.
	userPathReport *doctor.Report
	// subject and preamble override the commit message's first line and open its body (upgrade).
	subject, preamble string
}

func (r *run) close() {
	for n := len(r.closers) - 1; n >= 0; n-- {
		r.closers[n]()
	}
	r.closers = nil
}

// prelude are the steps that come before the inputs are known: the answers, the bundle whose
// charts the render uses, and the inputs themselves.
func (r *run) prelude() []steps.Step {
	i := r.i
	list := []steps.Step{&steps.Func{
		Name: "answers", Describe: "Asking for the appliance's answers (domain, identity, storage, git, mail)",
		CheckFunc: func(context.Context) (string, error) { return i.answersGiven(), nil },
		RunFunc:   func(ctx context.Context, _ *status.Status) error { return i.askAnswers(ctx) },
		Deadline:  answersDeadline,
	}}
	if i.Bundle != "" {
		list = append(list, &steps.Func{
			Name: "bundle", Describe: "Verifying and importing the air-gap bundle " + filepath.Base(i.Bundle),
			RunFunc: func(ctx context.Context, st *status.Status) error {
				_, err := i.importBundle(ctx, st)
				return err
			},
			Deadline: bundleDeadline,
		})
	}
	return append(list, &steps.Func{
		Name: "inputs", Describe: "Reading and checking the config, the secrets and the train",
		RunFunc:  r.loadInputs,
		Deadline: inputsDeadline,
	})
}

// main are the steps that follow the inputs; the dry run prints prelude and main.
func (r *run) main() ([]steps.Step, error) {
	i, in := r.i, r.in
	list := []steps.Step{&steps.Func{
		Name: "render", Describe: fmt.Sprintf("Rendering train %s with profile %s", in.Train.Name, in.Profile.Name),
		RunFunc: r.render, Deadline: inputsDeadline,
	}}
	if r.existing {
		list = append(list, &steps.Func{
			Name: "cluster", Describe: "Checking the given cluster (version, nodes, images)",
			RunFunc: r.checkCluster, Deadline: clusterDeadline, Remote: "the API server of " + i.Kubeconfig,
		})
	} else {
		list = append(list, &steps.Func{
			Name: "preflight", Describe: "Checking the host (CPU, memory, disk, ports, route, clock, kernel, other runtimes)",
			RunFunc: r.preflight, Deadline: preflightDeadline,
		})
		o := r.k3sOptions()
		o.AllowUnpinned = r.dry
		pv, err := k3s.Steps(o)
		if err != nil {
			return nil, err
		}
		r.k3s = pv
		list = append(list, pv.Steps...)
	}
	gitWhere := "the in-cluster git server"
	if in.Config.Git.Mode != config.GitInCluster {
		gitWhere = "git remote " + in.Config.Git.URL
	}
	list = append(list,
		&steps.Func{
			Name: "bootstrap", Describe: bootstrapTitle(in),
			CheckFunc: r.bootstrapDone, RunFunc: r.bootstrap, Deadline: bootstrapDeadline, Remote: "the API server",
		},
		r.etcdTargetStep(),
		r.restoreRepositoryStep(gitWhere),
		&steps.Func{
			Name: "clone", Describe: "Cloning the desired-state repository from " + gitWhere,
			RunFunc: r.clone, Deadline: gitDeadline, Remote: gitWhere,
		},
		&steps.Func{
			Name: "commit", Describe: "Committing the rendered repository (only when it changed)",
			CheckFunc: r.commitDone, RunFunc: r.commit, Deadline: gitDeadline, Remote: gitWhere,
		},
		&steps.Func{
			Name: "save-config", Describe: "Keeping the config of this render for the next run (" + SavedConfigPath(i.Inputs.StateDir) + ")",
			CheckFunc: r.configSaved, RunFunc: r.saveConfig, Deadline: saveDeadline,
		},
		&steps.Func{
			Name: "flux", Describe: fmt.Sprintf("Bootstrapping Flux %s (source, kustomize and notification controllers) from manifests in this binary", in.Train.Flux.Version),
			CheckFunc: r.fluxDone, RunFunc: r.flux, Deadline: 4*orDefault(i.BootstrapTimeout, 5*time.Minute) + gitDeadline, Remote: gitWhere + " and the API server",
		},
		&steps.Func{
			Name: "converge", TitleFunc: r.convergeTitle,
			CheckFunc: r.convergeDone, RunFunc: r.converge, Deadline: orDefault(i.Timeout, 30*time.Minute) + time.Minute, Remote: "Flux",
		},
		r.restoreMediaStep(),
		&steps.Func{
			// No facts check: it only reads, so it runs on every install.
			Name: "user-path", Describe: "Checking the user path as a browser goes: DNS, TLS, the API, OIDC, media auth, websocket, S3",
			RunFunc: r.userPath, Deadline: userPathDeadline, Remote: "the appliance's domains",
		},
	)
	// Restore's steps are nil on a plain install.
	kept := list[:0]
	for _, s := range list {
		if s != nil {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

func bootstrapTitle(in *Inputs) string {
	t := "Applying the bootstrap layer (namespaces, the age key as flux-system/sops-age, Flux's git credentials"
	if in.Config.Git.Mode == config.GitInCluster {
		t += ", the in-cluster git server"
	}
	return t + ")"
}

func (r *run) loadInputs(ctx context.Context, st *status.Status) error {
	i := r.i
	// Everything that can be wrong with the inputs is found before anything is written: a first
	// pass reads them without writing the state folder.
	ro := i.Inputs
	ro.ReadOnly = true
	check, err := LoadInputs(ro)
	if err == nil {
		err = i.checkInputs(ctx, check, r.existing)
	}
	if err != nil {
		return explainKeyError(err, i.Inputs.StateDir)
	}
	in, err := LoadInputs(i.Inputs)
	if err != nil {
		return explainKeyError(err, i.Inputs.StateDir)
	}
	if i.bundleTrain != "" && i.bundleTrain != in.Train.Name {
		return fmt.Errorf("--bundle carries train %s but the config installs train %s: use the bundle of train %s, or --set train=%s", i.bundleTrain, in.Train.Name, in.Train.Name, i.bundleTrain)
	}
	r.in = in
	if in.Store.KeyCreated {
		st.Warn("created the appliance's age key at %s: back it up offline now, it decrypts every secret", in.Store.KeyPath())
	}
	if len(in.Generated) > 0 {
		st.Info("generated %d secrets, kept encrypted in %s", len(in.Generated), i.Inputs.StateDir)
	}
	for _, w := range in.Warnings {
		st.Warn("%s", w)
	}
	if prov, err := gitops.FluxProvenance(in.Train.Flux.Version); err == nil {
		for _, c := range prov.Controllers {
			if c.Built != "" {
				st.Info("Flux %s %s: install manifests built from %s (%s)", c.Name, c.Tag, c.Built, c.Reason)
			}
		}
	}
	return nil
}

func (r *run) render(ctx context.Context, _ *status.Status) error {
	in := r.in
	res, err := render.Render(ctx, render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store,
		Recipients: in.Recipients(), Branding: in.Branding,
	})
	if err != nil {
		return err
	}
	r.res = res
	r.layers = []string{gitops.FluxName}
	for _, l := range res.Layers {
		r.layers = append(r.layers, l.Name)
	}
	return nil
}

func (r *run) k3sOptions() k3s.Options {
	root := r.i.root()
	return k3s.Options{
		Root: root, Runner: r.i.runner(), Train: r.in.Train, Domains: r.in.Config.Hosts(), Airgapped: r.in.Config.Airgapped,
		ClusterInit: r.in.Profile.Servers > 1, StateDir: root.HostPath(r.i.Inputs.StateDir), ArtifactsDir: r.i.artifactsDir,
		HTTPClient: r.i.HTTPClient, Snapshots: etcdSnapshotsFor(r.in.Config),
	}
}

func (r *run) preflight(ctx context.Context, st *status.Status) error {
	rep, err := r.i.preflight(ctx, r.in)
	if err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		st.Warn("%s", rep.Text())
		return err
	}
	return nil
}

// client connects to the cluster once: the given one, or the k3s the steps before provisioned.
func (r *run) client() (*cluster.Client, error) {
	if r.c != nil {
		return r.c, nil
	}
	kubeconfig := r.i.Kubeconfig
	if !r.existing {
		root := r.i.root()
		var err error
		if kubeconfig, err = k3s.FindKubeconfig(root, root.HostPath(r.i.Inputs.StateDir)); err != nil {
			return nil, err
		}
	}
	kubeconfig, err := filepath.Abs(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("resolving the kubeconfig path: %w", err)
	}
	c, err := cluster.NewFromKubeconfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	r.kubeconfig, r.c = kubeconfig, c
	return c, nil
}

func (r *run) checkCluster(ctx context.Context, st *status.Status) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	return r.i.checkCluster(ctx, c, r.in, st)
}

// bootstrapDone: the bootstrap layer is in place when applying it would change nothing and
// the git server it runs is ready. A cluster that holds another appliance's key is refused
// here, before anything is applied.
func (r *run) bootstrapDone(ctx context.Context) (string, error) {
	c, err := r.client()
	if err != nil {
		return "", err
	}
	if err := gitops.CheckAgeKey(ctx, c, r.in.Store.Identity(), r.in.Store.KeyPath()); err != nil {
		return "", err
	}
	objs, err := r.i.bootstrapObjects(ctx, c, r.in)
	if err != nil {
		return "", err
	}
	changes, err := gitops.ApplyLayerDryRun(ctx, c, objs)
	if err != nil {
		// Not applied yet in a way a dry run can compare (a namespace missing, say): there is work.
		return "", nil
	}
	for _, ch := range changes {
		if ch.Action != cluster.Unchanged {
			return "", nil
		}
	}
	if r.in.Config.Git.Mode == config.GitInCluster {
		if err := c.Wait(ctx, gitops.GitServerRefs(), cluster.WaitOptions{Timeout: time.Second}); err != nil {
			return "", nil
		}
	}
	return fmt.Sprintf("the bootstrap layer is in place (%d objects unchanged)", len(changes)), nil
}

func (r *run) bootstrap(ctx context.Context, st *status.Status) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	objs, err := r.i.bootstrapObjects(ctx, c, r.in)
	if err != nil {
		return err
	}
	changes, err := gitops.ApplyLayer(ctx, c, objs)
	if err != nil {
		return err
	}
	st.Info("bootstrap layer: %s", summarizeChanges(changes))
	if r.in.Config.Git.Mode != config.GitInCluster {
		return nil
	}
	st.Info("waiting for the git server")
	if err := c.Wait(ctx, gitops.GitServerRefs(), cluster.WaitOptions{Timeout: bootstrapDeadline}); err != nil {
		return fmt.Errorf("waiting for the git server: %w", err)
	}
	return nil
}
