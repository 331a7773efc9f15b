package render

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// build runs kustomize (krusty, with its default, strictest load restrictions) on one
// folder of the repository and returns the objects by ID, normalised.
func build(t *testing.T, repo, dir string) map[string]any {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repo, filepath.FromSlash(dir)))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := map[string]any{}
	for _, r := range rm.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var o Object
		if err := yaml.Unmarshal(data, &o); err != nil {
			t.Fatal(err)
		}
		n, err := normalize(o)
		if err != nil {
			t.Fatal(err)
		}
		out[o.ID()] = n
	}
	return out
}

// applied is what the environment applies in one layer, by ID, normalised.
func applied(t *testing.T, res *Result, layer string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, u := range res.units {
		if u.layer != layer {
			continue
		}
		for _, o := range u.objs {
			n, err := normalize(o)
			if err != nil {
				t.Fatal(err)
			}
			out[o.ID()] = n
		}
	}
	return out
}

// writePlain puts the render's files on disk as they are (Secrets plain: kustomize builds
// an encrypted one the same way, and this keeps the test off SOPS).
func writePlain(t *testing.T, dir string, res *Result) {
	t.Helper()
	for _, f := range res.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func diffIDs(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: %s is missing from the build", what, id)
		} else if !reflect.DeepEqual(g, w) {
			gy, _ := yaml.Marshal(g)
			wy, _ := yaml.Marshal(w)
			t.Errorf("%s: %s builds to\n%s\nwant\n%s", what, id, gy, wy)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: the build has %s, which the environment does not apply", what, id)
		}
	}
}

// TestOverlaysBuildToTheRender: for every combination of modes, each Flux Kustomization's
// path builds (shared base folders, patches, deletions, the environment's own objects) to
// exactly the objects the environment applies in that layer.
func TestOverlaysBuildToTheRender(t *testing.T) {
	for _, c := range combos {
		t.Run(c.name, func(t *testing.T) {
			res := comboFixture(t, c).render(t)
			dir := t.TempDir()
			writePlain(t, dir, res)
			for _, l := range res.Layers {
				if l.Name == "secrets" {
					continue
				}
				diffIDs(t, l.Path, build(t, dir, l.Path), applied(t, res, l.Name))
			}
		})
	}
}

