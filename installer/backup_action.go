package installer

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// backupSource is what both backup commands read: the appliance as doctor reaches it.
type backupSource struct {
	// StateDir is the appliance's state folder (host path); TrainFile a train given as a file,
	// Trains more, parsed (upgrade's).
	StateDir, TrainFile string
	Trains              []*bundles.Train
	// Kubeconfig: the appliance runs on this existing cluster; empty is k3s on this host.
	Kubeconfig string
	Root       host.Root
	// CAFiles are PEM certificate authorities trusted beside the system's for the backup target,
	// the media bucket and the repository (a private PKI), as configure's --ca-file.
	CAFiles []string
}

// caBundle reads CAFiles, refusing one without a certificate.
func (b backupSource) caBundle() ([]byte, error) {
	var out []byte
	for _, f := range b.CAFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading --ca-file: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("reading --ca-file %s: no PEM certificate in it (give the CA certificate the store or repository is signed by)", f)
		}
		out = append(out, data...)
	}
	return out, nil
}

func (b backupSource) root() host.Root {
	if b.Root == "" {
		return "/"
	}
	return b.Root
}

// open reads the saved config and the secret store (the target's keys are in it).
func (b backupSource) open() (*Inputs, error) {
	if _, err := os.Stat(SavedConfigPath(b.StateDir)); err != nil {
		return nil, &NoApplianceError{StateDir: b.StateDir}
	}
	in, err := (&Doctor{StateDir: b.StateDir, TrainFile: b.TrainFile, Trains: b.Trains}).inputs()
	if err != nil {
		return nil, err
	}
	if in.Store == nil {
		_, err := secrets.OpenStoreReadOnly(b.StateDir)
		return nil, fmt.Errorf("opening the secret store (the backup target's keys are in it): %w", err)
	}
	return in, nil
}

// connect reaches the cluster, as doctor does.
func (b backupSource) connect(ctx context.Context, st *status.Status) (*cluster.Client, error) {
	r := b.root()
	return connectCluster(ctx, st, b.Kubeconfig, r, r.HostPath(b.StateDir))
}

func (b backupSource) database(c *cluster.Client, cfg *config.Config) backup.Database {
	d := backup.Database{Namespace: render.DatabaseNamespace, Cluster: "postgres", ServerName: backupLocation(cfg).ServerName}
	if c != nil {
		d.Client = c.Dynamic
	}
	return d
}

// BackupNow takes a backup set of the appliance installed from StateDir, or, with DryRun,
// says what it would do.
type BackupNow struct {
	backupSource
	DryRun bool
	// Deadlines override steps' (by step ID).
	Deadlines map[string]time.Duration
	// Git is the git program for the bundle; "" is git on $PATH.
	Git string

	// Result is filled by Run.
	Result *BackupNowResult
}

// BackupNowResult is the command's result (--output json).
type BackupNowResult struct {
	ID string `json:"id"`
	// Resumed: a killed run's set was finished.
	Resumed  bool               `json:"resumed"`
	DryRun   bool               `json:"dryRun,omitempty"`
	Plan     []steps.Planned    `json:"plan,omitempty"`
	Steps    []steps.Result     `json:"steps,omitempty"`
	Manifest *backup.Manifest   `json:"manifest,omitempty"`
	AgeKey   backup.KeyReminder `json:"ageKey"`
}

// NewBackupNow is BackupNow reading the appliance from stateDir.
func NewBackupNow(stateDir, trainFile, kubeconfig string, root host.Root) *BackupNow {
	return &BackupNow{backupSource: backupSource{StateDir: stateDir, TrainFile: trainFile, Kubeconfig: kubeconfig, Root: root}}
}

