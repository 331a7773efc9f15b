package render

import (
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
					"volumeMounts":    list{m{"name": "data", "mountPath": "/data"}, tmpMount()},
				}},
				"volumes": list{tmpVolume()},
			},
		},
		"volumeClaimTemplates": list{m{
			"metadata": m{"name": "data", "labels": labelsFor("object-store", name)},
			"spec": m{
				"accessModes": list{"ReadWriteOnce"},
				"resources":   m{"requests": m{"storage": p.Storage.Objects}},
			},
		}},
	})
	return &component{
		Component: Component{Name: "object-store", Layer: "operators", Namespace: nsObjectStore},
		dir:       "infrastructure/object-store",
		objects:   []Object{sts, service(nsObjectStore, name, "object-store", port("s3", objectStorePort))},
	}, nil
}

// accountsScript makes the Docs and backup accounts and their buckets in
// versitygw with the admin API (idempotent: an existing account gets its
// secret updated, an existing bucket its owner set), as the root account.
const accountsScript = `set -eu
admin() {
  versitygw admin --access "$ROOT_ACCESS_KEY_ID" --secret "$ROOT_SECRET_ACCESS_KEY" \
    --endpoint-url "$ENDPOINT" "$@"
}
tries=0
until admin list-users >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "the object store does not answer at $ENDPOINT" >&2; exit 1; }
  sleep 5
done
ensure_user() {
  if admin list-users | awk 'NR > 2 {print $1}' | grep -qxF "$1"; then
    admin update-user --access "$1" --secret "$2" --role user
  else
    admin create-user --access "$1" --secret "$2" --role user
  fi
}
ensure_bucket() {
  if admin list-buckets | awk 'NR > 2 {print $1}' | grep -qxF "$1"; then
    admin change-bucket-owner --bucket "$1" --owner "$2"
  else
    admin create-bucket --bucket "$1" --owner "$2"
  fi
}
ensure_user "$DOCS_ACCESS_KEY_ID" "$DOCS_SECRET_ACCESS_KEY"
ensure_user "$BACKUP_ACCESS_KEY_ID" "$BACKUP_SECRET_ACCESS_KEY"
ensure_bucket "$MEDIA_BUCKET" "$DOCS_ACCESS_KEY_ID"
ensure_bucket "$BACKUP_BUCKET" "$BACKUP_ACCESS_KEY_ID"
echo "accounts and buckets ready"
`

// bucketScript checks a bucket with boto3, as Docs will use it, and with
// --versioning turns versioning on and proves it is on and that versions
// can be listed (document history calls list_object_versions). It runs in
// Docs' backend image, which carries boto3: no other image to ship.
const bucketScript = `import argparse, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

parser = argparse.ArgumentParser()
parser.add_argument("--bucket", required=True)
parser.add_argument("--versioning", action="store_true")
args = parser.parse_args()

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT_URL"],
    region_name=os.environ["S3_REGION"],
    aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 10, "mode": "standard"}),
)

def fail(message):
    print(f"bucket {args.bucket}: {message}", file=sys.stderr)
    sys.exit(1)

try:
    s3.head_bucket(Bucket=args.bucket)
except ClientError as e:
    fail(f"cannot be reached with these credentials: {e}")

if args.versioning:
    status = s3.get_bucket_versioning(Bucket=args.bucket).get("Status")
    if status != "Enabled":
        try:
            s3.put_bucket_versioning(Bucket=args.bucket, VersioningConfiguration={"Status": "Enabled"})
        except ClientError as e:
            fail(f"versioning is {status or 'off'} and cannot be turned on ({e}); Docs needs it: enable it on the bucket")
        status = s3.get_bucket_versioning(Bucket=args.bucket).get("Status")
    if status != "Enabled":
        fail(f"versioning is {status or 'off'} after enabling it; Docs needs a store that supports versioning")
    try:
        s3.list_object_versions(Bucket=args.bucket, MaxKeys=1)
    except ClientError as e:
        fail(f"object versions cannot be listed ({e}); Docs' document history needs it")
    print(f"bucket {args.bucket}: reachable, versioning enabled")
else:
    print(f"bucket {args.bucket}: reachable")
`

