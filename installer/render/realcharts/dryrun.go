package realcharts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

var silenceControllerRuntime sync.Once

// fieldManager is kustomize-controller's: the objects are applied as Flux
// applies them.
const fieldManager = "kustomize-controller"

// dryRun starts a fresh API server, applies the render's CRDs and Flux's
// (for real: the objects that use them need them served) and the
// namespaces, then sends every other object as a server-side apply dry run
// with strict field validation. A fresh server per variant: a CRD another
// variant installed must not make this one's objects pass.
func dryRun(ctx context.Context, crds, objs []object, flux []*unstructured.Unstructured, r *VariantResult) error {
	// envtest logs through controller-runtime, which complains with a stack
	// trace when nobody set its logger.
	silenceControllerRuntime.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	env, err := envtest.Start()
	if err != nil {
		return err
	}
	defer env.Stop()
	cfg := rest.CopyConfig(env.Config)
	warnings := &cluster.WarningLog{}
	cfg.WarningHandler = warnings
	c, err := cluster.New(cfg)
	if err != nil {
		return fmt.Errorf("connecting to the envtest API server: %w", err)
	}

	var established []cluster.Ref
	setup := append([]object(nil), crds...)
	for _, u := range flux {
		setup = append(setup, object{Unstructured: u, file: "Flux install manifests"})
	}
	for _, o := range setup {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if err := apply(ctx, c, o, false); err != nil {
			r.reject("dry-run", o.id(), err.Error())
			continue
		}
		established = append(established, cluster.RefOf(o.Unstructured))
		r.CRDs++
	}
	if err := c.Wait(ctx, established, cluster.WaitOptions{Timeout: 5 * time.Minute}); err != nil {
		return fmt.Errorf("waiting for the rendered CRDs to be established: %w", err)
	}
	c.Mapper.Reset()

	// Namespaces for real: a dry run inside a namespace that does not
	// exist fails for that reason alone. Flux's comes from its bootstrap.
	namespaces := []object{{Unstructured: &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "flux-system"},
	}}}}
	var rest []object
	for _, o := range objs {
		if o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" {
			namespaces = append(namespaces, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, o := range namespaces {
		if err := apply(ctx, c, o, false); err != nil && !apierrors.IsAlreadyExists(err) {
			r.reject("dry-run", o.id(), err.Error())
		}
	}
	r.Objects = len(namespaces) - 1 // flux-system is not the render's
	admitted(ctx, c, namespaces, rest, r)
	for _, o := range rest {
		if o.inConfigMap {
			if _, err := c.Mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); err != nil {
				continue // a controller's configuration, not an API object
			}
		}
		warnings.Reset()
		r.Objects++
		if err := apply(ctx, c, o, true); err != nil {
			r.reject("dry-run", o.id(), err.Error())
		}
		for _, w := range warnings.Texts() {
			r.warn(o.id(), w)
		}
	}
	return nil
}

// podPrereqs are what pod admission looks up: stored for real, as a
// cluster has them before its pods are made.
var podPrereqs = map[string]bool{"ServiceAccount": true, "PriorityClass": true, "LimitRange": true, "ResourceQuota": true, "RuntimeClass": true}

// admitted sends the pod of every workload's template as a dry-run Pod:
// Pod Security's enforce level, the service account, the priority class,
// limit ranges and quotas are checked on pods, not on Deployments, so a
// workload the API server accepts may still never get a pod.
func admitted(ctx context.Context, c *cluster.Client, namespaces, objs []object, r *VariantResult) {
	var prereqs []object
	for _, ns := range namespaces {
		// kube-controller-manager gives every namespace its default account.
		prereqs = append(prereqs, object{Unstructured: &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default", "namespace": ns.GetName()},
		}}})
	}
	for _, o := range objs {
		if podPrereqs[o.GetKind()] && !o.inConfigMap {
			prereqs = append(prereqs, o)
		}
	}
	for _, o := range prereqs {
		if err := apply(ctx, c, o, false); err != nil {
			r.reject("dry-run", o.id(), err.Error())
		}
	}
	for _, o := range objs {
		if o.inConfigMap || o.GetKind() == "Pod" {
			continue
		}
		for path, spec := range podSpecs(o) {
			meta := map[string]any{"name": strings.ToLower(o.GetKind()) + "-" + o.GetName(), "namespace": o.GetNamespace()}
			tmplPath := strings.TrimSuffix(path, ".spec")
			if labels, ok, _ := unstructured.NestedStringMap(o.Object, append(strings.Split(tmplPath, "."), "metadata", "labels")...); ok {
				meta["labels"] = toAny(labels)
			}
			if o.GetKind() == "StatefulSet" {
				// The StatefulSet controller adds a volume per claim template.
				for _, t := range list(o.Object["spec"].(map[string]any)["volumeClaimTemplates"]) {
					name, _, _ := unstructured.NestedString(t, "metadata", "name")
					spec["volumes"] = append(asList(spec["volumes"]), map[string]any{
						"name": name, "persistentVolumeClaim": map[string]any{"claimName": name + "-" + o.GetName() + "-0"},
					})
				}
			}
			pod := object{Unstructured: &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
			}}}
			r.Pods++
			if err := apply(ctx, c, pod, true); err != nil {
				r.reject("pod", o.id(), "its pod would not be admitted: "+err.Error())
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apply server-side applies one object, forcing ownership as Flux does;
// with dryRun nothing is stored.
func apply(ctx context.Context, c *cluster.Client, o object, dryRun bool) error {
	gvk := o.GroupVersionKind()
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.Mapper.Reset()
		if mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("the API server does not serve %s (%s)", gvk.GroupKind(), o.GetAPIVersion())
		}
	}
	ri := c.Dynamic.Resource(mapping.Resource)
	var target interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	switch {
	case mapping.Scope.Name() == "namespace" && o.GetNamespace() == "":
		return errors.New("namespaced, but rendered without a namespace")
	case mapping.Scope.Name() == "namespace":
		target = ri.Namespace(o.GetNamespace())
	case o.GetNamespace() != "":
		return fmt.Errorf("cluster-scoped, but rendered in namespace %s", o.GetNamespace())
	}
	body, err := json.Marshal(o.Object)
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := target.Patch(ctx, o.GetName(), types.ApplyPatchType, body, opts); err != nil {
		return fmt.Errorf("rejected: %s", oneLine(err.Error()))
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
