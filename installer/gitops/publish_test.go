package gitops

import (
	"bytes"
	"context"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/fluxcd/pkg/git"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// inClusterServer runs the appliance's git server program logic on 127.0.0.1 with the accounts
// the installer gives it, and returns the Remote the installer would use through a port-forward.
func inClusterServer(t *testing.T) (Remote, *gitserver.Server) {
	t.Helper()
	for _, p := range []string{gitserver.DefaultGit, gitserver.DefaultHTTPBackend} {
		kit.File(t, p, "Debian's git", "apt-get install git")
	}
	dir := t.TempDir()
	users, err := gitserver.UsersFile(GitAccounts("push-password-of-the-test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &gitserver.Server{Root: dir, Repos: []string{GitRepoName}, Branch: "main", UsersFile: usersPath, Log: log.New(&logs, "", 0)}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return InClusterRemote(strings.TrimPrefix(ts.URL, "http://"), "main", "push-password-of-the-test"), s
}

func clone(t *testing.T, r Remote) *Repo {
	t.Helper()
	repo, err := Clone(context.Background(), t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(repo.Close)
	return repo
}

// testRender is a small render: a layer Kustomization, a manifest, and a Secret.
func testRender(secretValue string, extra bool) *render.Result {
	res := &render.Result{Files: []render.File{
		{Path: "clusters/production/apps.yaml", Content: []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\n")},
		{Path: "environments/production/apps/web/deployment.yaml", Content: []byte("kind: Deployment\n")},
		{Path: "environments/production/secrets/web/web.yaml", Content: secrets.KubeSecret("web", "web", nil, map[string]string{"TOKEN": secretValue}), Secret: true},
	}}
	if extra {
		res.Files = append(res.Files, render.File{Path: "environments/production/apps/web/extra.yaml", Content: []byte("kind: ConfigMap\n")})
	}
	return res
}

func gitLog(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "log", "--format=%s%n%b%n---").CombinedOutput()
	if err != nil {
		t.Fatalf("git log: %v\n%s", err, out)
	}
	return string(out)
}

func TestPublishCommitsOnlyChangesWithAMessageThatSaysWhy(t *testing.T) {
	remote, _ := inClusterServer(t)
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Train, cfg.Domain, cfg.AdminEmail = "2026.11", "docs.example.org", "admin@example.org"
	author := git.Signature{Name: "docs-appliance", Email: "docs-appliance@docs.example.org"}
	in := PublishInput{Result: testRender("s3cr3t-value", true), Identity: id, Recipients: []string{id.Recipient().String()}, Config: cfg, Version: "test", Author: author}

	// First install: an empty repository gets the render and the config.
	pub, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Committed || !strings.HasPrefix(pub.Subject, "docs-appliance production: install train 2026.11") {
		t.Fatalf("first publish: %+v", pub)
	}

	// The pushed state is what a fresh clone (as Flux's read account would) sees.
	flux := remote
	flux.Auth = &git.AuthOptions{Transport: git.HTTP, Username: GitReadUser, Password: string(remote.FluxSecret["password"])}
	seen := clone(t, flux)
	if h, _ := seen.Head(); h != pub.Head {
		t.Fatalf("remote head %s, published %s", h, pub.Head)
	}
	enc, _ := seen.ReadFile("environments/production/secrets/web/web.yaml")
	if bytes.Contains(enc, []byte("s3cr3t-value")) || !bytes.Contains(enc, []byte("sops:")) {
		t.Fatalf("the Secret is not SOPS-encrypted in Git:\n%s", enc)
	}
	if vals, err := secrets.SecretValues(enc, id); err != nil || vals["TOKEN"] != "s3cr3t-value" {
		t.Fatalf("the committed Secret does not decrypt to its value: %v", err)
	}
	recorded, _ := seen.ReadFile(ConfigFile(""))
	if !bytes.Contains(recorded, []byte("domain: docs.example.org")) {
		t.Errorf("config not recorded:\n%s", recorded)
	}

	// Rerun with nothing changed: no commit, and the encrypted Secret keeps its bytes.
	pub2, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if pub2.Committed || pub2.Head != pub.Head {
		t.Fatalf("an unchanged rerun committed: %+v", pub2)
	}

	// A config change and a file gone: one commit naming the changed fields and the removal.
	cfg2 := *cfg
	cfg2.Domain = "docs2.example.org"
	in.Config, in.Result = &cfg2, testRender("s3cr3t-value", false)
	pub3, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if !pub3.Committed || pub3.Subject != "docs-appliance production: render train 2026.11 (config change: domain)" {
		t.Fatalf("config change: %+v", pub3)
	}
	after := clone(t, remote)
	if data, _ := after.ReadFile("environments/production/apps/web/extra.yaml"); data != nil {
		t.Error("a file the render no longer produces is still in Git")
	}
	enc2, _ := after.ReadFile("environments/production/secrets/web/web.yaml")
	if !bytes.Equal(enc, enc2) {
		t.Error("an unchanged Secret was re-encrypted: every install would churn Git")
	}
	logText := gitLog(t, after.Dir())
	for _, want := range []string{"Config fields changed: domain.", "  D environments/production/apps/web/extra.yaml", "Secrets are SOPS-encrypted"} {
		if !strings.Contains(logText, want) {
			t.Errorf("history lacks %q:\n%s", want, logText)
		}
	}
	if strings.Contains(logText, "s3cr3t-value") {
		t.Error("a secret value is in a commit message")
	}

	// A new secret value alone: a commit that says the config is the same.
	in.Result = testRender("rotated-value", false)
	pub4, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if !pub4.Committed || !strings.Contains(pub4.Subject, "same config") || len(pub4.Report.Written) != 1 {
		t.Fatalf("secret rotation: %+v %+v", pub4, pub4.Report)
	}

	// Another train: the subject says so.
	cfg3 := cfg2
	cfg3.Train = "2027.02"
	in.Config = &cfg3
	pub5, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if pub5.Subject != "docs-appliance production: move from train 2026.11 to 2027.02" {
		t.Fatalf("train change: %q", pub5.Subject)
	}
}

func TestPublishLeavesFluxOwnFilesAlone(t *testing.T) {
	remote, _ := inClusterServer(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	cfg := config.Default()
	cfg.Train, cfg.Domain = "2026.11", "docs.example.org"
	in := PublishInput{Result: testRender("v", false), Identity: id, Recipients: []string{id.Recipient().String()}, Config: cfg, Author: git.Signature{Name: "a", Email: "a@b"}}
	repo := clone(t, remote)
	if _, err := Publish(ctx, repo, in); err != nil {
		t.Fatal(err)
	}
	// Flux bootstrap's files, committed in the same clone.
	fluxFile := filepath.Join(repo.Dir(), "clusters", "production", "flux-system", "gotk-sync.yaml")
	if err := os.MkdirAll(filepath.Dir(fluxFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fluxFile, []byte("kind: GitRepository\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(in.Author, "Add Flux sync manifests"); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx); err != nil {
		t.Fatal(err)
	}
	pub, err := Publish(ctx, clone(t, remote), in)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Committed {
		t.Fatalf("a rerun touched Flux's files: %+v", pub.Report)
	}
	if data, _ := clone(t, remote).ReadFile("clusters/production/flux-system/gotk-sync.yaml"); data == nil {
		t.Fatal("Flux's sync manifest was removed")
	}
}

func TestCloneReportsBadCredentialsWithoutTheURLSecret(t *testing.T) {
	remote, _ := inClusterServer(t)
	remote.Auth = &git.AuthOptions{Transport: git.HTTP, Username: GitPushUser, Password: "wrong"}
	_, err := Clone(context.Background(), t.TempDir(), remote)
	if err == nil || !strings.Contains(err.Error(), "cloning branch main of http://127.0.0.1") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestReadAccountCannotPush(t *testing.T) {
	remote, _ := inClusterServer(t)
	readOnly := remote
	readOnly.Auth = &git.AuthOptions{Transport: git.HTTP, Username: GitReadUser, Password: ReadPassword("push-password-of-the-test")}
	repo := clone(t, readOnly)
	if err := os.WriteFile(filepath.Join(repo.Dir(), "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(git.Signature{Name: "a", Email: "a@b"}, "x"); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(context.Background()); err == nil {
		t.Fatal("Flux's read account pushed")
	}
}

func TestFluxSettingsAreCommittedOnce(t *testing.T) {
	remote, _ := inClusterServer(t)
	ctx := context.Background()
	author := git.Signature{Name: "a", Email: "a@b"}
	repo := clone(t, remote)
	if err := writeFluxSettings(ctx, repo, "production", author, status.Discard()); err != nil {
		t.Fatal(err)
	}
	first, _ := repo.Head()
	if first == "" {
		t.Fatal("nothing committed")
	}
	again := clone(t, remote)
	for _, f := range []string{"kustomization.yaml", "gotk-components.yaml", "gotk-sync.yaml"} {
		if data, err := again.ReadFile("clusters/production/flux-system/" + f); err != nil || (f == "kustomization.yaml" && string(data) != fluxKustomization) {
			t.Errorf("%s: %v %q", f, err, data)
		}
	}
	// Bootstrap fills the sync manifest; the settings do not overwrite it.
	sync := filepath.Join(again.Dir(), "clusters/production/flux-system/gotk-sync.yaml")
	if err := os.WriteFile(sync, []byte("kind: GitRepository\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Commit(author, "Add Flux sync manifests"); err != nil {
		t.Fatal(err)
	}
	if err := again.Push(ctx); err != nil {
		t.Fatal(err)
	}
	third := clone(t, remote)
	before, _ := third.Head()
	if err := writeFluxSettings(ctx, third, "production", author, status.Discard()); err != nil {
		t.Fatal(err)
	}
	if after, _ := third.Head(); after != before {
		t.Error("unchanged settings were committed again")
	}
	if data, _ := third.ReadFile("clusters/production/flux-system/gotk-sync.yaml"); string(data) != "kind: GitRepository\n" {
		t.Errorf("the sync manifest was replaced: %q", data)
	}
}
