package upgrade

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

func TestDiffFilesComparesSecretsDecrypted(t *testing.T) {
	secret := func(v string) []byte {
		return []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  token: " + v + "\n  same: kept-value\n")
	}
	before := []File{
		{Path: "base/apps/app/deployment.yaml", Content: []byte("image: a:v1\nreplicas: 1\n")},
		{Path: "environments/production/secrets/app/s.yaml", Content: secret("old-secret-value"), Secret: true},
		{Path: "environments/production/secrets/app/kept.yaml", Content: secret("unchanged-value"), Secret: true},
		{Path: "base/apps/gone/configmap.yaml", Content: []byte("a: 1\n")},
	}
	after := []File{
		{Path: "base/apps/app/deployment.yaml", Content: []byte("image: a:v2\nreplicas: 1\n")},
		{Path: "environments/production/secrets/app/s.yaml", Content: secret("new-secret-value"), Secret: true},
		{Path: "environments/production/secrets/app/kept.yaml", Content: secret("unchanged-value"), Secret: true},
		{Path: "clusters/production/apps.yaml", Content: []byte("kind: Kustomization\n")},
	}
	changes := DiffFiles(before, after)
	got := map[string]FileChange{}
	for _, c := range changes {
		got[c.Path] = c
	}
	if len(changes) != 4 {
		t.Fatalf("changes = %+v", changes)
	}
	if _, ok := got["environments/production/secrets/app/kept.yaml"]; ok {
		t.Error("a Secret whose decrypted content is the same counted as changed")
	}
	s := got["environments/production/secrets/app/s.yaml"]
	if !s.Secret || strings.Join(s.Keys, ",") != "token" || !strings.Contains(s.Diff, "re-encrypted, values changed") {
		t.Errorf("secret change = %+v", s)
	}
	d := got["base/apps/app/deployment.yaml"]
	if d.Component != "app" || d.Added != 1 || d.Removed != 1 || !strings.Contains(d.Diff, "-image: a:v1\n+image: a:v2\n") {
		t.Errorf("deployment change = %+v", d)
	}
	if got["base/apps/gone/configmap.yaml"].Change != "removed" || got["clusters/production/apps.yaml"].Component != "flux" {
		t.Errorf("removed/added = %+v", changes)
	}
	all, _ := json.Marshal(changes)
	for _, v := range []string{"old-secret-value", "new-secret-value", "unchanged-value", "kept-value"} {
		if strings.Contains(string(all), v) {
			t.Errorf("a secret value (%s) is in the changes", v)
		}
	}
	sum := Summarize(changes)
	if len(sum) != 4 || sum[0].Name != "app" || sum[3].Name != "secrets/app" || sum[3].Secrets != 1 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestComponentOf(t *testing.T) {
	for path, want := range map[string]string{
		"base/operators/cert-manager/deployment-x.yaml":                  "cert-manager",
		"base/apps/kustomization.yaml":                                   "apps",
		"environments/staging/apps/docs/configmap.yaml":                  "docs",
		"environments/staging/apps/patches/docs/deployment-backend.yaml": "docs",
		"environments/staging/secrets/docs/docs-oidc.yaml":               "secrets/docs",
		"environments/staging/appliance.yaml":                            "environment",
		"environments/staging/apps/kustomization.yaml":                   "apps",
		"clusters/staging/apps.yaml":                                     "flux",
		"README.md":                                                      "repository",
		"ci/validate.sh":                                                 "repository",
	} {
		if got := ComponentOf(path); got != want {
			t.Errorf("ComponentOf(%s) = %s, want %s", path, got, want)
		}
	}
}

func TestNewImagesAndVersions(t *testing.T) {
	from := &bundles.Train{Name: "2099.01", Images: []bundles.Image{
		{Reference: "r.test/a:v1", Size: 100}, {Reference: "r.test/b:v1", Size: 50}, {Reference: "r.test/gone:v1"}}}
	to := &bundles.Train{Name: "2099.02", Images: []bundles.Image{
		{Reference: "r.test/a:v2", Size: 200}, {Reference: "r.test/b:v1", Size: 50}, {Reference: "r.test/new:v1"}}}
	n := newImages(from, to)
	if n.Count != 2 || n.Bytes != 200 || strings.Join(n.WithoutSize, ",") != "r.test/new:v1" {
		t.Errorf("new images = %+v", n)
	}
	_, _, _, _, _, images := versionChanges(from, to)
	var got []string
	for _, c := range images {
		got = append(got, c.Name+"="+c.From+">"+c.To)
	}
	if strings.Join(got, " ") != "r.test/a=v1>v2 r.test/gone=v1> r.test/new=>v1" {
		t.Errorf("image changes = %v", got)
	}
}

func TestPlanExitCodes(t *testing.T) {
	hop := []Hop{{From: "2099.01", To: "2099.02"}}
	for _, tc := range []struct {
		gates []Gate
		hops  []Hop
		code  int
	}{
		{[]Gate{{ID: "a", Outcome: Pass}}, hop, 0},
		{[]Gate{{ID: "a", Outcome: Pass}, {ID: "b", Outcome: NotChecked}}, hop, ExitGateWarned},
		{[]Gate{{ID: "a", Outcome: Fail}, {ID: "b", Outcome: Warn}}, hop, ExitGateFailed},
		// Nothing to upgrade: no gate matters.
		{[]Gate{{ID: "a", Outcome: Fail}}, nil, 0},
	} {
		err := (&Plan{Gates: tc.gates, Hops: tc.hops}).Err()
		var ge *GatesError
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("%+v: err = %v", tc.gates, err)
		case tc.code != 0 && (!errors.As(err, &ge) || ge.ExitCode() != tc.code):
			t.Errorf("%+v: err = %v, want exit %d", tc.gates, err, tc.code)
		}
	}
}
