package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Flux's resources, read without typed clients.
var (
	KustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	GitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// Reasons a Kustomization gives that no wait fixes: the revision itself is broken (a manifest
// that does not build, a secret that does not decrypt). Waiting longer only hides them.
var terminalReasons = map[string]bool{"BuildFailed": true}

// KustomizationState is what one Flux Kustomization says about itself.
type KustomizationState struct {
	Name  string `json:"name"`
	Found bool   `json:"found"`
	// Ready means Ready=True for the current generation at the wanted revision.
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Applied is status.lastAppliedRevision, Attempted status.lastAttemptedRevision.
	Applied   string   `json:"appliedRevision,omitempty"`
	Attempted string   `json:"attemptedRevision,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// NotReady are the objects of its inventory that are not ready (filled on failure).
	NotReady []cluster.NotReady `json:"notReady,omitempty"`
	// Inventory counts the objects the Kustomization applied.
	Inventory int `json:"inventory"`
	// ReadError is why it could not be read (the API server did not answer in time, say).
	ReadError string `json:"readError,omitempty"`

	inventory []cluster.Ref
}

// summary is the one-line progress of a Kustomization.
func (k KustomizationState) summary(revision string) string {
	switch {
	case k.ReadError != "":
		return "could not be read: " + k.ReadError
	case !k.Found:
		return "not created yet"
	case k.Ready:
		return fmt.Sprintf("ready (%d objects)", k.Inventory)
	case k.Reason == "DependencyNotReady":
		return "waiting for " + strings.Join(k.DependsOn, ", ")
	case k.Reason == "":
		// No verdict yet, or a verdict about an older revision.
		return "waiting for revision " + shortRevision(revision)
	}
	msg := k.Message
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if k.Reason != "" {
		return k.Reason + ": " + msg
	}
	return msg
}

func shortRevision(r string) string {
	if i := strings.LastIndex(r, ":"); i >= 0 && len(r)-i > 8 {
		return r[:i+13]
	}
	return r
}

// NotConvergedError says which Kustomizations did not become ready at a revision, and why.
type NotConvergedError struct {
	Revision string
	Waited   time.Duration
	Pending  []KustomizationState
	// Terminal is true when a Kustomization failed in a way no wait fixes.
	Terminal bool
	Cause    error
}

func (e *NotConvergedError) Error() string {
	var b strings.Builder
	switch {
	case e.Terminal:
		fmt.Fprintf(&b, "Flux cannot apply revision %s:", e.Revision)
	case errors.Is(e.Cause, context.Canceled):
		fmt.Fprintf(&b, "stopped waiting for Flux to apply revision %s (interrupted; Flux goes on applying it, run install again to wait for it):", e.Revision)
	default:
		fmt.Fprintf(&b, "Flux did not converge on revision %s within %s:", e.Revision, e.Waited.Round(time.Second))
	}
	for _, k := range e.Pending {
		fmt.Fprintf(&b, "\n  Kustomization %s/%s: %s", FluxNamespace, k.Name, k.summary(e.Revision))
		if k.Found && k.Applied != "" && k.Applied != e.Revision {
			fmt.Fprintf(&b, " (last applied %s)", shortRevision(k.Applied))
		}
		for _, o := range k.NotReady {
			fmt.Fprintf(&b, "\n    %s is %s: %s", o.Ref, o.Status, o.Message)
		}
	}
	if e.Cause != nil && !errors.Is(e.Cause, context.DeadlineExceeded) && !errors.Is(e.Cause, context.Canceled) {
		fmt.Fprintf(&b, "\n  (%v)", e.Cause)
	}
	b.WriteString("\n  see `kubectl -n flux-system get kustomizations` and the events of the objects named above")
	return b.String()
}

func (e *NotConvergedError) Unwrap() error { return e.Cause }

// ConvergeOptions tune Converge.
type ConvergeOptions struct {
	// Names are the Kustomizations of flux-system to wait for.
	Names []string
	// Revision is the commit they must have applied, "main@sha1:<hash>".
	Revision string
	Timeout  time.Duration // default 30 minutes
	Interval time.Duration // default 2 seconds
}

// Converge waits until every named Kustomization is Ready at the revision, printing a line each
// time one changes state. A Kustomization waiting only for dependencies that are ready is asked
// to reconcile now rather than at its next retry. On timeout or a terminal failure it returns a
// *NotConvergedError naming each Kustomization that is not ready, its condition, and the
// objects of its inventory that are not ready.
func Converge(ctx context.Context, c *cluster.Client, o ConvergeOptions, st *status.Status) ([]KustomizationState, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Interval == 0 {
		o.Interval = 2 * time.Second
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	shown := map[string]string{}
	nudged := map[string]time.Time{}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	var lastErr error
	for {
		states, err := readAll(wctx, c, o)
		if err != nil && wctx.Err() == nil {
			lastErr = err
		}
		byName := map[string]KustomizationState{}
		for _, k := range states {
			byName[k.Name] = k
		}
		var pending []KustomizationState
		terminal := false
		for _, k := range states {
			// A failed read is not progress: it is shown only if it is still the state at the end.
			if line := k.summary(o.Revision); shown[k.Name] != line && wctx.Err() == nil && k.ReadError == "" {
				st.Info("%s: %s", k.Name, line)
				shown[k.Name] = line
			}
			if k.Ready {
				continue
			}
			pending = append(pending, k)
			if terminalReasons[k.Reason] && k.Attempted == o.Revision {
				terminal = true
			}
			if k.Reason == "DependencyNotReady" && depsReady(k, byName) && time.Since(nudged[k.Name]) > 10*time.Second {
				nudged[k.Name] = time.Now()
				if err := RequestReconcile(wctx, c, KustomizationGVR, k.Name); err != nil {
					lastErr = err
				}
			}
		}
		if wctx.Err() == nil && len(pending) == 0 && len(states) == len(o.Names) {
			return states, nil
		}
		if terminal && wctx.Err() == nil {
			return states, notConverged(ctx, c, o, time.Since(start), true, lastErr)
		}
		select {
		case <-wctx.Done():
			cause := wctx.Err()
			if ctx.Err() != nil {
				cause = ctx.Err()
			}
			return states, notConverged(ctx, c, o, time.Since(start), false, errors.Join(cause, lastErr))
		case <-tick.C:
		}
	}
}

// readAll reads every named Kustomization; an unreadable one is kept with the error as message.
func readAll(ctx context.Context, c *cluster.Client, o ConvergeOptions) ([]KustomizationState, error) {
	var states []KustomizationState
	var errs []error
	for _, n := range o.Names {
		k, err := readKustomization(ctx, c, n, o.Revision)
		if err != nil {
			errs = append(errs, err)
			k = KustomizationState{Name: n, ReadError: err.Error()}
		}
		states = append(states, k)
	}
	return states, errors.Join(errs...)
}

func depsReady(k KustomizationState, all map[string]KustomizationState) bool {
	for _, d := range k.DependsOn {
		if dk, ok := all[d]; !ok || !dk.Ready {
			return false
		}
	}
	return len(k.DependsOn) > 0
}

// notConverged reads the Kustomizations once more and fills in the objects that are not ready,
// with a short budget of its own (the caller's deadline has passed, or the operator pressed
// Ctrl-C: the answer must come quickly).
func notConverged(ctx context.Context, c *cluster.Client, o ConvergeOptions, waited time.Duration, terminal bool, cause error) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	states, _ := readAll(dctx, c, o)
	var pending []KustomizationState
	for _, k := range states {
		if k.Ready {
			continue
		}
		if len(k.inventory) > 0 {
			err := c.Wait(dctx, k.inventory, cluster.WaitOptions{Timeout: 2 * time.Second, Interval: time.Second})
			var nr *cluster.NotReadyError
			if errors.As(err, &nr) {
				k.NotReady = nr.Objects
			}
		}
		pending = append(pending, k)
	}
	return &NotConvergedError{Revision: o.Revision, Waited: waited, Pending: pending, Terminal: terminal, Cause: cause}
}

func readKustomization(ctx context.Context, c *cluster.Client, name, revision string) (KustomizationState, error) {
	k := KustomizationState{Name: name}
	u, err := c.Dynamic.Resource(KustomizationGVR).Namespace(FluxNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return k, nil
	}
	if err != nil {
		return k, fmt.Errorf("reading Kustomization %s: %w", name, err)
	}
	k.Found = true
	k.Applied, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	k.Attempted, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	for _, d := range deps {
		if m, ok := d.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				k.DependsOn = append(k.DependsOn, n)
			}
		}
	}
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	ready := false
	for _, ci := range conds {
		cond, _ := ci.(map[string]any)
		if cond["type"] != "Ready" {
			continue
		}
		k.Reason, _ = cond["reason"].(string)
		k.Message, _ = cond["message"].(string)
		ready = cond["status"] == "True"
	}
	entries, _, _ := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	for _, e := range entries {
		m, _ := e.(map[string]any)
		id, _ := m["id"].(string)
		v, _ := m["v"].(string)
		if ref, ok := inventoryRef(id, v); ok {
			k.inventory = append(k.inventory, ref)
		}
	}
	k.Inventory = len(k.inventory)
	k.Ready = ready && observed == u.GetGeneration() && k.Applied == revision
	if ready && k.Applied != revision {
		// Ready at an older revision is not the answer we wait for.
		k.Reason, k.Message = "", ""
	}
	return k, nil
}

// inventoryRef parses a Flux inventory entry: id "<namespace>_<name>_<group>_<kind>", v the
// version. Names and namespaces cannot hold "_", groups neither.
func inventoryRef(id, version string) (cluster.Ref, bool) {
	parts := strings.Split(id, "_")
	if len(parts) != 4 || parts[1] == "" || parts[3] == "" {
		return cluster.Ref{}, false
	}
	apiVersion := version
	if parts[2] != "" {
		apiVersion = parts[2] + "/" + version
	}
	return cluster.Ref{APIVersion: apiVersion, Kind: parts[3], Namespace: parts[0], Name: parts[1]}, true
}

// RequestReconcile asks a Flux object to reconcile now (as `flux reconcile` does).
func RequestReconcile(ctx context.Context, c *cluster.Client, gvr schema.GroupVersionResource, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	_, err := c.Dynamic.Resource(gvr).Namespace(FluxNamespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: cluster.FieldManager})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("asking %s %s to reconcile: %w", gvr.Resource, name, err)
	}
	return nil
}
