package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/pkg/git"
	"golang.org/x/sys/unix"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// InstallResult is what a real install did.
type InstallResult struct {
	// Revision is the commit Flux applied, "main@sha1:<hash>".
	Revision string `json:"revision"`
	// Committed is false when the repository already held this render.
	Committed bool   `json:"committed"`
	Subject   string `json:"subject,omitempty"`
	// Kustomizations are the Flux Kustomizations, all Ready at Revision.
	Kustomizations []gitops.KustomizationState `json:"kustomizations"`
	// ConvergedSeconds is how long Flux took after bootstrap; TookSeconds the whole install.
	ConvergedSeconds float64 `json:"convergedSeconds"`
	TookSeconds      float64 `json:"tookSeconds"`
}

// workDirName holds the private clones of the desired-state repository.
const workDirName = "work"

// handOver is the real install: inputs, host (or the given cluster), bootstrap layer, render,
// commit, Flux bootstrap, convergence. Every step looks at the host, cluster and repository
// before acting, so a killed install, run again, resumes; an unchanged rerun commits nothing.
func (i *Install) handOver(ctx context.Context, st *status.Status) error {
	start := time.Now()
	existing := i.Kubeconfig != ""

	if err := i.askIfFirstRun(ctx); err != nil {
		return err
	}
	bundleDir, err := i.importBundle(ctx, st)
	if err != nil {
		return err
	}
	// Everything that can be wrong with the inputs is found before anything changes: a first
	// pass reads them without writing the state folder.
	st.Start("reading config and secrets")
	ro := i.Inputs
	ro.ReadOnly = true
	check, err := LoadInputs(ro)
	if err == nil {
		err = i.checkInputs(ctx, check, existing)
	}
	if st.End(explainKeyError(err, i.Inputs.StateDir)) != nil {
		return explainKeyError(err, i.Inputs.StateDir)
	}
	in, err := LoadInputs(i.Inputs)
	if err != nil {
		return explainKeyError(err, i.Inputs.StateDir)
	}
	if bundleDir != "" && i.bundleTrain != in.Train.Name {
		return fmt.Errorf("--bundle carries train %s but the config installs train %s: use the bundle of train %s, or --set train=%s", i.bundleTrain, in.Train.Name, in.Train.Name, i.bundleTrain)
	}
	unlock, err := lockState(i.Inputs.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
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
	gitImage, _ := in.Train.ImageFor(gitops.GitImageRepository)
	st.Start(fmt.Sprintf("rendering train %s with profile %s", in.Train.Name, in.Profile.Name))
	res, err := render.Render(ctx, render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store,
		Recipients: in.Recipients(),
	})
	if st.End(err) != nil {
		return err
	}
	if len(res.Unpinned) > 0 {
		msg := fmt.Sprintf("%d images the rendered objects use are not pinned by train %s: %s", len(res.Unpinned), in.Train.Name, strings.Join(res.Unpinned, ", "))
		if in.Config.Airgapped {
			return errors.New(msg + " (an air-gapped appliance cannot pull them)")
		}
		st.Warn("%s", msg)
	}

	// The cluster: given, or k3s on this host.
	kubeconfig := i.Kubeconfig
	if !existing {
		if kubeconfig, err = i.provisionHost(ctx, in, st); err != nil {
			return err
		}
	}
	if kubeconfig, err = filepath.Abs(kubeconfig); err != nil {
		return fmt.Errorf("resolving the kubeconfig path: %w", err)
	}
	c, err := cluster.NewFromKubeconfig(kubeconfig)
	if err != nil {
		return err
	}
	if existing {
		if err := i.checkCluster(ctx, c, in, st); err != nil {
			return err
		}
	}
	// A cluster that already holds another appliance key is never overwritten.
	if err := gitops.CheckAgeKey(ctx, c, in.Store.Identity(), in.Store.KeyPath()); err != nil {
		return err
	}

	remote, closeRemote, err := i.bootstrapLayer(ctx, c, in, gitImage, st)
	if err != nil {
		return err
	}
	defer closeRemote()

	// Commit the render in a private clone.
	work := filepath.Join(i.Inputs.StateDir, workDirName)
	if err := cleanWorkDir(work); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(work, "repo-")
	if err != nil {
		return fmt.Errorf("making a work folder in %s: %w", work, err)
	}
	defer os.RemoveAll(dir)
	st.Start("cloning the desired-state repository")
	repo, err := gitops.Clone(ctx, dir, remote)
	if st.End(err) != nil {
		return err
	}
	defer repo.Close()
	st.Start("committing the rendered repository")
	author := git.Signature{Name: "docs-appliance", Email: "docs-appliance@" + in.Config.Domain}
	pub, err := gitops.Publish(ctx, repo, gitops.PublishInput{
		Result: res, Identity: in.Store.Identity(), Recipients: in.Recipients(), Config: in.Config,
		Version: release.Version, Author: author,
	})
	if st.End(err) != nil {
		return err
	}
	if pub.Committed {
		st.Info("committed %s: %s (%d files written, %d removed)", short(pub.Head), pub.Subject, len(pub.Report.Written), len(pub.Report.Removed))
		// Flux's next poll would see it within its interval; ask now.
		if err := gitops.RequestReconcile(ctx, c, gitops.GitRepositoryGVR, gitops.FluxName); err != nil {
			st.Warn("%v", err)
		}
	} else {
		st.Info("up to date: the repository already holds this render (%s)", short(pub.Head))
	}
	// The config that produced the pushed render is the one a later run starts from.
	if err := in.Config.Save(SavedConfigPath(i.Inputs.StateDir)); err != nil {
		return fmt.Errorf("saving the config: %w", err)
	}

	st.Start(fmt.Sprintf("bootstrapping Flux %s", in.Train.Flux.Version))
	err = gitops.Bootstrap(ctx, gitops.BootstrapOptions{
		Repo: repo, Remote: remote, Kubeconfig: kubeconfig, Config: c.Config,
		FluxVersion: in.Train.Flux.Version, Author: author,
		Timeout: orDefault(i.BootstrapTimeout, 5*time.Minute), PollInterval: 2 * time.Second,
	}, st)
	if st.End(err) != nil {
		return err
	}
	head, err := repo.Head()
	if err != nil {
		return err
	}
	rev := repo.Revision(head)

	names := []string{gitops.FluxName}
	for _, l := range res.Layers {
		names = append(names, l.Name)
	}
	st.Start(fmt.Sprintf("waiting for Flux to apply %s: %s", short(head), strings.Join(names, ", ")))
	convergeStart := time.Now()
	states, err := gitops.Converge(ctx, c, gitops.ConvergeOptions{Names: names, Revision: rev, Timeout: orDefault(i.Timeout, 30*time.Minute)}, st)
	if st.End(err) != nil {
		return err
	}
	i.Result = &InstallResult{
		Revision: rev, Committed: pub.Committed, Subject: pub.Subject, Kustomizations: states,
		ConvergedSeconds: time.Since(convergeStart).Seconds(), TookSeconds: time.Since(start).Seconds(),
	}
	st.Skip(fmt.Sprintf("verifying https://%s", in.Config.Domain), "the end-to-end check of the public URL is not in this build yet")
	st.Info("Docs %s (train %s) runs from %s: %d Flux Kustomizations ready, in %s",
		in.Train.Docs.Version, in.Train.Name, rev, len(states), time.Since(start).Round(time.Second))
	st.Info("desired state: %s (branch %s); change the config and run install again to change it", remote.SyncURL, remote.Branch)
	if in.Store.KeyCreated {
		st.Warn("back up %s offline: without it the repository's secrets cannot be decrypted", in.Store.KeyPath())
	}
	return nil
}

