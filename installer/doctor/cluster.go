package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
)

func clusterChecks() []Check {
	return []Check{
		{ID: "cluster-nodes", Group: "cluster", Title: "every node Ready", Run: checkNodes},
		{ID: "cluster-etcd-quorum", Group: "cluster", Title: "embedded etcd keeps quorum and survives the loss of a server", Run: checkEtcdQuorum},
		{ID: "cluster-etcd-snapshots", Group: "cluster", Title: "embedded etcd's snapshots reach the backup target on schedule", Run: checkEtcdSnapshots},
		{ID: "cluster-system-pods", Group: "cluster", Title: "the cluster's own pods running", Run: checkSystemPods},
		{ID: "cluster-version", Group: "cluster", Title: "Kubernetes version within the train's range", Run: checkClusterVersion},
	}
}

// kubeDown is the finding of every cluster check when the API server
// could not be reached at all.
func kubeDown(e *Env) (Finding, bool) {
	if e.Kube != nil {
		return Finding{}, false
	}
	fix := "start k3s (systemctl start k3s) and check journalctl -u k3s; on an existing cluster, check the kubeconfig (--kubeconfig)"
	if e.KubeErr != nil {
		return Unreachable("reaching the API server", e.KubeErr, fix), true
	}
	return Fail(fix, "no connection to the API server"), true
}

func apiError(doing string, err error) Finding {
	return Unreachable(doing, err, "check that the API server answers (docs-appliance doctor --group cluster) and that the kubeconfig's user is cluster-admin")
}

func checkNodes(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	list, err := e.Kube.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiError("listing nodes", err)
	}
	if len(list.Items) == 0 {
		return Fail("start k3s on this server (systemctl start k3s)", "the cluster has no node")
	}
	var bad, pressure []string
	for _, n := range list.Items {
		ready := false
		why := "no Ready condition"
		for _, c := range n.Status.Conditions {
			switch {
			case c.Type == corev1.NodeReady:
				ready = c.Status == corev1.ConditionTrue
				why = strings.TrimSpace(c.Reason + " " + c.Message)
			case c.Status == corev1.ConditionTrue && c.Type != corev1.NodeReady:
				pressure = append(pressure, fmt.Sprintf("%s: %s", n.Name, c.Type))
			}
		}
		if !ready {
			bad = append(bad, fmt.Sprintf("%s (%s)", n.Name, why))
		}
	}
	if len(bad) > 0 {
		return Fail("on that server: systemctl status k3s and journalctl -u k3s -n 100 say why; a server that is gone must be removed (docs-appliance node remove NAME)",
			"%d of %d node(s) not Ready: %s", len(bad), len(list.Items), strings.Join(bad, "; "))
	}
	if len(pressure) > 0 {
		return Warn("free disk or memory on those servers (doctor --group host on each)", "%s", strings.Join(pressure, "; "))
	}
	return Pass("%d node(s) Ready", len(list.Items))
}

// checkEtcdQuorum reads embedded etcd's members from the nodes k3s labels etcd: two servers,
// or three with one lost, pass no further loss, and fail; quorum lost fails naming who is gone.
func checkEtcdQuorum(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	list, err := nodes.List(ctx, e.Kube.Kube)
	if err != nil {
		return apiError("listing nodes", err)
	}
	servers := 0
	for _, n := range list {
		if n.Server() {
			servers++
		}
	}
	if servers == 0 {
		return Skip("no node carries k3s's %s label: the cluster's datastore is not the appliance's to check", nodes.LabelControlPlane)
	}
	q := nodes.QuorumOf(list)
	level, msg := q.Verdict()
	fix := "bring the lost server back (systemctl status k3s and journalctl -u k3s on it), or replace it: docs-appliance node remove NAME, then join a new server"
	if q.Members == 2 && len(q.Lost) == 0 {
		fix = "join a third server: docs-appliance node token create --role server on this one, then docs-appliance join on the new host"
	} else if len(q.Lost) == 0 {
		fix = "join a server, or remove one, so the count is odd (3 or 5)"
	}
	switch level {
	case nodes.Fail:
		return Fail(fix, "%s", msg)
	case nodes.Warn:
		return Warn(fix, "%s", msg)
	}
	return Pass("%s", msg)
}

// systemNamespaces are the cluster's own: k3s's and Flux's.
var systemNamespaces = []string{"kube-system"}

func checkSystemPods(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	var bad []string
	total := 0
	for _, ns := range systemNamespaces {
		pods, err := e.Kube.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return apiError("listing the pods of "+ns, err)
		}
		for i := range pods.Items {
			total++
			if why := podTrouble(&pods.Items[i]); why != "" {
				bad = append(bad, pods.Items[i].Name+" ("+why+")")
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return Fail("restart k3s (systemctl restart k3s); if a pod stays broken, send the support bundle (doctor --support-bundle FILE)",
			"%d of %d system pod(s) not running: %s", len(bad), total, strings.Join(bad, "; "))
	}
	return Pass("%d system pod(s) running", total)
}

// podTrouble says why a pod is not serving, "" when it runs Ready or
// finished successfully.
func podTrouble(p *corev1.Pod) string {
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return ""
	case corev1.PodFailed:
		return "failed: " + strings.TrimSpace(p.Status.Reason+" "+p.Status.Message)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return w.Reason
		}
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("exited %d (%s)", t.ExitCode, t.Reason)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			if p.Status.Phase == corev1.PodPending {
				return "pending: " + orText(c.Message, string(p.Status.Phase))
			}
			return "not ready"
		}
	}
	if p.Status.Phase == corev1.PodPending {
		return "pending"
	}
	return ""
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkClusterVersion(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	if e.Train == nil {
		return Fail("run doctor on the appliance's server (the saved config names its train)", "the release train is not known")
	}
	v, err := e.Kube.Kube.Discovery().ServerVersion()
	if err != nil {
		return apiError("asking the API server for its version", err)
	}
	minor := bundles.MinorOf(v.GitVersion)
	lo, hi := bundles.MinorOf(e.Train.Kubernetes.MinVersion), bundles.MinorOf(e.Train.Kubernetes.MaxVersion)
	if minor < lo || minor > hi {
		return Fail("upgrade along the release trains (docs-appliance upgrade --plan shows the path)",
			"Kubernetes %s is outside train %s's range (%s to %s)", v.GitVersion, e.Train.Name, e.Train.Kubernetes.MinVersion, e.Train.Kubernetes.MaxVersion)
	}
	return Pass("Kubernetes %s (train %s: %s to %s)", v.GitVersion, e.Train.Name, e.Train.Kubernetes.MinVersion, e.Train.Kubernetes.MaxVersion)
}
