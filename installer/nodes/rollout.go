package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// CordonAnnotation marks a node a rollout cordoned, with the version it rolls to: only a node
// so marked is uncordoned afterwards, so a node the operator cordoned stays cordoned. The mark
// is written before the cordon, so a rollout killed in between still finds it.
const CordonAnnotation = "docs-appliance.suitenumerique.org/cordoned-for"

// Rollout takes every node to Version one at a time: mark, cordon and drain the node (its
// PodDisruptionBudgets hold the eviction until the last node's pods are back; pods whose volumes
// live on its disk alone stay, running through the k3s restart), swap its k3s,
// wait until it is Ready and runs Version, uncordon it. Servers go first, this host first of
// them, then agents: k3s's rule that no kubelet runs newer than the control plane. A node that
// already runs Version and carries no mark is done, so a killed rollout, run again, finishes.
type Rollout struct {
	Kube kubernetes.Interface
	// Version is the kubelet version a node reports once it runs the new k3s.
	Version string
	// Local is this host's node name; SwapLocal swaps its k3s, SwapRemote any other node's.
	Local      string
	SwapLocal  func(ctx context.Context) error
	SwapRemote func(ctx context.Context, n Node) error
	// Always rolls nodes that run Version already too (a rolling restart).
	Always                           bool
	DrainTimeout, ReadyTimeout, Poll time.Duration
	// Log takes the drain's lines; Say one line per node and phase.
	Log io.Writer
	Say func(format string, args ...any)
}

// NotReadyError: a rollout does not start while a node is not Ready (taking a second server
// down would cost etcd its quorum; an agent's pods would have nowhere to go).
type NotReadyError struct{ Node, Why string }

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("node %s is not Ready (%s): the rollout takes one node down at a time and starts only on a healthy cluster (docs-appliance node list; bring it back or node remove it)", e.Node, e.Why)
}

// Order sorts nodes as a rollout takes them: servers before agents, local first among its kind.
func Order(ns []Node, local string) []Node {
	out := append([]Node(nil), ns...)
	rank := func(n Node) int {
		switch {
		case n.Server() && n.Name == local:
			return 0
		case n.Server():
			return 1
		case n.Name == local:
			return 2
		}
		return 3
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Todo lists the nodes still to roll, in order; none when the rollout is done.
func (r *Rollout) Todo(ctx context.Context) ([]Node, error) {
	l, err := r.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the cluster's nodes: %w", err)
	}
	var todo []Node
	for i := range l.Items {
		n := Of(&l.Items[i])
		if r.Always || n.Version != r.Version || l.Items[i].Annotations[CordonAnnotation] != "" {
			todo = append(todo, n)
		}
	}
	return Order(todo, r.Local), nil
}

// Run rolls every node still to do, one at a time.
func (r *Rollout) Run(ctx context.Context) error {
	all, err := List(ctx, r.Kube)
	if err != nil {
		return err
	}
	local := false
	for _, n := range all {
		if !n.Ready {
			return &NotReadyError{Node: n.Name, Why: n.Why}
		}
		local = local || n.Name == r.Local
	}
	// This host goes first and by its own steps: the others get the k3s it then runs.
	if !local {
		return fmt.Errorf("this host's node %q is not in the cluster (docs-appliance node list): the rollout starts on a server of it", r.Local)
	}
	todo, err := r.Todo(ctx)
	if err != nil {
		return err
	}
	for i, n := range todo {
		r.say("node %s (%d of %d): cordon and drain", n.Name, i+1, len(todo))
		if err := r.one(ctx, n); err != nil {
			return fmt.Errorf("rolling node %s to %s: %w", n.Name, r.Version, err)
		}
	}
	return nil
}

func (r *Rollout) one(ctx context.Context, n Node) error {
	if !n.Unschedulable {
		if err := r.annotate(ctx, n.Name, r.Version); err != nil {
			return err
		}
	}
	// Pods bound to this node by their volumes stay: evicted, they would only wait for it (a
	// single-instance database would stop, its disruption budget would block the drain), while
	// the swap, a k3s restart, leaves containers running.
	pinned, err := PinnedTo(ctx, r.Kube, n.Name)
	if err != nil {
		return err
	}
	if err := Drain(ctx, r.Kube, n.Name, true, r.DrainTimeout, r.log(), KeepPinned(pinned)); err != nil {
		return err
	}
	if r.Always || n.Version != r.Version {
		swap := func(ctx context.Context) error { return r.SwapRemote(ctx, n) }
		if n.Name == r.Local {
			swap = r.SwapLocal
		}
		r.say("node %s: swapping k3s %s → %s", n.Name, n.Version, r.Version)
		if err := swap(ctx); err != nil {
			return fmt.Errorf("swapping k3s: %w (the node stays cordoned: docs-appliance node list)", err)
		}
	}
	if err := r.waitVersion(ctx, n.Name); err != nil {
		return err
	}
	return r.uncordon(ctx, n.Name)
}

// waitVersion waits until the node is Ready and its kubelet reports Version.
func (r *Rollout) waitVersion(ctx context.Context, name string) error {
	var last Node
	err := wait.PollUntilContextTimeout(ctx, r.Poll, r.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		o, err := r.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // the API server on the restarting server may be away for a moment
		}
		last = Of(o)
		return last.Ready && last.Version == r.Version, nil
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("waiting for node %s to be Ready on %s (it reports %s, ready %t %s): %w (journalctl -u k3s on that host says why)",
			name, r.Version, last.Version, last.Ready, last.Why, err)
	}
	return nil
}

// uncordon makes a node the rollout cordoned schedulable again and drops the mark.
func (r *Rollout) uncordon(ctx context.Context, name string) error {
	o, err := r.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s: %w", name, err)
	}
	if o.Annotations[CordonAnnotation] == "" {
		r.say("node %s: done, left cordoned as it was before the rollout", name)
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{CordonAnnotation: nil}},
		"spec":     map[string]any{"unschedulable": nil},
	})
	if _, err := r.Kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("uncordoning node %s: %w", name, err)
	}
	r.say("node %s: done, uncordoned", name)
	return nil
}

func (r *Rollout) annotate(ctx context.Context, name, value string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{CordonAnnotation: value}}})
	if _, err := r.Kube.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("marking node %s before its cordon: %w", name, err)
	}
	return nil
}

func (r *Rollout) say(format string, args ...any) {
	if r.Say != nil {
		r.Say(format, args...)
	}
}

func (r *Rollout) log() io.Writer {
	if r.Log == nil {
		return io.Discard
	}
	return r.Log
}
