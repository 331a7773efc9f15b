package wizard_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/wizard"
)

// TestGeneratedSecretIsNotOfferedForAnExternalIssuer: on an appliance
// that ran with the embedded Keycloak, switching to an external issuer
// asks for the issuer's client secret; Enter must not keep the embedded
// Keycloak's generated one.
func TestGeneratedSecretIsNotOfferedForAnExternalIssuer(t *testing.T) {
	s := startSite(t)
	state := t.TempDir()
	configPath := wizard.DefaultConfigPath(state)
	start := &config.Config{Domain: domain, AdminEmail: "admin@example.org"}
	if err := start.Resolve(nil); err != nil {
		t.Fatal(err)
	}
	if err := start.Save(configPath); err != nil {
		t.Fatal(err)
	}
	store, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Ensure(start.RequiredSecrets()); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}

	con := newConsole(t)
	done := runWizard(t, con, s, configPath, state)
	for _, p := range []string{"Public host name of Docs", "Further host names", "Administrator's e-mail address", "air-gapped"} {
		con.answer(p, "")
	}
	con.choose("How should the HTTPS certificate be obtained?", "")
	con.answer("E-mail for certificate expiry notices", "")
	con.answer("reaches this server on port 80?", "n")
	con.choose("Who signs people in?", "\x1b[B")
	con.answer("Issuer URL", s.oidc.Issuer)
	con.answer("Client ID", "")
	con.answer("Client secret", clientSecret)
	con.expect("Scopes")
	con.reply("\x03")
	con.reply("")
	if r := wait(t, con, done); !errors.Is(r.err, wizard.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", r.err)
	}
	if strings.Contains(con.screen(), "Client secret (Enter keeps") {
		t.Fatal("the wizard offered the embedded Keycloak's generated client secret for the external issuer")
	}
}