// checkInputs refuses what would stop the install half-way: an unpinned train, a build without
// the Flux manifests, an in-cluster git server the train does not pin.
func (i *Install) checkInputs(ctx context.Context, in *Inputs, existing bool) error {
	if err := checkPinned(in.Train, existing); err != nil {
		return err
	}
	if _, err := gitops.FluxManifests(in.Train.Flux.Version); err != nil {
		return err
	}
	if _, ok := in.Train.ImageFor(gitops.GitImageRepository); !ok && in.Config.Git.Mode == config.GitInCluster {
		return fmt.Errorf("train %s pins no git server image (%s): it cannot host the repository in the cluster; use git.mode external or another train", in.Train.Name, gitops.GitImageRepository)
	}
	if _, err := render.Render(ctx, render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store, Recipients: in.Recipients(),
	}); err != nil {
		return err
	}
	return nil
}

// explainKeyError turns an unusable age key into what to do about it. A key is never replaced
// silently: the repository's and the cluster's secrets are encrypted for it.
func explainKeyError(err error, stateDir string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "age key") || strings.Contains(msg, "secret store") {
		return fmt.Errorf("%w\nThe appliance's age key (%s) must be the one its secrets were encrypted with: restore it "+
			"from your backup (mode 0600); install never replaces an existing key", err, filepath.Join(stateDir, "age.key"))
	}
	return err
}

