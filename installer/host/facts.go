package host

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The facts below are read from files, always under the Root, so that tests give them real
// fixture files and `--root` inspects another tree.

// MemTotal returns the machine's memory in bytes, from /proc/meminfo.
func (r Root) MemTotal() (uint64, error) {
	data, err := r.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/meminfo: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading /proc/meminfo: MemTotal %q is not a number", f[1])
			}
			unit := uint64(1)
			if len(f) >= 3 && strings.EqualFold(f[2], "kB") {
				unit = 1024
			}
			return n * unit, nil
		}
	}
	return 0, fmt.Errorf("reading /proc/meminfo: no MemTotal line")
}

// CPUCount returns the number of processors listed in /proc/cpuinfo.
func (r Root) CPUCount() (int, error) {
	data, err := r.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/cpuinfo: %w", err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("reading /proc/cpuinfo: no processor listed")
	}
	return n, nil
}

// Hostname returns the kernel's host name, from /proc/sys/kernel/hostname.
func (r Root) Hostname() (string, error) {
	data, err := r.ReadFile("/proc/sys/kernel/hostname")
	if err != nil {
		return "", fmt.Errorf("reading the host name: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// KernelRelease returns the running kernel's release, e.g. "6.1.0-26-amd64".
func (r Root) KernelRelease() (string, error) {
	data, err := r.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", fmt.Errorf("reading the kernel release: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// OSRelease returns the fields of /etc/os-release (or /usr/lib/os-release), unquoted.
func (r Root) OSRelease() (map[string]string, error) {
	data, err := r.ReadFile("/etc/os-release")
	if err != nil {
		var err2 error
		if data, err2 = r.ReadFile("/usr/lib/os-release"); err2 != nil {
			return nil, fmt.Errorf("reading /etc/os-release: %w", err)
		}
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		out[k] = v
	}
	return out, nil
}

// Route is one entry of the kernel's routing table.
type Route struct {
	Iface   string
	Dest    netip.Prefix
	Gateway netip.Addr // invalid when the network is directly connected
}

// Default reports whether the route is a default route.
func (rt Route) Default() bool { return rt.Dest.Bits() == 0 }

const rtfUp = 0x1

// Routes returns the routes that are up, IPv4 from /proc/net/route and IPv6 from
// /proc/net/ipv6_route (either file may be missing).
func (r Root) Routes() ([]Route, error) {
	var routes []Route
	v4, err := r.ReadFile("/proc/net/route")
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading /proc/net/route: %w", err)
	}
	for i, line := range strings.Split(string(v4), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		dest, err2 := hexIPv4(f[1])
		gw, err3 := hexIPv4(f[2])
		mask, err4 := hexIPv4(f[7])
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("reading /proc/net/route: line %d is malformed: %q", i+1, line)
		}
		if flags&rtfUp == 0 {
			continue
		}
		ones := 0
		for _, b := range mask.As4() {
			for ; b&0x80 != 0; b <<= 1 {
				ones++
			}
		}
		rt := Route{Iface: f[0], Dest: netip.PrefixFrom(dest, ones).Masked()}
		if !gw.IsUnspecified() {
			rt.Gateway = gw
		}
		routes = append(routes, rt)
	}
	v6, err := r.ReadFile("/proc/net/ipv6_route")
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading /proc/net/ipv6_route: %w", err)
	}
	for i, line := range strings.Split(string(v6), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		dest, err1 := hexIPv6(f[0])
		bits, err2 := strconv.ParseUint(f[1], 16, 8)
		gw, err3 := hexIPv6(f[4])
		flags, err4 := strconv.ParseUint(f[8], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("reading /proc/net/ipv6_route: line %d is malformed: %q", i+1, line)
		}
		// Skip routes that are down and the loopback table's entries.
		if flags&rtfUp == 0 || f[9] == "lo" {
			continue
		}
		rt := Route{Iface: f[9], Dest: netip.PrefixFrom(dest, int(bits)).Masked()}
		if !gw.IsUnspecified() {
			rt.Gateway = gw
		}
		routes = append(routes, rt)
	}
	return routes, nil
}

// hexIPv4 decodes an address as /proc/net prints it: a 32-bit word in host byte order.
func hexIPv4(s string) (netip.Addr, error) {
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 {
		return netip.Addr{}, fmt.Errorf("bad IPv4 hex %q", s)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(n))
	return netip.AddrFrom4(b), nil
}

// hexIPv6 decodes an address of /proc/net/ipv6_route: 32 hex digits in network order.
func hexIPv6(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return netip.Addr{}, fmt.Errorf("bad IPv6 hex %q", s)
	}
	return netip.AddrFrom16([16]byte(b)), nil
}

// hexIPv6Words decodes an address of /proc/net/tcp6: four 32-bit words, each in host byte order.
func hexIPv6Words(s string) (netip.Addr, error) {
	if len(s) != 32 {
		return netip.Addr{}, fmt.Errorf("bad IPv6 hex %q", s)
	}
	var b [16]byte
	for i := 0; i < 4; i++ {
		n, err := strconv.ParseUint(s[i*8:i*8+8], 16, 32)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("bad IPv6 hex %q", s)
		}
		binary.NativeEndian.PutUint32(b[i*4:], uint32(n))
	}
	return netip.AddrFrom16(b), nil
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID, Parent int
	// MountPoint is the path as the kernel shows it (a real path, not under the Root).
	MountPoint string
	FSType     string
	Source     string
}

