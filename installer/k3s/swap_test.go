package k3s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
)

func newBinary(t *testing.T, content string) (path, sum string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "k3s")
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(content))
	return path, hex.EncodeToString(h[:])
}

func TestSwapReplacesTheBinaryAndRestartsTheUnitItFinds(t *testing.T) {
	for _, c := range []struct{ name, unitPath, unit string }{
		{"server", UnitPath, Unit},
		{"agent", AgentUnitPath, AgentUnit},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := hosttest.New(t).Write(c.unitPath, Marker+"\n[Service]\n").Write(BinaryPath, "old k3s")
			bin, sum := newBinary(t, "new k3s")
			rec := &host.Recorder{}
			s := &Swap{Root: tr.Root, Runner: rec, Binary: bin, SHA256: sum}
			said, err := s.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Read(BinaryPath); got != "new k3s" {
				t.Errorf("%s holds %q", BinaryPath, got)
			}
			if fi, _ := tr.Root.Lstat(BinaryPath); fi.Mode().Perm() != 0o755 {
				t.Errorf("%s has mode %v", BinaryPath, fi.Mode())
			}
			if got, want := strings.Join(rec.Lines(), "\n"), "systemctl restart --no-block "+c.unit; got != want {
				t.Errorf("ran %q, want %q", got, want)
			}
			if !strings.Contains(said, "replaced") {
				t.Errorf("said %q", said)
			}
			// Run again (the pod killed after the copy): the same file, the restart still owed.
			rec.Reset()
			if said, err = s.Run(context.Background()); err != nil || !strings.Contains(said, "already held") || len(rec.Lines()) != 1 {
				t.Errorf("rerun: %q %v %v", said, err, rec.Lines())
			}
		})
	}
}

func TestSwapRefusesABadBinaryAndAK3sNotOurs(t *testing.T) {
	bin, _ := newBinary(t, "tampered k3s")
	_, pinned := newBinary(t, "new k3s")
	tr := hosttest.New(t).Write(UnitPath, Marker+"\n").Write(BinaryPath, "old k3s")
	rec := &host.Recorder{}
	_, err := (&Swap{Root: tr.Root, Runner: rec, Binary: bin, SHA256: pinned}).Run(context.Background())
	var ce *host.ChecksumError
	if !errors.As(err, &ce) {
		t.Errorf("a binary not the pinned one: %v, want a checksum error", err)
	}
	if tr.Read(BinaryPath) != "old k3s" || len(rec.Lines()) != 0 {
		t.Errorf("after a refused binary: %s holds %q, ran %v", BinaryPath, tr.Read(BinaryPath), rec.Lines())
	}

	other := hosttest.New(t).Write(UnitPath, "[Service]\nExecStart=/usr/local/bin/k3s server\n").Write(BinaryPath, "their k3s")
	good, sum := newBinary(t, "new k3s")
	_, err = (&Swap{Root: other.Root, Runner: rec, Binary: good, SHA256: sum}).Run(context.Background())
	if !errors.Is(err, ErrNotOurs) || other.Read(BinaryPath) != "their k3s" {
		t.Errorf("someone else's k3s: %v, binary %q", err, other.Read(BinaryPath))
	}
	_, err = (&Swap{Root: hosttest.New(t).Root, Runner: rec, Binary: good, SHA256: sum}).Run(context.Background())
	if !errors.Is(err, ErrNotOurs) {
		t.Errorf("no k3s at all: %v", err)
	}
}
