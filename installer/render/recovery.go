package render

import "github.com/suitenumerique/docs-appliance/installer/config"

// recoveryOrigin names the archive a recovered cluster reads from, in its
// externalClusters.
const recoveryOrigin = "origin"

// databaseBootstrap is how CloudNativePG creates the cluster: empty
// (initdb), or, after `restore --from`, recovered from the archive the
// backed-up cluster wrote (backup.recovery), to its newest point or to
// recovery.targetTime. CloudNativePG reads it only at creation, so keeping
// it in the desired state afterwards changes nothing on a running cluster.
// The recovered cluster archives under backup.serverName, never the name it
// recovered from (config validation refuses that: cnpg #6470).
func databaseBootstrap(cfg *config.Config) (bootstrap m, external list) {
	r := cfg.Backup.Recovery
	if r == nil {
		return m{"initdb": m{
			"database": docsDatabase, "owner": docsDBUser, "secret": m{"name": "docs-db"},
			"dataChecksums": true,
		}}, nil
	}
	rec := m{
		"source": recoveryOrigin,
		// The application role gets the password of the secret store, which
		// the restored state folder holds: the same one it had.
		"database": docsDatabase, "owner": docsDBUser, "secret": m{"name": "docs-db"},
	}
	if r.TargetTime != "" {
		rec["recoveryTarget"] = m{"targetTime": r.TargetTime}
	}
	return m{"recovery": rec}, list{m{
		"name": recoveryOrigin,
		"plugin": m{"name": barmanPlugin, "parameters": m{
			"barmanObjectName": backupStore, "serverName": r.ServerName,
		}},
	}}
}
