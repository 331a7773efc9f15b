package cluster

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Action is what an apply did to one object.
type Action string

// The actions of Apply.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
)

// Change is the outcome of applying one object.
type Change struct {
	Ref    Ref // with the namespace the object was applied in
	Action Action
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DefaultNamespace is given to namespaced objects that have none. When empty, such an object
	// is an error (nothing lands in "default" by accident).
	DefaultNamespace string
	// CRDTimeout bounds the wait for applied CustomResourceDefinitions to be Established before
	// the objects that may use them are applied. Default one minute.
	CRDTimeout time.Duration
	// DryRun asks the API server what the apply would change, changing nothing: an object that
	// would be stored as it is now is Unchanged. CRDs are not waited for.
	DryRun bool
	// FieldManager applies as another manager than the appliance's (doctor's drift check
	// dry-runs as Flux's kustomize-controller, to see what Flux would change).
	FieldManager string
}

// Refs lists the objects of changes, e.g. to wait for them.
func Refs(changes []Change) []Ref {
	refs := make([]Ref, len(changes))
	for i, c := range changes {
		refs[i] = c.Ref
	}
	return refs
}

// Apply server-side applies objs with the field manager "docs-appliance", forcing ownership of the
// fields it sets: CustomResourceDefinitions first (then waits until they are Established), then
// Namespaces, then everything else in the order given. Applying the same objects again changes
// nothing and reports every object Unchanged. The objects passed in are not modified.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]Change, error) {
	if opts.CRDTimeout == 0 {
		opts.CRDTimeout = time.Minute
	}
	var crds, namespaces, rest []*unstructured.Unstructured
	for _, o := range objs {
		if err := checkObject(o); err != nil {
			return nil, err
		}
		switch gk := o.GroupVersionKind().GroupKind(); gk {
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			crds = append(crds, o)
		case schema.GroupKind{Kind: "Namespace"}:
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	changes := make([]Change, 0, len(objs))
	for _, o := range crds {
		ch, err := c.applyOne(ctx, o, opts)
		if err != nil {
			return changes, err
		}
		changes = append(changes, ch)
	}
	if len(crds) > 0 && !opts.DryRun {
		if err := c.Wait(ctx, Refs(changes), WaitOptions{Timeout: opts.CRDTimeout}); err != nil {
			return changes, fmt.Errorf("waiting for CustomResourceDefinitions to be established: %w", err)
		}
		c.Mapper.Reset()
	}
	for _, group := range [][]*unstructured.Unstructured{namespaces, rest} {
		for _, o := range group {
			ch, err := c.applyOne(ctx, o, opts)
			if err != nil {
				return changes, err
			}
			changes = append(changes, ch)
		}
	}
	return changes, nil
}

// resource finds the API resource of ref, refreshing discovery once when the kind is unknown
// (a CRD may have been created since the cache was filled).
func (c *Client) resource(ref Ref) (*meta.RESTMapping, error) {
	gvk := ref.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.Mapper.Reset()
		m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("finding the API resource of %s (%s): %w", ref, ref.APIVersion, err)
	}
	return m, nil
}

// resourceFor resolves ref to a client, filling or clearing its namespace by the resource's scope.
func (c *Client) resourceFor(ref *Ref, defaultNamespace string) (dynamic.ResourceInterface, error) {
	m, err := c.resource(*ref)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		ref.Namespace = ""
		return c.Dynamic.Resource(m.Resource), nil
	}
	if ref.Namespace == "" {
		if defaultNamespace == "" {
			return nil, fmt.Errorf("%s is namespaced but has no namespace, and no default namespace was given", ref)
		}
		ref.Namespace = defaultNamespace
	}
	return c.Dynamic.Resource(m.Resource).Namespace(ref.Namespace), nil
}

func (c *Client) applyOne(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (Change, error) {
	ref := RefOf(obj)
	ri, err := c.resourceFor(&ref, opts.DefaultNamespace)
	if err != nil {
		return Change{Ref: ref}, err
	}
	before := ""
	cur, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case err == nil:
		before = cur.GetResourceVersion()
	case !apierrors.IsNotFound(err):
		return Change{Ref: ref}, fmt.Errorf("reading %s before applying it: %w", ref, err)
	}
	o := obj.DeepCopy()
	o.SetNamespace(ref.Namespace)
	// Server-side apply refuses these; they belong to the server.
	o.SetResourceVersion("")
	o.SetManagedFields(nil)
	o.SetUID("")
	o.SetCreationTimestamp(metav1.Time{})
	if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Kind: "Namespace"}) {
		// The API server labels every namespace with its name, inside our request. Applying the
		// label ourselves keeps our applied configuration equal to what is stored, so a reapply
		// stays a no-op instead of dropping and re-adding it.
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["kubernetes.io/metadata.name"] = o.GetName()
		o.SetLabels(labels)
	}
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if opts.FieldManager != "" {
		ao.FieldManager = opts.FieldManager
	}
	if opts.DryRun {
		ao.DryRun = []string{metav1.DryRunAll}
	}
	after, err := ri.Apply(ctx, ref.Name, o, ao)
	if err != nil {
		return Change{Ref: ref}, fmt.Errorf("applying %s: %w", ref, err)
	}
	ch := Change{Ref: ref, Action: Configured}
	switch {
	case before == "":
		ch.Action = Created
	case opts.DryRun && sameStored(cur, after):
		ch.Action = Unchanged
	case !opts.DryRun && after.GetResourceVersion() == before:
		ch.Action = Unchanged
	}
	return ch, nil
}

// sameStored reports whether a dry-run apply's answer is the object as stored: the server
// fills managedFields and times afresh in a dry run, so they are not compared.
func sameStored(cur, after *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		o := u.DeepCopy().Object
		if md, ok := o["metadata"].(map[string]any); ok {
			for _, k := range []string{"managedFields", "resourceVersion", "generation"} {
				delete(md, k)
			}
		}
		return o
	}
	return equality.Semantic.DeepEqual(strip(cur), strip(after))
}
