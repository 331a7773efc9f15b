package probetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GitSSH is a git server over SSH (fluxcd's gittestserver, which runs
// git's own upload-pack and receive-pack) on 127.0.0.1 that accepts one
// deploy key.
type GitSSH struct {
	// BaseURL is ssh://git@127.0.0.1:PORT; repositories are BaseURL/NAME.git.
	BaseURL string
	// KnownHosts is the known_hosts line of the server's host key.
	KnownHosts string
	srv        *gittestserver.GitServer
	http       *Git
}

// NewSSHKey makes an ed25519 key pair: the private key in OpenSSH PEM, and the public key.
func NewSSHKey(t testing.TB) (privatePEM string, public ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "probetest deploy key")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sshPub
}

// StartGitSSH serves repositories over SSH to the holder of deployKey.
// The lookup of accepted keys is a package variable of gittestserver:
// tests that start two SSH servers must not run in parallel.
func StartGitSSH(t testing.TB, deployKey ssh.PublicKey) *GitSSH {
	t.Helper()
	gitBin, _ := GitHTTPBackend(t)
	root, keyDir := t.TempDir(), t.TempDir()
	srv := gittestserver.NewGitServer(root).KeyDir(keyDir).Auth("git", "unused-over-ssh")
	want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(deployKey)))
	srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if content != want {
			return nil, os.ErrPermission
		}
		return &gitkit.PublicKey{Id: "deploy"}, nil
	})
	if err := srv.ListenSSH(); err != nil {
		t.Fatalf("listening for git over SSH: %v", err)
	}
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })

	hostKey, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa"))
	if err != nil {
		t.Fatalf("reading the SSH server's host key: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(hostKey)
	if err != nil {
		t.Fatalf("reading the SSH server's host key: %v", err)
	}
	addr := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
	return &GitSSH{
		BaseURL:    srv.SSHAddress(),
		KnownHosts: knownhosts.Line([]string{knownhosts.Normalize(addr)}, signer.PublicKey()),
		srv:        srv,
		http:       &Git{root: root, gitBin: gitBin},
	}
}

// InitRepo makes NAME.git, with one commit on branch when given.
func (g *GitSSH) InitRepo(t testing.TB, name, branch string) string {
	t.Helper()
	g.http.InitRepo(t, name, branch)
	return g.BaseURL + "/" + name + ".git"
}

// Refs lists the repository's refs.
func (g *GitSSH) Refs(t testing.TB, name string) []string { return g.http.Refs(t, name) }

// OtherHostKeyLine is a known_hosts line for the same address with another key.
func (g *GitSSH) OtherHostKeyLine(t testing.TB) string {
	_, pub := NewSSHKey(t)
	addr := strings.TrimPrefix(g.BaseURL, "ssh://git@")
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, pub)
}
