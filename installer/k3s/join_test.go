package k3s

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
)

// A join token as `node token create` prints one; never to appear anywhere but TokenPath.
const joinToken = "K10" + "5f1b7d1c0e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4" + "::abcdef.0123456789abcdef"

func configOf(t *testing.T, tr string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(tr), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// joinAs is fakeK3s answering systemctl for the unit a joined host runs.
func joinAs(t *testing.T, role Role) (*fakeK3s, Options) {
	f := newFakeK3s(t).bundle()
	unit := Unit
	if role == RoleAgent {
		unit = AgentUnit
	}
	f.rec.On([]string{"systemctl", "is-active", unit}, func(c host.Cmd) ([]byte, error) {
		if f.active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), &host.CommandError{Argv: c.Argv, ExitCode: 3, Err: errors.New("exit status 3")}
	})
	start := func(host.Cmd) ([]byte, error) {
		f.active = true
		if _, err := f.tr.Root.Symlink(host.UnitPath(unit), host.EnabledLink(unit)); err != nil {
			return nil, err
		}
		// What k3s writes once it runs: an admin kubeconfig on a server; on an agent the
		// kubelet's, naming its certificate by host path.
		if role == RoleAgent {
			f.tr.Write(DataDir+"/agent/client-kubelet.crt", "cert").Write(DataDir+"/agent/client-kubelet.key", "key").Write(DataDir+"/agent/server-ca.crt", "ca")
			_, err := f.tr.Root.WriteFile(KubeletKubeconfig, []byte(kubeletKubeconfig), 0o600)
			return nil, err
		}
		_, err := f.tr.Root.WriteFile(KubeconfigPath, []byte(testKubeconfig), 0o600)
		return nil, err
	}
	f.rec.On([]string{"systemctl", "enable", "--now", unit}, start)
	f.rec.On([]string{"systemctl", "restart", unit}, start)
	o := f.options()
	o.Join = &Join{Role: role, Server: "https://10.0.0.1:6443", Token: joinToken}
	return f, o
}

const kubeletKubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://127.0.0.1:6444", certificate-authority: /var/lib/rancher/k3s/agent/server-ca.crt}
  name: local
contexts:
- context: {cluster: local, user: user}
  name: local
current-context: local
users:
- name: user
  user: {client-certificate: /var/lib/rancher/k3s/agent/client-kubelet.crt, client-key: /var/lib/rancher/k3s/agent/client-kubelet.key}
