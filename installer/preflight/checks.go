package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Check is one preflight check kept as data.
type Check struct {
	// ID names the check in reports and in --ignore-preflight.
	ID string `json:"id"`
	// Severity is what a failure of the check means; some findings of a Fail check are only
	// warnings (e.g. Docker installed beside k3s).
	Severity Severity `json:"severity"`
	// What the check wants of the host.
	What string `json:"what"`
	// Fix is the general way to make it pass; a finding may give a more precise one.
	Fix string `json:"fix"`
	run func(ctx context.Context, e *env) finding
}

// finding is what a check's function found.
type finding struct {
	ok     bool
	warn   bool // not ok, but only worth a warning whatever the check's severity
	detail string
	fix    string // replaces the check's Fix when set
}

func pass(format string, a ...any) finding {
	return finding{ok: true, detail: fmt.Sprintf(format, a...)}
}
func fail(format string, a ...any) finding { return finding{detail: fmt.Sprintf(format, a...)} }
func warnf(format string, a ...any) finding {
	return finding{warn: true, detail: fmt.Sprintf(format, a...)}
}

// broken reports a check that could not read what it needed: a failure, saying what went wrong.
func broken(doing string, err error) finding {
	return finding{detail: fmt.Sprintf("%s: %v", doing, err), fix: "make the file readable, or run preflight as root"}
}

func (f finding) withFix(fix string) finding {
	f.fix = fix
	return f
}

func (c Check) evaluate(f finding) Result {
	r := Result{ID: c.ID, Severity: c.Severity, What: c.What, Detail: f.detail}
	switch {
	case f.ok:
		r.Outcome = Passed
	case f.warn || c.Severity == Warn:
		r.Outcome = Warned
	default:
		r.Outcome = Failed
	}
	if r.Outcome != Passed {
		r.Fix = c.Fix
		if f.fix != "" {
			r.Fix = f.fix
		}
	}
	return r
}

// HostChecks returns the host checks in the order they run.
func HostChecks() []Check {
	return []Check{
		{ID: "root", Severity: Fail, What: "runs as root", run: checkRoot,
			Fix: "run docs-appliance as root (sudo docs-appliance ...): k3s and its service are installed system-wide"},
		{ID: "os-arch", Severity: Fail, What: "Linux on an architecture the release train ships k3s for", run: checkOSArch,
			Fix: "use a Linux server on amd64 or arm64"},
		{ID: "cpu", Severity: Fail, What: "enough CPUs for the profile", run: checkCPU,
			Fix: "give the server more CPUs, or choose a smaller profile (--profile single-small)"},
		{ID: "memory", Severity: Fail, What: "enough memory for the profile", run: checkMemory,
			Fix: "give the server more memory, or choose a smaller profile (--profile single-small)"},
		{ID: "disk-k3s", Severity: Fail, What: "free disk for k3s data (" + filepath.Dir(k3s.DataDir) + ")", run: checkDiskK3s,
			Fix: "free space on the filesystem holding /var/lib/rancher, or mount a larger disk there"},
		{ID: "disk-bundle", Severity: Fail, What: "free disk for the air-gap bundle: twice its size where it is imported", run: checkDiskBundle,
			Fix: "free space where the bundle is imported, or point --state-dir at a larger filesystem"},
		{ID: "ports", Severity: Fail, What: "ports 80, 443, 6443 and 10250 free", run: checkPorts,
			Fix: "stop the program holding the port (ss -ltnp shows it), or move it to another port"},
		{ID: "default-route", Severity: Fail, What: "a default route (k3s will not start without one, even air-gapped)", run: checkDefaultRoute,
			Fix: "add a default route, even one leading nowhere on an isolated network: ip route add default via <gateway> (or dev <interface>), and make it permanent in the network configuration"},
		{ID: "clock", Severity: Warn, What: "the clock is synchronised (certificates and etcd need agreeing clocks)", run: checkClock,
			Fix: "enable time synchronisation: timedatectl set-ntp true, or configure chrony with a time server the site reaches"},
		{ID: "cgroups", Severity: Fail, What: "control groups mounted with the cpu, memory and pids controllers", run: checkCgroups,
			Fix: "boot a kernel with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and the memory controller enabled (cgroup_enable=memory)"},
		{ID: "overlayfs", Severity: Fail, What: "the overlay filesystem (containerd's snapshotter)", run: checkOverlay,
			Fix: "install the kernel's overlay module (modprobe overlay), e.g. the linux-modules-extra package"},
		{ID: "netfilter", Severity: Fail, What: "bridge netfilter (br_netfilter) and IP forwarding for pod traffic", run: checkNetfilter,
			Fix: "modprobe br_netfilter and echo br_netfilter > /etc/modules-load.d/k3s.conf; sysctl -w net.ipv4.ip_forward=1 and keep it in /etc/sysctl.d/"},
		{ID: "swap", Severity: Warn, What: "no swap (the kubelet's memory accounting assumes none)", run: checkSwap,
			Fix: "swapoff -a, and remove the swap lines from /etc/fstab"},
		{ID: "other-runtime", Severity: Fail, What: "no other Kubernetes or container runtime in the way", run: checkOtherRuntime,
			Fix: "uninstall the other Kubernetes, or install onto it with --kubeconfig instead of provisioning k3s"},
		{ID: "hostname", Severity: Fail, What: "the host name is a valid Kubernetes node name (RFC 1123, lowercase)", run: checkHostname,
			Fix: "set a lowercase name of letters, digits, '-' and '.': hostnamectl set-hostname <name>"},
		{ID: "cidr-overlap", Severity: Fail, What: "the pod and service address ranges do not overlap the host's networks", run: checkCIDRs,
			Fix: "choose pod and service ranges the site does not use"},
		{ID: "domain-dns", Severity: Fail, What: "the domain(s) resolve", run: checkDNS,
			Fix: "create a DNS A/AAAA record for each domain pointing at this server"},
	}
}

