package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// SecretSpec is one secret an answer needs.
type SecretSpec struct {
	// Name is the secret's key in the secret store, e.g. identity.clientSecret.
	Name string
	// For says what uses it, for messages.
	For string
	// Generated secrets are made with crypto/rand when absent; the others
	// must be given by the operator.
	Generated bool
	// GeneratedFor and Why, on a given secret the appliance generates
	// itself in another mode, say what that generated value was for and
	// which answer now needs the operator's own: a generated value does not
	// satisfy it.
	GeneratedFor, Why string
	// From, on a given secret, names the secret whose value it takes while
	// the operator gives none of its own (the backup target's keys when it
	// is the storage's bucket): the secret store copies it, and keeps the
	// copy in step with From.
	From string
}

// RequiredSecrets lists the secrets this config needs, generated or given.
func (c *Config) RequiredSecrets() []SecretSpec {
	gen := func(name, what string) SecretSpec { return SecretSpec{Name: name, For: what, Generated: true} }
	given := func(name, what string) SecretSpec { return SecretSpec{Name: name, For: what} }
	instead := func(s SecretSpec, generatedFor, why string) SecretSpec {
		s.GeneratedFor, s.Why = generatedFor, why
		return s
	}
	s := []SecretSpec{
		gen("django.secretKey", "Docs' Django SECRET_KEY"),
		gen("django.superuserPassword", "the first Docs administrator"),
		gen("django.serverToServerToken", "Docs' server-to-server API token"),
		gen("collaboration.secret", "the collaboration server's shared secret"),
		gen("yprovider.apiKey", "the y-provider API key"),
		gen("postgres.docsPassword", "the docs database owner"),
		gen("redis.password", "the Redis cache"),
		// Generated even where the profile runs no Grafana: the config does
		// not know the profile's components, and an unused value costs nothing.
		gen("grafana.adminPassword", "Grafana's admin account"),
	}
	if c.Identity.Mode == Embedded {
		s = append(s,
			gen("postgres.keycloakPassword", "the keycloak database owner"),
			gen("keycloak.adminPassword", "Keycloak's admin console"),
			gen("identity.clientSecret", "the Docs OIDC client at the embedded Keycloak"),
			gen("identity.adminUserPassword", "the first Docs user in the embedded realm"))
	} else {
		s = append(s, instead(given("identity.clientSecret", "the Docs OIDC client at "+c.Identity.Issuer),
			"the embedded Keycloak", "identity.mode external needs the client secret from your issuer"))
	}
	if c.Storage.Mode == Embedded {
		s = append(s,
			gen("storage.accessKeyID", "the embedded object store's Docs account"),
			gen("storage.secretAccessKey", "the embedded object store's Docs account"),
			gen("objectstore.rootAccessKey", "the embedded object store's root account"),
			gen("objectstore.rootSecretKey", "the embedded object store's root account"))
	} else {
		s = append(s,
			instead(given("storage.accessKeyID", "the S3 bucket "+c.Storage.Bucket),
				"the embedded object store", "storage.mode external needs the access key ID of your S3 bucket "+c.Storage.Bucket),
			instead(given("storage.secretAccessKey", "the S3 bucket "+c.Storage.Bucket),
				"the embedded object store", "storage.mode external needs the secret access key of your S3 bucket "+c.Storage.Bucket))
	}
	s = append(s, c.backupSecrets(gen, given, instead)...)
	switch {
	case c.Git.Mode == GitInCluster:
		s = append(s, gen("git.password", "the in-cluster git server"))
	case c.Git.Auth == GitAuthSSH:
		s = append(s, given("git.sshKey", "pushing to "+c.Git.URL))
	default:
		s = append(s, given("git.token", "pushing to "+c.Git.URL))
	}
	if c.SMTP.Enabled() && c.SMTP.Username != "" {
		s = append(s, given("smtp.password", "the SMTP account "+c.SMTP.Username))
	}
	return s
}

