package supportbundle

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// hostFacts are what the host tells about itself.
type hostFacts struct {
	Hostname  string            `json:"hostname,omitempty"`
	OSRelease map[string]string `json:"osRelease,omitempty"`
	Kernel    string            `json:"kernel,omitempty"`
	CPUs      int               `json:"cpus,omitempty"`
	Uptime    string            `json:"uptime,omitempty"`
	LoadAvg   string            `json:"loadavg,omitempty"`
	// Memory holds /proc/meminfo's main lines, in bytes.
	Memory  map[string]uint64 `json:"memory,omitempty"`
	Disks   []diskFacts       `json:"disks"`
	Service string            `json:"k3sService,omitempty"`
	Errors  []string          `json:"errors,omitempty"`
}

// diskFacts are the space and inodes of the filesystem holding Path.
type diskFacts struct {
	Role        string  `json:"role"`
	Path        string  `json:"path"`
	Measured    string  `json:"measured"`
	TotalBytes  uint64  `json:"totalBytes"`
	FreeBytes   uint64  `json:"freeBytes"`
	UsedPercent float64 `json:"usedPercent"`
	Inodes      uint64  `json:"inodes"`
	FreeInodes  uint64  `json:"freeInodes"`
}

var memoryKeys = []string{"MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached", "SwapTotal", "SwapFree"}

// k3sJournalLines is how much of k3s's journal is asked for.
const k3sJournalLines = 5000

func collectHost(ctx context.Context, b *bundle, h *Host, stateDir string, limit int64) {
	var f hostFacts
	note := func(what string, err error) { f.Errors = append(f.Errors, fmt.Sprintf("%s: %v", what, err)) }
	var err error
	if f.Hostname, err = h.Root.Hostname(); err != nil {
		note("hostname", err)
	}
	if f.OSRelease, err = h.Root.OSRelease(); err != nil {
		note("os-release", err)
	}
	if f.Kernel, err = h.Root.KernelRelease(); err != nil {
		note("kernel", err)
	}
	if f.CPUs, err = h.Root.CPUCount(); err != nil {
		note("cpus", err)
	}
	for _, p := range []struct {
		field *string
		file  string
	}{{&f.Uptime, "/proc/uptime"}, {&f.LoadAvg, "/proc/loadavg"}} {
		if data, err := h.Root.ReadFile(p.file); err == nil {
			*p.field = strings.TrimSpace(string(data))
		}
	}
	f.Memory, err = meminfo(h.Root)
	if err != nil {
		note("memory", err)
	}
	for _, d := range []struct{ role, path string }{{"state", h.Root.HostPath(stateDir)}, {"k3s data", h.DataDir}, {"volumes", h.VolumesDir}} {
		if d.path == "" {
			continue
		}
		df, err := disk(h.Root, d.role, d.path)
		if err != nil {
			note("disk of "+d.role, err)
			continue
		}
		f.Disks = append(f.Disks, df)
	}
	if h.Service != "" && h.Runner != nil {
		if _, state, err := (host.Systemd{Runner: h.Runner, Root: h.Root}).IsActive(ctx, h.Service); err == nil {
			f.Service = h.Service + ": " + state
		} else {
			note("k3s service", err)
		}
		out, err := h.Runner.Run(ctx, host.Command("journalctl", "-u", h.Service, "--no-pager", "-o", "short-iso", "-n", strconv.Itoa(k3sJournalLines)))
		if err != nil {
			b.fail("the k3s journal", err)
		} else {
			keep := &tailKeeper{limit: int(limit)}
			w := b.r.Writer(keep)
			w.Write(out)
			w.Close()
			data, dropped := keep.bytes()
			cut := ""
			if dropped {
				cut = fmt.Sprintf("only the last %d bytes kept", limit)
			}
			b.addRedacted("node/k3s.journal.log", fmt.Sprintf("the last %d lines of %s's journal", k3sJournalLines, h.Service), data, cut)
		}
	}
	b.addJSON("node/host.json", "the host: OS, kernel, memory, disk and inode use of the state, data and volume folders", f)
}

func meminfo(r host.Root) (map[string]uint64, error) {
	data, err := r.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		key := strings.TrimSuffix(fields[0], ":")
		for _, k := range memoryKeys {
			if k == key {
				if n, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
					out[key] = n * 1024
				}
			}
		}
	}
	return out, nil
}

// disk measures the filesystem of host path p (its nearest existing
// folder, as host.Root.FreeSpace does), inodes included.
func disk(r host.Root, role, p string) (diskFacts, error) {
	space, err := r.FreeSpace(p)
	if err != nil {
		return diskFacts{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(r.Path(space.Measured), &st); err != nil {
		return diskFacts{}, fmt.Errorf("measuring inodes at %s: %w", space.Measured, err)
	}
	d := diskFacts{Role: role, Path: p, Measured: space.Measured, TotalBytes: space.Total, FreeBytes: space.Free, Inodes: st.Files, FreeInodes: st.Ffree}
	if space.Total > 0 {
		d.UsedPercent = float64(int(1000*float64(space.Total-space.Free)/float64(space.Total))) / 10
	}
	return d, nil
}