`

func TestJoinAsServerKeepsTheTokenInItsFileOnly(t *testing.T) {
	f, o := joinAs(t, RoleServer)
	out := provision(t, o)

	cfg := f.tr.Read(ConfigPath)
	m := configOf(t, cfg)
	if m["server"] != "https://10.0.0.1:6443" || m["token-file"] != TokenPath {
		t.Errorf("server/token-file: %v %v", m["server"], m["token-file"])
	}
	// The cluster's critical values are those of the first server: the same renderer.
	for k, v := range map[string]any{"secrets-encryption": true, "embedded-registry": true, "write-kubeconfig-mode": "0600"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["cluster-init"]; ok {
		t.Error("a joining server initialises a cluster of its own")
	}
	if got := f.tr.Read(TokenPath); got != joinToken+"\n" || mode(t, f.tr.Root, TokenPath) != 0o600 {
		t.Errorf("token file %q mode %v", got, mode(t, f.tr.Root, TokenPath))
	}
	// Nowhere else: not in config.yaml, the unit's environment, the status, nor any command.
	for what, s := range map[string]string{"config.yaml": cfg, "env file": f.tr.Read(EnvPath), "status": out, "commands": strings.Join(f.rec.Lines(), "\n")} {
		if strings.Contains(s, "0123456789abcdef") {
			t.Errorf("the join token is in the %s", what)
		}
	}
	if strings.Contains(f.tr.Read(EnvPath), "K3S_TOKEN") {
		t.Error("a joined server carries a cluster token of its own in its environment")
	}
	if !strings.Contains(out, "✔ Keeping the kubeconfig for the CLI") {
		t.Errorf("a joined server keeps a kubeconfig like the first:\n%s", out)
	}

	// Rerun: nothing to do, nothing restarted.
	f.rec.Reset()
	provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service" {
		t.Errorf("rerun ran %q", got)
	}
}

func TestJoinAsAgentRunsTheAgentUnitWithAgentFlagsOnly(t *testing.T) {
	f, o := joinAs(t, RoleAgent)
	o.NodeName = "docs-4"
	f.kube = readyCluster("docs-4")
	out := provision(t, o)

	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s-agent.service\nsystemctl daemon-reload\nsystemctl enable --now k3s-agent.service" {
		t.Errorf("ran %q", got)
	}
	m := configOf(t, f.tr.Read(ConfigPath))
	if len(m) != 3 || m["server"] != "https://10.0.0.1:6443" || m["token-file"] != TokenPath || m["node-name"] != "docs-4" {
		t.Errorf("agent config.yaml %v: only server, token-file and node-name are agent flags here", m)
	}
	unit := f.tr.Read(AgentUnitPath)
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/k3s agent\n") || !strings.Contains(unit, "EnvironmentFile=-"+AgentEnvPath) {
		t.Errorf("agent unit:\n%s", unit)
	}
	if f.tr.Root.Exists(UnitPath) {
		t.Error("an agent host got the server unit")
	}
	// The embedded registry mirror: registries.yaml on every node (docs.k3s.io/installation/registry-mirror).
	if !strings.Contains(f.tr.Read(RegistriesPath), "docker.io") {
		t.Error("the agent does not mirror registries through the embedded registry")
	}
	if strings.Contains(out, "kubeconfig for the CLI") {
		t.Errorf("an agent has no admin kubeconfig to keep:\n%s", out)
	}
	if !strings.Contains(out, "✔ Waiting for the node and core pods to be ready") {
		t.Errorf("status:\n%s", out)
	}
	if mode(t, f.tr.Root, TokenPath) != 0o600 || mode(t, f.tr.Root, AgentEnvPath) != 0o600 {
		t.Error("the token file or the agent environment is readable by others")
	}
	if own := Owner(f.tr.Root); !own.Present || !own.Ours {
		t.Errorf("reset would not know this agent's k3s is the appliance's: %+v", own)
	}
}

func TestAgentWaitReadsTheKubeletKubeconfigUnderRoot(t *testing.T) {
	r := hosttest.New(t).Write(DataDir+"/agent/client-kubelet.crt", "c").Write(DataDir+"/agent/client-kubelet.key", "k").Write(DataDir+"/agent/server-ca.crt", "ca").Root
	cfg, err := restConfig(r, []byte(kubeletKubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSClientConfig.CertFile != r.Path(DataDir+"/agent/client-kubelet.crt") || cfg.TLSClientConfig.CAFile != r.Path(DataDir+"/agent/server-ca.crt") {
		t.Errorf("paths not taken under the root: %+v", cfg.TLSClientConfig)
	}
}

func TestBadJoinIsRefusedWithoutRepeatingTheToken(t *testing.T) {
	f, o := joinAs(t, "worker")
	o.Join.Server = "10.0.0.1:6443"
	o.Join.Token = "abc def"
	o.ClusterInit = true
	err := Provision(context.Background(), o, nil)
	for _, want := range []string{`join role "worker" is neither server nor agent`, `join URL "10.0.0.1:6443" is not a server's address: give https://host:6443`,
		"the join token is empty or has spaces", "a joining host cannot initialise a cluster of its own"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "abc def") {
		t.Error("the error repeats the token")
	}
	if f.tr.Root.Exists(ConfigPath) || len(f.rec.Commands()) != 0 {
		t.Error("something changed before the refusal")
	}
}

