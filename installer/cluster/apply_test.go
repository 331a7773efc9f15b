package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// The objects are listed in the worst order on purpose: the custom resource before its CRD, the
// ConfigMap before its Namespace.
const fixture = `
apiVersion: example.docs-appliance.test/v1
kind: Widget
metadata: {name: w1, namespace: shop}
spec: {size: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: example.test/web:1}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.docs-appliance.test}
spec:
  group: example.docs-appliance.test
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

func decode(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := cluster.DecodeObjects([]byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func actions(changes []cluster.Change) map[string]cluster.Action {
	m := map[string]cluster.Action{}
	for _, c := range changes {
		m[c.Ref.String()] = c.Action
	}
	return m
}

func TestApplyAndWaitAgainstARealAPIServer(t *testing.T) {
	env := envtest.New(t)
	c, err := cluster.NewFromKubeconfig(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	objs := decode(t, fixture)

	t.Run("first apply creates, CRDs and namespaces first", func(t *testing.T) {
		changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, ch := range changes {
			order = append(order, ch.Ref.Kind)
			if ch.Action != cluster.Created {
				t.Errorf("%s: %s, want created", ch.Ref, ch.Action)
			}
		}
		if got := strings.Join(order, ","); got != "CustomResourceDefinition,Namespace,Widget,ConfigMap,Deployment" {
			t.Errorf("apply order %s", got)
		}
		cm, err := c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["color"] != "blue" || len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != cluster.FieldManager ||
			cm.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
			t.Errorf("ConfigMap not server-side applied by %s: data %v, managed fields %+v", cluster.FieldManager, cm.Data, cm.ManagedFields)
		}
	})

	t.Run("a dry run says what would change and changes nothing", func(t *testing.T) {
		changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range changes {
			if ch.Action != cluster.Unchanged {
				t.Errorf("dry run of the applied objects: %s %s, want unchanged", ch.Ref, ch.Action)
			}
		}
		changed := decode(t, fixture)
		for _, o := range changed {
			if o.GetKind() == "ConfigMap" {
				_ = unstructured.SetNestedField(o.Object, "red", "data", "color")
			}
		}
		changes, err = c.Apply(ctx, changed, cluster.ApplyOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(changes)["ConfigMap shop/settings"]; got != cluster.Configured {
			t.Errorf("dry run of a changed ConfigMap: %s, want configured (%v)", got, actions(changes))
		}
		cm, err := c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil || cm.Data["color"] != "blue" {
			t.Errorf("the dry run changed the ConfigMap: %v %v", cm.Data, err)
		}
	})

	t.Run("reapply is a no-op", func(t *testing.T) {
		before, err := c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range changes {
			if ch.Action != cluster.Unchanged {
				t.Errorf("%s: %s on reapply, want unchanged", ch.Ref, ch.Action)
			}
		}
		after, err := c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if before.ResourceVersion != after.ResourceVersion {
			t.Errorf("resourceVersion moved from %s to %s on a no-op apply", before.ResourceVersion, after.ResourceVersion)
		}
	})

	t.Run("a change configures only the changed object and takes fields from other managers", func(t *testing.T) {
		cm, err := c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["color"] = "red" // another manager (an operator's kubectl edit) changes our field
		if _, err := c.Kube.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
		changed := decode(t, strings.Replace(fixture, "spec: {size: 3}", "spec: {size: 4}", 1))
		changes, err := c.Apply(ctx, changed, cluster.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := actions(changes)
		if got["Widget shop/w1"] != cluster.Configured || got["ConfigMap shop/settings"] != cluster.Configured || got["Deployment shop/web"] != cluster.Unchanged {
			t.Errorf("actions %v", got)
		}
		cm, err = c.Kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["color"] != "blue" {
			t.Errorf("the applied value did not win back: %v", cm.Data)
		}
		w, err := c.Dynamic.Resource(schema.GroupVersionResource{Group: "example.docs-appliance.test", Version: "v1", Resource: "widgets"}).
			Namespace("shop").Get(ctx, "w1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 4 {
			t.Errorf("widget size %d, want 4", size)
		}
	})

	t.Run("namespaced object without a namespace", func(t *testing.T) {
		objs := decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loose}\n")
		if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "ConfigMap loose is namespaced but has no namespace") {
			t.Fatalf("want a clear refusal, got %v", err)
		}
		changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{DefaultNamespace: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		if changes[0].Ref.Namespace != "shop" {
			t.Errorf("applied in %q", changes[0].Ref.Namespace)
		}
		if objs[0].GetNamespace() != "" {
			t.Error("Apply modified its input")
		}
	})

	t.Run("wait returns once objects are current", func(t *testing.T) {
		refs := []cluster.Ref{
			{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
			{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings"},
			{APIVersion: "example.docs-appliance.test/v1", Kind: "Widget", Namespace: "shop", Name: "w1"},
			{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "widgets.example.docs-appliance.test"},
		}
		if err := c.Wait(ctx, refs, cluster.WaitOptions{Timeout: 20 * time.Second}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wait names what is not ready and why", func(t *testing.T) {
		// envtest runs no controllers: the Deployment never gets pods.
		refs := []cluster.Ref{
			{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
			{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings"},
			{APIVersion: "v1", Kind: "Secret", Namespace: "shop", Name: "never-made"},
		}
		start := time.Now()
		err := c.Wait(ctx, refs, cluster.WaitOptions{Timeout: 3 * time.Second, Interval: 200 * time.Millisecond})
		var nr *cluster.NotReadyError
		if !errors.As(err, &nr) {
			t.Fatalf("want a *NotReadyError, got %v", err)
		}
		if d := time.Since(start); d < 3*time.Second || d > 10*time.Second {
			t.Errorf("waited %s for a 3s timeout", d)
		}
		if len(nr.Objects) != 2 || nr.Objects[0].Ref.Kind != "Deployment" || nr.Objects[1].Status != status.NotFoundStatus {
			t.Fatalf("not-ready objects %+v", nr.Objects)
		}
		msg := err.Error()
		for _, want := range []string{"Deployment shop/web is InProgress", "no pods", "Secret shop/never-made is NotFound"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cause not kept: %v", err)
		}
	})

	t.Run("wait sees a deployment become available", func(t *testing.T) {
		ref := cluster.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
		done := make(chan error, 1)
		go func() {
			done <- c.Wait(ctx, []cluster.Ref{ref}, cluster.WaitOptions{Timeout: 30 * time.Second, Interval: 200 * time.Millisecond})
		}()
		time.Sleep(500 * time.Millisecond)
		// Play the deployment controller: report the rollout complete.
		d, err := c.Kube.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: "True", Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: "True", Reason: "NewReplicaSetAvailable"},
			},
		}
		if _, err := c.Kube.AppsV1().Deployments("shop").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewFromKubeconfigReportsABadPath(t *testing.T) {
	_, err := cluster.NewFromKubeconfig("/nonexistent/kubeconfig")
	if err == nil || !strings.Contains(err.Error(), "loading kubeconfig /nonexistent/kubeconfig") {
		t.Fatalf("got %v", err)
	}
}
