package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

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
