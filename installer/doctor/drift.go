package doctor

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// kustomizeController is the field manager Flux applies with: a
// server-side dry-run under its name answers "what would Flux change?",
// which is what drift means here. A field someone else added and Flux
// does not set is not drift (Flux would leave it too).
const kustomizeController = "kustomize-controller"

// Flux's own per-object switches: objects it never re-applies.
const (
	reconcileAnnotation = "kustomize.toolkit.fluxcd.io/reconcile"
	ssaAnnotation       = "kustomize.toolkit.fluxcd.io/ssa"
)

// Build is what Flux's kustomize-controller builds for one Kustomization
// from a checkout: its generator (a kustomization.yaml made when the folder
// has none, and the Kustomization's own patches, images, prefix and target
// namespace) then its secure build (no plugins, nothing outside the
// repository), both from fluxcd/pkg/kustomize, the library the controller
// uses. The generator writes into the folder: give it a checkout to spare.
func Build(repoDir string, k *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	path, _, _ := unstructured.NestedString(k.Object, "spec", "path")
	dir := filepath.Join(repoDir, filepath.FromSlash(strings.TrimPrefix(path, "./")))
	if _, err := fluxkustomize.NewGenerator(repoDir, *k).WriteFile(dir); err != nil {
		return nil, fmt.Errorf("building %s: %w", path, err)
	}
	rm, err := fluxkustomize.SecureBuild(repoDir, dir, false)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", path, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		// Through JSON: kyaml's maps hold Go ints, which unstructured's deep copy refuses.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", path, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("building %s: %w", path, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// desiredObjects is what Flux would apply for one Kustomization, with the
// labels it adds, minus what it does not re-apply. Secrets are left out:
// in Git they are encrypted (secrets-decrypt checks them).
func desiredObjects(repoDir string, k gitops.LiveKustomization) ([]*unstructured.Unstructured, error) {
	objs, err := Build(repoDir, k.Object)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		a := o.GetAnnotations()
		if o.GetKind() == "Secret" && o.GetAPIVersion() == "v1" || a[reconcileAnnotation] == "disabled" || a[ssaAnnotation] == "IfNotPresent" {
			continue
		}
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kustomize.toolkit.fluxcd.io/name"] = k.Name
		labels["kustomize.toolkit.fluxcd.io/namespace"] = gitops.FluxNamespace
		o.SetLabels(labels)
		out = append(out, o)
	}
	return out, nil
}

func checkDrift(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	if e.Repo == nil {
		return Fail(repoFix(e), "the desired state could not be read to compare: %v", e.RepoErr)
	}
	ks, err := gitops.ListKustomizations(ctx, e.Kube)
	if err != nil {
		return apiError("reading Flux's layers", err)
	}
	var objs []*unstructured.Unstructured
	for _, k := range ks {
		if k.Path == "" || k.Object == nil {
			continue
		}
		d, err := desiredObjects(e.Repo.Dir, k)
		if err != nil {
			return Fail("the repository does not build: docs-appliance validate shows where; git revert the commit that broke it", "%v", err)
		}
		objs = append(objs, d...)
	}
	changed, missing, err := dryRunAll(ctx, e.Kube, objs)
	if err != nil {
		return apiError("comparing the cluster with Git", err)
	}
	if len(changed)+len(missing) == 0 {
		return Pass("%d object(s) as in Git", len(objs))
	}
	var parts []string
	if len(changed) > 0 {
		parts = append(parts, "changed by hand: "+limitList(changed, 8))
	}
	if len(missing) > 0 {
		parts = append(parts, "deleted: "+limitList(missing, 8))
	}
	return Fail("changes belong in Git: make the change there (docs-appliance install --set ..., or a commit), or let Flux undo it now: flux reconcile kustomization NAME --with-source",
		"%d of %d object(s) differ from Git: %s", len(changed)+len(missing), len(objs), strings.Join(parts, "; "))
}

// dryRunAll dry-runs the objects a few at a time (each is a read and an
// apply round trip) and sorts them into changed and missing.
func dryRunAll(ctx context.Context, c *cluster.Client, objs []*unstructured.Unstructured) (changed, missing []string, err error) {
	const workers = 8
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	next := make(chan *unstructured.Unstructured)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				ch, err := c.Apply(ctx, []*unstructured.Unstructured{o}, cluster.ApplyOptions{DryRun: true, FieldManager: kustomizeController})
				mu.Lock()
				switch {
				case err != nil && first == nil:
					first = err
				case err == nil && ch[0].Action == cluster.Created:
					missing = append(missing, describeRef(ch[0].Ref))
				case err == nil && ch[0].Action == cluster.Configured:
					changed = append(changed, describeRef(ch[0].Ref))
				}
				mu.Unlock()
			}
		}()
	}
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		next <- o
	}
	close(next)
	wg.Wait()
	sort.Strings(changed)
	sort.Strings(missing)
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return changed, missing, first
}

func describeRef(r cluster.Ref) string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	return r.Kind + " " + r.Name
}

func limitList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
