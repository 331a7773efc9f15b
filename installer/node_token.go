package installer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Host paths of what k3s keeps on a server and `node token create` reads: the server token in
// k3s's secure format (docs.k3s.io/cli/token: "always written to /var/lib/rancher/k3s/server/token
// in secure format") and the server CA whose hash pins agent tokens.
const (
	k3sServerToken = k3s.DataDir + "/server/token"
	k3sServerCA    = k3s.DataDir + "/server/tls/server-ca.crt"
)

// tokenRecordsFile keeps, in the state folder (0600), what each join token was handed out for:
// its hash, never the token.
const tokenRecordsFile = "node-tokens.json"

// TokenRecord is one join token the appliance handed out.
type TokenRecord struct {
	ID   string   `json:"id"`
	Role k3s.Role `json:"role"`
	// SHA256 is the hash of the whole join token, to recognise it, never to rebuild it.
	SHA256      string    `json:"sha256"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"`
	Description string    `json:"description,omitempty"`
}

func tokenRecordsPath(stateDir string) string { return filepath.Join(stateDir, tokenRecordsFile) }

func readTokenRecords(stateDir string) ([]TokenRecord, error) {
	data, err := os.ReadFile(tokenRecordsPath(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the join token records: %w", err)
	}
	var out []TokenRecord
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("reading the join token records %s: %w", tokenRecordsPath(stateDir), err)
	}
	return out, nil
}

func writeTokenRecords(stateDir string, recs []TokenRecord) error {
	sort.Slice(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(tokenRecordsPath(stateDir), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the join token: %w", err)
	}
	return nil
}

func tokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// nodeSource is what the node commands read: the cluster k3s on this host runs, or --kubeconfig.
type nodeSource struct {
	StateDir, Kubeconfig string
	Root                 host.Root
}

func (n nodeSource) root() host.Root {
	if n.Root == "" {
		return "/"
	}
	return n.Root
}

func (n nodeSource) connect(ctx context.Context, st *status.Status) (*cluster.Client, error) {
	return connectCluster(ctx, st, n.Kubeconfig, n.root(), n.StateDir)
}

// NodeTokenCreate makes a join token: for an agent, a k3s bootstrap token that expires after TTL
// and can be revoked; for a server, k3s accepts only the cluster's server token (k3s ADR
// agent-join-token: "K3s will NOT allow joining servers to the cluster using bootstrap token
// secrets"), which never expires: it is handed out with a record, and said so. A server token
// on a first server still on SQLite first moves it to embedded etcd, after a backup.
type NodeTokenCreate struct {
	nodeSource
	Role        k3s.Role
	TTL         time.Duration
	Description string
	// ServerURL goes into the join command; this server's address on 6443 when empty.
	ServerURL string
	DryRun    bool
	// Convert moves a SQLite first server to etcd (etcd_convert.go); nil when there is none to do.
	Convert *EtcdConversion
	Now     func() time.Time

	Result *NodeTokenResult
}

// NodeTokenResult is create's result (--output json). Token is the secret, printed once.
type NodeTokenResult struct {
	Record  TokenRecord     `json:"record"`
	Token   string          `json:"token,omitempty"`
	Command string          `json:"command,omitempty"`
	Note    string          `json:"note,omitempty"`
	DryRun  bool            `json:"dryRun,omitempty"`
	Plan    []steps.Planned `json:"plan,omitempty"`
	Steps   []steps.Result  `json:"steps,omitempty"`
}

// NewNodeTokenCreate reads the cluster of the appliance installed from stateDir.
func NewNodeTokenCreate(stateDir, kubeconfig string, root host.Root, role k3s.Role, ttl time.Duration) *NodeTokenCreate {
	return &NodeTokenCreate{nodeSource: nodeSource{StateDir: stateDir, Kubeconfig: kubeconfig, Root: root}, Role: role, TTL: ttl}
}

func (c *NodeTokenCreate) validate() error {
	var errs []error
	if c.Role != k3s.RoleServer && c.Role != k3s.RoleAgent {
		errs = append(errs, fmt.Errorf("--role %q: give server or agent", c.Role))
	}
	if c.TTL <= 0 || c.TTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--ttl %s: a join token lives between a minute and 7 days (e.g. 24h)", c.TTL))
	}
	if c.ServerURL != "" && !strings.HasPrefix(c.ServerURL, "https://") {
		errs = append(errs, fmt.Errorf("--server-url %q: give https://host:6443", c.ServerURL))
	}
	return errors.Join(errs...)
}

// Run makes the token. Its steps run on the engine; with DryRun they are only planned.
func (c *NodeTokenCreate) Run(ctx context.Context, st *status.Status) error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	res := &NodeTokenResult{DryRun: c.DryRun}
	c.Result = res
	var cl *cluster.Client
	var list []steps.Step
	if c.Role == k3s.RoleServer && c.Convert != nil {
		list = append(list, c.Convert.Steps()...)
	}
	list = append(list, &steps.Func{Name: "join-token", Describe: "Making a " + string(c.Role) + " join token", Deadline: time.Minute,
		RunFunc: func(ctx context.Context, st *status.Status) error { return c.makeToken(ctx, cl) }})
	if c.DryRun {
		res.Plan = steps.Plan(list)
		return nil
	}
	var err error
	if cl, err = c.connect(ctx, st); err != nil {
		return err
	}
	if c.Convert != nil {
		c.Convert.Kube = cl.Kube
	}
	res.Steps, err = steps.Run(ctx, st, list)
	return err
}

