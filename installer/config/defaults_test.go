package config

import (
	"reflect"
	"testing"
)

func TestDefaultedListsEveryFilledField(t *testing.T) {
	c, err := Parse([]byte("domain: docs.example.org\nstorage:\n  bucket: media\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve([]string{"adminEmail=ops@example.org", "smtp.host=mail.example.org"}); err != nil {
		t.Fatal(err)
	}
	c.DefaultTrain("2026.11", "the newest train of this binary")
	got := map[string]FilledDefault{}
	for _, d := range c.Defaulted() {
		got[d.Path] = d
	}
	for _, want := range []FilledDefault{
		{"tls.acmeEmail", "ops@example.org", "adminEmail"},
		{"smtp.port", "587", "smtp.security starttls"},
		{"smtp.security", "starttls", BuiltIn},
		{"profile", "single-small", BuiltIn},
		{"environment", "production", BuiltIn},
		{"tls.mode", "acme", BuiltIn},
		{"tls.acmeServer", "https://acme-v02.api.letsencrypt.org/directory", BuiltIn},
		{"identity.mode", "embedded", BuiltIn},
		{"storage.region", "us-east-1", BuiltIn},
		{"git.branch", "main", BuiltIn},
		{"backup.retention", "30d", BuiltIn},
		{"train", "2026.11", "the newest train of this binary"},
	} {
		if !reflect.DeepEqual(got[want.Path], want) {
			t.Errorf("%s: got %+v, want %+v", want.Path, got[want.Path], want)
		}
	}
	// What the operator wrote or set is theirs, not a default.
	for _, p := range []string{"domain", "adminEmail", "storage.bucket", "smtp.host", "apiVersion"} {
		if d, ok := got[p]; ok {
			t.Errorf("%s is listed as a default: %+v", p, d)
		}
	}
	// A default changed afterwards is no longer one.
	if err := c.Set("tls.acmeEmail=certs@example.org"); err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Defaulted() {
		if d.Path == "tls.acmeEmail" {
			t.Errorf("a field set after the defaults is still listed: %+v", d)
		}
	}
}

func TestDefaultedFollowsSecurityForThePort(t *testing.T) {
	c := &Config{SMTP: SMTP{Host: "mail.example.org", Security: SMTPTLS}}
	c.ApplyDefaults()
	for _, d := range c.Defaulted() {
		if d.Path == "smtp.port" {
			if d.Value != "465" || d.From != "smtp.security tls" {
				t.Fatalf("%+v", d)
			}
			return
		}
	}
	t.Fatal("smtp.port not listed")
}

func TestDefaultTrainKeepsAGivenTrain(t *testing.T) {
	c := &Config{Train: "2026.05"}
	c.DefaultTrain("2026.11", "the newest train of this binary")
	if c.Train != "2026.05" || len(c.Defaulted()) != 0 {
		t.Fatalf("train %s, defaulted %+v", c.Train, c.Defaulted())
	}
}
