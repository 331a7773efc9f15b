package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	gogit "github.com/go-git/go-git/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/doctor/supportbundle"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Doctor checks the appliance installed from this state folder.
type Doctor struct {
	// StateDir is the appliance's state folder (host path).
	StateDir string
	// TrainFile is a train given as a file (the one a test installed with).
	TrainFile string
	// Trains are more trains given as files, parsed, oldest first (upgrade's --train-file): a
	// train whose required stop is one of them loads after it.
	Trains []*bundles.Train
	// Kubeconfig: the appliance runs on this existing cluster; the host
	// checks skip. Empty: k3s on this host.
	Kubeconfig string
	Root       host.Root
	Runner     host.Runner
	// Checks and Groups select what runs (all when both are empty).
	Checks, Groups []string
	// Nameserver is the DNS server the user-path checks ask ("host:port"),
	// the system's resolver when empty: ask the one your users ask.
	Nameserver string
	// CAFiles are certificate authorities users' browsers trust for the
	// appliance beyond the system's (a private PKI).
	CAFiles []string
	// ServerAddresses are public addresses of this server (behind NAT) the
	// domains may resolve to.
	ServerAddresses []string
	// SupportBundle, when set, is where doctor writes the support bundle
	// (a tar.gz: its report, node facts, Flux objects, events and logs,
	// every secret redacted) after the checks.
	SupportBundle string
	// WithoutSecretStore writes the bundle even when the secret store
	// cannot be opened (its values are then hidden only where the
	// cluster's Secrets hold them).
	WithoutSecretStore bool
	// BundleWritten says what the bundle holds, once written.
	BundleWritten string
	// Report is filled by Run.
	Report *doctor.Report
}

// NoApplianceError: the state folder holds no installed appliance.
type NoApplianceError struct{ StateDir string }

func (e *NoApplianceError) Error() string {
	return fmt.Sprintf("no appliance is installed from %s (it has no saved config): run doctor on the appliance's server, with --state-dir if install used one", e.StateDir)
}

// Run gathers the facts and runs the checks. An error means doctor itself
// could not run (exit 1); the findings are in Report (Report.Err carries
// exit 3 or 4).
func (d *Doctor) Run(ctx context.Context, st *status.Status) error {
	checks, err := doctor.Select(doctor.All(), d.Checks, d.Groups)
	if err != nil {
		return err
	}
	env, cleanup, err := d.env(ctx, st)
	defer cleanup()
	if err != nil {
		return err
	}
	st.Start(fmt.Sprintf("Running %d checks", len(checks)))
	d.Report = doctor.Run(ctx, env, checks)
	if err := st.End(nil); err != nil {
		return err
	}
	if d.SupportBundle != "" {
		return d.writeBundle(ctx, env, st)
	}
	return nil
}

func (d *Doctor) root() host.Root {
	if d.Root == "" {
		return "/"
	}
	return d.Root
}

