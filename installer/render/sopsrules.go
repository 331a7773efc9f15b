package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// .sops.yaml is shared: each environment's appliance has its own age key, so each
// environment has its own creation rule for its own secrets folder. A render brings its
// environment's rule; Write replaces that rule in place and keeps every other one (another
// environment's, or an operator's own) as it was.

const sopsHeader = "# Rules for the sops CLI; Flux decrypts with the flux-system/sops-age key.\n" +
	"# One rule per environment: each environment's secrets are encrypted for its appliance's key.\n"

// legacySOPSPath is the rule of the layout before environments (secrets/ at the root).
const legacySOPSPath = `secrets/.*\.yaml$`

// sopsPathRegex matches an environment's secrets, and nothing of another environment's.
func sopsPathRegex(env string) string {
	return `(^|/)environments/` + regexp.QuoteMeta(env) + `/secrets/.*\.yaml$`
}

func sopsRule(env string, recipients []string) map[string]any {
	return map[string]any{"path_regex": sopsPathRegex(env), "encrypted_regex": secrets.EncryptedRegex, "age": strings.Join(recipients, ",")}
}

// sopsRules is the .sops.yaml of one environment alone.
func sopsRules(env string, recipients []string) []byte {
	out, err := encodeSOPSRules([]any{sopsRule(env, recipients)})
	if err != nil {
		// Strings only: always encodes.
		panic(fmt.Sprintf("encoding .sops.yaml: %v", err))
	}
	return out
}

type sopsFile struct {
	CreationRules []any `json:"creation_rules"`
}

func encodeSOPSRules(rules []any) ([]byte, error) {
	data, err := yaml.Marshal(sopsFile{CreationRules: rules})
	if err != nil {
		return nil, err
	}
	return append([]byte(sopsHeader), data...), nil
}

// mergeSOPSRules puts the rule of mine (one environment's file) into existing, replacing
// that environment's rule in place; dropLegacy also drops the root secrets/ rule of the
// layout before environments, when that layout was this environment's.
func mergeSOPSRules(existing, mine []byte, dropLegacy bool) ([]byte, error) {
	var own, cur sopsFile
	if err := yaml.Unmarshal(mine, &own); err != nil || len(own.CreationRules) != 1 {
		return nil, fmt.Errorf("merging .sops.yaml: the render's rules are not one rule")
	}
	if len(bytes.TrimSpace(existing)) > 0 {
		if err := yaml.Unmarshal(existing, &cur); err != nil {
			return nil, fmt.Errorf("merging .sops.yaml: reading the repository's rules: %w", err)
		}
	}
	ownPath := ruleRegex(own.CreationRules[0])
	var out []any
	placed := false
	for _, r := range cur.CreationRules {
		switch p := ruleRegex(r); {
		case p == ownPath:
			if !placed {
				out = append(out, own.CreationRules[0])
				placed = true
			}
		case dropLegacy && p == legacySOPSPath:
		default:
			out = append(out, r)
		}
	}
	if !placed {
		out = append(out, own.CreationRules[0])
	}
	return encodeSOPSRules(out)
}

func ruleRegex(r any) string {
	m, _ := r.(map[string]any)
	s, _ := m["path_regex"].(string)
	return s
}
