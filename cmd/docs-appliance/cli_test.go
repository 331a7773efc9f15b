package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/preflight"
)

// exampleConfig is the example the README's first command dry-runs.
func exampleConfig(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "appliance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostRoot is a --root holding only the host name (the dry run's k3s
// config names the node): most host checks fail on it (no /proc).
func hostRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	p := filepath.Join(root, "proc", "sys", "kernel", "hostname")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("appliance-test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// hermetic are the checks a test leaves out: probing ports binds this
// machine's 80 and 443, and DNS needs a resolver.
const hermetic = "--ignore-preflight=ports,domain-dns"

// The exit codes are the documented contract (README): 0 success, 1 error,
// 3 a preflight that ran and failed. An empty --root fails most host
// checks (no /proc): a preflight that runs and fails.
func TestExitCodes(t *testing.T) {
	cfg := exampleConfig(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"success", []string{"version"}, 0},
		{"bad flag", []string{"version", "--bogus"}, 1},
		{"bad --output", []string{"version", "-o", "yaml"}, 1},
		{"missing config", []string{"install", "--dry-run", "-c", "/no/such/appliance.yaml"}, 1},
		{"bad --set", []string{"render", "-c", cfg, "--set", "profile=huge", "--out", "r"}, 1},
		{"preflight failed", []string{"preflight", "--root", t.TempDir(), hermetic}, 3},
		{"preflight failed, JSON", []string{"preflight", "--root", t.TempDir(), hermetic, "-o", "json"}, 3},
		{"unknown preflight check", []string{"preflight", "--root", t.TempDir(), "--ignore-preflight", "nope"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, nil, append(tc.args, "--state-dir", t.TempDir())...)
			r.wantCode(t, tc.code)
			if tc.code != 0 && !strings.Contains(r.stderr, "Error: ") {
				t.Errorf("a failure says nothing on stderr:\n%s", r.stderr)
			}
		})
	}
}

// With --output json, stdout is exactly one JSON document, the result or
// the error, and the status (JSON lines) is on stderr.
func TestJSONOutputIsOneDocument(t *testing.T) {
	cfg := exampleConfig(t)
	root := hostRoot(t)
	keys := filepath.Join(t.TempDir(), "site")

	t.Run("version", func(t *testing.T) {
		r := runBinary(t, nil, "version", "-o", "json")
		r.wantCode(t, 0)
		if v := r.object(t); v["version"] == nil || v["trains"] == nil {
			t.Errorf("version document %v", v)
		}
	})
	t.Run("trains", func(t *testing.T) {
		r := runBinary(t, nil, "trains", "--output=json")
		r.wantCode(t, 0)
		l, ok := r.document(t).([]any)
		if !ok || len(l) == 0 {
			t.Fatalf("trains document %s", r.stdout)
		}
		// Every train lists the hops into it: 2026.12 the one from 2026.11, nothing irreversible.
		last, _ := l[len(l)-1].(map[string]any)
		hops, _ := last["hops"].([]any)
		if len(hops) == 0 || hops[0].(map[string]any)["from"] == nil || hops[0].(map[string]any)["irreversible"] == nil {
			t.Errorf("the newest train's hops: %v", last["hops"])
		}
	})
	t.Run("install --dry-run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "rendered")
		r := runBinary(t, nil, "install", "--dry-run", "-c", cfg, "--root", root, "--state-dir", t.TempDir(), "-O", out, hermetic, "-o", "json")
		r.wantCode(t, 0)
		plan := r.object(t)
		if plan["domain"] != "docs.example.org" || plan["outDir"] != out || plan["preflight"] == nil {
			t.Errorf("plan %v", plan)
		}
		// The status went to stderr, as JSON lines.
		events := statusEvents(t, r.stderr)
		if !hasEvent(events, "start", "reading config and secrets") || !hasEvent(events, "done", "checking the host (preflight)") {
			t.Errorf("stderr lacks the status events:\n%s", r.stderr)
		}
	})
	t.Run("render", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "rendered")
		r := runBinary(t, nil, "render", "-c", cfg, "--state-dir", t.TempDir(), "--out", out, "--allow-missing-charts", "-o", "json")
		r.wantCode(t, 0)
		doc := r.object(t)
		written, _ := doc["written"].([]any)
		if doc["outDir"] != out || doc["train"] != "2026.11" || doc["environment"] != "production" || len(written) == 0 {
			t.Errorf("render document %v", doc)
		}
		if _, err := os.Stat(filepath.Join(out, "clusters", "production")); err != nil {
			t.Errorf("the repository was not written: %v", err)
		}
	})
	t.Run("preflight that fails: the report, exit 3", func(t *testing.T) {
		r := runBinary(t, nil, "preflight", "--root", root, hermetic, "-o", "json")
		r.wantCode(t, exitPreflightFailed)
		var rep preflight.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.OK || len(rep.FailedIDs()) == 0 {
			t.Errorf("report %+v", rep)
		}
		r.object(t)
	})
	t.Run("airgap keygen", func(t *testing.T) {
		r := runBinary(t, nil, "airgap", "keygen", keys, "-o", "json")
		r.wantCode(t, 0)
		if doc := r.object(t); doc["keyID"] == "" || doc["publicKey"] != keys+".pub" {
			t.Errorf("keygen document %v", doc)
		}
	})
	t.Run("reset with nothing to do", func(t *testing.T) {
		r := runBinary(t, nil, "reset", "--root", t.TempDir(), "--state-dir", "/var/lib/docs-appliance", "-o", "json")
		r.wantCode(t, 0)
		if doc := r.object(t); doc["changed"] != false {
			t.Errorf("reset document %v", doc)
		}
	})

	// Failures: the error document, with the exit code the process returns.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"install: missing config", []string{"install", "--dry-run", "-c", "/no/such/appliance.yaml"}, "/no/such/appliance.yaml"},
		{"render: no --out", []string{"render", "-c", cfg}, `"out"`},
		{"bad flag before -o", []string{"version", "--bogus", "-o", "json"}, "unknown flag: --bogus"},
		{"airgap verify: no bundle", []string{"airgap", "verify", "/no/such/bundle.tar.zst", "--insecure-skip-bundle-verify"}, "/no/such/bundle.tar.zst"},
		{"airgap import: no bundle", []string{"airgap", "import", "/no/such/bundle.tar.zst"}, "/no/such/bundle.tar.zst"},
		{"airgap build: no train", []string{"airgap", "build"}, "no train given"},
		{"trains lock: no file", []string{"trains", "lock", "/no/such/train.yaml"}, "/no/such/train.yaml"},
		{"airgap keygen: key exists", []string{"airgap", "keygen", keys}, "already exists"},
		{"configure: nothing saved", []string{"configure", "--non-interactive"}, "does not exist"},
		{"preflight: unknown check", []string{"preflight", "--root", root, "--ignore-preflight", "nope"}, "nope"},
		{"upgrade: no appliance", []string{"upgrade"}, "no appliance is installed"},
		{"rollback: no appliance", []string{"rollback"}, "no appliance is installed"},
		{"upgrade --plan: no appliance", []string{"upgrade", "--plan"}, "no appliance is installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, tc.args...), "--state-dir", t.TempDir())
			if !strings.Contains(strings.Join(args, " "), "-o json") {
				args = append(args, "-o", "json")
			}
			r := runBinary(t, nil, args...)
			if msg := r.errorDoc(t, 1); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q lacks %q", msg, tc.want)
			}
		})
	}
}

