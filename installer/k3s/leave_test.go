package k3s

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
)

// inactive makes the recorder answer systemctl is-active as systemd does for a unit not running.
func inactive(rec *host.Recorder) {
	rec.Reply([]string{"systemctl", "is-active"}, "", 3)
}

func self(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docs-appliance")
	if err := os.WriteFile(p, []byte("this program"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeaveHandsTheHostsResetToSystemd(t *testing.T) {
	for _, c := range []struct {
		name, unitPath, config, stateDir string
	}{
		{"server", UnitPath, Marker + "\ndefault-local-storage-path: /srv/docs/volumes\n", "/srv/docs"},
		{"agent", AgentUnitPath, Marker + "\nserver: https://10.0.0.1:6443\n", "/var/lib/docs-appliance"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := hosttest.New(t).Write(c.unitPath, Marker+"\n[Service]\n").Write(ConfigPath, c.config)
			rec := &host.Recorder{}
			inactive(rec)
			said, err := (&Leave{Root: tr.Root, Runner: rec, Self: self(t)}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Read(LeaveBinary); got != "this program" {
				t.Errorf("%s holds %q", LeaveBinary, got)
			}
			if fi, _ := tr.Root.Lstat(LeaveBinary); fi.Mode().Perm() != 0o700 {
				t.Errorf("%s has mode %v, want 0700", LeaveBinary, fi.Mode())
			}
			lines := rec.Lines()
			want := "systemd-run --unit " + LeaveUnit + " --description \"docs-appliance: this node leaves its cluster\" --collect --on-active 5s --timer-property AccuracySec=100ms --property Type=oneshot " +
				LeaveBinary + " reset --yes --state-dir " + c.stateDir
			if got := rec.Commands()[len(lines)-1].String(); got != want {
				t.Errorf("last ran\n %s\nwant\n %s", got, want)
			}
			if !strings.Contains(said, c.stateDir) || !strings.Contains(said, "journalctl -u "+LeaveUnit) {
				t.Errorf("said %q", said)
			}
			// The reset handed over already (the pod killed after it, the Job run again): not twice.
			rec.Reset()
			rec.Reply([]string{"systemctl", "is-active"}, "", 0)
			said, err = (&Leave{Root: tr.Root, Runner: rec, Self: self(t)}).Run(context.Background())
			if err != nil || !strings.Contains(said, "already") {
				t.Errorf("rerun: %q %v", said, err)
			}
			for _, l := range rec.Lines() {
				if strings.HasPrefix(l, "systemd-run") {
					t.Errorf("a second hand-over: %s", l)
				}
			}
		})
	}
}

func TestLeaveRefusesAK3sNotOursAndWritesNothing(t *testing.T) {
	for name, tr := range map[string]*hosttest.Tree{
		"someone else's": hosttest.New(t).Write(UnitPath, "[Service]\nExecStart=/usr/local/bin/k3s server\n"),
		"no k3s":         hosttest.New(t),
	} {
		rec := &host.Recorder{}
		inactive(rec)
		_, err := (&Leave{Root: tr.Root, Runner: rec, Self: self(t)}).Run(context.Background())
		if !errors.Is(err, ErrNotOurs) {
			t.Errorf("%s: %v, want ErrNotOurs", name, err)
		}
		if _, err := tr.Root.Lstat(LeaveBinary); !errors.Is(err, os.ErrNotExist) || len(rec.Lines()) != 0 {
			t.Errorf("%s: wrote %s (%v) or ran %v", name, LeaveBinary, err, rec.Lines())
		}
	}
}

func TestLeaveStopsWhenSystemdCannotBeAsked(t *testing.T) {
	tr := hosttest.New(t).Write(UnitPath, Marker+"\n")
	rec := &host.Recorder{}
	rec.Missing("systemctl")
	if _, err := (&Leave{Root: tr.Root, Runner: rec, Self: self(t)}).Run(context.Background()); err == nil || !errors.Is(err, host.ErrNotFound) {
		t.Errorf("no systemctl: %v", err)
	}
	if _, err := tr.Root.Lstat(LeaveBinary); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote %s with no systemd to run it", LeaveBinary)
	}
}
