package gitops

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// TestBootstrapLayerAgainstARealAPIServer applies the bootstrap layer, reapplies it unchanged,
// and checks the age key guard.
func TestBootstrapLayerAgainstARealAPIServer(t *testing.T) {
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, _ := age.GenerateX25519Identity()
	prof, err := profiles.Get("single-small")
	if err != nil {
		t.Fatal(err)
	}
	layer := func(previous []byte) []*unstructured.Unstructured {
		users, err := gitserver.UsersFile(GitAccounts("pw"), previous)
		if err != nil {
			t.Fatal(err)
		}
		return BootstrapObjects(LayerOptions{
			AgeKey:     id,
			FluxSecret: InClusterRemote("127.0.0.1:1", "main", "pw").FluxSecret,
			GitServer: &GitServerSpec{
				Image:    bundles.Image{Reference: "example.test/git-server:1", Digest: "sha256:" + strings.Repeat("a", 64)},
				Branch:   "main",
				Workload: prof.Workloads["git-server"],
				Storage:  prof.Storage.Git,
				Users:    users,
			},
		})
	}

	if err := CheckAgeKey(ctx, c, id, "/state/age.key"); err != nil {
		t.Fatalf("an empty cluster has no key to disagree with: %v", err)
	}
	changes, err := ApplyLayer(ctx, c, layer(PreviousUsers(ctx, c)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.Action != cluster.Created {
			t.Errorf("%s: %s", ch.Ref, ch.Action)
		}
	}
	s, err := c.Kube.CoreV1().Secrets(FluxNamespace).Get(ctx, SOPSSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := secrets.ParseKey(string(s.Data[AgeKeyField]))
	if err != nil || got.String() != id.String() {
		t.Fatalf("flux-system/sops-age does not hold the appliance's key: %v", err)
	}
	fs, err := c.Kube.CoreV1().Secrets(FluxNamespace).Get(ctx, FluxName, metav1.GetOptions{})
	if err != nil || string(fs.Data["username"]) != GitReadUser || string(fs.Data["password"]) != ReadPassword("pw") {
		t.Fatalf("Flux's source secret: %v %v", err, fs.Data["username"])
	}
	d, err := c.Kube.AppsV1().Deployments(GitNamespace).Get(ctx, GitService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "example.test/git-server:1@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("git server image %s is not pinned by digest", img)
	}
	if lim := d.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); lim != string(prof.Workloads["git-server"].Limits["memory"]) {
		t.Errorf("memory limit %s, the profile says %s", lim, prof.Workloads["git-server"].Limits["memory"])
	}

	// Rerun: the users file keeps its hashes, so nothing changes at all.
	changes, err = ApplyLayer(ctx, c, layer(PreviousUsers(ctx, c)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.Action != cluster.Unchanged {
			t.Errorf("rerun: %s %s", ch.Ref, ch.Action)
		}
	}
	if len(changes) != 9 {
		t.Errorf("rerun reported %d objects, want the 9 of the layer", len(changes))
	}

	other, _ := age.GenerateX25519Identity()
	err = CheckAgeKey(ctx, c, other, "/state/age.key")
	var mm *AgeKeyMismatchError
	if !errors.As(err, &mm) || mm.Cluster != id.Recipient().String() || mm.Local != other.Recipient().String() {
		t.Fatalf("want a mismatch naming both keys, got %v", err)
	}
	if strings.Contains(err.Error(), "AGE-SECRET-KEY") || !strings.Contains(err.Error(), "/state/age.key") {
		t.Errorf("message: %v", err)
	}
}

// fakeKustomizeController plays kustomize-controller in envtest (which runs no controllers):
// it writes the statuses the real one would, following a script.
type fakeKustomizeController struct {
	t   *testing.T
	c   *cluster.Client
	mu  sync.Mutex
	rev string
}

func (f *fakeKustomizeController) setStatus(ctx context.Context, name string, ready string, reason, message, applied string, inventory []string) {
	f.t.Helper()
	ri := f.c.Dynamic.Resource(KustomizationGVR).Namespace(FluxNamespace)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Errorf("reading %s: %v", name, err)
		return
	}
	entries := []any{}
	for _, id := range inventory {
		entries = append(entries, map[string]any{"id": id, "v": "v1"})
	}
	st := map[string]any{
		"observedGeneration":    u.GetGeneration(),
		"lastAttemptedRevision": f.rev,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": ready, "reason": reason, "message": message,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration(),
		}},
		"inventory": map[string]any{"entries": entries},
	}
	if applied != "" {
		st["lastAppliedRevision"] = applied
	}
	u.Object["status"] = st
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		f.t.Errorf("writing the status of %s: %v", name, err)
	}
}

