package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// NodeList lists the cluster's nodes, etcd's quorum and the join tokens (node list, node token list).
type NodeList struct {
	nodeSource
	Result *NodeListing
}

// NodeListing is the listing (--output json).
type NodeListing struct {
	Nodes   []nodes.Node `json:"nodes"`
	Quorum  nodes.Quorum `json:"quorum"`
	Verdict string       `json:"verdict"`
	// Tokens: agent tokens in the cluster, and the server tokens handed out (records).
	Tokens       []nodes.AgentToken `json:"tokens"`
	ServerTokens []TokenRecord      `json:"serverTokens"`
}

// NewNodeList reads the cluster of the appliance installed from stateDir.
func NewNodeList(stateDir, kubeconfig string, root host.Root) *NodeList {
	return &NodeList{nodeSource: nodeSource{StateDir: stateDir, Kubeconfig: kubeconfig, Root: root}}
}

// Run reads.
func (l *NodeList) Run(ctx context.Context, st *status.Status) error {
	c, err := l.connect(ctx, st)
	if err != nil {
		return err
	}
	return l.read(ctx, c)
}

func (l *NodeList) read(ctx context.Context, c *cluster.Client) error {
	list, err := nodes.List(ctx, c.Kube)
	if err != nil {
		return err
	}
	toks, err := nodes.ListAgentTokens(ctx, c.Kube)
	if err != nil {
		return err
	}
	recs, err := readTokenRecords(l.root().Path(l.StateDir))
	if err != nil {
		return err
	}
	res := &NodeListing{Nodes: list, Quorum: nodes.QuorumOf(list), Tokens: toks, ServerTokens: []TokenRecord{}}
	_, res.Verdict = res.Quorum.Verdict()
	for _, r := range recs {
		if r.Role == k3s.RoleServer {
			res.ServerTokens = append(res.ServerTokens, r)
		}
	}
	l.Result = res
	return nil
}

// NodesText is `node list`.
func (r *NodeListing) NodesText() string {
	var b strings.Builder
	for _, n := range r.Nodes {
		state := "Ready"
		if !n.Ready {
			state = "NotReady (" + n.Why + ")"
		}
		if n.Unschedulable {
			state += ", cordoned"
		}
		fmt.Fprintf(&b, "%-20s %-12s %-16s %s\n", n.Name, strings.Join(n.Roles, ","), n.InternalIP, state)
	}
	b.WriteString("etcd: " + r.Verdict + "\n")
	return b.String()
}

// TokensText is `node token list`.
func (r *NodeListing) TokensText(now time.Time) string {
	var b strings.Builder
	for _, t := range r.Tokens {
		state := "expires " + t.Expires.Local().Format("2006-01-02 15:04")
		if t.Expired(now) {
			state = "expired"
		}
		owner := ""
		if !t.Appliance {
			owner = " (not the appliance's: k3s token delete)"
		}
		fmt.Fprintf(&b, "%-8s agent   %s %s%s\n", t.ID, state, t.Description, owner)
	}
	for _, t := range r.ServerTokens {
		fmt.Fprintf(&b, "%-8s server  handed out %s, the cluster's server token: does not expire %s\n", t.ID, t.Created.Local().Format("2006-01-02 15:04"), t.Description)
	}
	if b.Len() == 0 {
		return "no join token\n"
	}
	return b.String()
}

// NodeTokenRevoke revokes a join token: an agent token's Secret is deleted, so k3s refuses it;
// a server token's record goes, with the warning that only rotating the cluster's token would
// make it useless.
type NodeTokenRevoke struct {
	nodeSource
	ID string
	// Note says what revoking could not do.
	Note string
}

// NewNodeTokenRevoke revokes id.
func NewNodeTokenRevoke(stateDir, kubeconfig string, root host.Root, id string) *NodeTokenRevoke {
	return &NodeTokenRevoke{nodeSource: nodeSource{StateDir: stateDir, Kubeconfig: kubeconfig, Root: root}, ID: id}
}

// Run revokes.
func (r *NodeTokenRevoke) Run(ctx context.Context, st *status.Status) error {
	dir := r.root().Path(r.StateDir)
	recs, err := readTokenRecords(dir)
	if err != nil {
		return err
	}
	var keep []TokenRecord
	var server bool
	for _, rec := range recs {
		if rec.ID == r.ID {
			server = rec.Role == k3s.RoleServer
			continue
		}
		keep = append(keep, rec)
	}
	if !server {
		c, err := r.connect(ctx, st)
		if err != nil {
			return err
		}
		if err := nodes.RevokeAgentToken(ctx, c.Kube, r.ID); err != nil {
			return err
		}
	} else {
		r.Note = "the record is gone, but a server joins with the cluster's server token, which k3s cannot revoke: if it leaked, rotate it (k3s token rotate on a server, then restart every server)"
	}
	if len(keep) != len(recs) {
		return writeTokenRecords(dir, keep)
	}
	return nil
}

