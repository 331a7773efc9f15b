package reset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Kept are the entries of the state folder a reset keeps unless purged: the age key that
// decrypts the desired state's secrets, and the backups.
var Kept = []string{"age.key", "backups"}

// Units are the k3s units the appliance may have installed (server, and agent for joined nodes).
var Units = []string{k3s.Unit, "k3s-agent.service"}

// MountPrefixes are the folders whose mounts belong to k3s and its pods (host paths).
var MountPrefixes = []string{k3s.RunDir, k3s.DataDir, "/var/lib/kubelet/pods", "/var/lib/kubelet/plugins", "/run/netns/cni-"}

// Interfaces are the network interfaces k3s's flannel and kube-proxy create.
var Interfaces = []string{"cni0", "flannel.1", "flannel-v6.1", "flannel-wg", "flannel-wg-v6", "kube-ipvs0"}

// Paths are k3s's files and folders, removed after everything is stopped and unmounted. The
// unit file comes last: while it exists, a rerun knows k3s was the appliance's.
var Paths = []string{
	k3s.BinaryPath, k3s.ConfigDir, k3s.NodeDir, k3s.DataDir, "/var/lib/kubelet", k3s.RunDir, "/run/flannel",
	"/var/lib/cni", "/var/log/pods", "/var/log/containers", k3s.EnvPath,
	host.EnabledLink(k3s.Unit), host.EnabledLink("k3s-agent.service"), host.UnitPath("k3s-agent.service"), k3s.UnitPath,
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
	// Purge removes the backups and the age key too.
	Purge bool
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
	State      []string            // host paths in the state folder
	Kept       []string            // host paths kept in the state folder
}

