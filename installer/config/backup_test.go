package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// resolved is the example config with sets applied and defaults filled.
func resolved(t *testing.T, sets ...string) *Config {
	t.Helper()
	c, err := Load("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(sets); err != nil {
		t.Fatal(err)
	}
	return c
}

var externalStorageSets = []string{"storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.region=eu-west-3", "storage.bucket=docs-media"}

func TestBackupTargetDefaults(t *testing.T) {
	t.Run("embedded storage: the embedded store's backups bucket, with the warning", func(t *testing.T) {
		c := resolved(t)
		got := c.BackupLocation()
		want := BackupLocation{Embedded: true, Endpoint: EmbeddedObjectStoreURL, Region: c.Storage.Region, Bucket: EmbeddedBackupBucket}
		if got != want {
			t.Errorf("location %+v, want %+v", got, want)
		}
		if got.DatabasePath() != "s3://appliance-backups/database/" {
			t.Errorf("database path %s", got.DatabasePath())
		}
		if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "the same disk is not a backup: set backup.mode external") {
			t.Errorf("warnings %q", w)
		}
		if c.Backup.ServerName != "postgres" {
			t.Errorf("serverName %q", c.Backup.ServerName)
		}
	})
	t.Run("external storage and no target: its bucket under appliance-backups/, its keys", func(t *testing.T) {
		c := resolved(t, externalStorageSets...)
		want := BackupLocation{Endpoint: "https://s3.example.org", Region: "eu-west-3", Bucket: "docs-media", Prefix: "appliance-backups/"}
		if got := c.BackupLocation(); got != want {
			t.Errorf("location %+v, want %+v", got, want)
		}
		if got := c.BackupLocation().DatabasePath(); got != "s3://docs-media/appliance-backups/database/" {
			t.Errorf("database path %s (older configs archived under s3://BUCKET/appliance-backups/)", got)
		}
		if len(c.Warnings()) != 0 {
			t.Errorf("warnings %q for an external target", c.Warnings())
		}
		froms := map[string]string{}
		for _, s := range c.RequiredSecrets() {
			if strings.HasPrefix(s.Name, "backup.") {
				froms[s.Name] = s.From
				if s.Generated {
					t.Errorf("%s is generated for an external target", s.Name)
				}
			}
		}
		if froms[SecretBackupAccessKeyID] != "storage.accessKeyID" || froms[SecretBackupSecretAccessKey] != "storage.secretAccessKey" {
			t.Errorf("backup keys come from %v, want the storage's", froms)
		}
		// The storage's keys alone satisfy the config.
		given := func(n string) SecretOrigin {
			if strings.HasPrefix(n, "storage.") {
				return SecretGiven
			}
			return SecretMissing
		}
		if err := c.Validate(catalog(t), given); err != nil {
			t.Errorf("with the storage's keys given: %v", err)
		}
		var paths []string
		for _, d := range c.Defaulted() {
			paths = append(paths, d.Path+"="+d.Value+" ("+d.From+")")
		}
		if !strings.Contains(strings.Join(paths, " "), "backup.prefix=appliance-backups/ (backup.bucket is storage.bucket)") {
			t.Errorf("the plan does not show the defaulted prefix: %v", paths)
		}
	})
	t.Run("an external target of its own needs its own keys", func(t *testing.T) {
		c := resolved(t, "backup.mode=external", "backup.endpoint=https://backup.example.net/", "backup.bucket=docs-backups")
		want := BackupLocation{Endpoint: "https://backup.example.net", Region: "us-east-1", Bucket: "docs-backups"}
		if got := c.BackupLocation(); got != want {
			t.Errorf("location %+v, want %+v", got, want)
		}
		err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretGenerated })
		for _, p := range []string{"secrets.backup.accessKeyID: generated for the embedded object store's backup account, but backup.mode external needs the access key ID of the backup target s3://docs-backups",
			"secrets.backup.secretAccessKey"} {
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("error lacks %q: %v", p, err)
			}
		}
	})
	t.Run("the storage's bucket given explicitly still gets a prefix", func(t *testing.T) {
		c := resolved(t, append(externalStorageSets, "backup.endpoint=https://s3.example.org/", "backup.bucket=docs-media")...)
		if c.Backup.Prefix != SharedBucketPrefix || !c.BackupSharesStorageBucket() {
			t.Errorf("prefix %q, shares %v", c.Backup.Prefix, c.BackupSharesStorageBucket())
		}
	})
}