func checkRoot(_ context.Context, e *env) finding {
	if uid := e.Euid(); uid != 0 {
		return fail("running as user id %d", uid)
	}
	return pass("running as root")
}

func checkOSArch(_ context.Context, e *env) finding {
	arches := []string{"amd64", "arm64"}
	if e.Train != nil {
		arches = arches[:0]
		for a := range e.Train.K3s.Artifacts {
			arches = append(arches, a)
		}
		sort.Strings(arches)
	}
	desc := e.GOOS + "/" + e.GOARCH
	if osr, err := e.Root.OSRelease(); err == nil && osr["PRETTY_NAME"] != "" {
		desc = osr["PRETTY_NAME"] + ", " + e.GOARCH
	}
	if rel, err := e.Root.KernelRelease(); err == nil {
		desc += ", kernel " + rel
	}
	if e.GOOS != "linux" {
		return fail("%s is not Linux", desc)
	}
	if !slices.Contains(arches, e.GOARCH) {
		return fail("%s: the release train ships k3s for %s only", desc, strings.Join(arches, ", ")).
			withFix("use a server of architecture " + strings.Join(arches, " or "))
	}
	return pass("%s", desc)
}

func checkCPU(_ context.Context, e *env) finding {
	n, err := e.Root.CPUCount()
	if err != nil {
		return broken("counting CPUs", err)
	}
	if n < e.Profile.Host.MinCPU {
		return fail("%d CPUs, the %s profile needs %d", n, e.Profile.Name, e.Profile.Host.MinCPU).withFix(sizingFix(e, "CPUs"))
	}
	return pass("%d CPUs (the %s profile needs %d)", n, e.Profile.Name, e.Profile.Host.MinCPU)
}

// sizingFix offers a smaller profile only when there is one.
func sizingFix(e *env, what string) string {
	if e.Profile.Name == "single-small" {
		return "give the server more " + what + ": single-small is the smallest profile"
	}
	return "give the server more " + what + ", or choose a smaller profile (--profile single-small)"
}

// memorySlack accepts a machine sold with the profile's memory: the kernel keeps part of it for
// itself, so an 8 GiB machine reports about 7.7 GiB in MemTotal.
const memorySlack = 0.9

