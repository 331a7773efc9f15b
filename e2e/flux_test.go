//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// moduleDir downloads (or finds in the module cache) a module version and returns its folder.
func moduleDir(t *testing.T, module, version string) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = t.TempDir() // outside the repository: no go.mod to touch
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("downloading %s@%s: %v", module, version, err)
	}
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Dir == "" {
		t.Fatalf("downloading %s@%s: %v %s", module, version, err, dl.Error)
	}
	return dl.Dir
}

func decodeFiles(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		o, err := cluster.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		objs = append(objs, o...)
	}
	return objs
}

// TestFluxControllersRunFromTheirImages installs source-, kustomize- and notification-controller
// from their own modules' manifests (CRDs, Deployment, Service) with the images the harness built
// under their upstream names, waits until they are Ready, and checks that they reconcile: a
// GitRepository and a Kustomization get status from their controllers.
func TestFluxControllersRunFromTheirImages(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kit.Load()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "flux-system"
	objs := decode(t, `
apiVersion: v1
kind: Namespace
metadata: {name: flux-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-flux-controllers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: source-controller, namespace: flux-system}
- {kind: ServiceAccount, name: kustomize-controller, namespace: flux-system}
- {kind: ServiceAccount, name: notification-controller, namespace: flux-system}
`)
	for _, f := range v.Flux {
		dir := moduleDir(t, "github.com/fluxcd/"+f.Name, f.Build)
		crds, _ := filepath.Glob(filepath.Join(dir, "config", "crd", "bases", "*.yaml"))
		manifests := append(crds, filepath.Join(dir, "config", "manager", "deployment.yaml"))
		if _, err := os.Stat(filepath.Join(dir, "config", "manager", "service.yaml")); err == nil {
			manifests = append(manifests, filepath.Join(dir, "config", "manager", "service.yaml"))
		}
		for _, o := range decodeFiles(t, manifests...) {
			if o.GetKind() == "Deployment" {
				// What flux2's kustomize overlays set: the image, the service account.
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				containers[0].(map[string]any)["image"] = f.Image()
				_ = unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
				_ = unstructured.SetNestedField(o.Object, f.Name, "spec", "template", "spec", "serviceAccountName")
			}
			objs = append(objs, o)
		}
		objs = append(objs, decode(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "+f.Name+"}\n")...)
	}
	start := time.Now()
	changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, cluster.Refs(changes), cluster.WaitOptions{Timeout: 4 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Flux controllers Ready %s after apply", time.Since(start).Round(100*time.Millisecond))

	// The controllers reconcile: a GitRepository pointing at nothing fails to fetch, and says so
	// in its status; the Kustomization built on it waits for it and says so too.
	sources := decode(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: nowhere, namespace: flux-system}
spec:
  url: http://git.nowhere.svc.cluster.local/repo.git
  interval: 1m
  timeout: 5s
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: nowhere, namespace: flux-system}
spec:
  interval: 1m
  path: ./
  prune: true
  sourceRef: {kind: GitRepository, name: nowhere}
`)
	if _, err := c.Apply(ctx, sources, cluster.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		gvr  schema.GroupVersionResource
		want string
	}{
		{schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}, "git.nowhere.svc.cluster.local"},
		{schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}, "artifact not found"},
	} {
		var msg string
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			u, err := c.Dynamic.Resource(r.gvr).Namespace(ns).Get(ctx, "nowhere", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, cond := range conds {
				m := cond.(map[string]any)
				if m["type"] == "Ready" {
					msg, _ = m["message"].(string)
				}
			}
			if strings.Contains(msg, r.want) {
				break
			}
		}
		if !strings.Contains(msg, r.want) {
			t.Errorf("%s nowhere: Ready message %q, want one mentioning %q", r.gvr.Resource, msg, r.want)
		} else {
			t.Logf("%s reconciled: %s", r.gvr.Resource, msg)
		}
	}
}