// Run takes the set. Its error is the failed step's; Result holds every step's outcome.
func (b *BackupNow) Run(ctx context.Context, st *status.Status) error {
	ca, err := b.caBundle()
	if err != nil {
		return err
	}
	in, err := b.open()
	if err != nil {
		return err
	}
	dir := b.root().Path(b.StateDir)
	if !b.DryRun {
		unlock, err := lockBackup(dir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	var c *cluster.Client
	if !b.DryRun {
		if c, err = b.connect(ctx, st); err != nil {
			return err
		}
	}
	life, stop := context.WithCancel(context.Background())
	defer stop()
	ends, err := backupEndpoints(ctx, life, c, in, ca)
	if err != nil {
		return err
	}
	var remote gitops.Remote
	if c != nil {
		r, closeRemote, err := openRemote(ctx, life, c, in)
		if err != nil {
			return fmt.Errorf("reaching the desired-state repository: %w", err)
		}
		defer closeRemote()
		remote = r
	}
	now := time.Now()
	res := &BackupNowResult{ID: backup.NewID(now), DryRun: b.DryRun, AgeKey: backup.AgeKeyReminder(dir)}
	created := now
	if !b.DryRun {
		if res.ID, created, res.Resumed, err = backup.Pending(dir, now); err != nil {
			return err
		}
		if res.Resumed {
			st.Info("finishing set %s, which an earlier run started", res.ID)
		}
	}
	work, err := os.MkdirTemp("", "docs-appliance-backup-")
	if err != nil {
		return fmt.Errorf("making a work folder: %w", err)
	}
	defer os.RemoveAll(work)
	n := &backup.Now{Target: ends.Target, ID: res.ID, CreatedAt: created, Database: b.database(c, in.Config),
		Media: backup.Media{Source: ends.Media}, Git: backup.Git{Bin: b.Git, Remote: remote, CABundle: ca},
		EmbeddedIdentity: in.Config.Identity.Mode == config.Embedded,
		StateFiles:       []string{SavedConfigPath(dir), filepath.Join(dir, secrets.StoreFileName)},
		WorkDir:          work, Train: in.Config.Train, ApplianceVersion: release.Version, Deadlines: b.Deadlines}
	list, err := n.Steps()
	if err != nil {
		return err
	}
	b.Result = res
	if b.DryRun {
		res.Plan = steps.Plan(list)
		return nil
	}
	res.Steps, err = steps.Run(ctx, st, list)
	if err != nil {
		return err
	}
	res.Manifest = n.Manifest
	if err := backup.Finished(dir); err != nil {
		return err
	}
	return nil
}

// lockBackup keeps two backup now runs from taking one set at once; the kernel drops the lock
// when the process ends, however it ends, so a killed run never blocks the next.
func lockBackup(stateDir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(stateDir, "backup.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the backup lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another backup now is running on %s (it holds %s): let it finish", stateDir, f.Name())
	}
	return func() { f.Close() }, nil
}

// backupObjectStore is the barman-cloud ObjectStore render writes (render's backupStore): its
// status holds the recovery window.
const backupObjectStore = "backups"

// BackupList lists the sets in the backup target, the cluster's database backups and the
// recovery window.
type BackupList struct {
	backupSource
	Listing *backup.Listing
}

// NewBackupList is BackupList reading the appliance from stateDir.
func NewBackupList(stateDir, trainFile, kubeconfig string, root host.Root) *BackupList {
	return &BackupList{backupSource: backupSource{StateDir: stateDir, TrainFile: trainFile, Kubeconfig: kubeconfig, Root: root}}
}

// Run reads the listing. A cluster that does not answer still lets an external target be
// listed (its Backup objects and recovery window are then missing, with a warning).
func (b *BackupList) Run(ctx context.Context, st *status.Status) error {
	ca, err := b.caBundle()
	if err != nil {
		return err
	}
	in, err := b.open()
	if err != nil {
		return err
	}
	c, cerr := b.connect(ctx, st)
	if cerr != nil && backupLocation(in.Config).Embedded {
		return fmt.Errorf("the backups are in the embedded object store, reached through the cluster: %w", cerr)
	}
	life, stop := context.WithCancel(context.Background())
	defer stop()
	ends, err := backupEndpoints(ctx, life, c, in, ca)
	if err != nil {
		return err
	}
	st.Start("Listing the backup target " + ends.Target.URL(""))
	l, err := backup.List(ctx, ends.Target, b.database(c, in.Config), backupObjectStore)
	if err := st.End(err); err != nil {
		return err
	}
	if cerr != nil {
		l.Warnings = append(l.Warnings, "the cluster's Backup objects and recovery window are not listed: "+cerr.Error())
	}
	b.Listing = l
	return nil
}
