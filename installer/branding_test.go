package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// TestBrandedRenderWithTheRealDocsChart renders examples/branding with
// the real Docs 5.4.1 chart (packaged from upstream's source in the kit
// cache): the branding reaches the chart's own backend and frontend
// Deployments, and a render of the same config changes nothing.
func TestBrandedRenderWithTheRealDocsChart(t *testing.T) {
	root, err := kit.CacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	charts := filepath.Join(root, "real-charts")
	kit.File(t, filepath.Join(charts, "docs-5.4.1.tgz"), "the real Docs 5.4.1 chart", "on a connected machine, `make charts` then copy bundles/charts/docs-5.4.1.tgz into $DOCS_APPLIANCE_CACHE/real-charts")
	state := filepath.Join(t.TempDir(), "state")
	out := t.TempDir()
	opts := InputOptions{ConfigPath: "../examples/branding/appliance.yaml", StateDir: state, ChartsDir: charts}
	r := &Render{Inputs: opts, OutDir: out, AllowMissingCharts: true}
	if err := r.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	// What the environment applies (its overlay over the shared base builds to these).
	effective, err := r.Result.Effective()
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		t.Helper()
		for _, f := range effective {
			if f.Path == p {
				return string(f.Content)
			}
		}
		t.Fatalf("the render applies no %s", p)
		return ""
	}
	cm := read("apps/docs/configmap-docs-branding.yaml")
	backend, frontend := read("apps/docs/deployment-docs-backend.yaml"), read("apps/docs/deployment-docs-frontend.yaml")
	for _, want := range []string{"THEME_CUSTOMIZATION_FILE_PATH", "FRONTEND_CSS_URL", "mountPath: /etc/docs-appliance/branding", "docs-appliance/branding-hash"} {
		if !strings.Contains(backend, want) {
			t.Errorf("the real chart's backend lacks %q", want)
		}
	}
	if !strings.Contains(frontend, "mountPath: /app/appliance-branding") || !strings.Contains(cm, `"Docs": "Acme Docs"`) {
		t.Errorf("frontend or theme not branded:\n%s", frontend)
	}
	if strings.Contains(read("apps/docs/deployment-docs-celery-worker.yaml"), "branding") {
		t.Error("Celery reads no branding and must not be rolled by it")
	}
	again := &Render{Inputs: opts, OutDir: out, AllowMissingCharts: true}
	if err := again.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if again.Report.Changed() {
		t.Fatalf("a second render changed %v %v", again.Report.Written, again.Report.Removed)
	}
}

// TestBadBrandingChangesNothing: a logo that is no image is refused with
// its field before the state folder exists.
func TestBadBrandingChangesNothing(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	notImage := filepath.Join(t.TempDir(), "logo.png")
	os.WriteFile(notImage, []byte("GIF89a not really"), 0o644)
	r := &Render{Inputs: InputOptions{ConfigPath: "../examples/branding/appliance.yaml", StateDir: state,
		Sets: []string{"branding.logo=" + notImage}}, OutDir: t.TempDir()}
	err := r.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "branding.logo: "+notImage+" is not a PNG, ICO or SVG file") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("a rejected branding created the state folder")
	}
}
