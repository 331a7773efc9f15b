package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func TestExecRunnerKeepsOutputOfAFailedCommand(t *testing.T) {
	_, err := ExecRunner{}.Run(context.Background(), Command("ls", "/no/such/folder-for-docs-appliance"))
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *CommandError, got %v", err)
	}
	if ce.ExitCode == 0 || ce.ExitCode == -1 {
		t.Errorf("exit code %d, want ls's failure code", ce.ExitCode)
	}
	msg := err.Error()
	for _, want := range []string{"running ls /no/such/folder-for-docs-appliance", "No such file or directory", "output:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestExecRunnerPassesStdinAndReturnsStdout(t *testing.T) {
	out, err := ExecRunner{}.Run(context.Background(), Command("cat").WithStdin([]byte("a line\n")))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "a line\n" {
		t.Errorf("stdout %q", out)
	}
}

func TestExecRunnerMissingProgram(t *testing.T) {
	_, err := ExecRunner{}.Run(context.Background(), Command("docs-appliance-no-such-program", "x"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if ExitCodeOf(err) != -1 {
		t.Errorf("exit code %d, want -1", ExitCodeOf(err))
	}
}

func TestCommandErrorShowsTheTailOfLongOutput(t *testing.T) {
	long := strings.Repeat("x", 10000) + "THE-END"
	err := &CommandError{Argv: []string{"k3s", "server"}, Stderr: []byte(long), ExitCode: 1, Err: errors.New("exit status 1")}
	msg := err.Error()
	if !strings.Contains(msg, "THE-END") || len(msg) > maxShownOutput+200 {
		t.Errorf("message of %d bytes, tail kept: %v", len(msg), strings.Contains(msg, "THE-END"))
	}
}

func TestCmdStringQuotesArgumentsWithSpaces(t *testing.T) {
	got := Command("umount", "/run/k3s/a b").String()
	if got != `umount "/run/k3s/a b"` {
		t.Errorf("got %s", got)
	}
}

func TestRecorderAnswersByLongestPrefix(t *testing.T) {
	var r Recorder
	r.Reply([]string{"systemctl"}, "generic", 0)
	r.Reply([]string{"systemctl", "is-active"}, "inactive", 3)
	ctx := context.Background()
	out, err := r.Run(ctx, Command("systemctl", "is-active", "k3s"))
	if string(out) != "inactive" || ExitCodeOf(err) != 3 {
		t.Errorf("is-active: %q %v", out, err)
	}
	out, err = r.Run(ctx, Command("systemctl", "daemon-reload"))
	if string(out) != "generic" || err != nil {
		t.Errorf("daemon-reload: %q %v", out, err)
	}
	if _, err := r.Run(ctx, Command("ip", "link")); err != nil {
		t.Errorf("unmatched commands succeed, got %v", err)
	}
	want := []string{"systemctl is-active k3s", "systemctl daemon-reload", "ip link"}
	if got := r.Lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("recorded %q, want %q", got, want)
	}
}

func TestSystemdIsActiveTreatsNonZeroExitAsAnAnswer(t *testing.T) {
	var r Recorder
	s := Systemd{Runner: &r}
	ctx := context.Background()
	r.Reply([]string{"systemctl", "is-active"}, "failed\n", 3)
	active, state, err := s.IsActive(ctx, "k3s")
	if err != nil || active || state != "failed" {
		t.Errorf("got %v %q %v", active, state, err)
	}
	r.Reply([]string{"systemctl", "is-active"}, "active\n", 0)
	active, _, err = s.IsActive(ctx, "k3s")
	if err != nil || !active {
		t.Errorf("got %v %v", active, err)
	}
	var missing Recorder
	missing.Missing("systemctl")
	if _, _, err := (Systemd{Runner: &missing}).IsActive(ctx, "k3s"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing systemctl must be an error, got %v", err)
	}
}

// A chrooted command runs the program found under the new root, and sees that root as /: a
// static program built here, which lists /.
func TestExecRunnerChrootRunsTheRootsProgramInsideIt(t *testing.T) {
	kit.Root(t, "running a program with a new root: chroot(2)")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	kit.StaticProgram(t, "package main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() {\n\tes, _ := os.ReadDir(\"/\")\n\tfor _, e := range es {\n\t\tfmt.Println(e.Name())\n\t}\n}\n",
		filepath.Join(root, "usr/bin/lsroot"))
	if err := os.WriteFile(filepath.Join(root, "only-in-the-root"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ExecRunner{Chroot: root}.Run(context.Background(), Command("lsroot"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "only-in-the-root usr" {
		t.Errorf("the program saw / as %q, want the new root's only-in-the-root and usr", got)
	}
	_, err = ExecRunner{Chroot: root}.Run(context.Background(), Command("systemctl", "restart", "k3s"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("a program missing under the root: %v, want ErrNotFound", err)
	}
}
