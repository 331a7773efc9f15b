package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// backup now and backup list as the commands run them, on an appliance with the operator's S3
// (versitygw over HTTPS, a private CA given with --ca-file) and an external repository (git
// http-backend, token auth), whose saved config and secret store are in the state folder: the
// set lands in the media bucket under appliance-backups/ (where render's ObjectStore archives
// today), the backups there are not copied as media, and list finds the set consistent.
func TestBackupNowAndListOnAnAppliance(t *testing.T) {
	ca := probetest.NewCA(t)
	s3 := backuptest.StartStore(t, ca, "media")
	for _, k := range []string{"documents/a/one.png", "documents/b/two.pdf", "documents/c/three.txt"} {
		s3.Put(t, "media", k, []byte("media object "+k))
	}
	git := probetest.StartGit(t, ca, map[string]probetest.GitUser{"appliance": {Password: "a-token-of-the-test", Write: true}})
	repoURL := git.InitRepo(t, "desired", "main")
	c, kubeconfig := backuptest.Kube(t)
	backuptest.Operator(t, c, s3, "media", "appliance-backups/", "")

	state, _, _ := backuptest.StateDir(t)
	st, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"storage.accessKeyID": s3.AccessKey, "storage.secretAccessKey": s3.SecretKey, "git.token": "a-token-of-the-test"} {
		f := filepath.Join(t.TempDir(), "v")
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := st.SetFromFile(name, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(example), "storage:\n  mode: embedded", "storage:\n  mode: external\n  endpoint: "+s3.Endpoint+"\n  region: us-east-1\n  bucket: media", 1)
	cfg = strings.Replace(cfg, "git:\n  mode: in-cluster", "git:\n  mode: external\n  url: "+repoURL+"\n  branch: main\n  auth: token\n  username: appliance", 1)
	if cfg == string(example) || !strings.Contains(cfg, "mode: external\n  url:") {
		t.Fatal("the example config changed shape: update this test's edits")
	}
	if err := os.WriteFile(SavedConfigPath(state), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The dry run plans every step and writes nothing.
	dry := NewBackupNow(state, "", kubeconfig, "")
	dry.DryRun, dry.CAFiles = true, []string{caFile}
	if err := dry.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range dry.Result.Plan {
		ids = append(ids, p.ID)
	}
	if got := strings.Join(ids, " "); got != "target database media identity git state manifest" {
		t.Errorf("the dry run plans %s", got)
	}
	if keys := s3.Keys(t, "media"); len(keys) != 3 {
		t.Errorf("the dry run wrote %v", keys)
	}
	if _, err := os.Stat(filepath.Join(state, backup.PendingFileName)); err == nil {
		t.Error("the dry run recorded a pending set")
	}

	// A second run while one holds the lock is refused before it does anything.
	unlock, err := lockBackup(state)
	if err != nil {
		t.Fatal(err)
	}
	now := NewBackupNow(state, "", kubeconfig, "")
	now.CAFiles = []string{caFile}
	if err := now.Run(ctx, status.Discard()); err == nil || !strings.Contains(err.Error(), "another backup now is running") {
		t.Errorf("a run beside another: %v", err)
	}
	unlock()
	now = NewBackupNow(state, "", kubeconfig, "")
	now.CAFiles = []string{caFile}
	if err := now.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	m := now.Result.Manifest
	if m == nil || m.ID != now.Result.ID || m.Train != "2026.11" {
		t.Fatalf("result %+v", now.Result)
	}
	for _, r := range now.Result.Steps {
		if r.Outcome == steps.Failed {
			t.Errorf("step %s failed: %s", r.ID, r.Error)
		}
	}
	if p := m.Part(backup.PartMedia); p.Objects != 3 {
		t.Errorf("the media part has %d objects, want the bucket's 3 (the backups under appliance-backups/ are not media)", p.Objects)
	}
	if p := m.Part(backup.PartGit); p.Refs != 1 || p.Bytes == 0 {
		t.Errorf("the git part %+v, want the repository's one branch", p)
	}
	if _, err := os.Stat(filepath.Join(state, backup.PendingFileName)); err == nil {
		t.Error("the finished set is still recorded as pending")
	}
	if now.Result.AgeKey.OfflineCopyConfirmed || !strings.Contains(now.Result.AgeKey.Message, "key confirm-backup") {
		t.Errorf("the reminder %+v does not say the key's offline copy is unconfirmed", now.Result.AgeKey)
	}
	for _, k := range s3.Keys(t, "media") {
		if strings.HasPrefix(k, "appliance-backups/media/appliance-backups/") {
			t.Errorf("%s: a backup was copied as media", k)
		}
	}

	list := NewBackupList(state, "", kubeconfig, "")
	list.CAFiles = []string{caFile}
	if err := list.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	l := list.Listing
	if l.NewestConsistent != m.ID || len(l.Sets) != 1 || len(l.Backups) != 1 || len(l.Archive) != 1 {
		t.Errorf("list: %+v", l)
	}
	if text := l.Text(time.Now()); !strings.Contains(text, "Newest consistent set: "+m.ID) {
		t.Errorf("list's text:\n%s", text)
	}
}
