package gitserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Paths of git in the server image (Debian's layout).
const (
	DefaultGit         = "/usr/lib/git-core/git"
	DefaultHTTPBackend = "/usr/lib/git-core/git-http-backend"
)

// Server serves the smart-HTTP protocol of its repositories to authenticated accounts.
type Server struct {
	// Root holds the bare repositories.
	Root string
	// Repos are the repository names served, e.g. "appliance.git".
	Repos []string
	// Branch is the default branch of a new repository.
	Branch string
	// UsersFile is read on each request, so a rotated Secret applies without a restart.
	UsersFile string
	// Git and HTTPBackend default to Debian's paths.
	Git, HTTPBackend string
	// Log receives one line per request (never credentials); nil discards.
	Log *log.Logger
	// Hook is the pre-receive program every push runs (the git-server program itself, invoked
	// as pre-receive: package prereceive); empty accepts every push unchecked.
	Hook string
	// TrainFile is the release train the hook checks images against (see package prereceive).
	TrainFile string

	verify verifier
}

var repoNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*\.git$`)

func (s *Server) git() string {
	if s.Git == "" {
		return DefaultGit
	}
	return s.Git
}

func (s *Server) logf(format string, a ...any) {
	if s.Log != nil {
		s.Log.Printf(format, a...)
	}
}

// Init creates every missing repository as a bare repository whose HEAD names Branch. Existing
// repositories are left as they are (their data is the appliance's history).
func (s *Server) Init(ctx context.Context) error {
	if len(s.Repos) == 0 {
		return errors.New("initialising repositories: none configured")
	}
	for _, r := range s.Repos {
		if !repoNameRe.MatchString(r) {
			return fmt.Errorf("initialising repositories: %q is not a repository name (like appliance.git)", r)
		}
		dir := filepath.Join(s.Root, r)
		if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
			continue
		}
		// A half-made repository (killed init) is made again from scratch: it holds no commits.
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the incomplete repository %s: %w", dir, err)
		}
		tmp := dir + ".init"
		_ = os.RemoveAll(tmp)
		for _, argv := range [][]string{
			{"init", "--bare", "--quiet", "--template=", "--initial-branch=" + s.Branch, tmp},
			{"--git-dir=" + tmp, "config", "http.receivepack", "true"},
			// Refuse corrupt objects and history rewrites: this repository is the audit trail.
			{"--git-dir=" + tmp, "config", "receive.fsckObjects", "true"},
			{"--git-dir=" + tmp, "config", "receive.denyNonFastForwards", "true"},
			{"--git-dir=" + tmp, "config", "receive.denyDeletes", "true"},
		} {
			cmd := exec.CommandContext(ctx, s.git(), argv...)
			cmd.Env = s.gitEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("initialising %s (git %s): %w\n%s", r, strings.Join(argv, " "), err, out)
			}
		}
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("initialising %s: %w", r, err)
		}
		s.logf("created repository %s (branch %s)", r, s.Branch)
	}
	return s.installHook(ctx)
}

// gitEnv is a minimal environment: no system or user config, a HOME git may write to, and no
// ownership check (the volume's owner may differ from the server's user).
func (s *Server) gitEnv() []string {
	return []string{
		"PATH=" + filepath.Dir(s.git()) + ":/usr/bin:/bin",
		"HOME=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*",
	}
}

// Handler serves /healthz and the smart protocol of each repository:
// /<repo>/info/refs?service=..., /<repo>/git-upload-pack, /<repo>/git-receive-pack.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("/", s.serveGit)
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	for _, r := range s.Repos {
		if _, err := os.Stat(filepath.Join(s.Root, r, "HEAD")); err != nil {
			http.Error(w, "repository "+r+" is missing", http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// route says which repository and service a request is for, and whether it writes.
func (s *Server) route(r *http.Request) (repo string, push, ok bool) {
	p := path.Clean(r.URL.Path)
	for _, name := range s.Repos {
		rest, found := strings.CutPrefix(p, "/"+name+"/")
		if !found {
			continue
		}
		switch {
		case rest == "info/refs" && r.Method == http.MethodGet:
			switch r.URL.Query().Get("service") {
			case "git-upload-pack":
				return name, false, true
			case "git-receive-pack":
				return name, true, true
			}
		case rest == "git-upload-pack" && r.Method == http.MethodPost:
			return name, false, true
		case rest == "git-receive-pack" && r.Method == http.MethodPost:
			return name, true, true
		}
	}
	return "", false, false
}

func (s *Server) serveGit(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	user := "-"
	defer func() {
		s.logf("%s %s user=%s status=%d %s", r.Method, r.URL.Path, user, rec.status, time.Since(start).Round(time.Millisecond))
	}()
	_, push, ok := s.route(r)
	if !ok {
		http.Error(rec, "not found: only the smart HTTP protocol of the served repositories is here", http.StatusNotFound)
		return
	}
	name, password, hasAuth := r.BasicAuth()
	if !hasAuth {
		rec.Header().Set("WWW-Authenticate", `Basic realm="docs-appliance", charset="UTF-8"`)
		http.Error(rec, "authentication required", http.StatusUnauthorized)
		return
	}
	data, err := os.ReadFile(s.UsersFile)
	if err != nil {
		s.logf("reading users file %s: %v", s.UsersFile, err)
		http.Error(rec, "accounts unavailable", http.StatusServiceUnavailable)
		return
	}
	users, err := ParseUsers(data)
	if err != nil {
		s.logf("%v", err)
		http.Error(rec, "accounts unavailable", http.StatusServiceUnavailable)
		return
	}
	u, err := s.verify.check(users, name, password)
	if err != nil {
		rec.Header().Set("WWW-Authenticate", `Basic realm="docs-appliance", charset="UTF-8"`)
		http.Error(rec, "bad credentials", http.StatusUnauthorized)
		return
	}
	user = u.Name
	if push && u.Role != RolePush {
		http.Error(rec, "account "+u.Name+" may not push", http.StatusForbidden)
		return
	}
	backend := s.HTTPBackend
	if backend == "" {
		backend = DefaultHTTPBackend
	}
	env := append(s.gitEnv(),
		"GIT_PROJECT_ROOT="+s.Root,
		"GIT_HTTP_EXPORT_ALL=1",
		// http-backend enables receive-pack for authenticated users only.
		"REMOTE_USER="+u.Name,
		"GIT_HTTP_MAX_REQUEST_BUFFER=100M",
	)
	if push && s.Hook != "" {
		hookEnv, relay, err := s.hookRequest()
		if err != nil {
			s.logf("preparing the pre-receive hook: %v", err)
			http.Error(rec, "the push cannot be validated now", http.StatusServiceUnavailable)
			return
		}
		defer relay()
		env = append(env, hookEnv...)
	}
	h := &cgi.Handler{
		Path:   backend,
		Root:   "/",
		Env:    env,
		Stderr: logWriter{s},
	}
	// The backend must not see the Authorization header (it would land in its environment).
	r2 := r.Clone(r.Context())
	r2.Header.Del("Authorization")
	h.ServeHTTP(rec, r2)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type logWriter struct{ s *Server }

func (l logWriter) Write(p []byte) (int, error) {
	l.s.logf("git-http-backend: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Listen serves until ctx ends, then drains for up to 10 seconds.
func (s *Server) Listen(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