var (
	labelRe      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	bucketRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	scpLikeGitRe = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$`)
	branchRe     = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	cronFieldRe  = regexp.MustCompile(`^[0-9A-Za-z*/,?-]+$`)
	retentionRe  = regexp.MustCompile(`^[1-9][0-9]{0,3}[dwm]$`)
)

// validCron reports why expr is not a cron expression of n fields, or nil.
func validCron(expr string, n int) error {
	fields := strings.Fields(expr)
	if len(fields) != n {
		return fmt.Errorf("%q has %d fields, want %d", expr, len(fields), n)
	}
	for _, f := range fields {
		if !cronFieldRe.MatchString(f) {
			return fmt.Errorf("%q has an invalid field %q", expr, f)
		}
	}
	return nil
}

// ValidDomain reports why name is not a usable public host name, or nil.
func ValidDomain(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case net.ParseIP(name) != nil:
		return fmt.Errorf("%q is an IP address; Docs needs a DNS name (TLS and OIDC redirects use it)", name)
	case name != strings.ToLower(name):
		return fmt.Errorf("%q has upper-case letters; write it in lower case", name)
	case strings.HasSuffix(name, "."):
		return fmt.Errorf("%q ends with a dot; drop it", name)
	case len(name) > 253:
		return fmt.Errorf("%q is longer than 253 characters", name)
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q has a single label; use a fully qualified name such as docs.example.org", name)
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("%q has an invalid label %q (letters, digits and inner hyphens, 1 to 63 characters)", name, l)
		}
	}
	return nil
}

// ValidEnvironment reports why name cannot name an environment, or nil: it
// becomes a folder of the repository (clusters/<name>/, environments/<name>/),
// so a DNS label — lower-case letters, digits and inner hyphens, 1 to 63.
func ValidEnvironment(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty")
	case !labelRe.MatchString(name):
		return fmt.Errorf("%q is not a DNS label (lower-case letters, digits and inner hyphens, 1 to 63 characters)", name)
	}
	return nil
}

// ValidEmail reports why addr is not a plain e-mail address, or nil.
func ValidEmail(addr string) error {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr[strings.LastIndex(addr, "@")+1:], ".") {
		return fmt.Errorf("%q is not an e-mail address like admin@example.org", addr)
	}
	return nil
}

func httpsURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%q does not use https", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment", raw)
	}
	return nil
}

// Validate checks every field and reports all problems at once, each with
// its path and the fix. cat checks the train; have, when not nil, tells
// where the secret store's value for a secret came from: a secret the
// operator must give is satisfied only by one they gave (generated
// secrets are made on demand and never missing).
func (c *Config) Validate(cat *bundles.Catalog, have func(name string) SecretOrigin) error {
	var errs []bundles.FieldError
	add := func(path, problem, fix string) {
		errs = append(errs, bundles.FieldError{Path: path, Problem: problem, Fix: fix})
	}

	if c.APIVersion != APIVersion {
		add("apiVersion", fmt.Sprintf("%q is not understood by this binary", c.APIVersion), "use "+APIVersion)
	}
	if c.Kind != Kind {
		add("kind", fmt.Sprintf("%q is not an appliance config", c.Kind), "use "+Kind)
	}
	if cat != nil {
		if c.Train == "" {
			add("train", "empty", "set it to one of: "+strings.Join(cat.Names(), ", "))
		} else if _, err := cat.Get(c.Train); err != nil {
			add("train", fmt.Sprintf("%q is not a train this binary carries", c.Train), "use one of: "+strings.Join(cat.Names(), ", "))
		}
	}
	if _, err := profiles.Get(c.Profile); err != nil {
		add("profile", fmt.Sprintf("%q is not a profile", c.Profile), "use one of: "+strings.Join(profiles.Names(), ", "))
	}
	if err := ValidEnvironment(c.Environment); err != nil {
		add("environment", err.Error(), "name the environment with a DNS label, e.g. --set environment=staging")
	}
	if err := ValidDomain(c.Domain); err != nil {
		add("domain", err.Error(), "set the public host name of Docs, e.g. --set domain=docs.example.org")
	}
	seen := map[string]bool{c.Domain: true}
	for i, d := range c.ExtraDomains {
		p := fmt.Sprintf("extraDomains[%d]", i)
		if err := ValidDomain(d); err != nil {
			add(p, err.Error(), "write a fully qualified lower-case host name")
		} else if seen[d] {
			add(p, fmt.Sprintf("%q is listed twice", d), "remove the duplicate")
		}
		seen[d] = true
	}
	for i, r := range c.AgeRecipients {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			add(fmt.Sprintf("ageRecipients[%d]", i), "not an age public key (age1...)", "give the output of `age-keygen -y KEYFILE`; never a private key")
		}
	}
	if err := ValidEmail(c.AdminEmail); err != nil {
		add("adminEmail", err.Error(), "set the first administrator's address, e.g. --set adminEmail=admin@example.org")
	}

	switch c.TLS.Mode {
	case TLSACME:
		if c.Airgapped {
			add("tls.mode", "acme needs the ACME server to reach this site, which an air-gapped site cannot", "use appliance-ca or provided")
		}
		if err := ValidEmail(c.TLS.ACMEEmail); err != nil {
			add("tls.acmeEmail", err.Error(), "give the address that receives certificate expiry notices")
		}
		if err := httpsURL(c.TLS.ACMEServer); err != nil {
			add("tls.acmeServer", err.Error(), "use the https directory URL of the ACME CA")
		}
	case TLSApplianceCA:
	case TLSProvided:
		c.validateProvidedCert(add)
	default:
		add("tls.mode", fmt.Sprintf("%q is not a TLS mode", c.TLS.Mode), "use acme, appliance-ca or provided")
	}

	switch c.Identity.Mode {
	case Embedded:
	case External:
		if err := httpsURL(c.Identity.Issuer); err != nil {
			add("identity.issuer", err.Error(), "give the provider's https issuer URL exactly as its discovery document states it")
		}
		ep := c.Identity.Endpoints
		for _, e := range []struct{ path, v string }{
			{"identity.endpoints.authorization", ep.Authorization}, {"identity.endpoints.token", ep.Token},
			{"identity.endpoints.userinfo", ep.Userinfo}, {"identity.endpoints.jwks", ep.JWKS},
		} {
			if e.v == "" {
				add(e.path, "empty", "run `docs-appliance install` interactively to read them from the issuer's discovery document, or copy them from ISSUER/.well-known/openid-configuration")
			} else if err := httpsURL(e.v); err != nil {
				add(e.path, err.Error(), "copy it from the issuer's discovery document")
			}
		}
		if ep.EndSession != "" {
			if err := httpsURL(ep.EndSession); err != nil {
				add("identity.endpoints.endSession", err.Error(), "copy end_session_endpoint from the issuer's discovery document, or leave it empty")
			}
		}
	default:
		add("identity.mode", fmt.Sprintf("%q is not an identity mode", c.Identity.Mode), "use embedded or external")
	}
	if c.Identity.ClientID == "" {
		add("identity.clientID", "empty", "give the client ID registered for Docs")
	}
	if !strings.Contains(" "+c.Identity.Scopes+" ", " openid ") {
		add("identity.scopes", fmt.Sprintf("%q lacks openid", c.Identity.Scopes), `use "openid email"`)
	}

	switch c.Storage.Mode {
	case Embedded:
	case External:
		if err := httpsURL(c.Storage.Endpoint); err != nil {
			add("storage.endpoint", err.Error(), "give the S3 endpoint as https://host[:port]")
		}
	default:
		add("storage.mode", fmt.Sprintf("%q is not a storage mode", c.Storage.Mode), "use embedded or external")
	}
	if p := BucketNameProblem(c.Storage.Bucket); p != "" {
		add("storage.bucket", p, "use 3-63 lower-case letters, digits, dots and hyphens")
	}
	if !regionRe.MatchString(c.Storage.Region) {
		add("storage.region", fmt.Sprintf("%q is not a region name", c.Storage.Region), `e.g. "us-east-1" or your provider's region`)
	}

	switch c.Git.Mode {
	case GitInCluster:
	case GitExternal:
		c.validateExternalGit(add)
	default:
		add("git.mode", fmt.Sprintf("%q is not a git mode", c.Git.Mode), "use in-cluster or external")
	}
	if !branchRe.MatchString(c.Git.Branch) || strings.Contains(c.Git.Branch, "..") || strings.HasPrefix(c.Git.Branch, "/") || strings.HasSuffix(c.Git.Branch, "/") {
		add("git.branch", fmt.Sprintf("%q is not a branch name", c.Git.Branch), `e.g. "main"`)
	}

	if c.SMTP.Enabled() {
		if err := ValidDomain(c.SMTP.Host); err != nil && net.ParseIP(c.SMTP.Host) == nil {
			add("smtp.host", err.Error(), "give the relay's host name")
		}
		if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
			add("smtp.port", fmt.Sprintf("%d is not a port", c.SMTP.Port), "use 587 (starttls), 465 (tls) or 25")
		}
		if err := ValidEmail(c.SMTP.From); err != nil {
			add("smtp.from", err.Error(), "give the sender address, e.g. docs@example.org")
		}
		switch c.SMTP.Security {
		case SMTPStartTLS, SMTPTLS, SMTPNone:
		default:
			add("smtp.security", fmt.Sprintf("%q is not a mode", c.SMTP.Security), "use starttls, tls or none")
		}
	} else if c.SMTP.Username != "" || c.SMTP.From != "" {
		add("smtp.host", "empty while other smtp fields are set", "set smtp.host, or remove the smtp section")
	}

	c.validateBackup(add)
	if err := validCron(c.Backup.Schedule, 6); err != nil {
		add("backup.schedule", err.Error(), `use six fields, seconds first, e.g. "0 0 2 * * *" for 02:00 every day`)
	}
	if !retentionRe.MatchString(c.Backup.Retention) {
		add("backup.retention", fmt.Sprintf("%q is not a retention", c.Backup.Retention), `use a number then d, w or m, e.g. "30d"`)
	}
	if err := validCron(c.Backup.RestoreCheckSchedule, 5); err != nil {
		add("backup.restoreCheckSchedule", err.Error(), `use five fields, e.g. "30 4 * * *" for 04:30 every day, after the backup`)
	}

	_, brandErrs := c.CheckBranding()
	errs = append(errs, brandErrs...)

	if have != nil {
		for _, s := range c.RequiredSecrets() {
			if s.Generated || (s.From != "" && have(s.Name) != SecretGiven) {
				// A copy's source is checked as a secret of its own.
				continue
			}
			if problem := s.unsatisfied(have(s.Name)); problem != "" {
				add("secrets."+s.Name, problem,
					fmt.Sprintf("give it with --secret %s=FILE (a file holding only the value) or answer the wizard", s.Name))
			}
		}
	}
	if len(errs) > 0 {
		return &bundles.ValidationError{Subject: "config", Fields: errs}
	}
	return nil
}

