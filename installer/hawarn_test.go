package installer

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Profile ha with the embedded object store: render and the install plan say it is a single
// point of failure; with external S3, or on one server, nothing is said.
func TestHAWithEmbeddedStorageIsWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sets     []string
		external bool
		warn     bool
	}{
		{"ha embedded", []string{"profile=ha"}, false, true},
		{"ha external", []string{"profile=ha", "storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.bucket=docs"}, true, false},
		{"single embedded", []string{"profile=single"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := t.TempDir()
			var secretFiles []string
			if tc.external {
				for _, n := range []string{"storage.accessKeyID", "storage.secretAccessKey"} {
					secretFiles = append(secretFiles, n+"="+writeSecretFile(t, keys, n, "value-of-"+n))
				}
			}
			var log bytes.Buffer
			r := &Render{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: filepath.Join(t.TempDir(), "state"), Sets: tc.sets, SecretFiles: secretFiles},
				OutDir: t.TempDir(), AllowMissingCharts: true}
			if err := r.Run(context.Background(), status.New(&log, status.Plain)); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			const said = "ha with embedded storage is a single point of failure: use external S3"
			if got := strings.Contains(log.String(), said); got != tc.warn {
				t.Errorf("render warned %v, want %v:\n%s", got, tc.warn, log.String())
			}
			var text bytes.Buffer
			if err := newPlan(r.In, r.Result, r.OutDir, true, nil).WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(text.String(), said); got != tc.warn {
				t.Errorf("the plan warned %v, want %v:\n%s", got, tc.warn, text.String())
			}
		})
	}
}
