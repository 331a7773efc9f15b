package gitserver

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func needGit(t *testing.T) {
	t.Helper()
	for _, p := range []string{DefaultGit, DefaultHTTPBackend} {
		kit.File(t, p, "Debian's git", "apt-get install git")
	}
}

// serve starts a server over a fresh root on 127.0.0.1 with a push and a read account.
func serve(t *testing.T) (*Server, *httptest.Server, *bytes.Buffer) {
	t.Helper()
	needGit(t)
	dir := t.TempDir()
	users, err := UsersFile([]Account{
		{Name: "appliance", Role: RolePush, Password: "push-secret"},
		{Name: "flux", Role: RoleRead, Password: "read-secret"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &Server{Root: filepath.Join(dir, "data"), Repos: []string{"appliance.git"}, Branch: "main", UsersFile: usersPath, Log: log.New(&logs, "", 0)}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts, &logs
}

// git runs the git CLI with no user or system config, never prompting.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func repoURL(ts *httptest.Server, user, password string) string {
	return strings.Replace(ts.URL, "http://", "http://"+user+":"+password+"@", 1) + "/appliance.git"
}

func TestGitClientsPushAndFetchThroughTheServer(t *testing.T) {
	_, ts, logs := serve(t)
	work := t.TempDir()

	// The installer's account clones the empty repository, commits and pushes.
	if out, err := git(t, work, "clone", repoURL(ts, "appliance", "push-secret"), "w"); err != nil {
		t.Fatalf("clone of the empty repository: %v\n%s", err, out)
	}
	w := filepath.Join(work, "w")
	if err := os.WriteFile(filepath.Join(w, "README.md"), []byte("desired state\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "."}, {"commit", "-m", "first"}, {"push", "origin", "HEAD:main"}} {
		if out, err := git(t, w, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	// Flux's account fetches it; the default branch is main.
	if out, err := git(t, work, "clone", repoURL(ts, "flux", "read-secret"), "r"); err != nil {
		t.Fatalf("clone with the read account: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(work, "r", "README.md"))
	if err != nil || string(data) != "desired state\n" {
		t.Fatalf("cloned content %q, %v", data, err)
	}
	if out, _ := git(t, filepath.Join(work, "r"), "rev-parse", "--abbrev-ref", "HEAD"); strings.TrimSpace(out) != "main" {
		t.Errorf("default branch %q, want main", out)
	}

	// ... but may not push.
	r := filepath.Join(work, "r")
	_ = os.WriteFile(filepath.Join(r, "x"), []byte("x"), 0o644)
	_, _ = git(t, r, "add", ".")
	_, _ = git(t, r, "commit", "-m", "sneaky")
	out, err := git(t, r, "push", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out, "403") {
		t.Fatalf("the read account pushed (or failed otherwise): %v\n%s", err, out)
	}

	// History cannot be rewritten, even by the push account.
	_, _ = git(t, w, "commit", "--amend", "-m", "rewritten")
	if out, err := git(t, w, "push", "--force", "origin", "HEAD:main"); err == nil {
		t.Fatalf("a forced push rewrote history:\n%s", out)
	}

	// Bad credentials and no credentials are refused.
	if out, err := git(t, work, "clone", repoURL(ts, "flux", "wrong"), "bad"); err == nil || !strings.Contains(out, "Authentication failed") {
		t.Errorf("clone with a wrong password: %v\n%s", err, out)
	}
	if out, err := git(t, work, "clone", ts.URL+"/appliance.git", "anon"); err == nil {
		t.Errorf("anonymous clone succeeded:\n%s", out)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Errorf("the log shows a password:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "user=appliance status=200") {
		t.Errorf("the log lacks request lines:\n%s", logs)
	}
}

func TestOnlySmartProtocolEndpointsOfServedRepositories(t *testing.T) {
	_, ts, _ := serve(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/appliance.git/info/refs?service=git-upload-pack", 200},
		{"GET", "/appliance.git/info/refs", 404}, // dumb protocol
		{"GET", "/appliance.git/HEAD", 404},      // dumb protocol
		{"GET", "/other.git/info/refs?service=git-upload-pack", 404},
		{"GET", "/appliance.git/../appliance.git/config", 404},
		{"POST", "/appliance.git/git-receive-pack", 403}, // read account
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		req.SetBasicAuth("flux", "read-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.want, body)
		}
	}
	resp, err := http.Get(ts.URL + "/appliance.git/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestRotatedUsersFileAppliesWithoutRestart(t *testing.T) {
	s, ts, _ := serve(t)
	get := func(user, pass string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/appliance.git/info/refs?service=git-upload-pack", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("flux", "read-secret"); code != 200 {
		t.Fatalf("before rotation: %d", code)
	}
	users, err := UsersFile([]Account{{Name: "flux", Role: RoleRead, Password: "new-read-secret"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.UsersFile, users, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := get("flux", "read-secret"); code != 401 {
		t.Errorf("old password after rotation: %d, want 401", code)
	}
	if code := get("flux", "new-read-secret"); code != 200 {
		t.Errorf("new password: %d", code)
	}
	if code := get("appliance", "push-secret"); code != 401 {
		t.Errorf("removed account: %d, want 401", code)
	}
}

func TestInitKeepsARepositoryAndRedoesAHalfMadeOne(t *testing.T) {
	s, ts, _ := serve(t)
	work := t.TempDir()
	if out, err := git(t, work, "clone", repoURL(ts, "appliance", "push-secret"), "w"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	w := filepath.Join(work, "w")
	_ = os.WriteFile(filepath.Join(w, "f"), []byte("1"), 0o644)
	for _, args := range [][]string{{"add", "."}, {"commit", "-m", "one"}, {"push", "origin", "HEAD:main"}} {
		if out, err := git(t, w, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// A restart runs Init again: the history stays.
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out, err := git(t, work, "clone", repoURL(ts, "appliance", "push-secret"), "again"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(work, "again", "f")); err != nil {
		t.Fatal("a second Init lost the history")
	}
	// A repository folder without HEAD (an init killed half-way) is made again.
	s.Repos = []string{"second.git"}
	if err := os.MkdirAll(filepath.Join(s.Root, "second.git", "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(filepath.Join(s.Root, "second.git", "HEAD"))
	if err != nil || strings.TrimSpace(string(head)) != "ref: refs/heads/main" {
		t.Fatalf("HEAD %q, %v", head, err)
	}
	if err := (&Server{Root: s.Root, Repos: []string{"../evil.git"}, Branch: "main"}).Init(context.Background()); err == nil {
		t.Error("a repository name with a path was accepted")
	}
}

func TestUsersFile(t *testing.T) {
	accts := []Account{{Name: "flux", Role: RoleRead, Password: "a"}, {Name: "appliance", Role: RolePush, Password: "b"}}
	first, err := UsersFile(accts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(first, []byte(":a\n")) || bytes.Contains(first, []byte(":b\n")) {
		t.Fatal("the users file holds a password")
	}
	users, err := ParseUsers(first)
	if err != nil || len(users) != 2 || users[0].Name != "appliance" || users[1].Role != RoleRead {
		t.Fatalf("%+v %v", users, err)
	}
	again, err := UsersFile(accts, first)
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("unchanged accounts gave a different file (%v)", err)
	}
	accts[0].Password = "changed"
	changed, err := UsersFile(accts, first)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := ParseUsers(changed)
	var v verifier
	if _, err := v.check(u, "flux", "changed"); err != nil {
		t.Error("new password refused")
	}
	if _, err := v.check(u, "flux", "a"); err == nil {
		t.Error("old password accepted")
	}
	if _, err := v.check(u, "appliance", "b"); err != nil {
		t.Error("unchanged account refused")
	}
	for _, bad := range []string{"x:push", "Bad:push:$2a$10$abc", "a:admin:$2a$10$abc", "a:push:plain"} {
		if _, err := ParseUsers([]byte(bad)); err == nil {
			t.Errorf("ParseUsers(%q) accepted", bad)
		}
	}
	if _, err := UsersFile([]Account{{Name: "a", Role: RolePush}}, nil); err == nil {
		t.Error("an empty password was accepted")
	}
}