func kustomization(name string, deps ...string) *unstructured.Unstructured {
	spec := map[string]any{
		"interval": "10m", "path": "./" + name, "prune": true,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": FluxName},
	}
	if len(deps) > 0 {
		var d []any
		for _, n := range deps {
			d = append(d, map[string]any{"name": n})
		}
		spec["dependsOn"] = d
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": FluxNamespace}, "spec": spec,
	}}
}

func fluxCRDs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	embeddedOrSkip(t)
	m, err := GenerateComponents(fluxVersion)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cluster.DecodeObjects([]byte(m.Content))
	if err != nil {
		t.Fatal(err)
	}
	var crds []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" || (o.GetKind() == "Namespace") {
			crds = append(crds, o)
		}
	}
	return crds
}

func TestConvergeAgainstARealAPIServer(t *testing.T) {
	crds := fluxCRDs(t)
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	objs := append(crds, kustomization("flux-system"), kustomization("crds"), kustomization("secrets", "crds"), kustomization("apps", "secrets"),
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "docs"}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "namespace": "docs"}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "docs"},
			"spec": map[string]any{"replicas": int64(1), "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "example.test/web:1"}}}}}}},
	)
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	const rev = "main@sha1:0123456789abcdef0123456789abcdef01234567"
	const old = "main@sha1:ffffffffffffffffffffffffffffffffffffffff"
	f := &fakeKustomizeController{t: t, c: c, rev: rev}

	t.Run("converges, reporting each Kustomization and nudging a waiting one", func(t *testing.T) {
		f.setStatus(ctx, "flux-system", "True", "ReconciliationSucceeded", "Applied revision: "+rev, rev, nil)
		f.setStatus(ctx, "crds", "True", "ReconciliationSucceeded", "Applied revision: "+old, old, nil)
		f.setStatus(ctx, "secrets", "False", "DependencyNotReady", "dependency 'flux-system/crds' is not ready", old, nil)
		f.setStatus(ctx, "apps", "False", "DependencyNotReady", "dependency 'flux-system/secrets' is not ready", old, nil)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			f.setStatus(ctx, "crds", "True", "ReconciliationSucceeded", "Applied revision: "+rev, rev, []string{"_docs__Namespace"})
			// secrets only moves when asked to reconcile (as with kustomize-controller's 30 s
			// dependency requeue, which Converge shortcuts).
			ri := c.Dynamic.Resource(KustomizationGVR).Namespace(FluxNamespace)
			for ctx.Err() == nil {
				u, err := ri.Get(ctx, "secrets", metav1.GetOptions{})
				if err == nil && u.GetAnnotations()["reconcile.fluxcd.io/requestedAt"] != "" {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			f.setStatus(ctx, "secrets", "True", "ReconciliationSucceeded", "Applied revision: "+rev, rev, nil)
			f.setStatus(ctx, "apps", "True", "ReconciliationSucceeded", "Applied revision: "+rev, rev, []string{"docs_settings__ConfigMap"})
		}()
		var out bytes.Buffer
		states, err := Converge(ctx, c, ConvergeOptions{Names: []string{"flux-system", "crds", "secrets", "apps"}, Revision: rev, Timeout: time.Minute, Interval: 300 * time.Millisecond}, status.New(&out, status.Plain))
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if len(states) != 4 {
			t.Fatalf("states %+v", states)
		}
		text := out.String()
		for _, want := range []string{"crds: waiting for revision main@sha1:0123456789ab", "secrets: waiting for crds", "crds: ready (1 objects)", "apps: ready (1 objects)"} {
			if !strings.Contains(text, want) {
				t.Errorf("progress lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("timeout names the Kustomization, its condition and the objects not ready", func(t *testing.T) {
		f.setStatus(ctx, "apps", "False", "HealthCheckFailed", "health check failed after 5m0s: timeout waiting for: [Deployment/docs/web status: 'InProgress']",
			old, []string{"docs_settings__ConfigMap", "docs_web_apps_Deployment"})
		start := time.Now()
		_, err := Converge(ctx, c, ConvergeOptions{Names: []string{"crds", "apps"}, Revision: rev, Timeout: 2 * time.Second, Interval: 300 * time.Millisecond}, status.Discard())
		var nc *NotConvergedError
		if !errors.As(err, &nc) || nc.Terminal {
			t.Fatalf("want a *NotConvergedError, got %v", err)
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
		if len(nc.Pending) != 1 || nc.Pending[0].Name != "apps" || len(nc.Pending[0].NotReady) != 1 || nc.Pending[0].NotReady[0].Ref.Name != "web" {
			t.Fatalf("pending %+v", nc.Pending)
		}
		msg := err.Error()
		for _, want := range []string{"did not converge on revision " + rev, "Kustomization flux-system/apps: HealthCheckFailed: health check failed", "Deployment docs/web is InProgress", "(last applied main@sha1:ffffffffffff)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "ConfigMap docs/settings is") {
			t.Errorf("a ready object is listed:\n%s", msg)
		}
	})

	t.Run("an interrupted wait says so and still names what is pending", func(t *testing.T) {
		cctx, stop := context.WithCancel(ctx)
		time.AfterFunc(800*time.Millisecond, stop)
		_, err := Converge(cctx, c, ConvergeOptions{Names: []string{"apps"}, Revision: rev, Timeout: time.Minute, Interval: 300 * time.Millisecond}, status.Discard())
		var nc *NotConvergedError
		if !errors.As(err, &nc) || !errors.Is(err, context.Canceled) {
			t.Fatalf("want a cancelled *NotConvergedError, got %v", err)
		}
		if !strings.Contains(err.Error(), "interrupted") || len(nc.Pending) != 1 || nc.Pending[0].Name != "apps" {
			t.Fatalf("message or pending: %v %+v", err, nc.Pending)
		}
	})

	t.Run("a revision that does not build fails at once", func(t *testing.T) {
		f.setStatus(ctx, "secrets", "False", "BuildFailed", "kustomize build failed: decryption failed for 'web': no age identity found", old, nil)
		start := time.Now()
		_, err := Converge(ctx, c, ConvergeOptions{Names: []string{"secrets"}, Revision: rev, Timeout: time.Minute, Interval: 300 * time.Millisecond}, status.Discard())
		var nc *NotConvergedError
		if !errors.As(err, &nc) || !nc.Terminal || time.Since(start) > 10*time.Second {
			t.Fatalf("want a terminal failure at once, got %v after %s", err, time.Since(start))
		}
		if !strings.Contains(err.Error(), "Flux cannot apply revision") || !strings.Contains(err.Error(), "decryption failed") {
			t.Errorf("message: %v", err)
		}
	})
}

func TestInventoryRef(t *testing.T) {
	for id, want := range map[string]string{
		"docs_web_apps_Deployment": "Deployment docs/web apps/v1",
		"_docs__Namespace":         "Namespace docs v1",
		"_x.example.org_apiextensions.k8s.io_CustomResourceDefinition": "CustomResourceDefinition x.example.org apiextensions.k8s.io/v1",
	} {
		r, ok := inventoryRef(id, "v1")
		if !ok || r.String()+" "+r.APIVersion != want {
			t.Errorf("%s: %v %v", id, r, ok)
		}
	}
	if _, ok := inventoryRef("bad", "v1"); ok {
		t.Error("a malformed id parsed")
	}
}
