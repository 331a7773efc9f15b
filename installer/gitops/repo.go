package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/git"
	"github.com/fluxcd/pkg/git/gogit"
	"github.com/fluxcd/pkg/git/repository"
)

// Remote is where the desired state lives and how each side reaches it.
type Remote struct {
	// PushURL is where the installer clones and pushes: a loopback port-forward to the in-cluster
	// server, or the external repository.
	PushURL string
	// SyncURL is where Flux fetches: the server's cluster DNS name, or the external repository.
	SyncURL string
	Branch  string
	// Auth are the installer's credentials (push).
	Auth *git.AuthOptions
	// FluxSecret is the data of flux-system/flux-system, Flux's (read) credentials.
	FluxSecret map[string][]byte
	// PlainHTTP allows basic auth over http://: the in-cluster server is reached through a
	// port-forward (the API server's TLS) and inside the cluster network.
	PlainHTTP bool
}

// Repo is a working copy of the desired-state repository in a private folder.
type Repo struct {
	client *gogit.Client
	remote Remote
	dir    string
	// pushOptions go with every push (git push -o).
	pushOptions map[string]string
}

// SkipValidationOption is the push option that skips the in-cluster git server's validation of
// a push (installer/gitserver/prereceive), with the reason as its value; the server logs it.
const SkipValidationOption = "docs-appliance.skip-validation"

// ValidatedBy marks the pushes of a tree the caller validated itself (install validates its
// render with the train and Flux's CRDs, which the server's hook does not all have).
func (r *Repo) ValidatedBy(reason string) {
	r.pushOptions = map[string]string{SkipValidationOption: reason}
}

// Clone clones the branch of the remote into dir (which must be empty), or starts the branch
// when the remote repository is empty: the first install.
func Clone(ctx context.Context, dir string, r Remote) (*Repo, error) {
	opts := []gogit.ClientOption{gogit.WithDiskStorage(), gogit.WithSingleBranch(true)}
	if r.PlainHTTP {
		opts = append(opts, gogit.WithInsecureCredentialsOverHTTP())
	}
	c, err := gogit.NewClient(dir, r.Auth, opts...)
	if err != nil {
		return nil, fmt.Errorf("preparing the git client: %w", err)
	}
	// An empty remote makes the client start the branch itself (Init).
	_, err = c.Clone(ctx, r.PushURL, repository.CloneConfig{CheckoutStrategy: repository.CheckoutStrategy{Branch: r.Branch}})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("cloning branch %s of %s: %w", r.Branch, redactURL(r.PushURL), err)
	}
	return &Repo{client: c, remote: r, dir: dir}, nil
}

// Dir is the working copy.
func (r *Repo) Dir() string { return r.dir }

// Client is the git client, shared with Flux bootstrap (which then finds the clone in place).
func (r *Repo) Client() *gogit.Client { return r.client }

// Head returns the commit checked out, or "" on an empty branch.
func (r *Repo) Head() (string, error) {
	h, err := r.client.Head()
	if err != nil {
		if errors.Is(err, git.ErrNoGitRepository) || strings.Contains(err.Error(), "reference not found") {
			return "", nil
		}
		return "", fmt.Errorf("reading the head of %s: %w", r.remote.Branch, err)
	}
	return h, nil
}

// Revision is how Flux names a commit of the branch: "main@sha1:<hash>".
func (r *Repo) Revision(hash string) string {
	return r.remote.Branch + "@" + git.Hash(hash).Digest()
}

// ErrNothingToCommit is returned by Commit when the working copy matches the head.
var ErrNothingToCommit = errors.New("nothing to commit")

// Commit records every change of the working copy (added, modified and removed files) as one
// commit, or returns ErrNothingToCommit.
func (r *Repo) Commit(author git.Signature, message string) (string, error) {
	hash, err := r.client.Commit(git.Commit{Author: author, Message: message})
	if errors.Is(err, git.ErrNoStagedFiles) {
		return hash, ErrNothingToCommit
	}
	if err != nil {
		return "", fmt.Errorf("committing: %w", err)
	}
	return hash, nil
}

// Push sends the branch to the remote.
func (r *Repo) Push(ctx context.Context) error {
	if err := r.client.Push(ctx, repository.PushConfig{Options: r.pushOptions}); err != nil {
		return fmt.Errorf("pushing %s to %s: %w", r.remote.Branch, redactURL(r.remote.PushURL), err)
	}
	return nil
}

// ReadFile reads a file of the working copy; a missing file is nil, nil.
func (r *Repo) ReadFile(rel string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(rel)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Close releases the client; the caller removes the folder.
func (r *Repo) Close() { r.client.Close() }

// redactURL drops credentials from a URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			return u[:i+3] + "***@" + rest[at+1:]
		}
	}
	return u
}
