package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

const nodeStateDir = "/var/lib/docs-appliance"

// serverHost is a server's files as k3s leaves them (its CA, its server token) under a root,
// and the envtest cluster it would serve, with its Node objects as k3s registers them.
type serverHost struct {
	tr         *hosttest.Tree
	kube       kubernetes.Interface
	kubeconfig string
}

func newServerHost(t *testing.T) *serverHost {
	t.Helper()
	env := envtest.New(t)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr := hosttest.New(t).Write("/proc/sys/kernel/hostname", "docs-1\n").
		Write(k3sServerCA, "-----BEGIN CERTIFICATE-----\nserver CA\n-----END CERTIFICATE-----\n").
		Write(k3sServerToken, "K10aaaa::server:cluster-server-password\n").Mkdir(nodeStateDir)
	return &serverHost{tr: tr, kube: kube, kubeconfig: env.Kubeconfig}
}

func (h *serverHost) node(t *testing.T, name string, labels map[string]string, ready bool, ip string) {
	t.Helper()
	ctx := context.Background()
	n, err := h.kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, h.kube, n, ready)
	n, _ = h.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	if _, err := h.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setReady(t *testing.T, kube kubernetes.Interface, n *corev1.Node, ready bool) {
	t.Helper()
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionUnknown
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := kube.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

var serverLabels = map[string]string{nodes.LabelControlPlane: "true", "node-role.kubernetes.io/master": "true"}

func etcdLabels() map[string]string {
	return map[string]string{nodes.LabelControlPlane: "true", nodes.LabelEtcd: "true", "node-role.kubernetes.io/master": "true"}
}

func TestAgentTokenIsPrintedOnceAndKeptHashed(t *testing.T) {
	h := newServerHost(t)
	h.node(t, "docs-1", etcdLabels(), true, "10.0.0.1")
	c := NewNodeTokenCreate(nodeStateDir, h.kubeconfig, h.tr.Root, k3s.RoleAgent, 2*time.Hour)
	c.Description = "worker-4"
	var log bytes.Buffer
	if err := c.Run(context.Background(), status.New(&log, status.Plain)); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	res := c.Result
	ca, _ := h.tr.Root.ReadFile(k3sServerCA)
	if !strings.HasPrefix(res.Token, nodes.JoinToken(ca, "")) || !strings.Contains(res.Command, "docs-appliance join https://10.0.0.1:6443 --role agent --token-file FILE") {
		t.Errorf("token %q command %q", res.Token, res.Command)
	}
	if strings.Contains(res.Command, res.Token) || strings.Contains(log.String(), res.Token) {
		t.Error("the token is in the join command or the status")
	}
	if text := res.Text(); strings.Count(text, res.Token) != 1 {
		t.Errorf("the token is not printed exactly once:\n%s", text)
	}
	recPath := h.tr.Root.Path(tokenRecordsPath(nodeStateDir))
	data, _ := os.ReadFile(recPath)
	_, secret, _ := strings.Cut(res.Token, ".")
	if st, err := os.Stat(recPath); err != nil || st.Mode().Perm() != 0o600 || strings.Contains(string(data), secret) || !strings.Contains(string(data), tokenHash(res.Token)) {
		t.Errorf("records (%v): %s", err, data)
	}
	// Listed with its expiry, then revoked: k3s's Secret is gone.
	l := NewNodeList(nodeStateDir, h.kubeconfig, h.tr.Root)
	if err := l.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if len(l.Result.Tokens) != 1 || l.Result.Tokens[0].ID != res.Record.ID || !strings.Contains(l.Result.TokensText(time.Now()), "agent   expires") {
		t.Errorf("listing %+v\n%s", l.Result.Tokens, l.Result.TokensText(time.Now()))
	}
	if err := NewNodeTokenRevoke(nodeStateDir, h.kubeconfig, h.tr.Root, res.Record.ID).Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if toks, _ := nodes.ListAgentTokens(context.Background(), h.kube); len(toks) != 0 {
		t.Errorf("still in the cluster: %+v", toks)
	}
	if recs, _ := readTokenRecords(h.tr.Root.Path(nodeStateDir)); len(recs) != 0 {
		t.Errorf("still recorded: %+v", recs)
	}
}

func TestServerTokenSaysItDoesNotExpire(t *testing.T) {
	h := newServerHost(t)
	h.node(t, "docs-1", etcdLabels(), true, "10.0.0.1")
	c := NewNodeTokenCreate(nodeStateDir, h.kubeconfig, h.tr.Root, k3s.RoleServer, 24*time.Hour)
	if err := c.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if c.Result.Token != "K10aaaa::server:cluster-server-password" || !strings.Contains(c.Result.Text(), "does not expire") ||
		!strings.Contains(c.Result.Note, "k3s joins servers only with the cluster's server token") {
		t.Errorf("%+v\n%s", c.Result, c.Result.Text())
	}
	r := NewNodeTokenRevoke(nodeStateDir, h.kubeconfig, h.tr.Root, c.Result.Record.ID)
	if err := r.Run(context.Background(), status.Discard()); err != nil || !strings.Contains(r.Note, "k3s cannot revoke") {
		t.Errorf("revoke: %v %q", err, r.Note)
	}
	bad := NewNodeTokenCreate(nodeStateDir, h.kubeconfig, h.tr.Root, "worker", 0)
	if err := bad.Run(context.Background(), status.Discard()); err == nil || !strings.Contains(err.Error(), `--role "worker": give server or agent`) || !strings.Contains(err.Error(), "--ttl 0s") {
		t.Errorf("bad flags: %v", err)
	}
}

// The first server on SQLite: a server token first takes a backup, then restarts k3s with
// cluster-init, waits for the etcd label and gives k3s the snapshot target. systemd and k3s
// are stood in for (the recorder answers systemctl; the test labels the node as k3s's etcd
// controller would); the API server is real.
func TestServerTokenConvertsTheFirstServerAfterABackup(t *testing.T) {
	h := newServerHost(t)
	h.node(t, "docs-1", serverLabels, true, "10.0.0.1")
	ctx := context.Background()
	for _, d := range k3s.CoreDeployments {
		readyDeployment(t, h.kube, d)
	}
	kc, _ := os.ReadFile(h.kubeconfig)
	h.tr.Write(k3s.SQLitePath, "sqlite").Write(k3s.KubeconfigPath, string(kc))
	rec := &host.Recorder{}
	var order []string
	rec.Reply([]string{"systemctl", "is-active", k3s.Unit}, "active\n", 0)
	h.tr.Symlink(k3s.UnitPath, host.EnabledLink(k3s.Unit))
	rec.On([]string{"systemctl", "restart", k3s.Unit}, func(host.Cmd) ([]byte, error) {
		order = append(order, "restart")
		// k3s's etcd metadata controller labels the node a moment after the restart.
		go func() {
			time.Sleep(500 * time.Millisecond)
			n, err := h.kube.CoreV1().Nodes().Get(ctx, "docs-1", metav1.GetOptions{})
			if err == nil {
				n.Labels[nodes.LabelEtcd] = "true"
				_, _ = h.kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			}
		}()
		return nil, nil
	})
	conv := &EtcdConversion{
		K3s: k3s.Options{Root: h.tr.Root, Runner: rec, Train: trainForK3s(), Arch: "amd64", AllowUnpinned: true, StateDir: nodeStateDir,
			ClusterInit: true, Snapshots: EtcdSnapshots(true), Timeout: 20 * time.Second, PollInterval: 100 * time.Millisecond},
		Backup: func(context.Context, *status.Status) error { order = append(order, "backup"); return nil },
		Target: &k3s.S3Target{Endpoint: "https://s3.example.org", Bucket: "backups", Prefix: "docs/", AccessKeyID: "AK", SecretAccessKey: "SK"},
		Poll:   100 * time.Millisecond, Within: 20 * time.Second,
	}
	c := NewNodeTokenCreate(nodeStateDir, h.kubeconfig, h.tr.Root, k3s.RoleServer, time.Hour)
	c.Convert = conv
	var log bytes.Buffer
	if err := c.Run(ctx, status.New(&log, status.Plain)); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if strings.Join(order, ",") != "backup,restart" {
		t.Errorf("order %v: the backup must come before the restart", order)
	}
	cfg := h.tr.Read(k3s.ConfigPath)
	for _, want := range []string{"cluster-init: true", "etcd-s3: true", "etcd-s3-config-secret: " + k3s.EtcdS3SecretName, "etcd-snapshot-schedule-cron: 0 */12 * * *"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, cfg)
		}
	}
	s, err := h.kube.CoreV1().Secrets("kube-system").Get(ctx, k3s.EtcdS3SecretName, metav1.GetOptions{})
	if err != nil || string(s.Data["etcd-s3-bucket"]) != "backups" || string(s.Data["etcd-s3-folder"]) != "docs/etcd" {
		t.Errorf("snapshot target: %v %v", err, s)
	}
	if !strings.Contains(log.String(), "✔ Taking a backup set before moving k3s to embedded etcd") || !strings.Contains(log.String(), "✔ Waiting for k3s to make this server an etcd member") {
		t.Errorf("status:\n%s", log.String())
	}

	// Once on etcd, a second server token skips the conversion and says why.
	h.tr.Mkdir(k3s.EtcdDataDir + "/member")
	order, log = nil, bytes.Buffer{}
	c2 := NewNodeTokenCreate(nodeStateDir, h.kubeconfig, h.tr.Root, k3s.RoleServer, time.Hour)
	c2.Convert = conv
	if err := c2.Run(ctx, status.New(&log, status.Plain)); err != nil {
		t.Fatal(err)
	}
	if len(order) != 0 || !strings.Contains(log.String(), "k3s already runs embedded etcd") {
		t.Errorf("rerun did %v:\n%s", order, log.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readyDeployment(t *testing.T, kube kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	d, err := kube.AppsV1().Deployments("kube-system").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
		Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}}
	if _, err := kube.AppsV1().Deployments("kube-system").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestNodeRemoveGuardsQuorumThenRemoves(t *testing.T) {
	h := newServerHost(t)
	for i, name := range []string{"docs-1", "docs-2", "docs-3"} {
		h.node(t, name, etcdLabels(), true, "10.0.0."+string(rune('1'+i)))
	}
	ctx := context.Background()
	// 3 → 2 of a Ready server: refused, nothing changed, even in a dry run.
	r := NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-3")
	r.DryRun = true
	var refused *nodes.RemovalRefusedError
	if err := r.Run(ctx, status.Discard()); !errors.As(err, &refused) || !refused.Forceable {
		t.Fatalf("3 → 2: %v", err)
	}
	if n, _ := h.kube.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{}); n.Spec.Unschedulable {
		t.Error("a refused removal cordoned the node")
	}
	// Not from the server being removed: its API goes with its etcd member.
	r = NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-1")
	r.Kubeconfig, r.Force = "", true
	h.tr.Write(k3s.KubeconfigPath, readFile(t, h.kubeconfig))
	if err := r.Run(ctx, status.Discard()); err == nil || !strings.Contains(err.Error(), "refusing to remove node docs-1 from itself: run docs-appliance node remove docs-1 on another server") {
		t.Errorf("removing itself: %v", err)
	}
	// docs-3 is lost: removing a Ready one would lose quorum, force or not; removing docs-3 is
	// the first step of replacing it.
	n, _ := h.kube.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{})
	setReady(t, h.kube, n, false)
	r = NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-2")
	r.Force = true
	if err := r.Run(ctx, status.Discard()); !errors.As(err, &refused) || refused.Forceable || !strings.Contains(err.Error(), "lose quorum") {
		t.Errorf("removing a Ready member while another is lost: %v", err)
	}
	if ids := removalPlan(t, NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-3")); ids != "node-drain,node-leave,etcd-member-remove,node-delete" {
		t.Errorf("plan %v", ids)
	}
	// Carried out, with the test playing k3s's etcd member controller.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			n, err := h.kube.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{})
			if err == nil && n.Annotations[nodes.RemoveAnnotation] == "true" && n.Annotations[nodes.RemovedAnnotation] == "" {
				n.Annotations[nodes.RemovedAnnotation] = "docs-3-5c1e"
				_, _ = h.kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			}
		}
	}()
	r = NewNodeRemove(nodeStateDir, h.kubeconfig, h.tr.Root, "docs-3")
	r.Poll, r.Within, r.DrainTimeout = 50*time.Millisecond, 10*time.Second, 10*time.Second
	if err := r.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.kube.CoreV1().Nodes().Get(ctx, "docs-3", metav1.GetOptions{}); err == nil {
		t.Error("docs-3 is still a node")
	}
	if text := r.Result.Text(); !strings.Contains(text, "two servers have no fault tolerance") || !strings.Contains(text, "docs-appliance reset") {
		t.Errorf("text:\n%s", text)
	}
}

