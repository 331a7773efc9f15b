package nodes

import (
	"errors"
	"fmt"
	"strings"
)

// Quorum is embedded etcd's health as the Node objects show it. etcd needs a majority of its
// members (floor(n/2)+1) to accept writes; the members beyond that majority are how many it can
// lose (etcd's "failure tolerance", etcd.io/docs/v3.6/faq: 3 members tolerate 1, 2 tolerate 0).
type Quorum struct {
	Members int `json:"members"`
	Ready   int `json:"ready"`
	// Needed is the majority.
	Needed int `json:"needed"`
	// Tolerance is how many more Ready members may be lost; -1 when quorum is already lost.
	Tolerance int `json:"tolerance"`
	// Lost are the members that are not Ready.
	Lost []string `json:"lost,omitempty"`
}

// QuorumOf counts the etcd members among nodes.
func QuorumOf(nodes []Node) Quorum {
	var q Quorum
	for _, n := range nodes {
		if !n.Etcd() {
			continue
		}
		q.Members++
		if n.Ready {
			q.Ready++
		} else {
			q.Lost = append(q.Lost, n.Name)
		}
	}
	q.Needed = q.Members/2 + 1
	q.Tolerance = q.Ready - q.Needed
	if q.Tolerance < 0 {
		q.Tolerance = -1
	}
	return q
}

// Level is how bad a quorum is.
type Level string

const (
	OK   Level = "ok"
	Warn Level = "warn"
	Fail Level = "fail"
)

// Verdict says how bad the quorum is and what to do, naming the lost members. Two servers is a
// state the appliance passes through, never one it rests in: it fails, as does any state in
// which one more loss stops the cluster.
func (q Quorum) Verdict() (Level, string) {
	lost := strings.Join(q.Lost, ", ")
	switch {
	case q.Members == 0:
		return OK, "one server on SQLite: no embedded etcd (not highly available; `node token create --role server` starts the move to three servers)"
	case q.Tolerance < 0:
		return Fail, fmt.Sprintf("etcd has lost quorum: %d of %d members Ready, %d needed; the cluster accepts no change until %s is back (journalctl -u k3s on it)",
			q.Ready, q.Members, q.Needed, lost)
	case q.Members == 1:
		return OK, "one etcd member: a single server, not highly available"
	case q.Members == 2 && len(q.Lost) == 0:
		return Fail, "two servers have no fault tolerance: losing either stops the cluster; join a third now (`docs-appliance node token create --role server`)"
	case q.Tolerance == 0:
		return Fail, fmt.Sprintf("etcd keeps quorum with %d of %d members but survives no further loss: bring %s back, or replace it (`docs-appliance node remove %s`, then join a new server)",
			q.Ready, q.Members, lost, q.Lost[0])
	case len(q.Lost) > 0:
		return Warn, fmt.Sprintf("etcd member(s) %s not Ready: %d of %d Ready, %d more may be lost; bring them back", lost, q.Ready, q.Members, q.Tolerance)
	case q.Members%2 == 0:
		return Warn, fmt.Sprintf("%d etcd members tolerate no more loss than %d: an even count adds none; join or remove one", q.Members, q.Members-1)
	}
	return OK, fmt.Sprintf("%d of %d etcd members Ready: survives the loss of %d", q.Ready, q.Members, q.Tolerance)
}

// RemovalRefusedError is a node removal that would leave etcd without quorum, or without
// fault tolerance.
type RemovalRefusedError struct {
	Node   string
	Reason string
	// Forceable: --force may override (the removal leaves quorum, only no tolerance).
	Forceable bool
}

func (e *RemovalRefusedError) Error() string {
	s := "refusing to remove node " + e.Node + ": " + e.Reason
	if e.Forceable {
		s += " (--force removes it anyway, when this host is going away whatever happens)"
	}
	return s
}

// ErrNoSuchNode is a removal of a node the cluster does not have.
var ErrNoSuchNode = errors.New("no such node")

// CheckRemoval decides whether name may leave the cluster. An agent, or a server without etcd,
// always may. An etcd member may not when the rest would lose quorum (never, whatever force
// says: the cluster would stop), nor when it is Ready and the rest would tolerate no loss
// (3 → 2) unless force: replace a server by joining the new one first. A member that is
// already lost may be removed down to two: that is the first step of replacing it (etcd's
// runtime reconfiguration: remove the failed member, then add its replacement), and it leaves
// the tolerance where the loss put it.
func CheckRemoval(nodes []Node, name string, force bool) error {
	var target *Node
	for i := range nodes {
		if nodes[i].Name == name {
			target = &nodes[i]
		}
	}
	if target == nil {
		return fmt.Errorf("node %s: %w (docs-appliance node list shows the cluster's nodes)", name, ErrNoSuchNode)
	}
	if !target.Etcd() {
		return nil
	}
	q := QuorumOf(nodes)
	after, readyAfter := q.Members-1, q.Ready
	if target.Ready {
		readyAfter--
	}
	switch {
	case after == 0:
		return &RemovalRefusedError{Node: name, Reason: "it is the cluster's last server; `docs-appliance reset` on it removes the appliance"}
	case readyAfter < after/2+1:
		return &RemovalRefusedError{Node: name, Reason: fmt.Sprintf("etcd would keep %d Ready of %d members and lose quorum (needs %d): bring the lost members back first", readyAfter, after, after/2+1)}
	case target.Ready && readyAfter-(after/2+1) < 1 && !force:
		return &RemovalRefusedError{Node: name, Forceable: true, Reason: fmt.Sprintf("etcd would go from %d to %d members and survive no loss: join its replacement first (`docs-appliance node token create --role server`), then remove it", q.Members, after)}
	}
	return nil
}
