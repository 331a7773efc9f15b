package wizard_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
	"github.com/suitenumerique/docs-appliance/profiles"
)

func TestMachineAgainstProfiles(t *testing.T) {
	root := t.TempDir()
	for path, content := range map[string]string{
		"proc/cpuinfo": "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n",
		"proc/meminfo": "MemTotal:        4015632 kB\nMemFree: 1 kB\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := wizard.ReadMachine(host.Root(root))
	if err != nil {
		t.Fatal(err)
	}
	if m.CPUs != 2 || m.MemoryGiB < 3.8 || m.MemoryGiB > 3.9 || m.DiskFreeGiB <= 0 || m.DiskPath == "" {
		t.Fatalf("machine = %+v", m)
	}
	small, err := profiles.Get("single-small")
	if err != nil {
		t.Fatal(err)
	}
	short := m.Shortfalls(small)
	if len(short) < 2 || short[0] != "4 CPUs (has 2)" || !strings.HasPrefix(short[1], "8 GiB memory (has 3.8") {
		t.Errorf("shortfalls = %q", short)
	}
	if d := m.Describe(small); !strings.Contains(d, "needs 4 CPU, 8 GiB, 60 GiB disk; this machine: 2 CPU too few, 3.8 GiB too few") {
		t.Errorf("describe = %q", d)
	}
	if len((wizard.Machine{}).Shortfalls(small)) != 0 {
		t.Error("an unknown machine was held against a profile")
	}
}

func TestConfigureRefusesANonTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	state := t.TempDir()
	err = (&wizard.Configure{StateDir: state, In: r, Out: w, Err: w}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not a terminal") || !strings.Contains(err.Error(), "--non-interactive") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
}
