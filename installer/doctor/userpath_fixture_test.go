package doctor_test

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

const domain = "docs.test"

// frontAddr is where the appliance's front listens: a loopback address
// other than 127.0.0.1, so the checks prove they dial what DNS answered.
const frontAddr = "127.0.0.2"

// front is a real HTTPS server on 127.0.0.2 answering the user path the
// way the appliance's gateway in front of Docs does (Docs itself, a
// Django app with Keycloak and y-provider, does not run here): the
// config API's JSON, media refused by its authorization, the
// collaboration websocket behind y-provider's origin rule, and the
// embedded realm's discovery document. Each answer can be broken.
type front struct {
	port     string
	cert     atomic.Pointer[tls.Certificate]
	root     *certtest.CA
	mu       sync.Mutex
	override map[string]http.HandlerFunc
	mux      *http.ServeMux
}

func startFront(t *testing.T, root *certtest.CA) *front {
	t.Helper()
	f := &front{root: root, override: map[string]http.HandlerFunc{}, mux: docsMux()}
	f.setCert(t, certtest.Leaf{Hosts: []string{domain, "extra.test"}})
	ln, err := net.Listen("tcp", frontAddr+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", frontAddr, err)
	}
	_, f.port, _ = net.SplitHostPort(ln.Addr().String())
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.cert.Load(), nil },
	}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return f
}

// setCert makes the front serve a certificate the root issues.
func (f *front) setCert(t *testing.T, l certtest.Leaf) {
	t.Helper()
	is := f.root.Issue(t, l)
	pair, err := tls.X509KeyPair(is.ChainPEM(), is.KeyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	f.cert.Store(&pair)
}

// breakPath answers path (a ServeMux pattern) with h until the test ends.
func (f *front) breakPath(t *testing.T, pattern string, h http.HandlerFunc) {
	f.mu.Lock()
	f.override[pattern] = h
	f.mu.Unlock()
	t.Cleanup(func() {
		f.mu.Lock()
		delete(f.override, pattern)
		f.mu.Unlock()
	})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// docsMux answers as a healthy appliance does.
func docsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1.0/config/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"COLLABORATION_WS_URL": "wss://" + domain + "/collaboration/ws/", "LANGUAGES": [][]string{{"en-us", "English"}}})
	})
	mux.HandleFunc("GET /media/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "403 Forbidden", http.StatusForbidden)
	})
	mux.HandleFunc("GET /collaboration/ws/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("room") == "" {
			http.Error(w, "room missing", http.StatusBadRequest)
			return
		}
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// y-provider's wsSecurity: the page's origin, then a cookie.
		msg := websocket.FormatCloseMessage(4001, "No cookies")
		if r.Header.Get("Origin") != "https://"+domain {
			msg = websocket.FormatCloseMessage(4001, "Origin not allowed")
		}
		_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	})
	mux.HandleFunc("GET /auth/realms/docs/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		iss := "https://" + r.Host + "/auth/realms/docs"
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "authorization_endpoint": iss + "/protocol/openid-connect/auth"})
	})
	mux.HandleFunc("GET /auth/realms/docs/protocol/openid-connect/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "docs" || !strings.HasSuffix(q.Get("redirect_uri"), "/api/v1.0/callback/") {
			http.Error(w, "Client not found.", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html><form id=kc-form-login></form></html>"))
	})
	return mux
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := f.overrideFor(r); h != nil {
		h(w, r)
		return
	}
	f.mux.ServeHTTP(w, r)
}

func (f *front) overrideFor(r *http.Request) http.HandlerFunc {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, h := range f.override {
		m := http.NewServeMux()
		m.HandleFunc(p, h)
		if _, pat := m.Handler(r); pat != "" {
			return h
		}
	}
	return nil
}

// userPath is a healthy appliance's user path: DNS answering docs.test
// with the front's address, the front, and an Env aimed at them.
type userPath struct {
	dns   *probetest.DNS
	front *front
	root  *certtest.CA
	env   *doctor.Env
}

func newUserPath(t *testing.T) *userPath {
	t.Helper()
	root := certtest.NewRoot(t, "appliance CA")
	u := &userPath{root: root, front: startFront(t, root)}
	u.dns = probetest.StartDNS(t, map[string][]netip.Addr{domain: {netip.MustParseAddr(frontAddr)}})
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	port := u.front.port
	u.env = &doctor.Env{
		Config: &config.Config{Domain: domain, TLS: config.TLS{Mode: config.TLSApplianceCA},
			Identity: config.Identity{Mode: config.Embedded, ClientID: "docs", Scopes: "openid email"},
			Storage:  config.Storage{Mode: config.Embedded, Bucket: "docs-media"}},
		UserPath: doctor.UserPath{
			Resolver:    u.dns.Resolver,
			ServerAddrs: []net.IP{net.ParseIP("192.0.2.1")},
			Roots:       roots,
			// Port 443 of an address is the front's port on it (the e2e
			// does the same with a port-forward).
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, p, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if p == "443" {
					addr = net.JoinHostPort(host, port)
				}
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
	}
	return u
}

// run runs one check and returns its result.
func (u *userPath) run(t *testing.T, id string) doctor.Result {
	t.Helper()
	checks, err := doctor.Select(doctor.UserPathChecks(), []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := doctor.Run(context.Background(), u.env, checks)
	res, ok := rep.Get(id)
	if !ok {
		t.Fatalf("no result for %s", id)
	}
	t.Logf("%s: %s %s | fix: %s", id, res.Outcome, res.Detail, res.Fix)
	return res
}

// want fails the test unless the result has the outcome and its detail
// (and fix, for a finding) holds each of the words.
func want(t *testing.T, res doctor.Result, o doctor.Outcome, words ...string) {
	t.Helper()
	if res.Outcome != o {
		t.Fatalf("%s: outcome %s, want %s (%s)", res.ID, res.Outcome, o, res.Detail)
	}
	if o != doctor.Passed && o != doctor.Skipped && res.Fix == "" {
		t.Errorf("%s: a %s without a fix", res.ID, o)
	}
	for _, w := range words {
		if !strings.Contains(res.Detail+" | "+res.Fix, w) {
			t.Errorf("%s: %q not in %q | %q", res.ID, w, res.Detail, res.Fix)
		}
	}
}

// acceptKey is RFC 6455's Sec-WebSocket-Accept for a key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}
