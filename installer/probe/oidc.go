package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// DiscoveryPath is appended to the issuer to find its discovery document.
const DiscoveryPath = "/.well-known/openid-configuration"

// OIDCReport is what the OpenID provider check found.
type OIDCReport struct {
	// Issuer is the issuer the discovery document states (equal to the answer).
	Issuer string
	// Endpoints are the endpoints Docs calls, from the discovery document.
	Endpoints config.OIDCEndpoints
	// SigningAlgs are the ID token signing algorithms the provider offers.
	SigningAlgs []string
	// SecretVerified is true when the token endpoint authenticated the
	// client with the given secret.
	SecretVerified bool
	// SecretCheck says how the secret was checked, or why it could not be.
	SecretCheck string
	// Warnings are findings that do not stop Docs from working.
	Warnings []string
}

type discovery struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	ScopesSupported        []string `json:"scopes_supported"`
	ResponseTypesSupported []string `json:"response_types_supported"`
	GrantTypesSupported    []string `json:"grant_types_supported"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
}

// OIDC checks an external OpenID provider for Docs: the discovery document
// is fetched from ISSUER/.well-known/openid-configuration; its issuer must
// equal the answer byte for byte (tokens carry it and Docs compares it);
// the authorization, token, userinfo and JWKS endpoints must be there over
// https; RS256 must be offered and the JWKS must hold an RSA signing key;
// and the client ID and secret are tried at the token endpoint.
//
// The secret is checked with the client_credentials grant where the
// discovery document offers it: a token, or the error unauthorized_client
// (which RFC 6749 §5.2 reserves for an authenticated client that may not
// use the grant), proves the secret; invalid_client rejects it. A provider
// that does not offer the grant cannot check a secret without a browser
// login: the report says so (SecretVerified false, a warning) and the
// answer is accepted — the first login checks it.
func (l *Live) OIDC(ctx context.Context, id config.Identity, clientSecret string) (*OIDCReport, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	issuer := id.Issuer
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%q is not an issuer URL; give it as https://host/path", issuer)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("%q does not use https: Docs' login would send codes and tokens in clear", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q has a query or fragment; an issuer URL has neither", issuer)
	}
	if id.ClientID == "" {
		return nil, fmt.Errorf("the client ID is empty")
	}
	client, err := l.httpClient()
	if err != nil {
		return nil, err
	}
	defer client.CloseIdleConnections()
	docURL := strings.TrimSuffix(issuer, "/") + DiscoveryPath
	var doc discovery
	if err := getJSON(ctx, client, docURL, &doc); err != nil {
		return nil, fmt.Errorf("fetching the discovery document %s: %w", docURL, err)
	}
	rep := &OIDCReport{
		Issuer: doc.Issuer,
		Endpoints: config.OIDCEndpoints{
			Authorization: doc.AuthorizationEndpoint, Token: doc.TokenEndpoint,
			Userinfo: doc.UserinfoEndpoint, JWKS: doc.JWKSURI, EndSession: doc.EndSessionEndpoint,
		},
		SigningAlgs: doc.IDTokenSigningAlgs,
	}
	if doc.Issuer != issuer {
		return rep, fmt.Errorf("the provider at %s names itself %q, not %q: give the issuer exactly as %q (tokens carry it and Docs compares it byte for byte)",
			docURL, doc.Issuer, issuer, doc.Issuer)
	}
	var missing []string
	for _, e := range []struct{ name, v string }{
		{"authorization_endpoint", doc.AuthorizationEndpoint}, {"token_endpoint", doc.TokenEndpoint},
		{"userinfo_endpoint", doc.UserinfoEndpoint}, {"jwks_uri", doc.JWKSURI},
	} {
		if e.v == "" {
			missing = append(missing, e.name)
			continue
		}
		if eu, err := url.Parse(e.v); err != nil || eu.Scheme != "https" || eu.Host == "" {
			return rep, fmt.Errorf("the discovery document's %s %q is not an https URL", e.name, e.v)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("the discovery document %s lacks %s, which Docs calls: this provider cannot serve Docs' login as configured",
			docURL, strings.Join(missing, ", "))
	}
	if doc.EndSessionEndpoint == "" {
		rep.Warnings = append(rep.Warnings, "the provider has no end_session_endpoint: logging out of Docs will not end the provider's session")
	}
	if !slices.Contains(doc.IDTokenSigningAlgs, "RS256") {
		return rep, fmt.Errorf("the provider signs ID tokens with %s only; Docs verifies RS256 (OIDC_RP_SIGN_ALGO): turn on RS256 signing for the client at the provider",
			orNone(doc.IDTokenSigningAlgs))
	}
	if len(doc.ResponseTypesSupported) > 0 && !slices.Contains(doc.ResponseTypesSupported, "code") {
		return rep, fmt.Errorf("the provider does not offer the authorization code flow (response_types_supported: %s), which Docs' login uses",
			strings.Join(doc.ResponseTypesSupported, ", "))
	}
	if err := checkJWKS(ctx, client, doc.JWKSURI); err != nil {
		return rep, err
	}
	if len(doc.ScopesSupported) > 0 {
		for _, s := range strings.Fields(id.Scopes) {
			if !slices.Contains(doc.ScopesSupported, s) {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("the provider does not list the scope %q among scopes_supported", s))
			}
		}
	}
	if err := l.checkClientSecret(ctx, client, &doc, id.ClientID, clientSecret, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// checkClientSecret tries the client at the token endpoint.
func (l *Live) checkClientSecret(ctx context.Context, client *http.Client, doc *discovery, clientID, secret string, rep *OIDCReport) error {
	if secret == "" {
		return fmt.Errorf("the client secret is empty: Docs authenticates to the token endpoint with one")
	}
	if !slices.Contains(doc.GrantTypesSupported, "client_credentials") {
		rep.SecretCheck = "not checked: the provider does not offer the client_credentials grant, so a secret can only be tried by a browser login"
		rep.Warnings = append(rep.Warnings, "the client secret could not be checked here (the provider offers no client_credentials grant); the first login will tell, and `docs-appliance doctor` reports a refusal")
		return nil
	}
	// Docs (mozilla-django-oidc) posts the secret in the form by default.
	method := "client_secret_post"
	if len(doc.TokenAuthMethods) > 0 && !slices.Contains(doc.TokenAuthMethods, method) {
		method = "client_secret_basic"
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if method == "client_secret_post" {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, doc.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("trying the client at %s: %w", doc.TokenEndpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if method == "client_secret_basic" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("trying the client at %s: %w", doc.TokenEndpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case resp.StatusCode == http.StatusOK && answer.AccessToken != "":
		rep.SecretVerified = true
		rep.SecretCheck = "accepted: the token endpoint issued a client_credentials token (" + method + ")"
		return nil
	case answer.Error == "invalid_client" || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the token endpoint %s refused client %q with this secret (%s%s): check the client ID and secret at the provider",
			doc.TokenEndpoint, clientID, orStatus(answer.Error, resp.Status), describe(answer.Description))
	case answer.Error == "unauthorized_client":
		rep.SecretVerified = true
		rep.SecretCheck = "accepted: the token endpoint authenticated the client and refused only the client_credentials grant (unauthorized_client, RFC 6749 §5.2)"
		return nil
	default:
		rep.SecretCheck = fmt.Sprintf("not checked: the token endpoint answered %s%s to the client_credentials grant, which neither accepts nor refuses the secret",
			orStatus(answer.Error, resp.Status), describe(answer.Description))
		rep.Warnings = append(rep.Warnings, "the client secret could not be checked here; the first login will tell")
		return nil
	}
}

type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		N   string `json:"n"`
	} `json:"keys"`
}

func checkJWKS(ctx context.Context, client *http.Client, u string) error {
	var set jwks
	if err := getJSON(ctx, client, u, &set); err != nil {
		return fmt.Errorf("fetching the provider's signing keys %s: %w", u, err)
	}
	for _, k := range set.Keys {
		if k.Kty == "RSA" && k.N != "" && (k.Use == "" || k.Use == "sig") && (k.Alg == "" || k.Alg == "RS256") {
			return nil
		}
	}
	return fmt.Errorf("the provider's signing keys %s hold no RSA key for RS256: Docs could not verify its ID tokens", u)
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s: is the URL right?", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "" && !strings.Contains(mt, "json") {
		return fmt.Errorf("answered %s, not JSON: is the URL right?", mt)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("reading the JSON answer: %w", err)
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none listed)"
	}
	return strings.Join(s, ", ")
}

func orStatus(code, status string) string {
	if code != "" {
		return code
	}
	return status
}

func describe(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}
