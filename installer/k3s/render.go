package k3s

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// serverConfig is /etc/rancher/k3s/config.yaml: k3s reads each key as the flag of that name.
type serverConfig struct {
	WriteKubeconfigMode            string   `json:"write-kubeconfig-mode"`
	TLSSAN                         []string `json:"tls-san,omitempty"`
	Disable                        []string `json:"disable"`
	EmbeddedRegistry               bool     `json:"embedded-registry"`
	DisableDefaultRegistryEndpoint bool     `json:"disable-default-registry-endpoint,omitempty"`
	SecretsEncryption              bool     `json:"secrets-encryption"`
	ClusterInit                    bool     `json:"cluster-init,omitempty"`
	ClusterCIDR                    string   `json:"cluster-cidr,omitempty"`
	ServiceCIDR                    string   `json:"service-cidr,omitempty"`
	NodeName                       string   `json:"node-name,omitempty"`
	DefaultLocalStoragePath        string   `json:"default-local-storage-path"`
	// A server joining an existing cluster: its URL and the file holding the token.
	Server    string `json:"server,omitempty"`
	TokenFile string `json:"token-file,omitempty"`
	// Embedded etcd's snapshots (docs.k3s.io/cli/etcd-snapshot).
	SnapshotCron       string `json:"etcd-snapshot-schedule-cron,omitempty"`
	SnapshotRetention  int    `json:"etcd-snapshot-retention,omitempty"`
	EtcdS3             bool   `json:"etcd-s3,omitempty"`
	EtcdS3ConfigSecret string `json:"etcd-s3-config-secret,omitempty"`
	// Flags of the controller-manager every server runs (one leads).
	ControllerManagerArgs []string `json:"kube-controller-manager-arg,omitempty"`
}

// NodeMonitorGracePeriod is how long the servers of a cluster on embedded etcd wait for a silent
// node before marking it NotReady, which is when its pods leave their Services' endpoints.
// Upstream's 50 s left a third of the requests sent straight to a Service failing for 53 s after
// a node was lost (e2e/ha); 20 s is two of the kubelet's 10 s lease renewals, so one late renewal
// is not a lost node. NotReady pods are not evicted before their 300 s toleration: a node back
// within that keeps its pods. A single server has no other node to fail over to: upstream's
// value stays.
const NodeMonitorGracePeriod = 20 * time.Second

// ConfigYAML renders config.yaml (an agent's is AgentConfigYAML): Traefik off (the appliance runs Envoy Gateway), the embedded
// registry on (nodes share preloaded images), upstream registries off when air-gapped, secrets
// encrypted at rest, the public names in the API certificate, a kubeconfig only root reads,
// embedded etcd on the first server of an HA profile, and the volumes in the state folder
// (VolumesDir), not in k3s's data folder that a reset removes. A joining server gets the same
// keys as the first (k3s requires cluster-cidr, service-cidr, secrets-encryption, disable ... to
// match on every server: docs.k3s.io/cli/server, "Critical Configuration Values") plus server
// and token-file; the token never goes in this file.
func ConfigYAML(o Options) ([]byte, error) {
	if o.agent() {
		return AgentConfigYAML(o)
	}
	if !path.IsAbs(o.StateDir) {
		return nil, fmt.Errorf("rendering k3s config: the state folder %q must be an absolute path (--state-dir)", o.StateDir)
	}
	c := serverConfig{
		WriteKubeconfigMode:            "0600",
		TLSSAN:                         o.Domains,
		Disable:                        []string{"traefik"},
		EmbeddedRegistry:               true,
		DisableDefaultRegistryEndpoint: o.Airgapped,
		SecretsEncryption:              true,
		ClusterInit:                    o.ClusterInit,
		NodeName:                       o.NodeName,
		DefaultLocalStoragePath:        VolumesDir(o.StateDir),
	}
	if o.ClusterCIDR != DefaultClusterCIDR {
		c.ClusterCIDR = o.ClusterCIDR
	}
	if o.ServiceCIDR != DefaultServiceCIDR {
		c.ServiceCIDR = o.ServiceCIDR
	}
	if o.Join != nil {
		c.Server, c.TokenFile = o.Join.Server, TokenPath
	}
	if o.runsEtcd() {
		c.ControllerManagerArgs = []string{"node-monitor-grace-period=" + NodeMonitorGracePeriod.String()}
	}
	if o.Snapshots != nil && o.runsEtcd() {
		c.SnapshotCron, c.SnapshotRetention = o.Snapshots.Schedule, o.Snapshots.Retention
		if o.Snapshots.S3 {
			c.EtcdS3, c.EtcdS3ConfigSecret = true, EtcdS3SecretName
		}
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("rendering k3s config: %w", err)
	}
	return append([]byte(Marker+"\n"), data...), nil
}

// registryMirrors is /etc/rancher/k3s/registries.yaml.
type registryMirrors struct {
	Mirrors map[string]struct{} `json:"mirrors"`
}

// RegistriesYAML renders registries.yaml: every registry the train's images come from (and
// docker.io, where k3s's own images live) is mirrored by the embedded registry, plus "*" for any
// other. With disable-default-registry-endpoint (air-gapped), containerd then never falls back
// to the upstream registry: an image not preloaded fails fast instead of hanging on the network.
func RegistriesYAML(o Options) ([]byte, error) {
	hosts := map[string]struct{}{"*": {}, "docker.io": {}}
	if o.Train != nil {
		for _, im := range o.Train.Images {
			if h, _, ok := strings.Cut(im.Reference, "/"); ok && strings.ContainsAny(h, ".:") {
				hosts[h] = struct{}{}
			}
		}
	}
	data, err := yaml.Marshal(registryMirrors{Mirrors: hosts})
	if err != nil {
		return nil, fmt.Errorf("rendering registries.yaml: %w", err)
	}
	return append([]byte(Marker+"\n"), data...), nil
}

// RegistryHosts lists the mirrored registries of a rendered registries.yaml, sorted.
func RegistryHosts(o Options) []string {
	data, _ := RegistriesYAML(o)
	var m registryMirrors
	_ = yaml.Unmarshal(data, &m)
	out := make([]string, 0, len(m.Mirrors))
	for h := range m.Mirrors {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// UnitFile is the systemd unit, as the k3s install script writes it plus the appliance's marker.
func UnitFile() []byte {
	return []byte(Marker + `
[Unit]
Description=Lightweight Kubernetes (docs-appliance)
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-` + EnvPath + `
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead in the kernel.
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=` + BinaryPath + ` server
`)
}

// EnvFile renders the unit's environment: the cluster token, which servers joining later must
// present. It is a secret: the file is 0600 and never printed. A joined host's holds no token
// (it is in TokenPath): EnvFile("").
func EnvFile(token string) []byte {
	if token == "" {
		return []byte(Marker + "\n")
	}
	return []byte(Marker + "\nK3S_TOKEN=" + token + "\n")
}

// tokenFrom reads K3S_TOKEN from an env file's content.
func tokenFrom(env []byte) string {
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "K3S_TOKEN="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}