func TestBackupTargetValidation(t *testing.T) {
	ext := func(sets ...string) []string {
		return append([]string{"backup.mode=external", "backup.endpoint=https://backup.example.net", "backup.bucket=docs-backups"}, sets...)
	}
	cases := []struct {
		name  string
		sets  []string
		paths []string
	}{
		{"mode", []string{"backup.mode=tape"}, []string{`backup.mode: "tape" is not a backup mode`}},
		{"external without endpoint", []string{"backup.mode=external", "backup.bucket=docs-backups"}, []string{`backup.endpoint: "" is not a URL`}},
		{"endpoint http", ext("backup.endpoint=http://backup.example.net"), []string{`backup.endpoint: "http://backup.example.net" does not use https`}},
		{"endpoint not a URL", ext("backup.endpoint=backup.example.net"), []string{`backup.endpoint: "backup.example.net" is not a URL`}},
		{"endpoint with credentials", ext("backup.endpoint=https://key:secret@backup.example.net"), []string{"backup.endpoint: holds credentials"}},
		{"bucket upper case", ext("backup.bucket=Docs_Backups"), []string{`backup.bucket: "Docs_Backups" is not an S3 bucket name`}},
		{"bucket too short", ext("backup.bucket=ab"), []string{`backup.bucket: "ab" is not an S3 bucket name`}},
		{"bucket ip", ext("backup.bucket=192.168.1.10"), []string{"formatted as an IP address"}},
		{"bucket dot hyphen", ext("backup.bucket=docs.-backups"), []string{"a dot next to a dot or a hyphen"}},
		{"bucket reserved prefix", ext("backup.bucket=xn--docs"), []string{"reserves"}},
		{"external without bucket", []string{"backup.mode=external", "backup.endpoint=https://backup.example.net"}, []string{"backup.bucket: empty"}},
		{"region", ext("backup.region=EU West"), []string{`backup.region: "EU West" is not a region name`}},
		{"prefix leading slash", ext("backup.prefix=/appliance/"), []string{`backup.prefix: "/appliance/" starts with /`}},
		{"prefix without trailing slash", ext("backup.prefix=appliance"), []string{`backup.prefix: "appliance" does not end with /`}},
		{"prefix empty segment", ext("backup.prefix=a//b/"), []string{"an empty, . or .. segment"}},
		{"prefix dot-dot", ext("backup.prefix=a/../"), []string{"an empty, . or .. segment"}},
		{"prefix odd characters", ext("backup.prefix=my backups/"), []string{"characters S3 keys do not carry safely"}},
		{"server name upper case", []string{"backup.serverName=Postgres"}, []string{`backup.serverName: "Postgres" is not a server name`}},
		{"server name path", []string{"backup.serverName=../postgres"}, []string{"backup.serverName"}},
		{"server name reserved", []string{"backup.serverName=all"}, []string{"barman reserves"}},
		{"embedded with external storage", append(externalStorageSets, "backup.mode=embedded"), []string{"backup.mode: embedded needs storage.mode embedded", "set backup.mode external"}},
		{"embedded with an endpoint", []string{"backup.endpoint=https://backup.example.net"}, []string{"backup.endpoint: set while backup.mode is embedded"}},
		{"recovery from the archive it writes", []string{"backup.recovery.serverName=postgres"}, []string{`backup.recovery.serverName: "postgres" is also backup.serverName`, "set backup.serverName to a new name"}},
		{"recovery server name", []string{"backup.serverName=postgres-r1", "backup.recovery.serverName=Old Cluster"}, []string{`backup.recovery.serverName: "Old Cluster" is not a server name`}},
		{"recovery target time", []string{"backup.serverName=postgres-r1", "backup.recovery.serverName=postgres", "backup.recovery.targetTime=yesterday"}, []string{`backup.recovery.targetTime: "yesterday" is not an RFC 3339 time`}},
		{"embedded in the media bucket", []string{"backup.bucket=docs-media-storage"}, []string{`backup.bucket: "docs-media-storage" is the media bucket`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := resolved(t, tc.sets...)
			err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretGiven })
			var ve *bundles.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error lacks %q:\n%v", p, err)
				}
			}
			for _, f := range ve.Fields {
				if f.Fix == "" {
					t.Errorf("field %s has no fix", f.Path)
				}
				if !strings.HasPrefix(f.Path, "backup.") {
					t.Errorf("a bad backup target blames %s: %s", f.Path, f.Problem)
				}
			}
		})
	}
	// And good ones pass.
	for _, sets := range [][]string{
		ext(),
		ext("backup.prefix=site-a/appliance/", "backup.region=eu-central-1", "backup.serverName=postgres-recovered-20261202"),
		append(externalStorageSets, "backup.prefix=backups/"),
		ext("backup.serverName=postgres-r1", "backup.recovery.serverName=postgres", "backup.recovery.targetTime=2026-12-02T03:15:00Z"),
	} {
		c := resolved(t, sets...)
		if err := c.Validate(catalog(t), func(string) SecretOrigin { return SecretGiven }); err != nil {
			t.Errorf("%v refused: %v", sets, err)
		}
	}
}
