package render

import (
	_ "embed"
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// The embedded object store is Versity's versitygw serving a POSIX folder
// on the node's disk. Docs needs S3 versioning (document history lists
// object versions): Garage does not implement it, MinIO's community
// edition is archived (no fixes, no images), SeaweedFS' S3 versioning is
// partial and it needs a master, volume and filer. versitygw is one static
// binary, Apache-2.0, implements bucket versioning, SigV4 and multipart,
// keeps plain files on disk (a backup is a folder copy) and has per-user
// accounts, so Docs and the database backups get separate keys.
const (
	objectStoreName = "objectstore"
	objectStorePort = 7070
	// objectStoreUID runs versitygw unprivileged; the volume is group-owned by it.
	objectStoreUID = 10001
)

// ObjectStoreNamespace is where the embedded object store runs.
const ObjectStoreNamespace = nsObjectStore

// BackupVolumeClaim is the PersistentVolumeClaim of the embedded object
// store's backups volume, in ObjectStoreNamespace; k3s's local-path
// provisioner keeps it in the folder pvc-<uid>_<namespace>_<claim> of the
// volumes folder (reset keeps it).
const BackupVolumeClaim = backupVolume + "-" + objectStoreName + "-0"

// backupVolume is the StatefulSet's claim template for the backups bucket.
const backupVolume = "backups"

func volumeClaim(name, app, size string) m {
	return m{
		"metadata": m{"name": name, "labels": labelsFor("object-store", app)},
		"spec": m{
			"accessModes": list{"ReadWriteOnce"},
			"resources":   m{"requests": m{"storage": size}},
		},
	}
}

// objectStoreComponent runs versitygw (operators layer: the platform's
// buckets and backups need it up first). Internal accounts live in an IAM
// folder on the same volume; the root account only administers.
func (r *renderer) objectStoreComponent(v *valuesContext) (*component, error) {
	p := v.Profile
	img, err := v.image("versity/versitygw")
	if err != nil {
		return nil, err
	}
	if err := r.secretFromStore("object-store", nsObjectStore, "objectstore-root", map[string]string{
		"ROOT_ACCESS_KEY_ID": "objectstore.rootAccessKey", "ROOT_SECRET_ACCESS_KEY": "objectstore.rootSecretKey",
	}); err != nil {
		return nil, err
	}
	const name = objectStoreName
	w := p.Workload("object-store")
	mounts := list{m{"name": "data", "mountPath": "/data"}, tmpMount()}
	claims := list{volumeClaim("data", name, p.Storage.Objects)}
	if loc := v.Config.BackupLocation(); loc.Embedded {
		// The backups bucket's folder is a volume of its own: filling or
		// losing the media volume is not losing the backups (and a reset
		// keeps this volume unless told to delete backups).
		mounts = append(mounts, m{"name": backupVolume, "mountPath": "/data/buckets/" + loc.Bucket})
		claims = append(claims, volumeClaim(backupVolume, name, p.Storage.Backups))
	}
	probe := func(failures int) m {
		return m{"httpGet": m{"path": "/health", "port": "s3"}, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": failures}
	}
	sts := newObject("apps/v1", "StatefulSet", nsObjectStore, name, "object-store").with("spec", m{
		// One writer: the data is a folder on one node's disk.
		"replicas":    1,
		"serviceName": name,
		"selector":    m{"matchLabels": selectorFor(name)},
		// Keep the data when the StatefulSet goes away or shrinks.
		"persistentVolumeClaimRetentionPolicy": m{"whenDeleted": "Retain", "whenScaled": "Retain"},
		"template": m{
			"metadata": m{"labels": labelsFor("object-store", name)},
			"spec": m{
				"automountServiceAccountToken": false,
				"securityContext":              restrictedPod(objectStoreUID),
				"initContainers": list{m{
					"name":            "layout",
					"image":           img,
					"imagePullPolicy": "IfNotPresent",
					"command":         list{"/bin/sh", "-c", "mkdir -p /data/buckets /data/versions /data/iam"},
					"resources":       w.Resources(),
					"securityContext": restrictedContainer(),
					"volumeMounts":    list{m{"name": "data", "mountPath": "/data"}},
				}},
				"containers": list{m{
					"name":            "versitygw",
					"image":           img,
					"imagePullPolicy": "IfNotPresent",
					"args": list{
						"--port", fmt.Sprintf(":%d", objectStorePort),
						"--iam-dir", "/data/iam",
						// Accounts live in a local file, cheap to read: without
						// the cache a key the buckets Job sets works as the Job
						// ends, not up to two minutes later.
						"--iam-cache-disable",
						"--health", "/health",
						"--region", v.Config.Storage.Region,
						"--quiet",
						// Bucket versioning needs a folder for old versions.
						"posix", "--versioning-dir", "/data/versions", "/data/buckets",
					},
					"env": env(map[string]any{
						"ROOT_ACCESS_KEY_ID":     fromSecret("objectstore-root", "ROOT_ACCESS_KEY_ID"),
						"ROOT_SECRET_ACCESS_KEY": fromSecret("objectstore-root", "ROOT_SECRET_ACCESS_KEY"),
					}),
					"ports":           list{m{"name": "s3", "containerPort": objectStorePort, "protocol": "TCP"}},
					"startupProbe":    probe(30),
					"livenessProbe":   probe(3),
					"readinessProbe":  probe(3),
					"resources":       w.Resources(),
					"securityContext": restrictedContainer(),
					"volumeMounts":    mounts,
				}},
				"volumes": list{tmpVolume()},
			},
		},
		"volumeClaimTemplates": claims,
	})
	// Claim templates are immutable: the backups volume coming or going
	// (an older appliance, a change of backup.mode) needs the StatefulSet
	// recreated; its volumes are retained (whenDeleted: Retain) and reattached.
	sts.Annotations()["kustomize.toolkit.fluxcd.io/force"] = "enabled"
	return &component{
		Component: Component{Name: "object-store", Layer: "operators", Namespace: nsObjectStore},
		dir:       "infrastructure/object-store",
		objects:   []Object{sts, service(nsObjectStore, name, "object-store", port("s3", objectStorePort))},
	}, nil
}

// The buckets Job's scripts, kept as files so they are read, linted and
// run as what they are.
var (
	//go:embed scripts/accounts.sh
	accountsScript string
	//go:embed scripts/bucket.py
	bucketScript string
)

// bucketsComponent prepares storage for Docs and the backups (platform
// layer): with the embedded store, the accounts, the buckets and
// versioning; with the operator's S3, a check that the bucket answers to
// Docs' credentials with versioning on; and a write, read and delete in
// the backup target with the backup keys. Either way a Job Flux waits for,
// so a bad store stops the rollout before Docs starts on it.
func (r *renderer) bucketsComponent(v *valuesContext) (*component, error) {
	cfg, p := v.Config, v.Profile
	backendImg, err := v.image("lasuite/impress-backend")
	if err != nil {
		return nil, err
	}
	const name = "buckets"
	loc := cfg.BackupLocation()
	s3env := func(endpoint, region, secret, accessKey, secretKey string) map[string]any {
		return map[string]any{
			"S3_ENDPOINT_URL":      endpoint,
			"S3_REGION":            region,
			"S3_ACCESS_KEY_ID":     fromSecret(secret, accessKey),
			"S3_SECRET_ACCESS_KEY": fromSecret(secret, secretKey),
			// The same boto3 checksum settings as Docs (docs #1189).
			"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
			"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
			"HOME":                             "/tmp",
		}
	}
	python := func(cname string, args []string, vars map[string]any) m {
		cmd := list{"python", "/scripts/bucket.py"}
		for _, a := range args {
			cmd = append(cmd, a)
		}
		return m{
			"name":            cname,
			"image":           backendImg,
			"imagePullPolicy": "IfNotPresent",
			"command":         cmd,
			"env":             env(vars),
			"resources":       resources(p, "job"),
			"securityContext": restrictedContainer(),
			"volumeMounts":    list{m{"name": "scripts", "mountPath": "/scripts", "readOnly": true}, tmpMount()},
		}
	}
	ns, part := docsNamespace, name
	if cfg.Storage.Mode == config.Embedded {
		ns, part = nsObjectStore, "object-store"
	}
	// The backup keys, whatever the target: the embedded store's backup
	// account, or the operator's keys of the external target.
	if err := r.secretFromStore(part, ns, "backup-s3", map[string]string{
		"ACCESS_KEY_ID": config.SecretBackupAccessKeyID, "SECRET_ACCESS_KEY": config.SecretBackupSecretAccessKey,
	}); err != nil {
		return nil, err
	}
	backups := python("backups-bucket", []string{"--bucket", loc.Bucket, "--prefix", loc.Prefix},
		s3env(loc.Endpoint, loc.Region, "backup-s3", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))
	var init, main list
	scripts := map[string]string{"bucket.py": bucketScript}
	if cfg.Storage.Mode == config.Embedded {
		if err := r.secretFromStore("object-store", ns, "docs-s3", map[string]string{
			"ACCESS_KEY_ID": "storage.accessKeyID", "SECRET_ACCESS_KEY": "storage.secretAccessKey",
		}); err != nil {
			return nil, err
		}
		vgw, err := v.image("versity/versitygw")
		if err != nil {
			return nil, err
		}
		scripts["accounts.sh"] = accountsScript
		vars := map[string]any{
			"ENDPOINT":               s3Endpoint(cfg),
			"ROOT_ACCESS_KEY_ID":     fromSecret("objectstore-root", "ROOT_ACCESS_KEY_ID"),
			"ROOT_SECRET_ACCESS_KEY": fromSecret("objectstore-root", "ROOT_SECRET_ACCESS_KEY"),
			"DOCS_ACCESS_KEY_ID":     fromSecret("docs-s3", "ACCESS_KEY_ID"),
			"DOCS_SECRET_ACCESS_KEY": fromSecret("docs-s3", "SECRET_ACCESS_KEY"),
			"MEDIA_BUCKET":           cfg.Storage.Bucket,
		}
		if loc.Embedded {
			vars["BACKUP_ACCESS_KEY_ID"] = fromSecret("backup-s3", "ACCESS_KEY_ID")
			vars["BACKUP_SECRET_ACCESS_KEY"] = fromSecret("backup-s3", "SECRET_ACCESS_KEY")
			vars["BACKUP_BUCKET"] = loc.Bucket
		}
		init = list{
			m{
				"name":            "accounts",
				"image":           vgw,
				"imagePullPolicy": "IfNotPresent",
				"command":         list{"/bin/sh", "/scripts/accounts.sh"},
				"env":             env(vars),
				"resources":       resources(p, "job"),
				"securityContext": restrictedContainer(),
				"volumeMounts":    list{m{"name": "scripts", "mountPath": "/scripts", "readOnly": true}},
			},
			backups,
		}
		main = list{python("media-bucket", []string{"--bucket", cfg.Storage.Bucket, "--versioning"},
			s3env(s3Endpoint(cfg), cfg.Storage.Region, "docs-s3", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))}
	} else {
		// The operator's S3: Docs' credentials are in the docs-backend Secret.
		init = list{backups}
		main = list{python("media-bucket", []string{"--bucket", cfg.Storage.Bucket, "--versioning"},
			s3env(s3Endpoint(cfg), cfg.Storage.Region, docsSecret, "AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY"))}
	}
	// Rotating a key in the secret store must rerun the Job (it pushes the
	// keys into versitygw): fingerprint them. A truncated SHA-256 of
	// 190-bit random values reveals nothing.
	var creds string
	for _, n := range []string{"storage.accessKeyID", "storage.secretAccessKey", config.SecretBackupAccessKeyID, config.SecretBackupSecretAccessKey} {
		if val, ok := r.opts.Secrets.Get(n); ok {
			creds += n + "=" + val + "\n"
		}
	}
	cm := configMap(ns, name, "object-store", scripts)
	pod := m{
		"automountServiceAccountToken": false,
		"restartPolicy":                "OnFailure",
		"securityContext":              restrictedPod(objectStoreUID),
		"initContainers":               init,
		"containers":                   main,
		"volumes": list{
			m{"name": "scripts", "configMap": m{"name": name}},
			tmpVolume(),
		},
	}
	job := newObject("batch/v1", "Job", ns, name, "object-store").with("spec", m{
		"backoffLimit": 6,
		"template": m{
			"metadata": m{
				"labels": selectorFor(name),
				// The Job is replaced (and rerun) when its scripts change.
				"annotations": m{
					"docs-appliance/scripts-hash":     shortHash(accountsScript + bucketScript),
					"docs-appliance/credentials-hash": shortHash(creds),
				},
			},
			"spec": pod,
		},
	})
	return &component{
		Component: Component{Name: name, Layer: "platform", Namespace: ns},
		dir:       "infrastructure/" + name,
		objects:   []Object{cm, job},
		health:    []ref{refOf(job)},
	}, nil
}
