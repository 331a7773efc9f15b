package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// resetHost is a --root with the appliance's state and a k3s that
// docs-appliance did not install (no marker in its unit): reset may only
// remove the state, and keeps its marker, the age key and the volumes.
func resetHost(t *testing.T) (root string, files []string) {
	t.Helper()
	root = t.TempDir()
	files = []string{
		"var/lib/docs-appliance/appliance.yaml",
		"var/lib/docs-appliance/secrets.enc.yaml",
		"var/lib/docs-appliance/.docs-appliance-state",
		"var/lib/docs-appliance/age.key",
		"var/lib/docs-appliance/volumes/pvc-1/PG_VERSION",
		"usr/local/bin/k3s",
		"etc/systemd/system/k3s.service",
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("kept by the test: "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root, files
}

func missing(root string, files []string) []string {
	var gone []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			gone = append(gone, f)
		}
	}
	return gone
}

// onTerminal runs the binary with stdin and stderr on a pseudo-terminal
// (stdout stays a pipe, as in `reset -o json | jq`), waits for prompt on
// the screen and types answer.
func onTerminal(t *testing.T, prompt, answer string, args ...string) (r binRun, screen string) {
	t.Helper()
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	defer ptm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &stdout, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close() // the child holds it now

	// The reader ends when the child has exited: the last slave closed, a
	// read on the master fails (EIO).
	var mu sync.Mutex
	var text strings.Builder
	seen, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for asked := false; ; {
			n, err := ptm.Read(buf)
			mu.Lock()
			text.Write(buf[:n])
			found := strings.Contains(text.String(), prompt)
			mu.Unlock()
			if found && !asked {
				asked = true
				close(seen)
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-seen:
		if _, err := ptm.Write([]byte(answer + "\n")); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no prompt %q on the terminal; it shows:\n%s", prompt, text.String())
	}
	err = cmd.Wait()
	r = binRun{args: args, stdout: stdout.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal stayed open after docs-appliance exited")
	}
	r.stderr = text.String()
	return r, r.stderr
}

func TestResetAsksAndRefusalChangesNothing(t *testing.T) {
	for _, answer := range []string{"n", "", "nope"} {
		t.Run("answer "+answer, func(t *testing.T) {
			root, files := resetHost(t)
			r, screen := onTerminal(t, "Continue? [y/N]", answer, "reset", "--root", root, "--state-dir", "/var/lib/docs-appliance")
			r.wantCode(t, 1)
			for _, want := range []string{"remove the appliance state: /var/lib/docs-appliance/appliance.yaml, /var/lib/docs-appliance/secrets.enc.yaml",
				"keep /var/lib/docs-appliance/age.key", "/var/lib/docs-appliance/volumes", "leave alone the k3s on this host", "nothing was changed"} {
				if !strings.Contains(screen, want) {
					t.Errorf("the terminal lacks %q:\n%s", want, screen)
				}
			}
			if gone := missing(root, files); len(gone) > 0 {
				t.Errorf("refusing removed %v", gone)
			}
		})
	}
}

func TestResetConfirmedRemovesOnlyTheState(t *testing.T) {
	root, files := resetHost(t)
	r, _ := onTerminal(t, "Continue? [y/N]", "y", "reset", "--root", root, "--state-dir", "/var/lib/docs-appliance", "-o", "json")
	r.wantCode(t, 0)
	gone := missing(root, files)
	if strings.Join(gone, " ") != "var/lib/docs-appliance/appliance.yaml var/lib/docs-appliance/secrets.enc.yaml" {
		t.Errorf("removed %v, want only the state (not its marker, the age key, the volumes or the foreign k3s)", gone)
	}
	doc := r.object(t)
	if doc["changed"] != true || doc["foreignK3s"] != true || len(doc["removedState"].([]any)) != 2 || len(doc["kept"].([]any)) != 2 {
		t.Errorf("reset document %v", doc)
	}
}

// Without a terminal to ask on and without --yes, reset refuses.
func TestResetWithoutATerminalRefuses(t *testing.T) {
	root, files := resetHost(t)
	r := runBinary(t, strings.NewReader("y\n"), "reset", "--root", root, "--state-dir", "/var/lib/docs-appliance", "-o", "json")
	if msg := r.errorDoc(t, 1); !strings.Contains(msg, "stdin is not a terminal") || !strings.Contains(msg, "--yes") {
		t.Errorf("message %q", msg)
	}
	if gone := missing(root, files); len(gone) > 0 {
		t.Errorf("refusing removed %v", gone)
	}
	r = runBinary(t, nil, "reset", "--yes", "--root", root, "--state-dir", "/var/lib/docs-appliance")
	r.wantCode(t, 0)
	if gone := missing(root, files); len(gone) != 2 {
		t.Errorf("--yes removed %v, want the two state files", gone)
	}
	if r.stdout != "" {
		t.Errorf("text reset wrote a result on stdout: %q", r.stdout)
	}
}
