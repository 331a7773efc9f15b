package airgap

import (
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

func TestCheckEntryPath(t *testing.T) {
	for p, want := range map[string]string{
		"images/docker.io_lasuite_impress-backend_v5.4.1.tar": "",
		"charts/cert-manager-v1.21.1.tgz":                     "",
		"flux/crds/sources+1@x=y.yaml":                        "",
		"":                                                    "empty",
		"/etc/passwd":                                         "absolute",
		"images/../../x":                                      "..",
		"..":                                                  "..",
		"images//x":                                           "not clean",
		"images/./x":                                          "not clean",
		"images/x/":                                           "not clean",
		`images\x`:                                            "backslash",
		"images/.hidden":                                      "starts with a dot",
		"images/a b":                                          "is not made of",
		"images/" + strings.Repeat("a", 201):                  "is not made of",
	} {
		got := checkEntryPath(p)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("checkEntryPath(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestContainerdName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/nginx:1.29":                     "docker.io/library/nginx:1.29",
		"docker.io/lasuite/impress-backend:v5.4.1": "docker.io/lasuite/impress-backend:v5.4.1",
		"index.docker.io/redis@sha256:00":          "docker.io/library/redis@sha256:00",
		"docker.io/nginx":                          "docker.io/library/nginx",
		"ghcr.io/fluxcd/source-controller:v1.9.5":  "ghcr.io/fluxcd/source-controller:v1.9.5",
		"127.0.0.1:5000/app:v1":                    "127.0.0.1:5000/app:v1",
	} {
		if got := ContainerdName(in); got != want {
			t.Errorf("ContainerdName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPaths(t *testing.T) {
	if got := ImagePath(bundles.Image{Reference: "docker.io/lasuite/impress-backend:v5.4.1"}); got != "images/docker.io_lasuite_impress-backend_v5.4.1.tar" {
		t.Errorf("ImagePath = %s", got)
	}
	if got := BundleDir("/var/lib/docs-appliance", "2026.11", "amd64"); got != "/var/lib/docs-appliance/bundles/2026.11-amd64" {
		t.Errorf("BundleDir = %s", got)
	}
	if got := FileName("2026.11", "arm64"); got != "docs-appliance-2026.11-arm64.tar.zst" {
		t.Errorf("FileName = %s", got)
	}
}

func TestParseManifestRejectsNewerFormats(t *testing.T) {
	_, err := ParseManifest([]byte(`{"formatVersion": 2, "somethingNew": true}`))
	if err == nil || !strings.Contains(err.Error(), "formatVersion is 2 but this binary reads format 1") {
		t.Fatalf("error = %v", err)
	}
	_, err = ParseManifest([]byte(`{"formatVersion": 1, "builder": "docs-appliance v9", "somethingNew": true}`))
	if err == nil || !strings.Contains(err.Error(), "built by docs-appliance v9") {
		t.Fatalf("error = %v", err)
	}
}
