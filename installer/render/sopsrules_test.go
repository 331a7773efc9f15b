package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Each environment's rule is replaced in place; every other rule (another environment's, an
// operator's own) is kept as it was, in its order; the root rule of the layout before
// environments goes only with that layout.
func TestSOPSRulesMergePerEnvironment(t *testing.T) {
	existing := []byte(sopsHeader + `creation_rules:
  - path_regex: ops/.*\.yaml$
    pgp: FINGERPRINT
  - path_regex: secrets/.*\.yaml$
    age: age1legacy
` + "")
	merged, err := mergeSOPSRules(existing, sopsRules("staging", []string{"age1staging"}), false)
	if err != nil {
		t.Fatal(err)
	}
	merged, err = mergeSOPSRules(merged, sopsRules("production", []string{"age1prod"}), false)
	if err != nil {
		t.Fatal(err)
	}
	again, err := mergeSOPSRules(merged, sopsRules("staging", []string{"age1staging", "age1operator"}), false)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		CreationRules []map[string]any `json:"creation_rules"`
	}
	if err := yaml.Unmarshal(again, &f); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.CreationRules {
		got = append(got, r["path_regex"].(string)+" "+strings.TrimSpace(stringOr(r["age"])+" "+stringOr(r["pgp"])))
	}
	want := []string{`ops/.*\.yaml$ FINGERPRINT`, `secrets/.*\.yaml$ age1legacy`,
		`(^|/)environments/staging/secrets/.*\.yaml$ age1staging,age1operator`, `(^|/)environments/production/secrets/.*\.yaml$ age1prod`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	dropped, err := mergeSOPSRules(again, sopsRules("production", []string{"age1prod"}), true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dropped), "age1legacy") || !strings.Contains(string(dropped), "FINGERPRINT") || !strings.Contains(string(dropped), "age1operator") {
		t.Errorf("the legacy rule must go, the others stay:\n%s", dropped)
	}
	if _, err := mergeSOPSRules([]byte("creation_rules: {"), sopsRules("staging", nil), false); err == nil {
		t.Error("an unreadable .sops.yaml was overwritten")
	}
}

func stringOr(v any) string { s, _ := v.(string); return s }

// The layout before environments was the default environment's: production's render removes
// it (Flux's old sync folder included), a staging render sharing the repository leaves it.
func TestLegacyLayoutIsTheDefaultEnvironments(t *testing.T) {
	legacy := []string{"clusters/appliance/apps.yaml", "clusters/appliance/flux-system/gotk-sync.yaml", "layers/apps/kustomization.yaml",
		"infrastructure/operator/deployment.yaml", "apps/docs/deployment.yaml", "secrets/docs/docs-backend.yaml", "appliance.yaml"}
	for _, env := range []string{"staging", "production"} {
		t.Run(env, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range legacy {
				_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, p), []byte("legacy"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f := newFixture(t, "single-small", "environment="+env)
			rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range legacy {
				_, err := os.Stat(filepath.Join(dir, p))
				if gone := os.IsNotExist(err); gone != (env == "production") {
					t.Errorf("%s: removed %v", p, gone)
				}
			}
			if env == "staging" && strings.Join(rep.SharedWith, ",") != "production" {
				t.Errorf("staging shares the repository with %v", rep.SharedWith)
			}
		})
	}
}

// The other environments of a repository are read from its folders; the old layout's
// clusters/appliance stands for the default environment, except to an environment of that name.
func TestOtherEnvironments(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"environments/staging", "environments/qa", "clusters/staging", "clusters/appliance"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for env, want := range map[string]string{"staging": "production,qa", "production": "qa,staging", "appliance": "qa,staging"} {
		got, err := otherEnvironments(dir, env)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("%s: %v %v, want %s", env, got, err, want)
		}
	}
}
