//go:build e2e

package ha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/appliance"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/profiles"
)

const (
	appNamespace = "standin"
	appName      = "standin-ha-app"
)

// haEnv is what the steps of the node-loss test share.
type haEnv struct {
	app                  *appliance.Env
	c                    *cluster.Client
	state, train, charts string
	token                string
}

// TestHAApplianceSurvivesNodeLoss installs the appliance with profile ha onto three servers
// through Git and Flux, sees the stand-in app's replicas spread one per node, then loses one node
// (its link, kubelet, containerd and containers: worker.sh stop) while a prober in node 1's
// namespace sends a request to the app's Service every 100 ms, and reports what those users saw;
// doctor must name the lost node; the node comes back and everything heals.
func TestHAApplianceSurvivesNodeLoss(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	labelServers(ctx, t, c)
	e := setupHA(ctx, t, c)

	t.Run("profile ha installs through Git and Flux with the app spread one replica per node", func(t *testing.T) {
		start := time.Now()
		out, err := e.install(ctx)
		if err != nil {
			t.Fatalf("install: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Flux Kustomizations ready") {
			t.Errorf("the install does not say Flux applied everything:\n%s", out)
		}
		t.Logf("install with profile ha on %d servers: %s", len(testNode.NodeNames()), time.Since(start).Round(100*time.Millisecond))
		e.waitSpread(ctx, t)
		e.checkAnswers(ctx, t)
	})
	if t.Failed() {
		return
	}

	t.Run("losing a node: the app keeps answering, doctor names the node, and it heals when the node is back", func(t *testing.T) {
		e.loseNode(ctx, t)
	})
	if t.Failed() {
		return
	}
	t.Run("upgrade's rollout: one node at a time cordoned, drained, restarted, uncordoned, the app answering", func(t *testing.T) {
		e.rollNodes(ctx, t)
	})
	t.Run("the rollout's swap pod runs on a real node and refuses a host whose k3s is not the appliance's", func(t *testing.T) {
		e.swapPodOnARealNode(ctx, t)
	})
}

func setupHA(ctx context.Context, t *testing.T, c *cluster.Client) *haEnv {
	t.Helper()
	a := appliance.Setup(ctx, t, testNode)
	waitImagesOnEveryNode(ctx, t, c, a.Pins)
	dir := t.TempDir()
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	e := &haEnv{app: a, c: c, state: filepath.Join(dir, "state"), train: filepath.Join(dir, "train.yaml"),
		charts: filepath.Join(dir, "charts"), token: hex.EncodeToString(tok)}
	// The stand-in chart takes its replicas and spread from render's appliance values block, as
	// profile ha sets them for Docs' backend: the cluster must have a node for each.
	ha, err := profiles.Get("ha")
	if err != nil {
		t.Fatal(err)
	}
	replicas := ha.Workload("docs-backend").Replicas
	if replicas != len(testNode.NodeNames()) {
		t.Fatalf("profile ha runs %d Docs replicas; this cluster has %d nodes", replicas, len(testNode.NodeNames()))
	}
	a.WriteTrain(t, e.train, e.charts, []appliance.Chart{
		{Name: "standin-operator", Layer: "operators", Namespace: "operators", Values: map[string]any{"image": a.Standin}},
		{Name: appName, Layer: "apps", Namespace: appNamespace, Values: map[string]any{"image": a.Standin, "token": e.token}},
	}, a.Pins)
	return e
}

func (e *haEnv) install(ctx context.Context) (string, error) {
	cfg := filepath.Join(e.app.Mod, "e2e", "testdata", "install", "appliance.yaml")
	out, err := e.app.Command(ctx, "--state-dir", e.state, "install", "--kubeconfig", testNode.Kubeconfig, "--config", cfg,
		"--set", "profile=ha", "--train-file", e.train, "--charts", e.charts, "--non-interactive", "--timeout", "15m").CombinedOutput()
	return string(out), err
}

// appPods are the app's pods that are Ready, by node.
func (e *haEnv) appPods(ctx context.Context) (map[string]string, error) {
	pods, err := e.c.Kube.CoreV1().Pods(appNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + appName})
	if err != nil {
		return nil, err
	}
	byNode := map[string]string{}
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				byNode[p.Spec.NodeName] = p.Name
			}
		}
	}
	return byNode, nil
}

// appPodIP is the IP of the app's Ready replica on node.
func (e *haEnv) appPodIP(ctx context.Context, t *testing.T, node string) string {
	t.Helper()
	byNode, err := e.appPods(ctx)
	if err != nil || byNode[node] == "" {
		t.Fatalf("no app replica on %s: %v %v", node, byNode, err)
	}
	pod, err := e.c.Kube.CoreV1().Pods(appNamespace).Get(ctx, byNode[node], metav1.GetOptions{})
	if err != nil || pod.Status.PodIP == "" {
		t.Fatalf("the IP of %s: %v", byNode[node], err)
	}
	return pod.Status.PodIP
}

