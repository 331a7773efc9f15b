package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bin is the docs-appliance binary the tests run, built once by TestMain
// with the flags `go test` compiles with, so it reuses the packages the
// test binary's build just compiled (-trimpath or CGO_ENABLED=0 would
// recompile every dependency).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "docs-appliance-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making the build folder:", err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "docs-appliance")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building docs-appliance: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binRun is one run of the binary.
type binRun struct {
	args           []string
	code           int
	stdout, stderr string
}

// runBinary runs the binary with args, stdin from in (nil: /dev/null), in
// dir (empty: a fresh temporary folder), and returns what it wrote and its
// exit code. HOME and XDG_STATE_HOME point into the test's folder, so no
// run reaches the real state.
func runBinary(t *testing.T, in io.Reader, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"))
	cmd.Stdin = in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := binRun{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running docs-appliance %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return r
}

// wantCode fails the test unless the run exited with code.
func (r binRun) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("docs-appliance %v exited %d, want %d\nstdout:\n%s\nstderr:\n%s", r.args, r.code, code, r.stdout, r.stderr)
	}
}

// document decodes stdout, which must hold exactly one JSON document.
func (r binRun) document(t *testing.T) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(r.stdout)))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docs-appliance %v: stdout is not a JSON document: %v\nstdout:\n%s\nstderr:\n%s", r.args, err, r.stdout, r.stderr)
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		t.Fatalf("docs-appliance %v: stdout holds more than one JSON document (next: %v, %v)\nstdout:\n%s", r.args, more, err, r.stdout)
	}
	return doc
}

// object decodes stdout as one JSON object.
func (r binRun) object(t *testing.T) map[string]any {
	t.Helper()
	obj, ok := r.document(t).(map[string]any)
	if !ok {
		t.Fatalf("docs-appliance %v: the document is not an object:\n%s", r.args, r.stdout)
	}
	return obj
}

// errorDoc checks the run failed with code and stdout is the error
// document, and returns its message.
func (r binRun) errorDoc(t *testing.T, code int) string {
	t.Helper()
	r.wantCode(t, code)
	e, ok := r.object(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("docs-appliance %v: no error object in\n%s", r.args, r.stdout)
	}
	msg, _ := e["message"].(string)
	if msg == "" {
		t.Errorf("docs-appliance %v: the error document has no message:\n%s", r.args, r.stdout)
	}
	if got, _ := e["exitCode"].(float64); int(got) != code {
		t.Errorf("docs-appliance %v: the error document says exit code %v, the process exited %d", r.args, e["exitCode"], code)
	}
	return msg
}
