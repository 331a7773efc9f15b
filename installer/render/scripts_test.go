package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// fakeKubectl stands for kubectl and the cluster behind it (a
// CloudNativePG operator cannot run here): it logs every call and answers
// as the API server and the restored PostgreSQL would, from the scenario
// in its environment. The restore check's own logic — which backup it
// picks, what it asks the database, what it records, that it always
// cleans up — runs for real in bash with the real jq.
const fakeKubectl = `#!/bin/bash
echo "kubectl $*" >> "$FAKE_LOG"
args="$*"
case "$args" in
  *"get backups.postgresql.cnpg.io"*)
    if [ "$SCENARIO" = "no-backup" ]; then echo '{"items":[]}'; exit 0; fi
    cat <<'JSON'
{"items":[
 {"metadata":{"name":"postgres-daily-20261124020000"},"status":{"phase":"completed","stoppedAt":"2026-11-24T02:03:00Z"}},
 {"metadata":{"name":"postgres-daily-20261126020000"},"status":{"phase":"failed","stoppedAt":"2026-11-26T02:01:00Z"}},
 {"metadata":{"name":"postgres-daily-20261125020000"},"status":{"phase":"completed","stoppedAt":"2026-11-25T02:02:00Z"}}
]}
JSON
    ;;
  *"wait clusters.postgresql.cnpg.io/restore-check"*)
    [ "$SCENARIO" = "no-recovery" ] && exit 1
    exit 0 ;;
  *"get pods"*) echo -n "restore-check-1" ;;
  *"exec restore-check-1"*)
    case "$args" in
      *information_schema.tables*) echo 42 ;;
      *django_migrations*) echo 180 ;;
      *impress_user*) if [ "$SCENARIO" = "no-users" ]; then echo 0; else echo 7; fi ;;
      *impress_document*) echo 123 ;;
      *"from realm"*) echo 1 ;;
      *) echo "unexpected query: $args" >&2; exit 1 ;;
    esac ;;
  *"create configmap"*)
    # Print the literals, one per line, for the apply that follows.
    for a in "$@"; do case "$a" in --from-literal=*) echo "${a#--from-literal=}" ;; esac; done ;;
  *"apply --server-side"*) cat > "$FAKE_RESULT" ;;
  *) exit 0 ;;
esac
`

func runRestoreCheck(t *testing.T, scenario string) (result map[string]string, log string, err error) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fakeKubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte(restoreCheckScript), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, resultFile := filepath.Join(dir, "calls.log"), filepath.Join(dir, "result")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_LOG="+logFile, "FAKE_RESULT="+resultFile, "SCENARIO="+scenario,
		// What the CronJob's container sets.
		"NAMESPACE="+nsDatabase, "NAME="+restoreCheck, "SOURCE="+postgresCluster,
		"RESULT="+RestoreCheckResult, "TIMEOUT=90m", "CHECK_KEYCLOAK=true",
	)
	out, runErr := cmd.CombinedOutput()
	calls, _ := os.ReadFile(logFile)
	data, rerr := os.ReadFile(resultFile)
	if rerr != nil {
		t.Fatalf("%s: no result recorded (%v)\noutput: %s\ncalls:\n%s", scenario, rerr, out, calls)
	}
	result = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		result[k] = v
	}
	return result, string(calls), runErr
}