// routesTo says whether kube-proxy's NAT rules in netns still send connections to ip.
func routesTo(ctx context.Context, netns, ip string) (bool, error) {
	out, err := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+netns, "iptables-save", "-t", "nat").Output()
	if err != nil {
		return false, fmt.Errorf("reading the NAT rules of %s: %w", netns, err)
	}
	return strings.Contains(string(out), "--to-destination "+ip+":"), nil
}

// logFailed logs each failed request started in [from, to), in seconds after zero.
func logFailed(t *testing.T, probes []Probe, from, to, zero time.Time) {
	for _, p := range probes {
		if !p.OK && !p.Start.Before(from) && p.Start.Before(to) {
			t.Logf("failed at +%.1fs (%d ms): %s", p.Start.Sub(zero).Seconds(), p.Took.Milliseconds(), p.Why)
		}
	}
}

// waitSpread waits until every node runs one Ready replica of the app.
func (e *haEnv) waitSpread(ctx context.Context, t *testing.T) {
	t.Helper()
	var last map[string]string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		byNode, err := e.appPods(ctx)
		if err != nil {
			return false, nil
		}
		last = byNode
		for _, n := range testNode.NodeNames() {
			if byNode[n] == "" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the app's replicas are not one Ready per node (%v): %v; %s", err, last, podStory(ctx, e.c, appNamespace, "app.kubernetes.io/name="+appName))
	}
	t.Logf("app replicas by node: %v", last)
}

// checkAnswers: every replica answers through the Service from node 1, with the domain and the
// decrypted secret.
func (e *haEnv) checkAnswers(ctx context.Context, t *testing.T) {
	t.Helper()
	ip := e.serviceIP(ctx, t)
	seen := map[string]bool{}
	for i := 0; i < 60 && len(seen) < len(testNode.NodeNames()); i++ {
		out, err := testNode.Exec(ctx, "curl", "-sS", "--max-time", "5", "http://"+ip+"/")
		if err != nil {
			t.Fatalf("the app does not answer: %v", err)
		}
		body := string(out)
		if !strings.Contains(body, "stand-in for Docs at docs.e2e.test\n") || !strings.Contains(body, "/etc/standin/token: "+e.token+"\n") {
			t.Fatal("the app does not show its domain and the secret the chart gave it")
		}
		for _, n := range testNode.NodeNames() {
			if strings.Contains(body, "NODE_NAME="+n+"\n") {
				seen[n] = true
			}
		}
	}
	if len(seen) != len(testNode.NodeNames()) {
		t.Errorf("the Service answered from %v only", seen)
	}
}

func (e *haEnv) serviceIP(ctx context.Context, t *testing.T) string {
	t.Helper()
	svc, err := e.c.Kube.CoreV1().Services(appNamespace).Get(ctx, appName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc.Spec.ClusterIP
}

// readyEndpoints are the nodes of the app Service's ready endpoints.
func (e *haEnv) readyEndpoints(ctx context.Context) ([]string, error) {
	slices, err := e.c.Kube.DiscoveryV1().EndpointSlices(appNamespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + appName})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready && ep.NodeName != nil {
				out = append(out, *ep.NodeName)
			}
		}
	}
	return out, nil
}

