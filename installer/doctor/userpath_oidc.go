package doctor

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// checkOIDCDiscovery: the issuer Docs trusts publishes its discovery
// document to browsers, names itself exactly as Docs expects, and points
// logins where Docs sends them.
func checkOIDCDiscovery(ctx context.Context, e *Env) Finding {
	if e.Config == nil {
		return noConfig()
	}
	issuer, authz := render.PublicOIDC(e.Config)
	docURL := strings.TrimSuffix(issuer, "/") + probe.DiscoveryPath
	var doc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
	}
	resp, body, nr := e.fetch(ctx, docURL, http.Header{"Accept": {"application/json"}})
	if nr != nil {
		return *nr
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode != http.StatusOK:
		return Fail(e.identityFix(), "the discovery document %s answered %s", docURL, resp.Status)
	case !strings.Contains(mt, "json") || json.Unmarshal(body, &doc) != nil:
		return Fail(e.identityFix(), "the discovery document %s answered %s, not JSON", docURL, orUnknown(mt))
	case doc.Issuer != issuer:
		return Fail(e.identityFix(), "the provider at %s names itself %q, not %q: Docs would refuse its tokens", docURL, doc.Issuer, issuer)
	case doc.Authorization != authz:
		fix := "run docs-appliance configure again: it reads the provider's endpoints anew (identity.endpoints), then run docs-appliance install"
		if e.Config.Identity.Mode != config.External {
			fix = e.identityFix()
		}
		return Fail(fix, "the provider's authorization endpoint is %q, but Docs sends logins to %q", doc.Authorization, authz)
	}
	return Pass("%s publishes its discovery document", issuer)
}

// checkLogin: the authorization endpoint opens a login for Docs' client
// and each domain's redirect URI, as the browser gets there from Docs'
// /api/v1.0/authenticate/: a login page, or a redirect to one — not an
// error page, and not a redirect back to Docs with an error.
func checkLogin(ctx context.Context, e *Env) Finding {
	if e.Config == nil {
		return noConfig()
	}
	_, authz := render.PublicOIDC(e.Config)
	scopes := e.Config.Identity.Scopes
	if scopes == "" {
		scopes = "openid"
	}
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		redirect := "https://" + domain + render.DocsCallbackPath
		q := url.Values{"response_type": {"code"}, "client_id": {e.Config.Identity.ClientID}, "redirect_uri": {redirect},
			"scope": {scopes}, "state": {rand.Text()}, "nonce": {rand.Text()}}
		u := authz + "?" + q.Encode()
		if strings.Contains(authz, "?") {
			u = authz + "&" + q.Encode()
		}
		resp, body, nr := e.fetch(ctx, u, http.Header{"Accept": {"text/html"}})
		if nr != nil {
			return *nr
		}
		refused := fmt.Sprintf("the embedded login service's docs realm must hold the client %q allowing the redirect URI %s: see the platform checks above (identity realm and client), and run docs-appliance install again to restore them",
			e.Config.Identity.ClientID, redirect)
		if e.Config.Identity.Mode == config.External {
			refused = fmt.Sprintf("at the provider, check that the client %q exists and allows the redirect URI %s", e.Config.Identity.ClientID, redirect)
		}
		switch s := resp.StatusCode; {
		case s >= 300 && s < 400:
			loc, err := resp.Location()
			if err != nil {
				return Fail(refused, "the login for %s redirects nowhere (%s without a Location)", domain, resp.Status)
			}
			if strings.HasPrefix(loc.String(), redirect) && loc.Query().Get("error") != "" {
				return Fail(refused, "the provider sent the login for %s back to Docs with error %s: %s",
					domain, loc.Query().Get("error"), loc.Query().Get("error_description"))
			}
			return Pass("%s: the login redirects to %s", domain, loc.Host+loc.Path)
		case s == http.StatusOK:
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if mt != "text/html" || len(body) == 0 {
				return Fail(refused, "the login for %s answered %s, not a login page", domain, orUnknown(mt))
			}
			return Pass("%s: the login page opens", domain)
		}
		return Fail(refused, "the provider refused the login for %s: %s", domain, resp.Status)
	})
}

// fetch GETs an absolute URL without following redirects; an appliance
// domain is reached first, another host (an external provider) directly.
func (e *Env) fetch(ctx context.Context, rawURL string, header http.Header) (*http.Response, []byte, *Finding) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		f := Fail(e.identityFix(), "%q is not a URL", rawURL)
		return nil, nil, &f
	}
	if slices.Contains(e.Config.Hosts(), u.Hostname()) {
		return e.get(ctx, u.Hostname(), u.RequestURI(), header)
	}
	client, err := e.client()
	if err != nil {
		f := Unreachable("preparing the requests", err, "install the ca-certificates package")
		return nil, nil, &f
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		f := Fail(e.identityFix(), "requesting %s: %v", rawURL, err)
		return nil, nil, &f
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		f := Fail("check that this server reaches "+u.Host+" (DNS, firewall, proxy) and that the provider is up", "requesting %s: %v", rawURL, err)
		return nil, nil, &f
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, nil
}

// identityFix is what to do when the login provider misbehaves.
func (e *Env) identityFix() string {
	if e.Config.Identity.Mode == config.External {
		return "check the provider at " + e.Config.Identity.Issuer + " is up and that identity.issuer is exactly its issuer; run docs-appliance configure again if it moved"
	}
	return "the embedded login service (Keycloak) or its docs realm is not answering as installed: see the platform checks above (identity realm and client), and run docs-appliance install again to restore them"
}
