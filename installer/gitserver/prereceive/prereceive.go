package prereceive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/gitops"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/validate"
)

// SkipOption is the push option that skips validation: docs-appliance.skip-validation=REASON.
const SkipOption = gitops.SkipValidationOption

const zeroID = "0000000000000000000000000000000000000000"

// Hook is one run of the hook.
type Hook struct {
	// Env looks up the hook's environment (os.Getenv).
	Env func(string) string
	// Stdin has receive-pack's "old new ref" lines; Stderr goes to the pusher.
	Stdin  io.Reader
	Stderr io.Writer
}

// Run decides the push: 0 accepts, 1 refuses.
func (h *Hook) Run(ctx context.Context) int {
	code, err := h.run(ctx)
	if err != nil {
		// A hook that cannot judge refuses: an unchecked push is what the hook exists to stop.
		fmt.Fprintf(h.Stderr, "docs-appliance: the push could not be validated: %v\n", err)
		fmt.Fprintf(h.Stderr, "docs-appliance: fix the repository, or push with -o %s=\"REASON\" to skip the check (logged)\n", SkipOption)
		return 1
	}
	return code
}

func (h *Hook) run(ctx context.Context) (int, error) {
	var updates [][3]string
	sc := bufio.NewScanner(h.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			return 0, fmt.Errorf("reading the ref updates: %q is not \"old new ref\"", sc.Text())
		}
		updates = append(updates, [3]string{f[0], f[1], f[2]})
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading the ref updates: %w", err)
	}
	if reason, ok := h.skipReason(); ok {
		return 0, h.recordSkip(reason, updates)
	}
	train, err := h.train()
	if err != nil {
		return 0, err
	}
	code := 0
	for _, u := range updates {
		if u[1] == zeroID || !strings.HasPrefix(u[2], "refs/heads/") {
			continue // a deletion (refused by the server's config) or a tag: no tree Flux applies
		}
		rep, err := h.validateCommit(ctx, u[1], train)
		if err != nil {
			return 0, fmt.Errorf("validating %s at %s: %w", u[2], short(u[1]), err)
		}
		if rep.Err() == nil {
			fmt.Fprintf(h.Stderr, "docs-appliance: %s at %s validates (%d objects)\n", u[2], short(u[1]), rep.Objects)
			continue
		}
		code = 1
		fmt.Fprintf(h.Stderr, "docs-appliance: refusing %s at %s: the desired state does not validate\n\n", u[2], short(u[1]))
		io.WriteString(h.Stderr, rep.Text())
		fmt.Fprintf(h.Stderr, "\nFix the findings and push again (check locally first: docs-appliance validate .),\n"+
			"or skip the check knowingly: git push -o %s=\"REASON\" (the server logs who and why).\n", SkipOption)
	}
	return code, nil
}

// skipReason reads the skip push option; an empty reason does not skip.
func (h *Hook) skipReason() (string, bool) {
	n, _ := strconv.Atoi(h.Env("GIT_PUSH_OPTION_COUNT"))
	for i := 0; i < n; i++ {
		k, v, _ := strings.Cut(h.Env(fmt.Sprintf("GIT_PUSH_OPTION_%d", i)), "=")
		if k == SkipOption && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// recordSkip leaves the server a record of the skip (who, why, what); without a record file the
// hook cannot log it, so it refuses.
func (h *Hook) recordSkip(reason string, updates [][3]string) error {
	path := h.Env(gitserver.EnvRecord)
	if path == "" {
		return errors.New("the server gave no record file: a skipped validation must be logged")
	}
	user := h.Env("REMOTE_USER")
	if user == "" {
		user = "-"
	}
	var b strings.Builder
	for _, u := range updates {
		fmt.Fprintf(&b, "validation skipped: user=%s ref=%s new=%s reason=%q\n", user, u[2], short(u[1]), reason)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording the skipped validation: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("recording the skipped validation: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording the skipped validation: %w", err)
	}
	fmt.Fprintf(h.Stderr, "docs-appliance: validation skipped (%s); the server logged it\n", reason)
	return nil
}

func (h *Hook) train() (*bundles.Train, error) {
	path := h.Env(gitserver.EnvTrainFile)
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the train file: %w", err)
	}
	t, err := bundles.ParseTrain(data)
	if err != nil {
		return nil, fmt.Errorf("reading the train file %s: %w", path, err)
	}
	return t, nil
}

// validateCommit exports the commit's tree (from the quarantined objects receive-pack holds)
// into a temporary folder and validates it.
func (h *Hook) validateCommit(ctx context.Context, commit string, train *bundles.Train) (*validate.Report, error) {
	dir, err := os.MkdirTemp("", "pre-receive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	git := h.Env(gitserver.EnvGit)
	if git == "" {
		git = "git"
	}
	cmd := exec.CommandContext(ctx, git, "archive", "--format=tar", commit)
	cmd.Stderr = h.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running git archive: %w", err)
	}
	uerr := untar(out, dir)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git archive %s: %w", short(commit), err)
	}
	if uerr != nil {
		return nil, uerr
	}
	rep, err := validate.Run(ctx, dir, validate.Options{Train: train})
	if err != nil {
		return nil, err
	}
	rep.Dir = short(commit)
	return rep, nil
}

// untar writes a git archive's regular files and folders under dir (symlinks are left out:
// nothing of the tree may point outside it).
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tree: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("reading the tree: path %q leaves it", hdr.Name)
		}
		p := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