// NodeRemove takes a node out of the cluster (node remove NAME): the quorum guard, cordon and
// drain (PodDisruptionBudgets hold), the host's own reset (a leave Job there hands
// `docs-appliance reset` to the host's systemd, and the kubelet goes before its Node does, or it
// would register it again), etcd member removal through k3s, then the Node object. A node that is
// not Ready cannot be reached: its host is the operator's to reset, and Next says so.
type NodeRemove struct {
	nodeSource
	Name   string
	Force  bool
	DryRun bool
	// AbandonVolumes removes a node even though volumes live on its disk alone (their pods then
	// run nowhere; the data stays on that host, whose reset keeps volumes).
	AbandonVolumes bool
	// KeepHost leaves the node's host alone (its k3s not the appliance's, or this host not a
	// server that can hand it the leave image).
	KeepHost bool
	// DrainTimeout bounds the drain (10 minutes when zero); Poll and Within the member removal
	// and the leave.
	DrainTimeout, Poll, Within time.Duration
	Log                        io.Writer
	// Runner imports the leave image into this server's containerd; ApplianceBinary is the static
	// program it carries (this one when empty).
	Runner          host.Runner
	ApplianceBinary string

	Result *NodeRemoveResult
}

// NodeRemoveResult is remove's result (--output json).
type NodeRemoveResult struct {
	Node   nodes.Node      `json:"node"`
	Quorum nodes.Quorum    `json:"quorumAfter"`
	Next   string          `json:"next"`
	DryRun bool            `json:"dryRun,omitempty"`
	Plan   []steps.Planned `json:"plan,omitempty"`
	Steps  []steps.Result  `json:"steps,omitempty"`
}

// NewNodeRemove removes name from the cluster of the appliance installed from stateDir.
func NewNodeRemove(stateDir, kubeconfig string, root host.Root, name string) *NodeRemove {
	return &NodeRemove{nodeSource: nodeSource{StateDir: stateDir, Kubeconfig: kubeconfig, Root: root}, Name: name}
}

// Run removes. The guard reads the cluster, so even a dry run connects; it changes nothing.
func (r *NodeRemove) Run(ctx context.Context, st *status.Status) error {
	if r.Name == "" {
		return errors.New("node remove: give the node's name (docs-appliance node list)")
	}
	if r.DrainTimeout == 0 {
		r.DrainTimeout = 10 * time.Minute
	}
	if r.Poll == 0 {
		r.Poll = 2 * time.Second
	}
	if r.Within == 0 {
		r.Within = 5 * time.Minute
	}
	if r.Log == nil {
		r.Log = io.Discard
	}
	c, err := r.connect(ctx, st)
	if err != nil {
		return err
	}
	list, err := nodes.List(ctx, c.Kube)
	if err != nil {
		return err
	}
	if err := nodes.CheckRemoval(list, r.Name, r.Force); err != nil {
		return err
	}
	pinned, err := nodes.PinnedTo(ctx, c.Kube, r.Name)
	if err != nil {
		return err
	}
	if len(pinned) > 0 && !r.AbandonVolumes {
		return &PinnedVolumesError{Node: r.Name, Volumes: pinned}
	}
	if self := nodeName(r.root(), ""); self == r.Name && r.Kubeconfig == "" {
		// Its etcd member gone, this server's API stops answering before the Node is deleted.
		return fmt.Errorf("refusing to remove node %s from itself: run docs-appliance node remove %s on another server", r.Name, r.Name)
	}
	var target nodes.Node
	var rest []nodes.Node
	for _, n := range list {
		if n.Name == r.Name {
			target = n
		} else {
			rest = append(rest, n)
		}
	}
	res := &NodeRemoveResult{Node: target, Quorum: nodes.QuorumOf(rest), DryRun: r.DryRun,
		Next: "on " + r.Name + ", as root: docs-appliance reset (removes k3s and the appliance's files there); to rejoin it later, make a new token"}
	r.Result = res
	kube := c.Kube
	list2 := []steps.Step{
		&steps.Func{Name: "node-drain", Describe: "Cordoning and draining " + r.Name, Deadline: r.DrainTimeout + time.Minute,
			RunFunc: func(ctx context.Context, st *status.Status) error {
				return nodes.Drain(ctx, kube, r.Name, target.Ready, r.DrainTimeout, r.Log)
			}},
		r.leaveStep(kube, res, leaveFirstUnsafe(list, target)),
	}
	if target.Etcd() || target.EtcdRemoved {
		list2 = append(list2, &steps.Func{
			CheckFunc: func(ctx context.Context) (string, error) {
				if target.EtcdRemoved {
					return "k3s removed its etcd member already", nil
				}
				return "", nil
			}, Name: "etcd-member-remove", Describe: "Removing " + r.Name + " from etcd", Deadline: r.Within + time.Minute,
			RunFunc: func(ctx context.Context, st *status.Status) error {
				return nodes.RemoveEtcdMember(ctx, kube, r.Name, r.Poll, r.Within)
			}})
	}
	list2 = append(list2, &steps.Func{Name: "node-delete", Describe: "Deleting node " + r.Name, Deadline: time.Minute,
		RunFunc: func(ctx context.Context, st *status.Status) error { return nodes.DeleteNode(ctx, kube, r.Name) }})
	if r.DryRun {
		res.Plan = steps.Plan(list2)
		return nil
	}
	res.Steps, err = steps.Run(ctx, st, list2)
	return err
}

