package supportbundle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// managedBy is the label every namespace the appliance renders carries
// (render.namespaceLabels).
const managedBy = "app.kubernetes.io/managed-by=docs-appliance"

// kubeCollector gathers the cluster's part of the bundle.
type kubeCollector struct {
	b     *bundle
	c     *cluster.Client
	limit int64
	// namespaces whose Secrets were read: only those are collected, since
	// a namespace whose Secrets are unknown could leak them in its logs.
	namespaces    []string
	defaultEvents bool
}

// learn finds the appliance's namespaces and registers every value of
// every Secret in them, recording their names and keys (never values).
// It returns false when the cluster did not answer: nothing more is asked
// of it then (each request would wait out its own timeout).
func (k *kubeCollector) learn(ctx context.Context, extra []string) bool {
	want, err := k.findNamespaces(ctx, extra)
	if err != nil {
		k.b.fail("the cluster", err)
		return false
	}
	// "default" holds the nodes' events: its Secrets are learned too, and
	// only its events collected.
	if list, err := k.c.Kube.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); err == nil {
		k.defaultEvents = true
		for _, s := range list.Items {
			for key, v := range s.Data {
				k.b.r.AddField(fmt.Sprintf("secret default/%s %s", s.Name, key), v)
			}
		}
	} else {
		k.b.fail("the events of default", fmt.Errorf("listing its Secrets, to hide their values: %w", err))
	}
	for _, ns := range want {
		list, err := k.c.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			k.b.fail("namespace "+ns, fmt.Errorf("listing its Secrets to hide their values (so nothing of the namespace is collected): %w", err))
			continue
		}
		k.namespaces = append(k.namespaces, ns)
		var index strings.Builder
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		for _, s := range list.Items {
			keys := make([]string, 0, len(s.Data))
			for _, key := range slices.Sorted(maps.Keys(s.Data)) {
				v := s.Data[key]
				label := fmt.Sprintf("secret %s/%s %s", ns, s.Name, key)
				if isIdentifier(key, v) {
					k.b.r.skip(fmt.Sprintf("%s (an identifier, %d bytes)", label, len(v)))
				} else {
					k.b.r.AddField(label, v)
				}
				keys = append(keys, fmt.Sprintf("%s (%d bytes)", key, len(v)))
			}
			k.b.man.Redaction.SearchedNames += len(s.Data)
			fmt.Fprintf(&index, "%s\ttype %s\tkeys: %s\n", s.Name, s.Type, strings.Join(keys, ", "))
		}
		k.b.pending = append(k.b.pending, pendingFile{"namespaces/" + ns + "/secrets.txt", "the names and keys of the namespace's Secrets (values never)", index.String()})
	}
	k.b.man.Namespaces = k.namespaces
	return true
}

// identifierKeys hold names, not secrets, in the Secrets operators and
// charts write (CloudNativePG's app Secret: username, host, port, dbname).
// Searching for their values would erase "postgres" or a Service's name
// from every log; the manifest names each one left alone.
var identifierKeys = map[string]bool{"username": true, "user": true, "host": true, "port": true, "dbname": true, "database": true, "namespace": true}

// isIdentifier: an identifier key holding a plain name (letters, digits,
// ".", "-", "_", up to a DNS label's 63 bytes) — never a password, which
// these keys do not hold.
func isIdentifier(key string, v []byte) bool {
	if !identifierKeys[strings.ToLower(key)] || len(v) > 63 {
		return false
	}
	for _, c := range v {
		if !isWordByte(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func (k *kubeCollector) findNamespaces(ctx context.Context, extra []string) ([]string, error) {
	all, err := k.c.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	exists := map[string]bool{}
	var want []string
	for _, ns := range all.Items {
		exists[ns.Name] = true
		if ns.Labels["app.kubernetes.io/managed-by"] == "docs-appliance" {
			want = append(want, ns.Name)
		}
	}
	for _, ns := range append([]string{gitops.FluxNamespace, gitops.GitNamespace}, extra...) {
		if exists[ns] && !slices.Contains(want, ns) {
			want = append(want, ns)
		}
	}
	sort.Strings(want)
	return want, nil
}

// collect writes the cluster's files: version, nodes, Flux objects and
// conditions, then per namespace its objects, events and pods, and every
// container's logs.
func (k *kubeCollector) collect(ctx context.Context) {
	if v, err := k.c.Kube.Discovery().ServerVersion(); err == nil {
		k.b.addJSON("cluster/version.json", "the API server's version", v)
	} else {
		k.b.fail("the API server's version", err)
	}
	k.collectNodes(ctx)
	k.collectFlux(ctx)
	for _, p := range k.b.pending {
		k.b.add(p.path, p.what, []byte(p.text), "")
	}
	// Node events land in "default".
	if k.defaultEvents {
		k.collectEvents(ctx, "default")
	}
	var pods []corev1.Pod
	for _, ns := range k.namespaces {
		k.collectObjects(ctx, ns)
		k.collectEvents(ctx, ns)
		list, err := k.c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			k.b.fail("the pods of "+ns, err)
			continue
		}
		k.b.add("namespaces/"+ns+"/pods.txt", "the pods and their containers' states", []byte(podSummary(list.Items)), "")
		pods = append(pods, list.Items...)
	}
	k.collectLogs(ctx, pods)
}

func (k *kubeCollector) collectNodes(ctx context.Context) {
	list, err := k.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		k.b.fail("the nodes", err)
		return
	}
	out := make([]nodeSummary, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, summarizeNode(n))
	}
	k.b.addJSON("cluster/nodes.json", "the nodes: conditions, capacity, versions, taints", out)
}

