package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// The tests validate what render really writes: the example config over render's test train
// and fixture charts (installer/render/testdata), encrypted for a fresh age key, as render's
// own tests do. The fixture charts stand for upstream charts without their CRDs, so the
// upstream CRDs of the train's versions (CRDS_DIR, as render's schema test) are given as
// Options.CRDs: the cluster serves them once the real charts' crds layer is applied.

const renderTestdata = "../render/testdata"

// renderedRepo renders the example appliance into a new folder and returns it with its key.
func renderedRepo(t testing.TB) (string, *age.X25519Identity, *bundles.Train) {
	t.Helper()
	cfg, err := config.Load("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve([]string{"train=2030.01", "profile=single-small"}); err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Get("single-small")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(renderTestdata, "train.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bundles.ParseTrain(data)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	values := fixedSecrets{}
	for _, s := range cfg.RequiredSecrets() {
		values[s.Name] = "Rendered-Secret-" + strings.ToUpper(strings.ReplaceAll(s.Name, ".", "-")) + "-42"
	}
	res, err := render.Render(context.Background(), render.Options{
		Config: cfg, Train: tr, Profile: prof, Charts: bundles.DirStore(packageCharts(t, tr)),
		Secrets: values, Recipients: []string{id.Recipient().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if err := render.ClaimDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := render.Write(dir, res, id, []string{id.Recipient().String()}); err != nil {
		t.Fatal(err)
	}
	return dir, id, tr
}

type fixedSecrets map[string]string

func (f fixedSecrets) Get(name string) (string, bool) { v, ok := f[name]; return v, ok }

// packageCharts packs render's fixture charts, and a values-dump chart for every other chart of
// the train, as render's tests do.
func packageCharts(t testing.TB, tr *bundles.Train) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir(filepath.Join(renderTestdata, "charts"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		ch, err := loader.LoadDir(filepath.Join(renderTestdata, "charts", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chartutil.Save(ch, out); err != nil {
			t.Fatal(err)
		}
		have[ch.Metadata.Name+"-"+ch.Metadata.Version] = true
	}
	for _, c := range tr.Charts {
		if have[c.Name+"-"+c.Version] {
			continue
		}
		ch := &chart.Chart{
			Metadata:  &chart.Metadata{APIVersion: "v2", Name: c.Name, Version: c.Version},
			Templates: []*chart.File{{Name: "templates/values.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-chart-values\ndata:\n  values.yaml: |\n{{ toYaml .Values | indent 4 }}\n")}},
		}
		if _, err := chartutil.Save(ch, out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// upstreamCRDs are the CRDs of the train's upstream versions ($CRDS_DIR, or ../shared/crds beside
// the repository), the standard channel of Gateway API left out as render's schema test does.
func upstreamCRDs(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	dir := os.Getenv("CRDS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "crds")
	}
	kit.File(t, dir, "the upstream CRDs of the train's versions", "set CRDS_DIR to their folder, or run `make crds` on a connected machine")
	var out []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasSuffix(p, filepath.Join("gateway-api-v1.6.1", "standard")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, err := decodeDocs(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, d := range docs {
			if k := keyOf(d); k.kind == "CustomResourceDefinition" {
				out = append(out, &unstructured.Unstructured{Object: jsonCompatible(d)})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