// PinnedVolumesError: the node to remove holds volumes no other node reaches.
type PinnedVolumesError struct {
	Node    string
	Volumes []nodes.PinnedVolume
}

func (e *PinnedVolumesError) Error() string {
	var list []string
	for _, v := range e.Volumes {
		list = append(list, v.String())
	}
	return fmt.Sprintf("refusing to remove node %s: its disk alone holds %s; removed, their pods could run nowhere. "+
		"Move what they hold first (a CloudNativePG instance of several: kubectl cnpg destroy CLUSTER INSTANCE rebuilds it on another node), "+
		"or run again with --abandon-volumes (the data stays on that host: its reset keeps volumes)", e.Node, strings.Join(list, ", "))
}

// leaveFirstUnsafe says why the host of an etcd member may not be stopped before its member is
// removed: etcd would be left without quorum, so the removal could never happen. The member goes
// first then, and its k3s with it: the host is the operator's to reset.
func leaveFirstUnsafe(list []nodes.Node, target nodes.Node) string {
	if !target.Etcd() {
		return ""
	}
	q := nodes.QuorumOf(list)
	up := q.Ready
	if target.Ready {
		up--
	}
	if need := q.Members/2 + 1; up < need {
		return fmt.Sprintf("stopping it while still an etcd member would leave %d of %d members up, without quorum (needs %d): its member goes first, then reset its host", up, q.Members, need)
	}
	return ""
}

// leaveStep resets the node's host from a leave Job there, while the node is Ready to run it
// (and, for an etcd member, while the rest keep quorum without it: unsafe says why not).
func (r *NodeRemove) leaveStep(kube kubernetes.Interface, res *NodeRemoveResult, unsafe string) steps.Step {
	return &steps.Func{Name: "node-leave", Describe: "Resetting " + r.Name + "'s host: k3s and the appliance's files go, its volumes stay",
		Deadline: 2*r.Within + 2*time.Minute,
		CheckFunc: func(ctx context.Context) (string, error) {
			if r.KeepHost {
				return "--keep-host: the host is left alone", nil
			}
			if unsafe != "" {
				return unsafe, nil
			}
			n, err := kube.CoreV1().Nodes().Get(ctx, r.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "the node is gone already", nil
			}
			if err != nil {
				return "", fmt.Errorf("reading node %s: %w", r.Name, err)
			}
			if !nodes.Of(n).Ready {
				return "the node is not Ready: nothing here reaches its host", nil
			}
			return "", nil
		},
		RunFunc: func(ctx context.Context, st *status.Status) error {
			img, err := r.leaveImage(ctx, st)
			if err != nil {
				return err
			}
			if err := nodes.Leave(ctx, kube, r.Name, img, r.Poll, r.Within); err != nil {
				if je := (*nodes.HostJobError)(nil); errors.As(err, &je) {
					return fmt.Errorf("%w\n  if k3s there is not the appliance's, remove it the way it was installed, or run node remove again with --keep-host", err)
				}
				return err
			}
			res.Next = "k3s and the appliance's files are being removed from " + r.Name + " by its own systemd (journalctl -u " + k3s.LeaveUnit +
				" there); its volumes and age key stay, as docs-appliance reset keeps them; to rejoin it later, make a new token"
			return nil
		}}
}

// leaveImage builds the leave image in the state folder and imports it into this server's
// containerd, from which the node leaving pulls it through the embedded registry mirror.
func (r *NodeRemove) leaveImage(ctx context.Context, st *status.Status) (*nodes.LeaveImage, error) {
	self := r.ApplianceBinary
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding this program for the leave image: %w", err)
		}
	}
	archive := filepath.Join(r.StateDir, "leave.tar")
	img, err := nodes.BuildLeaveImage(self, r.root().Path(archive))
	if err != nil {
		return nil, err
	}
	if err := importImage(ctx, r.runner(), archive); err != nil {
		return nil, fmt.Errorf("importing the leave image into this server's containerd (from a host that is not a server, use --keep-host and reset the node's host there): %w", err)
	}
	st.Info("leave image %s imported (the node pulls it through the embedded registry mirror)", img.Ref)
	return img, nil
}

func (r *NodeRemove) runner() host.Runner {
	if r.Runner == nil {
		return host.ExecRunner{}
	}
	return r.Runner
}

// Text is what remove prints.
func (r *NodeRemoveResult) Text() string {
	if r.DryRun {
		return planText(r.Plan, "Removing "+r.Node.Name+" would take these steps:")
	}
	_, verdict := r.Quorum.Verdict()
	return fmt.Sprintf("%s left the cluster. etcd: %s\nNext: %s\n", r.Node.Name, verdict, r.Next)
}
