package cnpgkit

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// Namespace is where upstream's manifests put the operator and the plugin (as the train does).
const Namespace = "cnpg-system"

// Installed is CloudNativePG running on a node.
type Installed struct {
	Kit    Kit
	Client *cluster.Client
	// Took is how long Install took, image import included.
	Took time.Duration
}

// Install imports the kit's images into the node, applies the operator's release manifest and the
// plugin's manifest (see pluginObjects), and waits until both Deployments are available and the
// operator's admission webhooks answer, so Clusters can be created at once. Running
// it again converges, keeping the plugin's certificates (a running plugin reads them at start).
func Install(ctx context.Context, n *node.Node, k Kit) (*Installed, error) {
	start := time.Now()
	if err := n.ImportImages(ctx, k.Images()...); err != nil {
		return nil, fmt.Errorf("importing the CloudNativePG images: %w", err)
	}
	c, err := cluster.New(n.Config)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(k.path(operatorManifest))
	if err != nil {
		return nil, fmt.Errorf("reading the operator manifest: %w", err)
	}
	objs, err := operatorObjects(data)
	if err != nil {
		return nil, err
	}
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		return nil, fmt.Errorf("applying the CloudNativePG operator: %w", err)
	}
	if data, err = os.ReadFile(k.path(pluginManifest)); err != nil {
		return nil, fmt.Errorf("reading the plugin manifest: %w", err)
	}
	if objs, err = pluginObjects(data, k.PluginImage, k.SidecarImage); err != nil {
		return nil, err
	}
	if objs, err = keepTLSSecrets(ctx, c, objs); err != nil {
		return nil, err
	}
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{}); err != nil {
		return nil, fmt.Errorf("applying the barman-cloud plugin: %w", err)
	}
	deployments := []cluster.Ref{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: Namespace, Name: "cnpg-controller-manager"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: Namespace, Name: "barman-cloud"},
	}
	if err := c.Wait(ctx, deployments, cluster.WaitOptions{Timeout: 5 * time.Minute}); err != nil {
		return nil, fmt.Errorf("waiting for the operator and the plugin: %w", err)
	}
	if err := waitWebhook(ctx, c, k); err != nil {
		return nil, err
	}
	return &Installed{Kit: k, Client: c, Took: time.Since(start)}, nil
}

// operatorObjects are the release manifest's objects with two changes for a node that pulls
// nothing and shares two cores: the operator's image is never pulled (upstream says Always), and
// its 100m CPU limit is lifted (its startup probe gives it 30 s, which a throttled start on a
// loaded machine misses).
func operatorObjects(manifest []byte) ([]*unstructured.Unstructured, error) {
	objs, err := cluster.DecodeObjects(manifest)
	if err != nil {
		return nil, fmt.Errorf("reading the operator manifest: %w", err)
	}
	found := false
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != "cnpg-controller-manager" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, ci := range containers {
			ct := ci.(map[string]any)
			ct["imagePullPolicy"] = "IfNotPresent"
			unstructured.RemoveNestedField(ct, "resources", "limits", "cpu")
		}
		if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("the operator manifest has no Deployment cnpg-controller-manager")
	}
	return objs, nil
}

// waitWebhook waits until the operator's admission webhooks answer: a server-side dry run of a
// Cluster passes through them. Its Deployment being available is not enough: the operator puts its
// CA into the webhook configurations at start, and the Service reaches it only once kube-proxy has
// its endpoint.
func waitWebhook(ctx context.Context, c *cluster.Client, k Kit) error {
	probe := probeCluster(Namespace, "webhook-probe", k.PostgresImage, "none")
	var last error
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = c.Apply(ctx, []*unstructured.Unstructured{probe}, cluster.ApplyOptions{DryRun: true})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the operator's admission webhooks to answer: %w (last: %v)", err, last)
	}
	return nil
}

// keepTLSSecrets drops from objs the plugin's TLS Secrets that already exist: new ones would not
// match the pair the running plugin and operator loaded.
func keepTLSSecrets(ctx context.Context, c *cluster.Client, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	out := objs[:0:0]
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.Object["type"] == "kubernetes.io/tls" {
			_, err := c.Kube.CoreV1().Secrets(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err == nil {
				continue
			}
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading Secret %s/%s: %w", o.GetNamespace(), o.GetName(), err)
			}
		}
		out = append(out, o)
	}
	return out, nil
}
