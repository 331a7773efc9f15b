package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/validate"
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

// desiredObjects is what Flux would apply for one Kustomization, with the
// labels it adds, minus what it does not re-apply. Secrets are left out:
// in Git they are encrypted (secrets-decrypt checks them).
func desiredObjects(repoDir string, k gitops.LiveKustomization) ([]*unstructured.Unstructured, error) {
	built, err := validate.Build(repoDir, k.Object.Object)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", k.Path, err)
	}
	var out []*unstructured.Unstructured
	for _, m := range built {
		o := &unstructured.Unstructured{Object: m}
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
