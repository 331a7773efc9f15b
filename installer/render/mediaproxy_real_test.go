package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// fakeDocsBackend answers media-auth as Docs' backend does: it checks the
// session cookie and the original URL, then signs an S3 GET of
// /<bucket>/<key> for the endpoint it knows (AWS_S3_ENDPOINT_URL) and
// answers the SigV4 headers. Like Django behind a proxy, it refuses a
// request whose Host is not the public one or that did not come over HTTPS.
type fakeDocsBackend struct {
	t                       *testing.T
	domain, endpoint        string
	bucket, region          string
	accessKey, secretKey    string
	lastProto, lastHost     string
	lastOriginal, lastPaths []string
}

func (b *fakeDocsBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.lastProto, b.lastHost = r.Header.Get("X-Forwarded-Proto"), r.Host
	b.lastPaths = append(b.lastPaths, r.URL.Path)
	if r.Host != b.domain {
		http.Error(w, "DisallowedHost", http.StatusBadRequest)
		return
	}
	if r.Header.Get("X-Forwarded-Proto") != "https" {
		// SECURE_SSL_REDIRECT (docs #2541).
		http.Redirect(w, r, "https://"+b.domain+r.URL.RequestURI(), http.StatusMovedPermanently)
		return
	}
	if r.URL.Path != "/api/v1.0/documents/media-auth/" {
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
		return
	}
	original := r.Header.Get("X-Original-URL")
	b.lastOriginal = append(b.lastOriginal, original)
	if !strings.HasPrefix(original, "/media/") {
		http.Error(w, "no original URL", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie("docs_sessionid"); err != nil || c.Value != "alice" {
		http.Error(w, "anonymous", http.StatusForbidden)
		return
	}
	key := strings.TrimPrefix(original, "/media/")
	req, err := http.NewRequest(http.MethodGet, b.endpoint+"/"+b.bucket+"/"+key, nil)
	if err != nil {
		b.t.Error(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	empty := sha256.Sum256(nil)
	payload := hex.EncodeToString(empty[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: b.accessKey, SecretAccessKey: b.secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", b.region, time.Now()); err != nil {
		b.t.Error(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		w.Header().Set(h, req.Header.Get(h))
	}
	w.WriteHeader(http.StatusOK)
}

// nginxServer runs nginx with conf as its only server configuration, the
// listen ports moved to free loopback ones.
func nginxServer(t *testing.T, conf string) (media, door string) {
	t.Helper()
	bin := kit.Program(t, "nginx", "apt-get install nginx-core")
	mediaPort, doorPort := freePort(t), freePort(t)
	conf = strings.Replace(conf, fmt.Sprintf("listen %d;", proxyMediaPort), fmt.Sprintf("listen 127.0.0.1:%d;", mediaPort), 1)
	conf = strings.Replace(conf, fmt.Sprintf("listen %d;", proxyBackendPort), fmt.Sprintf("listen 127.0.0.1:%d;", doorPort), 1)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "default.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the temporary folder
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/client;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/conf.d/*.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx rejects the proxy's configuration: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	media, door = fmt.Sprintf("http://127.0.0.1:%d", mediaPort), fmt.Sprintf("http://127.0.0.1:%d", doorPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(media + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return media, door
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not answer: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMediaProxyRealServers puts the rendered nginx configuration between
// a client, a backend answering media-auth as Docs does, and the real
// object store: the checks the contract names (anonymous 403, the file for
// a logged-in user, SigV4 path style) pass, and y-provider's door to the
// backend is not redirected (docs #2541).
func TestMediaProxyRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs nginx and a real object store")
	}
	needPython(t)
	f := newFixture(t, "single-small")
	files := fileMap(f.render(t))
	store := f.opts.Secrets.(fixedSecrets)
	root, rootSecret := "ROOTACCESSKEY0000001", store["objectstore.rootSecretKey"]
	endpoint := objectStoreServer(t, files, root, rootSecret, t.TempDir())
	cfg := f.opts.Config
	docsKey, docsSecret := "DOCSACCESSKEY0000001", store["storage.secretAccessKey"]

	scripts := t.TempDir()
	if err := os.WriteFile(filepath.Join(scripts, "accounts.sh"), []byte(accountsScript), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runScript(t, map[string]string{
		"PATH":               filepath.Dir(versitygwBinary(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"ENDPOINT":           endpoint,
		"ROOT_ACCESS_KEY_ID": root, "ROOT_SECRET_ACCESS_KEY": rootSecret,
		"DOCS_ACCESS_KEY_ID": docsKey, "DOCS_SECRET_ACCESS_KEY": docsSecret,
		"BACKUP_ACCESS_KEY_ID": "BACKUPACCESSKEY00001", "BACKUP_SECRET_ACCESS_KEY": store["backup.secretAccessKey"],
		"MEDIA_BUCKET": cfg.Storage.Bucket, "BACKUP_BUCKET": backupBucket,
	}, "sh", filepath.Join(scripts, "accounts.sh")); err != nil {
		t.Fatalf("accounts.sh: %v\n%s", err, out)
	}
	const key = "8c2b5ac4-0d4a-4f0b-9d5e-2c1f0f4e5b6a/attachments/6f1e.png"
	const content = "\x89PNG not really"
	upload := fmt.Sprintf(`import boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=%q, region_name=%q, aws_access_key_id=%q, aws_secret_access_key=%q,
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
c.put_object(Bucket=%q, Key=%q, Body=%q.encode("latin-1"))
`, endpoint, cfg.Storage.Region, docsKey, docsSecret, cfg.Storage.Bucket, key, content)
	if out, err := runScript(t, nil, "python3", "-c", upload); err != nil {
		t.Fatalf("uploading a file as Docs would: %v\n%s", err, out)
	}

	backend := &fakeDocsBackend{t: t, domain: cfg.Domain, endpoint: endpoint, bucket: cfg.Storage.Bucket,
		region: cfg.Storage.Region, accessKey: docsKey, secretKey: docsSecret}
	srv := httptest.NewServer(backend)
	defer srv.Close()
	// The rendered configuration, pointed at these servers instead of
	// cluster Services.
	media, door := nginxServer(t, nginxConfig(cfg.Domain, endpoint, cfg.Storage.Bucket, srv.URL))

	get := func(base, path, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Host = cfg.Domain // as Envoy forwards it
		if cookie != "" {
			req.Header.Set("Cookie", "docs_sessionid="+cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	if resp, _ := get(media, "/media/"+key, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous media read: %d, want 403", resp.StatusCode)
	}
	resp, body := get(media, "/media/"+key, "alice")
	if resp.StatusCode != http.StatusOK || body != content {
		t.Errorf("logged-in media read: %d %q, want 200 and the file", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'none'" {
		t.Errorf("media served with Content-Security-Policy %q", csp)
	}
	if resp, _ := get(media, "/media/"+key, "mallory"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another user's read: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(media, "/media/nope/attachments/missing.png", "alice"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a missing file: %d, want 404 from the store", resp.StatusCode)
	}
	if n := len(backend.lastOriginal); n < 4 || backend.lastOriginal[1] != "/media/"+key {
		t.Errorf("media-auth saw original URLs %v", backend.lastOriginal)
	}

	// y-provider's door: plain HTTP inside, yet the backend sees HTTPS and
	// its public host, so no 301.
	resp, body = get(door, "/api/v1.0/documents/abc/", "")
	if resp.StatusCode != http.StatusOK || backend.lastProto != "https" || backend.lastHost != cfg.Domain || !strings.Contains(body, "/api/v1.0/documents/abc/") {
		t.Errorf("through the backend door: %d %q (backend saw proto %q, host %q)", resp.StatusCode, body, backend.lastProto, backend.lastHost)
	}
}