// In text mode the result is on stdout and the status on stderr, so a
// plan can be piped or saved without the progress lines.
func TestTextResultOnStdoutStatusOnStderr(t *testing.T) {
	r := runBinary(t, nil, "install", "--dry-run", "-c", exampleConfig(t), "--root", hostRoot(t), "--state-dir", t.TempDir(),
		"-O", filepath.Join(t.TempDir(), "r"), hermetic)
	r.wantCode(t, 0)
	if !strings.Contains(r.stdout, "Plan: Docs") {
		t.Errorf("stdout lacks the plan:\n%s", r.stdout)
	}
	for _, status := range []string{"► reading config and secrets", "✔ checking the host (preflight)"} {
		if strings.Contains(r.stdout, status) {
			t.Errorf("stdout holds the status line %q", status)
		}
		if !strings.Contains(r.stderr, status) {
			t.Errorf("stderr lacks the status line %q:\n%s", status, r.stderr)
		}
	}
}

type statusEvent struct {
	Event, Step string
}

// statusEvents parses stderr: JSON lines, then the "Error:" line of a failure.
func statusEvents(t *testing.T, stderr string) []statusEvent {
	t.Helper()
	var out []statusEvent
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(line, "Error: ") {
			continue
		}
		var e statusEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Event == "" {
			t.Errorf("stderr line is not a status event: %q (%v)", line, err)
			continue
		}
		out = append(out, e)
	}
	return out
}

func hasEvent(events []statusEvent, kind, step string) bool {
	for _, e := range events {
		if e.Event == kind && e.Step == step {
			return true
		}
	}
	return false
}

func TestErrorDocumentCarriesTheExitCodeAndFailedChecks(t *testing.T) {
	err := fmt.Errorf("installing: %w", &preflight.FailedError{Kind: "host", IDs: []string{"cpu", "memory"}})
	doc := newErrorDocument(err)
	if doc.Error.ExitCode != exitPreflightFailed || strings.Join(doc.Error.FailedChecks, ",") != "cpu,memory" || doc.Error.Message != err.Error() {
		t.Errorf("document %+v", doc)
	}
	if doc := newErrorDocument(fmt.Errorf("reading: %w", os.ErrNotExist)); doc.Error.ExitCode != exitError || doc.Error.FailedChecks != nil {
		t.Errorf("document %+v", doc)
	}
}

func TestWantsJSONReadsTheLastOutputFlag(t *testing.T) {
	for args, want := range map[string]bool{
		"version --bogus -o json":       true,
		"version -ojson --bogus":        true,
		"version --output=json":         true,
		"version -o=json":               true,
		"version --output json -o text": false,
		"version -o text --output json": true,
		"version -O json":               false,
		"airgap verify -- -o json":      false,
		"install --out json":            false,
		"version --bogus":               false,
		"version --output":              false,
	} {
		if got := wantsJSON(strings.Fields(args)); got != want {
			t.Errorf("wantsJSON(%s) = %v, want %v", args, got, want)
		}
	}
}