const gib = 1 << 30

func checkMemory(_ context.Context, e *env) finding {
	total, err := e.Root.MemTotal()
	if err != nil {
		return broken("reading memory", err)
	}
	need := e.Profile.Host.MinMemoryGiB
	if float64(total) < float64(need)*gib*memorySlack {
		return fail("%s of memory, the %s profile needs %d GiB", status.HumanBytes(int64(total)), e.Profile.Name, need).withFix(sizingFix(e, "memory"))
	}
	return pass("%s of memory (the %s profile needs %d GiB)", status.HumanBytes(int64(total)), e.Profile.Name, need)
}

func checkDiskK3s(_ context.Context, e *env) finding {
	ds, err := e.Root.FreeSpace(k3s.DataDir)
	if err != nil {
		return broken("measuring free disk", err)
	}
	need := uint64(e.Profile.Host.MinDiskGiB) * gib
	where := fmt.Sprintf("%s free at %s", status.HumanBytes(int64(ds.Free)), ds.Measured)
	if ds.Free < need {
		return fail("%s, the %s profile needs %d GiB", where, e.Profile.Name, e.Profile.Host.MinDiskGiB)
	}
	return pass("%s (the %s profile needs %d GiB)", where, e.Profile.Name, e.Profile.Host.MinDiskGiB)
}

func checkDiskBundle(_ context.Context, e *env) finding {
	if e.BundlePath == "" {
		return pass("no bundle: the images are pulled from their registries")
	}
	st, err := e.Root.Lstat(e.BundlePath)
	if err != nil {
		return fail("reading the bundle %s: %v", e.BundlePath, err).withFix("pass the path of the bundle file made by `docs-appliance airgap build`")
	}
	size := uint64(st.Size())
	ds, err := e.Root.FreeSpace(e.BundleDir)
	if err != nil {
		return broken("measuring free disk", err)
	}
	need := 2 * size
	detail := fmt.Sprintf("%s free at %s for a bundle of %s (needs twice its size, %s)",
		status.HumanBytes(int64(ds.Free)), ds.Measured, status.HumanBytes(int64(size)), status.HumanBytes(int64(need)))
	// When the bundle lands on the filesystem of k3s data, both must fit at once.
	if k, err := e.Root.FreeSpace(k3s.DataDir); err == nil && k.Device == ds.Device {
		need += uint64(e.Profile.Host.MinDiskGiB) * gib
		detail = fmt.Sprintf("%s free at %s, shared with k3s data: needs twice the bundle (%s) plus the profile's %d GiB",
			status.HumanBytes(int64(ds.Free)), ds.Measured, status.HumanBytes(int64(2*size)), e.Profile.Host.MinDiskGiB)
	}
	if ds.Free < need {
		return fail("%s", detail)
	}
	return pass("%s", detail)
}

func checkPorts(_ context.Context, e *env) finding {
	listeners, err := e.Root.Listeners()
	if err != nil {
		return broken("listing listening sockets", err)
	}
	procs, _ := e.processes()
	owners := e.Root.SocketOwners(procs)
	var busy, unknownPerm []string
	var ours []int
	for _, port := range e.Ports {
		var holder *host.Process
		listed := false
		for _, l := range listeners {
			if int(l.Addr.Port()) == port {
				listed = true
				if p, ok := owners[l.Inode]; ok {
					holder = &p
					break
				}
			}
		}
		probeErr := probePort(e.PortProbeHost, port)
		if probeErr == nil && !listed {
			continue
		}
		if errors.Is(probeErr, syscall.EACCES) && !listed {
			unknownPerm = append(unknownPerm, strconv.Itoa(port))
			continue
		}
		switch {
		case holder != nil && e.k3s.Ours && k3s.IsK3sProcess(*holder):
			ours = append(ours, port)
		case holder != nil:
			busy = append(busy, fmt.Sprintf("%d (held by %s, pid %d)", port, holder.Comm, holder.PID))
		default:
			busy = append(busy, fmt.Sprintf("%d (held by a process this check cannot name)", port))
		}
	}
	if len(busy) > 0 {
		return fail("port(s) in use: %s", strings.Join(busy, "; "))
	}
	if len(unknownPerm) > 0 {
		return warnf("cannot probe port(s) %s without root", strings.Join(unknownPerm, ", ")).withFix("run preflight as root")
	}
	ports := make([]string, len(e.Ports))
	for i, p := range e.Ports {
		ports[i] = strconv.Itoa(p)
	}
	if len(ours) > 0 {
		return pass("ports %s free or held by this appliance's k3s", strings.Join(ports, ", "))
	}
	return pass("ports %s free", strings.Join(ports, ", "))
}

