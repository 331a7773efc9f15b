package installer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// JoinAction makes this host a further server or agent of an appliance's cluster (`join URL
// TOKEN`): the join preflight, then the same pinned k3s as the cluster (the train's, from the
// imported bundle when air-gapped) with server and token-file, started and Ready. The token is
// written to k3s's token file (0600) only.
type JoinAction struct {
	Root   host.Root
	Runner host.Runner
	// StateDir is this host's state folder (host path): the kubeconfig of a joined server.
	StateDir string
	Server   string
	Token    string
	Role     k3s.Role
	// Train is the cluster's train (the join command says which); TrainFile one given as a file.
	Train, TrainFile string
	// ArtifactsDir is an imported bundle folder (host path), required when air-gapped.
	ArtifactsDir string
	Airgapped    bool
	// Domains go into a joining server's API certificate, as on the first.
	Domains    []string
	NodeName   string
	HTTPClient *http.Client
	DryRun     bool
	// Preflight reaches the server; real network and clock when zero.
	Preflight joinProbe
	// K3sTimeout bounds the wait for the node (10 minutes when zero); tests shorten it.
	K3sTimeout, K3sPoll time.Duration
	// NewCluster connects to the cluster a joined server is part of, to count its servers.
	NewCluster func(kubeconfig string) (*cluster.Client, error)

	Result *JoinResult
	// train, when set (tests), is the train instead of Train or TrainFile.
	train *bundles.Train
}

// JoinResult is join's result (--output json).
type JoinResult struct {
	Node      string          `json:"node"`
	Role      k3s.Role        `json:"role"`
	Preflight []JoinCheck     `json:"preflight,omitempty"`
	Quorum    *nodes.Quorum   `json:"quorum,omitempty"`
	Advice    string          `json:"advice,omitempty"`
	DryRun    bool            `json:"dryRun,omitempty"`
	Plan      []steps.Planned `json:"plan,omitempty"`
	Steps     []steps.Result  `json:"steps,omitempty"`
}

func (j *JoinAction) k3sOptions() (k3s.Options, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return k3s.Options{}, fmt.Errorf("loading release trains: %w", err)
	}
	train := j.train
	switch {
	case train != nil:
	case j.TrainFile != "":
		data, err := os.ReadFile(j.TrainFile)
		if err != nil {
			return k3s.Options{}, fmt.Errorf("reading --train-file: %w", err)
		}
		if train, err = bundles.ParseTrain(data); err != nil {
			return k3s.Options{}, fmt.Errorf("reading --train-file %s: %w", j.TrainFile, err)
		}
	default:
		if train, err = cat.Get(j.Train); err != nil {
			return k3s.Options{}, fmt.Errorf("--train %q: %w (the join command `node token create` printed names it)", j.Train, err)
		}
	}
	o := k3s.Options{Root: j.Root, Runner: j.Runner, Train: train, ArtifactsDir: j.ArtifactsDir, Airgapped: j.Airgapped,
		Domains: j.Domains, NodeName: j.NodeName, StateDir: j.StateDir, HTTPClient: j.HTTPClient,
		Join: &k3s.Join{Role: j.Role, Server: j.Server, Token: j.Token}, Timeout: j.K3sTimeout, PollInterval: j.K3sPoll,
		// A dry run shows the steps of an unlocked (development) train too; a join refuses it.
		AllowUnpinned: j.DryRun}
	if j.Role == k3s.RoleServer {
		// The backup target's Secret is in the cluster already when the first server
		// converted; k3s reads it when it snapshots.
		o.Snapshots = EtcdSnapshots(true)
	}
	return o, nil
}

// Run joins. Bad input is refused before anything changes; with DryRun the steps are planned.
func (j *JoinAction) Run(ctx context.Context, st *status.Status) error {
	if j.Root == "" {
		j.Root = "/"
	}
	o, err := j.k3sOptions()
	if err != nil {
		return err
	}
	if own := k3s.Owner(j.Root); own.Present && !own.Ours {
		return errors.New("joining: this host has a k3s the appliance did not install: remove it first (k3s-uninstall.sh), or join another host")
	}
	pv, err := k3s.Steps(o)
	if err != nil {
		return err
	}
	res := &JoinResult{Role: j.Role, DryRun: j.DryRun}
	j.Result = res
	pre := &steps.Func{Name: "join-preflight", Describe: "Checking the ports, the clocks and the disk for joining " + j.Server, Deadline: 2 * time.Minute,
		RunFunc: func(ctx context.Context, st *status.Status) error { return j.preflight(ctx, st) }, Remote: j.Server}
	list := append([]steps.Step{pre}, pv.Steps...)
	if j.DryRun {
		res.Plan = steps.Plan(list)
		return nil
	}
	res.Steps, err = steps.Run(ctx, st, list)
	if err != nil {
		return err
	}
	res.Node = nodeName(j.Root, j.NodeName)
	if j.Role == k3s.RoleServer {
		j.adviseQuorum(ctx, st)
	}
	return nil
}

func nodeName(r host.Root, given string) string {
	if given != "" {
		return given
	}
	n, _ := r.Hostname()
	return strings.ToLower(n)
}

func (j *JoinAction) preflight(ctx context.Context, st *status.Status) error {
	checks := j.Preflight.run(ctx, j.Server, j.Token, j.Role, etcdDiskDir(j.Root.Path("/")))
	j.Result.Preflight = checks
	var failed []JoinCheck
	for _, c := range checks {
		switch {
		case !c.OK:
			failed = append(failed, c)
		case c.Warn:
			st.Warn("%s: %s", c.ID, c.Detail)
		}
	}
	if len(failed) > 0 {
		return &JoinPreflightError{Failed: failed}
	}
	return nil
}

// adviseQuorum counts the servers once this one is in: two is a state to pass through.
func (j *JoinAction) adviseQuorum(ctx context.Context, st *status.Status) {
	newCluster := j.NewCluster
	if newCluster == nil {
		newCluster = cluster.NewFromKubeconfig
	}
	c, err := newCluster(j.Root.Path(k3s.StateKubeconfig(j.StateDir)))
	if err != nil {
		st.Warn("counting the servers: %v", err)
		return
	}
	list, err := nodes.List(ctx, c.Kube)
	if err != nil {
		st.Warn("counting the servers: %v", err)
		return
	}
	q := nodes.QuorumOf(list)
	j.Result.Quorum = &q
	if level, msg := q.Verdict(); level != nodes.OK {
		j.Result.Advice = msg
		st.Warn("%s", msg)
	}
}

// Text is what join prints.
func (r *JoinResult) Text() string {
	if r.DryRun {
		return planText(r.Plan, "Joining would take these steps:")
	}
	s := fmt.Sprintf("%s joined the cluster as a %s and is Ready.\n", r.Node, r.Role)
	if r.Advice != "" {
		s += r.Advice + "\n"
	}
	return s
}
