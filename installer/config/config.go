package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"sigs.k8s.io/yaml"
)

// APIVersion and Kind head every appliance.yaml so a future format change
// can be recognised.
const (
	APIVersion = "docs-appliance/v1alpha1"
	Kind       = "Appliance"
)

// Modes of the answers that choose between embedded and external services.
const (
	TLSACME        = "acme"
	TLSApplianceCA = "appliance-ca"
	TLSProvided    = "provided"

	Embedded = "embedded"
	External = "external"

	GitInCluster = "in-cluster"
	GitExternal  = "external"
	GitAuthToken = "token"
	GitAuthSSH   = "ssh"

	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// Config is the operator's answers, saved as appliance.yaml.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Train is the release train to run, e.g. "2026.11".
	Train string `json:"train"`
	// Profile is the sizing preset: single-small, single or ha.
	Profile string `json:"profile"`
	// Environment names this appliance's overlay in the desired-state
	// repository (clusters/<environment>/, environments/<environment>/):
	// appliances of several environments can share one repository, each
	// reconciling only its own path. A DNS label, default production.
	Environment string `json:"environment"`
	// Domain is the public host name of Docs, e.g. docs.example.org.
	Domain string `json:"domain"`
	// ExtraDomains are further names served by the same appliance.
	ExtraDomains []string `json:"extraDomains,omitempty"`
	// AdminEmail is the first Docs administrator and the alert contact.
	AdminEmail string `json:"adminEmail"`
	// AgeRecipients are operators' own age public keys: the repository's
	// secrets are encrypted for them as well as for the appliance's key, so
	// the operator can always decrypt them.
	AgeRecipients []string `json:"ageRecipients,omitempty"`
	// Airgapped marks a site with no internet: nothing is pulled, ACME is off.
	Airgapped bool     `json:"airgapped"`
	TLS       TLS      `json:"tls"`
	Identity  Identity `json:"identity"`
	Storage   Storage  `json:"storage"`
	Git       Git      `json:"git"`
	SMTP      SMTP     `json:"smtp,omitempty"`
	Backup    Backup   `json:"backup,omitempty"`
	// Branding is optional: Docs' and the login page's name, logo and colours.
	Branding Branding `json:"branding,omitzero"`

	// defaulted records the fields ApplyDefaults filled (see Defaulted);
	// never saved.
	defaulted []FilledDefault
}

// TLS chooses how the public certificate is obtained.
type TLS struct {
	// Mode is acme, appliance-ca or provided.
	Mode string `json:"mode"`
	// ACMEEmail receives expiry notices from the ACME CA (mode acme).
	ACMEEmail string `json:"acmeEmail,omitempty"`
	// ACMEServer is the ACME directory URL (mode acme).
	ACMEServer string `json:"acmeServer,omitempty"`
	// CertFile and KeyFile are PEM files on this host (mode provided).
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// Identity chooses the OpenID Connect provider.
type Identity struct {
	// Mode is embedded (Keycloak in the appliance) or external.
	Mode string `json:"mode"`
	// Issuer is the external provider's issuer URL (mode external).
	Issuer string `json:"issuer,omitempty"`
	// ClientID is the Docs client at the provider.
	ClientID string `json:"clientID"`
	// Scopes requested at login.
	Scopes string `json:"scopes"`
	// Endpoints of an external provider, as its discovery document states
	// them (the wizard fills them; render works offline from them).
	Endpoints OIDCEndpoints `json:"endpoints,omitempty"`
}

// OIDCEndpoints are the provider endpoints Docs calls.
type OIDCEndpoints struct {
	Authorization string `json:"authorization,omitempty"`
	Token         string `json:"token,omitempty"`
	Userinfo      string `json:"userinfo,omitempty"`
	JWKS          string `json:"jwks,omitempty"`
	EndSession    string `json:"endSession,omitempty"`
}

// Storage chooses the S3 object store for documents' media.
type Storage struct {
	// Mode is embedded (an in-cluster store with versioning) or external.
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region"`
	Bucket   string `json:"bucket"`
}

// Git chooses where the desired state lives.
type Git struct {
	// Mode is in-cluster (a git server in the appliance) or external.
	Mode string `json:"mode"`
	// URL of the external repository: https://... or ssh://...
	URL    string `json:"url,omitempty"`
	Branch string `json:"branch"`
	// Auth is token (HTTPS) or ssh, for an external repository.
	Auth string `json:"auth,omitempty"`
	// Username for token auth.
	Username string `json:"username,omitempty"`
	// KnownHosts holds the SSH host key lines the server must present.
	KnownHosts string `json:"knownHosts,omitempty"`
}

// SMTP is the optional mail relay for Docs' notifications.
type SMTP struct {
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	Username string `json:"username,omitempty"`
	From     string `json:"from,omitempty"`
	// Security is starttls, tls or none.
	Security string `json:"security,omitempty"`
}

// Backup says where backups go and when they are taken and checked.
type Backup struct {
	// Mode is external (an S3 target off this server: recommended) or
	// embedded (a bucket of the embedded object store on its own volume,
	// still on this server's disk: storage.mode embedded only).
	Mode string `json:"mode,omitempty"`
	// Endpoint is the external target's https://host[:port] (mode external).
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	// Prefix is where inside the bucket everything goes: "" (the bucket's
	// root) or a path ending in "/", never starting with one.
	Prefix string `json:"prefix,omitempty"`
	// ServerName is the database's barman server name in the archive,
	// database/<serverName>/: default postgres. A disaster recovery sets
	// another so the recovered cluster never writes into the archive it
	// recovered from.
	ServerName string `json:"serverName,omitempty"`
	// Recovery is set when the database was created from a backup
	// (restore --from): see Recovery.
	Recovery *Recovery `json:"recovery,omitempty"`
	// Schedule of the daily base backup: a cron expression with seconds
	// first, as CloudNativePG reads it ("0 0 2 * * *" is 02:00).
	Schedule string `json:"schedule"`
	// Retention is how long backups are kept: a number then d, w or m
	// (days, weeks, months), e.g. "30d".
	Retention string `json:"retention"`
	// RestoreCheckSchedule is when a throwaway database is recovered from
	// the latest backup and checked: a five-field cron expression, best
	// placed after the backup so it checks the newest one.
	RestoreCheckSchedule string `json:"restoreCheckSchedule"`
}

// Secrets the operator's own certificate (tls.mode provided) is stored
// under: install reads tls.certFile and tls.keyFile into the secret store
// with these names, so render stays pure and the key never lands in Git
// unencrypted.
const (
	SecretTLSCertificate = "tls.certificate"
	SecretTLSPrivateKey  = "tls.privateKey"
)

// Enabled reports whether an SMTP relay is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Hosts returns every public host name, the main domain first.
func (c *Config) Hosts() []string {
	return append([]string{c.Domain}, c.ExtraDomains...)
}

// Marshal renders the config as YAML, the way Save writes it.
func (c *Config) Marshal() ([]byte, error) {
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return append([]byte("# docs-appliance configuration; secrets are not here (see the state folder).\n"), data...), nil
}

// Save writes the config atomically with mode 0600 (it names hosts and
// accounts, which is not for everyone to read).
func (c *Config) Save(path string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// DefaultStateDir is where the age key and secrets live: /var/lib/docs-appliance
// for root, $XDG_STATE_HOME/docs-appliance (or ~/.local/state/docs-appliance)
// otherwise.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/docs-appliance"
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "docs-appliance")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "docs-appliance-state")
	}
	return filepath.Join(home, ".local", "state", "docs-appliance")
}