// unpinned lists the train's artifacts an install would use that are not pinned by digest. The
// k3s artifacts do not count when installing onto an existing cluster: they are not used.
func unpinned(t *bundles.Train, existingCluster bool) []string {
	var missing []string
	for _, u := range t.Unlocked() {
		if existingCluster && strings.HasPrefix(u, "k3s.") {
			continue
		}
		missing = append(missing, u)
	}
	return missing
}

// checkPinned refuses a train with artifacts not pinned by digest.
func checkPinned(t *bundles.Train, existingCluster bool) error {
	missing := unpinned(t, existingCluster)
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("train %s is not locked: %d artifacts lack a digest (%s): run `make lock` on a connected machine, or install from a bundle",
		t.Name, len(missing), strings.Join(missing, ", "))
}

// provisionHost runs preflight and k3s on this host and returns k3s's kubeconfig.
func (i *Install) provisionHost(ctx context.Context, in *Inputs, st *status.Status) (string, error) {
	st.Start("checking the host (preflight)")
	rep, err := i.preflight(ctx, in)
	if st.End(err) != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		st.Warn("%s", rep.Text())
		return "", err
	}
	root := i.root()
	stateHost := root.HostPath(i.Inputs.StateDir)
	if err := k3s.Provision(ctx, k3s.Options{
		Root: root, Runner: i.runner(), Train: in.Train, Domains: in.Config.Hosts(), Airgapped: in.Config.Airgapped,
		ClusterInit: in.Profile.Servers > 1, StateDir: stateHost, ArtifactsDir: i.artifactsDir,
	}, st); err != nil {
		return "", err
	}
	return k3s.FindKubeconfig(root, stateHost)
}

// checkCluster runs the cluster checks of an existing cluster (install --kubeconfig).
func (i *Install) checkCluster(ctx context.Context, c *cluster.Client, in *Inputs, st *status.Status) error {
	ids := preflight.IDs(preflight.ClusterChecks())
	var ignore []string
	for _, id := range i.IgnorePreflight {
		if slices.Contains(ids, id) {
			ignore = append(ignore, id)
		}
	}
	st.Start("checking the cluster")
	rep, err := preflight.CheckCluster(ctx, preflight.ClusterOptions{Client: c.Kube, Train: in.Train, Airgapped: in.Config.Airgapped, Ignore: ignore})
	if st.End(err) != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		st.Warn("%s", rep.Text())
		return err
	}
	return nil
}

