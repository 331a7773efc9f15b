package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// GitProbeRefPrefix names the throwaway branches the write probe pushes
// and deletes.
const GitProbeRefPrefix = "refs/heads/docs-appliance-write-probe-"

// GitReport is what the git check found.
type GitReport struct {
	// Branches are the remote's branch names.
	Branches []string
	// Empty is true when the remote has no branch yet (install creates it).
	Empty bool
	// Head is the commit the branch points to, when it exists.
	Head string
	// Writable is true when a probe branch was pushed and deleted.
	Writable bool
}

// Git checks an external desired-state repository: the remote answers
// with the credentials (ls-remote), the branch exists (or the repository
// is empty, and install will create it), and the credentials may push: a
// throwaway branch holding one empty commit is pushed and deleted at once
// (the configured branch is never touched, so branch protection rules on
// it are not exercised). secret is the token (auth token) or the SSH
// private key in PEM (auth ssh).
func (l *Live) Git(ctx context.Context, g config.Git, secret string) (*GitReport, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	auth, cleanup, err := gitAuth(g, secret)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	timeout := int(l.timeout() / time.Second)

	remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.URL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, CABundle: l.CABundle, Timeout: timeout})
	rep := &GitReport{}
	switch {
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		rep.Empty = true
	case err != nil:
		return rep, gitError("listing "+g.URL, g, err)
	}
	for _, r := range refs {
		if r.Name().IsBranch() {
			rep.Branches = append(rep.Branches, r.Name().Short())
			if r.Name().Short() == g.Branch {
				rep.Head = r.Hash().String()
			}
		}
	}
	sort.Strings(rep.Branches)
	if len(rep.Branches) == 0 {
		rep.Empty = true
	}
	if !rep.Empty && rep.Head == "" {
		return rep, fmt.Errorf("the repository %s has no branch %q (it has: %s): create the branch first, or give one of those", g.URL, g.Branch, strings.Join(rep.Branches, ", "))
	}

	if err := pushProbe(ctx, g, auth, l.CABundle); err != nil {
		return rep, err
	}
	rep.Writable = true
	return rep, nil
}

func pushProbe(ctx context.Context, g config.Git, auth transport.AuthMethod, caBundle []byte) error {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	treeObj := repo.Storer.NewEncodedObject()
	if err := (&object.Tree{}).Encode(treeObj); err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	tree, err := repo.Storer.SetEncodedObject(treeObj)
	if err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	sig := object.Signature{Name: "docs-appliance", Email: "docs-appliance@localhost", When: time.Now()}
	commitObj := repo.Storer.NewEncodedObject()
	commit := &object.Commit{Author: sig, Committer: sig, TreeHash: tree,
		Message: "docs-appliance write probe: pushed and deleted at once by the install wizard\n"}
	if err := commit.Encode(commitObj); err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	hash, err := repo.Storer.SetEncodedObject(commitObj)
	if err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	local := plumbing.ReferenceName("refs/heads/probe")
	if err := repo.Storer.SetReference(plumbing.NewHashReference(local, hash)); err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	nonce := make([]byte, 6)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	probeRef := GitProbeRefPrefix + hex.EncodeToString(nonce)
	opts := func(spec string) *git.PushOptions {
		return &git.PushOptions{RemoteURL: g.URL, Auth: auth, CABundle: caBundle,
			RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec(spec)}}
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{g.URL}}); err != nil {
		return fmt.Errorf("preparing the write probe: %w", err)
	}
	if err := repo.PushContext(ctx, opts(string(local)+":"+probeRef)); err != nil {
		return gitError("pushing the throwaway branch "+strings.TrimPrefix(probeRef, "refs/heads/")+" to prove write access", g, err)
	}
	if err := repo.PushContext(ctx, opts(":"+probeRef)); err != nil {
		return gitError("deleting the throwaway branch "+strings.TrimPrefix(probeRef, "refs/heads/")+" (delete it by hand)", g, err)
	}
	return nil
}

func gitAuth(g config.Git, secret string) (transport.AuthMethod, func(), error) {
	nothing := func() {}
	switch g.Auth {
	case config.GitAuthToken, "":
		u, err := url.Parse(g.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, nothing, fmt.Errorf("%q is not an https URL; token auth needs https://host/owner/repo.git", g.URL)
		}
		if u.User != nil {
			return nil, nothing, fmt.Errorf("%q holds credentials; remove them from the URL and give the token when asked", g.URL)
		}
		if g.Username == "" || secret == "" {
			return nil, nothing, fmt.Errorf("token auth needs a user name and a token")
		}
		return &githttp.BasicAuth{Username: g.Username, Password: secret}, nothing, nil
	case config.GitAuthSSH:
		user := "git"
		if ep, err := transport.NewEndpoint(g.URL); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeys(user, []byte(secret), "")
		if err != nil {
			return nil, nothing, fmt.Errorf("reading the SSH private key: %w (give an unencrypted key in OpenSSH or PEM format)", err)
		}
		if strings.TrimSpace(g.KnownHosts) == "" {
			return nil, nothing, fmt.Errorf("the server's known_hosts lines are empty: its host key would be trusted blindly")
		}
		dir, err := os.MkdirTemp("", "docs-appliance-known-hosts-")
		if err != nil {
			return nil, nothing, fmt.Errorf("writing known_hosts for the check: %w", err)
		}
		cleanup := func() { os.RemoveAll(dir) }
		path := filepath.Join(dir, "known_hosts")
		if err := os.WriteFile(path, []byte(strings.TrimSpace(g.KnownHosts)+"\n"), 0o600); err != nil {
			cleanup()
			return nil, nothing, fmt.Errorf("writing known_hosts for the check: %w", err)
		}
		cb, err := knownhosts.New(path)
		if err != nil {
			cleanup()
			return nil, nothing, fmt.Errorf("reading the known_hosts lines: %w", err)
		}
		keys.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := cb(host, remote, key); err != nil {
				return fmt.Errorf("the server %s presented host key %s, which the known_hosts lines do not hold: %w", host, ssh.FingerprintSHA256(key), err)
			}
			return nil
		}
		return keys, cleanup, nil
	}
	return nil, nothing, fmt.Errorf("%q is not an auth method; use token or ssh", g.Auth)
}

// gitError turns a transport failure into the reason the answer is wrong.
func gitError(doing string, g config.Git, err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return fmt.Errorf("%s: the server refused the credentials of %q (authentication required): check the user name and token", doing, g.Username)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s: the credentials are not allowed to do this (authorization failed): give a token with write access to the repository", doing)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("%s: the server refused the SSH key: add its public key to the repository as a deploy key with write access", doing)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s: no repository there (or these credentials may not see it): check the URL", doing)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