type nodeSummary struct {
	Name        string                     `json:"name"`
	Labels      map[string]string          `json:"labels,omitempty"`
	Annotations map[string]string          `json:"annotations,omitempty"`
	Info        corev1.NodeSystemInfo      `json:"info"`
	Conditions  []corev1.NodeCondition     `json:"conditions"`
	Capacity    corev1.ResourceList        `json:"capacity"`
	Allocatable corev1.ResourceList        `json:"allocatable"`
	Addresses   []corev1.NodeAddress       `json:"addresses,omitempty"`
	Taints      []corev1.Taint             `json:"taints,omitempty"`
	Unschedule  bool                       `json:"unschedulable,omitempty"`
	Images      int                        `json:"images"`
	Created     metav1.Time                `json:"created"`
	Volumes     []corev1.AttachedVolume    `json:"volumesAttached,omitempty"`
	Daemon      corev1.NodeDaemonEndpoints `json:"daemonEndpoints"`
}

func summarizeNode(n corev1.Node) nodeSummary {
	return nodeSummary{
		Name: n.Name, Labels: n.Labels, Annotations: n.Annotations, Info: n.Status.NodeInfo,
		Conditions: n.Status.Conditions, Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable,
		Addresses: n.Status.Addresses, Taints: n.Spec.Taints, Unschedule: n.Spec.Unschedulable,
		Images: len(n.Status.Images), Created: n.CreationTimestamp, Volumes: n.Status.VolumesAttached,
		Daemon: n.Status.DaemonEndpoints,
	}
}

func (k *kubeCollector) collectEvents(ctx context.Context, ns string) {
	list, err := k.c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		k.b.fail("the events of "+ns, err)
		return
	}
	k.b.add("namespaces/"+ns+"/events.txt", "the namespace's events, oldest first", []byte(eventLines(list.Items)), "")
}

func eventLines(evs []corev1.Event) string {
	at := func(e corev1.Event) metav1.Time {
		switch {
		case !e.LastTimestamp.IsZero():
			return e.LastTimestamp
		case !e.EventTime.IsZero():
			return metav1.NewTime(e.EventTime.Time)
		}
		return e.CreationTimestamp
	}
	sort.SliceStable(evs, func(i, j int) bool { return at(evs[i]).Time.Before(at(evs[j]).Time) })
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s/%s\tx%d\t%s\n", at(e).UTC().Format("2006-01-02T15:04:05Z"), e.Type, e.Reason,
			e.InvolvedObject.Kind, e.InvolvedObject.Name, max(e.Count, 1), oneLine(e.Message))
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func podSummary(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "%s\tphase %s\tnode %s\tcreated %s\n", p.Name, p.Status.Phase, p.Spec.NodeName, p.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z"))
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				fmt.Fprintf(&b, "  condition %s=%s %s %s\n", c.Type, c.Status, c.Reason, oneLine(c.Message))
			}
		}
		statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, s := range statuses {
			fmt.Fprintf(&b, "  container %s\tready %v\trestarts %d\t%s\n", s.Name, s.Ready, s.RestartCount, stateText(s.State))
			if s.LastTerminationState.Terminated != nil {
				fmt.Fprintf(&b, "    last %s\n", stateText(s.LastTerminationState))
			}
		}
	}
	return b.String()
}

func stateText(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running since " + s.Running.StartedAt.UTC().Format("2006-01-02T15:04:05Z")
	case s.Waiting != nil:
		return fmt.Sprintf("waiting: %s %s", s.Waiting.Reason, oneLine(s.Waiting.Message))
	case s.Terminated != nil:
		return fmt.Sprintf("terminated: %s exit %d %s", s.Terminated.Reason, s.Terminated.ExitCode, oneLine(s.Terminated.Message))
	}
	return "no state yet"
}

// notServed reports an API the cluster does not have (a CRD not installed).
func notServed(err error) bool { return apierrors.IsNotFound(err) }
