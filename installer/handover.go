package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
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
	// Steps are what each step did: ran, or skipped with why.
	Steps []steps.Result `json:"steps"`
	// UserPath is what the last step found on the way a browser goes.
	UserPath *doctor.Report `json:"userPath,omitempty"`
}

// workDirName holds the private clones of the desired-state repository.
const workDirName = "work"

// checkInputs refuses what would stop the install half-way: an unpinned train, a build without
// the Flux manifests, an in-cluster git server the train does not pin.
func (i *Install) checkInputs(ctx context.Context, in *Inputs, existing bool) error {
	if err := checkEnvironmentKept(i.Inputs.StateDir, in.Config); err != nil {
		return err
	}
	if !i.upgrading {
		if err := checkTrainKept(i.Inputs.StateDir, in.Config); err != nil {
			return err
		}
	}
	if err := checkPinned(in.Train, existing); err != nil {
		return err
	}
	if !existing {
		if err := checkTopology(ctx, in.Profile, nil); err != nil {
			return err
		}
	}
	if _, err := gitops.FluxManifests(in.Train.Flux.Version); err != nil {
		return err
	}
	if _, ok := in.Train.ImageFor(gitops.GitImageRepository); !ok && in.Config.Git.Mode == config.GitInCluster {
		return fmt.Errorf("train %s pins no git server image (%s): it cannot host the repository in the cluster; use git.mode external or another train", in.Train.Name, gitops.GitImageRepository)
	}
	if _, err := render.Render(ctx, render.Options{
		Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts, Secrets: in.Store, Recipients: in.Recipients(),
		Branding: in.Branding,
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

// checkCluster runs the cluster checks of an existing cluster (install --kubeconfig).
func (i *Install) checkCluster(ctx context.Context, c *cluster.Client, in *Inputs, st *status.Status) error {
	ids := preflight.IDs(preflight.ClusterChecks())
	var ignore []string
	for _, id := range i.IgnorePreflight {
		if slices.Contains(ids, id) {
			ignore = append(ignore, id)
		}
	}
	if err := checkTopology(ctx, in.Profile, c); err != nil {
		return err
	}
	rep, err := preflight.CheckCluster(ctx, preflight.ClusterOptions{Client: c.Kube, Train: in.Train, Airgapped: in.Config.Airgapped, Ignore: ignore})
	if err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		st.Warn("%s", rep.Text())
		return err
	}
	return nil
}

// bootstrapObjects are what Flux cannot bring itself: namespaces, the age key, Flux's git
// credentials and, for the in-cluster repository, the git server.
func (i *Install) bootstrapObjects(ctx context.Context, c *cluster.Client, in *Inputs) ([]*unstructured.Unstructured, error) {
	cfg := in.Config.Git
	password, _ := in.Store.Get("git.password")
	o := gitops.LayerOptions{AgeKey: in.Store.Identity()}
	switch cfg.Mode {
	case config.GitInCluster:
		users, err := gitserver.UsersFile(gitops.GitAccounts(password), gitops.PreviousUsers(ctx, c))
		if err != nil {
			return nil, err
		}
		gitImage, _ := in.Train.ImageFor(gitops.GitImageRepository)
		train, err := yaml.Marshal(in.Train)
		if err != nil {
			return nil, fmt.Errorf("encoding train %s for the git server's push validation: %w", in.Train.Name, err)
		}
		o.GitServer = &gitops.GitServerSpec{
			Image: gitImage, Branch: cfg.Branch, Workload: in.Profile.Workloads["git-server"],
			Storage: in.Profile.Storage.Git, Users: users, Train: train,
		}
		o.FluxSecret = gitops.InClusterRemote("", cfg.Branch, password).FluxSecret
	default:
		remote, err := externalRemote(in)
		if err != nil {
			return nil, err
		}
		o.FluxSecret = remote.FluxSecret
	}
	return gitops.BootstrapObjects(o), nil
}

func externalRemote(in *Inputs) (gitops.Remote, error) {
	token, _ := in.Store.Get("git.token")
	key, _ := in.Store.Get("git.sshKey")
	return gitops.ExternalRemote(in.Config.Git, token, key)
}

// openRemote says how to reach the repository from here: the operator's remote, or the
// in-cluster server through a loopback port-forward set up within ctx that lives as long as
// life (the returned func ends it).
func openRemote(ctx, life context.Context, c *cluster.Client, in *Inputs) (gitops.Remote, func(), error) {
	noop := func() {}
	if in.Config.Git.Mode != config.GitInCluster {
		r, err := externalRemote(in)
		return r, noop, err
	}
	password, _ := in.Store.Get("git.password")
	fwd, err := c.PortForwardUntil(ctx, life, gitops.GitNamespace, "service/"+gitops.GitService, 80)
	if err != nil {
		return gitops.Remote{}, noop, err
	}
	return gitops.InClusterRemote(fwd.Addr, in.Config.Git.Branch, password), func() { _ = fwd.Close() }, nil
}

func summarizeChanges(changes []cluster.Change) string {
	count := map[cluster.Action]int{}
	for _, ch := range changes {
		count[ch.Action]++
	}
	return fmt.Sprintf("%d created, %d configured, %d unchanged", count[cluster.Created], count[cluster.Configured], count[cluster.Unchanged])
}

// lockState keeps two installs from working on one appliance at once. The kernel drops the lock
// when the process ends, however it ends, so a killed install never blocks the next. The state
// folder is made (0700) when missing; unlock(true) after a failure removes it again when this
// lock made them and nothing else was written there, so refused input leaves nothing behind.
func lockState(stateDir string) (unlock func(failed bool), err error) {
	_, statErr := os.Stat(stateDir)
	made := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("making the state folder %s: %w", stateDir, err)
	}
	lock := filepath.Join(stateDir, lockFileName)
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	madeLock := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(lock, os.O_RDWR, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the install lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another docs-appliance install is running on %s (it holds %s): let it finish", stateDir, f.Name())
	}
	return func(failed bool) {
		if failed && madeLock {
			// Still held: no other install can have taken it in between.
			os.Remove(lock)
			if made {
				os.Remove(stateDir) // only when empty
			}
		}
		f.Close()
	}, nil
}

const lockFileName = "install.lock"

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

// answersGiven says where the answers come from, or "" when the wizard must ask them: there is
// neither a --config nor saved answers, and --non-interactive was not given (LoadInputs then
// lists every missing or bad field).
func (i *Install) answersGiven() string {
	saved := SavedConfigPath(i.Inputs.StateDir)
	switch {
	case i.Inputs.ConfigPath != "":
		return "answers from " + i.Inputs.ConfigPath
	case i.NonInteractive:
		return "--non-interactive: answers from the saved config, --set and --secret"
	}
	if _, err := os.Stat(saved); err == nil {
		return "saved answers in " + saved
	}
	return ""
}

// askAnswers walks the operator through the wizard. The answers are checked against the real
// services and saved, so every later run is headless.
func (i *Install) askAnswers(ctx context.Context) error {
	// The questions go to the terminal on stderr: stdout carries the command's result.
	c := &wizard.Configure{ConfigPath: SavedConfigPath(i.Inputs.StateDir), StateDir: i.Inputs.StateDir, Root: i.root(),
		Out: os.Stderr, Err: os.Stderr}
	if err := c.Run(ctx); err != nil {
		return fmt.Errorf("asking for the appliance's answers (or pass --config FILE, or --non-interactive): %w", err)
	}
	return nil
}
