package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// Options of a node. The zero value is a usable default.
type Options struct {
	// Name of the network namespace (and cgroup subtree); default "docs-e2e".
	Name string
	// APIPort is the host loopback port forwarded to the API server; 0 picks a free one.
	APIPort int
	// RunDir holds all state and is removed by Down; default $TMPDIR/docs-appliance-node-<Name>.
	RunDir string
	// Images are image tarballs, or folders of them, imported before the kubelet starts. The pause
	// image (images.Pause) must be among them.
	Images []string
	// DNS deploys CoreDNS from its image (which must be among Images): "1", "0", or "auto"
	// (deploy when the image was imported). Default "auto".
	DNS string
	// ScriptDir holds up.sh and down.sh; default <module>/e2e/node.
	ScriptDir string
	// Log receives the scripts' progress lines; default os.Stderr.
	Log io.Writer
	// Nodes is how many nodes the cluster has: the control plane's (the one Up always brings) and
	// Nodes-1 further ones (Workers), each a kubelet with its containerd and kube-proxy in a
	// network namespace of its own. 0 means 1.
	Nodes int
	// NodeMonitorGracePeriod is the controller-manager's --node-monitor-grace-period (how long a
	// silent node stays Ready); 0 keeps upstream's default.
	NodeMonitorGracePeriod time.Duration
}

// Node is a running cluster: its control plane's node, and the further nodes of Options.Nodes.
type Node struct {
	// Kubeconfig (0600) reaches the API server from the host as a cluster admin.
	Kubeconfig string
	// Config is the same, parsed.
	Config *rest.Config
	// Name is the network namespace; IP the node's address inside it.
	Name, IP string
	// RunDir holds the node's state and component logs (RunDir/logs).
	RunDir string
	// Took is how long Up took.
	Took time.Duration
	// Workers are the further nodes (Options.Nodes), in order: Workers[0] is node 2.
	Workers []*Worker

	opts Options
}

// EnvNodeName names the node (network namespace, cgroup, run folder) when Options.Name is empty.
const EnvNodeName = "DOCS_APPLIANCE_E2E_NODE"

// NodeIP is the node's address inside its namespace (params.sh NODE_IP).
const NodeIP = "10.240.0.1"

// Up brings a node up (after removing the leftovers of an earlier one of the same name). The kit
// must be built; a missing one is a *kit.MissingError.
func Up(ctx context.Context, opts Options) (*Node, error) {
	start := time.Now()
	if err := CheckKit(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		// Two engineers' e2e runs on one machine must not take each other's node down.
		opts.Name = os.Getenv(EnvNodeName)
	}
	if opts.Name == "" {
		opts.Name = "docs-e2e"
	}
	if opts.RunDir == "" {
		opts.RunDir = filepath.Join(os.TempDir(), "docs-appliance-node-"+opts.Name)
	}
	if opts.DNS == "" {
		opts.DNS = "auto"
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.ScriptDir == "" {
		dir, err := scriptDir()
		if err != nil {
			return nil, err
		}
		opts.ScriptDir = dir
	}
	if opts.APIPort == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		opts.APIPort = p
	}
	n := &Node{Name: opts.Name, IP: NodeIP, RunDir: opts.RunDir, opts: opts}
	if err := n.script(ctx, "up.sh"); err != nil {
		return nil, fmt.Errorf("bringing the e2e node up: %w", err)
	}
	if err := n.upWorkers(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("bringing the e2e cluster's further nodes up: %w", err), n.Down(context.WithoutCancel(ctx)))
	}
	n.Kubeconfig = filepath.Join(opts.RunDir, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("reading the node's kubeconfig: %w", err), n.Down(context.WithoutCancel(ctx)))
	}
	n.Config = cfg
	n.Took = time.Since(start)
	return n, nil
}

// CheckKit returns a *kit.MissingError when the node kit is not built.
func CheckKit() error {
	v, err := kit.Load()
	if err != nil {
		return err
	}
	d, err := v.Dirs()
	if err != nil {
		return err
	}
	if err := kit.CheckBinaries(d.Kube, "the node kit (Kubernetes)", "node-kit", kit.NodeBinaries...); err != nil {
		return err
	}
	return kit.CheckBinaries(d.Containerd, "the node kit (containerd)", "node-kit", kit.ContainerdBinaries...)
}

// Down stops everything the node runs and removes its state. It fails when something is left
// behind (a process, a mount, a namespace, a cgroup), naming it.
func (n *Node) Down(ctx context.Context) error {
	if err := n.script(ctx, "down.sh"); err != nil {
		return fmt.Errorf("taking the e2e node down: %w", err)
	}
	return nil
}

func (n *Node) env() []string {
	images := strings.Join(n.opts.Images, " ")
	env := append(os.Environ(),
		"NS="+n.opts.Name,
		"RUN="+n.opts.RunDir,
		"API_PORT="+strconv.Itoa(n.opts.APIPort),
		"IMAGES="+images,
		"DNS="+n.opts.DNS,
		"NODE_IP="+NodeIP,
	)
	if n.opts.Nodes > 1 {
		env = append(env, "CLUSTER_CIDR="+ClusterCIDR)
	}
	if g := n.opts.NodeMonitorGracePeriod; g > 0 {
		env = append(env, "NODE_MONITOR_GRACE="+g.String())
	}
	return env
}

func (n *Node) script(ctx context.Context, name string, args ...string) error {
	return n.scriptEnv(ctx, nil, name, args...)
}

