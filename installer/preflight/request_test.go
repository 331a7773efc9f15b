package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequestTakesProfileDomainsAndAirgapFromTheConfig(t *testing.T) {
	tr := healthyHost(t)
	cfg := filepath.Join(t.TempDir(), "appliance.yaml")
	if err := os.WriteFile(cfg, []byte("profile: single\ndomain: docs.invalid\nextraDomains: [collab.invalid]\nairgapped: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Ports are left out: probing them would bind this machine's 80 and 443 on every address.
	rep, err := Request{Root: string(tr.Root), StateDir: "/var/lib/docs-appliance", ConfigPath: cfg, Ignore: []string{"ports"}}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Profile != "single" {
		t.Errorf("profile %q", rep.Profile)
	}
	r, _ := rep.Get("cpu")
	if r.Detail != "8 CPUs (the single profile needs 8)" {
		t.Errorf("cpu: %q", r.Detail)
	}
	// .invalid never resolves; air-gapped, that only warns.
	r, _ = rep.Get("domain-dns")
	if r.Outcome != Warned || !strings.Contains(r.Detail, "docs.invalid does not resolve") || !strings.Contains(r.Detail, "collab.invalid does not resolve") {
		t.Errorf("dns: %s %q", r.Outcome, r.Detail)
	}
	// A flag wins over the config.
	rep, err = Request{Root: string(tr.Root), ConfigPath: cfg, Profile: "single-small", Ignore: []string{"ports", "domain-dns"}}.Run(context.Background())
	if err != nil || rep.Profile != "single-small" {
		t.Errorf("profile flag: %v %v", rep, err)
	}
}

func TestRequestRefusesUnknownNames(t *testing.T) {
	tr := healthyHost(t)
	if _, err := (Request{Root: string(tr.Root), Profile: "huge"}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), `--profile: profile "huge" is not known (known: ha, single, single-small)`) {
		t.Errorf("profile: %v", err)
	}
	if _, err := (Request{Root: string(tr.Root), Train: "1999.01"}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--train: train \"1999.01\" is not known") {
		t.Errorf("train: %v", err)
	}
	if _, err := (Request{Root: string(tr.Root), ConfigPath: "/no/such/appliance.yaml"}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "the file does not exist") {
		t.Errorf("config: %v", err)
	}
}
