package wizard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// TestMain quiets the OpenID provider's request log (it logs through slog's default).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// site is every real service the walk-through checks answers against.
type site struct {
	ca    *probetest.CA
	dns   *probetest.DNS
	oidc  *probetest.OIDC
	s3    *probetest.S3
	git   *probetest.Git
	repo  string
	relay *probetest.SMTP
	live  *probe.Live
}

const (
	domain       = "docs.example.test"
	clientSecret = "oidc-Good-secret-7"
	gitToken     = "git-Write-token-7"
	smtpPassword = "smtp-Pass-word-7"
)

func startSite(t *testing.T) *site {
	t.Helper()
	s := &site{ca: probetest.NewCA(t)}
	s.dns = probetest.StartDNS(t, map[string][]netip.Addr{domain: {netip.MustParseAddr("127.0.0.1")}})
	s.oidc = probetest.StartOIDC(t, s.ca, probetest.OIDCOptions{ClientID: "docs", ClientSecret: clientSecret})
	s.s3 = probetest.StartS3(t, s.ca, true)
	s.git = probetest.StartGit(t, s.ca, map[string]probetest.GitUser{"writer": {Password: gitToken, Write: true}})
	s.repo = s.git.InitRepo(t, "state", "main")
	s.relay = probetest.StartSMTP(t, s.ca, "docs@example.org", smtpPassword, false)
	s.live = &probe.Live{Resolver: s.dns.Resolver, CABundle: s.ca.PEM, ListenAddr: "127.0.0.1:0", Timeout: 20 * time.Second}
	return s
}

type runResult struct {
	cfg *config.Config
	err error
}

func runWizard(t *testing.T, con *console, s *site, configPath, stateDir string) <-chan runResult {
	w := &wizard.Wizard{
		In: con.pts, Out: con.pts, Err: con.pts,
		Checks:  s.live,
		Machine: wizard.Machine{CPUs: 8, MemoryGiB: 31.3, DiskFreeGiB: 400, DiskPath: "/var/lib"},
	}
	done := make(chan runResult, 1)
	go func() {
		cfg, err := w.Run(context.Background(), configPath, stateDir)
		done <- runResult{cfg, err}
	}()
	return done
}

func wait(t *testing.T, con *console, done <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("the wizard did not finish; the screen ends with:\n%s", tail(con.screen(), 3000))
	}
	return runResult{}
}