// env opens every fact source; one that cannot be opened is recorded for
// the checks that need it, and only a missing appliance stops doctor.
func (d *Doctor) env(ctx context.Context, st *status.Status) (*doctor.Env, func(), error) {
	cleanup := func() {}
	if _, err := os.Stat(SavedConfigPath(d.StateDir)); err != nil {
		return nil, cleanup, &NoApplianceError{StateDir: d.StateDir}
	}
	in, err := d.inputs()
	if err != nil {
		return nil, cleanup, err
	}
	e := &doctor.Env{Config: in.Config, Train: in.Train, StateDir: d.StateDir, Secrets: map[string]string{}}
	if in.Store != nil {
		for _, n := range in.Store.Names() {
			e.Secrets[n], _ = in.Store.Get(n)
		}
	}
	e.AgeKey, e.AgeKeyErr = secrets.LoadKey(filepath.Join(d.StateDir, secrets.KeyFileName))
	if d.Nameserver != "" {
		e.UserPath.Resolver = resolverAt(d.Nameserver)
	}
	if err := d.userPathFlags(e); err != nil {
		return nil, cleanup, err
	}
	kubeconfig := d.Kubeconfig
	if kubeconfig == "" {
		r := d.root()
		e.Host = &doctor.HostFacts{Root: r, Runner: d.runner(), DataDir: k3s.DataDir, VolumesDir: k3s.VolumesDir(d.StateDir), Service: k3s.Unit}
		if kubeconfig, err = k3s.FindKubeconfig(r, r.HostPath(d.StateDir)); err != nil {
			e.KubeErr = err
			e.RepoErr = fmt.Errorf("the cluster's kubeconfig was not found: %w", err)
			return e, cleanup, nil
		}
	}
	st.Start("Connecting to the cluster")
	c, err := reachCluster(ctx, kubeconfig)
	_ = st.End(nil)
	if err != nil {
		e.KubeErr = err
		st.Warn("the cluster does not answer: %v", err)
		if in.Config.Git.Mode == config.GitInCluster {
			e.RepoErr = fmt.Errorf("the in-cluster git server cannot be reached while the cluster does not answer: %w", err)
			return e, cleanup, nil
		}
		// An external repository is read without the cluster.
		if needsRepo(d.Checks, d.Groups) {
			e.Repo, cleanup, e.RepoErr = d.checkout(ctx, nil, in)
		}
		return e, cleanup, nil
	}
	e.Kube = c
	life, stop := context.WithCancel(context.Background())
	cleanup = stop
	d.userPathCluster(ctx, life, e, c, st)
	if !needsRepo(d.Checks, d.Groups) {
		return e, cleanup, nil
	}
	st.Start("Reading the desired-state repository")
	repo, closeRepo, err := d.checkout(ctx, c, in)
	_ = st.End(nil)
	cleanup = func() { closeRepo(); stop() }
	if err != nil {
		e.RepoErr = err
		st.Warn("the repository could not be read: %v", err)
	}
	e.Repo = repo
	return e, cleanup, nil
}

func (d *Doctor) runner() host.Runner {
	if d.Runner != nil {
		return d.Runner
	}
	return host.ExecRunner{}
}

// reachCluster builds a client and asks the API server one question with a
// short deadline, so a cluster that is down is one finding, not every
// check waiting its own timeout.
// connectCluster reaches the appliance's cluster for a command: kubeconfig, or when empty the one
// k3s keeps for the state folder (hostStateDir, a path on the host under root).
func connectCluster(ctx context.Context, st *status.Status, kubeconfig string, root host.Root, hostStateDir string) (*cluster.Client, error) {
	if kubeconfig == "" {
		var err error
		if kubeconfig, err = k3s.FindKubeconfig(root, hostStateDir); err != nil {
			return nil, err
		}
	}
	st.Start("Connecting to the cluster")
	c, err := reachCluster(ctx, kubeconfig)
	if err := st.End(err); err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}

func reachCluster(ctx context.Context, kubeconfig string) (*cluster.Client, error) {
	c, err := cluster.NewFromKubeconfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Kube.CoreV1().Namespaces().Get(pctx, "kube-system", metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("asking the API server: %w", err)
	}
	return c, nil
}

// checkout clones the desired-state repository into a temporary folder
// (removed by the returned func).
func (d *Doctor) checkout(ctx context.Context, c *cluster.Client, in *Inputs) (*doctor.Repository, func(), error) {
	if in.Store == nil {
		_, err := secrets.OpenStoreReadOnly(d.StateDir)
		return nil, func() {}, fmt.Errorf("the repository's credentials are in the secret store, which cannot be opened: %w", err)
	}
	dir, err := os.MkdirTemp("", "docs-appliance-doctor-")
	if err != nil {
		return nil, func() {}, fmt.Errorf("making a folder for the checkout: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	cleanup := func() { stop(); _ = os.RemoveAll(dir) }
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	remote, closeRemote, err := openRemote(cctx, life, c, in)
	if err != nil {
		return nil, cleanup, fmt.Errorf("reaching the repository: %w", err)
	}
	defer closeRemote()
	repo, err := gitops.Clone(cctx, filepath.Join(dir, "repo"), remote)
	if err != nil {
		return nil, cleanup, err
	}
	defer repo.Close()
	head, err := repo.Head()
	if err != nil {
		return nil, cleanup, err
	}
	out := &doctor.Repository{Dir: repo.Dir(), Head: head, Revision: repo.Revision(head)}
	if g, err := gogit.PlainOpen(repo.Dir()); err == nil {
		if ref, err := g.Head(); err == nil {
			if cm, err := g.CommitObject(ref.Hash()); err == nil {
				out.Author = fmt.Sprintf("%s <%s>", cm.Author.Name, cm.Author.Email)
				out.When, out.Message = cm.Author.When, cm.Message
			}
		}
	}
	return out, cleanup, nil
}

// resolverAt asks one DNS server instead of the system's.
func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, addr)
	}}
}