// validateProvidedCert reports what CheckProvidedCert finds wrong with
// the operator's certificate and key; its warnings are for LoadInputs.
func (c *Config) validateProvidedCert(add func(path, problem, fix string)) {
	for _, f := range c.CheckProvidedCert(time.Now()).Problems {
		add(f.Path, f.Problem, f.Fix)
	}
}

func (c *Config) validateExternalGit(add func(path, problem, fix string)) {
	u, err := url.Parse(c.Git.URL)
	scpLike := scpLikeGitRe.MatchString(c.Git.URL)
	switch c.Git.Auth {
	case GitAuthToken:
		if err != nil || u.Scheme != "https" || u.Host == "" {
			add("git.url", fmt.Sprintf("%q is not an https URL", c.Git.URL), "token auth needs https://host/owner/repo.git")
		} else if u.User != nil {
			add("git.url", "holds credentials", "remove them from the URL; give the token with --secret git.token=FILE")
		}
		if c.Git.Username == "" {
			add("git.username", "empty", "give the account the token belongs to")
		}
	case GitAuthSSH:
		if !scpLike && (err != nil || u.Scheme != "ssh" || u.Host == "") {
			add("git.url", fmt.Sprintf("%q is not an SSH URL", c.Git.URL), "use ssh://git@host/owner/repo.git or git@host:owner/repo.git")
		}
		if strings.TrimSpace(c.Git.KnownHosts) == "" {
			add("git.knownHosts", "empty: the server's host key would be trusted blindly", "paste the output of ssh-keyscan HOST after checking its fingerprint")
		}
	default:
		add("git.auth", fmt.Sprintf("%q is not an auth method", c.Git.Auth), "use token or ssh")
	}
}
