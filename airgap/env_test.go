package airgap

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// testEnv is a connected world on 127.0.0.1, all over TLS with the test
// certificate: an OCI registry (go-containerregistry's, holding images
// and a chart the test pushed), a Helm chart repository (index.yaml made
// by helm from charts helm packaged) and a k3s release download server.
type testEnv struct {
	srv    *httptest.Server
	host   string
	client *http.Client
	// artifacts served under /k3s/ by name.
	artifacts map[string][]byte
	// digests of the pushed images by reference.
	digests map[string]string
	// chart sha256 by name.
	chartSHA map[string]string
	flux     fstest.MapFS
	// served counts requests per path, to prove what build fetched.
	mu     sync.Mutex
	served map[string]int
}

// Image references of the test train, relative to the registry host.
var testImages = []string{"docs/backend:v1.0.0", "docs/frontend:v1.0.0", "library/nginx:1.29"}

func newTestEnv(t testing.TB) *testEnv { return newTestEnvSized(t, 64<<10) }

// newTestEnvSized pushes images whose two layers hold imageBytes together.
func newTestEnvSized(t testing.TB, imageBytes int64) *testEnv {
	t.Helper()
	e := &testEnv{artifacts: map[string][]byte{}, digests: map[string]string{}, chartSHA: map[string]string{}, served: map[string]int{}}
	chartDir := t.TempDir()
	mux := http.NewServeMux()
	mux.Handle("/v2/", registry.New(registry.Logger(discardLogger())))
	mux.Handle("/charts/", http.StripPrefix("/charts/", http.FileServer(http.Dir(chartDir))))
	mux.HandleFunc("/k3s/", func(w http.ResponseWriter, r *http.Request) {
		data, ok := e.artifacts[strings.TrimPrefix(r.URL.Path, "/k3s/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
	})
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.served[r.URL.Path]++
		e.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	e.host = strings.TrimPrefix(e.srv.URL, "https://")

	// k3s artifacts: random bytes stand in for the binary and image archive.
	e.artifacts["k3s"] = randomBytes(t, 300<<10)
	e.artifacts["k3s-airgap-images-amd64.tar.zst"] = randomBytes(t, 500<<10)
	e.artifacts["k3s-arm64"] = randomBytes(t, 1000)
	e.artifacts["k3s-airgap-images-arm64.tar.zst"] = randomBytes(t, 1000)

	// Images: a multi-arch index, a single-arch image, and one more index.
	opts := []remote.Option{remote.WithTransport(e.client.Transport), remote.WithAuth(authn.Anonymous)}
	for i, ref := range testImages {
		full := e.host + "/" + ref
		tag, err := name.NewTag(full)
		if err != nil {
			t.Fatal(err)
		}
		amd := platformImage(t, "amd64", imageBytes)
		if i == 1 {
			if err := remote.Write(tag, amd, opts...); err != nil {
				t.Fatalf("pushing %s: %v", full, err)
			}
			d, _ := amd.Digest()
			e.digests[full] = d.String()
			continue
		}
		idx := mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: platformImage(t, "arm64", imageBytes), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		)
		if err := remote.WriteIndex(tag, idx, opts...); err != nil {
			t.Fatalf("pushing %s: %v", full, err)
		}
		d, _ := idx.Digest()
		e.digests[full] = d.String()
	}

	// Charts: packaged by helm, indexed by helm, one also pushed to OCI.
	// The docs chart ships the docs images' release (appVersion).
	for _, c := range []struct{ name, version, appVersion string }{{"docs", "1.2.3", "v1.0.0"}, {"cert-manager", "v1.21.1", ""}, {"gateway-helm", "1.9.0", ""}} {
		ch := &chart.Chart{
			Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: c.name, Version: c.version, AppVersion: c.appVersion, Type: "application"},
			Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + c.name + "\n")}},
		}
		p, err := chartutil.Save(ch, chartDir)
		if err != nil {
			t.Fatalf("packaging chart %s: %v", c.name, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		e.chartSHA[c.name] = sha256Hex(data)
		if c.name == "gateway-helm" {
			rc, err := helmregistry.NewClient(helmregistry.ClientOptHTTPClient(e.client), helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "creds.json")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rc.Push(data, fmt.Sprintf("%s/charts/%s:%s", e.host, c.name, c.version)); err != nil {
				t.Fatalf("helm push: %v", err)
			}
			os.Remove(p)
		}
	}
	idx, err := repo.IndexDirectory(chartDir, e.srv.URL+"/charts/")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(chartDir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	e.flux = fstest.MapFS{
		"gotk-components.yaml": {Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n")},
		"crds/sources.yaml":    {Data: []byte("# CRDs\n")},
	}
	return e
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func platformImage(t testing.TB, arch string, size int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

const trainTemplate = `
name: "2030.01"
k3s:
  version: v1.35.2+k3s1
  artifacts:
    amd64:
      binaryURL: {{.URL}}/k3s/k3s
      airgapImagesURL: {{.URL}}/k3s/k3s-airgap-images-amd64.tar.zst
{{- if .Locked}}
      binarySHA256: {{index .Art "k3s"}}
      airgapImagesSHA256: {{index .Art "k3s-airgap-images-amd64.tar.zst"}}
{{- end}}
    arm64:
      binaryURL: {{.URL}}/k3s/k3s-arm64
      airgapImagesURL: {{.URL}}/k3s/k3s-airgap-images-arm64.tar.zst
{{- if .Locked}}
      binarySHA256: {{index .Art "k3s-arm64"}}
      airgapImagesSHA256: {{index .Art "k3s-airgap-images-arm64.tar.zst"}}
{{- end}}
kubernetes: {minVersion: "1.33", maxVersion: "1.36"}
flux:
  version: v2.9.5
  controllers: {source-controller: v1.9.5, kustomize-controller: v1.9.5, notification-controller: v1.9.4}
docs: {version: v5.4.1}
charts:
  - {name: docs, repository: "{{.URL}}/charts/", version: 1.2.3{{if .Locked}}, sha256: {{index .Charts "docs"}}{{end}}}
  - {name: cert-manager, repository: "{{.URL}}/charts", version: v1.21.1{{if .Locked}}, sha256: {{index .Charts "cert-manager"}}{{end}}}
  - {name: gateway-helm, repository: "oci://{{.Host}}/charts/gateway-helm", version: 1.9.0{{if .Locked}}, sha256: {{index .Charts "gateway-helm"}}{{end}}}
images:
{{- range .Images}}
  - {reference: "{{.Ref}}"{{if .Chart}}, chart: {{.Chart}}{{end}}{{if $.Locked}}, digest: "{{.Digest}}"{{end}}}
{{- end}}
`

// imageChart links the docs images to the docs chart, whose appVersion
// is their release.
func imageChart(ref string) string {
	if strings.HasPrefix(ref, "docs/") {
		return "docs"
	}
	return ""
}

// train returns the test train pointing at the env's servers, locked with
// the digests the env pushed or unlocked.
func (e *testEnv) train(t testing.TB, locked bool) *bundles.Train {
	t.Helper()
	type img struct{ Ref, Digest, Chart string }
	var imgs []img
	for _, ref := range testImages {
		full := e.host + "/" + ref
		imgs = append(imgs, img{full, e.digests[full], imageChart(ref)})
	}
	art := map[string]string{}
	for k, v := range e.artifacts {
		art[k] = sha256Hex(v)
	}
	var b bytes.Buffer
	err := template.Must(template.New("train").Parse(trainTemplate)).Execute(&b, map[string]any{
		"URL": e.srv.URL, "Host": e.host, "Locked": locked, "Art": art, "Charts": e.chartSHA, "Images": imgs,
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bundles.ParseTrain(b.Bytes())
	if err != nil {
		t.Fatalf("test train does not validate: %v\n%s", err, b.String())
	}
	return tr
}

func (e *testEnv) buildOptions(t testing.TB, tr *bundles.Train, out string, key ed25519.PrivateKey) BuildOptions {
	return BuildOptions{
		Train: tr, Arch: "amd64", Out: out, Key: key, Flux: e.flux,
		HTTPClient: e.client, Keychain: authn.NewMultiKeychain(),
		Builder: "docs-appliance test",
		Now:     func() time.Time { return time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC) },
	}
}

func (e *testEnv) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.served[path]
}

func testKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// builtBundle builds one signed bundle per test binary for the tests that
// only read or tamper with it.
var built struct {
	once sync.Once
	dir  string
	path string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	res  *BuildResult
	err  error
}

func sharedBundle(t *testing.T) (string, ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "airgap-shared-")
		if built.err != nil {
			return
		}
		e := newTestEnv(t)
		built.pub, built.priv = testKey(t)
		built.path = filepath.Join(built.dir, FileName("2030.01", "amd64"))
		built.res, built.err = Build(context.Background(), e.buildOptions(t, e.train(t, true), built.path, built.priv))
	})
	if built.err != nil {
		t.Fatalf("building the shared bundle: %v", built.err)
	}
	return built.path, built.pub, built.priv
}

func TestMain(m *testing.M) {
	if os.Getenv(childImportEnv) != "" {
		runChildImport()
	}
	code := m.Run()
	for _, d := range []string{built.dir, benchBundle.dir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}
