package installer

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/git"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// gitServer runs the appliance's git server (git http-backend behind its handler) on
// 127.0.0.1 and returns the remote the installer would push to.
func gitServer(t *testing.T) gitops.Remote {
	t.Helper()
	for _, p := range []string{gitserver.DefaultGit, gitserver.DefaultHTTPBackend} {
		kit.File(t, p, "Debian's git", "apt-get install git")
	}
	dir := t.TempDir()
	users, err := gitserver.UsersFile(gitops.GitAccounts("push-password-of-the-test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &gitserver.Server{Root: dir, Repos: []string{gitops.GitRepoName}, Branch: "main", UsersFile: usersPath, Log: log.New(&bytes.Buffer{}, "", 0)}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return gitops.InClusterRemote(strings.TrimPrefix(ts.URL, "http://"), "main", "push-password-of-the-test")
}

func cloneOf(t *testing.T, r gitops.Remote) *gitops.Repo {
	t.Helper()
	repo, err := gitops.Clone(context.Background(), t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(repo.Close)
	return repo
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// standinRender renders the stand-in appliance of state on train as the hop would publish it.
func standinRender(t *testing.T, u *Upgrade, train, subject string) gitops.PublishInput {
	t.Helper()
	trains, _, err := readTrainFiles(u.TrainFiles)
	if err != nil {
		t.Fatal(err)
	}
	in, err := LoadInputs(InputOptions{StateDir: u.StateDir, Trains: trains, ChartsDir: u.ChartsDir, Sets: []string{"train=" + train}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(context.Background(), render.Options{Config: in.Config, Train: in.Train, Profile: in.Profile, Charts: in.Charts,
		Secrets: in.Store, Recipients: in.Recipients(), Branding: in.Branding})
	if err != nil {
		t.Fatal(err)
	}
	return gitops.PublishInput{Result: res, Identity: in.Store.Identity(), Recipients: in.Recipients(), Config: in.Config,
		Version: "test", Author: git.Signature{Name: "docs-appliance", Email: "docs-appliance@" + in.Config.Domain}, Subject: subject}
}

func publish(t *testing.T, repo *gitops.Repo, in gitops.PublishInput) string {
	t.Helper()
	pub, err := gitops.Publish(context.Background(), repo, in)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Committed {
		t.Fatalf("nothing committed for %s", in.Subject)
	}
	return pub.Head
}

// The revert is a new commit whose tree is the previous train's render, byte for byte; the
// previous train's render staged over it changes nothing.
func TestUpgradeRevertCommitRestoresThePreviousTrainsRender(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	remote := gitServer(t)
	repo := cloneOf(t, remote)
	prev := standinRender(t, u, "2099.01", "")
	installed := publish(t, repo, prev)
	// The hop's commit as its commit step writes it: subject and version changes.
	h := standinHops(t, u)[0]
	hopIn := standinRender(t, u, "2099.02", h.commitSubject())
	hopIn.Preamble = h.commitPreamble()
	hopCommit := publish(t, repo, hopIn)
	if s := gitOut(t, repo.Dir(), "log", "-1", "--format=%s"); s != "upgrade 2099.01 → 2099.02" {
		t.Fatalf("the hop's commit subject is %q", s)
	}
	body := gitOut(t, repo.Dir(), "log", "-1", "--format=%b")
	for _, want := range []string{"k3s: v1.35.2+k3s1 → v1.35.4+k3s1", "standin-app: 0.1.0 → 0.2.0", "docs-appliance.test/standin: v1 → v2",
		"move from train 2099.01 to 2099.02"} {
		if !strings.Contains(body, want) {
			t.Errorf("the hop's commit body lacks %q:\n%s", want, body)
		}
	}
	if gitOut(t, repo.Dir(), "diff", "--stat", installed, hopCommit) == "" {
		t.Fatal("the hop changed nothing: the test proves nothing")
	}

	files, err := revertCommit(repo.Dir(), hopCommit)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("nothing reverted")
	}
	hash, err := repo.Commit(git.Signature{Name: "t", Email: "t@e2e.test"}, "rollback 2099.02 → 2099.01\n\nThis reverts commit "+hopCommit+".\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	fresh := cloneOf(t, remote)
	if head, _ := fresh.Head(); head != hash {
		t.Fatalf("the remote's head is %s, want the revert %s", head, hash)
	}
	// Three commits, the revert a new one on top (history kept).
	if n := gitOut(t, fresh.Dir(), "rev-list", "--count", "HEAD"); n != "3" {
		t.Errorf("%s commits, want 3", n)
	}
	if d := gitOut(t, fresh.Dir(), "diff", "--stat", installed, "HEAD"); d != "" {
		t.Errorf("the tree after the revert differs from train 2099.01's:\n%s", d)
	}
	s, err := gitops.Stage(fresh, prev)
	if err != nil {
		t.Fatal(err)
	}
	if s.Changed {
		t.Error("the previous train's render staged over the revert changes files")
	}
}

// A later commit that touches a file the hop changed makes the revert a conflict naming the
// file and the commit, writing nothing; a later commit elsewhere is kept by the revert.
func TestUpgradeRevertConflictsWithLaterChanges(t *testing.T) {
	u := standinUpgrade(t, "2099.01")
	remote := gitServer(t)
	repo := cloneOf(t, remote)
	publish(t, repo, standinRender(t, u, "2099.01", ""))
	hopCommit := publish(t, repo, standinRender(t, u, "2099.02", "upgrade 2099.01 → 2099.02"))

	// A later commit elsewhere: kept.
	extra := filepath.Join(repo.Dir(), "NOTES.md")
	if err := os.WriteFile(extra, []byte("operator's notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes, err := repo.Commit(git.Signature{Name: "op", Email: "op@e2e.test"}, "notes")
	if err != nil {
		t.Fatal(err)
	}
	// Reverting a commit that added a file removes it, and the revert commit records that.
	if _, err := revertCommit(repo.Dir(), notes); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(git.Signature{Name: "op", Email: "op@e2e.test"}, "revert notes"); err != nil {
		t.Fatal(err)
	}
	if files := gitOut(t, repo.Dir(), "ls-files", "NOTES.md"); files != "" {
		t.Fatalf("the revert of an added file left it in the tree")
	}
	gitOut(t, repo.Dir(), "reset", "-q", "--hard", notes)
	if _, err := revertCommit(repo.Dir(), hopCommit); err != nil {
		t.Fatalf("a later commit elsewhere: %v", err)
	}
	if _, err := os.Stat(extra); err != nil {
		t.Errorf("the revert removed a later commit's file: %v", err)
	}
	gitOut(t, repo.Dir(), "checkout", "--", ".")
	gitOut(t, repo.Dir(), "clean", "-fdq")

	// A later config change (the recorded config is one of the hop's files): a conflict.
	cfg := standinRender(t, u, "2099.02", "")
	cfg.Config.AdminEmail = "someone-else@e2e.test"
	publish(t, repo, cfg)
	headBefore, _ := repo.Head()
	_, err = revertCommit(repo.Dir(), hopCommit)
	var ce *RevertConflictError
	if !errors.As(err, &ce) || len(ce.Later) != 2 || !strings.Contains(err.Error(), gitops.ConfigFile("production")) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(strings.Join(ce.Later, "\n"), "config change: adminEmail") {
		t.Errorf("later commits %v do not name the config change", ce.Later)
	}
	if clean, err := repo.Clean(); err != nil || !clean {
		t.Errorf("a conflicting revert wrote into the working copy (clean %v, %v)", clean, err)
	}
	if head, _ := repo.Head(); head != headBefore {
		t.Error("a conflicting revert moved the head")
	}
}
