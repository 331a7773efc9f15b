package reset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
)

// Units are the k3s units the appliance may have installed (server, and agent for joined nodes).
var Units = []string{k3s.Unit, k3s.AgentUnit}

// MountPrefixes are the folders whose mounts belong to k3s and its pods (host paths).
var MountPrefixes = []string{k3s.RunDir, k3s.DataDir, "/var/lib/kubelet/pods", "/var/lib/kubelet/plugins", "/run/netns/cni-"}

// Interfaces are the network interfaces k3s's flannel and kube-proxy create.
var Interfaces = []string{"cni0", "flannel.1", "flannel-v6.1", "flannel-wg", "flannel-wg-v6", "kube-ipvs0"}

// Paths are k3s's files and folders, removed after everything is stopped and unmounted. The
// unit file comes last: while it exists, a rerun knows k3s was the appliance's.
var Paths = []string{
	k3s.BinaryPath, k3s.ConfigDir, k3s.NodeDir, k3s.DataDir, "/var/lib/kubelet", k3s.RunDir, "/run/flannel",
	"/var/lib/cni", "/var/log/pods", "/var/log/containers", k3s.EnvPath, k3s.AgentEnvPath,
	host.EnabledLink(k3s.Unit), host.EnabledLink(k3s.AgentUnit), k3s.AgentUnitPath, k3s.UnitPath,
}

// Prompter asks the operator to confirm.
type Prompter interface {
	Confirm(question string) (bool, error)
}

// Options say what to reset.
type Options struct {
	Root   host.Root
	Runner host.Runner
	// StateDir is the appliance's state folder (host path).
	StateDir string
	// Purge removes the age key and the volumes too: the whole state folder, but for the
	// embedded object store's backups volume.
	Purge bool
	// DeleteBackups, with Purge, deletes the backups volume too (and backups an older
	// appliance kept in the object store's data volume).
	DeleteBackups bool
	// Yes confirms without asking.
	Yes bool
	// Prompt asks when Yes is not set; nil (no terminal) makes Run refuse.
	Prompt Prompter
	// KillWait bounds the wait for killed processes to be gone; 10 seconds when zero.
	KillWait time.Duration
}

// Plan is what a reset would do, gathered from the host.
type Plan struct {
	// K3sOurs: k3s is here and the appliance installed it; its removal is planned.
	K3sOurs bool
	// ForeignK3s: a k3s the appliance did not install is here; it is left alone.
	ForeignK3s bool
	Units      []string
	Processes  []host.Process
	Mounts     []string // real mount points, deepest first
	Netns      []string
	Interfaces []string
	Rules      map[string][]string // iptables-save program → the k3s rules it lists
	Files      []string            // host paths
	// MoveVolumes are volumes in k3s's data folder (host paths), moved to VolumesTo, the state
	// folder's volumes, before that folder is removed.
	MoveVolumes []string
	VolumesTo   string
	State       []string // host paths in the state folder
	Kept        []string // host paths kept in the state folder
	// KeptBackups: a purge keeps the backups volume(s) in Kept (no DeleteBackups).
	KeptBackups bool
}

// Empty reports whether there is nothing to reset.
func (p *Plan) Empty() bool {
	return len(p.Units)+len(p.Processes)+len(p.Mounts)+len(p.Netns)+len(p.Interfaces)+len(p.Files)+len(p.MoveVolumes)+len(p.State)+p.ruleCount() == 0
}

func (p *Plan) ruleCount() int {
	n := 0
	for _, r := range p.Rules {
		n += len(r)
	}
	return n
}

// Text says what the reset will do, for the confirmation.
func (p *Plan) Text() string {
	var b strings.Builder
	item := func(format string, a ...any) { fmt.Fprintf(&b, "  - "+format+"\n", a...) }
	if len(p.Units) > 0 {
		item("stop and disable %s", strings.Join(p.Units, ", "))
	}
	if len(p.Processes) > 0 {
		item("kill %d k3s and pod process(es)", len(p.Processes))
	}
	if len(p.Mounts) > 0 {
		item("unmount %d filesystem(s) under %s", len(p.Mounts), strings.Join(MountPrefixes[:4], ", "))
	}
	if len(p.Netns) > 0 {
		item("delete %d pod network namespace(s)", len(p.Netns))
	}
	if len(p.Interfaces) > 0 {
		item("delete network interface(s) %s", strings.Join(p.Interfaces, ", "))
	}
	if n := p.ruleCount(); n > 0 {
		item("delete %d iptables rule(s) k3s made", n)
	}
	if len(p.MoveVolumes) > 0 {
		item("move the %d volume(s) in %s to %s, to keep them", len(p.MoveVolumes), k3s.LegacyVolumesDir, p.VolumesTo)
	}
	if len(p.Files) > 0 {
		item("remove %s", strings.Join(p.Files, ", "))
	}
	if len(p.State) > 0 {
		item("remove the appliance state: %s", strings.Join(p.State, ", "))
	}
	if len(p.Kept) > 0 {
		item("keep %s (%s)", keptText(p.Kept), p.keptHint())
	}
	if p.ForeignK3s {
		item("leave alone the k3s on this host: docs-appliance did not install it")
	}
	return b.String()
}

// keptHint says which flags remove what the reset keeps.
func (p *Plan) keptHint() string {
	if p.KeptBackups {
		return "backups are never deleted by default: --purge --delete-backups deletes them too"
	}
	return "--purge removes them too, but for the backups volume, which also needs --delete-backups"
}

