package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// installedState is a state folder as an install of examples/appliance.yaml leaves it: the
// saved config (raw, as the release that installed it wrote it).
func installedState(t *testing.T, saved []byte) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(SavedConfigPath(state), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	return state
}

func savedExample(t *testing.T, env string) []byte {
	t.Helper()
	cfg, err := config.Load("../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve([]string{"environment=" + env}); err != nil {
		t.Fatal(err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The defect: changing environment on an installed appliance failed inside Flux's bootstrap,
// after the render was committed. Install must refuse it while reading its inputs, before the
// state folder, the cluster or the repository change.
func TestInstallRefusesAChangedEnvironmentFirst(t *testing.T) {
	saved := savedExample(t, "production")
	for _, tc := range []struct {
		name  string
		saved []byte
		want  []string
	}{
		{"changed", saved, []string{`installed as "production"`, `asks for "staging"`, "clusters/production", "--set environment=production", "migration"}},
		// A config saved before environments existed names none: Flux syncs clusters/appliance.
		{"legacy", []byte(strings.Replace(string(saved), "environment: production\n", "", 1)), []string{"before environments", "clusters/appliance", "clusters/staging", "migration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "legacy" && strings.Contains(string(tc.saved), "environment:") {
				t.Fatal("the legacy fixture still names an environment")
			}
			state := installedState(t, tc.saved)
			in := &Install{Inputs: InputOptions{StateDir: state, Sets: []string{"environment=staging"}},
				NonInteractive: true, Kubeconfig: "unused"}
			err := in.Run(context.Background(), status.Discard())
			var ec *EnvironmentChangeError
			if !errors.As(err, &ec) {
				t.Fatalf("err = %v, want an EnvironmentChangeError", err)
			}
			for _, w := range append(tc.want, "environment:") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if got, _ := os.ReadFile(SavedConfigPath(state)); string(got) != string(tc.saved) {
				t.Error("the saved config changed")
			}
			entries, _ := os.ReadDir(state)
			for _, e := range entries {
				if e.Name() != filepath.Base(SavedConfigPath(state)) && !strings.HasPrefix(e.Name(), ".") {
					t.Errorf("the refused install left %s in the state folder", e.Name())
				}
			}
		})
	}
}

func TestEnvironmentKeptPasses(t *testing.T) {
	cfg := &config.Config{Environment: "production"}
	if err := checkEnvironmentKept(t.TempDir(), cfg); err != nil {
		t.Fatalf("a first install (no saved config) was refused: %v", err)
	}
	if err := checkEnvironmentKept(installedState(t, savedExample(t, "production")), cfg); err != nil {
		t.Fatalf("the same environment was refused: %v", err)
	}
}