func TestRestoreCheckScript(t *testing.T) {
	for _, tool := range []string{"bash", "jq"} {
		kit.Program(t, tool, "apt-get install "+tool+" (the kubectl image carries it)")
	}
	t.Run("passes on a sane restore", func(t *testing.T) {
		res, calls, err := runRestoreCheck(t, "ok")
		if err != nil {
			t.Fatalf("the check failed: %v\n%s", err, calls)
		}
		// The newest completed backup, not the newer failed one.
		if res["status"] != "passed" || res["backup"] != "postgres-daily-20261125020000" || res["backupStoppedAt"] != "2026-11-25T02:02:00Z" {
			t.Errorf("result %v", res)
		}
		for k, v := range map[string]string{"tables": "42", "migrations": "180", "users": "7", "documents": "123"} {
			if res[k] != v {
				t.Errorf("%s = %q, want %q", k, res[k], v)
			}
		}
		if res["startedAt"] == "" || res["finishedAt"] == "" {
			t.Errorf("no timestamps: %v", res)
		}
		// A leftover is removed first, the throwaway cluster last; the
		// embedded realm is checked too.
		lines := strings.Split(strings.TrimSpace(calls), "\n")
		if !strings.Contains(lines[0], "delete clusters.postgresql.cnpg.io restore-check") ||
			!strings.Contains(lines[len(lines)-1], "delete clusters.postgresql.cnpg.io restore-check") {
			t.Errorf("the throwaway cluster is not cleaned up first and last:\n%s", calls)
		}
		if !strings.Contains(calls, "-d keycloak") || !strings.Contains(calls, "kubectl apply -f /restore-check/cluster.yaml") {
			t.Errorf("calls:\n%s", calls)
		}
	})
	for scenario, want := range map[string]string{
		"no-backup":   "no completed backup of postgres to restore",
		"no-recovery": "did not recover from backup postgres-daily-20261125020000 within 90m",
		"no-users":    "the restored database has no user",
	} {
		t.Run("fails: "+scenario, func(t *testing.T) {
			res, calls, err := runRestoreCheck(t, scenario)
			if err == nil {
				t.Fatal("the check passed")
			}
			if res["status"] != "failed" || !strings.Contains(res["message"], want) {
				t.Errorf("result %v, want failed with %q", res, want)
			}
			lines := strings.Split(strings.TrimSpace(calls), "\n")
			if !strings.Contains(lines[len(lines)-1], "delete clusters.postgresql.cnpg.io restore-check") {
				t.Errorf("a failed check left the throwaway cluster:\n%s", calls)
			}
		})
	}
}

// TestCAExportScript runs the appliance CA export against a kubectl
// stand-in: it waits for cert-manager's Secret, then publishes the
// certificate (never the key) in every target namespace.
func TestCAExportScript(t *testing.T) {
	kit.Program(t, "bash", "apt-get install bash")
	kit.Program(t, "base64", "apt-get install coreutils")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	// The Secret appears on the third look, as when cert-manager is slow.
	fake := `#!/bin/bash
echo "kubectl $*" >> "$FAKE_LOG"
case "$*" in
  *"get secret appliance-ca"*)
    n=$(cat "$FAKE_COUNT" 2>/dev/null || echo 0); echo $((n + 1)) > "$FAKE_COUNT"
    [ "$n" -ge 2 ] || exit 1
    echo -n "-----BEGIN CERTIFICATE-----CA-----END CERTIFICATE-----" | base64 -w0 ;;
  *"create configmap"*) for a in "$@"; do case "$a" in --from-literal=*) echo "${a#--from-literal=}";; -n) ;; esac; done; echo "ns=$2" ;;
  *"apply --server-side"*) cat >> "$FAKE_RESULT"; echo "---" >> "$FAKE_RESULT" ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	// sleep is part of the wait loop: make it instant.
	if err := os.WriteFile(filepath.Join(bin, "sleep"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, resultFile := filepath.Join(dir, "calls.log"), filepath.Join(dir, "result")
	cmd := exec.Command("bash", "-c", caExportScript)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_LOG="+logFile, "FAKE_RESULT="+resultFile, "FAKE_COUNT="+filepath.Join(dir, "count"),
		"CA_NAMESPACE=cert-manager", "CA_SECRET="+caSecret, "EXPORT_NAME="+caExport,
		"TARGET_NAMESPACES=kube-public monitoring")
	if out, err := cmd.CombinedOutput(); err != nil {
		calls, _ := os.ReadFile(logFile)
		t.Fatalf("the export failed: %v\n%s\n%s", err, out, calls)
	}
	result, _ := os.ReadFile(resultFile)
	want := "ca.crt=-----BEGIN CERTIFICATE-----CA-----END CERTIFICATE-----\nns=kube-public\n---\n" +
		"ca.crt=-----BEGIN CERTIFICATE-----CA-----END CERTIFICATE-----\nns=monitoring\n---\n"
	if string(result) != want {
		t.Errorf("published:\n%s\nwant:\n%s", result, want)
	}
	if calls, _ := os.ReadFile(logFile); strings.Contains(string(calls), "tls.key") || strings.Count(string(calls), "get secret") != 3 {
		t.Errorf("calls:\n%s", calls)
	}
}