func (e *haEnv) loseNode(ctx context.Context, t *testing.T) {
	victim := testNode.Workers[len(testNode.Workers)-1]
	victimIP := e.appPodIP(ctx, t, victim.Name)
	stopProber := startProber(ctx, t, "http://"+e.serviceIP(ctx, t)+"/")
	begin := time.Now()
	time.Sleep(5 * time.Second) // a baseline: every request answered

	lost := time.Now()
	if err := victim.Stop(ctx); err != nil {
		stopProber()
		t.Fatal(err)
	}
	// The node lifecycle controller marks the silent node NotReady (Unknown) after its grace
	// period; only then are its pods marked not Ready and dropped from the Service's endpoints.
	var notReady, dropped time.Time
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		if notReady.IsZero() {
			if n, err := e.c.Kube.CoreV1().Nodes().Get(ctx, victim.Name, metav1.GetOptions{}); err == nil && !nodeReady(n) {
				notReady = time.Now()
			}
		}
		eps, err := e.readyEndpoints(ctx)
		if err != nil {
			return false, nil
		}
		for _, n := range eps {
			if n == victim.Name {
				return false, nil
			}
		}
		dropped = time.Now()
		return len(eps) == len(testNode.NodeNames())-1, nil
	})
	if err != nil {
		stopProber()
		t.Fatalf("the lost node's endpoint stayed in the Service: %v", err)
	}
	// The prober's own node routes by its kube-proxy's rules, which follow the EndpointSlice a
	// sync later (on a loaded machine, seconds): until then new connections may still go to the
	// lost pod. The window "after the drop" starts when those rules stop naming it.
	var unrouted time.Time
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		routed, err := routesTo(ctx, testNode.Name, victimIP)
		if err != nil || routed {
			return false, err
		}
		unrouted = time.Now()
		return true, nil
	})
	if err != nil {
		stopProber()
		t.Fatalf("kube-proxy on %s kept routing to the lost pod %s: %v", testNode.Name, victimIP, err)
	}
	time.Sleep(10 * time.Second) // the app on two nodes

	// doctor names the lost node (its Ready condition says the kubelet stopped posting).
	res := e.doctorNodes(ctx, t)
	if res.Outcome != doctor.Failed || !strings.Contains(res.Detail, victim.Name) || res.Fix == "" {
		t.Errorf("doctor's cluster-nodes with %s lost: %s %q (fix %q)", victim.Name, res.Outcome, res.Detail, res.Fix)
	}
	t.Logf("doctor, %s lost: %s: %s", victim.Name, res.Outcome, res.Detail)

	back := time.Now()
	if err := victim.Start(ctx); err != nil {
		stopProber()
		t.Fatal(err)
	}
	nodeBack := time.Now()
	e.waitSpread(ctx, t)
	healed := time.Now()
	time.Sleep(5 * time.Second)
	end := time.Now()
	probes := stopProber()

	all := Measure(probes, lost, end)
	report := func(what string, from, to time.Time) Outage {
		o := Measure(probes, from, to)
		t.Logf("%-44s %6.1fs: %4d requests, %4d failed (%.1f%%), longest gap %s", what, to.Sub(from).Seconds(), o.Sent, o.Failed,
			100*o.FailedFraction(), o.LongestGap.Round(time.Millisecond))
		return o
	}
	t.Logf("node %s lost at +0s; NotReady at +%.1fs; its endpoint dropped at +%.1fs, from the prober's kube-proxy rules at +%.1fs; back at +%.1fs (Ready after %.1fs); app spread again at +%.1fs",
		victim.Name, notReady.Sub(lost).Seconds(), dropped.Sub(lost).Seconds(), unrouted.Sub(lost).Seconds(),
		back.Sub(lost).Seconds(), nodeBack.Sub(back).Seconds(), healed.Sub(lost).Seconds())
	base := report("before the loss", begin, lost)
	report("lost, endpoint still in the Service", lost, dropped)
	report("endpoint dropped, kube-proxy still routing", dropped, unrouted)
	settled := report("no longer routed, until the node is back", unrouted, back)
	healing := report("node back, until 5 s after the app healed", back, end)
	t.Logf("users, from the loss to the end: %d requests, %.2f%% failed, longest gap %s (from +%.1fs)", all.Sent, 100*all.FailedFraction(),
		all.LongestGap.Round(time.Millisecond), all.GapFrom.Sub(lost).Seconds())
	if base.Failed > 0 || base.Sent == 0 {
		t.Errorf("the prober was not answered before the loss: %+v", base)
	}
	// The app kept answering: two of three replicas serve throughout, so no stretch without an
	// answer may be longer than a few of the prober's 1 s timeouts.
	if all.LongestGap > 5*time.Second {
		t.Errorf("the app did not answer for %s (from +%.1fs)", all.LongestGap, all.GapFrom.Sub(lost).Seconds())
	}
	// Once no rule sends a connection to the lost pod, and while the node comes back, a request
	// fails only when a live replica does not answer within the prober's 1 s: on a machine running
	// other e2e clusters beside this one (as make e2e and CI do) a few time out so (2 of 73 seen
	// in CI after the loss; 11 of 84 during the heal, once, with unit tests running beside too).
	// Each is logged. More than 5% of a stretch is a failure of the app, not of the machine: a
	// route to the lost pod left behind fails a third of the requests, as before the drop.
	for _, w := range []struct {
		what     string
		o        Outage
		from, to time.Time
	}{{"after the lost pod was no longer routed to", settled, unrouted, back}, {"while the node came back", healing, back, end}} {
		if w.o.Failed == 0 {
			continue
		}
		if w.o.FailedFraction() > 0.05 {
			t.Errorf("%d of %d requests failed %s", w.o.Failed, w.o.Sent, w.what)
		}
		t.Logf("failed %s (the node back at +%.1fs, Ready at +%.1fs):", w.what, back.Sub(lost).Seconds(), nodeBack.Sub(lost).Seconds())
		logFailed(t, probes, w.from, w.to, lost)
	}
	for _, p := range probes {
		if !p.OK && p.Start.After(lost) {
			t.Logf("first failure at +%.1fs: %s", p.Start.Sub(lost).Seconds(), p.Why)
			break
		}
	}

	// doctor passes again.
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return e.doctorNodes(ctx, t).Outcome == doctor.Passed, nil
	})
	if err != nil {
		res := e.doctorNodes(ctx, t)
		t.Errorf("doctor's cluster-nodes after %s came back: %s %q", victim.Name, res.Outcome, res.Detail)
	}
	e.checkAnswers(ctx, t)
}
