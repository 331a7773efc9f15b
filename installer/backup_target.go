package installer

import (
	"context"
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// backupLocation is where the config sends backups: the one place `backup` and `restore` read it.
func backupLocation(cfg *config.Config) backupLoc {
	l := cfg.BackupLocation()
	return backupLoc{Embedded: l.Embedded, Endpoint: l.Endpoint, Region: l.Region, Bucket: l.Bucket, Prefix: l.Prefix,
		AccessKey: config.SecretBackupAccessKeyID, SecretKey: config.SecretBackupSecretAccessKey, ServerName: cfg.Backup.ServerName}
}

// backupLoc is config.BackupLocation plus the names of the target's keys in the secret store.
type backupLoc struct {
	Embedded                         bool
	Endpoint, Region, Bucket, Prefix string
	AccessKey, SecretKey             string
	// ServerName is the folder the live cluster archives under; "" is "postgres".
	ServerName string
}

// backupEnds are the backup target and the media bucket as this host reaches them.
type backupEnds struct {
	Target, Media backup.Target
}

// backupEndpoints builds the target and the media bucket from the config and the secret store.
// The embedded store is reached through one port-forward living as long as life; without a
// cluster (a dry run) its in-cluster URL stands, for the plan only.
func backupEndpoints(ctx, life context.Context, c *cluster.Client, in *Inputs, ca []byte) (backupEnds, error) {
	cfg := in.Config
	loc := backupLocation(cfg)
	get := func(name string) string { v, _ := in.Store.Get(name); return v }
	var embedded string
	if loc.Embedded || cfg.Storage.Mode != config.External {
		ns, svc, port := render.ObjectStoreService()
		embedded = fmt.Sprintf("http://%s.%s.svc:%d", svc, ns, port)
		if c != nil {
			var err error
			if embedded, err = forwardObjectStore(ctx, life, c); err != nil {
				return backupEnds{}, fmt.Errorf("reaching the embedded object store: %w", err)
			}
		}
	}
	// An appliance installed before the store held the backup keys' copy (the target being the
	// storage's bucket) still reaches its target with the storage's keys.
	if get(loc.AccessKey) == "" && cfg.BackupSharesStorageBucket() {
		loc.AccessKey, loc.SecretKey = "storage.accessKeyID", "storage.secretAccessKey"
	}
	t := backup.Target{Endpoint: loc.Endpoint, Region: loc.Region, Bucket: loc.Bucket, Prefix: loc.Prefix,
		AccessKeyID: get(loc.AccessKey), SecretAccessKey: get(loc.SecretKey), CABundle: ca}
	if loc.Embedded {
		t.Endpoint, t.PlainHTTP = embedded, true
	}
	m := backup.Target{Endpoint: strings.TrimSuffix(cfg.Storage.Endpoint, "/"), Region: cfg.Storage.Region, Bucket: cfg.Storage.Bucket,
		AccessKeyID: get("storage.accessKeyID"), SecretAccessKey: get("storage.secretAccessKey"), CABundle: ca}
	if cfg.Storage.Mode != config.External {
		m.Endpoint, m.PlainHTTP = embedded, true
	}
	if err := t.Check(); err != nil {
		return backupEnds{}, fmt.Errorf("the backup target (keys %s and %s): %w", loc.AccessKey, loc.SecretKey, err)
	}
	if err := m.Check(); err != nil {
		return backupEnds{}, fmt.Errorf("the media bucket (keys storage.accessKeyID and storage.secretAccessKey): %w", err)
	}
	return backupEnds{Target: t, Media: m}, nil
}
