package airgap

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/suitenumerique/docs-appliance/bundles"
)

const crdA = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: keycloaks.k8s.keycloak.org}
`
const crdB = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: keycloakrealmimports.k8s.keycloak.org}
`

func TestManifestChartLocksFetchesAndLoads(t *testing.T) {
	files := map[string]string{"/kubernetes/a-v1.yml": crdA, "/kubernetes/b-v1.yml": crdB}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := files[r.URL.Path]; ok {
			w.Write([]byte(f))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	e := newTestEnv(t)
	tr := e.train(t, true)
	tr.Charts = []bundles.Chart{{
		Name: "keycloak-operator-crds", Repository: "https://github.com/keycloak/keycloak-k8s-resources", Version: "26.0.0",
		Manifests: []string{srv.URL + "/kubernetes/a-v1.yml", srv.URL + "/kubernetes/b-v1.yml"},
	}}
	for i := range tr.Images {
		tr.Images[i].Chart = "" // the docs chart is gone
	}
	res, err := Lock(context.Background(), tr, RemoteOptions{HTTPClient: mergedClient(e, srv), Keychain: e.remote().Keychain})
	if err != nil {
		t.Fatal(err)
	}
	pin := res.Train.Charts[0].SHA256
	if pin == "" {
		t.Fatal("no sha256 pinned")
	}
	// Packaging is deterministic: the same files give the same pin.
	again, _ := PackageManifestChart(tr.Charts[0], [][]byte{[]byte(crdA), []byte(crdB)})
	if sha256Hex(again) != pin {
		t.Fatalf("repackaging gave %s, pinned %s", sha256Hex(again), pin)
	}
	dir := t.TempDir()
	if _, err := FetchCharts(context.Background(), res.Train, dir, RemoteOptions{HTTPClient: mergedClient(e, srv)}); err != nil {
		t.Fatal(err)
	}
	data, err := bundles.DirStore(dir).Open(res.Train.Charts[0])
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if crds := ch.CRDObjects(); len(crds) != 2 || string(crds[0].File.Data) != crdA {
		t.Fatalf("chart CRDs = %d", len(crds))
	}
	// A changed upstream file no longer matches the pin.
	files["/kubernetes/b-v1.yml"] = crdB + "# changed\n"
	_, err = FetchCharts(context.Background(), res.Train, t.TempDir(), RemoteOptions{HTTPClient: mergedClient(e, srv)})
	if err == nil || !strings.Contains(err.Error(), "a file at the pinned URLs changed") {
		t.Fatalf("err = %v", err)
	}
}

// mergedClient trusts both the test env's certificate and srv's.
func mergedClient(e *testEnv, srv *httptest.Server) *http.Client {
	base := e.client.Transport.(*http.Transport).Clone()
	pool := base.TLSClientConfig.RootCAs
	pool.AddCert(srv.Certificate())
	return &http.Client{Transport: base}
}