// TestWalkThroughOnATerminal drives the wizard through a pseudo-terminal,
// keystrokes in and screen out, from the first question to the saved
// config, against real services: DNS, the port-80 proof, an OpenID
// provider, versitygw, git http-backend and an SMTP relay. Wrong answers
// (a domain in upper case, a bad client secret) are asked again with the
// reason; the missing bucket is created and versioned after consent. Then
// a second run, Enter all the way, keeps every answer and secret.
func TestWalkThroughOnATerminal(t *testing.T) {
	s := startSite(t)
	state := t.TempDir()
	configPath := wizard.DefaultConfigPath(state)
	con := newConsole(t)
	done := runWizard(t, con, s, configPath, state)

	con.answer("Public host name of Docs", "Docs.Example.test")
	con.expect("Sorry, your reply was invalid")
	con.expect("has upper-case letters; write it in lower case")
	con.answer("Public host name of Docs", "nowhere.example.test")
	con.expect("does not exist in DNS yet")
	con.answer("Public host name of Docs", domain)
	con.answer("Further host names", "")
	con.answer("Administrator's e-mail address", "admin@example.org")
	con.answer("air-gapped", "")
	con.choose("How should the HTTPS certificate be obtained?", "")
	con.answer("E-mail for certificate expiry notices", "")
	con.answer("reaches this server on port 80?", "")
	con.expect("✓ " + domain + " reaches this server")

	con.choose("Who signs people in?", keyDown)
	con.answer("Issuer URL", s.oidc.Issuer)
	con.answer("Client ID", "")
	con.answer("Client secret", "not-the-Secret-1")
	con.answer("Scopes", "")
	con.expect(`✗ the token endpoint ` + s.oidc.Issuer + `/oauth/token refused client "docs" with this secret (invalid_client`)
	con.expect("Please answer again.")
	con.answer("Issuer URL", "")
	con.answer("Client ID", "")
	con.answer("Client secret (Enter keeps the one given before)", clientSecret)
	con.answer("Scopes", "")
	con.expect("✓ issuer " + s.oidc.Issuer + ": endpoints read, RS256 offered; client secret accepted")

	con.choose("Where are documents' files stored?", keyDown)
	con.answer("S3 endpoint URL", s.s3.Endpoint)
	con.answer("Region", "")
	con.answer("Bucket", "")
	con.answer("Access key ID", s.s3.AccessKey)
	con.answer("Secret access key", s.s3.SecretKey)
	con.answer("Create the bucket docs-media-storage?", "")
	con.answer("Turn on versioning for the bucket docs-media-storage?", "")
	con.expect("✓ bucket docs-media-storage: bucket created, versioning turned on, versioning Enabled, write/read/delete round trip passed")

	// Backups: the storage's bucket under appliance-backups/, with its keys.
	con.expect("Backups go to S3, off this server")
	con.answer("Backup S3 endpoint URL", "")
	con.answer("Backup region", "")
	con.answer("Backup bucket", "")
	con.answer("Prefix inside the bucket", "")
	con.expect("The backups use the storage's keys")
	con.expect("✓ backup target s3://docs-media-storage/appliance-backups/ at " + s.s3.Endpoint + ": write/read/delete round trip passed")

	con.choose("Where should the desired state live?", keyDown)
	con.answer("Repository URL", s.repo)
	con.answer("Branch", "")
	con.choose("How does the appliance authenticate?", "")
	con.answer("User name", "writer")
	con.answer("Access token", gitToken)
	con.expect("branch main found, write access proved")

	con.answer("Send e-mail through an SMTP relay?", "y")
	con.answer("Relay host", s.relay.Host)
	con.choose("Connection security", "")
	con.answer("Port", strconv.Itoa(s.relay.Port))
	con.answer("User name (empty when the relay needs none)", "docs@example.org")
	con.answer("Password", smtpPassword)
	con.answer("Sender address", "")
	con.expect("authenticated with PLAIN")
	con.answer("Send a test message to admin@example.org?", "y")
	con.expect("✓ test message accepted by the relay for admin@example.org")

	con.expect("This machine has 8 CPUs, 31.3 GiB of memory and 400 GiB free under /var/lib.")
	con.expect("Which size fits your use?")
	con.expect("ha - needs 3 servers, each 8 CPU, 16 GiB, 120 GiB disk; this machine: 8 CPU ok, 31.3 GiB ok, 400 GiB free ok")
	con.expect("> single - needs 8 CPU, 16 GiB, 120 GiB disk") // the default: the largest that fits
	con.expect("single-small - needs 4 CPU, 8 GiB, 60 GiB disk; this machine: 8 CPU ok, 31.3 GiB ok, 400 GiB free ok")
	con.ready()
	con.send("\r")
	con.answer("Your age public key(s)", "")
	con.expect("Your answers (secrets are not shown)")
	con.answer("Save these answers to "+configPath+"?", "")
	con.expect("The next run needs no questions")
	r := wait(t, con, done)
	if r.err != nil {
		t.Fatalf("the wizard failed: %v\n%s", r.err, tail(con.screen(), 3000))
	}

	// What was saved.
	info, err := os.Stat(configPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, mode %v; want 0600", err, info.Mode())
	}
	saved, err := config.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"domain":        {saved.Domain, domain},
		"adminEmail":    {saved.AdminEmail, "admin@example.org"},
		"tls.mode":      {saved.TLS.Mode, config.TLSACME},
		"identity":      {saved.Identity.Issuer, s.oidc.Issuer},
		"token":         {saved.Identity.Endpoints.Token, s.oidc.Issuer + "/oauth/token"},
		"storage":       {saved.Storage.Endpoint, s.s3.Endpoint},
		"bucket":        {saved.Storage.Bucket, "docs-media-storage"},
		"git.url":       {saved.Git.URL, s.repo},
		"git.username":  {saved.Git.Username, "writer"},
		"smtp.port":     {strconv.Itoa(saved.SMTP.Port), strconv.Itoa(s.relay.Port)},
		"smtp.from":     {saved.SMTP.From, "docs@" + domain},
		"profile":       {saved.Profile, "single"},
		"train":         {saved.Train, r.cfg.Train},
		"identity.mode": {saved.Identity.Mode, config.External},
		"backup":        {saved.BackupLocation().URL() + " at " + saved.BackupLocation().Endpoint, "s3://docs-media-storage/appliance-backups/ at " + s.s3.Endpoint},
	}
	for k, v := range want {
		if v[0] != v[1] {
			t.Errorf("saved %s = %q, want %q", k, v[0], v[1])
		}
	}
	store, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"identity.clientSecret": clientSecret, "storage.accessKeyID": s.s3.AccessKey, "storage.secretAccessKey": s.s3.SecretKey,
		"git.token": gitToken, "smtp.password": smtpPassword,
		// Copied from the storage's: the target is its bucket.
		config.SecretBackupAccessKeyID: s.s3.AccessKey, config.SecretBackupSecretAccessKey: s.s3.SecretKey,
	} {
		if got, ok := store.Get(name); !ok || got != v {
			t.Errorf("secret %s: stored %v, want the answer", name, ok)
		}
	}
	if !store.Has("django.secretKey") {
		t.Error("the generated secrets were not made")
	}
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Validate(cat, store.Origin); err != nil {
		t.Errorf("the saved answers do not validate for a headless run: %v", err)
	}
	if err := wizard.Verify(context.Background(), saved, store.Get, s.live); err != nil {
		t.Errorf("the saved answers fail the live checks when replayed headless: %v", err)
	}

	// Secrets never in clear on the screen, in the config or in the encrypted store.
	storeFile, err := os.ReadFile(filepath.Join(state, secrets.StoreFileName))
	if err != nil {
		t.Fatal(err)
	}
	cfgFile, _ := os.ReadFile(configPath)
	for _, secret := range []string{clientSecret, "not-the-Secret-1", s.s3.SecretKey, gitToken, smtpPassword} {
		for where, text := range map[string]string{"the screen": con.rawOutput(), "appliance.yaml": string(cfgFile), "the secret store": string(storeFile)} {
			if strings.Contains(text, secret) {
				t.Errorf("a secret shows in clear in %s", where)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(state, secrets.StoreFileName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secret store: %v, mode %v; want 0600", err, info.Mode())
	}

	// The services saw the answers.
	if v, err := s.s3.BucketVersioning("docs-media-storage"); err != nil || v != "Enabled" {
		t.Errorf("bucket versioning %q (%v), want Enabled", v, err)
	}
	if msgs := s.relay.Messages(); len(msgs) != 1 || msgs[0].To[0] != "admin@example.org" {
		t.Errorf("relay messages = %+v, want one test message to the admin", msgs)
	}

	// A second run starts from the saved answers: Enter everywhere keeps them all.
	con2 := newConsole(t)
	done2 := runWizard(t, con2, s, configPath, state)
	for _, p := range []string{"Public host name of Docs", "Further host names", "Administrator's e-mail address", "air-gapped"} {
		con2.answer(p, "")
	}
	con2.choose("How should the HTTPS certificate be obtained?", "")
	con2.answer("E-mail for certificate expiry notices", "")
	con2.answer("reaches this server on port 80?", "n")
	con2.choose("Who signs people in?", "")
	for _, p := range []string{"Issuer URL", "Client ID", "Client secret (Enter keeps the one given before)", "Scopes"} {
		con2.answer(p, "")
	}
	con2.expect("client secret accepted")
	con2.choose("Where are documents' files stored?", "")
	for _, p := range []string{"S3 endpoint URL", "Region", "Bucket", "Access key ID", "Secret access key (Enter keeps the one given before)"} {
		con2.answer(p, "")
	}
	con2.expect("✓ bucket docs-media-storage: versioning Enabled")
	for _, p := range []string{"Backup S3 endpoint URL", "Backup region", "Backup bucket", "Prefix inside the bucket"} {
		con2.answer(p, "")
	}
	con2.expect("✓ backup target s3://docs-media-storage/appliance-backups/")
	con2.choose("Where should the desired state live?", "")
	con2.answer("Repository URL", "")
	con2.answer("Branch", "")
	con2.choose("How does the appliance authenticate?", "")
	con2.answer("User name", "")
	con2.answer("Access token (Enter keeps the one given before)", "")
	con2.expect("write access proved")
	con2.answer("Send e-mail through an SMTP relay?", "")
	con2.answer("Relay host", "")
	con2.choose("Connection security", "")
	for _, p := range []string{"Port", "User name (empty when the relay needs none)", "Password (Enter keeps the one given before)", "Sender address"} {
		con2.answer(p, "")
	}
	con2.answer("Send a test message to admin@example.org?", "")
	con2.choose("Which size fits your use?", "")
	con2.answer("Your age public key(s)", "")
	con2.answer("Save these answers to", "")
	r2 := wait(t, con2, done2)
	if r2.err != nil {
		t.Fatalf("second run: %v", r2.err)
	}
	again, _ := os.ReadFile(configPath)
	if string(again) != string(cfgFile) {
		t.Errorf("the second run changed the answers:\nbefore:\n%s\nafter:\n%s", cfgFile, again)
	}
	store2, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := store2.Get("identity.clientSecret"); v != clientSecret {
		t.Error("the second run lost the client secret")
	}
}

// TestInterruptSavesNothing: Ctrl-C at a question ends the wizard with
// ErrInterrupted and writes nothing.
func TestInterruptSavesNothing(t *testing.T) {
	s := &site{live: &probe.Live{}}
	state := t.TempDir()
	con := newConsole(t)
	done := runWizard(t, con, s, wizard.DefaultConfigPath(state), state)
	con.expect("Public host name of Docs")
	con.reply("\x03")
	con.reply("")
	r := wait(t, con, done)
	if !errors.Is(r.err, wizard.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", r.err)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Errorf("files written after an interrupt: %v", entries)
	}
}
