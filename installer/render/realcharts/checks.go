package realcharts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// checkRefs resolves every Secret and ConfigMap reference of the render.
func checkRefs(objs []object, certManagerNS string, r *VariantResult) {
	s := newStore(objs, certManagerNS)
	var all []ref
	for _, o := range objs {
		all = append(all, refsOf(o, certManagerNS)...)
	}
	sort.Slice(all, func(i, j int) bool {
		return all[i].from+all[i].field+all[i].key < all[j].from+all[j].field+all[j].key
	})
	for _, rf := range all {
		how, err := s.resolve(rf)
		if err != nil {
			r.reject("reference", rf.from, fmt.Sprintf("%s names %s %s/%s%s: %v", rf.field, rf.kind, rf.namespace, rf.name, keySuffix(rf.key), err))
			continue
		}
		r.Refs++
		if strings.HasPrefix(how, "made at run time") {
			r.RuntimeRefs++
		}
	}
}

func keySuffix(k string) string {
	if k == "" {
		return ""
	}
	return " key " + k
}

// checkImages reports every image a rendered object names that the train
// does not pin: under an image or imageName field anywhere (containers of
// every kind of workload, operators' custom resources), plus what render
// itself found.
func checkImages(objs []object, res *render.Result, t *bundles.Train, r *VariantResult) {
	pinned := map[string]bool{}
	for _, im := range t.Images {
		pinned[im.Reference], pinned[im.Pinned()] = true, true
		if im.Digest != "" {
			pinned[im.Repository()+"@"+im.Digest] = true
		}
	}
	used, flagged, reported := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, o := range objs {
		g := o.GroupVersionKind().Group
		if g == "kyverno.io" || g == "policies.kyverno.io" || o.GetKind() == "Secret" || o.GetKind() == "ConfigMap" {
			continue // patterns and text, not images
		}
		for _, im := range imageFields(o.Object) {
			used[im] = true
			if !pinned[im] && !reported[o.id()+" "+im] {
				reported[o.id()+" "+im], flagged[im] = true, true
				r.reject("image", o.id(), fmt.Sprintf("uses %s, which train %s does not pin (fix: pin it in the train's images, or set the chart value that picks a pinned image)", im, t.Name))
			}
		}
	}
	// Render's own finding names the object, the field and the fix (it looks in places the
	// walk above does not: env values, arguments, objects inside ConfigMaps).
	for _, u := range res.UnpinnedImages {
		if !flagged[u.Image] {
			flagged[u.Image] = true
			r.reject("image", u.Kind+" "+u.Namespace+"/"+u.Name, u.String())
		}
	}

	r.Images = len(used)
}

func imageFields(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if s, ok := c.(string); ok && (k == "image" || k == "imageName") && s != "" {
					out = append(out, s)
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// checkSOPS writes the repository as install does (secrets encrypted with
// SOPS for the appliance's age key) and decrypts every encrypted file with
// the real sops CLI: each must give back the plain Secret render made, and
// every value of it must be encrypted in the file.
func checkSOPS(ctx context.Context, sops string, res *render.Result, in *installer.Inputs, dir string, r *VariantResult) error {
	if err := render.ClaimDir(dir); err != nil {
		return err
	}
	if _, err := render.Write(dir, res, in.Store.Identity(), in.Recipients()); err != nil {
		r.reject("sops", dir, fmt.Sprintf("writing the repository: %v", err))
		return nil
	}
	for _, f := range res.Files {
		if !f.Secret {
			continue
		}
		enc, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			r.reject("sops", f.Path, fmt.Sprintf("reading the written file: %v", err))
			continue
		}
		cmd := exec.CommandContext(ctx, sops, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", filepath.Join(dir, filepath.FromSlash(f.Path)))
		// The key file by path in the environment: never a key on a command line.
		cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+in.Store.KeyPath())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			r.reject("sops", f.Path, fmt.Sprintf("sops --decrypt: %v: %s", err, strings.TrimSpace(stderr.String())))
			continue
		}
		var got, want map[string]any
		if err := yaml.Unmarshal(out, &got); err != nil {
			r.reject("sops", f.Path, fmt.Sprintf("sops --decrypt gave no YAML object: %v", err))
			continue
		}
		if err := yaml.Unmarshal(f.Content, &want); err != nil {
			r.reject("sops", f.Path, fmt.Sprintf("the plain Secret is no YAML object: %v", err))
			continue
		}
		if !reflect.DeepEqual(got, want) {
			r.reject("sops", f.Path, "sops --decrypt gives another object than the Secret render made (keys: "+strings.Join(diffKeys(got, want), ", ")+")")
			continue
		}
		if leaked := plainValues(enc); len(leaked) > 0 {
			r.reject("sops", f.Path, "not encrypted in the written file: "+strings.Join(leaked, ", "))
			continue
		}
		r.Decrypted++
	}
	return nil
}

// diffKeys names the top-level and data keys whose values differ (never
// the values: they are secrets).
func diffKeys(got, want map[string]any) []string {
	var out []string
	for _, field := range []string{"data", "stringData"} {
		g, _ := got[field].(map[string]any)
		w, _ := want[field].(map[string]any)
		for k := range w {
			if !reflect.DeepEqual(g[k], w[k]) {
				out = append(out, field+"."+k)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				out = append(out, field+"."+k+" (extra)")
			}
		}
	}
	for k := range want {
		if k != "data" && k != "stringData" && !reflect.DeepEqual(got[k], want[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// plainValues lists the data and stringData keys of an encrypted file
// whose value is not a SOPS ENC[...] string, and says so when the file
// carries no sops metadata at all.
func plainValues(enc []byte) []string {
	var doc map[string]any
	if err := yaml.Unmarshal(enc, &doc); err != nil {
		return []string{"the file is no YAML object"}
	}
	var out []string
	if _, ok := doc["sops"].(map[string]any); !ok {
		out = append(out, "no sops metadata")
	}
	for _, field := range []string{"data", "stringData"} {
		m, _ := doc[field].(map[string]any)
		for k, v := range m {
			if s, _ := v.(string); !strings.HasPrefix(s, "ENC[") {
				out = append(out, field+"."+k)
			}
		}
	}
	sort.Strings(out)
	return out
}