// The first server moves from SQLite to embedded etcd by restarting with cluster-init (k3s
// supports it: "start an existing standalone node with --cluster-init", k3s-io/k3s#4650 and
// docs.k3s.io/datastore/ha-embedded "Existing single-node clusters"). Once on etcd, later runs
// keep cluster-init without being told, so nothing restarts for nothing.
func TestConversionToEtcdRestartsOnceThenSticks(t *testing.T) {
	f := newFakeK3s(t).bundle()
	o := f.options()
	provision(t, o)
	f.tr.Write(SQLitePath, "sqlite")
	if DatastoreOf(f.tr.Root) != SQLite {
		t.Fatal("a SQLite server is not seen as such")
	}

	f.rec.Reset()
	o.ClusterInit = true
	o.Snapshots = &Snapshots{Schedule: "0 */6 * * *", Retention: 8, S3: true}
	out := provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service\nsystemctl restart k3s.service" {
		t.Errorf("conversion ran %q", got)
	}
	if !strings.Contains(out, "✔ Restarting k3s (config.yaml changed)") {
		t.Errorf("status:\n%s", out)
	}
	m := configOf(t, f.tr.Read(ConfigPath))
	for k, v := range map[string]any{"cluster-init": true, "etcd-snapshot-schedule-cron": "0 */6 * * *", "etcd-snapshot-retention": float64(8),
		"etcd-s3": true, "etcd-s3-config-secret": EtcdS3SecretName} {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
	// k3s moved the data into etcd.
	f.tr.Mkdir(EtcdDataDir + "/member")
	if DatastoreOf(f.tr.Root) != Etcd {
		t.Fatal("an etcd server is not seen as such")
	}
	// A later install that does not say ClusterInit changes nothing.
	f.rec.Reset()
	o.ClusterInit = false
	provision(t, o)
	if got := f.rec.Lines(); strings.Join(got, "\n") != "systemctl is-active k3s.service" {
		t.Errorf("a rerun without ClusterInit ran %q", got)
	}
}

func TestSnapshotsOnlyWhereEtcdRunsAndValidated(t *testing.T) {
	o := renderOptions()
	o.Snapshots = &Snapshots{Schedule: "0 */6 * * *", Retention: 5, S3: true}
	data, err := ConfigYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "etcd-") {
		t.Errorf("a SQLite server got etcd snapshot keys:\n%s", data)
	}
	bad := f0()
	bad.Snapshots = &Snapshots{Schedule: "every 6 hours", Retention: 0}
	err = bad.defaults()
	for _, want := range []string{`etcd snapshot schedule "every 6 hours" is not a five-field cron expression`, "retention 0 keeps nothing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func f0() Options {
	o := renderOptions()
	o.Root = host.Root(os.TempDir())
	o.Runner = &host.Recorder{}
	o.Arch = "amd64"
	o.ArtifactsDir = bundleDir
	return o
}

func TestEtcdS3SecretCarriesTheTargetAsK3sReadsIt(t *testing.T) {
	s, err := EtcdS3Secret(S3Target{Endpoint: "https://s3.example.org:9000", Region: "fr-par", Bucket: "backups", Prefix: "docs/", AccessKeyID: "AK", SecretAccessKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"etcd-s3-endpoint": "s3.example.org:9000", "etcd-s3-bucket": "backups", "etcd-s3-folder": "docs/etcd",
		"etcd-s3-region": "fr-par", "etcd-s3-access-key": "AK", "etcd-s3-secret-key": "SK", "etcd-s3-insecure": "false"}
	if s.Namespace != "kube-system" || s.Name != EtcdS3SecretName || len(s.StringData) != len(want) {
		t.Errorf("secret %s/%s %v", s.Namespace, s.Name, s.StringData)
	}
	for k, v := range want {
		if s.StringData[k] != v {
			t.Errorf("%s = %q, want %q", k, s.StringData[k], v)
		}
	}
	plain, err := EtcdS3Secret(S3Target{Endpoint: "http://objects.local", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"})
	if err != nil || plain.StringData["etcd-s3-insecure"] != "true" || plain.StringData["etcd-s3-folder"] != "etcd" {
		t.Errorf("plain HTTP target: %v %v", plain, err)
	}
	if _, err := EtcdS3Secret(S3Target{Endpoint: "s3.example.org", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"}); err == nil || !strings.Contains(err.Error(), "is not http(s)://host[:port]") {
		t.Errorf("endpoint without scheme: %v", err)
	}
}

// A joined host provisioned as a first server would lose server and token-file: refused.
func TestAJoinedHostIsNotProvisionedAsAFirstServer(t *testing.T) {
	f, o := joinAs(t, RoleServer)
	provision(t, o)
	o.Join = nil
	err := Provision(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "this host joined a cluster (/etc/rancher/k3s/join-token is there): run install and upgrade on the first server") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(f.tr.Read(ConfigPath), "token-file") {
		t.Error("config.yaml was rewritten")
	}
}
