package render

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/reset"
)

func objectAt(t *testing.T, files map[string]File, path string) map[string]any {
	t.Helper()
	f, ok := files[path]
	if !ok {
		t.Fatalf("no %s rendered", path)
	}
	var o map[string]any
	if err := yaml.Unmarshal(f.Content, &o); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return o
}

// at reads a path of a decoded object, nil where it is absent.
func at(o map[string]any, keys ...string) any {
	var v any = o
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// TestBackupTargetRendered: the archive goes to s3://<bucket>/<prefix>database/
// at the target's endpoint with the backup.* keys and the target's region,
// under the configured server name; an external target of its own leaves
// the embedded store without a backups volume, and the buckets Job proves
// the backup keys write under the prefix.
func TestBackupTargetRendered(t *testing.T) {
	const (
		store   = "infrastructure/database/objectstore-backups.yaml"
		cluster = "infrastructure/database/cluster-postgres.yaml"
		sts     = "infrastructure/object-store/statefulset-objectstore.yaml"
		secret  = "environments/production/secrets/database/backup-s3.yaml"
	)
	cases := []struct {
		name                    string
		sets                    []string
		dest, endpoint, region  string
		serverName              string
		backupVolume            string // the embedded store's backups claim size, "" for none
		checkBucket, checkPrefx string
	}{
		{"embedded", nil, "s3://appliance-backups/database/", config.EmbeddedObjectStoreURL, "us-east-1", "postgres", "60Gi", "appliance-backups", ""},
		{"external target of its own", []string{"backup.mode=external", "backup.endpoint=https://backup.example.net", "backup.region=eu-central-1",
			"backup.bucket=docs-backups", "backup.prefix=site-a/", "backup.serverName=postgres-r1"},
			"s3://docs-backups/site-a/database/", "https://backup.example.net", "eu-central-1", "postgres-r1", "", "docs-backups", "site-a/"},
		{"external storage, default target", []string{"storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.region=eu-west-3", "storage.bucket=acme-docs"},
			"s3://acme-docs/appliance-backups/database/", "https://s3.example.org", "eu-west-3", "postgres", "", "acme-docs", "appliance-backups/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "single-small", tc.sets...)
			files := fileMap(f.render(t))
			obj := objectAt(t, files, store)
			if got := at(obj, "spec", "configuration", "destinationPath"); got != tc.dest {
				t.Errorf("destinationPath %v, want %s", got, tc.dest)
			}
			if got := at(obj, "spec", "configuration", "endpointURL"); got != tc.endpoint {
				t.Errorf("endpointURL %v, want %s", got, tc.endpoint)
			}
			if got := at(obj, "spec", "configuration", "s3Credentials", "region", "key"); got != "REGION" {
				t.Errorf("region from %v", got)
			}
			sec := decodedValues(t, files[secret].Content)
			if sec["ACCESS_KEY_ID"] != f.opts.Secrets.(fixedSecrets)[config.SecretBackupAccessKeyID] ||
				sec["ACCESS_SECRET_KEY"] != f.opts.Secrets.(fixedSecrets)[config.SecretBackupSecretAccessKey] || sec["REGION"] != tc.region {
				t.Errorf("backup-s3 holds %v, want the backup.* keys and region %s", sec, tc.region)
			}
			plugins, _ := at(objectAt(t, files, cluster), "spec", "plugins").([]any)
			if len(plugins) != 1 || at(plugins[0].(map[string]any), "parameters", "serverName") != tc.serverName {
				t.Errorf("cluster plugins %v, want serverName %s", plugins, tc.serverName)
			}

			_, hasStore := files[sts]
			if hasStore {
				claims, _ := at(objectAt(t, files, sts), "spec", "volumeClaimTemplates").([]any)
				var backups string
				for _, c := range claims {
					if at(c.(map[string]any), "metadata", "name") == backupVolume {
						backups, _ = at(c.(map[string]any), "spec", "resources", "requests", "storage").(string)
					}
				}
				if backups != tc.backupVolume {
					t.Errorf("backups volume %q, want %q", backups, tc.backupVolume)
				}
				c := renderedContainer(t, files[sts].Content, false, "versitygw")
				mounted := strings.Contains(string(mustYAML(t, c["volumeMounts"])), "mountPath: /data/buckets/appliance-backups")
				if mounted != (tc.backupVolume != "") {
					t.Errorf("backups bucket folder mounted %v, want %v", mounted, tc.backupVolume != "")
				}
			} else if tc.backupVolume != "" {
				t.Fatal("no embedded object store for an embedded backup target")
			}

			var job string
			for p, fl := range files {
				if strings.HasSuffix(p, "/job-buckets.yaml") && strings.HasPrefix(p, "infrastructure/") {
					job = string(fl.Content)
				}
			}
			for _, w := range []string{"- " + tc.checkBucket + "\n        - --prefix\n        - " + quoteEmpty(tc.checkPrefx), "value: " + tc.endpoint} {
				if !strings.Contains(job, w) {
					t.Errorf("the buckets Job lacks %q:\n%s", w, job)
				}
			}
			if tc.backupVolume == "" && strings.Contains(job, "name: BACKUP_BUCKET") {
				t.Error("the embedded store gets a backups bucket although backups go elsewhere")
			}
		})
	}
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// TestEmbeddedBackupEndpointIsTheObjectStoreService: config's in-cluster
// URL of the embedded store (BackupLocation, which backup and restore use)
// is the one render serves it at.
func TestEmbeddedBackupEndpointIsTheObjectStoreService(t *testing.T) {
	f := newFixture(t, "single-small")
	if got, want := f.opts.Config.BackupLocation().Endpoint, s3Endpoint(f.opts.Config); got != want {
		t.Fatalf("config.EmbeddedObjectStoreURL %s, the object store Service is at %s", got, want)
	}
}

// TestResetKnowsTheBackupsVolume: reset keeps the folder k3s's local-path
// provisioner makes for this claim (pvc-<uid>_<namespace>_<claim>).
func TestResetKnowsTheBackupsVolume(t *testing.T) {
	if !reset.IsBackupVolume("pvc-0b7e6f1c-6a2d-4c55-9d0e-1f2a3b4c5d6e_" + ObjectStoreNamespace + "_" + BackupVolumeClaim) {
		t.Fatalf("reset does not recognise the folder of claim %s/%s", ObjectStoreNamespace, BackupVolumeClaim)
	}
}

// TestRecoveredDatabaseRendered: after `restore --from` (backup.recovery),
// the Cluster is created from the archive it names, to recovery.targetTime
// when given, while it archives under its own serverName; without it, the
// Cluster starts empty. The upstream-schema test covers the shape.
func TestRecoveredDatabaseRendered(t *testing.T) {
	const cluster = "infrastructure/database/cluster-postgres.yaml"
	f := newFixture(t, "single-small", "backup.serverName=postgres-r1", "backup.recovery.serverName=postgres",
		"backup.recovery.targetTime=2026-12-02T03:15:00Z")
	obj := objectAt(t, fileMap(f.render(t)), cluster)
	rec, _ := at(obj, "spec", "bootstrap", "recovery").(map[string]any)
	if rec == nil || at(obj, "spec", "bootstrap", "initdb") != nil {
		t.Fatalf("bootstrap %v, want recovery only", at(obj, "spec", "bootstrap"))
	}
	if rec["source"] != recoveryOrigin || at(rec, "recoveryTarget", "targetTime") != "2026-12-02T03:15:00Z" || rec["owner"] != docsDBUser {
		t.Errorf("recovery %v", rec)
	}
	ext, _ := at(obj, "spec", "externalClusters").([]any)
	if len(ext) != 1 || at(ext[0].(map[string]any), "name") != rec["source"] ||
		at(ext[0].(map[string]any), "plugin", "parameters", "serverName") != "postgres" {
		t.Errorf("externalClusters %v, want the origin archive postgres", ext)
	}
	plugins, _ := at(obj, "spec", "plugins").([]any)
	if len(plugins) != 1 || at(plugins[0].(map[string]any), "parameters", "serverName") != "postgres-r1" {
		t.Errorf("the recovered cluster archives under %v, want postgres-r1", plugins)
	}

	fresh := objectAt(t, fileMap(newFixture(t, "single-small").render(t)), cluster)
	if at(fresh, "spec", "bootstrap", "initdb") == nil || at(fresh, "spec", "externalClusters") != nil {
		t.Errorf("a fresh appliance's cluster is not created empty: %v", at(fresh, "spec"))
	}
}
