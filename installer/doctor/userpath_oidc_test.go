package doctor_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestOIDCEmbeddedRealm(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathOIDC), doctor.Passed, "https://docs.test/auth/realms/docs publishes its discovery document")
	want(t, u.run(t, doctor.UserPathLogin), doctor.Passed, "docs.test: the login page opens")

	t.Run("the realm names itself by its inside address", func(t *testing.T) {
		u.front.breakPath(t, "/auth/realms/docs/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "http://keycloak.identity:8080/realms/docs"})
		})
		want(t, u.run(t, doctor.UserPathOIDC), doctor.Failed, `names itself "http://keycloak.identity:8080/realms/docs", not "https://docs.test/auth/realms/docs"`, "Keycloak")
	})
	t.Run("no realm", func(t *testing.T) {
		u.front.breakPath(t, "/auth/realms/docs/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error":"Realm does not exist"}`, http.StatusNotFound)
		})
		want(t, u.run(t, doctor.UserPathOIDC), doctor.Failed, "answered 404 Not Found", "docs realm")
		want(t, u.run(t, doctor.UserPathLogin), doctor.Failed, "the provider refused the login for docs.test: 404 Not Found", `the client "docs" allowing the redirect URI https://docs.test/api/v1.0/callback/`)
	})
	t.Run("a client the realm does not know", func(t *testing.T) {
		u.env.Config.Identity.ClientID = "docs-renamed"
		t.Cleanup(func() { u.env.Config.Identity.ClientID = "docs" })
		want(t, u.run(t, doctor.UserPathLogin), doctor.Failed, "400 Bad Request", `the client "docs-renamed" allowing the redirect URI https://docs.test/api/v1.0/callback/`)
	})
}

// TestOIDCExternalProvider runs the checks against zitadel/oidc's real
// OpenID provider, whose Docs client allows the redirect URI
// https://docs.test/api/v1.0/callback/ only.
func TestOIDCExternalProvider(t *testing.T) {
	// The provider logs every request through slog's default.
	was := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(was) })
	u := newUserPath(t)
	ca := probetest.NewCA(t)
	u.env.UserPath.Roots.AppendCertsFromPEM(ca.PEM)
	op := probetest.StartOIDC(t, ca, probetest.OIDCOptions{ClientID: "docs", ClientSecret: "docs-client-secret"})
	var doc struct {
		Authorization string `json:"authorization_endpoint"`
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.Server.Clone()}}
	c.Transport.(*http.Transport).TLSClientConfig.RootCAs = ca.Pool
	resp, err := c.Get(op.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := config.Identity{Mode: config.External, Issuer: op.Issuer, ClientID: "docs", Scopes: "openid email profile",
		Endpoints: config.OIDCEndpoints{Authorization: doc.Authorization}}
	u.env.Config.Identity = id
	reset := func() { u.env.Config.Identity = id }

	want(t, u.run(t, doctor.UserPathOIDC), doctor.Passed, op.Issuer+" publishes its discovery document")
	want(t, u.run(t, doctor.UserPathLogin), doctor.Passed, "docs.test: the login redirects to 127.0.0.1")

	t.Run("the issuer with a slash too many", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.Config.Identity.Issuer = op.Issuer + "/"
		want(t, u.run(t, doctor.UserPathOIDC), doctor.Failed, "names itself", "identity.issuer is exactly its issuer")
	})
	t.Run("the provider moved its authorization endpoint", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.Config.Identity.Endpoints.Authorization = op.Issuer + "/oauth/v2/authorize"
		want(t, u.run(t, doctor.UserPathOIDC), doctor.Failed, "but Docs sends logins to", "run docs-appliance configure again")
		want(t, u.run(t, doctor.UserPathLogin), doctor.Failed, "the provider refused the login for docs.test: 404")
	})
	t.Run("an unknown client", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.Config.Identity.ClientID = "not-registered"
		want(t, u.run(t, doctor.UserPathLogin), doctor.Failed, "docs.test", `the client "not-registered" exists`)
	})
	t.Run("a domain whose redirect URI the provider does not allow", func(t *testing.T) {
		u.env.Config.ExtraDomains = []string{"extra.test"}
		u.dns.Set("extra.test", netip.MustParseAddr(frontAddr))
		t.Cleanup(func() { u.env.Config.ExtraDomains = nil })
		want(t, u.run(t, doctor.UserPathLogin), doctor.Failed, "extra.test", "allows the redirect URI https://extra.test/api/v1.0/callback/")
	})
}
