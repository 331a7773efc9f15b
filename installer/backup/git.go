package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/git"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// Git is how the git part reaches the desired-state repository. go-git writes no bundles, so the
// part runs the git CLI: a mirror clone (every ref), `git bundle create --all`, `git bundle
// verify`. Credentials go to git through its environment and 0600 files, never its command line.
type Git struct {
	// Bin is the git program; "" is "git" on $PATH.
	Bin    string
	Remote gitops.Remote
	// CABundle holds PEM certificates git trusts beside the remote's own CA (a private PKI).
	CABundle []byte
}

func (g Git) bin() string {
	if g.Bin == "" {
		return "git"
	}
	return g.Bin
}

// bundle mirrors the repository into work and writes work/repo.bundle, verified by git. It
// returns the bundle's path and how many refs it holds (HEAD, which it also holds so that a
// clone from it checks out the default branch, not counted).
func (g Git) bundle(ctx context.Context, work string) (string, int, error) {
	env, err := g.env(work)
	if err != nil {
		return "", 0, err
	}
	mirror := filepath.Join(work, "mirror.git")
	if err := os.RemoveAll(mirror); err != nil {
		return "", 0, fmt.Errorf("clearing the previous mirror: %w", err)
	}
	if _, err := g.run(ctx, work, env, "clone", "--mirror", "--quiet", "--", g.Remote.PushURL, mirror); err != nil {
		return "", 0, fmt.Errorf("cloning %s (every ref): %w", redact(g.Remote.PushURL), err)
	}
	file := filepath.Join(work, "repo.bundle")
	if _, err := g.run(ctx, mirror, env, "bundle", "create", "--quiet", file, "--all"); err != nil {
		return "", 0, fmt.Errorf("writing the git bundle: %w", err)
	}
	if _, err := g.run(ctx, mirror, env, "bundle", "verify", "--quiet", file); err != nil {
		return "", 0, fmt.Errorf("verifying the git bundle: %w", err)
	}
	heads, err := g.run(ctx, mirror, env, "bundle", "list-heads", file)
	if err != nil {
		return "", 0, fmt.Errorf("listing the git bundle's refs: %w", err)
	}
	refs := 0
	for _, line := range strings.Split(heads, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] != "HEAD" {
			refs++
		}
	}
	return file, refs, nil
}

// env is git's environment: no system or user config, no prompt, and the remote's credentials
// as an extra HTTP header (HTTPS and the port-forward) or an SSH key file (SSH).
func (g Git) env(work string) ([]string, error) {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0"}
	var cfg [][2]string
	a := g.Remote.Auth
	if a != nil {
		switch {
		case a.Transport == git.SSH:
			key, kh := filepath.Join(work, "id"), filepath.Join(work, "known_hosts")
			if err := os.WriteFile(key, a.Identity, 0o600); err != nil {
				return nil, fmt.Errorf("writing the SSH key for git: %w", err)
			}
			if err := os.WriteFile(kh, a.KnownHosts, 0o600); err != nil {
				return nil, fmt.Errorf("writing the known hosts for git: %w", err)
			}
			env = append(env, "GIT_SSH_COMMAND=ssh -F /dev/null -i "+key+" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="+kh)
		case a.BearerToken != "":
			cfg = append(cfg, [2]string{"http.extraHeader", "Authorization: Bearer " + a.BearerToken})
		case a.Password != "":
			cfg = append(cfg, [2]string{"http.extraHeader", "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password))})
		}
	}
	var ca []byte
	if a != nil {
		ca = append(ca, a.CAFile...)
	}
	if ca = append(ca, g.CABundle...); len(ca) > 0 {
		file := filepath.Join(work, "ca.pem")
		if err := os.WriteFile(file, ca, 0o600); err != nil {
			return nil, fmt.Errorf("writing the CA for git: %w", err)
		}
		cfg = append(cfg, [2]string{"http.sslCAInfo", file})
	}
	env = append(env, fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(cfg)))
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env, nil
}

func (g Git) run(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, g.bin(), args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// fileSum is a file's size and SHA-256.
func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// redact drops credentials from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			return u[:i+3] + "***@" + rest[at+1:]
		}
	}
	return u
}
