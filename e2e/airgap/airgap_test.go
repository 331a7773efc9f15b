//go:build e2e

// Package airgap_test proves on the one-node cluster that images carried by
// an air-gap bundle run pods with no registry reachable.
package airgap_test

import (
	"context"
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
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

var testNode *node.Node

func TestMain(m *testing.M) { os.Exit(node.Main(m, &testNode)) }

// TestBundleImagesRunWithoutARegistry builds a signed bundle from a real
// OCI registry, shuts the registry down, imports the bundle, loads its
// images into the node's containerd, and runs a pod pinned by digest with
// imagePullPolicy Never: only the bundle can have provided the image.
func TestBundleImagesRunWithoutARegistry(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	work := t.TempDir()

	// 1. A registry on 127.0.0.1 holding a stand-in image under a name no node has.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	host := strings.TrimPrefix(reg.URL, "http://")
	ref := host + "/airgap/standin:v1"
	mod, err := images.ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "standin.bin")
	if err := images.BuildGo(ctx, mod, "./e2e/images/standin", bin); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(work, "standin.tar")
	if err := images.Write(images.Spec{Tag: ref, Entrypoint: []string{"/app"}, User: "65532:65532",
		Env: []string{"MESSAGE=served from an air-gap bundle"}, Files: []images.File{{Path: "/app", Mode: 0o755, Source: bin}}}, tarPath); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(ref)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	// 2. k3s artifacts over TLS, as the release downloads are.
	files := map[string][]byte{"/k3s": []byte("k3s binary stand-in"), "/images.tar.zst": []byte("k3s images stand-in")}
	dl := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer dl.Close()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	train, err := bundles.ParseTrain([]byte(fmt.Sprintf(`
name: "2030.01"
k3s:
  version: v1.35.2+k3s1
  artifacts:
    amd64: {binaryURL: %[1]s/k3s, binarySHA256: %[2]s, airgapImagesURL: %[1]s/images.tar.zst, airgapImagesSHA256: %[3]s}
kubernetes: {minVersion: "1.33", maxVersion: "1.37"}
flux:
  version: v2.9.5
  controllers: {source-controller: v1.9.5, kustomize-controller: v1.9.5, notification-controller: v1.9.4}
docs: {version: v5.4.1}
charts: []
images:
  - {reference: "%[4]s", digest: "%[5]s"}
`, dl.URL, sum(files["/k3s"]), sum(files["/images.tar.zst"]), ref, digest)))
	if err != nil {
		t.Fatal(err)
	}

	// 3. Build and sign the bundle, then take the registry away.
	pubPath, privPath := filepath.Join(work, "bundle.pub"), filepath.Join(work, "bundle.key")
	if _, err := airgap.GenerateKeyFiles(privPath, pubPath); err != nil {
		t.Fatal(err)
	}
	priv, err := airgap.LoadPrivateKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := airgap.LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, airgap.FileName(train.Name, "amd64"))
	if _, err := airgap.Build(ctx, airgap.BuildOptions{
		Train: train, Arch: "amd64", Out: out, Key: priv,
		Flux:       fstest.MapFS{"gotk-components.yaml": {Data: []byte("# Flux install manifests stand-in\n")}},
		HTTPClient: dl.Client(), RegistryTransport: http.DefaultTransport, Keychain: authn.NewMultiKeychain(),
		Status: status.Discard(),
	}); err != nil {
		t.Fatal(err)
	}
	reg.Close()

	// 4. Import on the "site", load the images into the node.
	state := filepath.Join(work, "state")
	res, err := airgap.Import(ctx, airgap.ImportOptions{Bundle: out, StateDir: state, Trust: airgap.Trust{Key: pub}, Train: train.Name, Arch: "amd64", Status: status.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.SignatureChecked {
		t.Fatal("the signature was not checked")
	}
	tars, err := filepath.Glob(filepath.Join(res.Dir, "images", "*.tar"))
	if err != nil || len(tars) != 1 {
		t.Fatalf("imported images %v, %v", tars, err)
	}
	if err := testNode.ImportImages(ctx, tars...); err != nil {
		t.Fatal(err)
	}

	// 5. A pod pinned by digest that may never pull.
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "airgapped"
	pinned := tag.Context().Name() + ":v1@" + digest.String()
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "standin", "namespace": ns},
			"spec": map[string]any{
				"replicas": int64(1),
				"selector": map[string]any{"matchLabels": map[string]any{"app": "standin"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "standin"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "app", "image": pinned, "imagePullPolicy": "Never",
						"ports":          []any{map[string]any{"containerPort": int64(8080)}},
						"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": int64(8080)}, "periodSeconds": int64(1)},
					}}},
				},
			},
		}},
	}
	t.Cleanup(func() { _ = c.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, cluster.Refs(changes), cluster.WaitOptions{Timeout: 3 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=standin"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods %v, %v", pods, err)
	}
	p := pods.Items[0]
	if got := p.Status.ContainerStatuses[0].ImageID; !strings.HasSuffix(got, digest.String()) {
		t.Errorf("the pod runs image %s, want digest %s", got, digest)
	}
	answer, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "10", "http://"+p.Status.PodIP+":8080/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(answer), "served from an air-gap bundle") {
		t.Fatalf("pod answered %q", answer)
	}
}