// needsRepo: only the gitops and secrets checks read the repository; a
// run of other groups (install's user-path step) need not clone it.
func needsRepo(ids, groups []string) bool {
	if len(ids) > 0 {
		return true
	}
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		if g == "gitops" || g == "secrets" {
			return true
		}
	}
	return false
}

// writeBundle collects the support bundle after the checks, from the same
// facts they read.
func (d *Doctor) writeBundle(ctx context.Context, e *doctor.Env, st *status.Status) error {
	report, err := json.MarshalIndent(d.Report, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report for the support bundle: %w", err)
	}
	o := supportbundle.Options{Path: d.SupportBundle, DoctorJSON: report, StateDir: d.root().Path(d.StateDir),
		WithoutSecretStore: d.WithoutSecretStore, Kube: e.Kube, KubeErr: e.KubeErr, Secrets: e.Secrets, Version: release.Version}
	if h := e.Host; h != nil {
		o.Host = &supportbundle.Host{Root: h.Root, Runner: h.Runner, DataDir: h.DataDir, VolumesDir: h.VolumesDir, Service: h.Service}
	}
	st.Start("Writing the support bundle " + d.SupportBundle)
	err = supportbundle.Collect(ctx, o)
	if err := st.End(err); err != nil {
		return fmt.Errorf("writing the support bundle: %w", err)
	}
	st.Info("support bundle %s written: every value of the secret store, every age key and token redacted; read it before you send it", d.SupportBundle)
	d.BundleWritten = d.SupportBundle
	return nil
}

// inputs reads what the last install saved, leniently: doctor checks an
// appliance whose inputs may have moved since (a certificate file deleted
// after install), so the saved config is parsed and defaulted but not
// validated again, and a secret store that cannot be opened is a finding
// of the checks that need it (the age key's), not a reason to stop.
func (d *Doctor) inputs() (*Inputs, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, fmt.Errorf("loading release trains: %w", err)
	}
	for _, t := range d.Trains {
		if _, err := cat.Get(t.Name); err == nil {
			continue
		}
		if err := cat.Add(t); err != nil {
			return nil, fmt.Errorf("adding train %s: %w", t.Name, err)
		}
	}
	if d.TrainFile != "" {
		data, err := os.ReadFile(d.TrainFile)
		if err != nil {
			return nil, fmt.Errorf("reading --train-file: %w", err)
		}
		t, err := bundles.ParseTrain(data)
		if err != nil {
			return nil, fmt.Errorf("loading --train-file %s: %w", d.TrainFile, err)
		}
		if err := cat.Add(t); err != nil {
			return nil, fmt.Errorf("loading --train-file %s: %w", d.TrainFile, err)
		}
	}
	cfg, err := config.Load(SavedConfigPath(d.StateDir))
	if err != nil {
		return nil, fmt.Errorf("reading the appliance's saved config: %w", err)
	}
	if err := cfg.Resolve(nil); err != nil {
		return nil, fmt.Errorf("reading the appliance's saved config: %w", err)
	}
	train, err := cat.Get(cfg.Train)
	if err != nil {
		return nil, fmt.Errorf("the saved config's train %q: %w (give the train file it was installed with: --train-file)", cfg.Train, err)
	}
	in := &Inputs{Catalog: cat, Config: cfg, Train: train}
	if st, err := secrets.OpenStoreReadOnly(d.StateDir); err == nil && !storeMissing(d.StateDir) {
		in.Store = st
	}
	return in, nil
}

// storeMissing: a state folder without its secret store has no appliance's secrets to read.
func storeMissing(stateDir string) bool {
	_, err := os.Stat(filepath.Join(stateDir, secrets.StoreFileName))
	return err != nil
}
