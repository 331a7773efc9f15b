package airgap

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// checkChartMeta reads the Chart.yaml files of chart i as fetched into
// staging and checks the train against them: the appVersion and subcharts
// it records, and every image linked to the chart (its tag must be the
// release the chart ships, or the train says why). With record, what the
// archive says is written into the locked train (`make lock`) and each
// field so changed is returned as "field = value".
func (b *builder) checkChartMeta(staging string, i int, f File, record bool) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(staging, filepath.FromSlash(f.Path)))
	if err != nil {
		return nil, fmt.Errorf("reading chart %s %s: %w", b.spec.Charts[i].Name, b.spec.Charts[i].Version, err)
	}
	return b.checkChartData(i, data, record)
}

// checkChartData is checkChartMeta for a chart's bytes.
func (b *builder) checkChartData(i int, data []byte, record bool) ([]string, error) {
	c := b.spec.Charts[i]
	meta, err := bundles.ReadChartMeta(data)
	if err != nil {
		return nil, fmt.Errorf("reading chart %s %s: %w", c.Name, c.Version, err)
	}
	if err := b.spec.CheckChartArchive(i, meta); err != nil {
		return nil, err
	}
	if !record {
		return nil, nil
	}
	return b.spec.RecordChartMeta(i, meta), nil
}
