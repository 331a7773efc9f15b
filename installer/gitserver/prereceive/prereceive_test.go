package prereceive

import (
	"bytes"
	"context"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

// TestMain: git runs this test binary as the repositories' pre-receive hook (the server links
// it, as the git-server program links itself), so the hook under test is the real code path.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == gitserver.HookName {
		h := &Hook{Env: os.Getenv, Stdin: os.Stdin, Stderr: os.Stderr}
		os.Exit(h.Run(context.Background()))
	}
	os.Exit(m.Run())
}

// lastServer is the server serveWithHook started last.
var lastServer *gitserver.Server

// syncBuffer is the server's log, written by request goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// serveWithHook starts the git server over git http-backend on 127.0.0.1, every push validated
// against render's test train.
func serveWithHook(t *testing.T) (url string, logs *syncBuffer) {
	t.Helper()
	for _, p := range []string{gitserver.DefaultGit, gitserver.DefaultHTTPBackend} {
		kit.File(t, p, "Debian's git", "apt-get install git")
	}
	kit.Program(t, "git", "apt-get install git")
	dir := t.TempDir()
	users, err := gitserver.UsersFile([]gitserver.Account{{Name: "appliance", Role: gitserver.RolePush, Password: "push-secret"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	train, err := filepath.Abs("../../render/testdata/train.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	s := &gitserver.Server{Root: filepath.Join(dir, "data"), Repos: []string{"appliance.git"}, Branch: "main",
		UsersFile: usersPath, Log: log.New(logs, "", 0), Hook: self, TrainFile: train}
	if err := os.MkdirAll(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	lastServer = s
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return strings.Replace(ts.URL, "http://", "http://appliance:push-secret@", 1) + "/appliance.git", logs
}

func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return out
}

func put(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const pinned = "registry.example.invalid/operator:v1.2.3@sha256:1111111111111111111111111111111111111111111111111111111111111111"

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: docs}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: IMAGE
          resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 64Mi}}
`

// TestPushesAreValidated pushes with the git CLI through git http-backend: a good change is
// accepted, a bad one refused with its findings, and the logged bypass accepts it.
func TestPushesAreValidated(t *testing.T) {
	url, logs := serveWithHook(t)
	work := t.TempDir()
	mustGit(t, work, "clone", "-q", url, "w")
	w := filepath.Join(work, "w")
	put(t, w, "clusters/site/apps.yaml", `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`)
	put(t, w, "apps/deployment.yaml", strings.Replace(deployment, "IMAGE", pinned, 1))
	mustGit(t, w, "add", ".")
	mustGit(t, w, "commit", "-qm", "the desired state")
	if out, err := git(t, w, "push", "-q", "origin", "HEAD:main"); err != nil || !strings.Contains(out, "refs/heads/main at") || !strings.Contains(out, "validates") {
		t.Fatalf("a valid push: %v\n%s", err, out)
	}
	good := strings.TrimSpace(mustGit(t, w, "rev-parse", "HEAD"))

	// A plain Secret and an image the train does not pin: refused, the findings shown.
	put(t, w, "apps/token.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: docs}\nstringData: {token: Abc-123-XYZ-789}\n")
	put(t, w, "apps/deployment.yaml", strings.Replace(deployment, "IMAGE", "registry.example.invalid/operator:v1.2.4", 1))
	mustGit(t, w, "add", ".")
	mustGit(t, w, "commit", "-qm", "a token and a new operator")
	out, err := git(t, w, "push", "origin", "HEAD:main")
	if err == nil {
		t.Fatalf("a push that does not validate was accepted:\n%s", out)
	}
	t.Logf("the refused push, as the pusher sees it:\n%s", out)
	for _, want := range []string{"pre-receive hook declined", "refusing refs/heads/main", "apps/token.yaml: Secret docs/token [secret-not-encrypted]",
		"apps/deployment.yaml: Deployment docs/web [image-digest]", "docs-appliance.skip-validation"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refused push's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Abc-123-XYZ-789") {
		t.Error("the hook printed the Secret's value")
	}
	if head := strings.Fields(mustGit(t, w, "ls-remote", "origin", "refs/heads/main"))[0]; head != good {
		t.Errorf("the server's main moved to %s after a refused push", head)
	}

	// An empty reason skips nothing.
	if out, err := git(t, w, "push", "-o", SkipOption+"=", "origin", "HEAD:main"); err == nil {
		t.Fatalf("a skip without a reason was accepted:\n%s", out)
	}
	// The explicit bypass: accepted, and the server's log names the pusher and the reason.
	out, err = git(t, w, "push", "-o", SkipOption+"=incident 42: rotate the token now", "origin", "HEAD:main")
	if err != nil || !strings.Contains(out, "validation skipped") {
		t.Fatalf("the bypass: %v\n%s", err, out)
	}
	if want := `pre-receive: validation skipped: user=appliance ref=refs/heads/main new=`; !strings.Contains(logs.String(), want) ||
		!strings.Contains(logs.String(), `reason="incident 42: rotate the token now"`) {
		t.Errorf("the server's log does not record the bypass:\n%s", logs.String())
	}
}

// TestHookSwitchedOffAcceptsAgain: a server started without the hook takes out the one an
// earlier start installed.
func TestHookSwitchedOffAcceptsAgain(t *testing.T) {
	url, _ := serveWithHook(t)
	work := t.TempDir()
	mustGit(t, work, "clone", "-q", url, "w")
	w := filepath.Join(work, "w")
	put(t, w, "apps/token.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: docs}\nstringData: {token: Abc-123-XYZ-789}\n")
	mustGit(t, w, "add", ".")
	mustGit(t, w, "commit", "-qm", "a plain Secret")
	if out, err := git(t, w, "push", "origin", "HEAD:main"); err == nil {
		t.Fatalf("the hook accepted a plain Secret:\n%s", out)
	}
	srv := lastServer
	srv.Hook = ""
	if err := srv.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out, err := git(t, w, "push", "origin", "HEAD:main"); err != nil {
		t.Fatalf("with the hook switched off the push is still refused: %v\n%s", err, out)
	}
}