// tree reads every file under dir but .git, by slash path.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// changedPaths lists the paths whose content differs between two trees.
func changedPaths(a, b map[string][]byte) []string {
	var out []string
	for p, x := range a {
		if y, ok := b[p]; !ok || !bytes.Equal(x, y) {
			out = append(out, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TestTwoEnvironmentsShareOneRepository: a staging and a production appliance (other
// domain, other profile) render into one repository. Both environments are there over one
// base; each one's layers build to what it applies; neither render undoes the other; a
// change to one environment's config touches only that environment's files; a change to the
// base shows in both environments' builds and the write names the other environment.
func TestTwoEnvironmentsShareOneRepository(t *testing.T) {
	staging := newFixture(t, "single-small", "environment=staging", "domain=docs.staging.example.org")
	production := newFixture(t, "ha", "domain=docs.example.org", "extraDomains=docs.example.com")
	dir := t.TempDir()
	stagingRes, prodRes := staging.render(t), production.render(t)
	if _, err := Write(dir, stagingRes, staging.id, staging.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	rep, err := Write(dir, prodRes, production.id, production.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BaseChanged() || !reflect.DeepEqual(rep.SharedWith, []string{"staging"}) {
		t.Errorf("production's first write changed the base %v, shared with %v", rep.Base, rep.SharedWith)
	}
	for _, p := range []string{"clusters/staging/apps.yaml", "clusters/production/apps.yaml", "environments/staging/apps/kustomization.yaml",
		"environments/production/apps/kustomization.yaml", "environments/staging/secrets/kustomization.yaml", "environments/production/secrets/kustomization.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, env := range []struct {
		res  *Result
		name string
	}{{stagingRes, "staging"}, {prodRes, "production"}} {
		for _, l := range env.res.Layers {
			if !strings.HasPrefix(l.Path, "environments/"+env.name+"/") {
				t.Errorf("%s: layer %s has path %s", env.name, l.Name, l.Path)
			}
			k, _ := os.ReadFile(filepath.Join(dir, "clusters", env.name, l.Name+".yaml"))
			if !strings.Contains(string(k), "path: ./"+l.Path+"\n") {
				t.Errorf("%s: the Flux Kustomization of %s does not apply %s:\n%s", env.name, l.Name, l.Path, k)
			}
			if l.Name != "secrets" {
				diffIDs(t, env.name+" "+l.Name, build(t, dir, l.Path), applied(t, env.res, l.Name))
			}
		}
	}
	// Both build on the base: the crds layer shares its folders whole.
	for _, env := range []string{"staging", "production"} {
		k, _ := os.ReadFile(filepath.Join(dir, "environments", env, "crds", "kustomization.yaml"))
		if !strings.Contains(string(k), "../../../base/crds/") {
			t.Errorf("%s's crds layer does not build on the base:\n%s", env, k)
		}
	}
	// Each environment's secrets are encrypted for its own key, by its own rule.
	sops, _ := os.ReadFile(filepath.Join(dir, ".sops.yaml"))
	for _, w := range []string{"environments/staging/secrets/", "environments/production/secrets/"} {
		if !strings.Contains(string(sops), w) {
			t.Errorf(".sops.yaml lacks the rule of %s:\n%s", w, sops)
		}
	}

	// Rendering staging again, after production, changes nothing: they do not fight.
	before := tree(t, dir)
	again, err := Write(dir, staging.render(t), staging.id, staging.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || len(changedPaths(before, tree(t, dir))) > 0 {
		t.Errorf("staging's second write changed %v, removed %v", again.Written, again.Removed)
	}

	// A change to production's config touches production's files alone.
	changed := newFixture(t, "ha", "domain=docs.example.net")
	rep, err = Write(dir, changed.render(t), production.id, production.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	paths := changedPaths(before, tree(t, dir))
	if len(paths) == 0 {
		t.Fatal("the domain change changed nothing")
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "environments/production/") && !strings.HasPrefix(p, "clusters/production/") {
			t.Errorf("production's config change touched %s", p)
		}
	}
	if rep.BaseChanged() {
		t.Errorf("production's config change changed the base: %v", rep.Base)
	}

	// A change to the base (here a new digest of kubectl in the train, which the restore
	// check's CronJob runs, shared by both) shows in both environments' builds, and
	// production's write says staging shares it.
	const oldDigest, newDigest = "sha256:f292c81536e6b67075ee9c3802b7f1e0eec295217aa6f103bb2157c74ced4b8b", "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	upgraded := newFixture(t, "ha", "domain=docs.example.net")
	found := false
	for i, im := range upgraded.opts.Train.Images {
		if im.Digest == oldDigest {
			upgraded.opts.Train.Images[i].Digest, found = newDigest, true
		}
	}
	if !found {
		t.Fatal("the test train no longer pins kubectl at " + oldDigest)
	}
	rep, err = Write(dir, upgraded.render(t), production.id, production.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.BaseChanged() || !reflect.DeepEqual(rep.SharedWith, []string{"staging"}) {
		t.Fatalf("a new image in the base: base %v, shared with %v", rep.Base, rep.SharedWith)
	}
	for _, p := range rep.Base {
		if !strings.HasPrefix(p, "base/") {
			t.Errorf("%s is listed as the base's", p)
		}
	}
	for _, env := range []string{"staging", "production"} {
		cron, _ := yaml.Marshal(build(t, dir, "environments/"+env+"/platform")["batch/CronJob/database/restore-check"])
		if !bytes.Contains(cron, []byte(newDigest)) || bytes.Contains(cron, []byte(oldDigest)) {
			t.Errorf("%s's restore check does not run the base's new image:\n%s", env, cron)
		}
	}
	for _, p := range changedPaths(before, tree(t, dir)) {
		if strings.HasPrefix(p, "environments/staging/") || strings.HasPrefix(p, "clusters/staging/") {
			t.Errorf("production's render touched staging's %s", p)
		}
	}
}
