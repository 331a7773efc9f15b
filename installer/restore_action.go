package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// Restore rebuilds the appliance from a backup set on a fresh server (`restore --from`): it
// picks the set, fetches its state (the saved config and the encrypted secret store, checked
// by SHA-256) and proves the given age key opens it, then installs from that config with the
// database recovered from the set's archive (to its newest point, or ToTime) under an archive
// of its own, the desired-state history pushed back into a new in-cluster git server, and the
// media copied back. It refuses to run over a live appliance. A killed restore, run again,
// resumes: restore-pending.json in the state folder says which set and archive it is building.
type Restore struct {
	// From is the backup target, s3://bucket/prefix, at Endpoint (https) in Region; its keys
	// come as --secret backup.accessKeyID=FILE and backup.secretAccessKey=FILE.
	From, Endpoint, Region string
	// AgeKeyFile is the backed-up appliance's age key (its offline copy).
	AgeKeyFile string
	// SetID picks a set; empty is the newest consistent one (before ToTime when given).
	SetID string
	// ToTime recovers the database to this instant instead of the newest point.
	ToTime time.Time
	// CAFiles are PEM CAs trusted for the target beside the system's.
	CAFiles []string
	// Install is the install that follows (state folder, kubeconfig, train file, charts...).
	Install Install

	Result *RestoreResult
}

// RestoreResult is what `restore` reports.
type RestoreResult struct {
	Set        string `json:"set"`
	From       string `json:"from"`
	ServerName string `json:"serverName"`
	// RecoveredFrom is the archive (server name) the database was recovered from.
	RecoveredFrom string `json:"recoveredFrom"`
	ToTime        string `json:"toTime,omitempty"`
	// Repository: "pushed N refs" or "kept (the remote has history)".
	Repository string `json:"repository"`
	// MediaCopied and MediaKept count the media objects copied back and already there.
	MediaCopied int              `json:"mediaCopied"`
	MediaKept   int              `json:"mediaKept"`
	Resumed     bool             `json:"resumed"`
	Steps       []steps.Result   `json:"steps"`
	Install     *InstallResult   `json:"install,omitempty"`
	Manifest    *backup.Manifest `json:"manifest,omitempty"`
}

// restorePendingFile records a restore under way in the state folder.
const restorePendingFile = "restore-pending.json"

// restoredConfigFile is the config a restore installs from, kept beside the state.
const restoredConfigFile = "restored-appliance.yaml"

type restorePending struct {
	Set        string `json:"set"`
	From       string `json:"from"`
	ServerName string `json:"serverName"`
	ToTime     string `json:"toTime,omitempty"`
}

// LiveApplianceError refuses a restore over an appliance that exists.
type LiveApplianceError struct{ What string }

func (e *LiveApplianceError) Error() string {
	return "restore rebuilds an appliance on a fresh server, and " + e.What +
		": run it on a new server (or after `reset --purge`), or give another --state-dir; to undo a change on this appliance, revert it in Git instead"
}

// restoreRun is what restore's steps share.
type restoreRun struct {
	r        *Restore
	stateDir string
	target   backup.Target
	pending  *restorePending
	manifest *backup.Manifest
}

