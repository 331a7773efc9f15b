package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Cmd is one host command: an argument list, never a shell string, and optional standard input.
type Cmd struct {
	Argv  []string
	Stdin []byte
}

// Command builds a Cmd from its arguments.
func Command(argv ...string) Cmd { return Cmd{Argv: argv} }

// WithStdin returns the command with data as its standard input.
func (c Cmd) WithStdin(data []byte) Cmd {
	c.Stdin = data
	return c
}

// String renders the command for messages, quoting arguments that hold spaces.
func (c Cmd) String() string {
	parts := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'") {
			parts[i] = fmt.Sprintf("%q", a)
		} else {
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}

// Runner runs host commands. Run returns the command's standard output; when the command cannot
// start or exits non-zero, the error is a *CommandError holding what it printed.
type Runner interface {
	Run(ctx context.Context, cmd Cmd) ([]byte, error)
}

// CommandError is a host command that could not start or exited non-zero, with its output kept so
// the operator sees why.
type CommandError struct {
	Argv   []string
	Stdout []byte
	Stderr []byte
	// ExitCode is the command's exit status, or -1 when it did not run (not found, killed).
	ExitCode int
	Err      error
}

// maxShownOutput bounds the output an error message carries; the tail is kept, since that is
// where programs say what went wrong.
const maxShownOutput = 4096

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "running %s: %v", Cmd{Argv: e.Argv}, e.Err)
	out := bytes.TrimSpace(e.Stderr)
	if so := bytes.TrimSpace(e.Stdout); len(so) > 0 {
		if len(out) > 0 {
			out = append(append(append([]byte{}, so...), '\n'), out...)
		} else {
			out = so
		}
	}
	if len(out) > maxShownOutput {
		out = append([]byte("…"), out[len(out)-maxShownOutput:]...)
	}
	if len(out) > 0 {
		b.WriteString("\n  output:\n    ")
		b.WriteString(strings.ReplaceAll(string(out), "\n", "\n    "))
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

// Output is what the command printed, standard error after standard output.
func (e *CommandError) Output() string {
	return strings.TrimSpace(string(e.Stdout) + "\n" + string(e.Stderr))
}

// ErrNotFound is wrapped by a CommandError whose program is not installed.
var ErrNotFound = errors.New("program not found")

// ExitCodeOf returns the exit code of a command's error: 0 for nil, the code of a *CommandError,
// and -1 otherwise.
func ExitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.ExitCode
	}
	return -1
}

// ExecRunner runs commands on this machine.
type ExecRunner struct {
	// Env, when set, replaces the environment the commands see.
	Env []string
	// Chroot, when set, runs the commands with that folder as their root (a program in a pod
	// acting on the host mounted there: the host's own systemctl, on the host's systemd), their
	// program looked up in the usual folders under it.
	Chroot string
}

// chrootPath is where the programs of a root's system live.
var chrootPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

func (r ExecRunner) lookPath(name string) (string, error) {
	if r.Chroot == "" {
		return exec.LookPath(name)
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range chrootPath {
		if fi, err := os.Stat(filepath.Join(r.Chroot, d, name)); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return d + "/" + name, nil
		}
	}
	return "", fmt.Errorf("%s is in none of %s under %s", name, strings.Join(chrootPath, ", "), r.Chroot)
}

// Run runs cmd and waits for it.
func (r ExecRunner) Run(ctx context.Context, cmd Cmd) ([]byte, error) {
	if len(cmd.Argv) == 0 {
		return nil, errors.New("running a command: empty argument list")
	}
	path, err := r.lookPath(cmd.Argv[0])
	if err != nil {
		return nil, &CommandError{Argv: cmd.Argv, ExitCode: -1, Err: fmt.Errorf("%w: %v", ErrNotFound, err)}
	}
	c := exec.CommandContext(ctx, path, cmd.Argv[1:]...)
	if r.Env != nil {
		c.Env = r.Env
	}
	if r.Chroot != "" {
		c.SysProcAttr = &syscall.SysProcAttr{Chroot: r.Chroot}
		c.Dir = "/"
	}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if cmd.Stdin != nil {
		c.Stdin = bytes.NewReader(cmd.Stdin)
	}
	if err := c.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return stdout.Bytes(), &CommandError{Argv: cmd.Argv, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code, Err: err}
	}
	return stdout.Bytes(), nil
}
