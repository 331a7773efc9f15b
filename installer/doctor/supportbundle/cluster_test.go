package supportbundle

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// fluxVersion selects the embedded Flux manifests for their CRDs.
const fluxVersion = "v2.9.5"

func fluxCRDs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	if _, err := gitops.FluxManifests(fluxVersion); err != nil {
		if gitops.IsFluxManifestsMissing(err) {
			kit.Unavailable(t, "the embedded Flux install manifests (installer/gitops/manifests/"+fluxVersion+")", "run `make flux-manifests`")
		}
		t.Fatal(err)
	}
	m, err := gitops.GenerateComponents(fluxVersion)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cluster.DecodeObjects([]byte(m.Content))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace" {
			out = append(out, o)
		}
	}
	return out
}

func obj(o map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: o} }

// Known random values are planted everywhere the cluster and the state
// folder can hold them; none may reach the bundle in any encoding, while
// what surrounds them must.
func TestBundleOfARealAPIServerHidesEveryPlantedValue(t *testing.T) {
	crds := fluxCRDs(t)
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	keyPEM := "-----BEGIN PRIVATE KEY-----\n" + randomValue(t, 64) + "\n" + randomValue(t, 64) + "\n" + randomValue(t, 24) + "\n-----END PRIVATE KEY-----\n"
	storeVals := map[string]string{"s3.secretKey": randomValue(t, 40), "tls.privateKey": keyPEM, "smtp.password": "Qz7kP" + randomValue(t, 1)}
	dir, store := newState(t, storeVals)
	dbPassword, djangoKey := randomValue(t, 32), randomValue(t, 50)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ" + randomValue(t, 30) + "." + randomValue(t, 43)
	urlPass, bearer, nodeToken := randomValue(t, 24), randomValue(t, 36), randomValue(t, 30)
	ageKey := store.Identity().String()
	clientKey := string(env.Config.KeyData)
	planted := map[string]string{
		"store s3.secretKey": storeVals["s3.secretKey"], "store tls.privateKey": keyPEM, "store smtp.password (short)": storeVals["smtp.password"],
		"Secret DB_PASSWORD": dbPassword, "Secret DJANGO_SECRET_KEY": djangoKey, "age key": ageKey, "unknown JWT": jwt,
		"URL password": urlPass, "bearer token": bearer, "node --token": nodeToken, "kubeconfig client key": clientKey,
	}
	config := "apiVersion: docs-appliance/v1\nkind: Appliance\ndomain: docs.example.test\n" +
		"tls:\n  key: |\n    " + strings.ReplaceAll(strings.TrimSpace(keyPEM), "\n", "\n    ") + "\n# s3: " + storeVals["s3.secretKey"] + "\n"
	if err := os.WriteFile(filepath.Join(dir, configFile), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	ns := func(name string, managed bool) *unstructured.Unstructured {
		md := map[string]any{"name": name}
		if managed {
			md["labels"] = map[string]any{"app.kubernetes.io/managed-by": "docs-appliance"}
		}
		return obj(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": md})
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	objs := append(crds, ns("docs", true), ns(gitops.GitNamespace, false), ns("unrelated", false),
		obj(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "docs-backend", "namespace": "docs"},
			"stringData": map[string]any{"DB_PASSWORD": dbPassword, "DJANGO_SECRET_KEY": djangoKey, "username": "docs", "host": "docs-db-rw.database", "user": "postgres"}}),
		obj(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "git-server-users", "namespace": gitops.GitNamespace},
			"stringData": map[string]any{"users": "flux:" + djangoKey + "\n"}}),
		obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "docs-settings", "namespace": "docs",
			"annotations": map[string]any{"note": "db " + dbPassword, "client": b64(clientKey)}},
			"data": map[string]any{
				"LOG_LEVEL":  "info",
				"encoded":    b64(storeVals["s3.secretKey"]),
				"env":        "DJANGO_SECRET_KEY=" + djangoKey + "\nAWS_S3_SECRET=" + b64(dbPassword) + "\n",
				"keys":       "main " + ageKey + "\nbackup " + strings.ToLower(ageKey) + "\n",
				"tls.key":    keyPEM,
				"token-file": jwt,
				"probe.sh":   "curl -H 'Authorization: Bearer " + bearer + "' https://docs.example.test/api/v1.0/config/\n",
				"mail":       "smtp password " + storeVals["smtp.password"] + " for docs",
			}}),
		obj(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web", "namespace": "docs",
			"annotations": map[string]any{"checksum/secret": storeVals["s3.secretKey"]}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "example.test/web:1",
				"env": []any{map[string]any{"name": "DATABASE_URL", "value": "postgresql://docs:" + urlPass + "@docs-db-rw.database:5432/docs"}}}}}}),
		obj(map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": "apps", "namespace": "flux-system", "annotations": map[string]any{"planted": djangoKey}},
			"spec":     map[string]any{"interval": "10m", "path": "./apps", "prune": true, "sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}}}),
		obj(map[string]any{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": "flux-system", "namespace": "flux-system"},
			"spec":     map[string]any{"interval": "1m", "url": "http://flux:" + urlPass + "@git-server.docs-appliance-system:8080/appliance.git", "ref": map[string]any{"branch": "main"}}}),
	)
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Kustomization's status condition holding a value, as a failed
	// apply's message would.
	ri := c.Dynamic.Resource(gitops.KustomizationGVR).Namespace("flux-system")
	k, err := ri.Get(ctx, "apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
		"message": "Secret/docs/docs-backend dry-run failed: value " + dbPassword + " invalid", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if _, err := ri.UpdateStatus(ctx, k, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Events whose messages carry values.
	for i, msg := range []string{"connecting with " + storeVals["s3.secretKey"], "password " + storeVals["smtp.password"] + " refused", "key " + b64(djangoKey)} {
		_, err := c.Kube.CoreV1().Events("docs").Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "planted-" + itoa(i), Namespace: "docs"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "docs", Name: "web"},
			Reason:         "PlantedReason", Message: msg, Type: "Warning", Count: 1,
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(),
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A node whose annotations hold k3s's flags.
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1",
		Annotations: map[string]string{"k3s.io/node-args": `["server","--token=` + nodeToken + `"]`}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	start := time.Now()
	if err := Collect(ctx, Options{Path: out, StateDir: dir, Kube: c, DoctorJSON: []byte(`{"results":[{"id":"gitops.source","detail":"fetched http://flux:` + urlPass + `@git-server"}]}`)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle collected in %s", time.Since(start).Round(time.Millisecond))
	files := unpack(t, out)
	if dumpBundle != "" {
		data, _ := os.ReadFile(out)
		os.WriteFile(dumpBundle, data, 0o600)
	}
	assertNoneLeaks(t, files, planted)

	m := manifestOf(t, files)
	if want := []string{"docs", gitops.GitNamespace, "flux-system"}; !sameSet(m.Namespaces, want) {
		t.Errorf("namespaces %v, want %v (unrelated is not the appliance's)", m.Namespaces, want)
	}
	for _, want := range []string{"secret docs/docs-backend username (an identifier, 4 bytes)", "secret docs/docs-backend host (an identifier, 19 bytes)", "secret docs/docs-backend user (an identifier, 8 bytes)"} {
		if !slices.Contains(m.Redaction.NotSearched, want) {
			t.Errorf("the manifest does not name %q, left alone: %v", want, m.Redaction.NotSearched)
		}
	}
	// envtest has no kubelet: the pods' logs are proven on the e2e node
	// (e2e/install TestSupportBundle).
	// The context is still there.
	for file, wants := range map[string][]string{
		"namespaces/docs/objects.yaml": {"name: docs-settings", "LOG_LEVEL: info", "encoded: [redacted: secret-store s3.secretKey (base64)]",
			"main [redacted: age key, age-key]", "backup [redacted: age-key]", "[redacted: jwt]", "Bearer [redacted: bearer-token]", "postgresql://docs:[redacted: url-password]@docs-db-rw.database:5432/docs",
			"smtp password [redacted: secret-store smtp.password] for docs", "checksum/secret: [redacted: credential-field, secret-store s3.secretKey]",
			"DJANGO_SECRET_KEY=[redacted: credential-field, secret docs/docs-backend DJANGO_SECRET_KEY]"},
		"namespaces/docs/events.txt":  {"PlantedReason\tPod/web", "connecting with [redacted: secret-store s3.secretKey]", "password [redacted: secret-store smtp.password] refused"},
		"namespaces/docs/secrets.txt": {"docs-backend\ttype Opaque\tkeys: DB_PASSWORD (32 bytes), DJANGO_SECRET_KEY (50 bytes), host (19 bytes), user (8 bytes), username (4 bytes)"},
		"flux/kustomizations.yaml":    {"name: apps", "path: ./apps"},
		"flux/conditions.txt":         {"Kustomization flux-system/apps\tReady=False\tReconciliationFailed", "value [redacted: secret docs/docs-backend DB_PASSWORD] invalid"},
		"flux/gitrepositories.yaml":   {"git-server.docs-appliance-system:8080/appliance.git"},
		"cluster/nodes.json":          {`"name": "node-1"`, `--token=[redacted: credential-field]`},
		"config/appliance.yaml":       {"domain: docs.example.test", "  key: |\n    [redacted: private-key, secret-store tls.privateKey", "# s3: [redacted: secret-store s3.secretKey]"},
		"doctor.json":                 {`"id":"gitops.source"`},
		"cluster/version.json":        {`"gitVersion"`},
	} {
		got, ok := files[file]
		if !ok {
			t.Errorf("%s is missing", file)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "namespaces/unrelated/") {
			t.Errorf("%s: a namespace that is not the appliance's was collected", name)
		}
	}
	if strings.Contains(string(files["namespaces/docs/objects.yaml"]), "kind: Secret\n") {
		t.Errorf("a Secret object is in the bundle")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func init() { dumpBundle = os.Getenv("DUMP_BUNDLE") }

var dumpBundle string
