package preflight

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// healthyHost lays out a host that passes every check.
func healthyHost(t *testing.T) *hosttest.Tree { return hosttest.Healthy(t, "docs-1") }

// freePort finds a port nothing listens on, on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func testProfile(t *testing.T) *profiles.Profile {
	t.Helper()
	p, err := profiles.Get("single-small")
	if err != nil {
		t.Fatal(err)
	}
	p.Host.MinDiskGiB = 1 // the build machine's free disk is not the test's subject
	return p
}

func options(t *testing.T, tr *hosttest.Tree) Options {
	return Options{
		Root:          tr.Root,
		Runner:        &host.Recorder{},
		Profile:       testProfile(t),
		Domains:       []string{"docs.example.org"},
		Ports:         []int{freePort(t), freePort(t)},
		PortProbeHost: "127.0.0.1",
		LookupHost: func(_ context.Context, name string) ([]string, error) {
			if name == "docs.example.org" {
				return []string{"192.0.2.10"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		},
		InterfaceAddrs: func() (map[string][]netip.Prefix, error) {
			return map[string][]netip.Prefix{"eth0": {netip.MustParsePrefix("192.168.1.20/24")}, "lo": {netip.MustParsePrefix("127.0.0.1/8")}}, nil
		},
		ClockSynced: func(context.Context) (bool, string, error) { return true, "timedatectl says NTPSynchronized=yes", nil },
		GOOS:        "linux",
		GOARCH:      "amd64",
		Euid:        func() int { return 0 },
	}
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestHealthyHostPassesEveryCheck(t *testing.T) {
	rep := run(t, options(t, healthyHost(t)))
	if len(rep.Results) != len(HostChecks()) {
		t.Fatalf("%d results for %d checks", len(rep.Results), len(HostChecks()))
	}
	for _, r := range rep.Results {
		if r.Outcome != Passed {
			t.Errorf("%s: %s: %s", r.ID, r.Outcome, r.Detail)
		}
	}
	if !rep.OK || rep.Err() != nil {
		t.Errorf("report not OK: %v", rep.Err())
	}
	if r, _ := rep.Get("os-arch"); r.Detail != "Debian GNU/Linux 12 (bookworm), amd64, kernel 6.1.0-26-amd64" {
		t.Errorf("os-arch detail %q", r.Detail)
	}
}

func TestEachCheckCatchesItsProblem(t *testing.T) {
	cases := []struct {
		name    string
		id      string
		mutate  func(t *testing.T, tr *hosttest.Tree, o *Options)
		outcome Outcome
		detail  string // substring of the detail
		fix     string // substring of the fix, when set
	}{
		{"not root", "root", func(_ *testing.T, _ *hosttest.Tree, o *Options) { o.Euid = func() int { return 1000 } }, Failed, "user id 1000", "sudo"},
		{"unsupported arch", "os-arch", func(_ *testing.T, _ *hosttest.Tree, o *Options) { o.GOARCH = "riscv64" }, Failed, "ships k3s for amd64, arm64 only", ""},
		{"not linux", "os-arch", func(_ *testing.T, _ *hosttest.Tree, o *Options) { o.GOOS = "darwin" }, Failed, "is not Linux", ""},
		{"few CPUs", "cpu", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/cpuinfo", "processor\t: 0\n\nprocessor\t: 1\n")
		}, Failed, "2 CPUs, the single-small profile needs 4", "single-small is the smallest profile"},
		{"little memory", "memory", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/meminfo", "MemTotal:        4000000 kB\n")
		}, Failed, "3.8 GiB of memory, the single-small profile needs 8 GiB", ""},
		{"an 8 GiB machine passes although the kernel keeps some", "memory", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/meminfo", "MemTotal:        8040000 kB\n")
		}, Passed, "7.7 GiB of memory", ""},
		{"unreadable meminfo", "memory", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			os.Remove(tr.Root.Path("/proc/meminfo"))
		}, Failed, "reading memory", ""},
		{"small disk", "disk-k3s", func(_ *testing.T, _ *hosttest.Tree, o *Options) { o.Profile.Host.MinDiskGiB = 1 << 30 }, Failed, "free at /var/lib, the single-small profile needs 1073741824 GiB", ""},
		{"bundle fits", "disk-bundle", func(t *testing.T, tr *hosttest.Tree, o *Options) {
			tr.Write("/root/docs-2026.11-amd64.tar.zst", strings.Repeat("x", 4096))
			o.BundlePath, o.BundleDir = "/root/docs-2026.11-amd64.tar.zst", "/var/lib/docs-appliance/bundles"
		}, Passed, "shared with k3s data", ""},
		{"bundle does not fit twice", "disk-bundle", func(t *testing.T, tr *hosttest.Tree, o *Options) {
			ds, err := tr.Root.FreeSpace("/var/lib")
			if err != nil {
				t.Fatal(err)
			}
			tr.Write("/root/bundle.tar.zst", "")
			// A sparse file as large as the free space: twice it cannot fit.
			if err := os.Truncate(tr.Root.Path("/root/bundle.tar.zst"), int64(ds.Free)); err != nil {
				t.Fatal(err)
			}
			o.BundlePath, o.BundleDir = "/root/bundle.tar.zst", "/var/lib/docs-appliance/bundles"
		}, Failed, "needs twice the bundle", ""},
		{"bundle missing", "disk-bundle", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.BundlePath, o.BundleDir = "/root/nope.tar.zst", "/var/lib/docs-appliance/bundles"
		}, Failed, "reading the bundle /root/nope.tar.zst", "airgap build"},
		{"no default route", "default-route", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/net/route", hosttest.RouteTable(hosttest.FixtureRoute{Iface: "eth0", Dest: "192.168.1.0/24"}))
		}, Failed, "no default route", "ip route add default"},
		{"a default route that is down does not count", "default-route", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/net/route", hosttest.RouteTable(hosttest.FixtureRoute{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "192.168.1.1", Down: true}))
		}, Failed, "no default route", ""},
		{"clock not synchronised", "clock", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.ClockSynced = func(context.Context) (bool, string, error) { return false, "timedatectl says NTPSynchronized=no", nil }
		}, Warned, "NTPSynchronized=no", "set-ntp"},
		{"cgroup v2 without memory", "cgroups", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n")
		}, Failed, "lacks the memory controller", ""},
		{"cgroup v1 complete", "cgroups", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/self/mountinfo", hosttest.MountInfo(
				host.Mount{ID: 31, Parent: 1, MountPoint: "/sys/fs/cgroup", FSType: "tmpfs", Source: "tmpfs"},
				host.Mount{ID: 32, Parent: 31, MountPoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", Source: "cgroup"},
				host.Mount{ID: 33, Parent: 31, MountPoint: "/sys/fs/cgroup/memory", FSType: "cgroup", Source: "cgroup"},
				host.Mount{ID: 34, Parent: 31, MountPoint: "/sys/fs/cgroup/pids", FSType: "cgroup", Source: "cgroup"},
			)).Write("/proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nmemory\t2\t1\t1\npids\t3\t1\t1\n")
		}, Warned, "cgroup v1", "unified_cgroup_hierarchy"},
		{"cgroup v1 memory disabled", "cgroups", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/self/mountinfo", hosttest.MountInfo(
				host.Mount{ID: 32, Parent: 31, MountPoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", Source: "cgroup"},
				host.Mount{ID: 33, Parent: 31, MountPoint: "/sys/fs/cgroup/memory", FSType: "cgroup", Source: "cgroup"},
				host.Mount{ID: 34, Parent: 31, MountPoint: "/sys/fs/cgroup/pids", FSType: "cgroup", Source: "cgroup"},
			)).Write("/proc/cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nmemory\t2\t1\t0\npids\t3\t1\t1\n")
		}, Failed, "lacks the memory controller", ""},
		{"no cgroups", "cgroups", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/self/mountinfo", hosttest.MountInfo(host.Mount{ID: 22, Parent: 1, MountPoint: "/proc", FSType: "proc", Source: "proc"}))
		}, Failed, "no cgroup filesystem", ""},
		{"no overlay", "overlayfs", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/filesystems", "nodev\tsysfs\n\text4\n")
		}, Failed, "no overlay filesystem", "modprobe overlay"},
		{"overlay module installed", "overlayfs", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/filesystems", "nodev\tsysfs\n\text4\n").
				Write("/lib/modules/6.1.0-26-amd64/modules.dep", "kernel/fs/overlayfs/overlay.ko.xz:\n")
		}, Passed, "k3s loads it", ""},
		{"no br_netfilter", "netfilter", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			os.Remove(tr.Root.Path("/sys/module/br_netfilter"))
		}, Failed, "br_netfilter is neither loaded nor installed", "modprobe br_netfilter"},
		{"forwarding off", "netfilter", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/sys/net/ipv4/ip_forward", "0\n")
		}, Warned, "net.ipv4.ip_forward is 0", ""},
		{"swap on", "swap", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile file 2097148 0 -2\n")
		}, Warned, "swap is on: /swapfile (2.0 GiB)", "swapoff"},
		{"docker beside", "other-runtime", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Process(hosttest.Proc{PID: 700, PPID: 1, Comm: "dockerd", Exe: "/usr/bin/dockerd", Cmdline: []string{"/usr/bin/dockerd", "-H", "fd://"}})
		}, Warned, "dockerd is running (pid 700)", "disable --now docker"},
		{"a kubelet", "other-runtime", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Process(hosttest.Proc{PID: 701, PPID: 1, Comm: "kubelet", Exe: "/usr/bin/kubelet", Cmdline: []string{"/usr/bin/kubelet"}})
		}, Failed, "kubelet is running (pid 701)", "--kubeconfig"},
		{"someone else's k3s", "other-runtime", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write(k3s.UnitPath, "[Service]\nExecStart=/usr/local/bin/k3s server\n").
				Process(hosttest.Proc{PID: 702, PPID: 1, Comm: "k3s-server", Exe: "/usr/local/bin/k3s", Cmdline: []string{"/usr/local/bin/k3s", "server"}})
		}, Failed, "k3s (pid 702, /usr/local/bin/k3s) was not installed by docs-appliance", "k3s-uninstall.sh"},
		{"someone else's stopped k3s", "other-runtime", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write(k3s.BinaryPath, "binary")
		}, Failed, "a k3s installation not made by docs-appliance", ""},
		{"our own k3s on a rerun", "other-runtime", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write(k3s.UnitPath, k3s.Marker+"\n[Service]\n").
				Process(hosttest.Proc{PID: 702, PPID: 1, Comm: "k3s-server", Exe: "/usr/local/bin/k3s", Cmdline: []string{"/usr/local/bin/k3s", "server"}}).
				Process(hosttest.Proc{PID: 703, PPID: 702, Comm: "containerd", Exe: "/var/lib/rancher/k3s/data/abc/bin/containerd", Cmdline: []string{"containerd"}})
		}, Passed, "only this appliance's k3s", ""},
		{"uppercase host name", "hostname", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/sys/kernel/hostname", "Docs-1\n")
		}, Failed, "has uppercase letters", "hostnamectl set-hostname docs-1"},
		{"underscore in host name", "hostname", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/sys/kernel/hostname", "docs_1\n")
		}, Failed, `the part "docs_1"`, "hostnamectl set-hostname <name>"},
		{"a route into the pod range", "cidr-overlap", func(_ *testing.T, tr *hosttest.Tree, _ *Options) {
			tr.Write("/proc/net/route", hosttest.RouteTable(
				hosttest.FixtureRoute{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "192.168.1.1"},
				hosttest.FixtureRoute{Iface: "eth1", Dest: "10.0.0.0/8", Gateway: "192.168.1.254"},
			))
		}, Failed, "pod range 10.42.0.0/16 overlaps the host's route 10.0.0.0/8 on eth1; service range 10.43.0.0/16 overlaps the host's route 10.0.0.0/8 on eth1", ""},
		{"an address in the service range", "cidr-overlap", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.InterfaceAddrs = func() (map[string][]netip.Prefix, error) {
				return map[string][]netip.Prefix{"eth1": {netip.MustParsePrefix("10.43.7.2/24")}}, nil
			}
		}, Failed, "service range 10.43.0.0/16 overlaps the host's address 10.43.7.2/24 on eth1", ""},
		{"k3s's own routes are no conflict", "cidr-overlap", func(_ *testing.T, tr *hosttest.Tree, o *Options) {
			tr.Write("/proc/net/route", hosttest.RouteTable(
				hosttest.FixtureRoute{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "192.168.1.1"},
				hosttest.FixtureRoute{Iface: "eth0", Dest: "192.168.1.0/24"},
				hosttest.FixtureRoute{Iface: "cni0", Dest: "10.42.0.0/24"},
			))
			o.InterfaceAddrs = func() (map[string][]netip.Prefix, error) {
				return map[string][]netip.Prefix{"cni0": {netip.MustParsePrefix("10.42.0.1/24")}, "flannel.1": {netip.MustParsePrefix("10.42.0.0/32")}}, nil
			}
		}, Passed, "clear of the host's 1 networks", ""},
		{"pod and service ranges overlap", "cidr-overlap", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.ClusterCIDR, o.ServiceCIDR = "10.40.0.0/14", "10.43.0.0/16"
		}, Failed, "the pod range 10.40.0.0/14 and the service range 10.43.0.0/16 overlap", ""},
		{"domain does not resolve", "domain-dns", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.Domains = []string{"docs.example.org", "collab.example.org"}
		}, Failed, "collab.example.org does not resolve (lookup collab.example.org: no such host)", "ACME"},
		{"air-gapped, an unresolved domain only warns", "domain-dns", func(_ *testing.T, _ *hosttest.Tree, o *Options) {
			o.Domains, o.Airgapped = []string{"docs.intranet.example"}, true
		}, Warned, "docs.intranet.example does not resolve", "site's DNS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := healthyHost(t)
			o := options(t, tr)
			c.mutate(t, tr, &o)
			rep := run(t, o)
			r, ok := rep.Get(c.id)
			if !ok {
				t.Fatalf("no result for %s", c.id)
			}
			if r.Outcome != c.outcome {
				t.Errorf("outcome %s, want %s (detail %q)", r.Outcome, c.outcome, r.Detail)
			}
			if !strings.Contains(r.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", r.Detail, c.detail)
			}
			if c.fix != "" && !strings.Contains(r.Fix, c.fix) {
				t.Errorf("fix %q lacks %q", r.Fix, c.fix)
			}
			if c.outcome == Passed && r.Fix != "" {
				t.Errorf("a passing check shows a fix: %q", r.Fix)
			}
			// Only the mutated check may change; the others still pass.
			for _, other := range rep.Results {
				if other.ID != c.id && other.Outcome != Passed {
					t.Errorf("%s also %s: %s", other.ID, other.Outcome, other.Detail)
				}
			}
			if wantErr := c.outcome == Failed; (rep.Err() != nil) != wantErr {
				t.Errorf("Err() = %v, want failure %v", rep.Err(), wantErr)
			}
		})
	}
}

func TestPortsHeldByARealSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port

	tr := healthyHost(t)
	o := options(t, tr)
	o.Ports = []int{freePort(t), held}
	r, _ := run(t, o).Get("ports")
	if r.Outcome != Failed || !strings.Contains(r.Detail, strconv.Itoa(held)+" (held by a process this check cannot name)") {
		t.Errorf("unnamed holder: %s %q", r.Outcome, r.Detail)
	}

	// With the kernel's socket table and the holder's descriptors, the holder is named.
	tr.Write("/proc/net/tcp", hosttest.TCPListenTable(map[string]uint64{"127.0.0.1:" + strconv.Itoa(held): 99001})).
		Process(hosttest.Proc{PID: 812, PPID: 1, Comm: "nginx", Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: master process"}, Sockets: []uint64{99001}})
	r, _ = run(t, o).Get("ports")
	if r.Outcome != Failed || !strings.Contains(r.Detail, strconv.Itoa(held)+" (held by nginx, pid 812)") {
		t.Errorf("named holder: %s %q", r.Outcome, r.Detail)
	}

	// On a rerun, this appliance's k3s holding its own ports is fine.
	tr2 := healthyHost(t)
	tr2.Write(k3s.UnitPath, k3s.Marker+"\n").
		Write("/proc/net/tcp", hosttest.TCPListenTable(map[string]uint64{"127.0.0.1:" + strconv.Itoa(held): 99002})).
		Process(hosttest.Proc{PID: 900, PPID: 1, Comm: "k3s-server", Exe: k3s.BinaryPath, Cmdline: []string{k3s.BinaryPath, "server"}, Sockets: []uint64{99002}})
	o2 := options(t, tr2)
	o2.Ports = []int{held}
	r, _ = run(t, o2).Get("ports")
	if r.Outcome != Passed || !strings.Contains(r.Detail, "held by this appliance's k3s") {
		t.Errorf("our k3s: %s %q", r.Outcome, r.Detail)
	}
}

func TestIgnoredChecksAreNotRunAndAreNamed(t *testing.T) {
	tr := healthyHost(t)
	tr.Write("/proc/net/route", hosttest.RouteTable(hosttest.FixtureRoute{Iface: "eth0", Dest: "192.168.1.0/24"}))
	o := options(t, tr)
	o.Ignore = []string{"default-route", " clock"}
	o.ClockSynced = func(context.Context) (bool, string, error) {
		t.Error("an ignored check ran")
		return false, "", nil
	}
	rep := run(t, o)
	if !rep.OK {
		t.Errorf("ignoring the failing check must leave the report OK: %v", rep.Err())
	}
	if got := strings.Join(rep.Summary.Ignored, ","); got != "default-route,clock" {
		t.Errorf("ignored %q", got)
	}
	text := rep.Text()
	if !strings.Contains(text, "2 ignored (default-route, clock)") || !strings.Contains(text, "◎ default-route") {
		t.Errorf("text does not name the ignored checks:\n%s", text)
	}
}

func TestUnknownIgnoreIsAnErrorNamingTheKnownChecks(t *testing.T) {
	o := options(t, healthyHost(t))
	o.Ignore = []string{"ports", "memroy"}
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "--ignore-preflight: unknown check(s) memroy") || !strings.Contains(err.Error(), "memory, disk-k3s") {
		t.Errorf("got %v", err)
	}
}

