package doctor_test

import (
	"bufio"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
)

func TestUserPathChecksAreNamedAndBounded(t *testing.T) {
	checks := doctor.UserPathChecks()
	if len(checks) != 8 {
		t.Fatalf("%d user-path checks, want the 8 of issue 13: %v", len(checks), doctor.IDs(checks))
	}
	seen := map[string]bool{}
	for _, c := range checks {
		if c.Group != "user-path" || c.Timeout <= 0 || c.Title == "" || c.Run == nil || seen[c.ID] || len(c.ID) < 11 || c.ID[:10] != "user-path-" {
			t.Errorf("check %+v: want a unique user-path-… ID, the group, a title and a timeout", c)
		}
		seen[c.ID] = true
	}
	if !slices.Contains(doctor.IDs(doctor.All()), doctor.UserPathS3) {
		t.Error("All() does not hold the user-path checks")
	}
}

func TestHealthyUserPathPasses(t *testing.T) {
	u := newUserPath(t)
	// S3 has its own test against versitygw; here every check reaching the front.
	var ids []string
	for _, c := range doctor.UserPathChecks() {
		if c.ID != doctor.UserPathS3 {
			ids = append(ids, c.ID)
		}
	}
	checks, err := doctor.Select(doctor.UserPathChecks(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := doctor.Run(t.Context(), u.env, checks)
	for _, r := range rep.Results {
		t.Logf("%s %s: %s", r.Outcome, r.ID, r.Detail)
		if r.Outcome != doctor.Passed {
			t.Errorf("%s: %s, want pass: %s | %s", r.ID, r.Outcome, r.Detail, r.Fix)
		}
	}
}

func TestDNS(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathDNS), doctor.Passed, "docs.test resolves to this server (127.0.0.2)")

	t.Run("another machine's address", func(t *testing.T) {
		u.dns.Set(domain, netip.MustParseAddr("198.51.100.7"))
		t.Cleanup(func() { u.dns.Set(domain, netip.MustParseAddr(frontAddr)) })
		want(t, u.run(t, doctor.UserPathDNS), doctor.Failed, "198.51.100.7, which is not this server", "point docs.test's A (or AAAA) record at this server (192.0.2.1)")
		// The checks behind DNS say so instead of a dial error.
		for _, id := range []string{doctor.UserPathTLS, doctor.UserPathConfigAPI, doctor.UserPathOIDC, doctor.UserPathLogin, doctor.UserPathMedia, doctor.UserPathWebsocket} {
			want(t, u.run(t, id), doctor.Failed, "not reached: docs.test resolves to 198.51.100.7, not to this server", doctor.UserPathDNS)
		}
	})

	t.Run("this server and another", func(t *testing.T) {
		u.dns.Set(domain, netip.MustParseAddr(frontAddr), netip.MustParseAddr("198.51.100.7"))
		t.Cleanup(func() { u.dns.Set(domain, netip.MustParseAddr(frontAddr)) })
		want(t, u.run(t, doctor.UserPathDNS), doctor.Warned, "also to 198.51.100.7: some users reach another machine")
	})

	t.Run("the address in front of this server counts", func(t *testing.T) {
		u.dns.Set(domain, netip.MustParseAddr("192.0.2.1"))
		t.Cleanup(func() { u.dns.Set(domain, netip.MustParseAddr(frontAddr)) })
		want(t, u.run(t, doctor.UserPathDNS), doctor.Passed, "(192.0.2.1)")
	})

	t.Run("a domain missing from DNS", func(t *testing.T) {
		u.env.Config.ExtraDomains = []string{"missing.test"}
		t.Cleanup(func() { u.env.Config.ExtraDomains = nil })
		res := u.run(t, doctor.UserPathDNS)
		want(t, res, doctor.Failed, "missing.test does not resolve", "add an A (or AAAA) record for missing.test")
		want(t, u.run(t, doctor.UserPathConfigAPI), doctor.Failed, "not reached: missing.test did not resolve")
	})
}