// Empty reports whether there is nothing to reset.
func (p *Plan) Empty() bool {
	return len(p.Units)+len(p.Processes)+len(p.Mounts)+len(p.Netns)+len(p.Interfaces)+len(p.Files)+len(p.State)+p.ruleCount() == 0
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
	if len(p.Files) > 0 {
		item("remove %s", strings.Join(p.Files, ", "))
	}
	if len(p.State) > 0 {
		item("remove the appliance state: %s", strings.Join(p.State, ", "))
	}
	if len(p.Kept) > 0 {
		item("keep %s (use --purge to remove them too)", strings.Join(p.Kept, ", "))
	}
	if p.ForeignK3s {
		item("leave alone the k3s on this host: docs-appliance did not install it")
	}
	return b.String()
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
	entries, err := r.ReadDir(o.StateDir)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("listing the state folder %s: %w", o.StateDir, err)
	}
	for _, e := range entries {
		full := path.Join(o.StateDir, e.Name())
		if !o.Purge && slices.Contains(Kept, e.Name()) {
			p.Kept = append(p.Kept, full)
			continue
		}
		p.State = append(p.State, full)
	}
	if o.Purge && len(entries) == 0 && r.Exists(o.StateDir) {
		p.State = append(p.State, o.StateDir)
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

// ErrNotConfirmed is returned when the operator declines, or cannot be asked.
var ErrNotConfirmed = errors.New("reset not confirmed")

// Run resets the host: it plans, asks for confirmation unless Yes, and carries the plan out,
// one status line per step. With nothing to reset it says so and changes nothing.
func Run(ctx context.Context, o Options, st *status.Status) (*Plan, error) {
	if st == nil {
		st = status.Discard()
	}
	p, err := MakePlan(ctx, o)
	if err != nil {
		return nil, err
	}
	_ = o.defaults()
	if p.ForeignK3s {
		st.Warn("a k3s not installed by docs-appliance is on this host: reset leaves it alone")
	}
	if p.Empty() {
		msg := "nothing to reset: no k3s of this appliance and no appliance state on this host"
		if len(p.Kept) > 0 {
			msg += " (kept: " + strings.Join(p.Kept, ", ") + "; --purge removes them)"
		}
		st.Info("%s", msg)
		return p, nil
	}
	if !o.Yes {
		if o.Prompt == nil {
			return p, fmt.Errorf("%w: reset removes k3s and the appliance state, and stdin is not a terminal to ask; run again with --yes to confirm:\n%s", ErrNotConfirmed, p.Text())
		}
		ok, err := o.Prompt.Confirm("Reset will:\n" + p.Text() + "Continue?")
		if err != nil {
			return p, fmt.Errorf("asking for confirmation: %w", err)
		}
		if !ok {
			return p, fmt.Errorf("%w: nothing was changed", ErrNotConfirmed)
		}
	}
	x := &executor{o: o, p: p, st: st}
	for _, s := range []struct {
		name string
		todo bool
		run  func(context.Context) error
	}{
		{"Stopping " + strings.Join(p.Units, ", "), len(p.Units) > 0, x.stopUnits},
		{fmt.Sprintf("Killing %d k3s and pod process(es)", len(p.Processes)), len(p.Processes) > 0, x.killProcesses},
		{fmt.Sprintf("Unmounting %d filesystem(s)", len(p.Mounts)), len(p.Mounts) > 0, x.unmount},
		{"Removing k3s's network interfaces and namespaces", len(p.Interfaces)+len(p.Netns) > 0, x.removeNetwork},
		{"Removing k3s's iptables rules", p.ruleCount() > 0, x.removeRules},
		{"Removing k3s's files", len(p.Files) > 0, x.removeFiles},
		{"Removing the appliance state", len(p.State) > 0, x.removeState},
	} {
		if !s.todo {
			continue
		}
		st.Start(s.name)
		if err := st.End(s.run(ctx)); err != nil {
			return p, err
		}
	}
	summary := "reset done"
	if len(p.Kept) > 0 {
		summary += "; kept " + strings.Join(p.Kept, ", ")
	}
	st.Info("%s", summary)
	return p, nil
}

type executor struct {
	o  Options
	p  *Plan
	st *status.Status
}

func (x *executor) run(ctx context.Context, argv ...string) error {
	_, err := x.o.Runner.Run(ctx, host.Command(argv...))
	return err
}

func (x *executor) stopUnits(ctx context.Context) error {
	sd := host.Systemd{Runner: x.o.Runner, Root: x.o.Root}
	for _, u := range x.p.Units {
		if err := sd.DisableNow(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) killProcesses(ctx context.Context) error {
	argv := []string{"kill", "-KILL"}
	for _, p := range x.p.Processes {
		argv = append(argv, strconv.Itoa(p.PID))
	}
	if err := x.run(ctx, argv...); err != nil {
		// Some may have exited between the look and the kill; what is left is checked below.
		x.st.Warn("kill reported: %v", err)
	}
	deadline := time.Now().Add(x.o.KillWait)
	for {
		left, err := k3sProcesses(x.o.Root)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, p := range left {
				names = append(names, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
			}
			return fmt.Errorf("killing k3s's processes: still running after %s: %s", x.o.KillWait, strings.Join(names, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (x *executor) unmount(ctx context.Context) error {
	for _, m := range x.p.Mounts {
		if err := x.run(ctx, "umount", m); err != nil {
			// A busy mount is detached now and freed when its last user goes.
			if err2 := x.run(ctx, "umount", "--lazy", m); err2 != nil {
				return fmt.Errorf("unmounting %s: %w", m, err2)
			}
			x.st.Warn("%s was busy: detached it lazily", m)
		}
	}
	left, err := k3sMounts(x.o.Root)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("unmounting k3s's filesystems: still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

func (x *executor) removeNetwork(ctx context.Context) error {
	for _, ns := range x.p.Netns {
		if err := x.run(ctx, "ip", "netns", "delete", ns); err != nil {
			return fmt.Errorf("deleting network namespace %s: %w", ns, err)
		}
	}
	for _, i := range x.p.Interfaces {
		if err := x.run(ctx, "ip", "link", "delete", i); err != nil {
			return fmt.Errorf("deleting network interface %s: %w", i, err)
		}
	}
	return nil
}

func (x *executor) removeRules(ctx context.Context) error {
	progs := make([]string, 0, len(x.p.Rules))
	for prog := range x.p.Rules {
		progs = append(progs, prog)
	}
	sort.Strings(progs)
	for _, prog := range progs {
		// Read again: the rules may have changed since the plan (k3s was running then).
		out, err := x.o.Runner.Run(ctx, host.Command(prog+"-save"))
		if err != nil {
			return fmt.Errorf("listing %s rules: %w", prog, err)
		}
		var kept bytes.Buffer
		removed := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if isK3sRule(sc.Text()) {
				removed++
				continue
			}
			kept.WriteString(sc.Text() + "\n")
		}
		if removed == 0 {
			continue
		}
		if _, err := x.o.Runner.Run(ctx, host.Command(prog+"-restore").WithStdin(kept.Bytes())); err != nil {
			return fmt.Errorf("restoring %s rules without k3s's: %w", prog, err)
		}
	}
	return nil
}

func (x *executor) removeFiles(ctx context.Context) error {
	// Removing a folder with a mount below it would delete the mounted filesystem's files
	// (a volume's data): check again that nothing is mounted there.
	mounts, err := x.o.Root.Mounts()
	if err != nil {
		return err
	}
	for _, f := range x.p.Files {
		full := x.o.Root.Path(f)
		for _, m := range mounts {
			if m.MountPoint == full || strings.HasPrefix(m.MountPoint, full+"/") {
				return fmt.Errorf("removing %s: %s is still mounted below it; unmount it first", f, m.MountPoint)
			}
		}
	}
	for _, f := range x.p.Files {
		if err := x.o.Root.RemoveAll(f); err != nil {
			return err
		}
	}
	// /var/lib/rancher and /etc/rancher are k3s's parents; remove them only when empty.
	for _, d := range []string{filepath.Dir(k3s.DataDir), filepath.Dir(k3s.ConfigDir)} {
		_ = os.Remove(x.o.Root.Path(d))
	}
	sd := host.Systemd{Runner: x.o.Runner, Root: x.o.Root}
	if err := sd.DaemonReload(ctx); err != nil {
		return err
	}
	for _, u := range x.p.Units {
		if err := sd.ResetFailed(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) removeState(context.Context) error {
	for _, f := range x.p.State {
		if err := x.o.Root.RemoveAll(f); err != nil {
			return err
		}
	}
	if x.o.Purge {
		return x.o.Root.RemoveAll(x.o.StateDir)
	}
	return nil
}

// TerminalPrompter asks on a terminal, reading the answer from in; it returns nil when in is
// not a terminal, so that Run refuses instead of reading a pipe.
func TerminalPrompter(in *os.File, out io.Writer) Prompter {
	if !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	return &LinePrompter{In: in, Out: out}
}

// LinePrompter asks a yes/no question and reads one line; only "y" or "yes" confirm.
type LinePrompter struct {
	In  io.Reader
	Out io.Writer
}

// Confirm asks question and reads the answer.
func (l *LinePrompter) Confirm(question string) (bool, error) {
	fmt.Fprintf(l.Out, "%s [y/N] ", question)
	line, err := bufio.NewReader(l.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
