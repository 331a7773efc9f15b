package bundles

import (
	"errors"
	"strings"
	"testing"
)

func TestEmbeddedTrainsLoad(t *testing.T) {
	c, err := LoadEmbedded()
	if err != nil {
		t.Fatalf("loading embedded trains: %v", err)
	}
	tr, err := c.Get("2026.11")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Docs.Version != "v5.4.1" {
		t.Errorf("docs version = %q", tr.Docs.Version)
	}
	if _, ok := tr.ImageFor("lasuite/impress-backend"); !ok {
		t.Error("train lacks the Docs backend image")
	}
	// The first train cannot be locked on a machine without registries.
	if tr.Locked() {
		t.Error("2026.11 claims to be locked but no digest could be looked up")
	}
	if c.Latest().Name != "2026.12" {
		t.Errorf("latest = %s", c.Latest().Name)
	}
}

const goodTrain = `
name: "2030.01"
k3s:
  version: v1.35.2+k3s1
  artifacts:
    amd64: {binaryURL: https://x/k3s, airgapImagesURL: https://x/a.tar.zst}
kubernetes: {minVersion: "1.33", maxVersion: "1.36"}
flux:
  version: v2.9.5
  controllers: {source-controller: v1.9.5, kustomize-controller: v1.9.5, notification-controller: v1.9.4}
docs: {version: v5.4.1}
charts:
  - {name: docs, repository: "https://example.org/charts", version: 5.4.1}
images:
  - {reference: "docker.io/lasuite/impress-backend:v5.4.1", digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}
`

func TestParseTrainFieldErrors(t *testing.T) {
	if _, err := ParseTrain([]byte(goodTrain)); err != nil {
		t.Fatalf("good train rejected: %v", err)
	}
	cases := []struct {
		name, from, to, wantPath string
	}{
		{"name", `name: "2030.01"`, `name: "jan"`, "name:"},
		{"k3s version", `version: v1.35.2+k3s1`, `version: latest`, "k3s.version"},
		{"k3s outside range", `version: v1.35.2+k3s1`, `version: v1.30.2+k3s1`, "k3s.version: Kubernetes 1.30 is outside"},
		{"artifact url", `binaryURL: https://x/k3s`, `binaryURL: http://x/k3s`, "k3s.artifacts.amd64.binaryURL"},
		{"arch", `amd64: {`, `s390x: {`, "k3s.artifacts.s390x"},
		{"range", `minVersion: "1.33"`, `minVersion: "1.40"`, "kubernetes: minVersion is above maxVersion"},
		{"flux controller", `notification-controller: v1.9.4`, `helm-controller: v1.9.4`, "flux.controllers.notification-controller"},
		{"chart repo", `repository: "https://example.org/charts"`, `repository: "ftp://example.org"`, "charts[0].repository"},
		{"chart version", `version: 5.4.1}`, `version: "5.4"}`, "charts[0].version"},
		{"image tag", `impress-backend:v5.4.1"`, `impress-backend:latest"`, "images[0].reference: tag latest"},
		{"image no registry tag", `"docker.io/lasuite/impress-backend:v5.4.1"`, `"impress-backend"`, "images[0].reference"},
		{"digest", `digest: "sha256:0000`, `digest: "md5:0000`, "images[0].digest"},
		{"unknown field", `docs: {version: v5.4.1}`, `docs: {version: v5.4.1, extra: 1}`, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(goodTrain, c.from, c.to, 1)
			if in == goodTrain {
				t.Fatalf("replacement %q not found", c.from)
			}
			_, err := ParseTrain([]byte(in))
			if err == nil || !strings.Contains(err.Error(), c.wantPath) {
				t.Fatalf("error = %v, want it to mention %q", err, c.wantPath)
			}
		})
	}
}

func TestValidationReportsEveryField(t *testing.T) {
	in := strings.Replace(strings.Replace(goodTrain, `name: "2030.01"`, `name: "x"`, 1), `version: v5.4.1}`, `version: five}`, 1)
	_, err := ParseTrain([]byte(in))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	if len(ve.Fields) != 2 {
		t.Fatalf("want 2 field errors, got %v", ve.Fields)
	}
}

func TestImageParts(t *testing.T) {
	im := Image{Reference: "registry.local:5000/a/b:v1", Digest: "sha256:ab"}
	if im.Repository() != "registry.local:5000/a/b" || im.Tag() != "v1" {
		t.Fatalf("repo=%s tag=%s", im.Repository(), im.Tag())
	}
	if im.Pinned() != "registry.local:5000/a/b:v1@sha256:ab" {
		t.Fatal(im.Pinned())
	}
}