func TestBadOptionsAreRefusedBeforeChecking(t *testing.T) {
	o := options(t, healthyHost(t))
	o.ClusterCIDR = "10.42.0.0"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), `cluster CIDR "10.42.0.0" is not a CIDR`) {
		t.Errorf("got %v", err)
	}
	o = options(t, healthyHost(t))
	o.Profile = nil
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("got %v", err)
	}
}

func TestFailedReportCarriesExitCode(t *testing.T) {
	tr := healthyHost(t)
	tr.Write("/proc/sys/kernel/hostname", "BAD\n")
	err := run(t, options(t, tr)).Err()
	var fe *FailedError
	if !errors.As(err, &fe) || fe.ExitCode() != ExitFailed || fe.IDs[0] != "hostname" {
		t.Fatalf("got %#v", err)
	}
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) {
		t.Error("main finds the exit code through an ExitCode() method")
	}
}

func TestSystemClockAsksTimedatectlThenTheKernel(t *testing.T) {
	ctx := context.Background()
	var r host.Recorder
	r.Reply([]string{"timedatectl"}, "no\n", 0)
	synced, how, err := ClockSynced(ctx, &r)
	if err != nil || synced || how != "timedatectl says NTPSynchronized=no" {
		t.Errorf("got %v %q %v", synced, how, err)
	}
	if got := r.Lines(); len(got) != 1 || got[0] != "timedatectl show --property=NTPSynchronized --value" {
		t.Errorf("ran %q", got)
	}
	// Without systemd the kernel answers (adjtimex only reads with zero modes).
	var none host.Recorder
	none.Reply([]string{"timedatectl"}, "System has not been booted with systemd", 1)
	_, how, err = ClockSynced(ctx, &none)
	if err != nil || !strings.Contains(how, "adjtimex") {
		t.Errorf("got %q %v", how, err)
	}
}

func TestRealResolverResolvesLocalhost(t *testing.T) {
	o := options(t, healthyHost(t))
	o.LookupHost = nil
	o.Domains = []string{"localhost"}
	r, _ := run(t, o).Get("domain-dns")
	if r.Outcome != Passed || !strings.Contains(r.Detail, "localhost → ") {
		t.Errorf("got %s %q", r.Outcome, r.Detail)
	}
}

func TestValidNodeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"docs-1": true, "node.example.org": true, "a": true, "-a": false, "a-": false,
		"": false, "Docs": false, "a..b": false, strings.Repeat("a", 64): false,
	} {
		if got := ValidNodeName(name) == ""; got != ok {
			t.Errorf("%q: valid %v, want %v", name, got, ok)
		}
	}
}
