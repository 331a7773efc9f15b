package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// doctor's exit codes: 1 when it cannot run at all (no appliance here, an
// unknown check, a bad flag), 3 when it ran and a check failed — a cluster
// that does not answer is a finding with its fix, not a reason to stop.
func TestDoctorExitCodes(t *testing.T) {
	empty := t.TempDir()
	r := runBinary(t, nil, "doctor", "--state-dir", empty, "-o", "json")
	r.wantCode(t, 1)
	if e, _ := r.object(t)["error"].(map[string]any); e == nil || !strings.Contains(e["message"].(string), "no appliance is installed from "+empty) {
		t.Errorf("doctor without an appliance: %s", r.stdout)
	}

	state := t.TempDir()
	cfg, err := os.ReadFile(exampleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wizard.DefaultConfigPath(state), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, nil, "doctor", "--state-dir", state, "--check", "cluster-nodez")
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, `unknown check "cluster-nodez"`) || !strings.Contains(r.stderr, "cluster-nodes") {
		t.Errorf("an unknown check must be refused naming the known ones:\n%s", r.stderr)
	}
	r = runBinary(t, nil, "doctor", "--state-dir", state, "--ca-file", filepath.Join(state, "appliance.yaml"))
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "no PEM certificate") {
		t.Errorf("a --ca-file without a certificate must be refused:\n%s", r.stderr)
	}

	// A kubeconfig whose API server does not answer (nothing listens on port 1).
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, nil, "doctor", "--state-dir", state, "--kubeconfig", kubeconfig, "--group", "cluster,gitops", "-o", "json")
	r.wantCode(t, 3)
	doc := r.object(t)
	results, _ := doc["results"].([]any)
	if len(results) == 0 {
		t.Fatalf("no report: %s", r.stdout)
	}
	for _, x := range results {
		res := x.(map[string]any)
		if res["outcome"] != "fail" || !strings.Contains(res["detail"].(string), "127.0.0.1:1") || res["fix"] == "" {
			t.Errorf("%s with the API server down: %v", res["id"], res)
		}
	}
	if summary, _ := doc["summary"].(map[string]any); summary["exitCode"] != float64(3) {
		t.Errorf("summary %v", summary)
	}

	// The inputs of the install may be gone since (a certificate file deleted after install):
	// doctor still runs from the saved config, which it does not validate again.
	moved := strings.Replace(string(cfg), "tls:\n", "tls:\n  certFile: /gone/tls.crt\n  keyFile: /gone/tls.key\n", 1)
	if moved == string(cfg) {
		t.Fatal("the example config has no tls section to edit")
	}
	if err := os.WriteFile(wizard.DefaultConfigPath(state), []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, nil, "doctor", "--state-dir", state, "--kubeconfig", kubeconfig, "--group", "cluster", "-o", "json")
	r.wantCode(t, 3)
}
