package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Backup target defaults and names.
const (
	// EmbeddedBackupBucket is the embedded object store's bucket for backups,
	// on a volume of its own.
	EmbeddedBackupBucket = "appliance-backups"
	// SharedBucketPrefix is where backups go inside the storage bucket when
	// the backup target defaults to it (storage.mode external).
	SharedBucketPrefix = "appliance-backups/"
	// DefaultServerName is the live cluster's barman server name.
	DefaultServerName = "postgres"
	// EmbeddedObjectStoreURL is the embedded object store's in-cluster S3
	// endpoint (render's objectstore Service, port 7070).
	EmbeddedObjectStoreURL = "http://objectstore.object-store.svc.cluster.local:7070"

	// SecretBackupAccessKeyID and SecretBackupSecretAccessKey are the
	// backup target's credentials in the secret store.
	SecretBackupAccessKeyID     = "backup.accessKeyID"
	SecretBackupSecretAccessKey = "backup.secretAccessKey"
)

// EmbeddedBackupWarning is the warning an embedded backup target earns.
const EmbeddedBackupWarning = "backup.mode embedded keeps the backups on this server, on their own volume: a lost or broken disk loses them with the data, and the same disk is not a backup: set backup.mode external (an S3 bucket off this server)"

// BackupLocation is where backups go: s3://Bucket/Prefix at Endpoint.
type BackupLocation struct {
	// Embedded is the embedded object store's backups bucket; Endpoint is
	// then its in-cluster URL.
	Embedded                         bool
	Endpoint, Region, Bucket, Prefix string
}

// URL is the root of everything backed up: s3://bucket/prefix.
func (l BackupLocation) URL() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// DatabasePath is barman-cloud's destinationPath, s3://bucket/prefix/database/:
// the archive of every server name lives under it.
func (l BackupLocation) DatabasePath() string { return l.URL() + "database/" }

// BackupLocation is where this config's backups go (after ApplyDefaults).
func (c *Config) BackupLocation() BackupLocation {
	b := c.Backup
	if b.Mode == Embedded {
		return BackupLocation{Embedded: true, Endpoint: EmbeddedObjectStoreURL, Region: c.Storage.Region, Bucket: b.Bucket, Prefix: b.Prefix}
	}
	return BackupLocation{Endpoint: strings.TrimSuffix(b.Endpoint, "/"), Region: b.Region, Bucket: b.Bucket, Prefix: b.Prefix}
}

// BackupSharesStorageBucket reports whether the external backup target is
// the external storage's own bucket: its credentials then default to the
// storage's.
func (c *Config) BackupSharesStorageBucket() bool {
	return c.Backup.Mode == External && c.Storage.Mode == External &&
		c.Backup.Bucket == c.Storage.Bucket && sameEndpoint(c.Backup.Endpoint, c.Storage.Endpoint)
}

func sameEndpoint(a, b string) bool {
	ua, errA := url.Parse(strings.TrimSuffix(a, "/"))
	ub, errB := url.Parse(strings.TrimSuffix(b, "/"))
	if errA != nil || errB != nil {
		return a == b
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) && ua.Path == ub.Path
}

// Warnings are findings about the config that do not block an install.
func (c *Config) Warnings() []string {
	var w []string
	if c.Backup.Mode == Embedded {
		w = append(w, EmbeddedBackupWarning)
	}
	return w
}

// defaultBackup fills the backup target: embedded with embedded storage;
// with external storage and no target given, the storage's bucket under
// appliance-backups/ (what older configs did).
func (c *Config) defaultBackup(def func(path string, p *string, v, from string)) {
	b := &c.Backup
	mode := Embedded
	if c.Storage.Mode == External {
		mode = External
	}
	def("backup.mode", &b.Mode, mode, "storage.mode")
	switch b.Mode {
	case Embedded:
		def("backup.bucket", &b.Bucket, EmbeddedBackupBucket, BuiltIn)
	case External:
		if c.Storage.Mode == External && b.Endpoint == "" && b.Bucket == "" {
			def("backup.endpoint", &b.Endpoint, c.Storage.Endpoint, "storage.endpoint")
			def("backup.bucket", &b.Bucket, c.Storage.Bucket, "storage.bucket")
			def("backup.region", &b.Region, c.Storage.Region, "storage.region")
		}
		if c.BackupSharesStorageBucket() {
			// Never the media bucket's root: Docs' objects and the backups would mix.
			def("backup.prefix", &b.Prefix, SharedBucketPrefix, "backup.bucket is storage.bucket")
		}
		def("backup.region", &b.Region, "us-east-1", BuiltIn)
	}
	def("backup.serverName", &b.ServerName, DefaultServerName, BuiltIn)
}

var (
	prefixRe     = regexp.MustCompile(`^[A-Za-z0-9!_.*'()/-]*$`)
	serverNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)
)

// BucketNameProblem says why name is not an S3 bucket name, or "".
func BucketNameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case !bucketRe.MatchString(name):
		return fmt.Sprintf("%q is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit)", name)
	case strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-."):
		return fmt.Sprintf("%q has a dot next to a dot or a hyphen, which S3 refuses", name)
	case net.ParseIP(name) != nil:
		return fmt.Sprintf("%q is formatted as an IP address, which S3 refuses", name)
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-"):
		return fmt.Sprintf("%q starts with a prefix S3 reserves (xn--, sthree-)", name)
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3"):
		return fmt.Sprintf("%q ends with a suffix S3 reserves (-s3alias, --ol-s3)", name)
	}
	return ""
}

