package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

func TestDryRunChangesNothingAndPlans(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	out := filepath.Join(t.TempDir(), "rendered")
	// A port this test holds must show up as taken.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	in := &Install{
		Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state},
		DryRun: true, OutDir: out, Root: "/",
		LookupHost: func(_ context.Context, name string) ([]string, error) {
			if name == "docs.example.org" {
				return []string{"192.0.2.10"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		},
		PreflightPorts: []int{port},
	}
	var log bytes.Buffer
	if err := in.Run(context.Background(), status.New(&log, status.Plain)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("the dry run created the state folder")
	}
	if _, err := os.Stat(filepath.Join(out, "clusters/production/secrets.yaml")); err != nil {
		t.Fatalf("rendered repository missing: %v", err)
	}
	p := in.Plan
	if p == nil || p.Train != "2026.11" || p.Locked {
		t.Fatalf("plan = %+v", p)
	}
	joined := strings.Join(p.Blockers, "\n")
	for _, want := range []string{"unlocked", "make charts", "host preflight failed", "ports"} {
		if !strings.Contains(joined, want) {
			t.Errorf("blockers lack %q:\n%s", want, joined)
		}
	}
	if res, ok := p.Preflight.Get("domain-dns"); !ok || res.Outcome != "pass" {
		t.Errorf("domain-dns = %+v", res)
	}
	var text bytes.Buffer
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Steps:", "docs.example.org", "chart not in this build", "make charts", "Host preflight", "digest not locked yet"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan text lacks %q", want)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil || len(back.Steps) != len(p.Steps) {
		t.Fatalf("plan JSON round trip: %v", err)
	}
}

func TestBadConfigChangesNothing(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	r := &Render{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state, Sets: []string{"domain=bad_domain", "storage.mode=external"}}, OutDir: t.TempDir()}
	err := r.Run(context.Background(), status.Discard())
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	for _, want := range []string{"domain:", "storage.endpoint", "secrets.storage.accessKeyID: missing", "--secret storage.accessKeyID=FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("a rejected config created the state folder")
	}
}

func TestRenderPersistsSecretsAndConverges(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	out := t.TempDir()
	secretFile := filepath.Join(t.TempDir(), "smtp")
	os.WriteFile(secretFile, []byte("smtp-pass\n"), 0o600)
	opts := InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state,
		Sets:        []string{"smtp.host=mail.example.org", "smtp.username=docs", "smtp.from=docs@example.org"},
		SecretFiles: []string{"smtp.password=" + secretFile}}
	r := &Render{Inputs: opts, OutDir: out, AllowMissingCharts: true}
	if err := r.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if !r.Report.Changed() {
		t.Fatal("first render wrote nothing")
	}
	if v, _ := r.In.Store.Get("smtp.password"); v != "smtp-pass" {
		t.Fatal("given secret not stored (or its newline kept)")
	}
	again := &Render{Inputs: opts, OutDir: out, AllowMissingCharts: true}
	if err := again.Run(context.Background(), status.Discard()); err != nil {
		t.Fatal(err)
	}
	if again.Report.Changed() {
		t.Fatalf("second render changed %v %v", again.Report.Written, again.Report.Removed)
	}
	strict := &Render{Inputs: opts, OutDir: t.TempDir()}
	if err := strict.Run(context.Background(), status.Discard()); err == nil || !strings.Contains(err.Error(), "make charts") {
		t.Fatalf("render without the charts must fail saying how to get them: %v", err)
	}
}

func TestFirstRunWithoutAnswers(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	// --non-interactive never asks: every missing answer is listed, nothing is written.
	in := &Install{Inputs: InputOptions{StateDir: state}, NonInteractive: true, Kubeconfig: "unused"}
	err := in.Run(context.Background(), status.Discard())
	if err == nil {
		t.Fatal("an install without answers went ahead")
	}
	for _, want := range []string{"domain: empty", "adminEmail"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Without --non-interactive the wizard would ask, but a test's stdin is no terminal: it says so.
	in = &Install{Inputs: InputOptions{StateDir: state}, Kubeconfig: "unused"}
	err = in.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), "--non-interactive") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("the state folder was created")
	}
}

func TestInstallRefusesABadBundleFirst(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	bad := filepath.Join(t.TempDir(), "docs-appliance-2026.11-amd64.tar.zst")
	os.WriteFile(bad, []byte("not a bundle"), 0o600)
	in := &Install{Inputs: InputOptions{ConfigPath: "../examples/appliance.yaml", StateDir: state}, NonInteractive: true, Kubeconfig: "unused", Bundle: bad}
	err := in.Run(context.Background(), status.Discard())
	if err == nil || !strings.Contains(err.Error(), filepath.Base(bad)) {
		t.Fatalf("a broken bundle must be refused naming it: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "bundles")); len(entries) != 0 {
		t.Fatalf("a refused bundle left %v", entries)
	}
}
