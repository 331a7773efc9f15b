package nodes

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/kubectl/pkg/drain"
)

// PinnedVolume is a claim whose volume lives on one node alone: its PersistentVolume's node
// affinity selects that node and no other (k3s's local-path volumes are made so). Its pods can
// run nowhere else: evicted, they wait for that node; with the node gone, so is their data.
type PinnedVolume struct {
	Namespace string   `json:"namespace"`
	Claim     string   `json:"claim"`
	Volume    string   `json:"volume"`
	Pods      []string `json:"pods,omitempty"`
}

func (v PinnedVolume) String() string {
	s := v.Namespace + "/" + v.Claim
	if len(v.Pods) > 0 {
		s += " (used by " + strings.Join(v.Pods, ", ") + ")"
	}
	return s
}

// PinnedTo lists the bound claims whose volumes live on node alone, with the pods that use them.
func PinnedTo(ctx context.Context, kube kubernetes.Interface, node string) ([]PinnedVolume, error) {
	nodeList, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pvs, err := kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing persistent volumes: %w", err)
	}
	var out []PinnedVolume
	byClaim := map[string]int{}
	for _, pv := range pvs.Items {
		ref := pv.Spec.ClaimRef
		if ref == nil || pv.Status.Phase != corev1.VolumeBound || pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
			continue
		}
		sel := nodeaffinity.NewLazyErrorNodeSelector(pv.Spec.NodeAffinity.Required)
		var on []string
		for i := range nodeList.Items {
			if ok, err := sel.Match(&nodeList.Items[i]); err == nil && ok {
				on = append(on, nodeList.Items[i].Name)
			}
		}
		if len(on) == 1 && on[0] == node {
			byClaim[ref.Namespace+"/"+ref.Name] = len(out)
			out = append(out, PinnedVolume{Namespace: ref.Namespace, Claim: ref.Name, Volume: pv.Name})
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	pods, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	for _, p := range pods.Items {
		for _, claim := range claimsOf(&p) {
			if i, ok := byClaim[claim]; ok {
				out[i].Pods = append(out[i].Pods, p.Namespace+"/"+p.Name)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// claimsOf are the claims (namespace/name) a pod's volumes use.
func claimsOf(p *corev1.Pod) []string {
	var out []string
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			out = append(out, p.Namespace+"/"+v.PersistentVolumeClaim.ClaimName)
		}
	}
	return out
}

// KeepPinned is a drain filter that leaves running the pods whose volumes live on the node: they
// could run nowhere else, so evicting them only stops them, and a k3s restart leaves them
// running.
func KeepPinned(pinned []PinnedVolume) drain.PodFilter {
	claims := map[string]bool{}
	for _, v := range pinned {
		claims[v.Namespace+"/"+v.Claim] = true
	}
	return func(p corev1.Pod) drain.PodDeleteStatus {
		for _, c := range claimsOf(&p) {
			if claims[c] {
				return drain.MakePodDeleteStatusWithWarning(false, "left running: their volumes are on this node's disk alone")
			}
		}
		return drain.MakePodDeleteStatusOkay()
	}
}
