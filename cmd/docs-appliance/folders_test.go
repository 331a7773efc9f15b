package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/reset"
)

// run runs the command tree in-process with its output in one buffer.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := NewRootCommand(&out, &out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// README's first command, run twice in a row: the dry run's default --out is made and marked
// by the first run and rendered into again by the second.
func TestDryRunTwiceInARow(t *testing.T) {
	config, err := filepath.Abs("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	for i := range 2 {
		if out, err := run(t, "install", "--dry-run", "--config", config, "--state-dir", state); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join("docs-appliance-rendered", render.Marker)); err != nil {
		t.Errorf("the dry run's folder is not marked: %v", err)
	}
}

// render --out at a folder of the operator's: refused before anything is written, the state
// folder included; the operator's files stay.
func TestRenderRefusesAForeignOut(t *testing.T) {
	out := t.TempDir()
	state := filepath.Join(t.TempDir(), "state")
	write(t, filepath.Join(out, "apps", "mine.yaml"), "the operator's")
	write(t, filepath.Join(out, "notes.txt"), "notes")
	_, err := run(t, "render", "--config", "../../examples/appliance.yaml", "--state-dir", state, "--out", out, "--allow-missing-charts")
	if !errors.Is(err, render.ErrForeignFolder) {
		t.Fatalf("got %v", err)
	}
	if mustRead(t, filepath.Join(out, "apps", "mine.yaml")) != "the operator's" {
		t.Error("the operator's file changed")
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused render made the state folder: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("the refused render wrote into %s: %v", out, entries)
	}
}

// reset --state-dir at a folder of the operator's: refused, nothing removed. The host here
// has no k3s (an empty --root), so reset runs no command.
func TestResetRefusesAForeignStateDir(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "home/operator/.bashrc"), "alias ll='ls -l'\n")
	_, err := run(t, "--root", root, "reset", "--yes", "--purge", "--state-dir", "/home/operator")
	if !errors.Is(err, reset.ErrForeignState) {
		t.Fatalf("got %v", err)
	}
	if mustRead(t, filepath.Join(root, "home/operator/.bashrc")) != "alias ll='ls -l'\n" {
		t.Error("the operator's file changed")
	}
}
