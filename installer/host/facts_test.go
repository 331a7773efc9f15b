package host_test

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
)

func TestMemAndCPU(t *testing.T) {
	tr := hosttest.New(t).
		Write("/proc/meminfo", "MemTotal:       16303596 kB\nMemFree:         1000 kB\n").
		Write("/proc/cpuinfo", "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n\nprocessor\t: 2\n")
	mem, err := tr.Root.MemTotal()
	if err != nil || mem != 16303596*1024 {
		t.Errorf("MemTotal %d %v", mem, err)
	}
	n, err := tr.Root.CPUCount()
	if err != nil || n != 3 {
		t.Errorf("CPUCount %d %v", n, err)
	}
	if _, err := hosttest.New(t).Write("/proc/meminfo", "MemFree: 1 kB\n").Root.MemTotal(); err == nil {
		t.Error("a meminfo without MemTotal must be an error")
	}
}

func TestRoutesReadsTheKernelFormat(t *testing.T) {
	// Taken from a real host: a default route via 192.0.2.1 on eth0 and its /24.
	tr := hosttest.New(t).Write("/proc/net/route",
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
			"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"+
			"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"+
			"eth1\t0000A8C0\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0\n").
		Write("/proc/net/ipv6_route",
			"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"+
				"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")
	routes, err := tr.Root.Routes()
	if err != nil {
		t.Fatal(err)
	}
	want := []host.Route{
		{Iface: "eth0", Dest: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
		{Iface: "eth0", Dest: netip.MustParsePrefix("192.0.2.0/24")},
		{Iface: "eth0", Dest: netip.MustParsePrefix("fe80::/64")},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes\n got %+v\nwant %+v", routes, want)
	}
	if !routes[0].Default() || routes[1].Default() {
		t.Error("Default() is wrong")
	}
}

func TestRouteTableFixtureRoundTrips(t *testing.T) {
	tr := hosttest.New(t).Write("/proc/net/route", hosttest.RouteTable(
		hosttest.FixtureRoute{Iface: "ens3", Dest: "10.42.0.0/16"},
		hosttest.FixtureRoute{Iface: "ens3", Dest: "0.0.0.0/0", Gateway: "10.0.0.1", Down: true},
	))
	routes, err := tr.Root.Routes()
	if err != nil || len(routes) != 1 || routes[0].Dest.String() != "10.42.0.0/16" {
		t.Errorf("got %+v %v", routes, err)
	}
}

func TestMountsUnescapesPaths(t *testing.T) {
	tr := hosttest.New(t).Write("/proc/self/mountinfo",
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"+
			"90 27 0:50 / /run/k3s/containerd/a\\040b rw shared:5 - tmpfs shm\\040x rw,size=65536k\n")
	m, err := tr.Root.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[1].MountPoint != "/run/k3s/containerd/a b" || m[1].Source != "shm x" || m[1].FSType != "tmpfs" || m[1].Parent != 27 {
		t.Errorf("got %+v", m)
	}
}

func TestSwapsFilesystemsSysctlModules(t *testing.T) {
	tr := hosttest.New(t).
		Write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile                               file\t\t2097148\t\t0\t\t-2\n").
		Write("/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n").
		Write("/proc/sys/net/ipv4/ip_forward", "1\n").
		Write("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n").
		Write("/lib/modules/6.1.0-26-amd64/modules.dep", "kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\n").
		Mkdir("/sys/module/overlay")
	swaps, err := tr.Root.Swaps()
	if err != nil || len(swaps) != 1 || swaps[0].Name != "/swapfile" || swaps[0].SizeBytes != 2097148*1024 {
		t.Errorf("swaps %+v %v", swaps, err)
	}
	fss, err := tr.Root.Filesystems()
	if err != nil || !reflect.DeepEqual(fss, []string{"sysfs", "tmpfs", "ext4", "overlay"}) {
		t.Errorf("filesystems %q %v", fss, err)
	}
	if v, ok, err := tr.Root.ReadSysctl("net/ipv4/ip_forward"); v != "1" || !ok || err != nil {
		t.Errorf("ip_forward %q %v %v", v, ok, err)
	}
	if _, ok, err := tr.Root.ReadSysctl("net/bridge/bridge-nf-call-iptables"); ok || err != nil {
		t.Errorf("a missing sysctl: %v %v", ok, err)
	}
	if loaded, loadable := tr.Root.ModuleAvailable("br_netfilter"); loaded || !loadable {
		t.Errorf("br_netfilter %v %v", loaded, loadable)
	}
	if loaded, _ := tr.Root.ModuleAvailable("overlay"); !loaded {
		t.Error("overlay is loaded")
	}
	if _, loadable := tr.Root.ModuleAvailable("nf_nope"); loadable {
		t.Error("nf_nope is not available")
	}
}

func TestProcessesAndListeners(t *testing.T) {
	tr := hosttest.New(t).
		Process(hosttest.Proc{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Cmdline: []string{"/sbin/init"}}).
		Process(hosttest.Proc{PID: 812, PPID: 1, Comm: "nginx: master", Exe: "/usr/sbin/nginx", Cmdline: []string{"nginx: master process"}, Sockets: []uint64{4242, 4343}}).
		Process(hosttest.Proc{PID: 900, PPID: 1, Comm: "k3s-server", Exe: "/usr/local/bin/k3s", Cmdline: []string{"/usr/local/bin/k3s", "server"}, Sockets: []uint64{5151}}).
		Write("/proc/net/tcp", hosttest.TCPListenTable(map[string]uint64{"0.0.0.0:80": 4242, "127.0.0.1:6443": 5151}))
	procs, err := tr.Root.Processes()
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 3 || procs[1].Comm != "nginx: master" || procs[1].PPID != 1 || procs[2].Exe != "/usr/local/bin/k3s" || procs[2].Cmdline[1] != "server" {
		t.Errorf("processes %+v", procs)
	}
	ls, err := tr.Root.Listeners()
	if err != nil || len(ls) != 2 {
		t.Fatalf("listeners %+v %v", ls, err)
	}
	owners := tr.Root.SocketOwners(procs)
	for _, l := range ls {
		switch l.Addr.Port() {
		case 80:
			if owners[l.Inode].PID != 812 || l.Addr.Addr().String() != "0.0.0.0" {
				t.Errorf("port 80: %+v owner %+v", l, owners[l.Inode])
			}
		case 6443:
			if owners[l.Inode].PID != 900 || l.Addr.Addr().String() != "127.0.0.1" {
				t.Errorf("port 6443: %+v owner %+v", l, owners[l.Inode])
			}
		default:
			t.Errorf("unexpected listener %+v", l)
		}
	}
}

func TestListenersOfThisMachine(t *testing.T) {
	// The parser must read the real kernel's table too, not just our fixtures.
	if _, err := host.Root("/").Listeners(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Root("/").Mounts(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Root("/").Routes(); err != nil {
		t.Fatal(err)
	}
}
