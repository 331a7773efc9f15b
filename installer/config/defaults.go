package config

import (
	"reflect"
	"strconv"
	"strings"
)

// FilledDefault is one field a default filled: the plan lists them, so nothing
// the operator did not write goes unseen.
type FilledDefault struct {
	// Path is the field's dotted YAML path, e.g. tls.acmeEmail.
	Path string `json:"path"`
	// Value is what it was set to.
	Value string `json:"value"`
	// From says where the value came from: another field (adminEmail,
	// smtp.security) or "built-in default".
	From string `json:"from"`
}

// DefaultEnvironment is the environment of a config that names none.
const DefaultEnvironment = "production"

// BuiltIn is the From of a default that is a constant of this binary.
const BuiltIn = "built-in default"

// Default returns a config with every default filled in and the
// operator-specific answers (domain, admin email) left empty.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every field the operator left empty with its
// default, and records each one it fills (see Defaulted).
func (c *Config) ApplyDefaults() {
	def := func(path string, p *string, v, from string) {
		if *p == "" && v != "" {
			*p = v
			c.recordDefault(path, v, from)
		}
	}
	// The format markers are not answers: filled, but not worth listing.
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	def("profile", &c.Profile, "single-small", BuiltIn)
	def("environment", &c.Environment, DefaultEnvironment, BuiltIn)
	def("tls.mode", &c.TLS.Mode, TLSACME, BuiltIn)
	if c.TLS.Mode == TLSACME {
		def("tls.acmeServer", &c.TLS.ACMEServer, "https://acme-v02.api.letsencrypt.org/directory", BuiltIn)
		def("tls.acmeEmail", &c.TLS.ACMEEmail, c.AdminEmail, "adminEmail")
	}
	def("identity.mode", &c.Identity.Mode, Embedded, BuiltIn)
	def("identity.clientID", &c.Identity.ClientID, "docs", BuiltIn)
	def("identity.scopes", &c.Identity.Scopes, "openid email", BuiltIn)
	def("storage.mode", &c.Storage.Mode, Embedded, BuiltIn)
	def("storage.region", &c.Storage.Region, "us-east-1", BuiltIn)
	def("storage.bucket", &c.Storage.Bucket, "docs-media-storage", BuiltIn)
	def("git.mode", &c.Git.Mode, GitInCluster, BuiltIn)
	def("git.branch", &c.Git.Branch, "main", BuiltIn)
	if c.Git.Mode == GitExternal {
		def("git.auth", &c.Git.Auth, GitAuthToken, BuiltIn)
	}
	c.defaultBackup(def)
	def("backup.schedule", &c.Backup.Schedule, "0 0 2 * * *", BuiltIn)
	def("backup.retention", &c.Backup.Retention, "30d", BuiltIn)
	def("backup.restoreCheckSchedule", &c.Backup.RestoreCheckSchedule, "30 4 * * *", BuiltIn)
	if c.SMTP.Enabled() {
		def("smtp.security", &c.SMTP.Security, SMTPStartTLS, BuiltIn)
		if c.SMTP.Port == 0 {
			switch c.SMTP.Security {
			case SMTPTLS:
				c.SMTP.Port = 465
			case SMTPNone:
				c.SMTP.Port = 25
			default:
				c.SMTP.Port = 587
			}
			c.recordDefault("smtp.port", strconv.Itoa(c.SMTP.Port), "smtp.security "+c.SMTP.Security)
		}
	}
}

// DefaultTrain sets the release train when the config names none,
// recording where it came from (the newest train of this binary, or a
// --train-file).
func (c *Config) DefaultTrain(name, from string) {
	if c.Train == "" && name != "" {
		c.Train = name
		c.recordDefault("train", name, from)
	}
}

func (c *Config) recordDefault(path, value, from string) {
	for i, d := range c.defaulted {
		if d.Path == path {
			c.defaulted[i] = FilledDefault{path, value, from}
			return
		}
	}
	c.defaulted = append(c.defaulted, FilledDefault{path, value, from})
}

// Defaulted lists the fields defaults filled, in the order they were
// filled. A field changed since (a later --set, a wizard answer) is no
// longer a default and is left out.
func (c *Config) Defaulted() []FilledDefault {
	var out []FilledDefault
	for _, d := range c.defaulted {
		if v, ok := c.valueAt(d.Path); ok && v == d.Value {
			out = append(out, d)
		}
	}
	return out
}

// valueAt reads a scalar field by its dotted YAML path, as text.
func (c *Config) valueAt(path string) (string, bool) {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(path, ".") {
		f, ok := fieldByTag(v, part)
		if !ok {
			return "", false
		}
		v = f
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10), true
	}
	return "", false
}
