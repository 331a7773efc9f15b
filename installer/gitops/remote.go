package gitops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/fluxcd/pkg/git"
	"github.com/fluxcd/pkg/ssh/knownhosts"
	gossh "golang.org/x/crypto/ssh"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// ReadPassword derives Flux's fetch-only password from the push password: one stored secret
// (git.password) gives both accounts, and rotating it rotates both.
func ReadPassword(pushPassword string) string {
	m := hmac.New(sha256.New, []byte(pushPassword))
	m.Write([]byte("docs-appliance git server: read account"))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// InClusterRemote is the in-cluster server: the installer pushes through a loopback
// port-forward at forwardAddr, Flux fetches through cluster DNS with the read account.
func InClusterRemote(forwardAddr, branch, pushPassword string) Remote {
	return Remote{
		PushURL: "http://" + forwardAddr + "/" + GitRepoName,
		SyncURL: SyncURL(),
		Branch:  branch,
		Auth:    &git.AuthOptions{Transport: git.HTTP, Host: forwardAddr, Username: GitPushUser, Password: pushPassword},
		FluxSecret: map[string][]byte{
			"username": []byte(GitReadUser),
			"password": []byte(ReadPassword(pushPassword)),
		},
		PlainHTTP: true,
	}
}

var scpLikeRe = regexp.MustCompile(`^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):(.+)$`)

// ExternalRemote is an operator's repository: HTTPS with a token, or SSH with a key whose server
// host key must be in cfg.KnownHosts (never trusted on first use).
func ExternalRemote(cfg config.Git, token, sshKey string) (Remote, error) {
	r := Remote{Branch: cfg.Branch}
	switch cfg.Auth {
	case config.GitAuthToken:
		u, err := url.Parse(cfg.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return r, fmt.Errorf("git.url %q: token auth needs an https:// URL", cfg.URL)
		}
		if token == "" {
			return r, errors.New("git.token is not set: give it with --secret git.token=FILE")
		}
		r.PushURL, r.SyncURL = cfg.URL, cfg.URL
		r.Auth = &git.AuthOptions{Transport: git.HTTPS, Host: u.Host, Username: cfg.Username, Password: token}
		r.FluxSecret = map[string][]byte{"username": []byte(cfg.Username), "password": []byte(token)}
		return r, nil
	case config.GitAuthSSH:
		sshURL, err := normalizeSSHURL(cfg.URL)
		if err != nil {
			return r, err
		}
		u, _ := url.Parse(sshURL)
		if err := checkKnownHosts(cfg.KnownHosts, u.Host); err != nil {
			return r, err
		}
		signer, err := gossh.ParsePrivateKey([]byte(sshKey))
		if err != nil {
			var missing *gossh.PassphraseMissingError
			if errors.As(err, &missing) {
				return r, errors.New("git.sshKey is protected by a passphrase: give a key without one (Flux reads it unattended)")
			}
			return r, errors.New("git.sshKey is not a private key in OpenSSH or PEM format")
		}
		user := u.User.Username()
		if user == "" {
			user = git.DefaultPublicKeyAuthUser
		}
		r.PushURL, r.SyncURL = sshURL, sshURL
		r.Auth = &git.AuthOptions{
			Transport: git.SSH, Host: u.Host, Username: user,
			Identity: []byte(sshKey), KnownHosts: []byte(cfg.KnownHosts),
		}
		r.FluxSecret = map[string][]byte{
			"identity":     []byte(sshKey),
			"identity.pub": gossh.MarshalAuthorizedKey(signer.PublicKey()),
			"known_hosts":  []byte(cfg.KnownHosts),
		}
		return r, nil
	}
	return r, fmt.Errorf("git.auth %q: use token or ssh", cfg.Auth)
}

// normalizeSSHURL turns git@host:owner/repo.git into ssh://git@host/owner/repo.git, the form Flux's
// GitRepository accepts.
func normalizeSSHURL(raw string) (string, error) {
	if m := scpLikeRe.FindStringSubmatch(raw); m != nil && !strings.Contains(raw, "://") {
		return "ssh://" + m[1] + "@" + m[2] + "/" + strings.TrimPrefix(m[3], "/"), nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ssh" || u.Host == "" {
		return "", fmt.Errorf("git.url %q: ssh auth needs ssh://git@host/owner/repo.git or git@host:owner/repo.git", raw)
	}
	return raw, nil
}

// checkKnownHosts refuses known_hosts lines that do not parse or do not name the server.
func checkKnownHosts(lines, hostport string) error {
	if strings.TrimSpace(lines) == "" {
		return errors.New("git.knownHosts is empty: the server's host key would be trusted blindly (paste `ssh-keyscan HOST` after checking its fingerprint)")
	}
	if _, _, err := knownhosts.New([]byte(lines)); err != nil {
		return fmt.Errorf("git.knownHosts does not parse as known_hosts lines: %w", err)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "22"
	}
	want := host
	if port != "22" {
		want = "[" + host + "]:" + port
	}
	for _, line := range strings.Split(lines, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		for _, h := range strings.Split(f[0], ",") {
			if h == want || strings.HasPrefix(h, "|1|") { // hashed names cannot be read: let the key check decide
				return nil
			}
		}
	}
	return fmt.Errorf("git.knownHosts has no line for %s: add the server's host key (`ssh-keyscan -p %s %s`, then check its fingerprint)", want, port, host)
}
