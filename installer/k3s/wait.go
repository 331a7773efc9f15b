package k3s

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// CoreDeployments are the kube-system workloads k3s deploys that the appliance relies on: DNS,
// the local-path volumes, and metrics (Traefik is disabled).
var CoreDeployments = []string{"coredns", "local-path-provisioner", "metrics-server"}

// WaitReady polls until the node is Ready and every core deployment has its replicas available,
// or timeout passes; the error then names what is not ready and why.
func WaitReady(ctx context.Context, client kubernetes.Interface, node string, interval, timeout time.Duration) error {
	return waitReady(ctx, client, node, CoreDeployments, interval, timeout)
}

func waitReady(ctx context.Context, client kubernetes.Interface, node string, core []string, interval, timeout time.Duration) error {
	var last []string
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		res := notReady(ctx, client, node, core)
		if dl, ok := ctx.Deadline(); ctx.Err() != nil || ok && time.Until(dl) < interval {
			// Cut short by the deadline (client-go's rate limiter refuses a request it cannot
			// send in time before the context ends): the previous look says more.
			return false, nil
		}
		last = res
		return len(last) == 0, nil
	})
	if err != nil {
		if len(last) == 0 {
			return fmt.Errorf("waiting for k3s: %w", err)
		}
		return fmt.Errorf("waiting for k3s: after %s, %s (journalctl -u k3s tells why)", timeout, strings.Join(last, "; "))
	}
	return nil
}

// notReady lists what is not ready yet.
func notReady(ctx context.Context, client kubernetes.Interface, node string, core []string) []string {
	var out []string
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		out = append(out, "node "+node+" has not registered")
	case err != nil:
		out = append(out, "the API server does not answer yet ("+err.Error()+")")
		return out
	default:
		ready := false
		why := "no Ready condition yet"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready = c.Status == corev1.ConditionTrue
				why = strings.TrimSpace(c.Reason + ": " + c.Message)
			}
		}
		if !ready {
			out = append(out, "node "+node+" is not Ready ("+why+")")
		}
	}
	for _, name := range core {
		d, err := client.AppsV1().Deployments("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				out = append(out, "deployment kube-system/"+name+" does not exist yet")
			} else {
				out = append(out, "reading deployment kube-system/"+name+": "+err.Error())
			}
			continue
		}
		if !deploymentAvailable(d) {
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			out = append(out, fmt.Sprintf("deployment kube-system/%s has %d/%d replicas available", name, d.Status.AvailableReplicas, want))
		}
	}
	sort.Strings(out)
	return out
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < want || d.Status.AvailableReplicas < want {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func runWait(ctx context.Context, p *provisioner) error {
	deadline := time.Now().Add(p.Timeout)
	kubeconfig, core := KubeconfigPath, CoreDeployments
	if p.agent() {
		// An agent has the kubelet's credentials only: its own Node, not kube-system's
		// deployments (the servers' wait covered those).
		kubeconfig, core = KubeletKubeconfig, nil
	}
	// k3s writes its kubeconfig a few seconds after it starts.
	var data []byte
	err := wait.PollUntilContextTimeout(ctx, p.PollInterval, p.Timeout, true, func(context.Context) (bool, error) {
		var err error
		data, err = p.Root.ReadFile(kubeconfig)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("waiting for k3s to write %s: %w (journalctl -u %s tells why)", kubeconfig, err, strings.TrimSuffix(p.unit(), ".service"))
	}
	cfg, err := restConfig(p.Root, data)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	// One look is four requests; client-go's default 5 per second would throttle the polling.
	cfg.QPS, cfg.Burst = 50, 100
	client, err := p.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("building a client from %s: %w", kubeconfig, err)
	}
	return waitReady(ctx, client, p.node, core, p.PollInterval, time.Until(deadline))
}

// restConfig reads a kubeconfig whose certificate files are host paths (the kubelet's names
// its client certificate and CA by path), taking them under root.
func restConfig(root host.Root, data []byte) (*rest.Config, error) {
	c, err := clientcmd.Load(data)
	if err != nil {
		return nil, err
	}
	for _, cl := range c.Clusters {
		if cl.CertificateAuthority != "" {
			cl.CertificateAuthority = root.Path(cl.CertificateAuthority)
		}
	}
	for _, a := range c.AuthInfos {
		if a.ClientCertificate != "" {
			a.ClientCertificate = root.Path(a.ClientCertificate)
		}
		if a.ClientKey != "" {
			a.ClientKey = root.Path(a.ClientKey)
		}
	}
	return clientcmd.NewDefaultClientConfig(*c, nil).ClientConfig()
}
