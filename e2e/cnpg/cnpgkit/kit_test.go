package cnpgkit

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// The kit's images carry the names the train pins, so manifests naming the train's images run
// them; a bump that leaves no train pinning all of the kit's images fails here.
func TestKitImagesAreTheTrainsPins(t *testing.T) {
	v, err := kit.Load()
	if err != nil {
		t.Fatal(err)
	}
	trains, err := filepath.Glob("../../../bundles/trains/*.yaml")
	if err != nil || len(trains) == 0 {
		t.Fatalf("no train under bundles/trains: %v", err)
	}
	// The kit is one train's database layer (a newer train may move PostgreSQL on): some train
	// must pin every image of it.
	var by []string
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
		all := true
		for _, ref := range []string{v.CNPG.OperatorImage, v.CNPG.BarmanCloudImage, v.CNPG.BarmanCloudSidecar, v.CNPG.Postgres} {
			all = all && pinned[ref]
		}
		if all {
			by = append(by, filepath.Base(path))
		}
	}
	if len(by) == 0 {
		t.Errorf("no train pins every image of the CNPG kit (%s, %s, %s, %s: e2e/kit/versions.env)",
			v.CNPG.OperatorImage, v.CNPG.BarmanCloudImage, v.CNPG.BarmanCloudSidecar, v.CNPG.Postgres)
	}
	t.Logf("the kit is the database layer of %v", by)
}