// probePort binds port to learn whether it is free, and lets it go at once.
func probePort(hostAddr string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(hostAddr, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

func checkDefaultRoute(_ context.Context, e *env) finding {
	routes, err := e.Root.Routes()
	if err != nil {
		return broken("reading the routing table", err)
	}
	for _, r := range routes {
		if r.Default() {
			via := "dev " + r.Iface
			if r.Gateway.IsValid() {
				via = "via " + r.Gateway.String() + " " + via
			}
			return pass("default route %s", via)
		}
	}
	return fail("no default route in the routing table")
}

func checkClock(ctx context.Context, e *env) finding {
	synced, how, err := e.ClockSynced(ctx)
	if err != nil {
		return warnf("%v", err)
	}
	if !synced {
		return warnf("%s", how)
	}
	return pass("%s", how)
}

func checkCgroups(_ context.Context, e *env) finding {
	mounts, err := e.Root.Mounts()
	if err != nil {
		return broken("reading mounts", err)
	}
	v1 := map[string]bool{}
	v2 := ""
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			if m.MountPoint == "/sys/fs/cgroup" || v2 == "" {
				v2 = m.MountPoint
			}
		case "cgroup":
			for _, c := range strings.Split(filepath.Base(m.MountPoint), ",") {
				v1[c] = true
			}
		}
	}
	need := []string{"cpu", "memory", "pids"}
	if len(v1) == 0 && v2 != "" {
		data, err := e.Root.ReadFile(filepath.Join(v2, "cgroup.controllers"))
		if err != nil {
			return broken("reading the cgroup v2 controllers", err)
		}
		have := strings.Fields(string(data))
		var missing []string
		for _, c := range need {
			if !slices.Contains(have, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fail("cgroup v2 at %s lacks the %s controller(s)", v2, strings.Join(missing, ", "))
		}
		return pass("cgroup v2 with %s", strings.Join(need, ", "))
	}
	if len(v1) == 0 {
		return fail("no cgroup filesystem is mounted")
	}
	// cgroup v1: the controllers must be mounted and enabled in /proc/cgroups.
	enabled := map[string]bool{}
	if data, err := e.Root.ReadFile("/proc/cgroups"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[3] == "1" {
				enabled[f[0]] = true
			}
		}
	}
	var missing []string
	for _, c := range need {
		if !v1[c] || !enabled[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fail("cgroup v1 lacks the %s controller(s)", strings.Join(missing, ", "))
	}
	return warnf("cgroup v1: k3s runs, but Kubernetes deprecates v1 and recent kubelets refuse it by default").
		withFix("boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel command line)")
}

func checkOverlay(_ context.Context, e *env) finding {
	fss, err := e.Root.Filesystems()
	if err != nil {
		return broken("reading the kernel's filesystems", err)
	}
	if slices.Contains(fss, "overlay") {
		return pass("overlay is available")
	}
	if _, loadable := e.Root.ModuleAvailable("overlay"); loadable {
		return pass("the overlay module is installed (k3s loads it at start)")
	}
	return fail("the kernel has no overlay filesystem and no overlay module")
}

func checkNetfilter(_ context.Context, e *env) finding {
	var problems []string
	warnOnly := true
	loaded, loadable := e.Root.ModuleAvailable("br_netfilter")
	if !loaded && !loadable {
		problems = append(problems, "br_netfilter is neither loaded nor installed")
		warnOnly = false
	}
	fwd, ok, err := e.Root.ReadSysctl("net/ipv4/ip_forward")
	if err != nil {
		return broken("reading net.ipv4.ip_forward", err)
	}
	if ok && fwd != "1" {
		// k3s turns forwarding on at start; a sysctl file that turns it off again breaks pods later.
		problems = append(problems, "net.ipv4.ip_forward is "+fwd+" (k3s turns it on at start; make it permanent so nothing turns it off)")
	}
	if len(problems) == 0 {
		state := "loaded"
		if !loaded {
			state = "installed (k3s loads it at start)"
		}
		return pass("br_netfilter %s, IP forwarding on", state)
	}
	f := fail("%s", strings.Join(problems, "; "))
	f.warn = warnOnly
	return f
}

func checkSwap(_ context.Context, e *env) finding {
	swaps, err := e.Root.Swaps()
	if err != nil {
		return broken("reading swaps", err)
	}
	if len(swaps) == 0 {
		return pass("no swap")
	}
	var names []string
	for _, s := range swaps {
		names = append(names, fmt.Sprintf("%s (%s)", s.Name, status.HumanBytes(int64(s.SizeBytes))))
	}
	return warnf("swap is on: %s", strings.Join(names, ", "))
}

// kubernetesPrograms are programs of a Kubernetes that would fight k3s for ports, iptables and
// the node's identity.
var kubernetesPrograms = []string{"kubelet", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelite", "k0s", "rke2", "etcd"}

// runtimePrograms are container runtimes that can live beside k3s but get in its way (Docker
// sets the iptables FORWARD policy to DROP, which cuts pod traffic).
var runtimePrograms = []string{"dockerd", "containerd", "crio", "podman"}

var runtimeSockets = []string{"/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock", "/run/crio/crio.sock"}

func checkOtherRuntime(_ context.Context, e *env) finding {
	procs, err := e.processes()
	if err != nil {
		return broken("listing processes", err)
	}
	var blocking, nuisances []string
	for _, p := range procs {
		name := p.Comm
		if p.Exe != "" {
			name = filepath.Base(p.Exe)
		}
		switch {
		case k3s.IsK3sProcess(p):
			if !e.k3s.Ours {
				blocking = append(blocking, fmt.Sprintf("k3s (pid %d, %s) was not installed by docs-appliance", p.PID, orName(p.Exe, p.Comm)))
			}
		case slices.Contains(kubernetesPrograms, name):
			blocking = append(blocking, fmt.Sprintf("%s is running (pid %d)", name, p.PID))
		case slices.Contains(runtimePrograms, name):
			nuisances = append(nuisances, fmt.Sprintf("%s is running (pid %d)", name, p.PID))
		}
	}
	if e.k3s.Present && !e.k3s.Ours && len(blocking) == 0 {
		blocking = append(blocking, "a k3s installation not made by docs-appliance is on the host ("+k3s.BinaryPath+" or its unit)")
	}
	for _, s := range runtimeSockets {
		if st, err := e.Root.Lstat(s); err == nil && st.Mode().Type()&fs.ModeSocket != 0 {
			nuisances = append(nuisances, "socket "+s+" exists")
		}
	}
	blocking, nuisances = dedupe(blocking), dedupe(nuisances)
	switch {
	case len(blocking) > 0:
		return fail("%s", strings.Join(append(blocking, nuisances...), "; ")).
			withFix("uninstall the other Kubernetes (k3s: /usr/local/bin/k3s-uninstall.sh), or install onto it with --kubeconfig instead of provisioning k3s")
	case len(nuisances) > 0:
		return warnf("%s", strings.Join(nuisances, "; ")).
			withFix("stop and disable the other container runtime (systemctl disable --now docker containerd); k3s runs its own containerd")
	}
	if e.k3s.Ours {
		return pass("only this appliance's k3s")
	}
	return pass("none found")
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidNodeName reports why name is not an RFC 1123 subdomain Kubernetes accepts as a node
// name, or "" when it is.
func ValidNodeName(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) > 253:
		return "it is longer than 253 characters"
	case strings.ToLower(name) != name:
		return "it has uppercase letters"
	}
	for _, l := range strings.Split(name, ".") {
		if !dnsLabel.MatchString(l) {
			return fmt.Sprintf("the part %q is not 1-63 letters, digits or '-' starting and ending with a letter or digit", l)
		}
	}
	return ""
}

func checkHostname(_ context.Context, e *env) finding {
	name, err := e.Root.Hostname()
	if err != nil {
		return broken("reading the host name", err)
	}
	if why := ValidNodeName(name); why != "" {
		f := fail("host name %q is not a valid node name: %s", name, why)
		if lower := strings.ToLower(name); ValidNodeName(lower) == "" {
			f = f.withFix("hostnamectl set-hostname " + lower)
		}
		return f
	}
	return pass("host name %q", name)
}

// k3sInterfaces carry k3s's own routes to its ranges; on a rerun they are not a conflict.
var k3sInterfaces = []string{"cni0", "flannel.1", "flannel-v6.1", "flannel-wg", "flannel-wg-v6", "kube-ipvs0"}

func checkCIDRs(_ context.Context, e *env) finding {
	ranges := []struct {
		name   string
		prefix netip.Prefix
	}{{"pod range " + e.ClusterCIDR, netip.MustParsePrefix(e.ClusterCIDR).Masked()}, {"service range " + e.ServiceCIDR, netip.MustParsePrefix(e.ServiceCIDR).Masked()}}
	if ranges[0].prefix.Overlaps(ranges[1].prefix) {
		return fail("the pod range %s and the service range %s overlap", e.ClusterCIDR, e.ServiceCIDR)
	}
	type hostNet struct {
		what   string
		prefix netip.Prefix
	}
	var nets []hostNet
	routes, err := e.Root.Routes()
	if err != nil {
		return broken("reading the routing table", err)
	}
	for _, r := range routes {
		if !r.Default() && !slices.Contains(k3sInterfaces, r.Iface) {
			nets = append(nets, hostNet{"route " + r.Dest.String() + " on " + r.Iface, r.Dest})
		}
	}
	if e.InterfaceAddrs != nil {
		addrs, err := e.InterfaceAddrs()
		if err != nil {
			return broken("reading interface addresses", err)
		}
		names := make([]string, 0, len(addrs))
		for n := range addrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if slices.Contains(k3sInterfaces, n) || strings.HasPrefix(n, "veth") {
				continue
			}
			for _, p := range addrs[n] {
				nets = append(nets, hostNet{"address " + p.String() + " on " + n, p})
			}
		}
	}
	var clashes []string
	for _, r := range ranges {
		for _, n := range nets {
			if r.prefix.Overlaps(n.prefix.Masked()) {
				clashes = append(clashes, r.name+" overlaps the host's "+n.what)
			}
		}
	}
	if len(clashes) > 0 {
		return fail("%s", strings.Join(dedupe(clashes), "; "))
	}
	return pass("pods %s and services %s are clear of the host's %d networks", e.ClusterCIDR, e.ServiceCIDR, len(nets))
}

func checkDNS(ctx context.Context, e *env) finding {
	if len(e.Domains) == 0 {
		return pass("no domain given yet: checked when the configuration names one")
	}
	var resolved, missing []string
	for _, d := range e.Domains {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		addrs, err := e.LookupHost(lctx, d)
		cancel()
		if err != nil || len(addrs) == 0 {
			why := "no address"
			if err != nil {
				why = err.Error()
			}
			missing = append(missing, fmt.Sprintf("%s does not resolve (%s)", d, why))
			continue
		}
		resolved = append(resolved, d+" → "+strings.Join(addrs, ", "))
	}
	if len(missing) > 0 {
		f := fail("%s", strings.Join(missing, "; "))
		if e.Airgapped {
			// An isolated site may serve the name only on the clients' DNS; the appliance itself
			// does not need it.
			f.warn = true
			f.fix = "make the site's DNS resolve each domain to this server for the users' machines"
		} else {
			f.fix = "create a DNS A/AAAA record for each domain pointing at this server: the ACME certificate and the users need it"
		}
		return f
	}
	return pass("%s", strings.Join(resolved, "; "))
}
