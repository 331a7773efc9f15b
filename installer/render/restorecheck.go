package render

import (
	"embed"
	"encoding/json"
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

const (
	// restoreCheck is the CronJob, its ServiceAccount, Role and scripts.
	restoreCheck = "restore-check"
	// RestoreCheckCluster is the throwaway Cluster the check recovers. Not
	// restoreCheck: CloudNativePG makes a ServiceAccount, Role and
	// RoleBinding named after each Cluster, and would take over the
	// CronJob's (and delete them with the throwaway cluster).
	RestoreCheckCluster = "restore-check-throwaway"
	// RestoreCheckCronJob is the CronJob (in DatabaseNamespace) running the
	// daily restore check; `restore-check now` runs a Job from its template.
	RestoreCheckCronJob = restoreCheck
	// RestoreCheckResult is the ConfigMap (in DatabaseNamespace) where each
	// restore check records its outcome; its keys are documented on
	// installer/restorecheck.Result.
	RestoreCheckResult = "restore-check-result"
)

// RestoreCheckScripts are the restore check's files, mounted from its
// ConfigMap at /restore-check: restore-check.sh drives the recovery
// through kubectl, checks.sh holds the database checks (psql only, so they
// run against any PostgreSQL), the .jq files pick the backup and read a
// failed recovery's logs.
//
//go:embed scripts/restore-check.sh scripts/checks.sh scripts/*.jq
var RestoreCheckScripts embed.FS

// restoreCheckFiles are the scripts by file name.
func restoreCheckFiles() (map[string]string, error) {
	entries, err := RestoreCheckScripts.ReadDir("scripts")
	if err != nil {
		return nil, fmt.Errorf("reading the restore-check scripts: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := RestoreCheckScripts.ReadFile("scripts/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading the restore-check scripts: %w", err)
		}
		out[e.Name()] = string(b)
	}
	return out, nil
}

// restoreCheckObjects: the CronJob, its rights (clusters and backups in
// its namespace, exec into and logs of their pods, its result ConfigMap)
// and the throwaway cluster it creates, as JSON the script pins to the
// chosen backup (recoveryTarget.backupID) with jq.
func restoreCheckObjects(v *valuesContext, pg string) ([]Object, error) {
	cfg, p := v.Config, v.Profile
	kubectl, err := v.image("kubectl")
	if err != nil {
		return nil, err
	}
	// No spec.plugins: every enabled plugin with the WAL capability
	// archives, and the throwaway cluster must write into no archive. The
	// serverName below is the live cluster's archive (backup.serverName), read only.
	throwaway := newObject("postgresql.cnpg.io/v1", "Cluster", nsDatabase, RestoreCheckCluster, "database").with("spec", m{
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
				"barmanObjectName": backupStore, "serverName": cfg.Backup.ServerName,
			}},
		}},
	})
	clusterJSON, err := json.MarshalIndent(map[string]any(throwaway), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the restore-check cluster: %w", err)
	}
	files, err := restoreCheckFiles()
	if err != nil {
		return nil, err
	}
	files["cluster.json"] = string(clusterJSON)
	const name = restoreCheck
	cm := configMap(nsDatabase, name, "database", files)
	crud := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	rbac := []Object{
		serviceAccount(nsDatabase, name, "database", true),
		role(nsDatabase, name, "database",
			rule([]string{"postgresql.cnpg.io"}, []string{"clusters"}, crud),
			rule([]string{"postgresql.cnpg.io"}, []string{"backups"}, []string{"get", "list"}),
			rule([]string{""}, []string{"pods", "pods/log"}, []string{"get", "list"}),
			// kubectl 1.31+ opens exec over a WebSocket: a GET.
			rule([]string{""}, []string{"pods/exec"}, []string{"get", "create"}),
			m{"apiGroups": list{""}, "resources": list{"configmaps"}, "resourceNames": list{RestoreCheckResult}, "verbs": list{"get", "patch", "update"}},
			rule([]string{""}, []string{"configmaps"}, []string{"create"}),
		),
		roleBinding(nsDatabase, name, "database", "Role", name, nsDatabase, name),
	}
	const recoveryTimeout = 90 * 60
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
					"serviceAccountName":           name,
					"automountServiceAccountToken": true,
					"restartPolicy":                "Never",
					"securityContext":              restrictedPod(65532),
					"containers": list{m{
						"name":            "check",
						"image":           kubectl,
						"imagePullPolicy": "IfNotPresent",
						"command":         list{"/bin/bash", "/restore-check/restore-check.sh"},
						"env": env(map[string]any{
							"NAMESPACE": nsDatabase, "NAME": RestoreCheckCluster, "SOURCE": postgresCluster,
							"RESULT": RestoreCheckResult, "RECOVERY_TIMEOUT": fmt.Sprint(recoveryTimeout),
							"HOME": "/tmp", "SCRIPTS": "/restore-check",
							"CHECK_KEYCLOAK": fmt.Sprint(cfg.Identity.Mode == config.Embedded),
							"REALM":          realmName,
							// The result names the Job it came from, so a
							// caller waiting for one run knows its result.
							"JOB_NAME": m{"fieldRef": m{"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}},
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
