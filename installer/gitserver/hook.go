package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The pre-receive hook (package prereceive) gets what it needs in its environment, which git
// http-backend and receive-pack pass on from the server's CGI request.
const (
	// EnvTrainFile names the train file images are checked against.
	EnvTrainFile = "DOCS_APPLIANCE_TRAIN_FILE"
	// EnvRecord names the file a hook writes its record to (a skipped validation); the server
	// logs its lines when the push is done.
	EnvRecord = "DOCS_APPLIANCE_HOOK_RECORD"
	// EnvGit names the git executable.
	EnvGit = "DOCS_APPLIANCE_GIT"
	// HookName is the name git runs the hook by: the git-server program knows it is the hook
	// when invoked under it.
	HookName = "pre-receive"
)

// hooksDir holds the hook link, beside the repositories on the volume (the image's own
// filesystem is read-only).
func (s *Server) hooksDir() string { return filepath.Join(s.Root, ".hooks") }

// installHook makes every repository run Hook before accepting a push, and advertise push
// options (the skip option is one). Done at every start: the program's path may have changed.
// Without Hook a hook an earlier start installed is taken out again.
func (s *Server) installHook(ctx context.Context) error {
	if s.Hook == "" {
		for _, r := range s.Repos {
			cmd := exec.CommandContext(ctx, s.git(), "--git-dir="+filepath.Join(s.Root, r), "config", "--unset", "core.hooksPath")
			cmd.Env = s.gitEnv()
			_ = cmd.Run() // exit 5: it was not set
		}
		return os.RemoveAll(s.hooksDir())
	}
	dir := s.hooksDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("installing the pre-receive hook: %w", err)
	}
	link := filepath.Join(dir, HookName)
	if cur, err := os.Readlink(link); err != nil || cur != s.Hook {
		tmp := link + ".new"
		_ = os.Remove(tmp)
		if err := os.Symlink(s.Hook, tmp); err != nil {
			return fmt.Errorf("installing the pre-receive hook: %w", err)
		}
		if err := os.Rename(tmp, link); err != nil {
			return fmt.Errorf("installing the pre-receive hook: %w", err)
		}
	}
	for _, r := range s.Repos {
		gitDir := filepath.Join(s.Root, r)
		for _, kv := range [][2]string{{"core.hooksPath", dir}, {"receive.advertisePushOptions", "true"}} {
			cmd := exec.CommandContext(ctx, s.git(), "--git-dir="+gitDir, "config", kv[0], kv[1])
			cmd.Env = s.gitEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("installing the pre-receive hook in %s (git config %s): %w\n%s", r, kv[0], err, out)
			}
		}
	}
	s.logf("pre-receive hook %s validates every push (train file %q)", s.Hook, s.TrainFile)
	return nil
}

// hookRequest is the hook's environment for one push, and relay, which logs what the hook
// recorded and removes the record.
func (s *Server) hookRequest() (env []string, relay func(), err error) {
	f, err := os.CreateTemp("", "hook-record-")
	if err != nil {
		return nil, nil, err
	}
	path := f.Name()
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	env = []string{EnvRecord + "=" + path, EnvGit + "=" + s.git()}
	if s.TrainFile != "" {
		env = append(env, EnvTrainFile+"="+s.TrainFile)
	}
	return env, func() {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.logf("reading the pre-receive hook's record: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if line != "" {
				s.logf("pre-receive: %s", line)
			}
		}
		_ = os.Remove(path)
	}, nil
}
