package doctor

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

// Headroom below which the disk checks warn and fail: a database that
// cannot write its WAL stops, and so does everything waiting on it.
const (
	diskWarnFree = 0.15
	diskFailFree = 0.05
	// certWarnDays: k3s renews its certificates on a restart within 90
	// days of expiry; warn a month before that window closes.
	certWarnDays = 30
)

func hostChecks() []Check {
	return []Check{
		{ID: "host-disk", Group: "host", Title: "disk and inode headroom on the data and volume paths", Run: checkDisk},
		{ID: "host-memory", Group: "host", Title: "memory pressure", Run: checkMemoryPressure},
		{ID: "host-clock", Group: "host", Title: "clock synchronised", Run: checkHostClock},
		{ID: "host-k3s-service", Group: "host", Title: "k3s service running", Run: checkK3sService},
		{ID: "host-k3s-certificates", Group: "host", Title: "k3s certificates valid", Run: checkK3sCertificates},
	}
}

func notOnHost() Finding {
	return Skip("the appliance runs on an existing cluster (--kubeconfig): its hosts are not this one's to check")
}

func checkDisk(_ context.Context, e *Env) Finding {
	if e.Host == nil {
		return notOnHost()
	}
	var worst Finding = Pass("")
	var lines []string
	for _, p := range dedupePaths(e.StateDir, e.Host.VolumesDir, e.Host.DataDir) {
		full := e.Host.Root.Path(existingParent(e.Host.Root, p))
		var fs syscall.Statfs_t
		if err := syscall.Statfs(full, &fs); err != nil {
			return Fail("check that "+p+" is mounted and readable", "reading the free space of %s: %v", p, err)
		}
		free := float64(fs.Bavail) / float64(max(fs.Blocks, 1))
		ifree := float64(fs.Ffree) / float64(max(fs.Files, 1))
		if fs.Files == 0 { // filesystems without inode limits (btrfs) report none
			ifree = 1
		}
		lines = append(lines, fmt.Sprintf("%s %s free (%.0f%%), %.0f%% inodes free", p, bytesText(fs.Bavail*uint64(fs.Bsize)), free*100, ifree*100))
		low := min(free, ifree)
		what := "space"
		if ifree < free {
			what = "inodes"
		}
		fix := fmt.Sprintf("free %s on the filesystem of %s (old images: k3s crictl rmi --prune; logs: journalctl --vacuum-size=500M) or grow it", what, p)
		switch {
		case low < diskFailFree && worst.Outcome != Failed:
			worst = Fail(fix, "%s: only %.1f%% %s free", p, low*100, what)
		case low < diskWarnFree && worst.Outcome == Passed:
			worst = Warn(fix, "%s: %.1f%% %s free", p, low*100, what)
		}
	}
	if worst.Outcome == Passed {
		return Pass("%s", strings.Join(lines, "; "))
	}
	return worst
}

// existingParent walks up to a folder that exists (a volumes folder may
// not be made yet): its filesystem is the one the path will use.
func existingParent(r host.Root, p string) string {
	for p != "/" && p != "." && !r.Exists(p) {
		p = path.Dir(p)
	}
	return p
}

