package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Recorder is a Runner that runs nothing: it records every command and answers from handlers.
// It stands in for what cannot run on a build machine (systemd, k3s, iptables on a live host) in
// tests, and for dry runs. A command no handler matches succeeds with no output.
type Recorder struct {
	mu       sync.Mutex
	cmds     []Cmd
	handlers []handler
}

type handler struct {
	prefix []string
	fn     func(Cmd) ([]byte, error)
}

// On answers every command whose argv starts with prefix. A later handler with the same prefix
// replaces an earlier one; the longest matching prefix wins.
func (r *Recorder) On(prefix []string, fn func(cmd Cmd) ([]byte, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, h := range r.handlers {
		if slices.Equal(h.prefix, prefix) {
			r.handlers[i].fn = fn
			return
		}
	}
	r.handlers = append(r.handlers, handler{prefix: slices.Clone(prefix), fn: fn})
}

// Reply answers commands starting with prefix with output, and with a *CommandError of exitCode
// when exitCode is not 0.
func (r *Recorder) Reply(prefix []string, output string, exitCode int) {
	r.On(prefix, func(c Cmd) ([]byte, error) {
		if exitCode == 0 {
			return []byte(output), nil
		}
		return []byte(output), &CommandError{Argv: c.Argv, Stdout: []byte(output), ExitCode: exitCode, Err: fmt.Errorf("exit status %d", exitCode)}
	})
}

// Missing makes commands starting with prefix fail as a program that is not installed.
func (r *Recorder) Missing(prefix ...string) {
	r.On(prefix, func(c Cmd) ([]byte, error) {
		return nil, &CommandError{Argv: c.Argv, ExitCode: -1, Err: fmt.Errorf("%w: %s", ErrNotFound, c.Argv[0])}
	})
}

// Run records cmd and answers it.
func (r *Recorder) Run(ctx context.Context, cmd Cmd) ([]byte, error) {
	if len(cmd.Argv) == 0 {
		return nil, errors.New("running a command: empty argument list")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, Cmd{Argv: slices.Clone(cmd.Argv), Stdin: slices.Clone(cmd.Stdin)})
	var best *handler
	for i := range r.handlers {
		h := &r.handlers[i]
		if len(h.prefix) <= len(cmd.Argv) && slices.Equal(h.prefix, cmd.Argv[:len(h.prefix)]) {
			if best == nil || len(h.prefix) > len(best.prefix) {
				best = h
			}
		}
	}
	r.mu.Unlock()
	if best == nil {
		return nil, nil
	}
	return best.fn(cmd)
}

// Commands returns every command run so far.
func (r *Recorder) Commands() []Cmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// Lines returns every command run so far, each as one space-joined line; handy in test diffs.
func (r *Recorder) Lines() []string {
	var out []string
	for _, c := range r.Commands() {
		out = append(out, strings.Join(c.Argv, " "))
	}
	return out
}

// Reset forgets the commands recorded so far and keeps the handlers.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = nil
}
