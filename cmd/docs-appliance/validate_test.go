package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// smallRepo is a desired-state repository of one Flux Kustomization applying one folder.
func smallRepo(t *testing.T, extra string) string {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "clusters", "site", "apps.yaml"), `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`)
	write(t, filepath.Join(dir, "apps", "settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: docs}\ndata: {mode: production}\n"+extra)
	return dir
}

func TestValidateCommandExitCodesAndJSON(t *testing.T) {
	clean := smallRepo(t, "")
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), []string{"validate", clean}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("a clean repository: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "no findings") || !strings.Contains(out.String(), "no train given") {
		t.Errorf("text report:\n%s", out.String())
	}

	// A Kustomization of another source is not built from this repository.
	write(t, filepath.Join(clean, "clusters", "site", "vendor.yaml"), "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: vendor, namespace: flux-system}\nspec: {interval: 10m, path: ./not-here, prune: true, sourceRef: {kind: OCIRepository, name: vendor}}\n")
	out.Reset()
	if code := Execute(context.Background(), []string{"validate", clean}, nil, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "its source is not this repository but a OCIRepository") {
		t.Errorf("a Kustomization of an OCI source: exit %d\n%s", code, out.String())
	}

	bad := smallRepo(t, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: docs}\nstringData: {token: Abc-123-XYZ}\n")
	out.Reset()
	errOut.Reset()
	code := Execute(context.Background(), []string{"validate", "-o", "json", bad}, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("a plain Secret: exit %d, want 1\n%s", code, errOut.String())
	}
	var doc struct {
		Findings []struct{ File, Object, Rule, Fix string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, out.String())
	}
	if len(doc.Findings) != 1 || doc.Findings[0].Rule != "secret-not-encrypted" || doc.Findings[0].File != "apps/settings.yaml" ||
		doc.Findings[0].Object != "Secret docs/token" || doc.Findings[0].Fix == "" {
		t.Errorf("findings: %+v", doc.Findings)
	}
	if strings.Contains(out.String()+errOut.String(), "Abc-123-XYZ") {
		t.Error("the report prints the Secret's value")
	}
}

// TestValidateCommandClonesRepo validates a repository given by --repo (a local bare repository).
func TestValidateCommandClonesRepo(t *testing.T) {
	kit.Program(t, "git", "apt-get install git")
	work := smallRepo(t, "")
	bare := filepath.Join(t.TempDir(), "site.git")
	for _, argv := range [][]string{
		{"init", "-q", "-b", "main", work}, {"-C", work, "add", "."},
		{"-C", work, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "state"},
		{"clone", "-q", "--bare", work, bare},
	} {
		if out, err := exec.Command("git", argv...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", argv, err, out)
		}
	}
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), []string{"validate", "--repo", "file://" + bare}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 Flux Kustomizations") {
		t.Errorf("report:\n%s", out.String())
	}
}
