package k3s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Swap is what a rollout runs on a node other than the one upgrading: inside a pod on that node,
// the host's / mounted at Root. The pinned binary takes the place of the host's k3s (atomically,
// its checksum verified first), then the host's own systemd restarts the service (systemctl with
// Root as its root). The unit kills only the k3s process (KillMode=process), so the node's
// containers, the pod's own included, keep running while k3s comes back on the new version.
type Swap struct {
	Root host.Root
	// Runner runs the host's systemctl (an ExecRunner chrooted into Root in the pod).
	Runner host.Runner
	// Binary is the new k3s, in the pod's own filesystem; SHA256 its pinned sum.
	Binary, SHA256 string
}

// ErrNotOurs: the host's k3s unit is missing or not the appliance's, so its binary is left alone.
var ErrNotOurs = errors.New("k3s on this host was not installed by docs-appliance")

// Run swaps the binary when it differs and restarts the service; it says what it did.
func (s *Swap) Run(ctx context.Context) (string, error) {
	unit, err := OwnedUnit(s.Root)
	if err != nil {
		return "", err
	}
	f, err := os.Open(s.Binary)
	if err != nil {
		return "", fmt.Errorf("opening the new k3s binary: %w", err)
	}
	defer f.Close()
	_, changed, err := s.Root.WriteStream(BinaryPath, f, 0o755, s.SHA256)
	if err != nil {
		return "", fmt.Errorf("putting the new k3s in place of %s: %w", BinaryPath, err)
	}
	if _, err := s.Runner.Run(ctx, host.Command("systemctl", "restart", "--no-block", unit)); err != nil {
		return "", fmt.Errorf("restarting %s: %w", unit, err)
	}
	if !changed {
		return fmt.Sprintf("%s already held this k3s (sha256 %s); %s restarted", BinaryPath, s.SHA256, unit), nil
	}
	return fmt.Sprintf("%s replaced (sha256 %s); %s restarted", BinaryPath, s.SHA256, unit), nil
}

// OwnedUnit is the host's k3s unit, server's or agent's, as long as the appliance wrote it; a
// unit without the marker, or none, is ErrNotOurs.
func OwnedUnit(root host.Root) (string, error) {
	for _, u := range []struct{ name, path string }{{Unit, UnitPath}, {AgentUnit, AgentUnitPath}} {
		data, err := root.ReadFile(u.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", u.path, err)
		}
		if !bytes.Contains(data, []byte(Marker)) {
			return "", fmt.Errorf("%w: %s has no docs-appliance marker (upgrade that k3s the way it was installed)", ErrNotOurs, u.path)
		}
		return u.name, nil
	}
	return "", fmt.Errorf("%w: neither %s nor %s exists", ErrNotOurs, UnitPath, AgentUnitPath)
}
