package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/backup/backuptest"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// The git part over SSH (an operator's repository with a deploy key): the server's host key must
// be the configured one, never trusted on first use.
func TestGitPartOverSSH(t *testing.T) {
	kit.Program(t, "ssh", "apt-get install openssh-client")
	key, pub := probetest.NewSSHKey(t)
	srv := probetest.StartGitSSH(t, pub)
	url := srv.InitRepo(t, "desired", "main")
	s := backuptest.StartStore(t, nil, "backups")
	gitStep := func(id, knownHosts string) (*backup.Now, error) {
		r, err := gitops.ExternalRemote(config.Git{Mode: config.External, URL: url, Branch: "main", Auth: config.GitAuthSSH, KnownHosts: knownHosts}, "", key)
		if err != nil {
			t.Fatal(err)
		}
		n := &backup.Now{Target: s.Target("backups", ""), ID: id, Git: backup.Git{Remote: r}, WorkDir: t.TempDir()}
		list, err := n.Steps()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err = steps.Run(ctx, status.Discard(), list[4:5])
		return n, err
	}
	n, err := gitStep("20261202T031500Z", srv.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if p := n.Part(backup.PartGit); p == nil || p.Refs != 1 || p.Bytes == 0 {
		t.Errorf("the git part over SSH: %+v", p)
	}
	_, err = gitStep("20261202T031600Z", srv.OtherHostKeyLine(t))
	if err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Errorf("a server whose host key is not the configured one: %v", err)
	}
}
