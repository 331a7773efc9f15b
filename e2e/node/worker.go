package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// ClusterCIDR holds every node's pod network when the cluster has several nodes: node i has
// 10.244.<i-1>.0/24 (the control plane's node is node 1, 10.244.0.0/24 as a one-node cluster has).
const ClusterCIDR = "10.244.0.0/16"

// Worker is a further node of the cluster (worker.sh): a kubelet, containerd and kube-proxy in a
// network namespace of its own, its veth peer in the control plane's namespace, which routes
// between the nodes and their pod networks. Its Kubernetes role is up to the test (label it).
type Worker struct {
	// Name is the Kubernetes node name; NS its network namespace; IP its address.
	Name, NS, IP string
	// PodCIDR is its pods' network.
	PodCIDR string
	// RunDir holds its state and component logs (RunDir/logs), under the cluster's RunDir.
	RunDir string

	index int
	n     *Node
}

// controlPlaneNodeName is the control plane's Kubernetes node name (params.sh NODE_NAME).
const controlPlaneNodeName = "e2e-node"

// NodeName is the control plane's Kubernetes node name.
func (n *Node) NodeName() string { return controlPlaneNodeName }

// NodeNames are the Kubernetes names of every node of the cluster, the control plane's first.
func (n *Node) NodeNames() []string {
	out := []string{controlPlaneNodeName}
	for _, w := range n.Workers {
		out = append(out, w.Name)
	}
	return out
}

func (n *Node) newWorker(index int) *Worker {
	return &Worker{
		Name: controlPlaneNodeName + "-" + strconv.Itoa(index), NS: n.Name + "-n" + strconv.Itoa(index),
		IP: "10.240.0." + strconv.Itoa(index), PodCIDR: "10.244." + strconv.Itoa(index-1) + ".0/24",
		RunDir: filepath.Join(n.RunDir, "nodes", "n"+strconv.Itoa(index)), index: index, n: n,
	}
}

// upWorkers brings the further nodes up side by side (each imports the same images).
func (n *Node) upWorkers(ctx context.Context) error {
	if n.opts.Nodes > 99 {
		return fmt.Errorf("Options.Nodes is %d: at most 99 nodes fit the network plan", n.opts.Nodes)
	}
	for i := 2; i <= n.opts.Nodes; i++ {
		n.Workers = append(n.Workers, n.newWorker(i))
	}
	errs := make([]error, len(n.Workers))
	var wg sync.WaitGroup
	for i, w := range n.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.script(ctx, "up")
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop loses the node as a machine is lost: its link goes down first (nothing reaches it any
// more, and it reaches nothing), then its kubelet, kube-proxy, containerd, shims and every
// container are SIGKILLed, by the PIDs worker.sh recorded and the node's cgroups. Its state stays,
// as a powered-off disk does; Start brings it back.
func (w *Worker) Stop(ctx context.Context) error { return w.script(ctx, "stop") }

// Start brings a stopped node back: its link and routes, then containerd, the kubelet and
// kube-proxy on the same state, and waits until the node is Ready.
func (w *Worker) Start(ctx context.Context) error { return w.script(ctx, "start") }

// Exec runs argv inside the node's network namespace and returns its combined output.
func (w *Worker) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return execIn(ctx, w.NS, argv...)
}

func (w *Worker) script(ctx context.Context, action string) error {
	if err := w.n.scriptEnv(ctx, []string{"INDEX=" + strconv.Itoa(w.index)}, "worker.sh", action); err != nil {
		return fmt.Errorf("node %s: %w", w.Name, err)
	}
	return nil
}

// RestartKubelet restarts the node's kubelet as systemd restarts k3s (whose unit kills the k3s
// process only): the containers keep running, a new kubelet takes over their state, and it waits
// until the node is Ready again (restart-kubelet.sh). What a k3s upgrade does to a node, as
// near as this harness comes without k3s.
func (w *Worker) RestartKubelet(ctx context.Context) error {
	if err := w.n.scriptEnv(ctx, []string{"INDEX=" + strconv.Itoa(w.index)}, "restart-kubelet.sh"); err != nil {
		return fmt.Errorf("node %s: %w", w.Name, err)
	}
	return nil
}

// RestartKubelet restarts the kubelet of the node named (the control plane's, or a worker's).
func (n *Node) RestartKubelet(ctx context.Context, name string) error {
	if name == controlPlaneNodeName {
		return n.scriptEnv(ctx, []string{"INDEX=1"}, "restart-kubelet.sh")
	}
	for _, w := range n.Workers {
		if w.Name == name {
			return w.RestartKubelet(ctx)
		}
	}
	return fmt.Errorf("restarting the kubelet of %s: no such node in this cluster", name)
}

// ImportImages loads image tarballs into this node's containerd only (as Node.ImportImages does
// for every node): for an image one node has and the others must not.
func (w *Worker) ImportImages(ctx context.Context, tarballs ...string) error {
	if err := importImages(ctx, w.NS, w.RunDir, tarballs); err != nil {
		return fmt.Errorf("node %s: %w", w.Name, err)
	}
	return nil
}
