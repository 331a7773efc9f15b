package probetest

import (
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GitUser is an account of the git server.
type GitUser struct {
	Password string
	// Write allows pushing; without it the server answers 403 to
	// git-receive-pack, as a hosted forge does for a read-only token.
	Write bool
}

// Git is git's own smart-HTTP server (git http-backend behind
// net/http/cgi) over TLS on 127.0.0.1, with HTTP basic auth.
type Git struct {
	// BaseURL is https://127.0.0.1:PORT; repositories are BaseURL/NAME.git.
	BaseURL string
	root    string
	gitBin  string
}

// StartGit serves the bare repositories made with InitRepo.
func StartGit(t testing.TB, ca *CA, users map[string]GitUser) *Git {
	t.Helper()
	gitBin, backend := GitHTTPBackend(t)
	g := &Git{root: t.TempDir(), gitBin: gitBin}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		u, known := users[user]
		if !ok || !known || u.Password != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="probetest git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		push := r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(r.URL.Path, "/git-receive-pack")
		if push && !u.Write {
			http.Error(w, "Permission denied: "+user+" may only read", http.StatusForbidden)
			return
		}
		(&cgi.Handler{
			Path:   backend,
			Env:    []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user},
			Stderr: io.Discard,
		}).ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for git: %v", err)
	}
	srv := &http.Server{Handler: h, TLSConfig: ca.Server.Clone(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	g.BaseURL = "https://" + ln.Addr().String()
	return g
}

// InitRepo makes the bare repository NAME.git and returns its URL. With a
// branch, the repository gets one commit on it; without, it stays empty.
func (g *Git) InitRepo(t testing.TB, name, branch string) string {
	t.Helper()
	bare := filepath.Join(g.root, name+".git")
	g.run(t, "", "init", "--quiet", "--bare", bare)
	g.run(t, bare, "config", "http.receivepack", "true")
	if branch != "" {
		work := t.TempDir()
		g.run(t, "", "init", "--quiet", "-b", branch, work)
		if err := os.WriteFile(filepath.Join(work, "README"), []byte("desired state\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		g.run(t, work, "add", "README")
		g.run(t, work, "commit", "--quiet", "-m", "start")
		g.run(t, work, "push", "--quiet", bare, branch)
	}
	return g.BaseURL + "/" + name + ".git"
}

// Refs lists the repository's refs as "name hash" lines.
func (g *Git) Refs(t testing.TB, name string) []string {
	t.Helper()
	out := g.run(t, filepath.Join(g.root, name+".git"), "for-each-ref", "--format=%(refname) %(objectname)")
	return strings.Fields(strings.ReplaceAll(out, " ", "="))
}

func (g *Git) run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	full := append([]string{"-c", "user.name=probetest", "-c", "user.email=probetest@localhost", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command(g.gitBin, full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
