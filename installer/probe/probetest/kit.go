package probetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// VersitygwVersion is the S3 server the tests run; mk/wizard.mk builds it.
const VersitygwVersion = "v1.8.0"

// VersitygwPath finds the versitygw binary: $DOCS_APPLIANCE_VERSITYGW, or
// the cache folder `make wizard-kit` fills. Absent, the test ends through
// kit.Unavailable.
func VersitygwPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("DOCS_APPLIANCE_VERSITYGW")
	if p == "" {
		cache, err := kit.CacheRoot()
		if err != nil {
			t.Fatal(err)
		}
		p = filepath.Join(cache, "versitygw-"+VersitygwVersion, "versitygw")
	}
	kit.File(t, p, "the versitygw S3 server", "run `make wizard-kit` (builds it from the Go module proxy into the cache: 1 to 6 minutes)")
	return p
}

// GitHTTPBackend finds git and its http-backend program.
func GitHTTPBackend(t testing.TB) (gitBin, backend string) {
	t.Helper()
	gitBin = kit.Program(t, "git", "apt-get install git")
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		t.Fatalf("asking git for its exec path: %v", err)
	}
	backend = filepath.Join(strings.TrimRight(string(out), "\r\n"), "git-http-backend")
	kit.File(t, backend, "git-http-backend", "apt-get install git")
	return gitBin, backend
}
