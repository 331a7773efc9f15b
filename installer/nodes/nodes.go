package nodes

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The labels k3s puts on its nodes: every server is control-plane (and master); a server on
// embedded etcd is etcd too.
const (
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
	LabelEtcd         = "node-role.kubernetes.io/etcd"
)

// Node is one node of the cluster as the appliance reports it.
type Node struct {
	Name string `json:"name"`
	// Roles are server, etcd and agent (a node that is not a server).
	Roles []string `json:"roles"`
	Ready bool     `json:"ready"`
	// Why is the Ready condition's reason and message when the node is not Ready.
	Why           string `json:"why,omitempty"`
	Unschedulable bool   `json:"unschedulable,omitempty"`
	InternalIP    string `json:"internalIP,omitempty"`
	Version       string `json:"version,omitempty"`
	// EtcdRemoved: k3s has removed the node's etcd member (a removal half done).
	EtcdRemoved bool `json:"etcdRemoved,omitempty"`
}

// Server reports whether the node runs the control plane.
func (n Node) Server() bool { return n.has("server") }

// Etcd reports whether the node is an embedded etcd member.
func (n Node) Etcd() bool { return n.has("etcd") }

func (n Node) has(role string) bool {
	for _, r := range n.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Of turns a Node object into the appliance's view.
func Of(o *corev1.Node) Node {
	n := Node{Name: o.Name, Unschedulable: o.Spec.Unschedulable, Version: o.Status.NodeInfo.KubeletVersion, Why: "no Ready condition yet",
		EtcdRemoved: EtcdMemberRemoved(o)}
	if labelled(o, LabelControlPlane) {
		n.Roles = append(n.Roles, "server")
	}
	if labelled(o, LabelEtcd) && !n.EtcdRemoved {
		n.Roles = append(n.Roles, "etcd")
	}
	if len(n.Roles) == 0 {
		n.Roles = []string{"agent"}
	}
	for _, c := range o.Status.Conditions {
		if c.Type == corev1.NodeReady {
			n.Ready = c.Status == corev1.ConditionTrue
			n.Why = strings.TrimSpace(strings.TrimSuffix(c.Reason+": "+c.Message, ": "))
		}
	}
	if n.Ready {
		n.Why = ""
	}
	for _, a := range o.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && n.InternalIP == "" {
			n.InternalIP = a.Address
		}
	}
	return n
}

// labelled: k3s sets its role labels to "true"; kubeadm's style, an empty value, counts too.
func labelled(o *corev1.Node, label string) bool {
	v, ok := o.Labels[label]
	return ok && v != "false"
}

// List reads the cluster's nodes, sorted by name.
func List(ctx context.Context, kube kubernetes.Interface) ([]Node, error) {
	l, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the cluster's nodes: %w", err)
	}
	out := make([]Node, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, Of(&l.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
