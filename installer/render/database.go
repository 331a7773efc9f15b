package render

import (
	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Names the database objects agree on.
const (
	// postgresCluster is the CloudNativePG Cluster; its Services are
	// <name>-rw (primary), -ro and -r.
	postgresCluster = "postgres"
	// backupStore is the barman-cloud ObjectStore the cluster archives to.
	backupStore = "backups"
	// backupBucket is the embedded object store's default backups bucket.
	backupBucket = config.EmbeddedBackupBucket
	// barmanPlugin is the CNPG-I plugin name of plugin-barman-cloud.
	barmanPlugin = "barman-cloud.cloudnative-pg.io"
)

// DatabaseNamespace is where the PostgreSQL cluster, its backups and the
// restore check live.
const DatabaseNamespace = nsDatabase

// cloudnativePGValues: CRDs from the chart, image pinned, the default
// PostgreSQL image of the train (clusters name theirs explicitly anyway).
func cloudnativePGValues(v *valuesContext) (map[string]any, error) {
	repo, tag, err := v.imageParts("cloudnative-pg/cloudnative-pg")
	if err != nil {
		return nil, err
	}
	pg, err := v.image("cloudnative-pg/postgresql")
	if err != nil {
		return nil, err
	}
	op := v.Profile.Workload("operator")
	return map[string]any{
		"replicaCount": op.Replicas,
		"image":        m{"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
		"crds":         m{"create": true},
		"resources":    op.Resources(),
		"config": m{
			"create":      true,
			"clusterWide": true,
			"data":        m{"POSTGRES_IMAGE_NAME": pg},
		},
		// The appliance's PodMonitor covers the clusters; the operator's
		// own metrics are scraped when monitoring runs.
		"monitoring": m{"podMonitorEnabled": v.observability()},
	}, nil
}

// barmanCloudValues: the plugin and the sidecar it injects into every
// PostgreSQL pod, both pinned.
func barmanCloudValues(v *valuesContext) (map[string]any, error) {
	plugin, err := v.pinnedTagValues("cloudnative-pg/plugin-barman-cloud")
	if err != nil {
		return nil, err
	}
	sidecar, err := v.pinnedTagValues("cloudnative-pg/plugin-barman-cloud-sidecar")
	if err != nil {
		return nil, err
	}
	op := v.Profile.Workload("operator")
	plugin["pullPolicy"] = "IfNotPresent"
	return map[string]any{
		"replicaCount": 1,
		"image":        plugin,
		"sidecarImage": sidecar,
		"resources":    op.Resources(),
	}, nil
}

// pinnedTagValues is {registry, repository, tag} with the digest folded
// into the tag (v1@sha256:...), for charts that build
// registry/repository:tag and have no digest key.
func (v *valuesContext) pinnedTagValues(repo string) (m, error) {
	full, tag, err := v.imageParts(repo)
	if err != nil {
		return nil, err
	}
	registry, rest := splitRegistry(full)
	return m{"registry": registry, "repository": rest, "tag": tag}, nil
}

func splitRegistry(repo string) (registry, rest string) {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i], repo[i+1:]
		}
	}
	return "", repo
}

// backupTarget is where the cluster archives: barman-cloud's
// destinationPath s3://<bucket>/<prefix>database/ at the backup target's
// endpoint (the layout every backup part shares, see config.BackupLocation).
func backupTarget(cfg *config.Config) (destination, endpoint string) {
	loc := cfg.BackupLocation()
	return loc.DatabasePath(), loc.Endpoint
}

