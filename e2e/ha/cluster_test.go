//go:build e2e

package ha

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// proberImage is the prober (e2e/ha/prober) as an image, for a Job on one node.
const proberImage = "docs-appliance.test/prober:e2e"

var intstrHTTP = intstr.FromString("http")

// serverLabels are the labels k3s puts on a server node (embedded etcd).
var serverLabels = []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd"}

// labelServers labels every node of the cluster as a k3s server, as three `join --role server`
// leave it, and waits until all are Ready.
func labelServers(ctx context.Context, t *testing.T, c *cluster.Client) {
	t.Helper()
	for _, name := range testNode.NodeNames() {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("node %s: %v", name, err)
		}
		for _, l := range serverLabels {
			n.Labels[l] = "true"
		}
		if _, err := c.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("labelling node %s as a server: %v", name, err)
		}
	}
	waitNodesReady(ctx, t, c, testNode.NodeNames())
}

func waitNodesReady(ctx context.Context, t *testing.T, c *cluster.Client, names []string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range names {
			n, err := c.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !nodeReady(n) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("waiting for nodes %v to be Ready: %v", names, err)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestPodsOfOneNodeReachAServiceOfAnother: a pod on node 2 resolves (CoreDNS runs on node 1) and
// reaches a Service whose only endpoint runs on node 3, and node 1's namespace reaches it too: the
// pod networks are routed between the nodes.
func TestPodsOfOneNodeReachAServiceOfAnother(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if len(testNode.Workers) != 2 {
		t.Fatalf("the cluster has %d further nodes, want 2", len(testNode.Workers))
	}
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	waitNodesReady(ctx, t, c, testNode.NodeNames())
	from, to := testNode.Workers[0], testNode.Workers[1]

	mod, err := images.ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tar, err := images.GoProgram{Package: "./e2e/ha/prober", Tag: proberImage, User: "65532:65532"}.Build(ctx, mod, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := testNode.ImportImages(ctx, tar); err != nil {
		t.Fatal(err)
	}

	ns := "net-check"
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.Kube.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{})
	}()
	labels := map[string]string{"app": "echo"}
	message := "served from " + to.Name
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/hostname": to.Name},
					Containers: []corev1.Container{{
						Name: "echo", Image: images.Standin, ImagePullPolicy: corev1.PullNever,
						Env:            []corev1.EnvVar{{Name: "MESSAGE", Value: message}},
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstrHTTP}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if _, err := c.Kube.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstrHTTP}}},
	}
	if svc, err = c.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, []cluster.Ref{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "echo"}}, cluster.WaitOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "reach", Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				NodeSelector:  map[string]string{"kubernetes.io/hostname": from.Name},
				Containers: []corev1.Container{{
					Name: "prober", Image: proberImage, ImagePullPolicy: corev1.PullNever,
					Args: []string{"-every", "0", "-timeout", "5s", "-url", "http://echo." + ns + ".svc.cluster.local/", "-want", message},
				}},
			}},
		},
	}
	if _, err := c.Kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var done *batchv1.Job
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		j, err := c.Kube.BatchV1().Jobs(ns).Get(ctx, "reach", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		done = j
		return j.Status.Succeeded > 0 || j.Status.Failed > 0, nil
	})
	if err != nil || done.Status.Succeeded == 0 {
		t.Fatalf("the pod on %s did not reach the Service backed by %s (%v): %s", from.Name, to.Name, err, podStory(ctx, c, ns, "job-name=reach"))
	}
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=reach"})
	if err != nil || len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != from.Name {
		t.Fatalf("the prober's pod did not run on %s: %v %s", from.Name, err, podStory(ctx, c, ns, "job-name=reach"))
	}

	// Node 1's own namespace (where the appliance's binary runs) reaches the pod on node 3.
	out, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "5", "http://"+svc.Spec.ClusterIP+"/")
	if err != nil || !strings.Contains(string(out), message) {
		t.Fatalf("node 1 does not reach the Service backed by %s: %v\n%s", to.Name, err, out)
	}
	t.Logf("a pod on %s and node %s reach the Service backed by %s (cluster of %d nodes up in %s)", from.Name, testNode.NodeName(), to.Name,
		len(testNode.NodeNames()), testNode.Took.Round(100*time.Millisecond))
}

// podStory says, for a failure, where the pods matching selector ran and how they ended.
func podStory(ctx context.Context, c *cluster.Client, ns, selector string) string {
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		b.WriteString(p.Name + " on " + p.Spec.NodeName + ": " + string(p.Status.Phase))
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				b.WriteString(" (exit " + cs.State.Terminated.Reason + ": " + cs.State.Terminated.Message + ")")
			}
		}
		b.WriteString("; ")
		if logs, err := c.Kube.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx); err == nil {
			b.WriteString("log: " + strings.TrimSpace(string(logs)) + "; ")
		}
	}
	return b.String()
}