// bootstrapLayer applies what Flux cannot bring itself and returns how to reach the repository;
// the returned func ends the port-forward.
func (i *Install) bootstrapLayer(ctx context.Context, c *cluster.Client, in *Inputs, gitImage bundles.Image, st *status.Status) (gitops.Remote, func(), error) {
	cfg := in.Config.Git
	noop := func() {}
	var remote gitops.Remote
	var spec *gitops.GitServerSpec
	password, _ := in.Store.Get("git.password")
	switch cfg.Mode {
	case config.GitInCluster:
		users, err := gitserver.UsersFile(gitops.GitAccounts(password), gitops.PreviousUsers(ctx, c))
		if err != nil {
			return remote, noop, err
		}
		spec = &gitops.GitServerSpec{
			Image: gitImage, Branch: cfg.Branch, Workload: in.Profile.Workloads["git-server"],
			Storage: in.Profile.Storage.Git, Users: users,
		}
		remote = gitops.InClusterRemote("", cfg.Branch, password)
	default:
		token, _ := in.Store.Get("git.token")
		key, _ := in.Store.Get("git.sshKey")
		var err error
		if remote, err = gitops.ExternalRemote(cfg, token, key); err != nil {
			return remote, noop, err
		}
	}
	st.Start("applying the bootstrap layer (namespaces, age key, Flux credentials" + map[bool]string{true: ", git server)", false: ")"}[spec != nil])
	changes, err := gitops.ApplyLayer(ctx, c, gitops.BootstrapObjects(gitops.LayerOptions{
		AgeKey: in.Store.Identity(), FluxSecret: remote.FluxSecret, GitServer: spec,
	}))
	if st.End(err) != nil {
		return remote, noop, err
	}
	st.Info("bootstrap layer: %s", summarizeChanges(changes))
	if spec == nil {
		return remote, noop, nil
	}
	st.Start("waiting for the git server")
	if err := c.Wait(ctx, gitops.GitServerRefs(), cluster.WaitOptions{Timeout: 5 * time.Minute}); st.End(err) != nil {
		return remote, noop, fmt.Errorf("waiting for the git server: %w", err)
	}
	fwd, err := c.PortForward(ctx, gitops.GitNamespace, "service/"+gitops.GitService, 80)
	if err != nil {
		return remote, noop, err
	}
	remote = gitops.InClusterRemote(fwd.Addr, cfg.Branch, password)
	return remote, func() { _ = fwd.Close() }, nil
}

func summarizeChanges(changes []cluster.Change) string {
	count := map[cluster.Action]int{}
	for _, ch := range changes {
		count[ch.Action]++
	}
	return fmt.Sprintf("%d created, %d configured, %d unchanged", count[cluster.Created], count[cluster.Configured], count[cluster.Unchanged])
}

// lockState keeps two installs from working on one appliance at once. The kernel drops the lock
// when the process ends, however it ends, so a killed install never blocks the next.
func lockState(stateDir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(stateDir, "install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the install lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another docs-appliance install is running on %s (it holds %s): let it finish", stateDir, f.Name())
	}
	return func() { f.Close() }, nil
}

// cleanWorkDir removes the clones of killed runs (a run removes its own when it ends).
func cleanWorkDir(work string) error {
	if err := os.MkdirAll(work, 0o700); err != nil {
		return fmt.Errorf("making %s: %w", work, err)
	}
	old, _ := filepath.Glob(filepath.Join(work, "repo-*"))
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("removing the stale clone %s: %w", d, err)
		}
	}
	return nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// askIfFirstRun walks the operator through the wizard when there is neither
// a --config nor saved answers, and a terminal to ask on. The answers are
// checked against the real services and saved, so every later run is
// headless. --non-interactive never asks: LoadInputs then lists every
// missing or bad field.
func (i *Install) askIfFirstRun(ctx context.Context) error {
	saved := SavedConfigPath(i.Inputs.StateDir)
	if i.NonInteractive || i.Inputs.ConfigPath != "" {
		return nil
	}
	if _, err := os.Stat(saved); err == nil {
		return nil
	}
	c := &wizard.Configure{ConfigPath: saved, StateDir: i.Inputs.StateDir, Root: i.root()}
	if err := c.Run(ctx); err != nil {
		return fmt.Errorf("asking for the appliance's answers (or pass --config FILE, or --non-interactive): %w", err)
	}
	return nil
}
