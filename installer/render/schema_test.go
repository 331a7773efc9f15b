package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// crdsDir is where the upstream CRDs of the pinned versions are: $CRDS_DIR,
// or ../shared/crds beside the repository (never inside it: they are
// upstream data, fetched by `make crds` on a connected machine).
func crdsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CRDS_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "crds")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("finding the repository root: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// upstreamCRDs reads every CRD file under dir. Gateway API comes in two
// channels with the same names: Envoy Gateway's chart installs the
// experimental one, so the standard one is skipped.
func upstreamCRDs(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasSuffix(p, filepath.Join("gateway-api-v1.6.1", "standard")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		objs, err := cluster.DecodeObjects(data)
		if err != nil {
			return fmt.Errorf("decoding %s: %w", p, err)
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				out = append(out, o)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the upstream CRDs in %s: %v", dir, err)
	}
	return out
}

// renderedObjects are every object of a rendered repository that an API
// server would receive: all YAML but kustomize's own files, Secrets in
// their plain form, and the throwaway cluster the restore check creates
// (it lives inside a ConfigMap, but it is applied all the same).
func renderedObjects(t *testing.T, res *Result) (crds, objs []*unstructured.Unstructured) {
	t.Helper()
	// What the environment applies (its overlays build to exactly this: overlay_test.go),
	// and its Secrets.
	files := effectiveFiles(t, res)
	for _, f := range res.Files {
		if f.Secret {
			files = append(files, f)
		}
	}
	for _, f := range files {
		decoded, err := cluster.DecodeObjects(f.Content)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		for _, o := range decoded {
			switch {
			case o.GetKind() == "CustomResourceDefinition":
				crds = append(crds, o)
			case o.GetKind() == "ConfigMap" && o.GetName() == restoreCheck:
				objs = append(objs, o)
				data, _, _ := unstructured.NestedStringMap(o.Object, "data")
				inner, err := cluster.DecodeObjects([]byte(data["cluster.json"]))
				if err != nil || len(inner) != 1 {
					t.Fatalf("the restore-check ConfigMap holds no cluster: %v", err)
				}
				objs = append(objs, inner...)
			default:
				objs = append(objs, o)
			}
		}
	}
	return crds, objs
}

// TestRenderedObjectsMatchUpstreamSchemas installs the upstream CRDs of
// the train's versions on a real API server and sends every rendered
// object of every combination as a server-side dry-run create with strict
// field validation: a misspelt field, a wrong type or a value a CRD
// forbids fails here, not on a customer's server.
func TestRenderedObjectsMatchUpstreamSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real API server (envtest kit)")
	}
	dir := crdsDir(t)
	kit.File(t, dir, "the upstream CRDs of the train's versions", "set CRDS_DIR to their folder, or run `make crds` on a connected machine")
	env := envtest.New(t)
	cfg := rest.CopyConfig(env.Config)
	warnings := &cluster.WarningLog{}
	cfg.WarningHandler = warnings
	c, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	upstream := upstreamCRDs(t, dir)
	if len(upstream) < 80 {
		t.Fatalf("only %d CRDs in %s: the folder is incomplete", len(upstream), dir)
	}
	start := time.Now()
	if _, err := c.Apply(ctx, upstream, cluster.ApplyOptions{CRDTimeout: 3 * time.Minute}); err != nil {
		t.Fatalf("installing the upstream CRDs: %v", err)
	}
	t.Logf("%d upstream CRDs established in %s", len(upstream), time.Since(start).Round(time.Millisecond))
	installed := map[string]bool{}
	for _, crd := range upstream {
		installed[crd.GetName()] = true
	}

	total := 0
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			res := comboFixture(t, cb).render(t)
			crds, objs := renderedObjects(t, res)
			// Fixture charts' own CRDs (example.org) are installed; a
			// rendered CRD the upstream folder has (Keycloak's, from the
			// fixture chart standing for it) must not replace the real one.
			var extra []*unstructured.Unstructured
			for _, crd := range crds {
				if !installed[crd.GetName()] {
					extra = append(extra, crd)
				}
			}
			// Flux's namespace is made by its bootstrap, not by the render.
			fluxNS := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "flux-system"},
			}}
			namespaces, rest := []*unstructured.Unstructured{fluxNS}, []*unstructured.Unstructured{}
			for _, o := range objs {
				if o.GetKind() == "Namespace" {
					namespaces = append(namespaces, o)
				} else {
					rest = append(rest, o)
				}
			}
			// Namespaces are created for real: a dry-run create inside a
			// namespace that does not exist fails for that reason alone.
			if _, err := c.Apply(ctx, append(extra, namespaces...), cluster.ApplyOptions{}); err != nil {
				t.Fatalf("creating the CRDs of fixture charts and the namespaces: %v", err)
			}
			var failures []string
			kinds := map[string]int{}
			foreign := 0
			for _, o := range rest {
				warnings.Reset()
				if err := dryRunCreate(ctx, c, o); err != nil {
					failures = append(failures, err.Error())
				}
				kinds[o.GetAPIVersion()+" "+o.GetKind()]++
				// The appliance's own pods meet the restricted level: the
				// API server's Pod Security check (audit and warn are
				// restricted everywhere) must have nothing to say.
				for _, w := range warnings.Texts() {
					switch {
					case !strings.Contains(w, "PodSecurity"):
					case o.GetLabels()["app.kubernetes.io/part-of"] == "docs-appliance":
						failures = append(failures, fmt.Sprintf("%s %s/%s: %s", o.GetKind(), o.GetNamespace(), o.GetName(), w))
					default:
						foreign++ // fixture charts' pods, which set no security context
					}
				}
			}
			total += len(rest) + len(namespaces)
			sort.Strings(failures)
			for _, f := range failures {
				t.Error(f)
			}
			t.Logf("%d objects of %d kinds accepted by the API server's schemas; %d Pod Security warnings, all about fixture charts",
				len(rest)+len(namespaces)-len(failures), len(kinds), foreign)
			if foreign == 0 {
				t.Error("no Pod Security warning at all: the check of the appliance's pods is not seeing the API server's warnings")
			}
		})
	}
	t.Logf("%d objects checked in all", total)
}

func dryRunCreate(ctx context.Context, c *cluster.Client, o *unstructured.Unstructured) error {
	id := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	gvk := o.GroupVersionKind()
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.Mapper.Reset()
		if mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("%s: the API server does not serve %s: %v", id, gvk, err)
		}
	}
	ri := c.Dynamic.Resource(mapping.Resource)
	var create func() error
	opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}
	if mapping.Scope.Name() == "namespace" {
		if o.GetNamespace() == "" {
			return fmt.Errorf("%s: namespaced but rendered without a namespace", id)
		}
		create = func() error { _, err := ri.Namespace(o.GetNamespace()).Create(ctx, o, opts); return err }
	} else {
		if o.GetNamespace() != "" {
			return fmt.Errorf("%s: cluster-scoped but rendered with a namespace", id)
		}
		create = func() error { _, err := ri.Create(ctx, o, opts); return err }
	}
	err = create()
	var status apierrors.APIStatus
	if errors.As(err, &status) && apierrors.IsAlreadyExists(err) {
		return nil // created for real earlier (a namespace)
	}
	if err != nil {
		body, _ := yaml.Marshal(o.Object)
		return fmt.Errorf("%s rejected: %v\n%s", id, err, indent(string(body), "    | "))
	}
	return nil
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
