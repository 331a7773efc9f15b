package kit

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadReadsEveryVersion(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if v.Kubernetes == "" || v.Etcd == "" || v.Containerd == "" || v.CoreDNS == "" || v.PauseImage == "" {
		t.Fatalf("empty version in %+v", v)
	}
	if len(v.Flux) != 3 {
		t.Fatalf("want 3 Flux controllers, got %+v", v.Flux)
	}
	for _, f := range v.Flux {
		if !strings.HasPrefix(f.Image(), "ghcr.io/fluxcd/"+f.Name+":v") || f.Build == "" {
			t.Errorf("bad controller %+v (image %s)", f, f.Image())
		}
	}
}

func TestParseEnvRejectsMalformedLines(t *testing.T) {
	if _, err := parseEnv("# c\nA=1\nnot a pair\n"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
	vars, err := parseEnv("\n# comment\nA=1\nB=x=y\n")
	if err != nil || vars["A"] != "1" || vars["B"] != "x=y" {
		t.Fatalf("got %v, %v", vars, err)
	}
}

func TestDirsFollowCacheRootAndOverride(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	t.Setenv(EnvCache, root)
	t.Setenv(EnvKubeKit, "")
	d, err := v.Dirs()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "kube-"+v.Kubernetes+"-etcd-"+v.Etcd); d.Kube != want {
		t.Errorf("Kube = %s, want %s", d.Kube, want)
	}
	if !strings.Contains(d.FluxImages, "source-"+v.Flux[0].Build) {
		t.Errorf("FluxImages %s does not carry the source-controller version", d.FluxImages)
	}
	t.Setenv(EnvKubeKit, "/elsewhere")
	if d, _ = v.Dirs(); d.Kube != "/elsewhere" {
		t.Errorf("override ignored: %s", d.Kube)
	}
}

func TestCheckBinariesNamesTheMissingOneAndTheTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckBinaries(dir, "the envtest kit", "envtest-kit", "etcd", "kubectl")
	var missing *MissingError
	if !errors.As(err, &missing) || missing.Path != filepath.Join(dir, "kubectl") {
		t.Fatalf("want kubectl reported missing, got %v", err)
	}
	if !strings.Contains(err.Error(), "make envtest-kit") {
		t.Errorf("message does not say how to get it: %v", err)
	}
	if err := CheckBinaries(dir, "x", "y", "etcd"); err != nil {
		t.Errorf("etcd is there: %v", err)
	}
}

// The Go harness and the build scripts must agree on where the CloudNativePG kit is.
func TestCNPGDirIsTheOneTheBuildScriptFills(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	t.Setenv(EnvCache, root)
	d, err := v.Dirs()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", `. ./lib.sh && printf %s "$CNPG_KIT"`)
	cmd.Env = append(os.Environ(), EnvCache+"="+root)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing lib.sh: %v", err)
	}
	if string(out) != d.CNPG {
		t.Fatalf("lib.sh builds into %s, the harness looks in %s", out, d.CNPG)
	}
	if v.CNPG.Operator == "" || v.CNPG.PostgresMajor == "" || !strings.HasPrefix(v.CNPG.Postgres, "ghcr.io/cloudnative-pg/postgresql:"+v.CNPG.PostgresMajor+".") {
		t.Errorf("CNPG versions %+v: the PostgreSQL image's tag must start with its major", v.CNPG)
	}
}
