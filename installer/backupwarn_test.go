package installer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// TestEmbeddedBackupTargetIsWarnedAbout: render and the install plan say
// that backups on this server's disk are no backup; an external target
// draws no such warning.
func TestEmbeddedBackupTargetIsWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		warn bool
	}{
		{"embedded", nil, true},
		{"external", []string{"backup.mode=external", "backup.endpoint=https://backup.example.net", "backup.bucket=docs-backups"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			keys := t.TempDir()
			var secretFiles []string
			if !tc.warn {
				for _, n := range []string{config.SecretBackupAccessKeyID, config.SecretBackupSecretAccessKey} {
					secretFiles = append(secretFiles, n+"="+writeSecretFile(t, keys, n, "value-of-"+n))
				}
			}
			var log bytes.Buffer
			r := &Render{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state, Sets: tc.sets, SecretFiles: secretFiles},
				OutDir: t.TempDir(), AllowMissingCharts: true}
			if err := r.Run(context.Background(), status.New(&log, status.Plain)); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			said := strings.Contains(log.String(), "the same disk is not a backup: set backup.mode external")
			if said != tc.warn {
				t.Errorf("render warned %v, want %v:\n%s", said, tc.warn, log.String())
			}
			plan := newPlan(r.In, r.Result, r.OutDir, true, nil)
			var text bytes.Buffer
			if err := plan.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(text.String(), "the same disk is not a backup"); got != tc.warn {
				t.Errorf("the plan warned %v, want %v:\n%s", got, tc.warn, text.String())
			}
		})
	}
}

// writeSecretFile writes one secret's value to a 0600 file, as an
// operator gives it with --secret NAME=FILE.
func writeSecretFile(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