// Mounts returns the mount table of /proc/self/mountinfo.
func (r Root) Mounts() ([]Mount, error) {
	data, err := r.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/mountinfo: %w", err)
	}
	var out []Mount
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			return nil, fmt.Errorf("reading /proc/self/mountinfo: line %d is malformed: %q", i+1, line)
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("reading /proc/self/mountinfo: line %d is malformed: %q", i+1, line)
		}
		out = append(out, Mount{ID: id, Parent: parent, MountPoint: unescapeOctal(f[4]), FSType: g[0], Source: unescapeOctal(g[1])})
	}
	return out, nil
}

// unescapeOctal undoes the kernel's \040-style escaping of spaces, tabs, newlines and backslashes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Swap is one active swap area.
type Swap struct {
	Name      string
	SizeBytes uint64
}

// Swaps returns the active swap areas listed in /proc/swaps.
func (r Root) Swaps() ([]Swap, error) {
	data, err := r.ReadFile("/proc/swaps")
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // a kernel without swap support has no /proc/swaps
		}
		return nil, fmt.Errorf("reading /proc/swaps: %w", err)
	}
	var out []Swap
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 3 {
			continue
		}
		kb, _ := strconv.ParseUint(f[2], 10, 64)
		out = append(out, Swap{Name: unescapeOctal(f[0]), SizeBytes: kb * 1024})
	}
	return out, nil
}

// Filesystems returns the filesystem types the kernel supports now, from /proc/filesystems.
func (r Root) Filesystems() ([]string, error) {
	data, err := r.ReadFile("/proc/filesystems")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/filesystems: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[len(f)-1])
		}
	}
	return out, nil
}

// ModuleAvailable reports whether a kernel module is loaded or built in (/sys/module/NAME), or
// can be loaded (listed in /lib/modules/RELEASE/modules.dep or modules.builtin).
func (r Root) ModuleAvailable(name string) (loaded, loadable bool) {
	if r.Exists("/sys/module/" + name) {
		return true, true
	}
	rel, err := r.KernelRelease()
	if err != nil {
		return false, false
	}
	want := "/" + name + ".ko"
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		data, err := r.ReadFile(filepath.Join("/lib/modules", rel, f))
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			path, _, _ := bytes.Cut(line, []byte(":"))
			if bytes.Contains(path, []byte(want)) {
				return false, true
			}
		}
	}
	return false, false
}

// Process is one running process.
type Process struct {
	PID, PPID int
	Comm      string
	// Exe is the program's path (the /proc/PID/exe link), empty when unreadable (kernel threads).
	Exe     string
	Cmdline []string
}

// Processes lists the processes in /proc.
func (r Root) Processes() ([]Process, error) {
	entries, err := r.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := "/proc/" + e.Name()
		p := Process{PID: pid}
		stat, err := r.ReadFile(dir + "/stat")
		if err != nil {
			continue // gone since the listing
		}
		// comm sits in parentheses and may hold spaces and parentheses itself.
		open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || closing < open {
			continue
		}
		p.Comm = string(stat[open+1 : closing])
		if rest := strings.Fields(string(stat[closing+1:])); len(rest) >= 2 {
			p.PPID, _ = strconv.Atoi(rest[1])
		}
		p.Exe, _ = r.Readlink(dir + "/exe")
		p.Exe = strings.TrimSuffix(p.Exe, " (deleted)")
		if cl, err := r.ReadFile(dir + "/cmdline"); err == nil {
			for _, a := range bytes.Split(bytes.TrimRight(cl, "\x00"), []byte{0}) {
				if len(a) > 0 {
					p.Cmdline = append(p.Cmdline, string(a))
				}
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// Listener is a listening TCP socket from /proc/net/tcp or /proc/net/tcp6.
type Listener struct {
	Addr  netip.AddrPort
	Inode uint64
}

// Listeners returns the listening TCP sockets of the host's network namespace.
func (r Root) Listeners() ([]Listener, error) {
	var out []Listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := r.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for first := true; sc.Scan(); first = false {
			fields := strings.Fields(sc.Text())
			if first || len(fields) < 10 || fields[3] != "0A" { // 0A is TCP_LISTEN
				continue
			}
			host, port, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			var addr netip.Addr
			var err error
			if len(host) == 8 {
				addr, err = hexIPv4(host)
			} else {
				addr, err = hexIPv6Words(host)
			}
			pn, err2 := strconv.ParseUint(port, 16, 16)
			inode, err3 := strconv.ParseUint(fields[9], 10, 64)
			if err != nil || err2 != nil || err3 != nil {
				return nil, fmt.Errorf("reading %s: malformed line %q", f, sc.Text())
			}
			out = append(out, Listener{Addr: netip.AddrPortFrom(addr, uint16(pn)), Inode: inode})
		}
	}
	return out, nil
}

// SocketOwners maps socket inodes to the processes that hold them, from the /proc/PID/fd links.
// Processes whose descriptors cannot be read are left out.
func (r Root) SocketOwners(procs []Process) map[uint64]Process {
	out := map[uint64]Process{}
	for _, p := range procs {
		dir := fmt.Sprintf("/proc/%d/fd", p.PID)
		fds, err := r.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := r.Readlink(dir + "/" + fd.Name())
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err == nil {
				if _, seen := out[inode]; !seen {
					out[inode] = p
				}
			}
		}
	}
	return out
}

// NetInterfaces lists the network interfaces in /sys/class/net.
func (r Root) NetInterfaces() ([]string, error) {
	entries, err := r.ReadDir("/sys/class/net")
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}

// ReadSysctl reads a value under /proc/sys given as a path, e.g. "net/ipv4/ip_forward"; a
// missing key reports ok=false.
func (r Root) ReadSysctl(key string) (value string, ok bool, err error) {
	data, err := r.ReadFile("/proc/sys/" + key)
	if err != nil {
		if os.IsNotExist(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(data)), true, nil
}
