package wizard

import (
	"context"
	"errors"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// askBackup asks where backups go, after storage: an external S3 target
// (recommended; the storage's bucket under appliance-backups/ when storage
// is external, with its keys), or the embedded store's backups bucket on a
// volume of its own (embedded storage only, with the warning that the
// same disk is not a backup). An external target is probed live.
func (w *Wizard) askBackup(ctx context.Context, c *config.Config) error {
	mode := c.Backup.Mode
	if c.Storage.Mode == config.External {
		// The embedded store runs only with embedded storage.
		mode = config.External
		w.say("Backups go to S3, off this server: the storage's bucket under " + config.SharedBucketPrefix + " unless you name another target.")
	} else {
		desc := map[string]string{
			config.External: "recommended: an S3 bucket off this server, which survives losing it",
			config.Embedded: "a bucket of the embedded object store on its own volume: still this server's disk",
		}
		if err := w.selectOne(&mode, "Where do backups go?", []string{config.External, config.Embedded}, mode, desc,
			"Backups hold the database, the documents' files, the desired state and the appliance's saved state. On the same disk as the data they are lost with it."); err != nil {
			return err
		}
	}
	if mode != c.Backup.Mode {
		// A target of the other mode is no default for this one.
		c.Backup.Mode = mode
		c.Backup.Endpoint, c.Backup.Region, c.Backup.Bucket, c.Backup.Prefix = "", "", "", ""
		c.ApplyDefaults()
	}
	if mode == config.Embedded {
		c.Backup.Endpoint, c.Backup.Region = "", ""
		if c.Backup.Bucket == "" {
			c.Backup.Bucket = config.EmbeddedBackupBucket
		}
		w.warn(config.EmbeddedBackupWarning)
		return nil
	}
	if c.Backup.Endpoint == "" {
		c.Backup.Endpoint, c.Backup.Region = c.Storage.Endpoint, c.Storage.Region
	}
	if c.Backup.Bucket == "" && c.Storage.Mode == config.External {
		c.Backup.Bucket = c.Storage.Bucket
	}
	for {
		if err := w.input(&c.Backup.Endpoint, "Backup S3 endpoint URL", c.Backup.Endpoint, "https://host[:port] of the S3 API that keeps the backups, without the bucket.", httpsURL); err != nil {
			return err
		}
		if c.Backup.Region == "" {
			c.Backup.Region = "us-east-1"
		}
		if err := w.input(&c.Backup.Region, "Backup region", c.Backup.Region, "The bucket's region; us-east-1 when the store has none.", nonEmpty); err != nil {
			return err
		}
		if err := w.input(&c.Backup.Bucket, "Backup bucket", c.Backup.Bucket, "An existing bucket: the appliance never creates it. Versioning is not needed.", problem(config.BucketNameProblem)); err != nil {
			return err
		}
		prefix := c.Backup.Prefix
		if prefix == "" && c.BackupSharesStorageBucket() {
			prefix = config.SharedBucketPrefix
		}
		if err := w.input(&c.Backup.Prefix, "Prefix inside the bucket (empty: its root)", prefix, `Everything goes under it, e.g. "appliance/": no leading /, a trailing /.`, problem(config.PrefixProblem)); err != nil {
			return err
		}
		if err := fieldProblems(c, "backup."); err != nil {
			w.fail(err)
			continue
		}
		keyID, key, err := w.backupKeys(c)
		if err != nil {
			return err
		}
		loc := c.BackupLocation()
		w.say("Checking the backup target...")
		rep, err := w.Checks.Backup(ctx, loc, keyID, key)
		if err != nil {
			w.fail(err)
			continue
		}
		w.ok("backup target %s at %s: write/read/delete round trip passed, clock skew %s", loc.URL(), loc.Endpoint, rep.ClockSkew)
		for _, warn := range rep.Warnings {
			w.warn(warn)
		}
		return nil
	}
}

// backupKeys are the storage's keys for its own bucket (the store copies
// them into backup.*; nothing is asked), the operator's for another target.
func (w *Wizard) backupKeys(c *config.Config) (keyID, key string, err error) {
	if c.BackupSharesStorageBucket() {
		if _, own := w.lookup(config.SecretBackupSecretAccessKey); !own {
			id, _ := w.lookup("storage.accessKeyID")
			k, _ := w.lookup("storage.secretAccessKey")
			w.say("The backups use the storage's keys (give others later with --secret backup.accessKeyID=FILE and --secret backup.secretAccessKey=FILE).")
			return id, k, nil
		}
	}
	if keyID, err = w.secretVisible(config.SecretBackupAccessKeyID, "Backup access key ID", "The access key of an account that may list, read, write and delete under the prefix."); err != nil {
		return "", "", err
	}
	if key, err = w.secret(config.SecretBackupSecretAccessKey, "Backup secret access key", "The access key's secret."); err != nil {
		return "", "", err
	}
	return keyID, key, nil
}

// problem turns a config check that says what is wrong into a validator.
func problem(check func(string) string) func(string) error {
	return func(s string) error {
		if p := check(s); p != "" {
			return errors.New(p)
		}
		return nil
	}
}
