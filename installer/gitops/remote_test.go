package gitops

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/git"
	"github.com/fluxcd/pkg/gittestserver"
	gossh "golang.org/x/crypto/ssh"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

func clientKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// sshServer is a real SSH git server on 127.0.0.1 (fluxcd's gittestserver) with one repository;
// it returns the repository's URL and a known_hosts line for the server's real host key.
func sshServer(t *testing.T) (repoURL, knownHosts string) {
	t.Helper()
	srv, err := gittestserver.NewTempGitServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(srv.Root()) })
	keyDir := t.TempDir()
	srv.KeyDir(keyDir)
	fixture := t.TempDir()
	if err := os.WriteFile(filepath.Join(fixture, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.InitRepo(fixture, "main", "appliance.git"); err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenSSH(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })
	hostKeyPEM, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa")) // gitkit's host key file
	if err != nil {
		t.Fatalf("reading the server's host key: %v", err)
	}
	signer, err := gossh.ParsePrivateKey(hostKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
	host, port, _ := net.SplitHostPort(addr)
	line := "[" + host + "]:" + port + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	return srv.SSHAddress() + "/appliance.git", line
}

// otherHostKey is a known_hosts line for the same host with another key of the same type (RSA,
// as gitkit's), so the handshake gets as far as comparing keys.
func otherHostKey(t *testing.T, like string) string {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := gossh.NewSignerFromKey(priv)
	host := strings.Fields(like)[0]
	return host + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
}

// TestExternalSSHRemoteChecksTheHostKey pushes over real SSH when the server presents the key
// known_hosts names, and refuses a server presenting another key.
func TestExternalSSHRemoteChecksTheHostKey(t *testing.T) {
	url, known := sshServer(t)
	key := clientKey(t)
	cfg := config.Git{Mode: config.GitExternal, URL: url, Branch: "main", Auth: config.GitAuthSSH, KnownHosts: known}
	r, err := ExternalRemote(cfg, "", key)
	if err != nil {
		t.Fatal(err)
	}
	if r.SyncURL != url || string(r.FluxSecret["known_hosts"]) != known || !strings.HasPrefix(string(r.FluxSecret["identity.pub"]), "ssh-ed25519 ") {
		t.Fatalf("flux secret/urls: %s %v", r.SyncURL, r.FluxSecret["identity.pub"])
	}
	repo, err := Clone(context.Background(), t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if data, _ := repo.ReadFile("README.md"); string(data) != "hello\n" {
		t.Fatalf("cloned %q", data)
	}
	if err := os.WriteFile(filepath.Join(repo.Dir(), "x.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(git.Signature{Name: "a", Email: "a@b"}, "x"); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg.KnownHosts = otherHostKey(t, known)
	r, err = ExternalRemote(cfg, "", key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Clone(context.Background(), t.TempDir(), r)
	if err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Fatalf("a server with another host key was trusted: %v", err)
	}
}

func TestExternalRemoteRefusesBadInput(t *testing.T) {
	key := clientKey(t)
	known := "git.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	for name, tc := range map[string]struct {
		cfg        config.Git
		token, key string
		want       string
	}{
		"http token":        {config.Git{URL: "http://git.example.org/a.git", Auth: config.GitAuthToken, Username: "u"}, "t", "", "needs an https:// URL"},
		"no token":          {config.Git{URL: "https://git.example.org/a.git", Auth: config.GitAuthToken, Username: "u"}, "", "", "git.token is not set"},
		"no known hosts":    {config.Git{URL: "ssh://git@git.example.org/a.git", Auth: config.GitAuthSSH}, "", key, "trusted blindly"},
		"other host":        {config.Git{URL: "ssh://git@other.example.org/a.git", Auth: config.GitAuthSSH, KnownHosts: known}, "", key, "no line for other.example.org"},
		"port needs [host]": {config.Git{URL: "ssh://git@git.example.org:2222/a.git", Auth: config.GitAuthSSH, KnownHosts: known}, "", key, "no line for [git.example.org]:2222"},
		"garbage hosts":     {config.Git{URL: "ssh://git@git.example.org/a.git", Auth: config.GitAuthSSH, KnownHosts: "git.example.org ssh-ed25519 !!!"}, "", key, "does not parse"},
		"not a key":         {config.Git{URL: "ssh://git@git.example.org/a.git", Auth: config.GitAuthSSH, KnownHosts: known}, "", "nope", "not a private key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ExternalRemote(tc.cfg, tc.token, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if tc.key != "" && strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Error("the error shows the key")
			}
		})
	}
	r, err := ExternalRemote(config.Git{URL: "git@git.example.org:team/desired.git", Auth: config.GitAuthSSH, KnownHosts: known, Branch: "main"}, "", key)
	if err != nil {
		t.Fatal(err)
	}
	if r.SyncURL != "ssh://git@git.example.org/team/desired.git" {
		t.Errorf("scp-like URL became %s", r.SyncURL)
	}
	r, err = ExternalRemote(config.Git{URL: "https://git.example.org/a.git", Auth: config.GitAuthToken, Username: "bot", Branch: "main"}, "tok", "")
	if err != nil || string(r.FluxSecret["password"]) != "tok" || r.Auth.Transport != git.HTTPS || r.PlainHTTP {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestReadPasswordIsStableAndDistinct(t *testing.T) {
	a, b := ReadPassword("x"), ReadPassword("x")
	if a != b || len(a) != 40 || a == "x" || ReadPassword("y") == a {
		t.Fatalf("%q %q", a, b)
	}
}
