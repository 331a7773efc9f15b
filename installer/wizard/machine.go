package wizard

import (
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// DataPath is the folder whose filesystem holds the cluster's data (k3s,
// volumes); its free space is shown next to each profile.
const DataPath = "/var/lib/rancher"

// Machine is what this host has, shown next to each profile's minimums.
// A zero field is unknown and never held against a profile.
type Machine struct {
	CPUs        int
	MemoryGiB   float64
	DiskFreeGiB float64
	// DiskPath is the folder whose filesystem was measured.
	DiskPath string
}

// ReadMachine reads the processors, memory and the free space under
// DataPath from the host under root.
func ReadMachine(root host.Root) (Machine, error) {
	var m Machine
	cpus, err := root.CPUCount()
	if err != nil {
		return m, fmt.Errorf("reading this machine's processors: %w", err)
	}
	mem, err := root.MemTotal()
	if err != nil {
		return m, fmt.Errorf("reading this machine's memory: %w", err)
	}
	disk, err := root.FreeSpace(DataPath)
	if err != nil {
		return m, fmt.Errorf("reading this machine's free disk space: %w", err)
	}
	const gib = 1 << 30
	m.CPUs, m.MemoryGiB, m.DiskFreeGiB, m.DiskPath = cpus, float64(mem)/gib, float64(disk.Free)/gib, disk.Measured
	return m, nil
}

// Shortfalls lists what this machine lacks for a profile, e.g.
// "4 CPUs (has 2)"; empty when it meets every minimum.
func (m Machine) Shortfalls(p *profiles.Profile) []string {
	var s []string
	if m.CPUs > 0 && m.CPUs < p.Host.MinCPU {
		s = append(s, fmt.Sprintf("%d CPUs (has %d)", p.Host.MinCPU, m.CPUs))
	}
	// /proc/meminfo leaves out the kernel's own share: allow 5 %.
	if m.MemoryGiB > 0 && m.MemoryGiB < float64(p.Host.MinMemoryGiB)*0.95 {
		s = append(s, fmt.Sprintf("%d GiB memory (has %.1f)", p.Host.MinMemoryGiB, m.MemoryGiB))
	}
	if m.DiskFreeGiB > 0 && m.DiskFreeGiB < float64(p.Host.MinDiskGiB) {
		s = append(s, fmt.Sprintf("%d GiB free disk (has %.0f)", p.Host.MinDiskGiB, m.DiskFreeGiB))
	}
	return s
}

// Describe is the line shown beside a profile: its minimums, and what
// this machine has against each.
func (m Machine) Describe(p *profiles.Profile) string {
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "too few"
	}
	servers := ""
	if p.Servers > 1 {
		servers = fmt.Sprintf("%d servers, each ", p.Servers)
	}
	need := fmt.Sprintf("%s%d CPU, %d GiB, %d GiB disk", servers, p.Host.MinCPU, p.Host.MinMemoryGiB, p.Host.MinDiskGiB)
	var has []string
	if m.CPUs > 0 {
		has = append(has, fmt.Sprintf("%d CPU %s", m.CPUs, mark(m.CPUs >= p.Host.MinCPU)))
	}
	if m.MemoryGiB > 0 {
		has = append(has, fmt.Sprintf("%.1f GiB %s", m.MemoryGiB, mark(m.MemoryGiB >= float64(p.Host.MinMemoryGiB)*0.95)))
	}
	if m.DiskFreeGiB > 0 {
		has = append(has, fmt.Sprintf("%.0f GiB free %s", m.DiskFreeGiB, mark(m.DiskFreeGiB >= float64(p.Host.MinDiskGiB))))
	}
	if len(has) == 0 {
		return "needs " + need
	}
	return "needs " + need + "; this machine: " + strings.Join(has, ", ")
}

// bestProfile is the largest one-server profile this machine meets, or
// the smallest one when it meets none.
func (m Machine) bestProfile() string {
	var best, smallest *profiles.Profile
	for _, name := range profiles.Names() {
		p, err := profiles.Get(name)
		if err != nil || p.Servers > 1 {
			continue
		}
		if smallest == nil || p.Host.MinCPU < smallest.Host.MinCPU {
			smallest = p
		}
		if len(m.Shortfalls(p)) == 0 && (best == nil || p.Host.MinCPU > best.Host.MinCPU) {
			best = p
		}
	}
	switch {
	case best != nil:
		return best.Name
	case smallest != nil:
		return smallest.Name
	}
	return ""
}
