package cnpgkit

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// The kit's images carry the names the train pins, so manifests naming the train's images run
// them; a bump of the train without the kit (or the other way round) fails here.
func TestKitImagesAreTheTrainsPins(t *testing.T) {
	v, err := kit.Load()
	if err != nil {
		t.Fatal(err)
	}
	trains, err := filepath.Glob("../../../bundles/trains/*.yaml")
	if err != nil || len(trains) == 0 {
		t.Fatalf("no train under bundles/trains: %v", err)
	}
	for _, path := range trains {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var train struct {
			Images []struct{ Reference string } `json:"images"`
		}
		if err := yaml.Unmarshal(data, &train); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pinned := map[string]bool{}
		for _, im := range train.Images {
			pinned[im.Reference] = true
		}
		for _, ref := range []string{v.CNPG.OperatorImage, v.CNPG.BarmanCloudImage, v.CNPG.BarmanCloudSidecar, v.CNPG.Postgres} {
			if !pinned[ref] {
				t.Errorf("%s does not pin %s (e2e/kit/versions.env)", filepath.Base(path), ref)
			}
		}
	}
}
