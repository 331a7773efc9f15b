package nodes

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
)

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	env := envtest.New(t)
	c, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// k3sNode is a Node object as k3s registers a server (control-plane, etcd and master labels,
// set to "true") or an agent (none), with the kubelet's Ready condition.
func k3sNode(t *testing.T, c kubernetes.Interface, name string, server, ready bool) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	if server {
		n.Labels[LabelControlPlane], n.Labels[LabelEtcd], n.Labels["node-role.kubernetes.io/master"] = "true", "true", "true"
	}
	ctx := context.Background()
	created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionTrue
	reason := "KubeletReady"
	if !ready {
		st, reason = corev1.ConditionUnknown, "NodeStatusUnknown"
	}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: reason, Message: "kubelet says so", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0." + name[len(name)-1:]}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestListAndQuorumOnARealAPIServer(t *testing.T) {
	c := client(t)
	k3sNode(t, c, "docs-1", true, true)
	k3sNode(t, c, "docs-2", true, false)
	k3sNode(t, c, "docs-3", true, true)
	k3sNode(t, c, "worker-4", false, true)
	nodes, err := List(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 4 || strings.Join(nodes[0].Roles, ",") != "server,etcd" || strings.Join(nodes[3].Roles, ",") != "agent" ||
		nodes[1].Ready || nodes[1].Why != "NodeStatusUnknown: kubelet says so" || nodes[0].InternalIP != "10.0.0.1" {
		t.Fatalf("nodes %+v", nodes)
	}
	q := QuorumOf(nodes)
	if q.Members != 3 || q.Ready != 2 || q.Tolerance != 0 || strings.Join(q.Lost, ",") != "docs-2" {
		t.Errorf("quorum %+v", q)
	}
}

func TestAgentTokensCreateListRevoke(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	now := time.Now()
	tok, cred, err := CreateAgentToken(ctx, c, 24*time.Hour, "docs-4 joins", now)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(cred, ".")
	if id != tok.ID || len(id) != 6 || len(secret) != 16 || !tokenIDPattern.MatchString(id) {
		t.Fatalf("credential %q for %+v", cred, tok)
	}
	// The Secret is the one k3s's bootstrap authenticator reads.
	s, err := c.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+id, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != "bootstrap.kubernetes.io/token" || string(s.Data["token-secret"]) != secret || string(s.Data["usage-bootstrap-authentication"]) != "true" ||
		string(s.Data["auth-extra-groups"]) != agentGroup {
		t.Errorf("secret %s %v", s.Type, s.Data)
	}
	if exp, _ := time.Parse(time.RFC3339, string(s.Data["expiration"])); exp.Sub(now) < 23*time.Hour || exp.Sub(now) > 24*time.Hour {
		t.Errorf("expiration %s", s.Data["expiration"])
	}
	// A token someone made with `k3s token create` is listed but not the appliance's to revoke.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abc123", Namespace: "kube-system"}, Type: "bootstrap.kubernetes.io/token",
		StringData: map[string]string{"token-id": "abc123", "token-secret": "0123456789abcdef", "expiration": now.Add(time.Hour).UTC().Format(time.RFC3339)}}
	if _, err := c.CoreV1().Secrets("kube-system").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := ListAgentTokens(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "abc123" || list[0].Appliance || list[1].ID != id || !list[1].Appliance || list[1].Description != "docs-4 joins" {
		t.Fatalf("list %+v", list)
	}
	if err := RevokeAgentToken(ctx, c, "abc123"); err == nil || !strings.Contains(err.Error(), "the appliance did not make it; `k3s token delete abc123` removes it") {
		t.Errorf("revoking a foreign token: %v", err)
	}
	if err := RevokeAgentToken(ctx, c, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+id, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the revoked token's Secret is still there: %v", err)
	}
	if err := RevokeAgentToken(ctx, c, id); !errors.Is(err, ErrNoSuchToken) {
		t.Errorf("revoking twice: %v", err)
	}
	if err := RevokeAgentToken(ctx, c, "../x"); err == nil || !strings.Contains(err.Error(), "six lowercase letters or digits") {
		t.Errorf("bad ID: %v", err)
	}
	if _, _, err := CreateAgentToken(ctx, c, 0, "", now); err == nil || !strings.Contains(err.Error(), "a join token always expires") {
		t.Errorf("no TTL: %v", err)
	}
}

func TestJoinTokenPinsTheServerCA(t *testing.T) {
	// sha256sum of a file holding "ca\n", as `sha256sum server-ca.crt` prints it.
	if got := JoinToken([]byte("ca\n"), "abcdef.0123456789abcdef"); got != "K10314a01b67979d4ecc6667666046246e726d9848903e33d0e63fab1165aea9d94::abcdef.0123456789abcdef" {
		t.Errorf("token %s", got)
	}
}

// Removal as node remove runs it: the test plays k3s's etcd member controller (sets the
// removed annotation once asked) and the kubelet (pods asked to go, go).
func TestRemoveDrainsRemovesTheMemberAndDeletesTheNode(t *testing.T) {
	c := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k3sNode(t, c, "docs-3", true, true)
	ns := "docs"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, owner *metav1.OwnerReference) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{NodeName: "docs-3", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	pod("docs-backend-1", nil)
	pod("agent-xyz", &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: ds.UID, Controller: &yes})
	go playKubeletAndEtcd(ctx, c, "docs-3")

	var log bytes.Buffer
	if err := Drain(ctx, c, "docs-3", true, 30*time.Second, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	n, _ := c.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Error("the node was not cordoned")
	}
	if _, err := c.CoreV1().Pods(ns).Get(ctx, "docs-backend-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the workload pod was not evicted: %v", err)
	}
	if _, err := c.CoreV1().Pods(ns).Get(ctx, "agent-xyz", metav1.GetOptions{}); err != nil {
		t.Errorf("the DaemonSet pod was evicted: %v", err)
	}
	if err := RemoveEtcdMember(ctx, c, "docs-3", 50*time.Millisecond, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	n, _ = c.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{})
	if n.Annotations[RemoveAnnotation] != "true" || !EtcdMemberRemoved(n) {
		t.Errorf("annotations %v", n.Annotations)
	}
	if err := DeleteNode(ctx, c, "docs-3"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteNode(ctx, c, "docs-3"); err != nil {
		t.Errorf("deleting a node already gone: %v", err)
	}
}

// playKubeletAndEtcd stands in for what cannot run on envtest: the kubelet finishing pods asked
// to go, and k3s's etcd member controller acknowledging a removal request.
func playKubeletAndEtcd(ctx context.Context, c kubernetes.Interface, node string) {
	zero := int64(0)
	for ctx.Err() == nil {
		pods, _ := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if pods != nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					_ = c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
		}
		if n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil && n.Annotations[RemoveAnnotation] == "true" && n.Annotations[RemovedAnnotation] == "" {
			n.Annotations[RemovedAnnotation] = node + "-1a2b3c4d"
			_, _ = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		}
		time.Sleep(50 * time.Millisecond)
	}
}