// trainForK3s is a train k3s accepts unpinned (AllowUnpinned), for the provisioning steps the
// conversion runs (binary and images are not among them).
func trainForK3s() *bundles.Train {
	return &bundles.Train{Name: "2026.11", K3s: bundles.K3s{Version: "v1.35.2+k3s1", Artifacts: map[string]bundles.K3sArtifacts{
		"amd64": {BinaryURL: "https://k3s.invalid/k3s", AirgapImagesURL: "https://k3s.invalid/images"}}}}
}

// pinnedTrain is a locked train (made-up sha256s: nothing is downloaded before the preflight).
func pinnedTrain() *bundles.Train {
	t := trainForK3s()
	pin := bundles.K3sArtifacts{BinaryURL: "https://k3s.invalid/k3s", AirgapImagesURL: "https://k3s.invalid/images",
		BinarySHA256: strings.Repeat("a", 64), AirgapImagesSHA256: strings.Repeat("b", 64)}
	t.K3s.Artifacts = map[string]bundles.K3sArtifacts{"amd64": pin, "arm64": pin}
	return t
}

// Two servers is a state to pass through: the join of the second says to add the third; the
// third's says nothing.
func TestJoinOfTheSecondServerSaysToAddTheThird(t *testing.T) {
	h := newServerHost(t)
	h.node(t, "docs-1", etcdLabels(), true, "10.0.0.1")
	h.node(t, "docs-2", etcdLabels(), true, "10.0.0.2")
	var log bytes.Buffer
	j := &JoinAction{Root: h.tr.Root, StateDir: nodeStateDir, Role: k3s.RoleServer, Result: &JoinResult{},
		NewCluster: func(string) (*cluster.Client, error) { return cluster.NewFromKubeconfig(h.kubeconfig) }}
	j.adviseQuorum(context.Background(), status.New(&log, status.Plain))
	if !strings.Contains(j.Result.Advice, "two servers have no fault tolerance") || !strings.Contains(j.Result.Text(), "join a third now") || !strings.Contains(log.String(), "join a third") {
		t.Errorf("advice %q\n%s", j.Result.Advice, log.String())
	}
	h.node(t, "docs-3", etcdLabels(), true, "10.0.0.3")
	j.Result = &JoinResult{}
	j.adviseQuorum(context.Background(), status.Discard())
	if j.Result.Advice != "" || j.Result.Quorum == nil || j.Result.Quorum.Tolerance != 1 {
		t.Errorf("three servers: %q %+v", j.Result.Advice, j.Result.Quorum)
	}
}
