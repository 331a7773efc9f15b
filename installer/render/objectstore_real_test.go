package render

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// versitygwBinary finds the versitygw the probe tests run too (the train's
// object store release): $DOCS_APPLIANCE_VERSITYGW, or the kit cache.
func versitygwBinary(t *testing.T) string {
	t.Helper()
	return probetest.VersitygwPath(t)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// renderedContainer reads one container of a rendered workload.
func renderedContainer(t *testing.T, content []byte, init bool, name string) map[string]any {
	t.Helper()
	var o map[string]any
	if err := yaml.Unmarshal(content, &o); err != nil {
		t.Fatal(err)
	}
	spec := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	key := "containers"
	if init {
		key = "initContainers"
	}
	for _, c := range spec[key].([]any) {
		if cm := c.(map[string]any); cm["name"] == name {
			return cm
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

// objectStoreServer runs versitygw with the rendered StatefulSet's
// arguments, its /data folder moved to data.
func objectStoreServer(t *testing.T, files map[string]File, root, secret, data string) string {
	t.Helper()
	bin := versitygwBinary(t)
	for _, d := range []string{"buckets", "versions", "iam"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c := renderedContainer(t, files["infrastructure/object-store/statefulset-objectstore.yaml"].Content, false, "versitygw")
	// A volume mounted inside /data (the backups bucket's own) is an empty
	// folder there before versitygw starts, as kubelet makes it.
	for _, vm := range c["volumeMounts"].([]any) {
		mp := vm.(map[string]any)["mountPath"].(string)
		if strings.HasPrefix(mp, "/data/") {
			if err := os.MkdirAll(filepath.Join(data, strings.TrimPrefix(mp, "/data/")), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	port := freePort(t)
	var args []string
	for _, a := range c["args"].([]any) {
		s := strings.ReplaceAll(a.(string), "/data", data)
		if s == fmt.Sprintf(":%d", objectStorePort) {
			s = fmt.Sprintf("127.0.0.1:%d", port)
		}
		args = append(args, s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+root, "ROOT_SECRET_ACCESS_KEY="+secret)
	logf := filepath.Join(t.TempDir(), "versitygw.log")
	lf, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		lf.Close()
	})
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The rendered probes' path.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logf)
			t.Fatalf("versitygw did not answer on /health: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func needPython(t *testing.T) {
	t.Helper()
	python := kit.Program(t, "python3", "apt-get install python3 python3-boto3")
	// Exit 3: boto3 is not installed; any other failure is python's, and fails the test.
	find := "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('boto3') else 3)"
	out, err := exec.Command(python, "-c", find).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		kit.Unavailable(t, "boto3 (what Docs' image carries)", "apt-get install python3-boto3")
	}
	if err != nil {
		t.Fatalf("looking for boto3: %v\n%s", err, out)
	}
}

func runScript(t *testing.T, env map[string]string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestObjectStoreRealServer runs the embedded object store as rendered
// (versitygw with its arguments), then the buckets Job's scripts against
// it: accounts and bucket owners through the admin API, versioning
// through boto3 as Docs uses it. It proves the store keeps object
// versions, that each account only reaches its own bucket, and that the
// scripts are idempotent and apply a rotated key.
func TestObjectStoreRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a real object store")
	}
	needPython(t)
	f := newFixture(t, "single-small")
	files := fileMap(f.render(t))
	store := f.opts.Secrets.(fixedSecrets)
	root, rootSecret := "ROOTACCESSKEY0000001", store["objectstore.rootSecretKey"]
	data := t.TempDir()
	endpoint := objectStoreServer(t, files, root, rootSecret, data)
	vgwDir := filepath.Dir(versitygwBinary(t))

	scripts := t.TempDir()
	for n, body := range map[string]string{"accounts.sh": accountsScript, "bucket.py": bucketScript} {
		if err := os.WriteFile(filepath.Join(scripts, n), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	docsKey, docsSecret := "DOCSACCESSKEY0000001", store["storage.secretAccessKey"]
	backupKey, backupSecret := "BACKUPACCESSKEY00001", store["backup.secretAccessKey"]
	accounts := func(docsSecret string) map[string]string {
		return map[string]string{
			"PATH":               vgwDir + string(os.PathListSeparator) + os.Getenv("PATH"),
			"ENDPOINT":           endpoint,
			"ROOT_ACCESS_KEY_ID": root, "ROOT_SECRET_ACCESS_KEY": rootSecret,
			"DOCS_ACCESS_KEY_ID": docsKey, "DOCS_SECRET_ACCESS_KEY": docsSecret,
			"BACKUP_ACCESS_KEY_ID": backupKey, "BACKUP_SECRET_ACCESS_KEY": backupSecret,
			"MEDIA_BUCKET": f.opts.Config.Storage.Bucket, "BACKUP_BUCKET": backupBucket,
		}
	}
	s3 := func(key, secret string) map[string]string {
		return map[string]string{
			"S3_ENDPOINT_URL": endpoint, "S3_REGION": f.opts.Config.Storage.Region,
			"S3_ACCESS_KEY_ID": key, "S3_SECRET_ACCESS_KEY": secret,
			"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		}
	}
	bucketPy := filepath.Join(scripts, "bucket.py")

	// The Job's order: accounts, the backups bucket, the media bucket.
	for run := 1; run <= 2; run++ {
		if out, err := runScript(t, accounts(docsSecret), "sh", filepath.Join(scripts, "accounts.sh")); err != nil {
			t.Fatalf("accounts.sh (run %d): %v\n%s", run, err, out)
		}
		if out, err := runScript(t, s3(backupKey, backupSecret), "python3", bucketPy, "--bucket", backupBucket, "--prefix", ""); err != nil {
			t.Fatalf("bucket.py backups (run %d): %v\n%s", run, err, out)
		}
		out, err := runScript(t, s3(docsKey, docsSecret), "python3", bucketPy, "--bucket", f.opts.Config.Storage.Bucket, "--versioning")
		if err != nil || !strings.Contains(out, "versioning enabled") {
			t.Fatalf("bucket.py media (run %d): %v\n%s", run, err, out)
		}
	}

	// What Docs relies on, checked as Docs does it (boto3, path style).
	const probe = `import os, sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
def client(key, secret):
    return boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["S3_REGION"],
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
docs = client(os.environ["DOCS_KEY"], os.environ["DOCS_SECRET"])
backup = client(os.environ["BACKUP_KEY"], os.environ["BACKUP_SECRET"])
media, backups = os.environ["MEDIA"], os.environ["BACKUPS"]
docs.put_object(Bucket=media, Key="doc/attachments/a.txt", Body=b"one")
docs.put_object(Bucket=media, Key="doc/attachments/a.txt", Body=b"two")
versions = docs.list_object_versions(Bucket=media, Prefix="doc/").get("Versions", [])
assert len(versions) == 2, f"{len(versions)} versions kept, want 2"
old = [v for v in versions if not v["IsLatest"]][0]["VersionId"]
body = docs.get_object(Bucket=media, Key="doc/attachments/a.txt", VersionId=old)["Body"].read()
assert body == b"one", body
docs.copy_object(Bucket=media, Key="doc/attachments/b.txt", CopySource={"Bucket": media, "Key": "doc/attachments/a.txt"})
backup.put_object(Bucket=backups, Key="database/postgres/base/probe/data.tar", Body=b"base backup")
for c, bucket, who in ((docs, backups, "docs"), (backup, media, "backup")):
    try:
        c.list_objects_v2(Bucket=bucket)
    except ClientError as e:
        continue
    sys.exit(f"the {who} account reads bucket {bucket}")
print("ok")
`
	env := s3("", "")
	for k, v := range map[string]string{
		"DOCS_KEY": docsKey, "DOCS_SECRET": docsSecret, "BACKUP_KEY": backupKey, "BACKUP_SECRET": backupSecret,
		"MEDIA": f.opts.Config.Storage.Bucket, "BACKUPS": backupBucket,
	} {
		env[k] = v
	}
	if out, err := runScript(t, env, "python3", "-c", probe); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("Docs' use of the store: %v\n%s", err, out)
	}
	// The backups land in the folder the backups volume is mounted on, not
	// in the media volume's own files.
	if got, err := os.ReadFile(filepath.Join(data, "buckets", backupBucket, "database/postgres/base/probe/data.tar")); err != nil || string(got) != "base backup" {
		t.Fatalf("the backup object is not in the backups volume's folder: %q, %v", got, err)
	}

	// A rotated key: the Job reruns (its credentials fingerprint changed)
	// and the old key stops working.
	rotated := "rotated-secret-value-0000000000000000000"
	if out, err := runScript(t, accounts(rotated), "sh", filepath.Join(scripts, "accounts.sh")); err != nil {
		t.Fatalf("accounts.sh with a rotated key: %v\n%s", err, out)
	}
	if out, err := runScript(t, s3(docsKey, rotated), "python3", bucketPy, "--bucket", f.opts.Config.Storage.Bucket, "--versioning"); err != nil {
		t.Fatalf("the rotated key does not work: %v\n%s", err, out)
	}
	if out, err := runScript(t, s3(docsKey, docsSecret), "python3", bucketPy, "--bucket", f.opts.Config.Storage.Bucket); err == nil {
		t.Fatalf("the old key still works after rotation:\n%s", out)
	}

	// Backups elsewhere (backup.mode external): the rendered Job gives no
	// backup account, and the script makes none.
	ext := fileMap(newFixture(t, "single-small", "backup.mode=external", "backup.endpoint=https://backup.example.net", "backup.bucket=docs-backups").render(t))
	if job := string(ext["infrastructure/buckets/job-buckets.yaml"].Content); !strings.Contains(job, "name: accounts") || strings.Contains(job, "BACKUP_BUCKET") {
		t.Fatalf("the buckets Job makes a backup account in the embedded store for an external target:\n%s", job)
	}
	noBackups := accounts(rotated)
	for _, k := range []string{"BACKUP_ACCESS_KEY_ID", "BACKUP_SECRET_ACCESS_KEY", "BACKUP_BUCKET"} {
		delete(noBackups, k)
	}
	if out, err := runScript(t, noBackups, "sh", filepath.Join(scripts, "accounts.sh")); err != nil {
		t.Fatalf("accounts.sh without a backups bucket: %v\n%s", err, out)
	}
}
