package k3s

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Role is what a joining host becomes.
type Role string

const (
	// RoleServer runs the control plane and an embedded etcd member.
	RoleServer Role = "server"
	// RoleAgent runs workloads only.
	RoleAgent Role = "agent"
)

// Join makes this host a further node of an existing cluster; nil in Options is the first server.
type Join struct {
	Role Role
	// Server is the URL of a server of the cluster, https://host:6443.
	Server string
	// Token is the join token (k3s's secure format, K10<CA hash>::<credentials>). It is a
	// secret: written to TokenPath (0600) and named by token-file in config.yaml, never put in
	// config.yaml, on a command line or in a status line. k3s documents token-file / K3S_TOKEN_FILE
	// beside --token and --server in "k3s agent" (docs.k3s.io/cli/agent, "Cluster Options"),
	// valid for servers too.
	Token string
}

// Paths a joined node adds.
const (
	// TokenPath holds the join token, 0600; config.yaml names it (token-file).
	TokenPath = ConfigDir + "/join-token"
	// AgentUnit is the unit of a host that joined as an agent (the name k3s's install script uses).
	AgentUnit = "k3s-agent.service"
	// AgentEnvPath is its environment file (no secret in it: the token is in TokenPath).
	AgentEnvPath = host.UnitDir + "/k3s-agent.service.env"
	// KubeletKubeconfig is the kubelet's own kubeconfig on every node: an agent has no admin
	// kubeconfig, and the Node authorizer lets a kubelet read its own Node object with it.
	KubeletKubeconfig = DataDir + "/agent/kubelet.kubeconfig"
)

// AgentUnitPath is the host path of the agent unit.
var AgentUnitPath = host.UnitPath(AgentUnit)

func (j *Join) validate() error {
	var errs []error
	if j.Role != RoleServer && j.Role != RoleAgent {
		errs = append(errs, fmt.Errorf("k3s: join role %q is neither server nor agent (--role server|agent)", j.Role))
	}
	u, err := url.Parse(j.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("k3s: join URL %q is not a server's address: give https://host:6443", j.Server))
	}
	if strings.TrimSpace(j.Token) == "" || strings.ContainsAny(j.Token, " \t\r\n") {
		// The token itself is never repeated in the message.
		errs = append(errs, errors.New("k3s: the join token is empty or has spaces in it: paste it as `node token create` printed it"))
	}
	return errors.Join(errs...)
}

// unit, unitPath and envPath are the systemd unit this host runs k3s under.
func (o *Options) unit() string {
	if o.agent() {
		return AgentUnit
	}
	return Unit
}

func (o *Options) unitPath() string { return host.UnitPath(o.unit()) }

func (o *Options) envPath() string {
	if o.agent() {
		return AgentEnvPath
	}
	return EnvPath
}

func (o *Options) agent() bool { return o.Join != nil && o.Join.Role == RoleAgent }

// runsEtcd: the host is a server of a cluster on embedded etcd (converted, initialised, or
// joined as a server, which joins etcd).
func (o *Options) runsEtcd() bool {
	return o.ClusterInit || o.Join != nil && o.Join.Role == RoleServer
}

// agentConfig is config.yaml of an agent: agent flags only (k3s refuses server flags there;
// embedded-registry in particular is a server flag that enables the mirror cluster-wide,
// docs.k3s.io/installation/registry-mirror).
type agentConfig struct {
	Server    string `json:"server"`
	TokenFile string `json:"token-file"`
	NodeName  string `json:"node-name,omitempty"`
}

// AgentConfigYAML renders an agent's config.yaml.
func AgentConfigYAML(o Options) ([]byte, error) {
	if o.Join == nil {
		return nil, errors.New("rendering k3s agent config: no cluster to join")
	}
	data, err := yaml.Marshal(agentConfig{Server: o.Join.Server, TokenFile: TokenPath, NodeName: o.NodeName})
	if err != nil {
		return nil, fmt.Errorf("rendering k3s agent config: %w", err)
	}
	return append([]byte(Marker+"\n"), data...), nil
}

// AgentUnitFile is the agent's systemd unit: the server unit running `k3s agent`.
func AgentUnitFile() []byte {
	u := string(UnitFile())
	u = strings.Replace(u, "EnvironmentFile=-"+EnvPath, "EnvironmentFile=-"+AgentEnvPath, 1)
	u = strings.Replace(u, "ExecStart="+BinaryPath+" server", "ExecStart="+BinaryPath+" agent", 1)
	return []byte(strings.Replace(u, "Description=Lightweight Kubernetes (docs-appliance)", "Description=Lightweight Kubernetes agent (docs-appliance)", 1))
}

func (o *Options) unitFile() []byte {
	if o.agent() {
		return AgentUnitFile()
	}
	return UnitFile()
}

// Datastore is what k3s keeps the cluster in on this host.
type Datastore string

const (
	// NoDatastore: k3s has not run as a server here.
	NoDatastore Datastore = ""
	// SQLite is a single server's kine database.
	SQLite Datastore = "sqlite"
	// Etcd is embedded etcd: a server that can have peers.
	Etcd Datastore = "etcd"
)

// Paths of k3s's datastores (k3s's data-dir layout: server/db/state.db for kine on SQLite,
// server/db/etcd for embedded etcd).
const (
	SQLitePath  = DataDir + "/server/db/state.db"
	EtcdDataDir = DataDir + "/server/db/etcd"
)

// DatastoreOf looks at the host's k3s data folder. Etcd wins when both are there: k3s moves a
// SQLite cluster into etcd when restarted with cluster-init, and leaves the old file behind.
func DatastoreOf(root host.Root) Datastore {
	switch {
	case root.Exists(path.Join(EtcdDataDir, "member")):
		return Etcd
	case root.Exists(SQLitePath):
		return SQLite
	}
	return NoDatastore
}
