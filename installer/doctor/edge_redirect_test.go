package doctor_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/doctor"
)

// TestRedirect asks a real HTTP server on the domain's address, as a
// browser does when a user types the name: a redirect to the same page
// over HTTPS passes; an answer over plain HTTP, or a redirect elsewhere,
// fails naming what came back.
func TestRedirect(t *testing.T) {
	u := newUserPath(t)
	var handler http.HandlerFunc
	ln, err := net.Listen("tcp", frontAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler(w, r) }), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	_, port80, _ := net.SplitHostPort(ln.Addr().String())
	tlsDial := u.env.UserPath.Dial
	u.env.UserPath.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, p, _ := net.SplitHostPort(addr); p == "80" {
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(host, port80))
		}
		return tlsDial(ctx, network, addr)
	}
	run := func() doctor.Result {
		checks, err := doctor.Select(doctor.All(), []string{"edge-redirect"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return doctor.Run(context.Background(), u.env, checks).Results[0]
	}
	handler = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	}
	want(t, run(), doctor.Passed, "redirects to HTTPS (308)")
	handler = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>Docs</html>")) }
	want(t, run(), doctor.Failed, "answers 200 OK instead of a redirect")
	handler = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+"/", http.StatusFound)
	}
	want(t, run(), doctor.Failed, "redirects to \"https://docs.test/\"")
	u.dns.Set(domain)
	want(t, run(), doctor.Failed, "did not resolve")
}
