// Package hosttest builds fixture host trees for tests: files under a temporary root laid out as
// the kernel lays out /proc and /sys, so code reading host facts through host.Root runs on real
// files. It is imported by tests only.
package hosttest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Tree is a fixture host filesystem under a temporary folder.
type Tree struct {
	T    testing.TB
	Root host.Root
}

// New returns an empty tree in a fresh temporary folder.
func New(t testing.TB) *Tree {
	t.Helper()
	return &Tree{T: t, Root: host.Root(t.TempDir())}
}

// Write writes a host file of the tree, creating its folders.
func (tr *Tree) Write(path, content string) *Tree {
	tr.T.Helper()
	full := tr.Root.Path(path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		tr.T.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		tr.T.Fatal(err)
	}
	return tr
}

// Mkdir creates a host folder of the tree.
func (tr *Tree) Mkdir(path string) *Tree {
	tr.T.Helper()
	if err := os.MkdirAll(tr.Root.Path(path), 0o755); err != nil {
		tr.T.Fatal(err)
	}
	return tr
}

// Symlink makes a host symlink of the tree pointing at target, written as given.
func (tr *Tree) Symlink(target, path string) *Tree {
	tr.T.Helper()
	full := tr.Root.Path(path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		tr.T.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		tr.T.Fatal(err)
	}
	return tr
}

// Read reads a host file of the tree.
func (tr *Tree) Read(path string) string {
	tr.T.Helper()
	data, err := tr.Root.ReadFile(path)
	if err != nil {
		tr.T.Fatal(err)
	}
	return string(data)
}

// Proc describes a fixture process.
type Proc struct {
	PID, PPID int
	Comm      string
	Exe       string
	Cmdline   []string
	// Sockets are socket inodes the process holds open.
	Sockets []uint64
}

// Process lays out /proc/PID as the kernel does: stat, exe, cmdline and fd links.
func (tr *Tree) Process(p Proc) *Tree {
	tr.T.Helper()
	dir := fmt.Sprintf("/proc/%d", p.PID)
	tr.Write(dir+"/stat", fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", p.PID, p.Comm, p.PPID, p.PID, p.PID))
	tr.Write(dir+"/cmdline", strings.Join(p.Cmdline, "\x00")+"\x00")
	if p.Exe != "" {
		tr.Symlink(p.Exe, dir+"/exe")
	}
	tr.Mkdir(dir + "/fd")
	for i, inode := range p.Sockets {
		tr.Symlink(fmt.Sprintf("socket:[%d]", inode), fmt.Sprintf("%s/fd/%d", dir, i+3))
	}
	return tr
}

// RemoveProcess removes /proc/PID, as the kernel does when the process is reaped.
func (tr *Tree) RemoveProcess(pid int) {
	_ = os.RemoveAll(tr.Root.Path(fmt.Sprintf("/proc/%d", pid)))
}

// FixtureRoute is one row of a fixture /proc/net/route.
type FixtureRoute struct {
	Iface   string
	Dest    string // CIDR, e.g. "0.0.0.0/0"
	Gateway string // "" for a directly connected network
	Down    bool
}

// RouteTable renders /proc/net/route with the given rows, addresses in host byte order as the
// kernel prints them.
func RouteTable(routes ...FixtureRoute) string {
	var b strings.Builder
	b.WriteString("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n")
	for _, r := range routes {
		p := netip.MustParsePrefix(r.Dest)
		var m [4]byte
		for i := 0; i < p.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		gw := netip.IPv4Unspecified()
		flags := 0x1
		if r.Gateway != "" {
			gw = netip.MustParseAddr(r.Gateway)
			flags |= 0x2
		}
		if r.Down {
			flags = 0
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%04X\t0\t0\t0\t%s\t0\t0\t0\n", r.Iface, hex4(p.Addr()), hex4(gw), flags, hex4(netip.AddrFrom4(m)))
	}
	return b.String()
}

func hex4(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b[:]))
}

// TCPListenTable renders /proc/net/tcp with one listening socket per address, in the kernel's format.
func TCPListenTable(listeners map[string]uint64) string {
	var b strings.Builder
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	i := 0
	for addr, inode := range listeners {
		ap := netip.MustParseAddrPort(addr)
		fmt.Fprintf(&b, "%4d: %s:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 100 0 0 10 0\n", i, hex4(ap.Addr()), ap.Port(), inode)
		i++
	}
	return b.String()
}

// MountInfo renders /proc/self/mountinfo lines for mount points (real paths as the kernel shows
// them), escaping spaces the way the kernel does.
func MountInfo(mounts ...host.Mount) string {
	var b strings.Builder
	for _, m := range mounts {
		esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`)
		fmt.Fprintf(&b, "%d %d 0:%d / %s rw,relatime shared:1 - %s %s rw\n", m.ID, m.Parent, m.ID, esc.Replace(m.MountPoint), m.FSType, esc.Replace(m.Source))
	}
	return b.String()
}

// Healthy lays out a host that passes every host check: 8 CPUs, 16 GiB, Debian 12, cgroup v2,
// overlay, br_netfilter, forwarding on, no swap, a default route, the given host name, systemd
// as PID 1 and an sshd.
func Healthy(t testing.TB, hostname string) *Tree {
	t.Helper()
	cpuinfo := ""
	for i := 0; i < 8; i++ {
		cpuinfo += fmt.Sprintf("processor\t: %d\nmodel name\t: test\n\n", i)
	}
	return New(t).
		Write("/proc/meminfo", "MemTotal:       16303596 kB\nMemFree:        10000000 kB\n").
		Write("/proc/cpuinfo", cpuinfo).
		Write("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n").
		Write("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n").
		Write("/proc/sys/kernel/hostname", hostname+"\n").
		Write("/proc/net/route", RouteTable(
			FixtureRoute{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "192.168.1.1"},
			FixtureRoute{Iface: "eth0", Dest: "192.168.1.0/24"},
		)).
		Write("/proc/self/mountinfo", MountInfo(
			host.Mount{ID: 22, Parent: 1, MountPoint: "/proc", FSType: "proc", Source: "proc"},
			host.Mount{ID: 30, Parent: 1, MountPoint: "/sys/fs/cgroup", FSType: "cgroup2", Source: "cgroup2"},
		)).
		Write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n").
		Write("/proc/filesystems", "nodev\tsysfs\n\text4\nnodev\toverlay\n").
		Mkdir("/sys/module/br_netfilter").
		Write("/proc/sys/net/ipv4/ip_forward", "1\n").
		Write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n").
		Process(Proc{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Cmdline: []string{"/sbin/init"}}).
		Process(Proc{PID: 420, PPID: 1, Comm: "sshd", Exe: "/usr/sbin/sshd", Cmdline: []string{"sshd: /usr/sbin/sshd -D"}}).
		Mkdir("/var/lib")
}
