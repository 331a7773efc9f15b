//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// renderChart renders a chart of testdata/charts with the Helm SDK, client-side, as the installer
// renders the pinned charts, and decodes the result into objects.
func renderChart(t *testing.T, name, release, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	chrt, err := loader.Load("testdata/charts/" + name)
	if err != nil {
		t.Fatalf("loading chart %s: %v", name, err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = release, namespace
	rel, err := install.Run(chrt, values)
	if err != nil {
		t.Fatalf("rendering chart %s: %v", name, err)
	}
	return decode(t, rel.Manifest)
}

func decode(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := cluster.DecodeObjects([]byte(manifests))
	if err != nil {
		t.Fatalf("decoding manifests: %v", err)
	}
	return objs
}

// TestHarnessRunsARenderedChart proves the harness end to end: a chart rendered with the Helm SDK
// is applied through installer/cluster, its pods become Ready from images imported into the node,
// and its Service answers through a port-forward, through its ClusterIP (kube-proxy), and by its
// cluster DNS name (CoreDNS).
func TestHarnessRunsARenderedChart(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	const ns, release, message = "harness", "standin", "hello from the e2e harness"
	objs := renderChart(t, "standin", release, ns, map[string]any{"message": message, "secretValue": "mounted-secret-value"})
	nsObj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}
	objs = append(objs, nsObj)
	t.Cleanup(func() {
		_ = c.Kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	start := time.Now()
	changes, err := c.Apply(ctx, objs, cluster.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 4 || changes[0].Ref.Kind != "Namespace" {
		t.Fatalf("changes %+v", changes)
	}
	if err := c.Wait(ctx, cluster.Refs(changes), cluster.WaitOptions{Timeout: 3 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	t.Logf("applied and ready in %s", time.Since(start).Round(100*time.Millisecond))

	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=standin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if !podReady(&p) {
			t.Errorf("pod %s is not Ready: %+v", p.Name, p.Status.Conditions)
		}
	}

	t.Run("the node lists the imported images by digest", func(t *testing.T) {
		node, err := c.Kube.CoreV1().Nodes().Get(ctx, "e2e-node", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, im := range node.Status.Images {
			names = append(names, im.Names...)
		}
		all := strings.Join(names, " ")
		if !strings.Contains(all, "docs-appliance.test/standin@sha256:") || !strings.Contains(all, "registry.k8s.io/pause@sha256:") {
			t.Errorf("node images %v lack the digest names", names)
		}
	})

	t.Run("reapply on a live cluster changes nothing", func(t *testing.T) {
		again, err := c.Apply(ctx, objs, cluster.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range again {
			if ch.Action != cluster.Unchanged {
				t.Errorf("%s: %s", ch.Ref, ch.Action)
			}
		}
	})

	t.Run("the service answers through a port-forward", func(t *testing.T) {
		fwd, err := c.PortForward(ctx, ns, "service/"+release, 80)
		if err != nil {
			t.Fatal(err)
		}
		defer fwd.Close()
		body := httpGet(t, ctx, "http://"+fwd.Addr+"/")
		for _, want := range []string{message, "POD_NAME=" + fwd.Pod, "/etc/standin/value: mounted-secret-value"} {
			if !strings.Contains(body, want) {
				t.Errorf("answer lacks %q:\n%s", want, body)
			}
		}
	})

	svc, err := c.Kube.CoreV1().Services(ns).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the service answers on its ClusterIP inside the node", func(t *testing.T) {
		out, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "10", fmt.Sprintf("http://%s:80/", svc.Spec.ClusterIP))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), message) {
			t.Errorf("ClusterIP answer %q", out)
		}
	})

	t.Run("cluster DNS resolves the service from a pod", func(t *testing.T) {
		fwd, err := c.PortForward(ctx, ns, "pod/"+pods.Items[0].Name, 8080)
		if err != nil {
			t.Fatal(err)
		}
		defer fwd.Close()
		for _, host := range []string{release + "." + ns + ".svc.cluster.local", release} {
			body := httpGet(t, ctx, "http://"+fwd.Addr+"/resolve?host="+host)
			if strings.TrimSpace(body) != svc.Spec.ClusterIP {
				t.Errorf("%s resolved to %q, want %s", host, body, svc.Spec.ClusterIP)
			}
		}
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func httpGet(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}
