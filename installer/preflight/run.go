package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// k3s's default address ranges for pods and services.
const (
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultServiceCIDR = "10.43.0.0/16"
)

// RequiredPorts must be free for k3s: 80 and 443 for the gateway (ServiceLB binds them on the
// host), 6443 for the API server, 10250 for the kubelet.
var RequiredPorts = []int{80, 443, 6443, 10250}

// Options say what to check the host for. Profile is required; the rest has defaults.
type Options struct {
	// Root is the host filesystem every fact is read from ("/" for this machine).
	Root host.Root
	// Runner runs the few read-only commands a check needs (timedatectl).
	Runner host.Runner
	// Profile gives the CPU, memory and disk thresholds.
	Profile *profiles.Profile
	// Train limits the architectures to those it ships k3s for; nil allows amd64 and arm64.
	Train *bundles.Train
	// Domains must resolve; empty skips the DNS check with a note.
	Domains []string
	// Airgapped turns an unresolvable domain into a warning (a site DNS may serve it later to
	// clients only) instead of a failure (ACME needs public DNS).
	Airgapped bool
	// BundlePath is the air-gap bundle file (a host path), BundleDir the folder it is imported
	// into; the bundle check wants twice the bundle's size free there.
	BundlePath, BundleDir string
	// ClusterCIDR and ServiceCIDR are the pod and service ranges (k3s defaults when empty).
	ClusterCIDR, ServiceCIDR string
	// Ignore names checks not to run.
	Ignore []string

	// Ports to probe; RequiredPorts when empty.
	Ports []int
	// PortProbeHost is the address ports are bound on to probe them; all addresses when empty
	// (ServiceLB and the API server listen on all addresses).
	PortProbeHost string
	// LookupHost resolves a name; the system resolver when nil.
	LookupHost func(ctx context.Context, name string) ([]string, error)
	// InterfaceAddrs lists the addresses of each interface. When nil, this machine's interfaces
	// are read, but only when Root is "/": another root's interfaces are not this machine's.
	InterfaceAddrs func() (map[string][]netip.Prefix, error)
	// ClockSynced reports whether the clock is synchronised, with what said so; when nil,
	// `timedatectl show` is asked and, without systemd, the kernel (adjtimex).
	ClockSynced func(ctx context.Context) (bool, string, error)
	// GOOS, GOARCH and Euid default to this process's.
	GOOS, GOARCH string
	Euid         func() int
}

// env is what the checks share: the options with defaults, and facts gathered once.
type env struct {
	Options
	procs    []host.Process
	procsErr error
	procsSet bool
	k3s      k3s.Ownership
}

func (e *env) processes() ([]host.Process, error) {
	if !e.procsSet {
		e.procs, e.procsErr = e.Root.Processes()
		e.procsSet = true
	}
	return e.procs, e.procsErr
}

func (o *Options) defaults() error {
	if o.Profile == nil {
		return errors.New("preflight: no profile given (pass --profile single-small, single or ha)")
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Runner == nil {
		o.Runner = host.ExecRunner{}
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = DefaultClusterCIDR
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = DefaultServiceCIDR
	}
	for flag, v := range map[string]string{"cluster CIDR": o.ClusterCIDR, "service CIDR": o.ServiceCIDR} {
		if _, err := netip.ParsePrefix(v); err != nil {
			return fmt.Errorf("preflight: %s %q is not a CIDR (write it like %s)", flag, v, DefaultClusterCIDR)
		}
	}
	if len(o.Ports) == 0 {
		o.Ports = RequiredPorts
	}
	if o.LookupHost == nil {
		o.LookupHost = net.DefaultResolver.LookupHost
	}
	if o.InterfaceAddrs == nil && (o.Root == "/") {
		o.InterfaceAddrs = systemInterfaceAddrs
	}
	if o.ClockSynced == nil {
		runner := o.Runner
		o.ClockSynced = func(ctx context.Context) (bool, string, error) { return ClockSynced(ctx, runner) }
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.GOARCH == "" {
		o.GOARCH = runtime.GOARCH
	}
	if o.Euid == nil {
		o.Euid = os.Geteuid
	}
	if o.BundlePath != "" && o.BundleDir == "" {
		return errors.New("preflight: a bundle was given without the folder it is imported into")
	}
	return nil
}

// Run runs every host check not ignored, in catalog order. Bad options (an unknown ID in Ignore,
// a malformed CIDR, no profile) are an error before any check runs; a failed check is not an
// error here: see Report.Err.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	checks := HostChecks()
	ignore, err := ignoreSet(opts.Ignore, checks)
	if err != nil {
		return nil, err
	}
	e := &env{Options: opts, k3s: k3s.Owner(opts.Root)}
	rep := &Report{Kind: "host", Profile: opts.Profile.Name, OK: true}
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ignore[c.ID] {
			rep.add(Result{ID: c.ID, Severity: c.Severity, What: c.What, Outcome: Ignored})
			continue
		}
		rep.add(c.evaluate(c.run(ctx, e)))
	}
	return rep, nil
}

// ignoreSet checks the IDs against the catalog: an unknown one is an error listing the known.
func ignoreSet(ids []string, checks []Check) (map[string]bool, error) {
	known := map[string]bool{}
	var names []string
	for _, c := range checks {
		known[c.ID] = true
		names = append(names, c.ID)
	}
	set := map[string]bool{}
	var unknown []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !known[id] {
			unknown = append(unknown, id)
		}
		set[id] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--ignore-preflight: unknown check(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return set, nil
}

// IDs lists the IDs of checks, for flag help and completion.
func IDs(checks []Check) []string {
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.ID
	}
	return ids
}

func systemInterfaceAddrs() (map[string][]netip.Prefix, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	out := map[string][]netip.Prefix{}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("reading the addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out[ifc.Name] = append(out[ifc.Name], p)
			}
		}
	}
	return out, nil
}

// ClockSynced asks systemd-timesyncd/chrony through timedatectl; without systemd (a
// container, an init-less VM) it asks the kernel, which knows whether an NTP daemon disciplines
// the clock.
func ClockSynced(ctx context.Context, r host.Runner) (bool, string, error) {
	out, err := r.Run(ctx, host.Command("timedatectl", "show", "--property=NTPSynchronized", "--value"))
	if err == nil {
		v := strings.TrimSpace(string(out))
		return v == "yes", "timedatectl says NTPSynchronized=" + v, nil
	}
	var tx unix.Timex
	state, aerr := unix.Adjtimex(&tx)
	if aerr != nil {
		return false, "", fmt.Errorf("asking whether the clock is synchronised: timedatectl: %v; adjtimex: %w", err, aerr)
	}
	synced := state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
	return synced, "the kernel (adjtimex) says the clock is " + map[bool]string{true: "synchronised", false: "not synchronised"}[synced], nil
}

// lookupTimeout bounds one DNS lookup: a resolver that does not answer is a finding, not a hang.
const lookupTimeout = 5 * time.Second