// bucketsComponent prepares storage for Docs and the backups (platform
// layer): with the embedded store, the accounts, the buckets and
// versioning; with the operator's S3, a check that the bucket answers to
// Docs' credentials with versioning on. Either way a Job Flux waits for,
// so a bad store stops the rollout before Docs starts on it.
func (r *renderer) bucketsComponent(v *valuesContext) (*component, error) {
	cfg, p := v.Config, v.Profile
	backendImg, err := v.image("lasuite/impress-backend")
	if err != nil {
		return nil, err
	}
	const name = "buckets"
	s3env := func(secret, accessKey, secretKey string) map[string]any {
		return map[string]any{
			"S3_ENDPOINT_URL":      s3Endpoint(cfg),
			"S3_REGION":            cfg.Storage.Region,
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
	var ns string
	var init, main list
	scripts := map[string]string{"bucket.py": bucketScript}
	if cfg.Storage.Mode == config.Embedded {
		ns = nsObjectStore
		if err := r.secretFromStore("object-store", ns, "docs-s3", map[string]string{
			"ACCESS_KEY_ID": "storage.accessKeyID", "SECRET_ACCESS_KEY": "storage.secretAccessKey",
		}); err != nil {
			return nil, err
		}
		if err := r.secretFromStore("object-store", ns, "backup-s3", map[string]string{
			"ACCESS_KEY_ID": "backup.accessKeyID", "SECRET_ACCESS_KEY": "backup.secretAccessKey",
		}); err != nil {
			return nil, err
		}
		vgw, err := v.image("versity/versitygw")
		if err != nil {
			return nil, err
		}
		scripts["accounts.sh"] = accountsScript
		init = list{
			m{
				"name":            "accounts",
				"image":           vgw,
				"imagePullPolicy": "IfNotPresent",
				"command":         list{"/bin/sh", "/scripts/accounts.sh"},
				"env": env(map[string]any{
					"ENDPOINT":                 s3Endpoint(cfg),
					"ROOT_ACCESS_KEY_ID":       fromSecret("objectstore-root", "ROOT_ACCESS_KEY_ID"),
					"ROOT_SECRET_ACCESS_KEY":   fromSecret("objectstore-root", "ROOT_SECRET_ACCESS_KEY"),
					"DOCS_ACCESS_KEY_ID":       fromSecret("docs-s3", "ACCESS_KEY_ID"),
					"DOCS_SECRET_ACCESS_KEY":   fromSecret("docs-s3", "SECRET_ACCESS_KEY"),
					"BACKUP_ACCESS_KEY_ID":     fromSecret("backup-s3", "ACCESS_KEY_ID"),
					"BACKUP_SECRET_ACCESS_KEY": fromSecret("backup-s3", "SECRET_ACCESS_KEY"),
					"MEDIA_BUCKET":             cfg.Storage.Bucket,
					"BACKUP_BUCKET":            backupBucket,
				}),
				"resources":       resources(p, "job"),
				"securityContext": restrictedContainer(),
				"volumeMounts":    list{m{"name": "scripts", "mountPath": "/scripts", "readOnly": true}},
			},
			python("backups-bucket", []string{"--bucket", backupBucket}, s3env("backup-s3", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY")),
		}
		main = list{python("media-bucket", []string{"--bucket", cfg.Storage.Bucket, "--versioning"}, s3env("docs-s3", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"))}
	} else {
		// The operator's S3: Docs' credentials are in the docs-backend Secret.
		ns = docsNamespace
		main = list{python("media-bucket", []string{"--bucket", cfg.Storage.Bucket, "--versioning"}, s3env(docsSecret, "AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY"))}
	}
	// Rotating a key in the secret store must rerun the Job (it pushes the
	// keys into versitygw): fingerprint them. A truncated SHA-256 of
	// 190-bit random values reveals nothing.
	var creds string
	for _, n := range []string{"storage.accessKeyID", "storage.secretAccessKey", "backup.accessKeyID", "backup.secretAccessKey"} {
		if val, ok := r.opts.Secrets.Get(n); ok {
			creds += n + "=" + val + "\n"
		}
	}
	cm := configMap(ns, name, "object-store", scripts)
	pod := m{
		"automountServiceAccountToken": false,
		"restartPolicy":                "OnFailure",
		"securityContext":              restrictedPod(objectStoreUID),
		"containers":                   main,
		"volumes": list{
			m{"name": "scripts", "configMap": m{"name": name}},
			tmpVolume(),
		},
	}
	if len(init) > 0 {
		pod["initContainers"] = init
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
