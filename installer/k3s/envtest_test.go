package k3s

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Provision against a real API server: k3s cannot run here, so the fake systemd "starts" it by
// writing the envtest kubeconfig where k3s writes its own, and the test plays the kubelet and
// k3s's controllers by writing node and deployment status. Everything else is real: the
// kubeconfig is loaded from the file, the client is client-go's, the wait polls the API server.
func TestProvisionWaitsOnARealAPIServer(t *testing.T) {
	env := envtest.New(t)
	kubeconfig, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeK3s(t).bundle()
	f.rec.On([]string{"systemctl", "enable", "--now", Unit}, func(host.Cmd) ([]byte, error) {
		f.active = true
		_, err := f.tr.Root.WriteFile(KubeconfigPath, kubeconfig, 0o600)
		return nil, err
	})
	o := f.options()
	o.NewClient = nil // client-go's own, from the kubeconfig file
	o.Timeout = 20 * time.Second
	o.PollInterval = 100 * time.Millisecond

	client, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- Provision(ctx, o, nil) }()

	// Until the node and the core deployments are there and ready, Provision must wait.
	select {
	case err := <-done:
		t.Fatalf("Provision returned before the cluster was ready: %v", err)
	case <-time.After(time.Second):
	}
	if err := makeReady(ctx, client, "docs-1"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(f.tr.Read(StateKubeconfig(stateDir))) != string(kubeconfig) {
		t.Error("the kubeconfig was not kept")
	}
}

func TestWaitReadyNamesWhatIsMissingOnARealAPIServer(t *testing.T) {
	env := envtest.New(t)
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for a first look at a loaded machine; the node never comes.
	err = WaitReady(context.Background(), client, "docs-1", 100*time.Millisecond, 8*time.Second)
	for _, want := range []string{"node docs-1 has not registered", "deployment kube-system/coredns does not exist yet"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// makeReady writes what the kubelet and k3s's controllers would: a Ready node and the core
// deployments with their replicas available.
func makeReady(ctx context.Context, c kubernetes.Interface, node string) error {
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, name := range CoreDeployments {
		one := int32(1)
		labels := map[string]string{"app": name}
		d, err := c.AppsV1().Deployments("kube-system").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "docker.io/rancher/" + name + ":test"}}},
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now}},
		}
		if _, err := c.AppsV1().Deployments("kube-system").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
