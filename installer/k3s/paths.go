package k3s

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Host paths of a k3s installation, as the k3s install script lays them out (so operators and
// k3s's own docs find things where they expect).
const (
	BinaryPath     = "/usr/local/bin/k3s"
	ConfigDir      = "/etc/rancher/k3s"
	ConfigPath     = ConfigDir + "/config.yaml"
	RegistriesPath = ConfigDir + "/registries.yaml"
	// KubeconfigPath is where k3s writes the admin kubeconfig (mode from write-kubeconfig-mode).
	KubeconfigPath = ConfigDir + "/k3s.yaml"
	// AppliedPath records what the running k3s was last (re)started with, so a rerun knows
	// whether a restart is still owed even when it was killed between writing and restarting.
	AppliedPath = ConfigDir + "/docs-appliance-applied.json"
	NodeDir     = "/etc/rancher/node"
	DataDir     = "/var/lib/rancher/k3s"
	ImagesDir   = DataDir + "/agent/images"
	RunDir      = "/run/k3s"
	// ContainerdSocket is the socket of the containerd k3s runs.
	ContainerdSocket = RunDir + "/containerd/containerd.sock"
	Unit             = "k3s.service"
	// EnvPath holds the service's environment (the cluster token): 0600.
	EnvPath = host.UnitDir + "/k3s.service.env"
	// Marker heads every file the appliance writes for k3s; a unit without it is someone else's k3s.
	Marker = "# Managed by docs-appliance: changes are overwritten by the next install or upgrade."
)

// VolumesDir is where k3s's local-path provisioner keeps the appliance's volumes (the database,
// the object store holding the database backups and the documents' files, ...): the state
// folder's volumes/ (host path), rendered as k3s's default-local-storage-path. Outside DataDir,
// so a reset that removes k3s keeps them; in the state folder, so they follow --state-dir to
// whichever disk the operator chose for the appliance's data, and `reset --purge` removing that
// folder removes them with it.
func VolumesDir(stateDir string) string { return filepath.Join(stateDir, "volumes") }

// LegacyVolumesDir is where k3s keeps local-path volumes when default-local-storage-path is not
// set, as it was not before the appliance set it: inside DataDir.
const LegacyVolumesDir = DataDir + "/storage"

// UnitPath is the host path of the k3s systemd unit.
var UnitPath = host.UnitPath(Unit)

// Tools are the symlinks to the k3s binary that the k3s install script makes too.
var Tools = []string{"/usr/local/bin/kubectl", "/usr/local/bin/crictl", "/usr/local/bin/ctr"}

// Ownership says whether k3s is on the host and whether this appliance put it there.
type Ownership struct {
	// Present: a k3s binary, unit or data folder exists.
	Present bool
	// Ours: the k3s unit (or, on a host joined as an agent, k3s-agent's) carries the appliance's Marker.
	Ours bool
}

// Owner inspects the host for k3s.
func Owner(root host.Root) Ownership {
	var o Ownership
	for _, p := range []string{BinaryPath, UnitPath, DataDir, host.UnitPath("k3s-agent.service")} {
		if root.Exists(p) {
			o.Present = true
		}
	}
	for _, u := range []string{UnitPath, AgentUnitPath} {
		if unit, err := root.ReadFile(u); err == nil && bytes.Contains(unit, []byte(Marker)) {
			o.Ours = true
		}
	}
	return o
}

// IsK3sProcess reports whether a process belongs to a k3s installation: the k3s binary itself,
// or a program k3s unpacked under its data folder (containerd, the shims, runc). Process
// executables are host paths as the kernel shows them.
func IsK3sProcess(p host.Process) bool {
	exe := p.Exe
	if exe == BinaryPath || strings.HasPrefix(exe, DataDir+"/") {
		return true
	}
	// k3s re-executes itself as "k3s server"/"k3s agent" and names itself k3s-server/k3s-agent.
	if exe == "" && (p.Comm == "k3s-server" || p.Comm == "k3s-agent" || p.Comm == "k3s-init") {
		return true
	}
	for _, a := range p.Cmdline {
		if a == ContainerdSocket || strings.HasPrefix(a, filepath.Join(DataDir, "data")+"/") {
			return true
		}
	}
	return false
}
