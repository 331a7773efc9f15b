//go:build e2e

package appliance

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/images"
)

// StandinRepo is the repository of the stand-in's versioned images (StandinVersions).
const StandinRepo = "docs-appliance.test/standin"

// StandinVersions imports the stand-in application re-tagged once per version
// (docs-appliance.test/standin:<version>), each a distinct image whose environment carries
// STANDIN_VERSION=<version> (a chart with versioned: true shows it in every answer, so a test
// sees which release answers), and returns their pins by version. The program is compiled once.
func (e *Env) StandinVersions(ctx context.Context, t *testing.T, versions ...string) map[string]Pin {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "standin")
	if err := images.BuildGo(ctx, e.Mod, "./e2e/images/standin", bin); err != nil {
		t.Fatal(err)
	}
	var tars, refs []string
	for _, v := range versions {
		ref := StandinRepo + ":" + v
		tar := filepath.Join(dir, "standin-"+v+".tar")
		if err := images.Write(images.Spec{Tag: ref, Entrypoint: []string{"/app"}, User: "65532:65532",
			Env:   []string{"STANDIN_VERSION=" + v},
			Files: []images.File{{Path: "/app", Mode: 0o755, Source: bin}}}, tar); err != nil {
			t.Fatal(err)
		}
		tars, refs = append(tars, tar), append(refs, ref)
	}
	pins := e.Import(ctx, t, tars, refs)
	out := map[string]Pin{}
	for n, v := range versions {
		out[v] = pins[n]
	}
	return out
}
