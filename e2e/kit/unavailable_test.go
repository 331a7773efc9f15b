package kit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outcome records how a helper ended a test, without ending the real one.
type outcome struct {
	testing.TB
	fatal, skip string
}

func (o *outcome) Helper()                   {}
func (o *outcome) Fatal(a ...any)            { o.fatal = fmt.Sprint(a...) }
func (o *outcome) Fatalf(f string, a ...any) { o.fatal = fmt.Sprintf(f, a...) }
func (o *outcome) Skipf(f string, a ...any)  { o.skip = fmt.Sprintf(f, a...) }

func record(t *testing.T, required bool, f func(tb testing.TB)) *outcome {
	t.Helper()
	if required {
		t.Setenv(EnvRequireKit, "1")
	} else {
		t.Setenv(EnvRequireKit, "")
	}
	o := &outcome{TB: t}
	f(o)
	return o
}

func TestUnavailableFailsWhenRequiredAndSkipsOtherwise(t *testing.T) {
	end := func(tb testing.TB) { Unavailable(tb, "nginx", "apt-get install nginx-core") }
	o := record(t, true, end)
	if o.skip != "" || !strings.Contains(o.fatal, "nginx is not here: apt-get install nginx-core") {
		t.Errorf("required: fatal %q, skip %q", o.fatal, o.skip)
	}
	o = record(t, false, end)
	if o.fatal != "" || !strings.Contains(o.skip, "nginx is not here: apt-get install nginx-core") || !strings.Contains(o.skip, EnvRequireKit+"=1") {
		t.Errorf("by hand: fatal %q, skip %q", o.fatal, o.skip)
	}
}

// A kit that is there but broken fails, even in a plain `go test`.
func TestNeedSkipsOnlyAMissingKit(t *testing.T) {
	missing := &MissingError{What: "the envtest kit", Path: "/cache/kube/etcd", Target: "envtest-kit"}
	o := record(t, false, func(tb testing.TB) { Need(tb, fmt.Errorf("starting envtest: %w", missing)) })
	if o.fatal != "" || !strings.Contains(o.skip, "the envtest kit (/cache/kube/etcd)") || !strings.Contains(o.skip, "make envtest-kit") {
		t.Errorf("missing: fatal %q, skip %q", o.fatal, o.skip)
	}
	o = record(t, false, func(tb testing.TB) { Need(tb, errors.New("starting etcd: exec format error")) })
	if o.skip != "" || !strings.Contains(o.fatal, "exec format error") {
		t.Errorf("broken: fatal %q, skip %q", o.fatal, o.skip)
	}
	o = record(t, true, func(tb testing.TB) { Need(tb, nil) })
	if o.skip != "" || o.fatal != "" {
		t.Errorf("nil: fatal %q, skip %q", o.fatal, o.skip)
	}
}

func TestProgramFindsOrIsUnavailable(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	var got string
	o := record(t, true, func(tb testing.TB) { got = Program(tb, "tool", "apt-get install tool") })
	if got != tool || o.fatal != "" || o.skip != "" {
		t.Errorf("found %q, fatal %q, skip %q", got, o.fatal, o.skip)
	}
	o = record(t, true, func(tb testing.TB) { Program(tb, "nginx", "apt-get install nginx-core") })
	if !strings.Contains(o.fatal, "nginx is not here: apt-get install nginx-core") {
		t.Errorf("absent: fatal %q, skip %q", o.fatal, o.skip)
	}
}

// A path that cannot be looked at (here: under a file) is an error, not a missing part.
func TestFileTellsMissingFromBroken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := record(t, false, func(tb testing.TB) { File(tb, filepath.Join(dir, "absent"), "the sops CLI", "make sops-cli") })
	if o.fatal != "" || !strings.Contains(o.skip, "the sops CLI ("+dir+"/absent) is not here: make sops-cli") {
		t.Errorf("absent: fatal %q, skip %q", o.fatal, o.skip)
	}
	o = record(t, false, func(tb testing.TB) { File(tb, filepath.Join(file, "sops"), "the sops CLI", "make sops-cli") })
	if o.skip != "" || !strings.Contains(o.fatal, "not a directory") {
		t.Errorf("broken: fatal %q, skip %q", o.fatal, o.skip)
	}
	o = record(t, true, func(tb testing.TB) { File(tb, file, "the sops CLI", "make sops-cli") })
	if o.skip != "" || o.fatal != "" {
		t.Errorf("present: fatal %q, skip %q", o.fatal, o.skip)
	}
}
