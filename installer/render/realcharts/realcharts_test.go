package realcharts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// The gate's tests run it on charts they make: one per chart of train
// 2026.11, same names, versions, appVersions and subcharts, each
// rendering one ConfigMap (the Docs chart is the render tests' fixture with
// the real chart's interface, which render wires into); the cert-manager
// one carries the upstream CRDs of the train's versions (CRDS_DIR, never in
// the repository) so that the appliance's own custom resources meet their
// real schemas.

// testTrain is train 2026.11 renamed, as a file beside the embedded ones.
func testTrain(t *testing.T, dir string) (*bundles.Train, string) {
	t.Helper()
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	real, err := cat.Get("2026.11")
	if err != nil {
		t.Fatal(err)
	}
	tr := *real
	tr.Name = "2030.01"
	tr.Charts = append([]bundles.Chart(nil), real.Charts...)
	tr.Images = append([]bundles.Image(nil), real.Images...)
	data, err := yaml.Marshal(&tr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "2030.01.yaml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return &tr, p
}

// upstreamCRDFiles are the CRD files of CRDS_DIR but Flux's (the gate
// takes those from the embedded install manifests) and Gateway API's
// standard channel (Envoy Gateway installs the experimental one).
func upstreamCRDFiles(t *testing.T) []*chart.File {
	t.Helper()
	dir := os.Getenv("CRDS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "crds")
	}
	kit.File(t, dir, "the upstream CRDs of the train's versions", "set CRDS_DIR to their folder, or run `make crds` on a connected machine")
	var files []*chart.File
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (strings.HasPrefix(rel, "flux-") || rel == filepath.Join("gateway-api-v1.6.1", "standard")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &chart.File{Name: "crds/" + strings.ReplaceAll(rel, string(filepath.Separator), "_"), Data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 70 {
		t.Fatalf("only %d CRD files in %s: the folder is incomplete", len(files), dir)
	}
	return files
}

const fixtureTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-fixture
data:
  chart: {{ printf "%s %s" .Chart.Name .Chart.Version | quote }}
`

// makeCharts packages a chart for every chart of tr into a new folder;
// extra adds templates to the chart of that name, appVersion overrides
// one chart's appVersion.
func makeCharts(t *testing.T, tr *bundles.Train, crds []*chart.File, extra map[string]map[string]string, appVersion map[string]string) string {
	t.Helper()
	out := t.TempDir()
	for _, c := range tr.Charts {
		ch := &chart.Chart{
			Metadata:  &chart.Metadata{APIVersion: "v2", Name: c.Name, Version: c.Version, AppVersion: c.AppVersion, Description: "fixture standing for " + c.Name},
			Templates: []*chart.File{{Name: "templates/fixture.yaml", Data: []byte(fixtureTemplate)}},
		}
		if c.Name == "docs" {
			// Render wires the appliance into the Docs chart's workloads:
			// the render tests' fixture has that chart's interface.
			docs, err := loader.LoadDir(filepath.Join("..", "testdata", "charts", "docs"))
			if err != nil {
				t.Fatalf("loading the render tests' Docs chart: %v", err)
			}
			docs.Metadata.Version, docs.Metadata.AppVersion = c.Version, c.AppVersion
			ch = docs
		}
		if av, ok := appVersion[c.Name]; ok {
			ch.Metadata.AppVersion = av
		}
		for name, body := range extra[c.Name] {
			ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + name, Data: []byte(body)})
		}
		if c.Name == "cert-manager" {
			ch.Files = crds
		}
		for _, s := range c.Subcharts {
			if strings.Contains(s.Name, "/") {
				continue
			}
			ch.AddDependency(&chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: s.Name, Version: s.Version, AppVersion: s.AppVersion}})
		}
		if _, err := chartutil.Save(ch, out); err != nil {
			t.Fatalf("packaging fixture chart %s: %v", c.Name, err)
		}
	}
	return out
}

// gateKit is what the gate needs besides charts, or the test's end.
func gateKit(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs the envtest API server and the sops CLI")
	}
	_, err := envtest.KitDir()
	kit.Need(t, err)
	return kit.SOPS(t)
}

func TestWithoutChartsTheGateSaysHowToGetThem(t *testing.T) {
	_, err := Run(context.Background(), Options{})
	var missing *MissingChartsError
	if !errors.As(err, &missing) {
		t.Fatalf("err = %v", err)
	}
	cat, cerr := bundles.LoadEmbedded()
	if cerr != nil {
		t.Fatal(cerr)
	}
	// Without a train named, the gate checks the newest embedded one.
	for _, want := range []string{"CHARTS is not set", "make charts", "make lock TRAIN=" + cat.Latest().Name, "CHARTS=bundles/charts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	// A folder missing one chart names that file.
	tr, trainFile := testTrain(t, t.TempDir())
	dir := makeCharts(t, tr, nil, nil, nil)
	if err := os.Remove(filepath.Join(dir, tr.Charts[3].FileName())); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{ChartsDir: dir, TrainFile: trainFile})
	if !errors.As(err, &missing) || len(missing.Missing) != 1 || missing.Missing[0] != tr.Charts[3].FileName() {
		t.Fatalf("err = %v", err)
	}
}

// TestTheAppliancePassesTheGate: on consistent charts every check passes
// for the appliance's own objects — custom resources against their real
// CRDs, references, pins, SOPS — and equivalent variants are found.
func TestTheAppliancePassesTheGate(t *testing.T) {
	sops := gateKit(t)
	tr, trainFile := testTrain(t, t.TempDir())
	dir := makeCharts(t, tr, upstreamCRDFiles(t), nil, nil)
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{ChartsDir: dir, TrainFile: trainFile, Sops: sops, Log: &log,
		Only: []string{"single-small/appliance-ca/embedded/*", "single-small/acme/embedded/airgapped", "single/acme/external/online"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
	if rep.Rejected() != 0 {
		t.Fatalf("%d rejections on consistent charts", rep.Rejected())
	}
	byName := map[string]*VariantResult{}
	for _, v := range rep.Variants {
		byName[v.Name()] = v
	}
	if v := byName["single-small/acme/embedded/airgapped"]; v == nil || !strings.Contains(v.Refused, "tls.mode") {
		t.Errorf("ACME on an air-gapped site not refused: %+v", v)
	}
	if v := byName["single-small/appliance-ca/embedded/airgapped"]; v == nil || v.SameAs != "single-small/appliance-ca/embedded/online" {
		t.Errorf("air-gapped render not found identical to the online one: %+v", v)
	}
	for _, name := range []string{"single-small/appliance-ca/embedded/online", "single/acme/external/online"} {
		v := byName[name]
		if v == nil || v.Objects < 50 || v.CRDs < 70 || v.Pods < 3 || v.Decrypted < 5 || v.Refs < 10 || v.Images < 5 {
			t.Errorf("%s checked too little: %+v", name, v)
		}
	}
}

// A chart whose Deployment reads a key its Secret lacks and a ConfigMap
// nothing makes, whose object has a field its schema does not, and whose
// appVersion is not the release of the image the train links to it: each
// is a rejection naming the object.
const brokenDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reads-a-missing-key
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: x
          image: quay.io/opstree/redis-operator:v0.26.0
          env:
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: {{ .Release.Name }}-token, key: token}}
          envFrom:
            - configMapRef: {name: nowhere}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-token
stringData:
  other: value
---
apiVersion: v1
kind: Service
metadata:
  name: misspelt
spec:
  ports: [{port: 80, targetPortt: 8080}]
`

func TestTheGateRejectsWhatAClusterWould(t *testing.T) {
	sops := gateKit(t)
	tr, trainFile := testTrain(t, t.TempDir())
	dir := makeCharts(t, tr, upstreamCRDFiles(t), map[string]map[string]string{"redis-operator": {"broken.yaml": brokenDeployment}},
		map[string]string{"redis-operator": "0.25.0"})
	rep, err := Run(context.Background(), Options{ChartsDir: dir, TrainFile: trainFile, Sops: sops, Only: []string{"single-small/appliance-ca/embedded/online"}})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
	var all []Rejection
	all = append(all, rep.Charts...)
	for _, v := range rep.Variants {
		all = append(all, v.Rejections...)
	}
	want := []struct{ check, object, message string }{
		{"chart", "redis-operator-0.26.1.tgz", `charts[4].appVersion: the train records "0.26.0" but the archive's Chart.yaml says "0.25.0"`},
		{"chart", "redis-operator-0.26.1.tgz", "images[19].reference: tag v0.26.0 is not the release chart redis-operator ships (appVersion 0.25.0)"},
		{"reference", "Deployment redis-operator/reads-a-missing-key", `names Secret redis-operator/redis-operator-token key token: Secret redis-operator/redis-operator-token has no key "token" (it has other)`},
		{"reference", "Deployment redis-operator/reads-a-missing-key", "names ConfigMap redis-operator/nowhere: no ConfigMap redis-operator/nowhere is rendered"},
		{"dry-run", "Service redis-operator/misspelt", "targetPortt"},
	}
	for _, w := range want {
		found := false
		for _, r := range all {
			if r.Check == w.check && r.Object == w.object && strings.Contains(r.Message, w.message) {
				found = true
			}
		}
		if !found {
			t.Errorf("no [%s] %s rejection saying %q", w.check, w.object, w.message)
		}
	}
	if rep.Rejected() != len(want) {
		t.Errorf("%d rejections, want exactly the %d planted", rep.Rejected(), len(want))
	}
	for _, s := range []string{"single-small/appliance-ca/embedded/online", "charts vs train", fmt.Sprintf("%d rejections", len(want))} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("the table lacks %q", s)
		}
	}
}

const unpinnedJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.invalid/tools/migrate:v1
`

// TestTheGateRejectsUnpinnedImages: a chart's Job runs an image the train
// does not pin, which an air-gapped node cannot pull. Render itself may
// refuse it (then the variant's render is the rejection) or the gate's
// image check does; either names the image.
func TestTheGateRejectsUnpinnedImages(t *testing.T) {
	sops := gateKit(t)
	tr, trainFile := testTrain(t, t.TempDir())
	dir := makeCharts(t, tr, upstreamCRDFiles(t), map[string]map[string]string{"kyverno": {"migrate.yaml": unpinnedJob}}, nil)
	rep, err := Run(context.Background(), Options{ChartsDir: dir, TrainFile: trainFile, Sops: sops, Only: []string{"single/appliance-ca/embedded/online"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Variants) != 1 {
		t.Fatalf("%d variants", len(rep.Variants))
	}
	var found bool
	for _, r := range rep.Variants[0].Rejections {
		switch {
		case r.Check == "image" && r.Object == "Job kyverno/migrate" && strings.Contains(r.Message, "uses registry.example.invalid/tools/migrate:v1, which train 2030.01 does not pin"):
			found = true
		case r.Check == "render" && strings.Contains(r.Message, "registry.example.invalid/tools/migrate:v1"):
			found = true
		default:
			t.Errorf("unexpected rejection %+v", r)
		}
	}
	if !found {
		t.Fatalf("the unpinned image is not rejected: %+v", rep.Variants[0].Rejections)
	}
}
