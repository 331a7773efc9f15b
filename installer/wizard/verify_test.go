package wizard_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// TestNonInteractive checks saved answers without prompting: a good set
// passes; missing secrets are listed by Validate; answers the services
// refuse are all listed at once, each with its field and reason, and
// nothing is changed (the missing bucket is not created).
func TestNonInteractive(t *testing.T) {
	s := startSite(t)
	ctx := context.Background()
	state := t.TempDir()
	path := filepath.Join(state, "answers.yaml")
	run := func() error {
		return (&wizard.Configure{ConfigPath: path, StateDir: state, NonInteractive: true, Checks: s.live,
			In: nil, Out: discardFile(t), Err: discardFile(t)}).Run(ctx)
	}

	if err := run(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no saved answers: got %v", err)
	}

	s.s3.CreateBucket(t, "docs-media", true)
	cfg := &config.Config{Domain: domain, AdminEmail: "admin@example.org"}
	cfg.TLS.Mode = config.TLSApplianceCA
	cfg.Identity = config.Identity{Mode: config.External, Issuer: s.oidc.Issuer, ClientID: "docs"}
	cfg.Storage = config.Storage{Mode: config.External, Endpoint: s.s3.Endpoint, Bucket: "docs-media"}
	cfg.Git = config.Git{Mode: config.GitExternal, URL: s.repo, Auth: config.GitAuthToken, Username: "writer"}
	cfg.SMTP = config.SMTP{Host: s.relay.Host, Port: s.relay.Port, Username: "docs@example.org", From: "docs@example.org"}
	// The endpoints come from discovery, as the wizard saves them.
	rep, err := s.live.OIDC(ctx, cfg.Identity, clientSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity.Endpoints = rep.Endpoints
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Train = cat.Latest().Name
	if err := cfg.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}

	err = run()
	var ve *bundles.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("no secrets given: want every missing one listed, got %v", err)
	}
	for _, name := range []string{"identity.clientSecret", "storage.accessKeyID", "storage.secretAccessKey", "git.token", "smtp.password"} {
		if !strings.Contains(err.Error(), "secrets."+name) {
			t.Errorf("missing secret %s not listed in:\n%v", name, err)
		}
	}

	good := map[string]string{
		"identity.clientSecret": clientSecret, "storage.accessKeyID": s.s3.AccessKey, "storage.secretAccessKey": s.s3.SecretKey,
		"git.token": gitToken, "smtp.password": smtpPassword,
	}
	if _, err := wizard.Save(&wizard.Answers{Config: cfg, Secrets: good}, path, state); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("good saved answers refused: %v", err)
	}

	bad := map[string]string{"identity.clientSecret": "not-the-Secret-2", "git.token": "not-the-Token-2", "smtp.password": "not-the-Pass-2"}
	cfg.Storage.Bucket = "docs-missing"
	cfg.Backup.Bucket = "docs-missing" // still the storage's bucket: its keys
	if _, err := wizard.Save(&wizard.Answers{Config: cfg, Secrets: bad}, path, state); err != nil {
		t.Fatal(err)
	}
	err = run()
	var vf *wizard.VerifyError
	if !errors.As(err, &vf) {
		t.Fatalf("want every refused answer listed, got %v", err)
	}
	fields := map[string]string{}
	for _, p := range vf.Problems {
		fields[p.Field] = p.Reason
	}
	for field, want := range map[string]string{
		"identity": "invalid_client", "storage": "create the bucket docs-missing is needed",
		"backup": "create the bucket docs-missing there (the appliance never creates it)",
		"git":    "refused the credentials", "smtp": "the relay refused",
	} {
		if !strings.Contains(fields[field], want) {
			t.Errorf("%s: reason %q, want it to say %q", field, fields[field], want)
		}
	}
	if len(vf.Problems) != 5 {
		t.Errorf("problems = %+v, want exactly the five refused answers", vf.Problems)
	}
	if s.s3.BucketExists("docs-missing") {
		t.Error("a non-interactive check created a bucket")
	}
	for _, v := range bad {
		if strings.Contains(err.Error(), v) {
			t.Errorf("a secret shows in the error")
		}
	}
	store, serr := secrets.OpenStoreReadOnly(state)
	if serr != nil {
		t.Fatal(serr)
	}
	if v, _ := store.Get("identity.clientSecret"); v != "not-the-Secret-2" {
		t.Error("Save did not replace the stored secret")
	}
}

// discardFile is a terminal-less output for the non-interactive runs.
func discardFile(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