// databaseComponent is PostgreSQL for Docs and the embedded Keycloak: one
// CloudNativePG cluster sized by the profile, each application's role
// owning its database (Docs' migrations create extensions), WAL archiving
// and a daily base backup to S3, and the daily restore check.
func (r *renderer) databaseComponent(v *valuesContext) (*component, error) {
	cfg, p := v.Config, v.Profile
	pg, err := v.image("cloudnative-pg/postgresql")
	if err != nil {
		return nil, err
	}
	const comp = "database"
	embeddedIdentity := cfg.Identity.Mode == config.Embedded
	// CloudNativePG reads a role's password from a basic-auth Secret whose
	// username matches the role.
	if err := r.secretOf(comp, nsDatabase, "docs-db", "kubernetes.io/basic-auth",
		map[string]string{"username": docsDBUser}, map[string]string{"password": "postgres.docsPassword"}); err != nil {
		return nil, err
	}
	roles := list{managedRole(docsDBUser, "docs-db")}
	if embeddedIdentity {
		if err := r.secretOf(comp, nsDatabase, "keycloak-db", "kubernetes.io/basic-auth",
			map[string]string{"username": "keycloak"}, map[string]string{"password": "postgres.keycloakPassword"}); err != nil {
			return nil, err
		}
		roles = append(roles, managedRole("keycloak", "keycloak-db"))
	}
	// Always the backup.* keys: the store copies the storage's into them
	// while the target is the storage's bucket (config.SecretSpec.From).
	// barman-cloud signs for the target's region (AWS refuses another).
	if err := r.secretOf(comp, nsDatabase, "backup-s3", "", map[string]string{"REGION": cfg.BackupLocation().Region}, map[string]string{
		"ACCESS_KEY_ID": config.SecretBackupAccessKeyID, "ACCESS_SECRET_KEY": config.SecretBackupSecretAccessKey,
	}); err != nil {
		return nil, err
	}

	instances := p.Database.Instances
	bootstrap, external := databaseBootstrap(cfg)
	spec := m{
		"instances":             instances,
		"imageName":             pg,
		"primaryUpdateStrategy": "unsupervised",
		// Superuser access only through `kubectl exec` (peer auth), never the network.
		"enableSuperuserAccess": false,
		// A PDB over a lone instance would block every node drain.
		"enablePDB": instances > 1,
		"storage":   m{"size": p.Storage.Database},
		"resources": resources(p, "postgres"),
		"bootstrap": bootstrap,
		"managed":   m{"roles": roles},
		"postgresql": m{"parameters": m{
			// Docs' web pods, Celery and Keycloak pool their connections.
			"max_connections": "200",
			// An idle appliance still archives a WAL segment every five
			// minutes: the recovery point stays recent.
			"archive_timeout": "5min",
		}},
		"plugins": list{m{
			"name": barmanPlugin, "isWALArchiver": true,
			"parameters": m{"barmanObjectName": backupStore, "serverName": cfg.Backup.ServerName},
		}},
	}
	if external != nil {
		spec["externalClusters"] = external
	}
	if instances > 1 {
		spec["affinity"] = m{"enablePodAntiAffinity": true, "topologyKey": "kubernetes.io/hostname", "podAntiAffinityType": "required"}
	}
	cluster := newObject("postgresql.cnpg.io/v1", "Cluster", nsDatabase, postgresCluster, comp).with("spec", spec)

	databases := []Object{database("docs", docsDatabase, docsDBUser,
		// Docs' migrations create these; having them already means the
		// migration never needs rights beyond its own database.
		"pg_trgm", "unaccent", "fuzzystrmatch")}
	if embeddedIdentity {
		databases = append(databases, database("keycloak", "keycloak", "keycloak"))
	}

	dest, endpoint := backupTarget(cfg)
	store := newObject("barmancloud.cnpg.io/v1", "ObjectStore", nsDatabase, backupStore, comp).with("spec", m{
		"retentionPolicy": cfg.Backup.Retention,
		"configuration": m{
			"destinationPath": dest,
			"endpointURL":     endpoint,
			"s3Credentials": m{
				"accessKeyId":     m{"name": "backup-s3", "key": "ACCESS_KEY_ID"},
				"secretAccessKey": m{"name": "backup-s3", "key": "ACCESS_SECRET_KEY"},
				"region":          m{"name": "backup-s3", "key": "REGION"},
			},
			"wal": m{"compression": "gzip", "maxParallel": 2},
			// A backup starts at once instead of at the next spread checkpoint
			// (up to checkpoint_timeout, 5 min): measured 5 min → 1.5 min.
			"data": m{"compression": "gzip", "jobs": 2, "immediateCheckpoint": true},
		},
		"instanceSidecarConfiguration": m{"resources": resources(p, "job")},
	})
	scheduled := newObject("postgresql.cnpg.io/v1", "ScheduledBackup", nsDatabase, postgresCluster+"-daily", comp).with("spec", m{
		"schedule": cfg.Backup.Schedule,
		"cluster":  m{"name": postgresCluster},
		"method":   "plugin",
		// One backup right away: the first restore check has one to use.
		"immediate":            true,
		"backupOwnerReference": "self",
		"pluginConfiguration":  m{"name": barmanPlugin},
	})
	check, err := restoreCheckObjects(v, pg)
	if err != nil {
		return nil, err
	}
	objs := append([]Object{cluster, store, scheduled}, databases...)
	objs = append(objs, check...)
	health := []ref{refOf(cluster)}
	for _, d := range databases {
		health = append(health, refOf(d))
	}
	return &component{
		Component: Component{Name: comp, Layer: "platform", Namespace: nsDatabase},
		dir:       "infrastructure/" + comp,
		objects:   objs,
		health:    health,
	}, nil
}

func managedRole(name, secret string) m {
	return m{"name": name, "ensure": "present", "login": true, "passwordSecret": m{"name": secret}}
}

// database declares one database and its owner; retained when the object
// goes (a config change must never drop data).
func database(object, name, owner string, extensions ...string) Object {
	spec := m{
		"name": name, "owner": owner, "cluster": m{"name": postgresCluster},
		"ensure": "present", "databaseReclaimPolicy": "retain",
	}
	if len(extensions) > 0 {
		ext := make(list, len(extensions))
		for i, e := range extensions {
			ext[i] = m{"name": e, "ensure": "present"}
		}
		spec["extensions"] = ext
	}
	return newObject("postgresql.cnpg.io/v1", "Database", nsDatabase, object, "database").with("spec", spec)
}
