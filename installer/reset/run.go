package reset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// ErrNotConfirmed is returned when the operator declines, or cannot be asked.
var ErrNotConfirmed = errors.New("reset not confirmed")

// Run resets the host: it plans, asks for confirmation unless Yes, and carries the plan out,
// one status line per step. With nothing to reset it says so and changes nothing.
func Run(ctx context.Context, o Options, st *status.Status) (*Plan, error) {
	if st == nil {
		st = status.Discard()
	}
	p, err := MakePlan(ctx, o)
	if err != nil {
		return nil, err
	}
	_ = o.defaults()
	if p.ForeignK3s {
		st.Warn("a k3s not installed by docs-appliance is on this host: reset leaves it alone")
	}
	if p.Empty() {
		msg := "nothing to reset: no k3s of this appliance and no appliance state on this host"
		if len(p.Kept) > 0 {
			msg += " (kept: " + keptText(p.Kept) + "; " + p.keptHint() + ")"
		}
		st.Info("%s", msg)
		return p, nil
	}
	if !o.Yes {
		if o.Prompt == nil {
			return p, fmt.Errorf("%w: reset removes k3s and the appliance state, and stdin is not a terminal to ask; run again with --yes to confirm:\n%s", ErrNotConfirmed, p.Text())
		}
		ok, err := o.Prompt.Confirm("Reset will:\n" + p.Text() + "Continue?")
		if err != nil {
			return p, fmt.Errorf("asking for confirmation: %w", err)
		}
		if !ok {
			return p, fmt.Errorf("%w: nothing was changed", ErrNotConfirmed)
		}
	}
	x := &executor{o: o, p: p, st: st}
	for _, s := range []struct {
		name string
		todo bool
		run  func(context.Context) error
	}{
		{"Stopping " + strings.Join(p.Units, ", "), len(p.Units) > 0, x.stopUnits},
		{fmt.Sprintf("Killing %d k3s and pod process(es)", len(p.Processes)), len(p.Processes) > 0, x.killProcesses},
		{fmt.Sprintf("Unmounting %d filesystem(s)", len(p.Mounts)), len(p.Mounts) > 0, x.unmount},
		{"Removing k3s's network interfaces and namespaces", len(p.Interfaces)+len(p.Netns) > 0, x.removeNetwork},
		{"Removing k3s's iptables rules", p.ruleCount() > 0, x.removeRules},
		{"Moving the volumes out of k3s's data folder to " + p.VolumesTo, len(p.MoveVolumes) > 0, x.moveVolumes},
		{"Removing k3s's files", len(p.Files) > 0, x.removeFiles},
		{"Removing the appliance state", len(p.State) > 0, x.removeState},
	} {
		if !s.todo {
			continue
		}
		st.Start(s.name)
		if err := st.End(s.run(ctx)); err != nil {
			return p, err
		}
	}
	summary := "reset done"
	if len(p.Kept) > 0 {
		summary += "; kept " + keptText(p.Kept) + " (" + p.keptHint() + ")"
	}
	st.Info("%s", summary)
	return p, nil
}

type executor struct {
	o  Options
	p  *Plan
	st *status.Status
}

func (x *executor) run(ctx context.Context, argv ...string) error {
	_, err := x.o.Runner.Run(ctx, host.Command(argv...))
	return err
}

