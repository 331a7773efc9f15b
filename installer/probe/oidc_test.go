package probe_test

import (
	"context"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestOIDCAgainstARealProvider(t *testing.T) {
	ca := probetest.NewCA(t)
	live := &probe.Live{CABundle: ca.PEM}
	ctx := context.Background()
	const id, secret = "docs", "the-right-secret"
	good := probetest.StartOIDC(t, ca, probetest.OIDCOptions{ClientID: id, ClientSecret: secret, Grant: probetest.GrantAllowed})
	ident := func(issuer string) config.Identity {
		return config.Identity{Mode: config.External, Issuer: issuer, ClientID: id, Scopes: "openid email"}
	}

	t.Run("good answer: endpoints from discovery, secret proved by a client_credentials token", func(t *testing.T) {
		rep, err := live.OIDC(ctx, ident(good.Issuer), secret)
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if !rep.SecretVerified || !strings.Contains(rep.SecretCheck, "issued a client_credentials token") {
			t.Errorf("secret check = %v %q, want verified by a token", rep.SecretVerified, rep.SecretCheck)
		}
		ep := rep.Endpoints
		for name, v := range map[string]string{"authorization": ep.Authorization, "token": ep.Token, "userinfo": ep.Userinfo, "jwks": ep.JWKS, "endSession": ep.EndSession} {
			if !strings.HasPrefix(v, good.Issuer+"/") {
				t.Errorf("endpoint %s = %q, want one under %s", name, v, good.Issuer)
			}
		}
		c := config.Default()
		c.Identity = ident(good.Issuer)
		c.Identity.Endpoints = rep.Endpoints
		if err := c.Validate(nil, nil); err != nil && strings.Contains(err.Error(), "identity.") {
			t.Errorf("the filled endpoints do not validate: %v", err)
		}
	})

	cases := []struct {
		name, issuer, secret string
		opts                 *probetest.OIDCOptions
		want                 string
	}{
		{name: "issuer with a trailing slash is not the issuer", issuer: good.Issuer + "/", secret: secret,
			want: "names itself \"" + good.Issuer + "\""},
		{name: "issuer of another host", issuer: strings.Replace(good.Issuer, "127.0.0.1", "localhost", 1), secret: secret,
			want: "give the issuer exactly as"},
		{name: "http issuer", issuer: strings.Replace(good.Issuer, "https:", "http:", 1), secret: secret, want: "does not use https"},
		{name: "bad client secret", issuer: good.Issuer, secret: "not-the-S3cret-42", want: "refused client \"docs\" with this secret (invalid_client"},
		{name: "missing userinfo endpoint", secret: secret,
			opts: &probetest.OIDCOptions{ClientID: id, ClientSecret: secret, NoUserinfo: true}, want: "lacks userinfo_endpoint"},
		{name: "no RS256", secret: secret,
			opts: &probetest.OIDCOptions{ClientID: id, ClientSecret: secret, ES256: true}, want: "signs ID tokens with ES256 only"},
		{name: "not an OpenID provider at all", issuer: good.Issuer + "/nothing-here", secret: secret, want: "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer
			if tc.opts != nil {
				issuer = probetest.StartOIDC(t, ca, *tc.opts).Issuer
			}
			_, err := live.OIDC(ctx, ident(issuer), tc.secret)
			if err == nil {
				t.Fatal("a bad answer was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("reason = %q, want it to say %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the reason shows the secret: %q", err)
			}
		})
	}

	t.Run("grant offered but not for this client: unauthorized_client proves the secret, invalid_client still refuses", func(t *testing.T) {
		p := probetest.StartOIDC(t, ca, probetest.OIDCOptions{ClientID: id, ClientSecret: secret, Grant: probetest.GrantRefused})
		rep, err := live.OIDC(ctx, ident(p.Issuer), secret)
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if !rep.SecretVerified || !strings.Contains(rep.SecretCheck, "unauthorized_client") {
			t.Errorf("secret check = %v %q", rep.SecretVerified, rep.SecretCheck)
		}
		if _, err := live.OIDC(ctx, ident(p.Issuer), "wrong"); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("a bad secret was not refused: %v", err)
		}
	})

	t.Run("provider without the client_credentials grant: accepted, unverified, said so", func(t *testing.T) {
		p := probetest.StartOIDC(t, ca, probetest.OIDCOptions{ClientID: id, ClientSecret: secret, Grant: probetest.GrantNotOffered})
		rep, err := live.OIDC(ctx, ident(p.Issuer), "anything")
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if rep.SecretVerified || !strings.Contains(rep.SecretCheck, "not checked") || len(rep.Warnings) == 0 {
			t.Errorf("report = %+v, want an unverified secret with a warning", rep)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		_, err := (&probe.Live{}).OIDC(ctx, ident(good.Issuer), secret)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("want a certificate error, got %v", err)
		}
	})
}
