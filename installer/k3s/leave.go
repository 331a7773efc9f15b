package k3s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// LeaveUnit is the transient systemd unit that resets a host leaving the cluster.
const LeaveUnit = "docs-appliance-leave"

// LeaveBinary is where Leave puts this program on the host for its reset: tmpfs, so nothing of it
// outlives a reboot, and outside every folder the reset removes.
const LeaveBinary = "/run/docs-appliance-leave/docs-appliance"

// Leave is what `node remove` runs on the node leaving, in a pod there with the host's / at Root:
// the host's own `docs-appliance reset --yes`, which stops k3s and every pod (this one too) and
// removes k3s and the appliance's files, keeping the volumes and the age key as reset does. A
// pod cannot run that to its end, so the host's systemd does: a transient unit (systemd-run,
// chrooted into Root) started by a timer Delay later, so the pod reports that it handed over
// before the kubelet goes.
type Leave struct {
	Root host.Root
	// Runner runs the host's systemctl and systemd-run (an ExecRunner chrooted into Root).
	Runner host.Runner
	// Self is this program, in the pod's filesystem.
	Self string
	// Delay is how long after the hand-over the reset starts (5 s when zero).
	Delay time.Duration
}

// Run hands the reset over to the host's systemd and says what it did. A k3s the appliance did
// not install is refused before anything is written; a reset already handed over is not asked
// twice.
func (l *Leave) Run(ctx context.Context) (string, error) {
	unit, err := OwnedUnit(l.Root)
	if err != nil {
		return "", err
	}
	if _, err := l.Runner.Run(ctx, host.Command("systemctl", "is-active", "--quiet", LeaveUnit+".timer", LeaveUnit+".service")); err == nil {
		return fmt.Sprintf("the reset of this host was handed to %s already (journalctl -u %s here says how it went)", LeaveUnit, LeaveUnit), nil
	} else if ce := (*host.CommandError)(nil); !errors.As(err, &ce) || ce.ExitCode < 0 {
		return "", fmt.Errorf("asking the host's systemd about %s: %w", LeaveUnit, err)
	}
	stateDir, err := l.stateDir()
	if err != nil {
		return "", err
	}
	f, err := os.Open(l.Self)
	if err != nil {
		return "", fmt.Errorf("opening this program to hand the reset over: %w", err)
	}
	defer f.Close()
	if err := l.Root.MkdirAll(path.Dir(LeaveBinary), 0o700); err != nil {
		return "", err
	}
	if _, _, err := l.Root.WriteStream(LeaveBinary, f, 0o700, ""); err != nil {
		return "", fmt.Errorf("putting this program at %s for the reset: %w", LeaveBinary, err)
	}
	delay := l.Delay
	if delay == 0 {
		delay = 5 * time.Second
	}
	// A failed earlier hand-over may have left its unit behind; --collect drops it once done.
	_, _ = l.Runner.Run(ctx, host.Command("systemctl", "reset-failed", LeaveUnit+".service"))
	run := host.Command("systemd-run", "--unit", LeaveUnit, "--description", "docs-appliance: this node leaves its cluster",
		"--collect", "--on-active", strconv.Itoa(int(delay.Seconds()))+"s", "--timer-property", "AccuracySec=100ms",
		"--property", "Type=oneshot", LeaveBinary, "reset", "--yes", "--state-dir", stateDir)
	if _, err := l.Runner.Run(ctx, run); err != nil {
		return "", fmt.Errorf("handing the reset of this host to systemd: %w", err)
	}
	return fmt.Sprintf("%s (%s) and the appliance's files go in %s: %s runs docs-appliance reset --state-dir %s (journalctl -u %s here says how it went)",
		unit, BinaryPath, delay, LeaveUnit, stateDir, LeaveUnit), nil
}

// stateDir is the host's state folder: the folder whose volumes/ the host's k3s config names as
// its local storage (a server's, as the appliance rendered it), else the default.
func (l *Leave) stateDir() (string, error) {
	const fallback = "/var/lib/docs-appliance"
	data, err := l.Root.ReadFile(ConfigPath)
	if errors.Is(err, os.ErrNotExist) {
		return fallback, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	var c struct {
		Storage string `json:"default-local-storage-path"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	if c.Storage != "" && path.IsAbs(c.Storage) && path.Base(c.Storage) == "volumes" && strings.Count(c.Storage, "/") > 1 {
		return path.Dir(path.Clean(c.Storage)), nil
	}
	return fallback, nil
}
