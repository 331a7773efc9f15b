package installer

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// legacyClusterDir is where Flux synced an appliance installed before environments existed.
const legacyClusterDir = "clusters/appliance"

// EnvironmentChangeError: the config moves an installed appliance to another environment (or an
// appliance installed before environments, which Flux syncs from clusters/appliance, onto
// clusters/<env>). Flux's bootstrap refuses to change the sync path of an existing
// Kustomization ("sync path … would overwrite path …"), and by then the render is committed:
// install refuses the change before anything is written.
type EnvironmentChangeError struct {
	// SavedConfig is the file that says how the appliance was installed.
	SavedConfig string
	// From is the installed environment ("" for the layout before environments), To the asked one.
	From, To string
}

// Legacy says the appliance was installed before environments existed.
func (e *EnvironmentChangeError) Legacy() bool { return e.From == "" }

func (e *EnvironmentChangeError) Error() string {
	instead := "moving an installed appliance between environments is a migration, not a config change: " +
		"back up the appliance (age key, database, media), install the new environment as a separate appliance " +
		"(its own cluster and --state-dir, the same git repository), move the data there, then reset this one"
	if e.Legacy() {
		return fmt.Sprintf("environment: this appliance was installed before environments existed (%s names none): Flux syncs %s, "+
			"and its bootstrap cannot move that to %s (fix: change its config with the docs-appliance release that installed it "+
			"until an upgrade moves the layout; %s)",
			e.SavedConfig, legacyClusterDir, render.ClusterDir(e.To), instead)
	}
	return fmt.Sprintf("environment: this appliance is installed as %q (%s) and the config asks for %q: Flux syncs %s, and its "+
		"bootstrap cannot move that to %s (fix: keep environment: %s, e.g. --set environment=%s; %s)",
		e.From, e.SavedConfig, e.To, render.ClusterDir(e.From), render.ClusterDir(e.To), e.From, e.From, instead)
}

// checkEnvironmentKept refuses a config whose environment is not the one the appliance of this
// state folder was installed with. A state folder without a saved config is a first install.
// The saved config is read raw: a config saved before environments existed has no
// environment key, and defaulting it would hide that Flux syncs clusters/appliance.
func checkEnvironmentKept(stateDir string, cfg *config.Config) error {
	path := SavedConfigPath(stateDir)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the appliance's saved config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("reading the appliance's saved config %s: %w", path, err)
	}
	saved, named := raw["environment"].(string)
	if !named || saved == "" {
		return &EnvironmentChangeError{SavedConfig: path, To: cfg.Environment}
	}
	if saved != cfg.Environment {
		return &EnvironmentChangeError{SavedConfig: path, From: saved, To: cfg.Environment}
	}
	return nil
}