// Run carries the restore out: its own steps, then install's with the restore's.
func (r *Restore) Run(ctx context.Context, st *status.Status) (err error) {
	i := &r.Install
	stateDir := i.Inputs.StateDir
	target, err := r.targetOf()
	if err != nil {
		return err
	}
	unlock, err := lockState(stateDir)
	if err != nil {
		return err
	}
	defer func() { unlock(err != nil) }()
	rr := &restoreRun{r: r, stateDir: stateDir, target: target}
	r.Result = &RestoreResult{From: r.From}
	pre := []steps.Step{
		&steps.Func{Name: "fresh", Describe: "Checking that no appliance lives here (state folder, cluster)", RunFunc: rr.fresh, Deadline: clusterDeadline},
		&steps.Func{Name: "backup-set", Describe: "Choosing the backup set in " + r.From, RunFunc: rr.chooseSet, Deadline: gitDeadline, Remote: r.Endpoint},
		&steps.Func{Name: "state", Describe: "Fetching the set's config and encrypted secret store, and opening it with the age key",
			CheckFunc: rr.stateDone, RunFunc: rr.state, Deadline: gitDeadline, Remote: r.Endpoint},
	}
	res, err := steps.Run(ctx, st, pre)
	r.Result.Steps = res
	if err != nil {
		return err
	}
	i.Inputs.ConfigPath = filepath.Join(stateDir, restoredConfigFile)
	i.NonInteractive, i.locked = true, true
	i.restore = rr
	err = i.install(ctx, st)
	r.Result.Install = i.Result
	if i.Result != nil {
		r.Result.Steps = append(r.Result.Steps, i.Result.Steps...)
	}
	if err != nil {
		return err
	}
	// Done: install saved the config it installed, which later runs read.
	for _, name := range []string{restorePendingFile, restoredConfigFile} {
		if err := os.Remove(filepath.Join(stateDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", name, err)
		}
	}
	st.Info("restored set %s: the database recovered from archive %s now archives as %s", rr.pending.Set, r.Result.RecoveredFrom, rr.pending.ServerName)
	return nil
}

// targetOf is the --from target with the keys given as --secret files.
func (r *Restore) targetOf() (backup.Target, error) {
	u, err := url.Parse(r.From)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return backup.Target{}, fmt.Errorf("--from %q: give the backup target as s3://bucket/prefix/", r.From)
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if r.Endpoint == "" {
		return backup.Target{}, errors.New("--endpoint is empty: give the backup target's S3 endpoint, https://host[:port]")
	}
	t := backup.Target{Endpoint: strings.TrimSuffix(r.Endpoint, "/"), Region: orString(r.Region, "us-east-1"), Bucket: u.Host, Prefix: prefix}
	for _, f := range r.CAFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return backup.Target{}, fmt.Errorf("reading --ca-file: %w", err)
		}
		t.CABundle = append(t.CABundle, data...)
	}
	files := map[string]string{}
	for _, s := range r.Install.Inputs.SecretFiles {
		if name, file, ok := strings.Cut(s, "="); ok {
			files[name] = file
		}
	}
	for name, dst := range map[string]*string{config.SecretBackupAccessKeyID: &t.AccessKeyID, config.SecretBackupSecretAccessKey: &t.SecretAccessKey} {
		file, ok := files[name]
		if !ok {
			return backup.Target{}, fmt.Errorf("the backup target's keys: give --secret %s=FILE (a file holding only the value)", name)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return backup.Target{}, fmt.Errorf("reading --secret %s: %w", name, err)
		}
		*dst = strings.TrimSpace(string(data))
	}
	if err := t.Check(); err != nil {
		return backup.Target{}, fmt.Errorf("--from: %w", err)
	}
	return t, nil
}

// fresh refuses a state folder or cluster that already holds an appliance, unless it is the
// one this restore started (restore-pending.json).
func (rr *restoreRun) fresh(ctx context.Context, st *status.Status) error {
	p, err := readRestorePending(rr.stateDir)
	if err != nil {
		return err
	}
	if p != nil {
		rr.pending = p
		rr.r.Result.Resumed = true
		st.Info("resuming the restore of set %s started earlier", p.Set)
		return nil
	}
	for _, name := range []string{filepath.Base(SavedConfigPath(rr.stateDir)), secrets.StoreFileName} {
		if _, err := os.Stat(filepath.Join(rr.stateDir, name)); err == nil {
			return &LiveApplianceError{What: "the state folder " + rr.stateDir + " holds an appliance's " + name}
		}
	}
	if rr.r.Install.Kubeconfig == "" {
		return nil
	}
	c, err := reachCluster(ctx, rr.r.Install.Kubeconfig)
	if err != nil {
		return fmt.Errorf("reaching the cluster of --kubeconfig: %w", err)
	}
	// What a restore would overwrite: the appliance's database, or Flux syncing an appliance's
	// repository. Leftovers of a removed appliance (a labelled namespace, CRDs) are not refused.
	if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, render.DatabaseNamespace, metav1.GetOptions{}); err == nil {
		return &LiveApplianceError{What: "the cluster already has the appliance's database namespace " + render.DatabaseNamespace}
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("looking for an appliance on the cluster: %w", err)
	}
	if _, err := c.Dynamic.Resource(gitops.GitRepositoryGVR).Namespace(gitops.FluxNamespace).Get(ctx, gitops.FluxName, metav1.GetOptions{}); err == nil {
		return &LiveApplianceError{What: "Flux on the cluster already syncs an appliance's repository (GitRepository " + gitops.FluxNamespace + "/" + gitops.FluxName + ")"}
	} else if !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
		return fmt.Errorf("looking for Flux on the cluster: %w", err)
	}
	return nil
}

// chooseSet picks the set (the one a resumed restore started with).
func (rr *restoreRun) chooseSet(ctx context.Context, st *status.Status) error {
	id, to := rr.r.SetID, rr.r.ToTime
	if rr.pending != nil {
		id = rr.pending.Set
	}
	m, err := backup.Choose(ctx, rr.target, id, to)
	if err != nil {
		return err
	}
	db := m.Part(backup.PartDatabase)
	if db == nil || db.Database == nil {
		return fmt.Errorf("set %s names no base backup", m.ID)
	}
	if !to.IsZero() && to.After(time.Now()) {
		return fmt.Errorf("--to-time %s is in the future: give a past instant, or leave it out for the newest point", to.UTC().Format(time.RFC3339))
	}
	rr.manifest = m
	rr.r.Result.Set, rr.r.Result.Manifest, rr.r.Result.RecoveredFrom = m.ID, m, db.Database.ServerName
	st.Info("set %s (train %s, taken %s): base backup %s of archive %s", m.ID, m.Train, m.CreatedAt.UTC().Format(time.RFC3339), db.Database.BackupID, db.Database.ServerName)
	return nil
}

