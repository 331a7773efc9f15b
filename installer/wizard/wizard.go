package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/AlecAivazis/survey/v2/terminal"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
)

// Checks are the live checks run on answers; *probe.Live is the real one.
type Checks interface {
	Domain(ctx context.Context, name string, reach bool) (*probe.DomainReport, error)
	OIDC(ctx context.Context, id config.Identity, clientSecret string) (*probe.OIDCReport, error)
	S3(ctx context.Context, st config.Storage, accessKeyID, secretAccessKey string, consent probe.S3Consent) (*probe.S3Report, error)
	Backup(ctx context.Context, loc config.BackupLocation, accessKeyID, secretAccessKey string) (*probe.BackupReport, error)
	Git(ctx context.Context, g config.Git, secret string) (*probe.GitReport, error)
	SMTP(ctx context.Context, s config.SMTP, password, sendTo string) (*probe.SMTPReport, error)
}

var _ Checks = (*probe.Live)(nil)

// ConfigFileName is the answers' file in the state folder.
const ConfigFileName = "appliance.yaml"

// DefaultConfigPath is where the wizard saves the answers and where a
// later run finds them: STATEDIR/appliance.yaml.
func DefaultConfigPath(stateDir string) string { return filepath.Join(stateDir, ConfigFileName) }

// Wizard asks the operator for the appliance's answers on a terminal.
type Wizard struct {
	// In, Out and Err are the terminal (os.Stdin, os.Stdout, os.Stderr).
	In  terminal.FileReader
	Out terminal.FileWriter
	Err io.Writer
	// Checks runs the live checks on answers.
	Checks Checks
	// Machine is shown next to each sizing profile.
	Machine Machine
	// Stored looks up secrets the operator gave in an earlier run, so
	// pressing Enter keeps them (never a generated one); nil means none.
	Stored func(name string) (string, bool)

	// given holds the secrets typed in this run, by store name.
	given map[string]string
}

// Answers are what the operator answered.
type Answers struct {
	Config *config.Config
	// Secrets are the secrets the operator gave, by store name
	// (identity.clientSecret, storage.secretAccessKey, ...).
	Secrets map[string]string
}

// ErrInterrupted is returned when the operator stops the wizard (Ctrl-C).
var ErrInterrupted = errors.New("the wizard was interrupted: nothing was saved")

// Ask walks through every question, starting from start's answers as
// defaults (nil: none), and returns the checked answers. Nothing is
// written.
func (w *Wizard) Ask(ctx context.Context, start *config.Config) (*Answers, error) {
	if start == nil {
		start = &config.Config{}
	}
	c := *start
	c.ExtraDomains = append([]string(nil), start.ExtraDomains...)
	c.AgeRecipients = append([]string(nil), start.AgeRecipients...)
	c.ApplyDefaults()
	w.given = map[string]string{}
	w.say("docs-appliance asks a few questions and checks each answer against the real service.")
	w.say("Type ? for help on a question; Ctrl-C stops without saving anything.")

	steps := []struct {
		title string
		run   func(context.Context, *config.Config) error
	}{
		{"Public address", w.askSite},
		{"Sign-in (OpenID Connect)", w.askIdentity},
		{"Object storage (S3)", w.askStorage},
		{"Backups", w.askBackup},
		{"Desired-state repository (git)", w.askGit},
		{"Outgoing e-mail (SMTP)", w.askSMTP},
		{"Sizing", w.askProfile},
		{"Your own key for the secrets", w.askRecipients},
	}
	for _, s := range steps {
		w.say("")
		w.say("── " + s.title)
		if err := s.run(ctx, &c); err != nil {
			return nil, err
		}
	}
	secrets := map[string]string{}
	for _, spec := range c.RequiredSecrets() {
		if v, ok := w.given[spec.Name]; ok {
			secrets[spec.Name] = v
		}
	}
	return &Answers{Config: &c, Secrets: secrets}, nil
}

