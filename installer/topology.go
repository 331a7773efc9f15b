package installer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// TopologyError is a profile the servers at hand cannot run: profile ha spreads PostgreSQL,
// Docs and the cache one per server, so on fewer servers it never converges.
type TopologyError struct {
	Profile      string
	Want, Ready  int
	ExistingHost bool
}

func (e *TopologyError) Error() string {
	have := "this install provisions one server"
	if e.ExistingHost {
		have = fmt.Sprintf("the cluster has %d Ready server node(s)", e.Ready)
	}
	return fmt.Sprintf("profile %s needs %d Ready servers (one PostgreSQL instance, Docs replica and cache per server) but %s: "+
		"install profile single now, add two servers (`docs-appliance node token create --role server` here, `docs-appliance join` on each new host), then move to profile %s",
		e.Profile, e.Want, have, e.Profile)
}

// checkTopology refuses a multi-server profile on a fresh host (install provisions one server),
// and on an existing cluster with fewer Ready control-plane nodes than the profile wants.
func checkTopology(ctx context.Context, p *profiles.Profile, c *cluster.Client) error {
	if p.Servers <= 1 {
		return nil
	}
	if c == nil {
		return &TopologyError{Profile: p.Name, Want: p.Servers}
	}
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "node-role.kubernetes.io/control-plane"})
	if err != nil {
		return fmt.Errorf("counting the cluster's servers: %w", err)
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < p.Servers {
		return &TopologyError{Profile: p.Name, Want: p.Servers, Ready: ready, ExistingHost: true}
	}
	return nil
}
