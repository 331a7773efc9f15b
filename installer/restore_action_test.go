package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// restoreFixture is a set that a real backup run took into versitygw over TLS (the database
// part through backuptest's stand-in operator: envtest runs no pods), and a Restore of it onto a
// fresh state folder. The install that follows is e2e/cnpg's: here, restore's own steps.
type restoreFixture struct {
	r       *Restore
	set     *backup.Manifest
	key     []byte
	fresh   string
	kubecfg string
}

func newRestoreFixture(t *testing.T) *restoreFixture {
	t.Helper()
	ca := probetest.NewCA(t, "127.0.0.1")
	s := backuptest.StartStore(t, ca, "backups", "media")
	c, kubeconfig := backuptest.Kube(t)
	backuptest.Operator(t, c, s, "backups", "site/", "")
	_, files, key := backuptest.StateDir(t)
	example, err := os.ReadFile("../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], example, 0o600); err != nil {
		t.Fatal(err)
	}
	n := &backup.Now{Target: s.Target("backups", "site/"), ID: backup.NewID(time.Now()), CreatedAt: time.Now(),
		Database: backup.Database{Client: c.Dynamic, Poll: 100 * time.Millisecond}, Media: backup.Media{Source: s.Target("media", "")},
		Git: backup.Git{Remote: backuptest.GitServer(t)}, StateFiles: files, WorkDir: t.TempDir(), Train: "2026.11"}
	list, err := n.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := steps.Run(ctx, status.Discard(), list); err != nil {
		t.Fatal(err)
	}
	secretDir := t.TempDir()
	write := func(name, value string) string {
		f := filepath.Join(secretDir, name)
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	caFile := write("ca.pem", string(ca.PEM))
	keyFile := write("age.key", string(key))
	fresh := filepath.Join(t.TempDir(), "state")
	r := &Restore{From: "s3://backups/site/", Endpoint: s.Endpoint, AgeKeyFile: keyFile, CAFiles: []string{caFile},
		Install: Install{Inputs: InputOptions{StateDir: fresh, SecretFiles: []string{
			config.SecretBackupAccessKeyID + "=" + write("id", s.AccessKey), config.SecretBackupSecretAccessKey + "=" + write("secret", s.SecretKey)}}}}
	return &restoreFixture{r: r, set: n.Manifest, key: key, fresh: fresh, kubecfg: kubeconfig}
}

// pre runs restore's own steps (what comes before the install).
func (f *restoreFixture) pre(t *testing.T) (*restoreRun, error) {
	t.Helper()
	target, err := f.r.targetOf()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(f.fresh, 0o700); err != nil {
		t.Fatal(err)
	}
	rr := &restoreRun{r: f.r, stateDir: f.fresh, target: target}
	f.r.Result = &RestoreResult{From: f.r.From}
	ctx := context.Background()
	for _, step := range []func(context.Context, *status.Status) error{rr.fresh, rr.chooseSet} {
		if err := step(ctx, status.Discard()); err != nil {
			return rr, err
		}
	}
	if done, _ := rr.stateDone(ctx); done != "" {
		return rr, nil
	}
	return rr, rr.state(ctx, status.Discard())
}

// The set's state lands in the fresh state folder (0600), opened with the age key; the config
// the install then reads makes --from its backup target and recovers the database from the
// set's archive under a new one; a rerun resumes the same set; a wrong key changes nothing.
func TestRestorePreparesTheStateFromTheSet(t *testing.T) {
	f := newRestoreFixture(t)

	wrong, _, err := secrets.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	good := f.r.AgeKeyFile
	f.r.AgeKeyFile = filepath.Join(t.TempDir(), "wrong.key")
	if err := os.WriteFile(f.r.AgeKeyFile, secrets.KeyFileContent(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pre(t); err == nil || !strings.Contains(err.Error(), "give the age key of the appliance that was backed up") {
		t.Fatalf("a wrong age key: %v", err)
	}
	if left, _ := os.ReadDir(f.fresh); len(left) != 0 {
		t.Errorf("a refused key left %d files in the state folder", len(left))
	}

	f.r.AgeKeyFile = good
	rr, err := f.pre(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{secrets.KeyFileName, secrets.StoreFileName, restoredConfigFile, restorePendingFile} {
		st, err := os.Stat(filepath.Join(f.fresh, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, st, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(f.fresh, secrets.KeyFileName)); string(got) != string(f.key) {
		t.Error("the state folder's age key is not the one given")
	}
	if v, ok := mustStore(t, f.fresh).Get("django.secretKey"); !ok || v != "a-secret-value-of-the-test" {
		t.Errorf("the restored store holds %q", v)
	}
	cfg, err := config.Load(filepath.Join(f.fresh, restoredConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Backup
	if b.Mode != config.External || b.Bucket != "backups" || b.Prefix != "site/" || b.Endpoint != f.r.Endpoint ||
		b.Recovery == nil || b.Recovery.ServerName != "postgres" || !strings.HasPrefix(b.ServerName, "postgres-r") {
		t.Errorf("the restored config's backup section: %+v (recovery %+v)", b, b.Recovery)
	}
	if rr.r.Result.Set != f.set.ID {
		t.Errorf("restored set %s, want %s", rr.r.Result.Set, f.set.ID)
	}

	// Killed after the state step: a rerun resumes the same set and archive name.
	first := rr.pending.ServerName
	rr2, err := f.pre(t)
	if err != nil || !f.r.Result.Resumed || rr2.pending.ServerName != first {
		t.Errorf("a rerun: %v, resumed %v, server name %s (was %s)", err, f.r.Result.Resumed, rr2.pending.ServerName, first)
	}

	// Done (the record gone): the folder is an appliance's now, and restore refuses it.
	if err := os.Remove(filepath.Join(f.fresh, restorePendingFile)); err != nil {
		t.Fatal(err)
	}
	var live *LiveApplianceError
	if _, err := f.pre(t); !errors.As(err, &live) {
		t.Errorf("a restore over an appliance's state folder: %v", err)
	}
}

// A cluster that holds an appliance's database is refused before anything is fetched; bad
// flags name themselves.
func TestRestoreRefusesALiveClusterAndBadFlags(t *testing.T) {
	f := newRestoreFixture(t)
	f.r.Install.Kubeconfig = f.kubecfg // its API server has the namespace database (backuptest.Kube)
	var live *LiveApplianceError
	if _, err := f.pre(t); !errors.As(err, &live) || !strings.Contains(err.Error(), "database namespace database") {
		t.Errorf("a cluster with an appliance's database: %v", err)
	}
	if left, _ := os.ReadDir(f.fresh); len(left) != 0 {
		t.Errorf("a refused restore left %d files in the state folder", len(left))
	}

	for _, tc := range []struct {
		mut  func(r *Restore)
		want string
	}{
		{func(r *Restore) { r.From = "https://backups/site/" }, "--from \"https://backups/site/\": give the backup target as s3://bucket/prefix/"},
		{func(r *Restore) { r.Endpoint = "" }, "--endpoint is empty"},
		{func(r *Restore) { r.Endpoint = "http://127.0.0.1:1" }, "is not https"},
		{func(r *Restore) { r.Install.Inputs.SecretFiles = r.Install.Inputs.SecretFiles[:1] }, "--secret backup.secretAccessKey=FILE"},
	} {
		r := *f.r
		r.Install.Inputs.SecretFiles = append([]string(nil), f.r.Install.Inputs.SecretFiles...)
		tc.mut(&r)
		if _, err := r.targetOf(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

func TestNextServerName(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for old, want := range map[string]string{
		"postgres":                 "postgres-r20261202050000",
		"postgres-r20261101010101": "postgres-r20261202050000",
		"site-a":                   "site-a-r20261202050000",
	} {
		got := nextServerName(old, at)
		if got != want || config.ServerNameProblem(got) != "" {
			t.Errorf("nextServerName(%s) = %s (%s), want %s", old, got, config.ServerNameProblem(got), want)
		}
	}
}

func mustStore(t *testing.T, dir string) *secrets.Store {
	t.Helper()
	s, err := secrets.OpenStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