func (x *executor) stopUnits(ctx context.Context) error {
	sd := host.Systemd{Runner: x.o.Runner, Root: x.o.Root}
	for _, u := range x.p.Units {
		if err := sd.DisableNow(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) killProcesses(ctx context.Context) error {
	argv := []string{"kill", "-KILL"}
	for _, p := range x.p.Processes {
		argv = append(argv, strconv.Itoa(p.PID))
	}
	if err := x.run(ctx, argv...); err != nil {
		// Some may have exited between the look and the kill; what is left is checked below.
		x.st.Warn("kill reported: %v", err)
	}
	deadline := time.Now().Add(x.o.KillWait)
	for {
		left, err := k3sProcesses(x.o.Root)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, p := range left {
				names = append(names, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
			}
			return fmt.Errorf("killing k3s's processes: still running after %s: %s", x.o.KillWait, strings.Join(names, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (x *executor) unmount(ctx context.Context) error {
	for _, m := range x.p.Mounts {
		if err := x.run(ctx, "umount", m); err != nil {
			// A busy mount is detached now and freed when its last user goes.
			if err2 := x.run(ctx, "umount", "--lazy", m); err2 != nil {
				return fmt.Errorf("unmounting %s: %w", m, err2)
			}
			x.st.Warn("%s was busy: detached it lazily", m)
		}
	}
	left, err := k3sMounts(x.o.Root)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("unmounting k3s's filesystems: still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

func (x *executor) removeNetwork(ctx context.Context) error {
	for _, ns := range x.p.Netns {
		if err := x.run(ctx, "ip", "netns", "delete", ns); err != nil {
			return fmt.Errorf("deleting network namespace %s: %w", ns, err)
		}
	}
	for _, i := range x.p.Interfaces {
		if err := x.run(ctx, "ip", "link", "delete", i); err != nil {
			return fmt.Errorf("deleting network interface %s: %w", i, err)
		}
	}
	return nil
}

func (x *executor) removeRules(ctx context.Context) error {
	progs := make([]string, 0, len(x.p.Rules))
	for prog := range x.p.Rules {
		progs = append(progs, prog)
	}
	sort.Strings(progs)
	for _, prog := range progs {
		// Read again: the rules may have changed since the plan (k3s was running then).
		out, err := x.o.Runner.Run(ctx, host.Command(prog+"-save"))
		if err != nil {
			return fmt.Errorf("listing %s rules: %w", prog, err)
		}
		var kept bytes.Buffer
		removed := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if isK3sRule(sc.Text()) {
				removed++
				continue
			}
			kept.WriteString(sc.Text() + "\n")
		}
		if removed == 0 {
			continue
		}
		if _, err := x.o.Runner.Run(ctx, host.Command(prog+"-restore").WithStdin(kept.Bytes())); err != nil {
			return fmt.Errorf("restoring %s rules without k3s's: %w", prog, err)
		}
	}
	return nil
}

func (x *executor) removeFiles(ctx context.Context) error {
	// Removing a folder with a mount below it would delete the mounted filesystem's files
	// (a volume's data): check again that nothing is mounted there.
	mounts, err := x.o.Root.Mounts()
	if err != nil {
		return err
	}
	for _, f := range x.p.Files {
		full := x.o.Root.Path(f)
		for _, m := range mounts {
			if m.MountPoint == full || strings.HasPrefix(m.MountPoint, full+"/") {
				return fmt.Errorf("removing %s: %s is still mounted below it; unmount it first", f, m.MountPoint)
			}
		}
	}
	for _, f := range x.p.Files {
		if err := x.o.Root.RemoveAll(f); err != nil {
			return err
		}
	}
	// /var/lib/rancher and /etc/rancher are k3s's parents; remove them only when empty.
	for _, d := range []string{filepath.Dir(k3s.DataDir), filepath.Dir(k3s.ConfigDir)} {
		_ = os.Remove(x.o.Root.Path(d))
	}
	sd := host.Systemd{Runner: x.o.Runner, Root: x.o.Root}
	if err := sd.DaemonReload(ctx); err != nil {
		return err
	}
	for _, u := range x.p.Units {
		if err := sd.ResetFailed(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// TerminalPrompter asks on a terminal, reading the answer from in; it returns nil when in is
// not a terminal, so that Run refuses instead of reading a pipe.
func TerminalPrompter(in *os.File, out io.Writer) Prompter {
	if !term.IsTerminal(int(in.Fd())) {
		return nil
	}
	return &LinePrompter{In: in, Out: out}
}

// LinePrompter asks a yes/no question and reads one line; only "y" or "yes" confirm.
type LinePrompter struct {
	In  io.Reader
	Out io.Writer
}

// Confirm asks question and reads the answer.
func (l *LinePrompter) Confirm(question string) (bool, error) {
	fmt.Fprintf(l.Out, "%s [y/N] ", question)
	line, err := bufio.NewReader(l.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