func TestTLS(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathTLS), doctor.Passed, "docs.test: certificate valid until", "issued by appliance CA")
	reset := func() { u.front.setCert(t, certtest.Leaf{Hosts: []string{domain}}) }

	t.Run("expired", func(t *testing.T) {
		t.Cleanup(reset)
		u.front.setCert(t, certtest.Leaf{Hosts: []string{domain}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		want(t, u.run(t, doctor.UserPathTLS), doctor.Failed, "docs.test's certificate expired on", "the appliance's own authority renews")
		want(t, u.run(t, doctor.UserPathConfigAPI), doctor.Failed, "not reached: a browser refuses docs.test's certificate", doctor.UserPathTLS)
	})
	t.Run("expires within 14 days", func(t *testing.T) {
		t.Cleanup(reset)
		u.front.setCert(t, certtest.Leaf{Hosts: []string{domain}, NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)})
		want(t, u.run(t, doctor.UserPathTLS), doctor.Warned, "docs.test's certificate expires in 5 days")
	})
	t.Run("another name", func(t *testing.T) {
		t.Cleanup(reset)
		u.front.setCert(t, certtest.Leaf{Hosts: []string{"other.test"}})
		want(t, u.run(t, doctor.UserPathTLS), doctor.Failed, "docs.test's certificate is for other.test, not for docs.test")
		want(t, u.run(t, doctor.UserPathWebsocket), doctor.Failed, "not reached: a browser refuses docs.test's certificate")
	})
	t.Run("an issuer browsers do not trust", func(t *testing.T) {
		t.Cleanup(reset)
		u.front.root = certtest.NewRoot(t, "someone else's CA")
		t.Cleanup(func() { u.front.root = u.root })
		u.front.setCert(t, certtest.Leaf{Hosts: []string{domain}})
		want(t, u.run(t, doctor.UserPathTLS), doctor.Failed, `issued by "someone else's CA", which browsers here do not trust`, "install the appliance's CA certificate")
		want(t, u.run(t, doctor.UserPathMedia), doctor.Failed, "not reached: a browser refuses docs.test's certificate")
	})
	t.Run("nothing listens on 443", func(t *testing.T) {
		u.dns.Set(domain, netip.MustParseAddr("127.0.0.3"))
		t.Cleanup(func() { u.dns.Set(domain, netip.MustParseAddr(frontAddr)) })
		want(t, u.run(t, doctor.UserPathTLS), doctor.Failed, "connecting to docs.test on port 443", "firewall lets ports 80 and 443 in")
	})
}

func TestConfigAPI(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathConfigAPI), doctor.Passed, "docs.test: the API answers (2 settings)")
	t.Run("500", func(t *testing.T) {
		u.front.breakPath(t, "/api/v1.0/config/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Server Error (500)", http.StatusInternalServerError)
		})
		want(t, u.run(t, doctor.UserPathConfigAPI), doctor.Failed, "answered 500 Internal Server Error", "Docs' backend is failing")
	})
	t.Run("not JSON", func(t *testing.T) {
		u.front.breakPath(t, "/api/v1.0/config/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>Welcome to nginx!</html>"))
		})
		want(t, u.run(t, doctor.UserPathConfigAPI), doctor.Failed, "answered text/html, not Docs' JSON settings", "another web server answers")
	})
}

func TestMediaAuth(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathMedia), doctor.Passed, "an anonymous media request is refused (403)")
	t.Run("media answering 200 is public", func(t *testing.T) {
		u.front.breakPath(t, "/media/", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("\x89PNG"))
		})
		want(t, u.run(t, doctor.UserPathMedia), doctor.Failed, "to an anonymous request (200 OK): media is public", "restore the media proxy")
	})
	t.Run("the auth subrequest fails", func(t *testing.T) {
		u.front.breakPath(t, "/media/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		})
		want(t, u.run(t, doctor.UserPathMedia), doctor.Failed, "answered 500 Internal Server Error", "cannot ask Docs' backend")
	})
}

func TestWebsocket(t *testing.T) {
	u := newUserPath(t)
	want(t, u.run(t, doctor.UserPathWebsocket), doctor.Passed, "docs.test: the collaboration websocket opens (101)")
	t.Run("no upgrade", func(t *testing.T) {
		u.front.breakPath(t, "/collaboration/ws/", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html>Docs</html>"))
		})
		want(t, u.run(t, doctor.UserPathWebsocket), doctor.Failed, "answered 200 OK instead of opening the websocket", "does not reach the collaboration server")
	})
	t.Run("a wrong Sec-WebSocket-Accept", func(t *testing.T) {
		u.front.breakPath(t, "/collaboration/ws/", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			writeUpgrade(buf, acceptKey("not the client's key"))
		})
		want(t, u.run(t, doctor.UserPathWebsocket), doctor.Failed, "answered 101 with a wrong Sec-WebSocket-Accept", "rewrites websocket handshakes")
	})
	t.Run("the origin refused", func(t *testing.T) {
		u.env.Config.ExtraDomains = []string{"extra.test"}
		u.dns.Set("extra.test", netip.MustParseAddr(frontAddr))
		t.Cleanup(func() { u.env.Config.ExtraDomains = nil })
		res := u.run(t, doctor.UserPathWebsocket)
		want(t, res, doctor.Failed, "extra.test opened the websocket, then refused the origin https://extra.test (4001 Origin not allowed)", "COLLABORATION_SERVER_ORIGIN")
	})
}

func writeUpgrade(buf *bufio.ReadWriter, accept string) {
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n")
	_ = buf.Flush()
}