// scriptEnv runs a script of ScriptDir with the node's parameters and extra ones.
func (n *Node) scriptEnv(ctx context.Context, extra []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(n.opts.ScriptDir, name)}, args...)...)
	cmd.Env = append(n.env(), extra...)
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(n.opts.Log, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s: %w\n%s", name, err, tail.String())
	}
	return nil
}

// Exec runs argv inside the node's network namespace (for curl to a ClusterIP, dig, ...) and
// returns its combined output.
func (n *Node) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return execIn(ctx, n.Name, argv...)
}

// execIn runs argv inside network namespace ns and returns its combined output.
func execIn(ctx context.Context, ns string, argv ...string) ([]byte, error) {
	args := append([]string{"--net=/run/netns/" + ns}, argv...)
	out, err := exec.CommandContext(ctx, "nsenter", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("running %s in namespace %s: %w\n%s", strings.Join(argv, " "), ns, err, out)
	}
	return out, nil
}

// ImportImages loads image tarballs into the node's containerd (namespace k8s.io), where pods
// find them by name, and names each tagged image by digest too (REPO@sha256:..., as a registry
// pull would), so the kubelet lists that name and pods pinned by digest run. A pod using a tag must
// not pull it: imagePullPolicy IfNotPresent with a tag other than latest, or Never.
// On a cluster of several nodes, every node gets them (a registry would serve them to all).
func (n *Node) ImportImages(ctx context.Context, tarballs ...string) error {
	if err := importImages(ctx, n.Name, n.RunDir, tarballs); err != nil {
		return err
	}
	for _, w := range n.Workers {
		if err := importImages(ctx, w.NS, w.RunDir, tarballs); err != nil {
			return fmt.Errorf("node %s: %w", w.Name, err)
		}
	}
	return nil
}

func importImages(ctx context.Context, ns, runDir string, tarballs []string) error {
	ctr, err := ctrArgv(runDir)
	if err != nil {
		return err
	}
	for _, t := range tarballs {
		if _, err := execIn(ctx, ns, append(ctr, "images", "import", "--platform", "linux/amd64", t)...); err != nil {
			return fmt.Errorf("importing image %s: %w", t, err)
		}
	}
	out, err := execIn(ctx, ns, append(ctr, "images", "ls")...)
	if err != nil {
		return fmt.Errorf("listing the node's images: %w", err)
	}
	for _, p := range digestNames(string(out)) {
		if _, err := execIn(ctx, ns, append(ctr, "images", "tag", "--force", p[0], p[1])...); err != nil {
			return fmt.Errorf("naming %s by digest: %w", p[0], err)
		}
	}
	return nil
}

// ctrArgv is the argv prefix of ctr talking to the containerd of the node whose state is runDir.
func ctrArgv(runDir string) ([]string, error) {
	v, err := kit.Load()
	if err != nil {
		return nil, err
	}
	d, err := v.Dirs()
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(d.Containerd, "ctr"), "-a", filepath.Join(runDir, "containerd", "containerd.sock"), "-n", "k8s.io"}, nil
}

// digestNames reads `ctr images ls` (REF TYPE DIGEST ...) and returns, for each tagged reference,
// the pair {REPO:TAG, REPO@DIGEST}. Lines other than ctr's table (its cgroup v1 warnings) are
// skipped.
func digestNames(ls string) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(ls, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[2], "sha256:") || strings.Contains(f[0], "@") || strings.HasPrefix(f[0], "sha256:") {
			continue
		}
		i := strings.LastIndex(f[0], ":")
		if i < 0 || strings.Contains(f[0][i:], "/") {
			continue // no tag
		}
		out = append(out, [2]string{f[0], f[0][:i] + "@" + f[2]})
	}
	return out
}

// WriteLogTails writes the last lines of every component's log (for a failed run).
func (n *Node) WriteLogTails(w io.Writer, lines int) {
	files, _ := filepath.Glob(filepath.Join(n.RunDir, "logs", "*.log"))
	sort.Strings(files)
	for _, w := range n.Workers {
		more, _ := filepath.Glob(filepath.Join(w.RunDir, "logs", "*.log"))
		sort.Strings(more)
		files = append(files, more...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		fmt.Fprintf(w, "--- %s (last %d lines)\n%s\n", f, len(all), strings.Join(all, "\n"))
	}
}

// MemoryRSS sums the resident memory of every process of the node: the components (their command
// lines name RunDir), the containerd shims, the API forwarder, and the pods' processes (in the
// node's cgroups).
func (n *Node) MemoryRSS() (uint64, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	var total uint64
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		cgroup, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		// Further nodes' state is under RunDir, their namespaces and cgroups are Name-n<i>.
		ours := bytes.Contains(cmdline, []byte(n.RunDir+"/")) ||
			bytes.Contains(cmdline, []byte("/run/netns/"+n.Name)) ||
			bytes.Contains(cgroup, []byte(":/"+n.Name+"/")) || bytes.Contains(cgroup, []byte(":/"+n.Name+"-n"))
		if !ours {
			continue
		}
		total += rss(filepath.Join("/proc", p.Name(), "status"))
	}
	return total, nil
}

func rss(statusFile string) uint64 {
	f, err := os.Open(statusFile)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func scriptDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root with go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("finding the node scripts: not inside the docs-appliance module")
	}
	return filepath.Join(filepath.Dir(gomod), "e2e", "node"), nil
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