// state fetches the set's state into a staging folder, opens the secret store with the age
// key (a wrong key stops here, before anything is kept), then moves key and store into the
// state folder and writes the config the install uses: the backed-up one, with --from as its
// backup target and the database recovered from the set's archive under a new server name.
func (rr *restoreRun) state(ctx context.Context, st *status.Status) error {
	key, err := secrets.LoadKey(rr.r.AgeKeyFile)
	if err != nil {
		return fmt.Errorf("reading --age-key: %w", err)
	}
	stage, err := os.MkdirTemp(rr.stateDir, ".restore-")
	if err != nil {
		return fmt.Errorf("making a staging folder in %s: %w", rr.stateDir, err)
	}
	defer os.RemoveAll(stage)
	files, err := backup.FetchState(ctx, rr.target, rr.manifest, stage)
	if err != nil {
		return err
	}
	cfgFile, store := files[filepath.Base(SavedConfigPath(rr.stateDir))], files[secrets.StoreFileName]
	if cfgFile == "" || store == "" {
		return fmt.Errorf("set %s lacks the saved config or the secret store", rr.manifest.ID)
	}
	if err := atomicfile.Write(filepath.Join(stage, secrets.KeyFileName), secrets.KeyFileContent(key), 0o600); err != nil {
		return err
	}
	if _, err := secrets.OpenStoreReadOnly(stage); err != nil {
		return fmt.Errorf("opening set %s's secret store with --age-key %s (%s): %w; give the age key of the appliance that was backed up",
			rr.manifest.ID, rr.r.AgeKeyFile, key.Recipient(), err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return fmt.Errorf("reading set %s's config: %w", rr.manifest.ID, err)
	}
	if rr.pending == nil {
		db := rr.manifest.Part(backup.PartDatabase).Database
		rr.pending = &restorePending{Set: rr.manifest.ID, From: rr.r.From, ServerName: nextServerName(db.ServerName, time.Now())}
		if !rr.r.ToTime.IsZero() {
			rr.pending.ToTime = rr.r.ToTime.UTC().Format(time.RFC3339)
		}
	}
	rr.retarget(cfg)
	for _, name := range []string{secrets.KeyFileName, secrets.StoreFileName} {
		if err := os.Rename(filepath.Join(stage, name), filepath.Join(rr.stateDir, name)); err != nil {
			return fmt.Errorf("keeping %s in the state folder: %w", name, err)
		}
	}
	if err := cfg.Save(filepath.Join(rr.stateDir, restoredConfigFile)); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rr.pending, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(rr.stateDir, restorePendingFile), append(data, '\n'), 0o600); err != nil {
		return err
	}
	rr.r.Result.ServerName, rr.r.Result.ToTime = rr.pending.ServerName, rr.pending.ToTime
	return nil
}

// stateDone: a resumed restore keeps the state it fetched (the install may have added to the
// store since).
func (rr *restoreRun) stateDone(context.Context) (string, error) {
	if rr.pending == nil {
		return "", nil
	}
	for _, name := range []string{secrets.KeyFileName, secrets.StoreFileName, restoredConfigFile} {
		if _, err := os.Stat(filepath.Join(rr.stateDir, name)); err != nil {
			return "", nil
		}
	}
	rr.r.Result.ServerName, rr.r.Result.ToTime = rr.pending.ServerName, rr.pending.ToTime
	return "fetched by the earlier run (set " + rr.pending.Set + ")", nil
}

// retarget makes --from the config's backup target and records the recovery.
func (rr *restoreRun) retarget(cfg *config.Config) {
	t := rr.target
	b := &cfg.Backup
	b.Mode, b.Endpoint, b.Region, b.Bucket, b.Prefix = config.External, t.Endpoint, t.Region, t.Bucket, t.Prefix
	b.ServerName = rr.pending.ServerName
	b.Recovery = &config.Recovery{ServerName: rr.r.Result.RecoveredFrom, TargetTime: rr.pending.ToTime}
}

var recoveredSuffix = regexp.MustCompile(`-r[0-9]{14}$`)

// nextServerName is the recovered cluster's own archive: the old name (without an earlier
// recovery's suffix) and the time of this restore.
func nextServerName(old string, now time.Time) string {
	return recoveredSuffix.ReplaceAllString(old, "") + "-r" + now.UTC().Format("20060102150405")
}

func readRestorePending(stateDir string) (*restorePending, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, restorePendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", restorePendingFile, err)
	}
	var p restorePending
	if err := json.Unmarshal(data, &p); err != nil || p.Set == "" || p.ServerName == "" {
		return nil, fmt.Errorf("reading %s: not a restore record (remove it to start over)", filepath.Join(stateDir, restorePendingFile))
	}
	return &p, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
