package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// userPathRoutes answer what a browser asks of Docs, the way Docs' parts
// do, so doctor's user-path checks have something real to pass against:
//
//	GET /api/v1.0/config/   Docs' public settings, as JSON
//	GET /media/…            403: no anonymous media (Docs' media-auth)
//	GET /collaboration/ws/  a websocket (y-provider): a page origin not in
//	                        COLLABORATION_SERVER_ORIGIN is closed with 4001
//	                        "Origin not allowed", a request without cookies
//	                        with 4001 "No cookies"; otherwise it echoes
//	GET /auth/realms/docs/.well-known/openid-configuration
//	                        the realm's discovery document, its issuer
//	                        https://HOST/auth/realms/docs (Keycloak's)
//	GET /auth/realms/docs/protocol/openid-connect/auth
//	                        for client OIDC_CLIENT_ID ("docs") and a redirect
//	                        URI https://H/api/v1.0/callback/ with H in
//	                        DOCS_HOSTS (any host when unset): a redirect to
//	                        the realm's login page; else 400, as Keycloak
//	GET /auth/realms/docs/login  the login page (HTML)
func userPathRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1.0/config/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"COLLABORATION_WS_URL": "wss://" + r.Host + "/collaboration/ws/",
			"MEDIA_BASE_URL":       "https://" + r.Host,
			"ENVIRONMENT":          "standin",
			"LANGUAGES":            [][]string{{"en-us", "English"}},
		})
	})
	mux.HandleFunc("GET /media/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
	})
	mux.HandleFunc("GET /collaboration/ws/", collaboration)
	const realm = "/auth/realms/docs"
	mux.HandleFunc("GET "+realm+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := "https://" + r.Host + realm
		oidc := iss + "/protocol/openid-connect"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": oidc + "/auth", "token_endpoint": oidc + "/token",
			"userinfo_endpoint": oidc + "/userinfo", "jwks_uri": oidc + "/certs", "end_session_endpoint": oidc + "/logout",
			"response_types_supported": []string{"code"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET "+realm+"/protocol/openid-connect/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != envOr("OIDC_CLIENT_ID", "docs") {
			http.Error(w, "Client not found.", http.StatusBadRequest)
			return
		}
		ru, err := url.Parse(q.Get("redirect_uri"))
		hosts := list(os.Getenv("DOCS_HOSTS"))
		if err != nil || ru.Scheme != "https" || ru.Path != "/api/v1.0/callback/" || (len(hosts) > 0 && !slices.Contains(hosts, ru.Host)) {
			http.Error(w, "Invalid parameter: redirect_uri", http.StatusBadRequest)
			return
		}
		if q.Get("response_type") != "code" {
			http.Redirect(w, r, ru.String()+"?error=unsupported_response_type&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
			return
		}
		http.Redirect(w, r, realm+"/login?client_id="+url.QueryEscape(q.Get("client_id")), http.StatusFound)
	})
	mux.HandleFunc("GET "+realm+"/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Sign in to docs</title><form id=kc-form-login method=post><input name=username><input name=password type=password></form><!-- %s -->\n",
			html.EscapeString(r.URL.Query().Get("client_id")))
	})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// collaboration is y-provider's door: upgrade, then its wsSecurity rules.
func collaboration(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the error
	}
	defer c.Close()
	closeWith := func(code int, text string) {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	}
	if origins := list(os.Getenv("COLLABORATION_SERVER_ORIGIN")); len(origins) > 0 && !slices.Contains(origins, r.Header.Get("Origin")) {
		closeWith(4001, "Origin not allowed")
		return
	}
	if r.Header.Get("Cookie") == "" {
		closeWith(4001, "No cookies")
		return
	}
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// certReloader serves the certificate in the files, read again when they
// change (a renewed Secret's files are swapped in place by the kubelet).
type certReloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	stamp             string
	cert              *tls.Certificate
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := ""
	for _, f := range []string{c.certFile, c.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("reading the TLS certificate: %w", err)
		}
		stamp += fmt.Sprint(st.ModTime().UnixNano(), st.Size(), ";")
	}
	if c.cert == nil || stamp != c.stamp {
		pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the TLS certificate: %w", err)
		}
		c.cert, c.stamp = &pair, stamp
	}
	return c.cert, nil
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
