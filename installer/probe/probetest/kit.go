package probetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// VersitygwVersion is the S3 server the tests run; mk/wizard.mk builds it.
const VersitygwVersion = "v1.8.0"

// kitMissing skips the test with how to get the missing part, or fails it
// when the kit is required (make test sets DOCS_APPLIANCE_REQUIRE_KIT=1).
func kitMissing(t testing.TB, what, fix string) {
	t.Helper()
	if os.Getenv("DOCS_APPLIANCE_REQUIRE_KIT") == "1" {
		t.Fatalf("%s is missing and DOCS_APPLIANCE_REQUIRE_KIT=1: %s", what, fix)
	}
	t.Skipf("%s is missing: %s", what, fix)
}

// VersitygwPath finds the versitygw binary: $DOCS_APPLIANCE_VERSITYGW, or
// the cache folder `make wizard-kit` fills.
func VersitygwPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("DOCS_APPLIANCE_VERSITYGW")
	if p == "" {
		cache := os.Getenv("DOCS_APPLIANCE_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("finding the home folder for the kit cache: %v", err)
			}
			cache = filepath.Join(home, ".cache", "docs-appliance")
		}
		p = filepath.Join(cache, "versitygw-"+VersitygwVersion, "versitygw")
	}
	if _, err := os.Stat(p); err != nil {
		kitMissing(t, "the versitygw S3 server ("+p+")", "run `make wizard-kit` (builds it from the Go module proxy into the cache: 1 to 6 minutes)")
	}
	return p
}

// GitHTTPBackend finds git and its http-backend program.
func GitHTTPBackend(t testing.TB) (gitBin, backend string) {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		kitMissing(t, "git", "install Debian's git package (apt-get install git)")
	}
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		t.Fatalf("asking git for its exec path: %v", err)
	}
	backend = filepath.Join(string(trimNL(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		kitMissing(t, "git-http-backend ("+backend+")", "install Debian's git package (apt-get install git)")
	}
	return gitBin, backend
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
