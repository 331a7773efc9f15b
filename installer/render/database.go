package render

import (
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Names the database objects agree on.
const (
	// postgresCluster is the CloudNativePG Cluster; its Services are
	// <name>-rw (primary), -ro and -r.
	postgresCluster = "postgres"
	// backupStore is the barman-cloud ObjectStore the cluster archives to.
	backupStore = "backups"
	// backupBucket holds the database backups in the embedded object store.
	backupBucket = "appliance-backups"
	// backupPrefix holds them inside the operator's bucket (external S3).
	backupPrefix = "appliance-backups"
	// barmanPlugin is the CNPG-I plugin name of plugin-barman-cloud.
	barmanPlugin = "barman-cloud.cloudnative-pg.io"
	// restoreCheck is the throwaway cluster and the CronJob that makes it.
	restoreCheck = "restore-check"
	// restoreCheckJob is the identity of the CronJob's pods (ServiceAccount, Role, RoleBinding):
	// never the throwaway cluster's name, whose ServiceAccount, Role and RoleBinding
	// CloudNativePG makes and owns.
	restoreCheckJob = "restore-check-job"
	// RestoreCheckResult is the ConfigMap (in the database namespace)
	// where each restore check records its outcome for doctor: keys
	// status (passed|failed), message, backup, backupStoppedAt, startedAt,
	// finishedAt and the restored row counts.
	RestoreCheckResult = "restore-check-result"
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

// backupTarget is where the cluster archives: the embedded store's
// backups bucket, or a prefix of the operator's bucket (its credentials
// are the only ones the appliance has there).
func backupTarget(cfg *config.Config) (destination, endpoint string) {
	if cfg.Storage.Mode == config.External {
		return fmt.Sprintf("s3://%s/%s/", cfg.Storage.Bucket, backupPrefix), s3Endpoint(cfg)
	}
	return fmt.Sprintf("s3://%s/", backupBucket), s3Endpoint(cfg)
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
	accessKey, secretKey := "backup.accessKeyID", "backup.secretAccessKey"
	if cfg.Storage.Mode == config.External {
		accessKey, secretKey = "storage.accessKeyID", "storage.secretAccessKey"
	}
	if err := r.secretFromStore(comp, nsDatabase, "backup-s3", map[string]string{
		"ACCESS_KEY_ID": accessKey, "ACCESS_SECRET_KEY": secretKey,
	}); err != nil {
		return nil, err
	}

	instances := p.Database.Instances
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
		"bootstrap": m{"initdb": m{
			"database": docsDatabase, "owner": docsDBUser, "secret": m{"name": "docs-db"},
			"dataChecksums": true,
		}},
		"managed": m{"roles": roles},
		"postgresql": m{"parameters": m{
			// Docs' web pods, Celery and Keycloak pool their connections.
			"max_connections": "200",
			// An idle appliance still archives a WAL segment every five
			// minutes: the recovery point stays recent.
			"archive_timeout": "5min",
		}},
		"plugins": list{m{
			"name": barmanPlugin, "isWALArchiver": true,
			"parameters": m{"barmanObjectName": backupStore},
		}},
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
			},
			"wal":  m{"compression": "gzip", "maxParallel": 2},
			"data": m{"compression": "gzip", "jobs": 2},
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

// restoreCheckScript recovers a throwaway cluster from the newest
// completed backup, checks the restored data the way Docs would read it,
// records the outcome in a ConfigMap doctor reads, and always removes the
// throwaway cluster. It never archives: the throwaway cluster has no
// WAL-archiving plugin, so the real backups are never written to.
const restoreCheckScript = `set -uo pipefail
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
backup=""; stopped=""; counts=()

record() {
  local status=$1 message=$2
  local args=(--from-literal=status="$status" --from-literal=message="$message"
    --from-literal=backup="$backup" --from-literal=backupStoppedAt="$stopped"
    --from-literal=startedAt="$started" --from-literal=finishedAt="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  for kv in "${counts[@]}"; do args+=(--from-literal="$kv"); done
  kubectl -n "$NAMESPACE" create configmap "$RESULT" "${args[@]}" --dry-run=client -o yaml \
    | kubectl apply --server-side --force-conflicts --field-manager=restore-check -f - >/dev/null
}
cleanup() {
  kubectl -n "$NAMESPACE" delete clusters.postgresql.cnpg.io "$NAME" --ignore-not-found --wait=true --timeout=10m >/dev/null || true
}
fail() { echo "restore check failed: $1" >&2; record failed "$1"; cleanup; exit 1; }
trap 'fail "interrupted"' TERM INT

# A leftover of an interrupted run would hide this run's result.
cleanup

latest=$(kubectl -n "$NAMESPACE" get backups.postgresql.cnpg.io -l "cnpg.io/cluster=$SOURCE" -o json \
  | jq -r '[.items[] | select(.status.phase == "completed")] | sort_by(.status.stoppedAt) | last | "\(.metadata.name) \(.status.stoppedAt)" // empty') \
  || fail "listing the backups of $SOURCE"
[ -n "$latest" ] && [ "$latest" != "null null" ] || fail "no completed backup of $SOURCE to restore"
read -r backup stopped <<<"$latest"
echo "recovering $NAME from backup $backup ($stopped)"

kubectl apply -f /restore-check/cluster.yaml >/dev/null || fail "creating the throwaway cluster"
kubectl -n "$NAMESPACE" wait "clusters.postgresql.cnpg.io/$NAME" --for=condition=Ready --timeout="$TIMEOUT" \
  || fail "the throwaway cluster did not recover from backup $backup within $TIMEOUT"
pod=$(kubectl -n "$NAMESPACE" get pods -l "cnpg.io/cluster=$NAME,cnpg.io/instanceRole=primary" -o jsonpath='{.items[0].metadata.name}')
[ -n "$pod" ] || fail "the throwaway cluster has no primary pod"

q() { kubectl -n "$NAMESPACE" exec "$pod" -c postgres -- psql -U postgres -d "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }

tables=$(q docs "select count(*) from information_schema.tables where table_schema = 'public'") || fail "reading the restored docs database"
counts+=("tables=$tables")
[ "$tables" -ge 10 ] || fail "the restored docs database has $tables tables: Docs' schema is missing"
migrations=$(q docs "select count(*) from django_migrations") || fail "reading django_migrations"
counts+=("migrations=$migrations")
[ "$migrations" -gt 0 ] || fail "no Django migration is recorded in the restored database"
users=$(q docs "select count(*) from impress_user") || fail "reading impress_user"
counts+=("users=$users")
# createsuperuser runs at install: a restored Docs always has a user.
[ "$users" -ge 1 ] || fail "the restored database has no user"
documents=$(q docs "select count(*) from impress_document") || fail "reading impress_document"
counts+=("documents=$documents")
if [ "$CHECK_KEYCLOAK" = "true" ]; then
  realms=$(q keycloak "select count(*) from realm where name = 'docs'") || fail "reading the restored keycloak database"
  [ "$realms" -eq 1 ] || fail "the restored keycloak database lacks the docs realm"
fi

record passed "recovered backup $backup and read $tables tables, $users users, $documents documents"
cleanup
echo "restore check passed"
`

// restoreCheckObjects: the CronJob, its rights (clusters in its namespace,
// exec into their pods, its result ConfigMap) and the throwaway cluster
// it creates.
func restoreCheckObjects(v *valuesContext, pg string) ([]Object, error) {
	cfg, p := v.Config, v.Profile
	kubectl, err := v.image("kubectl")
	if err != nil {
		return nil, err
	}
	throwaway := newObject("postgresql.cnpg.io/v1", "Cluster", nsDatabase, restoreCheck, "database").with("spec", m{
		"instances":             1,
		"imageName":             pg,
		"enableSuperuserAccess": false,
		"enablePDB":             false,
		"storage":               m{"size": p.Storage.Database},
		"resources":             resources(p, "restore-check"),
		"bootstrap":             m{"recovery": m{"source": "origin", "database": docsDatabase, "owner": docsDBUser}},
		"externalClusters": list{m{
			"name": "origin",
			"plugin": m{"name": barmanPlugin, "parameters": m{
				"barmanObjectName": backupStore, "serverName": postgresCluster,
			}},
		}},
	})
	clusterYAML, err := yaml.Marshal(map[string]any(throwaway))
	if err != nil {
		return nil, fmt.Errorf("encoding the restore-check cluster: %w", err)
	}
	const name = restoreCheck
	cm := configMap(nsDatabase, name, "database", map[string]string{
		"check.sh":     restoreCheckScript,
		"cluster.yaml": string(clusterYAML),
	})
	crud := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	rbac := []Object{
		serviceAccount(nsDatabase, restoreCheckJob, "database", true),
		role(nsDatabase, restoreCheckJob, "database",
			rule([]string{"postgresql.cnpg.io"}, []string{"clusters"}, crud),
			rule([]string{"postgresql.cnpg.io"}, []string{"backups"}, []string{"get", "list"}),
			rule([]string{""}, []string{"pods"}, []string{"get", "list"}),
			rule([]string{""}, []string{"pods/exec"}, []string{"create"}),
			m{"apiGroups": list{""}, "resources": list{"configmaps"}, "resourceNames": list{RestoreCheckResult}, "verbs": list{"get", "patch", "update"}},
			rule([]string{""}, []string{"configmaps"}, []string{"create"}),
		),
		roleBinding(nsDatabase, restoreCheckJob, "database", "Role", restoreCheckJob, nsDatabase, restoreCheckJob),
	}
	cron := newObject("batch/v1", "CronJob", nsDatabase, name, "database").with("spec", m{
		"schedule":                   cfg.Backup.RestoreCheckSchedule,
		"concurrencyPolicy":          "Forbid",
		"startingDeadlineSeconds":    3600,
		"successfulJobsHistoryLimit": 1,
		"failedJobsHistoryLimit":     1,
		"jobTemplate": m{"spec": m{
			// A failed check is a finding, not something to retry blindly.
			"backoffLimit":          0,
			"activeDeadlineSeconds": 3 * 3600,
			"template": m{
				"metadata": m{"labels": selectorFor(name)},
				"spec": m{
					"serviceAccountName":           restoreCheckJob,
					"automountServiceAccountToken": true,
					"restartPolicy":                "Never",
					"securityContext":              restrictedPod(65532),
					"containers": list{m{
						"name":            "check",
						"image":           kubectl,
						"imagePullPolicy": "IfNotPresent",
						"command":         list{"/bin/bash", "/restore-check/check.sh"},
						"env": env(map[string]any{
							"NAMESPACE": nsDatabase, "NAME": restoreCheck, "SOURCE": postgresCluster,
							"RESULT": RestoreCheckResult, "TIMEOUT": "90m", "HOME": "/tmp",
							"CHECK_KEYCLOAK": fmt.Sprint(cfg.Identity.Mode == config.Embedded),
						}),
						"resources":       resources(p, "job"),
						"securityContext": restrictedContainer(),
						"volumeMounts": list{
							m{"name": "script", "mountPath": "/restore-check", "readOnly": true},
							tmpMount(),
						},
					}},
					"volumes": list{
						m{"name": "script", "configMap": m{"name": name}},
						tmpVolume(),
					},
				},
			},
		}},
	})
	return append(append([]Object{cm}, rbac...), cron), nil
}
