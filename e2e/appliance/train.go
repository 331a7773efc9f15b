//go:build e2e

package appliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"text/template"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// TrainName is the name of the test train WriteTrain writes (e2e/testdata/install/train.yaml.tmpl).
const TrainName = "2099.01"

// Train is a test train's place in the train graph (train.yaml.tmpl's head): the upgrade tests
// write several, each naming the trains it upgrades from.
type Train struct {
	// Name is the train's name (YYYY.MM); empty is TrainName.
	Name string
	// UpgradesFrom, RequiredStops and Irreversible are the train's fields of the same names.
	UpgradesFrom, RequiredStops []string
	Irreversible                []bundles.Irreversible
}

// Chart is a stand-in chart of a test train, packaged at test time from a folder of
// e2e/testdata/install/charts.
type Chart struct {
	// Name is the chart's folder under e2e/testdata/install/charts and its name in the train.
	Name string
	// Version replaces Chart.yaml's version: the same folder packaged as another release of the
	// chart (standin-app 0.2.0, say). Empty keeps Chart.yaml's.
	Version string
	// Layer and Namespace are the train's for it.
	Layer, Namespace string
	// Values replace the chart's values.yaml.
	Values map[string]any
	// Files are added to the chart (path inside it → content), e.g. crds/x.yaml made at test time
	// from a kit's manifests: what may not be committed.
	Files map[string][]byte
}

// WriteTrain packages charts into chartsDir and writes the train TrainName pinning them and pins
// to path: a locked train, as install requires, pinning nothing the test did not build.
func (e *Env) WriteTrain(t *testing.T, path, chartsDir string, charts []Chart, pins []Pin) {
	t.Helper()
	e.WriteTrainAs(t, Train{}, path, chartsDir, charts, pins)
}

// WriteTrainAs is WriteTrain for the train head names: another name, the trains it upgrades
// from, its required stops and what it cannot undo. Charts of several trains may share
// chartsDir (each package is named after its chart's version).
func (e *Env) WriteTrainAs(t *testing.T, head Train, path, chartsDir string, charts []Chart, pins []Pin) {
	t.Helper()
	type chartPin struct{ Name, Layer, Namespace, Version, SHA256 string }
	var entries []chartPin
	for _, c := range charts {
		ch, err := loader.LoadDir(filepath.Join(e.Mod, "e2e", "testdata", "install", "charts", c.Name))
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != "" {
			ch.Metadata.Version = c.Version // Save writes Chart.yaml from the metadata
		}
		vals, err := yaml.Marshal(c.Values)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ch.Raw {
			if f.Name == chartutil.ValuesfileName {
				f.Data = vals
			}
		}
		for name, data := range c.Files {
			ch.Raw = append(ch.Raw, &chart.File{Name: name, Data: data})
			ch.Files = append(ch.Files, &chart.File{Name: name, Data: data})
		}
		if err := os.MkdirAll(chartsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		tgz, err := chartutil.Save(ch, chartsDir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		entries = append(entries, chartPin{c.Name, c.Layer, c.Namespace, ch.Metadata.Version, hex.EncodeToString(sum[:])})
	}
	if head.Name == "" {
		head.Name = TrainName
	}
	// The head's lists go in as JSON, which is YAML.
	tmpl, err := template.New("train.yaml.tmpl").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).ParseFiles(filepath.Join(e.Mod, "e2e", "testdata", "install", "train.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var train bytes.Buffer
	if err := tmpl.Execute(&train, map[string]any{"Train": head, "Charts": entries, "Images": pins}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, train.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