func (o *Options) defaults() error {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Runner == nil {
		return errors.New("reset: no command runner given")
	}
	if o.StateDir == "" || !path.IsAbs(o.StateDir) || path.Clean(o.StateDir) == "/" {
		return fmt.Errorf("reset: the state folder %q must be an absolute path other than / (--state-dir)", o.StateDir)
	}
	if o.DeleteBackups && !o.Purge {
		return errors.New("reset: --delete-backups deletes the backups volume as part of a purge: give it with --purge, or leave it out to keep every volume")
	}
	if o.KillWait == 0 {
		o.KillWait = 10 * time.Second
	}
	return nil
}

// MakePlan gathers what a reset would do. It changes nothing; it runs iptables-save (a read)
// when the appliance's k3s is on the host.
func MakePlan(ctx context.Context, o Options) (*Plan, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := o.Root
	p := &Plan{Rules: map[string][]string{}}
	own := k3s.Owner(r)
	p.K3sOurs, p.ForeignK3s = own.Ours, own.Present && !own.Ours
	if p.K3sOurs {
		for _, u := range Units {
			if r.Exists(host.UnitPath(u)) {
				p.Units = append(p.Units, u)
			}
		}
		var err error
		if p.Processes, err = k3sProcesses(r); err != nil {
			return nil, err
		}
		if p.Mounts, err = k3sMounts(r); err != nil {
			return nil, err
		}
		if entries, err := r.ReadDir("/run/netns"); err == nil {
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "cni-") {
					p.Netns = append(p.Netns, e.Name())
				}
			}
		}
		ifaces, err := r.NetInterfaces()
		if err != nil {
			return nil, err
		}
		for _, i := range Interfaces {
			if slices.Contains(ifaces, i) {
				p.Interfaces = append(p.Interfaces, i)
			}
		}
		for _, prog := range []string{"iptables", "ip6tables"} {
			rules, err := k3sRules(ctx, o.Runner, prog)
			if err != nil {
				return nil, err
			}
			if len(rules) > 0 {
				p.Rules[prog] = rules
			}
		}
		for _, f := range k3s.Tools {
			// Only our links to k3s: a kubectl of the operator's stays.
			if target, err := r.Readlink(f); err == nil && target == k3s.BinaryPath {
				p.Files = append(p.Files, f)
			}
		}
		for _, f := range Paths {
			if r.Exists(f) {
				p.Files = append(p.Files, f)
			}
		}
	}
	if err := planState(r, o, p); err != nil {
		return nil, err
	}
	if p.K3sOurs {
		if err := planLegacyVolumes(r, o, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// k3sProcesses lists k3s's processes and every descendant of them: the pods' processes under
// the containerd shims, which outlive k3s by design (KillMode=process).
func k3sProcesses(r host.Root) ([]host.Process, error) {
	procs, err := r.Processes()
	if err != nil {
		return nil, err
	}
	children := map[int][]host.Process{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p)
	}
	seen := map[int]bool{1: true} // never init, whatever its ancestry claims
	if r == "/" {
		seen[os.Getpid()] = true // nor ourselves
	}
	var out []host.Process
	var walk func(p host.Process)
	walk = func(p host.Process) {
		if seen[p.PID] || p.PID <= 0 {
			return
		}
		seen[p.PID] = true
		out = append(out, p)
		for _, c := range children[p.PID] {
			walk(c)
		}
	}
	for _, p := range procs {
		if k3s.IsK3sProcess(p) {
			walk(p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// k3sMounts lists the mount points under k3s's folders, deepest first so that a mount is
// unmounted before the one it sits on.
func k3sMounts(r host.Root) ([]string, error) {
	mounts, err := r.Mounts()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, m := range mounts {
		for _, prefix := range MountPrefixes {
			full := r.Path(prefix)
			// "/run/netns/cni-" is a name prefix; the others are folders.
			if m.MountPoint == full || strings.HasPrefix(m.MountPoint, strings.TrimSuffix(full, "/")+"/") ||
				(strings.HasSuffix(prefix, "-") && strings.HasPrefix(m.MountPoint, full)) {
				if !seen[m.MountPoint] {
					seen[m.MountPoint] = true
					out = append(out, m.MountPoint)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := strings.Count(out[i], "/"), strings.Count(out[j], "/")
		if di != dj {
			return di > dj
		}
		return out[i] > out[j]
	})
	return out, nil
}

// isK3sRule tells the rules k3s's kube-proxy, flannel, network policy controller and CNI
// portmap made: every chain they create is named KUBE-*, CNI-* or FLANNEL-*, and their jumps
// and comments say so.
func isK3sRule(line string) bool {
	if strings.HasPrefix(line, "*") || line == "COMMIT" || strings.HasPrefix(line, "#") {
		return false
	}
	l := strings.ToLower(line)
	return strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") || strings.Contains(l, "flannel")
}

// k3sRules returns the k3s rule lines prog-save lists; a host without the program has none.
func k3sRules(ctx context.Context, run host.Runner, prog string) ([]string, error) {
	out, err := run.Run(ctx, host.Command(prog+"-save"))
	if err != nil {
		if errors.Is(err, host.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %s rules: %w", prog, err)
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if isK3sRule(line) {
			rules = append(rules, line)
		}
	}
	return rules, nil
}
