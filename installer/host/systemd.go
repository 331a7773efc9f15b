package host

import (
	"context"
	"fmt"
	"strings"
)

// UnitDir is where the installer writes its systemd units.
const UnitDir = "/etc/systemd/system"

// Systemd manages units through systemctl, run by the Runner; the unit files themselves are
// written through a Root. Which units are enabled is read from the filesystem (the
// multi-user.target.wants link that `systemctl enable` makes), so a fact needs no command.
type Systemd struct {
	Runner Runner
	Root   Root
}

func (s Systemd) systemctl(ctx context.Context, args ...string) error {
	_, err := s.Runner.Run(ctx, Command(append([]string{"systemctl"}, args...)...))
	return err
}

// DaemonReload makes systemd read changed unit files.
func (s Systemd) DaemonReload(ctx context.Context) error {
	if err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return fmt.Errorf("reloading systemd units: %w", err)
	}
	return nil
}

// EnableNow enables unit at boot and starts it.
func (s Systemd) EnableNow(ctx context.Context, unit string) error {
	if err := s.systemctl(ctx, "enable", "--now", unit); err != nil {
		return fmt.Errorf("enabling and starting %s: %w", unit, err)
	}
	return nil
}

// Restart restarts unit.
func (s Systemd) Restart(ctx context.Context, unit string) error {
	if err := s.systemctl(ctx, "restart", unit); err != nil {
		return fmt.Errorf("restarting %s: %w", unit, err)
	}
	return nil
}

// DisableNow stops unit and disables it at boot.
func (s Systemd) DisableNow(ctx context.Context, unit string) error {
	if err := s.systemctl(ctx, "disable", "--now", unit); err != nil {
		return fmt.Errorf("stopping and disabling %s: %w", unit, err)
	}
	return nil
}

// ResetFailed forgets a failed unit's state, so a removed unit leaves nothing in `systemctl --failed`.
func (s Systemd) ResetFailed(ctx context.Context, unit string) error {
	if err := s.systemctl(ctx, "reset-failed", unit); err != nil && ExitCodeOf(err) != 1 {
		// exit 1: the unit is not loaded or not failed, which is what we want anyway.
		return fmt.Errorf("resetting the failed state of %s: %w", unit, err)
	}
	return nil
}

// IsActive asks systemd whether unit is running. `systemctl is-active` exits non-zero for every
// other state, which is an answer, not an error; only a systemctl that cannot run is an error.
func (s Systemd) IsActive(ctx context.Context, unit string) (bool, string, error) {
	out, err := s.Runner.Run(ctx, Command("systemctl", "is-active", unit))
	state := strings.TrimSpace(string(out))
	if err == nil {
		return state == "active", state, nil
	}
	if code := ExitCodeOf(err); code > 0 {
		if state == "" {
			state = "inactive"
		}
		return false, state, nil
	}
	return false, "", fmt.Errorf("asking systemd whether %s runs: %w", unit, err)
}

// UnitPath is the host path of a unit file the installer writes.
func UnitPath(unit string) string { return UnitDir + "/" + unit }

// EnabledLink is the link `systemctl enable` makes for a unit wanted by multi-user.target.
func EnabledLink(unit string) string { return UnitDir + "/multi-user.target.wants/" + unit }

// Enabled reports whether unit is enabled at boot, from its multi-user.target.wants link.
func (s Systemd) Enabled(unit string) bool { return s.Root.Exists(EnabledLink(unit)) }
