package probe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestDomainAgainstRealDNSAndHTTP(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	dns := probetest.StartDNS(t, map[string][]netip.Addr{
		"docs.example.test":  {loop},
		"other.example.test": {netip.MustParseAddr("127.0.0.2")},
	})
	live := &probe.Live{Resolver: dns.Resolver, ListenAddr: "127.0.0.1:0"}
	ctx := context.Background()

	t.Run("resolves and reaches this host", func(t *testing.T) {
		rep, err := live.Domain(ctx, "docs.example.test", true)
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if !rep.Reached || len(rep.Addresses) != 1 || rep.Addresses[0] != "127.0.0.1" || !strings.Contains(rep.URL, probe.ReachabilityPath) {
			t.Errorf("report = %+v", rep)
		}
	})

	t.Run("resolves; reachability not asked", func(t *testing.T) {
		rep, err := live.Domain(ctx, "other.example.test", false)
		if err != nil || rep.Reached || rep.Addresses[0] != "127.0.0.2" {
			t.Errorf("report %+v, %v", rep, err)
		}
	})

	t.Run("another web server answers the name: not this host", func(t *testing.T) {
		// A server on 127.0.0.2 that is not ours: it answers every path with a page.
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			kit.Unavailable(t, "the loopback address 127.0.0.2", "Linux routes all of 127.0.0.0/8 to lo; elsewhere add it (ifconfig lo0 alias 127.0.0.2)")
		}
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "welcome to nginx") })}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		// Our proof listens on 127.0.0.1 with the same port number the stranger has on 127.0.0.2.
		l := &probe.Live{Resolver: dns.Resolver, ListenAddr: "127.0.0.1:" + port}
		_, err = l.Domain(ctx, "other.example.test", true)
		if err == nil || !strings.Contains(err.Error(), "without this host's token") {
			t.Fatalf("want the token mismatch named, got %v", err)
		}
	})

	cases := []struct{ name, domain, want string }{
		{"upper case", "Docs.Example.test", "upper-case"},
		{"single label", "docs", "single label"},
		{"IP address", "127.0.0.1", "IP address"},
		{"not in DNS", "missing.example.test", "does not exist in DNS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := live.Domain(ctx, tc.domain, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want it to say %q", err, tc.want)
			}
		})
	}

	t.Run("port taken: says what to do", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		l := &probe.Live{Resolver: dns.Resolver, ListenAddr: busy.Addr().String()}
		if _, err := l.Domain(ctx, "docs.example.test", true); err == nil || !strings.Contains(err.Error(), "skip the check") {
			t.Errorf("got %v", err)
		}
	})
}