func (c *NodeTokenCreate) makeToken(ctx context.Context, cl *cluster.Client) error {
	r := c.root()
	now := c.Now()
	rec := TokenRecord{Role: c.Role, Created: now.UTC().Truncate(time.Second), Description: c.Description}
	var token string
	switch c.Role {
	case k3s.RoleAgent:
		ca, err := r.ReadFile(k3sServerCA)
		if err != nil {
			return fmt.Errorf("reading the cluster's CA to pin it in the token (run this on a server): %w", err)
		}
		t, cred, err := nodes.CreateAgentToken(ctx, cl.Kube, c.TTL, c.Description, now)
		if err != nil {
			return err
		}
		rec.ID, rec.Expires, token = t.ID, t.Expires, nodes.JoinToken(ca, cred)
	default:
		data, err := r.ReadFile(k3sServerToken)
		if err != nil {
			return fmt.Errorf("reading the cluster's server token (run this on a server, as root): %w", err)
		}
		token = strings.TrimSpace(string(data))
		id := make([]byte, 3)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("making a token ID: %w", err)
		}
		rec.ID = "s" + hex.EncodeToString(id)[:5]
		c.Result.Note = "k3s joins servers only with the cluster's server token, which does not expire: keep it like the cluster's root password; if it leaks, rotate it (k3s token rotate, docs.k3s.io/cli/token)"
	}
	rec.SHA256 = tokenHash(token)
	recs, err := readTokenRecords(r.Path(c.StateDir))
	if err != nil {
		return err
	}
	if err := writeTokenRecords(r.Path(c.StateDir), append(recs, rec)); err != nil {
		return err
	}
	url, err := c.serverURL(ctx, cl)
	if err != nil {
		return err
	}
	c.Result.Record, c.Result.Token = rec, token
	c.Result.Command = c.joinCommand(url)
	return nil
}

// joinCommand is the command the new host runs: the cluster's train (the same pinned k3s), the
// public names for a server's API certificate, the bundle when air-gapped. Never the token.
func (c *NodeTokenCreate) joinCommand(url string) string {
	cmd := fmt.Sprintf("docs-appliance join %s --role %s --token-file FILE", url, c.Role)
	cfg, err := config.Load(SavedConfigPath(c.root().Path(c.StateDir)))
	if err != nil || cfg.Resolve(nil) != nil {
		return cmd
	}
	cmd += " --train " + cfg.Train
	if c.Role == k3s.RoleServer && len(cfg.Hosts()) > 0 {
		cmd += " --domains " + strings.Join(cfg.Hosts(), ",")
	}
	if cfg.Airgapped {
		cmd += " --airgapped --bundle-dir DIR (on the new host, docs-appliance airgap import of the train's bundle first)"
	}
	return cmd
}

// serverURL is the address joining hosts reach this cluster at: --server-url, else this
// server's internal address.
func (c *NodeTokenCreate) serverURL(ctx context.Context, cl *cluster.Client) (string, error) {
	if c.ServerURL != "" {
		return strings.TrimSuffix(c.ServerURL, "/"), nil
	}
	list, err := nodes.List(ctx, cl.Kube)
	if err != nil {
		return "", err
	}
	name, _ := c.root().Hostname()
	for _, pass := range []bool{true, false} {
		for _, n := range list {
			if n.Server() && n.InternalIP != "" && (!pass || n.Name == strings.ToLower(name)) {
				return "https://" + n.InternalIP + ":6443", nil
			}
		}
	}
	return "", errors.New("finding this server's address for the join command: no server has an internal IP; give --server-url https://host:6443")
}

// Text is what create prints: the token once, then how to use it without a command line.
func (r *NodeTokenResult) Text() string {
	if r.DryRun {
		return planText(r.Plan, "Making the token would take these steps:")
	}
	var b strings.Builder
	exp := "does not expire"
	if !r.Record.Expires.IsZero() {
		exp = "expires " + r.Record.Expires.Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(&b, "Join token %s for a %s (%s), shown once:\n\n  %s\n\n", r.Record.ID, r.Record.Role, exp, r.Token)
	fmt.Fprintf(&b, "On the new host, as root: save it to a file only root reads (the shell's history keeps a command line), then run\n\n  %s\n\n", r.Command)
	if r.Note != "" {
		b.WriteString(r.Note + "\n")
	}
	return b.String()
}

// planText renders a dry run's steps.
func planText(plan []steps.Planned, head string) string {
	var b strings.Builder
	b.WriteString(head + "\n")
	for i, p := range plan {
		fmt.Fprintf(&b, "  %d. %s (%s, at most %s)\n", i+1, p.Title, p.ID, time.Duration(p.Deadline*float64(time.Second)))
	}
	return b.String()
}