// askSite asks the host names, the admin, air-gap and TLS, and proves the
// names reach this host when certificates come from ACME.
func (w *Wizard) askSite(ctx context.Context, c *config.Config) error {
	for {
		if err := w.input(&c.Domain, "Public host name of Docs", c.Domain,
			"The name people type to reach Docs, e.g. docs.example.org. It must resolve in DNS (an A or AAAA record to this server).",
			func(name string) error { _, err := w.Checks.Domain(ctx, name, false); return err }); err != nil {
			return err
		}
		extra := strings.Join(c.ExtraDomains, ", ")
		if err := w.input(&extra, "Further host names (comma-separated, optional)", extra,
			"Other names served by the same appliance, e.g. an old address. Leave empty for none; type - to remove the ones given before.",
			func(list string) error {
				if list == "-" {
					return nil
				}
				seen := map[string]bool{c.Domain: true}
				for _, d := range splitList(list) {
					if seen[d] {
						return fmt.Errorf("%s is listed twice", d)
					}
					seen[d] = true
					if _, err := w.Checks.Domain(ctx, d, false); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
			return err
		}
		c.ExtraDomains = splitList(extra)
		if extra == "-" {
			c.ExtraDomains = nil
		}
		if err := w.input(&c.AdminEmail, "Administrator's e-mail address", c.AdminEmail,
			"The first Docs administrator, and where alerts go.", config.ValidEmail); err != nil {
			return err
		}
		if err := w.confirm(&c.Airgapped, "Is this site air-gapped (no internet at all)?", c.Airgapped,
			"An air-gapped site pulls nothing from the internet and cannot use ACME certificates."); err != nil {
			return err
		}
		if err := w.askTLS(c); err != nil {
			return err
		}
		again, err := w.proveReach(ctx, c)
		if err != nil {
			return err
		}
		if !again {
			return nil
		}
	}
}

func (w *Wizard) askTLS(c *config.Config) error {
	modes := []string{config.TLSACME, config.TLSApplianceCA, config.TLSProvided}
	if c.Airgapped {
		modes = modes[1:]
		if c.TLS.Mode == config.TLSACME {
			c.TLS.Mode = config.TLSApplianceCA
		}
	}
	desc := map[string]string{
		config.TLSACME:        "free certificates from Let's Encrypt (the names must reach this host on port 80)",
		config.TLSApplianceCA: "the appliance's own certificate authority (browsers must trust its CA)",
		config.TLSProvided:    "your own certificate and key files",
	}
	if err := w.selectOne(&c.TLS.Mode, "How should the HTTPS certificate be obtained?", modes, c.TLS.Mode, desc,
		"acme suits public sites; appliance-ca suits closed networks; provided uses a certificate your organisation issued."); err != nil {
		return err
	}
	switch c.TLS.Mode {
	case config.TLSACME:
		if c.TLS.ACMEEmail == "" {
			c.TLS.ACMEEmail = c.AdminEmail
		}
		if c.TLS.ACMEServer == "" {
			c.TLS.ACMEServer = config.Default().TLS.ACMEServer
		}
		return w.input(&c.TLS.ACMEEmail, "E-mail for certificate expiry notices", c.TLS.ACMEEmail,
			"The ACME CA writes here when a certificate is about to expire.", config.ValidEmail)
	case config.TLSProvided:
		c.TLS.ACMEEmail, c.TLS.ACMEServer = "", ""
		for {
			if err := w.input(&c.TLS.CertFile, "Certificate file (PEM, leaf first)", c.TLS.CertFile,
				"A PEM file on this server with the certificate chain covering every host name.", fileExists); err != nil {
				return err
			}
			if err := w.input(&c.TLS.KeyFile, "Private key file (PEM, mode 0600)", c.TLS.KeyFile,
				"The certificate's private key, readable by root only.", fileExists); err != nil {
				return err
			}
			if err := fieldProblems(c, "tls."); err != nil {
				w.fail(err)
				continue
			}
			return nil
		}
	default:
		c.TLS.ACMEEmail, c.TLS.ACMEServer, c.TLS.CertFile, c.TLS.KeyFile = "", "", "", ""
	}
	return nil
}

// proveReach runs the reachability proof for ACME sites; it reports
// whether the host names must be asked again.
func (w *Wizard) proveReach(ctx context.Context, c *config.Config) (askAgain bool, err error) {
	if c.TLS.Mode != config.TLSACME {
		return false, nil
	}
	prove := true
	if err := w.confirm(&prove, "Prove now that every host name reaches this server on port 80?", true,
		"ACME validates over http://NAME/. The wizard listens on port 80 for a moment with a random token and fetches it through each name, as the ACME CA will."); err != nil {
		return false, err
	}
	if !prove {
		return false, nil
	}
	for {
		var failed error
		for _, h := range c.Hosts() {
			rep, err := w.Checks.Domain(ctx, h, true)
			if err != nil {
				failed = err
				break
			}
			w.ok("%s reaches this server (%s)", h, rep.URL)
		}
		if failed == nil {
			return false, nil
		}
		w.fail(failed)
		choice := "check again"
		if err := w.selectOne(&choice, "What now?", []string{"check again", "change the host names", "skip the check"}, choice, nil,
			"Fix DNS or the firewall and check again; or change the names; or skip (certificates will fail until the names reach this server)."); err != nil {
			return false, err
		}
		switch choice {
		case "change the host names":
			return true, nil
		case "skip the check":
			w.warn("skipped: certificates will not be issued until every name reaches this server on port 80")
			return false, nil
		}
	}
}

func (w *Wizard) askIdentity(ctx context.Context, c *config.Config) error {
	desc := map[string]string{
		config.Embedded: "a Keycloak inside the appliance, with a realm and the Docs client made for you",
		config.External: "your organisation's OpenID provider (Keycloak, Authentik, Entra ID, ...)",
	}
	if err := w.selectOne(&c.Identity.Mode, "Who signs people in?", []string{config.Embedded, config.External}, c.Identity.Mode, desc,
		"Docs signs people in with OpenID Connect. An external provider needs a confidential client with the redirect URI https://DOMAIN/api/v1.0/callback/."); err != nil {
		return err
	}
	if c.Identity.Mode == config.Embedded {
		c.Identity.Issuer, c.Identity.Endpoints = "", config.OIDCEndpoints{}
		return nil
	}
	w.say(fmt.Sprintf("Register a confidential client at the provider with the redirect URI https://%s/api/v1.0/callback/", c.Domain))
	for {
		if err := w.input(&c.Identity.Issuer, "Issuer URL", c.Identity.Issuer,
			"Exactly as the provider's discovery document states it, e.g. https://id.example.org/realms/docs (the wizard reads ISSUER/.well-known/openid-configuration).",
			httpsURL); err != nil {
			return err
		}
		if err := w.input(&c.Identity.ClientID, "Client ID", c.Identity.ClientID, "The client registered for Docs.", nonEmpty); err != nil {
			return err
		}
		secret, err := w.secret("identity.clientSecret", "Client secret", "The client's secret, from the provider's client settings.")
		if err != nil {
			return err
		}
		if err := w.input(&c.Identity.Scopes, "Scopes", c.Identity.Scopes, "Space-separated; must include openid.", func(s string) error {
			if !strings.Contains(" "+s+" ", " openid ") {
				return fmt.Errorf("%q lacks openid", s)
			}
			return nil
		}); err != nil {
			return err
		}
		w.say("Checking the provider...")
		rep, err := w.Checks.OIDC(ctx, c.Identity, secret)
		if err != nil {
			w.fail(err)
			continue
		}
		c.Identity.Endpoints = rep.Endpoints
		w.ok("issuer %s: endpoints read, RS256 offered; client secret %s", rep.Issuer, rep.SecretCheck)
		for _, warn := range rep.Warnings {
			w.warn(warn)
		}
		return nil
	}
}

func (w *Wizard) askStorage(ctx context.Context, c *config.Config) error {
	desc := map[string]string{
		config.Embedded: "an object store inside the appliance, with versioning",
		config.External: "your own S3-compatible bucket (it must keep object versions)",
	}
	if err := w.selectOne(&c.Storage.Mode, "Where are documents' files stored?", []string{config.Embedded, config.External}, c.Storage.Mode, desc,
		"Docs keeps images and attachments in S3 and document history as object versions: the bucket must support versioning."); err != nil {
		return err
	}
	if c.Storage.Mode == config.Embedded {
		c.Storage.Endpoint = ""
		return nil
	}
	for {
		if err := w.input(&c.Storage.Endpoint, "S3 endpoint URL", c.Storage.Endpoint, "https://host[:port] of the S3 API, without the bucket.", httpsURL); err != nil {
			return err
		}
		if err := w.input(&c.Storage.Region, "Region", c.Storage.Region, "The bucket's region; us-east-1 when the store has none.", func(string) error { return fieldProblems(c, "storage.region") }); err != nil {
			return err
		}
		if err := w.input(&c.Storage.Bucket, "Bucket", c.Storage.Bucket, "The bucket for Docs' media; the wizard offers to create it when missing.", func(string) error { return fieldProblems(c, "storage.bucket") }); err != nil {
			return err
		}
		keyID, err := w.secretVisible("storage.accessKeyID", "Access key ID", "The access key of an account that may list, read, write and delete in the bucket and set its versioning.")
		if err != nil {
			return err
		}
		key, err := w.secret("storage.secretAccessKey", "Secret access key", "The access key's secret.")
		if err != nil {
			return err
		}
		w.say("Checking the bucket...")
		consent := probe.S3Consent{}
		rep, err := w.Checks.S3(ctx, c.Storage, keyID, key, consent)
		created := rep != nil && rep.BucketCreated
		var need *probe.ConsentNeeded
		for errors.As(err, &need) {
			yes := true
			if cerr := w.confirm(&yes, capitalize(need.Action)+"?", true, need.Why+"."); cerr != nil {
				return cerr
			}
			if !yes {
				err = fmt.Errorf("%s: Docs cannot use this bucket as it is", need.Error())
				break
			}
			need.Kind.Grant(&consent)
			rep, err = w.Checks.S3(ctx, c.Storage, keyID, key, consent)
			created = created || (rep != nil && rep.BucketCreated)
		}
		if err != nil {
			w.fail(err)
			continue
		}
		var done []string
		if created {
			done = append(done, "bucket created")
		}
		if rep.VersioningEnabled {
			done = append(done, "versioning turned on")
		}
		done = append(done, "versioning "+rep.Versioning, "write/read/delete round trip passed", "clock skew "+rep.ClockSkew.String())
		w.ok("bucket %s: %s", c.Storage.Bucket, strings.Join(done, ", "))
		for _, warn := range rep.Warnings {
			w.warn(warn)
		}
		return nil
	}
}

func (w *Wizard) askGit(ctx context.Context, c *config.Config) error {
	desc := map[string]string{
		config.GitInCluster: "a git server inside the appliance",
		config.GitExternal:  "your own repository (GitLab, GitHub, Gitea, ...) over HTTPS with a token, or SSH",
	}
	if err := w.selectOne(&c.Git.Mode, "Where should the desired state live?", []string{config.GitInCluster, config.GitExternal}, c.Git.Mode, desc,
		"Every change to the appliance is a commit in this repository; Flux applies it."); err != nil {
		return err
	}
	if c.Git.Mode == config.GitInCluster {
		c.Git.URL, c.Git.Auth, c.Git.Username, c.Git.KnownHosts = "", "", "", ""
		return nil
	}
	for {
		if err := w.input(&c.Git.URL, "Repository URL", c.Git.URL,
			"https://host/owner/repo.git (token) or ssh://git@host/owner/repo.git (SSH key).", nonEmpty); err != nil {
			return err
		}
		if c.Git.Auth == "" {
			c.Git.Auth = config.GitAuthToken
			if !strings.HasPrefix(c.Git.URL, "https://") {
				c.Git.Auth = config.GitAuthSSH
			}
		}
		if err := w.input(&c.Git.Branch, "Branch", c.Git.Branch, "The branch Flux follows; install creates it in an empty repository.", nonEmpty); err != nil {
			return err
		}
		if err := w.selectOne(&c.Git.Auth, "How does the appliance authenticate?", []string{config.GitAuthToken, config.GitAuthSSH}, c.Git.Auth,
			map[string]string{config.GitAuthToken: "a user name and an access token, over HTTPS", config.GitAuthSSH: "an SSH deploy key with write access"},
			"The credentials need write access: the appliance pushes its commits."); err != nil {
			return err
		}
		var secret string
		var err error
		if c.Git.Auth == config.GitAuthToken {
			c.Git.KnownHosts = ""
			if err := w.input(&c.Git.Username, "User name", c.Git.Username, "The account the token belongs to.", nonEmpty); err != nil {
				return err
			}
			secret, err = w.secret("git.token", "Access token", "A token with write access to the repository.")
		} else {
			c.Git.Username = ""
			secret, err = w.sshKey()
			if err == nil {
				err = w.input(&c.Git.KnownHosts, "The server's known_hosts line(s)", c.Git.KnownHosts,
					"The output of `ssh-keyscan HOST`, after checking its fingerprint: the server must present that key.", nonEmpty)
			}
		}
		if err != nil {
			return err
		}
		if err := fieldProblems(c, "git."); err != nil {
			w.fail(err)
			continue
		}
		w.say("Checking the repository...")
		rep, err := w.Checks.Git(ctx, c.Git, secret)
		if err != nil {
			w.fail(err)
			continue
		}
		state := "branch " + c.Git.Branch + " found"
		if rep.Empty {
			state = "empty repository: install creates branch " + c.Git.Branch
		}
		w.ok("%s: %s, write access proved", c.Git.URL, state)
		return nil
	}
}

func (w *Wizard) sshKey() (string, error) {
	var path string
	prompt := "SSH private key file (unencrypted)"
	if _, ok := w.lookup("git.sshKey"); ok {
		prompt += " (Enter keeps the stored key)"
	}
	if err := w.input(&path, prompt, "", "A deploy key with write access; its content is stored encrypted, the file is not needed afterwards.", func(p string) error {
		if p == "" {
			if _, ok := w.lookup("git.sshKey"); ok {
				return nil
			}
			return fmt.Errorf("a key file is needed")
		}
		return fileExists(p)
	}); err != nil {
		return "", err
	}
	if path == "" {
		v, _ := w.lookup("git.sshKey")
		return v, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the SSH key %s: %w", path, err)
	}
	w.given["git.sshKey"] = string(data)
	return string(data), nil
}

func (w *Wizard) askSMTP(ctx context.Context, c *config.Config) error {
	enable := c.SMTP.Enabled()
	if err := w.confirm(&enable, "Send e-mail through an SMTP relay?", enable,
		"Docs e-mails invitations and notifications. Without a relay, no e-mail is sent."); err != nil {
		return err
	}
	if !enable {
		c.SMTP = config.SMTP{}
		return nil
	}
	for {
		if err := w.input(&c.SMTP.Host, "Relay host", c.SMTP.Host, "The SMTP server's host name.", nonEmpty); err != nil {
			return err
		}
		if c.SMTP.Security == "" {
			c.SMTP.Security = config.SMTPStartTLS
		}
		if err := w.selectOne(&c.SMTP.Security, "Connection security", []string{config.SMTPStartTLS, config.SMTPTLS, config.SMTPNone}, c.SMTP.Security,
			map[string]string{config.SMTPStartTLS: "STARTTLS, usually port 587", config.SMTPTLS: "TLS from the first byte, usually port 465", config.SMTPNone: "no encryption (port 25, a relay that needs no password)"},
			"Passwords are only ever sent encrypted."); err != nil {
			return err
		}
		port := strconv.Itoa(c.SMTP.Port)
		if c.SMTP.Port == 0 {
			port = map[string]string{config.SMTPStartTLS: "587", config.SMTPTLS: "465", config.SMTPNone: "25"}[c.SMTP.Security]
		}
		if err := w.input(&port, "Port", port, "The relay's port.", func(s string) error {
			if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%q is not a port number", s)
			}
			return nil
		}); err != nil {
			return err
		}
		c.SMTP.Port, _ = strconv.Atoi(port)
		if err := w.input(&c.SMTP.Username, "User name (empty when the relay needs none)", c.SMTP.Username, "The account Docs authenticates as.", nil); err != nil {
			return err
		}
		var password string
		if c.SMTP.Username != "" {
			var err error
			if password, err = w.secret("smtp.password", "Password", "The SMTP account's password."); err != nil {
				return err
			}
		}
		if c.SMTP.From == "" {
			c.SMTP.From = "docs@" + c.Domain
		}
		if err := w.input(&c.SMTP.From, "Sender address", c.SMTP.From, "The From: address of Docs' e-mails; the relay must allow it.", config.ValidEmail); err != nil {
			return err
		}
		w.say("Checking the relay...")
		rep, err := w.Checks.SMTP(ctx, c.SMTP, password, "")
		if err != nil {
			w.fail(err)
			continue
		}
		how := "connected"
		if rep.TLS != "" {
			how += " over " + rep.TLS
		}
		if rep.Mechanism != "" {
			how += ", authenticated with " + rep.Mechanism
		}
		w.ok("relay %s:%d: %s", c.SMTP.Host, c.SMTP.Port, how)
		send := false
		if err := w.confirm(&send, "Send a test message to "+c.AdminEmail+"?", false, "One short message, to see that mail arrives."); err != nil {
			return err
		}
		if send {
			if _, err := w.Checks.SMTP(ctx, c.SMTP, password, c.AdminEmail); err != nil {
				w.fail(err)
				continue
			}
			w.ok("test message accepted by the relay for %s", c.AdminEmail)
		}
		return nil
	}
}