func dedupePaths(paths ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func bytesText(n uint64) string {
	const gib = 1 << 30
	if n >= gib {
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// checkMemoryPressure reads the kernel's pressure stall information when
// it has it (the share of time tasks waited for memory), else the
// available memory.
func checkMemoryPressure(_ context.Context, e *Env) Finding {
	if e.Host == nil {
		return notOnHost()
	}
	fix := "add memory to this server, or move to a larger profile's server (see docs-appliance preflight --profile)"
	avail, total, err := meminfo(e.Host.Root)
	if err != nil {
		return Fail("check that /proc is mounted", "%v", err)
	}
	share := float64(avail) / float64(max(total, 1))
	detail := fmt.Sprintf("%s of %s available", bytesText(avail), bytesText(total))
	if data, err := e.Host.Root.ReadFile("/proc/pressure/memory"); err == nil {
		if avg10, ok := psiAvg10(string(data), "full"); ok {
			detail += fmt.Sprintf(", stalled %.1f%% of the last 10 s", avg10)
			if avg10 >= 10 {
				return Fail(fix, "%s: the server is thrashing", detail)
			}
			if avg10 >= 1 {
				return Warn(fix, "%s", detail)
			}
		}
	}
	switch {
	case share < 0.05:
		return Fail(fix, "%s", detail)
	case share < 0.10:
		return Warn(fix, "%s", detail)
	}
	return Pass("%s", detail)
}

func meminfo(r host.Root) (avail, total uint64, err error) {
	data, err := r.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, fmt.Errorf("reading /proc/meminfo: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = n << 10
		case "MemAvailable:":
			avail = n << 10
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("reading /proc/meminfo: no MemTotal line")
	}
	return avail, total, nil
}

// psiAvg10 reads "full avg10=1.23 ..." from a pressure file.
func psiAvg10(data, kind string) (float64, bool) {
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != kind {
			continue
		}
		if v, ok := strings.CutPrefix(f[1], "avg10="); ok {
			x, err := strconv.ParseFloat(v, 64)
			return x, err == nil
		}
	}
	return 0, false
}

func checkHostClock(ctx context.Context, e *Env) Finding {
	if e.Host == nil {
		return notOnHost()
	}
	synced, how, err := preflight.ClockSynced(ctx, e.Host.Runner)
	fix := "enable time synchronisation (timedatectl set-ntp true, or chrony): certificates, tokens and backups' times depend on it"
	if err != nil {
		return Warn(fix, "%v", err)
	}
	if !synced {
		return Warn(fix, "%s", how)
	}
	return Pass("%s", how)
}

func checkK3sService(ctx context.Context, e *Env) Finding {
	if e.Host == nil {
		return notOnHost()
	}
	sd := host.Systemd{Runner: e.Host.Runner, Root: e.Host.Root}
	active, state, err := sd.IsActive(ctx, e.Host.Service)
	if err != nil {
		return Fail("check that systemd runs on this host", "%v", err)
	}
	if !active {
		return Fail(fmt.Sprintf("start it: systemctl start %s; if it stops again, read journalctl -u %s -n 100", e.Host.Service, e.Host.Service),
			"%s is %s", e.Host.Service, state)
	}
	if !sd.Enabled(e.Host.Service) {
		return Warn("systemctl enable "+e.Host.Service+" (otherwise the appliance stays down after a reboot)", "%s runs but does not start at boot", e.Host.Service)
	}
	return Pass("%s is active and enabled", e.Host.Service)
}

// checkK3sCertificates reads every certificate k3s made for its server
// (they last 12 months; k3s renews them only on a restart within 90 days
// of expiry) and reports the soonest expiry.
func checkK3sCertificates(_ context.Context, e *Env) Finding {
	if e.Host == nil {
		return notOnHost()
	}
	dir := path.Join(e.Host.DataDir, "server/tls")
	entries, err := e.Host.Root.ReadDir(dir)
	if err != nil {
		return Fail("check that k3s runs as a server on this host (its certificates are in "+dir+")", "reading %s: %v", dir, err)
	}
	type cert struct {
		name string
		end  time.Time
	}
	var certs []cert
	for _, de := range entries {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".crt") {
			continue
		}
		data, err := e.Host.Root.ReadFile(path.Join(dir, de.Name()))
		if err != nil {
			return Fail("check the permissions of "+dir, "reading %s: %v", de.Name(), err)
		}
		if b, _ := pem.Decode(data); b != nil {
			if c, err := x509.ParseCertificate(b.Bytes); err == nil {
				certs = append(certs, cert{de.Name(), c.NotAfter})
			}
		}
	}
	if len(certs) == 0 {
		return Fail("check that k3s runs as a server on this host", "no certificate in %s", dir)
	}
	sort.Slice(certs, func(a, b int) bool { return certs[a].end.Before(certs[b].end) })
	first := certs[0]
	days := int(first.end.Sub(e.now()).Hours() / 24)
	fix := "restart k3s to renew its certificates (systemctl restart k3s: it renews those within 90 days of expiry), or run k3s certificate rotate"
	switch {
	case days < 0:
		return Fail(fix, "%s expired %d day(s) ago: the API server refuses its clients", first.name, -days)
	case days < certWarnDays:
		return Warn(fix, "%s expires in %d day(s) (%s)", first.name, days, first.end.Format("2006-01-02"))
	}
	return Pass("%d certificates, the first to expire is %s in %d days", len(certs), first.name, days)
}