// PrefixProblem says why p is not a backup prefix, or "".
func PrefixProblem(p string) string {
	switch {
	case p == "":
		return ""
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q starts with /; S3 keys do not, and s3://bucket//... is another place", p)
	case !strings.HasSuffix(p, "/"):
		return fmt.Sprintf("%q does not end with /", p)
	case len(p) > 512:
		return fmt.Sprintf("the prefix is %d characters long; keep it under 512 (S3 keys stop at 1024)", len(p))
	case !prefixRe.MatchString(p):
		return fmt.Sprintf("%q has characters S3 keys do not carry safely (use letters, digits and ! - _ . * ' ( ) /)", p)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Sprintf("%q has an empty, . or .. segment", p)
		}
	}
	return ""
}

// ServerNameProblem says why name is not a barman server name, or "".
func ServerNameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case name == "all" || name == "barman":
		return fmt.Sprintf("%q is a word barman reserves", name)
	case !serverNameRe.MatchString(name) || strings.Contains(name, ".."):
		return fmt.Sprintf("%q is not a server name (1 to 63 lower-case letters, digits, dots, hyphens and underscores, starting and ending with a letter or digit)", name)
	}
	return ""
}

// validateBackup checks the backup target.
func (c *Config) validateBackup(add func(path, problem, fix string)) {
	b := c.Backup
	switch b.Mode {
	case External:
		if err := httpsURL(b.Endpoint); err != nil {
			add("backup.endpoint", err.Error(), "give the backup target's S3 endpoint as https://host[:port], without the bucket")
		} else if u, _ := url.Parse(b.Endpoint); u.User != nil {
			add("backup.endpoint", "holds credentials", "remove them from the URL; give the keys with --secret backup.accessKeyID=FILE and --secret backup.secretAccessKey=FILE")
		}
		if !regionRe.MatchString(b.Region) {
			add("backup.region", fmt.Sprintf("%q is not a region name", b.Region), `e.g. "us-east-1" or your provider's region`)
		}
	case Embedded:
		if c.Storage.Mode != Embedded {
			add("backup.mode", "embedded needs storage.mode embedded: the embedded object store runs only with it",
				"set backup.mode external (leave backup.endpoint and backup.bucket empty to use the storage bucket under "+SharedBucketPrefix+")")
		}
		if b.Endpoint != "" {
			add("backup.endpoint", "set while backup.mode is embedded (the embedded store's endpoint is its own)", "remove backup.endpoint, or set backup.mode external")
		}
		if b.Region != "" {
			add("backup.region", "set while backup.mode is embedded (the embedded store uses storage.region)", "remove backup.region, or set backup.mode external")
		}
		if b.Bucket == c.Storage.Bucket {
			add("backup.bucket", fmt.Sprintf("%q is the media bucket", b.Bucket), "leave backup.bucket empty ("+EmbeddedBackupBucket+"): backups need a bucket of their own")
		}
	default:
		add("backup.mode", fmt.Sprintf("%q is not a backup mode", b.Mode), "use external (recommended: off this server) or embedded")
	}
	if p := BucketNameProblem(b.Bucket); p != "" {
		add("backup.bucket", p, "name the bucket the backups go to, e.g. docs-backups")
	}
	if p := PrefixProblem(b.Prefix); p != "" {
		add("backup.prefix", p, `use "" (the bucket's root) or a path like "appliance/" (no leading /, a trailing /)`)
	}
	if c.BackupSharesStorageBucket() && b.Prefix == "" {
		add("backup.prefix", "empty while backup.bucket is the media bucket: backups and Docs' files would mix", `set a prefix such as "`+SharedBucketPrefix+`"`)
	}
	if p := ServerNameProblem(b.ServerName); p != "" {
		add("backup.serverName", p, "use "+DefaultServerName+", or another DNS-label-like name for a recovered cluster")
	}
	c.validateRecovery(add)
}

// backupSecrets are the backup target's keys: generated for the embedded
// store's backup account; the operator's for an external target, taken
// from the storage's keys while the target is the storage's bucket and the
// operator gives none.
func (c *Config) backupSecrets(gen, given func(name, what string) SecretSpec, instead func(SecretSpec, string, string) SecretSpec) []SecretSpec {
	if c.Backup.Mode != External {
		return []SecretSpec{
			gen(SecretBackupAccessKeyID, "the embedded object store's database backup account"),
			gen(SecretBackupSecretAccessKey, "the embedded object store's database backup account"),
		}
	}
	where := "the backup target s3://" + c.Backup.Bucket + " at " + c.Backup.Endpoint
	id := instead(given(SecretBackupAccessKeyID, where), "the embedded object store's backup account",
		"backup.mode external needs the access key ID of "+where)
	key := instead(given(SecretBackupSecretAccessKey, where), "the embedded object store's backup account",
		"backup.mode external needs the secret access key of "+where)
	if c.BackupSharesStorageBucket() {
		id.From, key.From = "storage.accessKeyID", "storage.secretAccessKey"
	}
	return []SecretSpec{id, key}
}
