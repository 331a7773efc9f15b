// Package backuptest runs the real parts the backup tests take a set from and to: versitygw as
// the S3 store, the appliance's git server, a state folder with a real encrypted secret store,
// envtest's API server with CloudNativePG's CRDs, and a stand-in for the operator (which cannot
// run in envtest).
package backuptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// Store is versitygw (the real S3 server the probe tests run) with the buckets given. With a nil
// ca it serves plain HTTP on loopback, as the embedded store is reached through its port-forward;
// with one, HTTPS as an operator's store.
type Store struct {
	*probetest.S3
	c  *s3.Client
	ca *probetest.CA
}

func StartStore(t testing.TB, ca *probetest.CA, buckets ...string) *Store {
	t.Helper()
	s := probetest.StartS3(t, ca, false)
	for _, b := range buckets {
		s.CreateBucket(t, b, false)
	}
	tr := &http.Transport{}
	if ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool}
	}
	c := s3.New(s3.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true, HTTPClient: &http.Client{Transport: tr},
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")})
	return &Store{S3: s, c: c, ca: ca}
}

// Target is a backup target in bucket under prefix, with the store's keys.
func (s *Store) Target(bucket, prefix string) backup.Target {
	t := backup.Target{Endpoint: s.Endpoint, Region: s.Region, Bucket: bucket, Prefix: prefix,
		AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey, PlainHTTP: s.ca == nil}
	if s.ca != nil {
		t.CABundle = s.ca.PEM
	}
	return t
}

// Put writes an object, typed by its key's extension as an upload from a browser is.
func (s *Store) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}
	if typ := mime.TypeByExtension(path.Ext(key)); typ != "" {
		in.ContentType = aws.String(typ)
	}
	if _, err := s.c.PutObject(context.Background(), in); err != nil {
		t.Fatalf("putting %s/%s: %v", bucket, key, err)
	}
}

// Get reads an object whole.
func (s *Store) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	out, err := s.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("getting %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// ContentType is an object's Content-Type.
func (s *Store) ContentType(t testing.TB, bucket, key string) string {
	t.Helper()
	out, err := s.c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("reading %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.ContentType)
}

// Keys lists every key of a bucket.
func (s *Store) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// GitServer runs the appliance's own git server logic (installer/gitserver, over Debian's git
// http-backend) on loopback, as install reaches it through a port-forward, with the desired-state
// repository holding two branches and a tag. It returns the Remote the appliance uses.
func GitServer(t *testing.T) gitops.Remote {
	t.Helper()
	remote, bare := EmptyGitServer(t)
	work := t.TempDir()
	Run(t, work, "git", "init", "--quiet", "-b", "main", ".")
	for i, branch := range []string{"main", "staging"} {
		if i > 0 {
			Run(t, work, "git", "checkout", "--quiet", "-b", branch)
		}
		if err := os.WriteFile(filepath.Join(work, branch+".yaml"), []byte("kind: ConfigMap # "+branch+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		Run(t, work, "git", "add", ".")
		Run(t, work, "git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", branch)
	}
	Run(t, work, "git", "tag", "v1")
	Run(t, work, "git", "push", "--quiet", bare, "main", "staging", "v1")
	return remote
}

// EmptyGitServer is GitServer with the repository as a new appliance's server has it: no branch
// yet. It returns the Remote and the bare repository's folder.
func EmptyGitServer(t *testing.T) (gitops.Remote, string) {
	t.Helper()
	for _, p := range []string{gitserver.DefaultGit, gitserver.DefaultHTTPBackend} {
		kit.File(t, p, "Debian's git", "apt-get install git")
	}
	dir := t.TempDir()
	users, err := gitserver.UsersFile(gitops.GitAccounts("push-password-of-the-test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	usersPath := filepath.Join(dir, "users")
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &gitserver.Server{Root: dir, Repos: []string{gitops.GitRepoName}, Branch: "main", UsersFile: usersPath, Log: log.New(io.Discard, "", 0)}
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return gitops.InClusterRemote(strings.TrimPrefix(ts.URL, "http://"), "main", "push-password-of-the-test"), filepath.Join(dir, gitops.GitRepoName)
}

// Run runs a program (git) in dir, failing the test on an error.
func Run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// StateDir is a state folder as install leaves it: the saved config, a real encrypted secret
// store and its age key.
func StateDir(t *testing.T) (dir string, files []string, key []byte) {
	t.Helper()
	kit.SOPS(t)
	dir = t.TempDir()
	st, err := secrets.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(v, []byte("a-secret-value-of-the-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.SetFromFile("django.secretKey", v); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "appliance.yaml")
	if err := os.WriteFile(cfg, []byte("domain: docs.example.org\ntrain: test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err = os.ReadFile(filepath.Join(dir, secrets.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	return dir, []string{cfg, filepath.Join(dir, secrets.StoreFileName)}, key
}

// Kube is envtest's API server with CloudNativePG's and the barman-cloud plugin's real CRDs (from
// `make cnpg-kit`) and the database namespace; kubeconfig is a file for it.
func Kube(t *testing.T) (c *cluster.Client, kubeconfig string) {
	t.Helper()
	k, err := cnpgkit.Find()
	if err != nil {
		kit.Need(t, err)
	}
	env := envtest.New(t)
	c, err = cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var crds []*unstructured.Unstructured
	for _, f := range []string{"cnpg-operator.yaml", "plugin-barman-cloud.yaml"} {
		data, err := os.ReadFile(filepath.Join(k.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := cluster.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" && (o.GetName() == "backups.postgresql.cnpg.io" || o.GetName() == "objectstores.barmancloud.cnpg.io") {
				crds = append(crds, o)
			}
		}
	}
	if len(crds) != 2 {
		t.Fatalf("the kit's manifests hold %d of the two CRDs", len(crds))
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "database"}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Apply(ctx, append(crds, ns), cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	return c, env.Kubeconfig
}

var backupsGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}

// Operator stands in for CloudNativePG, which cannot run in envtest (no pods): when backup now
// creates its Backup, it writes a base backup where barman-cloud does and reports the Backup
// completed, or failed with reason. The real operator's run is e2e/cnpg's test.
func Operator(t *testing.T, c *cluster.Client, s *Store, bucket, prefix, reason string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			l, err := c.Dynamic.Resource(backupsGVR).Namespace("database").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, b := range l.Items {
				if phase, _, _ := unstructured.NestedString(b.Object, "status", "phase"); phase != "" {
					continue
				}
				st := map[string]any{"phase": "failed", "error": reason}
				if reason == "" {
					id := "20261202T0315" + fmt.Sprint(10+len(b.GetName())%50) + "Z"
					base := prefix + "database/postgres/base/" + id + "/"
					s.Put(t, bucket, base+"backup.info", []byte("backup_id="+id+"\nstatus=DONE\n"))
					s.Put(t, bucket, base+"data.tar.gz", bytes.Repeat([]byte("pg"), 4096))
					st = map[string]any{"phase": "completed", "backupId": id, "serverName": "postgres",
						"beginWal": "000000010000000000000004", "endWal": "000000010000000000000005",
						"startedAt": "2026-12-02T03:15:00Z", "stoppedAt": "2026-12-02T03:15:09Z"}
				}
				b.Object["status"] = st
				_, _ = c.Dynamic.Resource(backupsGVR).Namespace("database").UpdateStatus(ctx, &b, metav1.UpdateOptions{})
			}
		}
	}()
}
